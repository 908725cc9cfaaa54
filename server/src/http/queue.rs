//! The queue API: departments' queues (public), a resident's own tickets, and the staff API
//! for desks and calling (used by the staff console). Staff act only on their department.

use super::error::{ApiError, body};
use super::extract::{ClerkAuth, ResidentAuth, SupervisorAuth};
use super::state::HttpState;
use crate::consult::RunningConsultation;
use crate::identity::Clerk;
use crate::identity::staff::StaffAccount;
use crate::queue::{DepartmentQueue, DeskView, QueueError, StaffTicket, TicketBody};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use madoguchi_shared::api::TakeRequest;
use madoguchi_shared::api::paths;
use serde::{Deserialize, Serialize};

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/queues", get(departments))
        .route(paths::TICKETS, get(my_tickets).post(take_ticket))
        .route("/api/v1/tickets/{id}/cancel", post(cancel_ticket))
        .route("/api/v1/tickets/{id}/arrived", post(arrived))
        .route(paths::STAFF_DESKS, get(desks))
        .route("/api/v1/staff/queue", get(staff_queue))
        .route("/api/v1/staff/overview", get(overview))
        .route(paths::STAFF_DESK_TAKE, post(take_desk))
        .route(paths::STAFF_DESK_LEAVE, post(leave_desk))
        .route("/api/v1/staff/desk/heartbeat", post(heartbeat))
        .route(paths::STAFF_DESK_CALL_NEXT, post(call_next))
        .route("/api/v1/staff/desk/recall", post(recall))
        .route(paths::STAFF_DESK_NO_SHOW, post(no_show))
        .route(paths::STAFF_DESK_DONE, post(done))
        .route("/api/v1/staff/tickets/{id}/transfer", post(transfer))
        .route("/api/v1/staff/tickets/{id}/events", get(ticket_events))
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        let (code, message) = (e.api_code(), e.to_string());
        match e {
            QueueError::UnknownDepartment => ApiError::BadRequest(code, message),
            QueueError::UnknownCounter | QueueError::NoTicket => ApiError::NotFoundWhat(code, message),
            QueueError::WrongDepartment => ApiError::Forbidden(code, message),
            QueueError::RateLimited(s) => ApiError::RateLimited(s),
            QueueError::Db(d) => ApiError::Internal(d.to_string()),
            QueueError::Closed { .. }
            | QueueError::Exists(_)
            | QueueError::TargetHasTicket
            | QueueError::DeskTaken
            | QueueError::NoDesk
            | QueueError::NotCalled => ApiError::Conflict(code, message),
        }
    }
}

pub(crate) fn clerk(s: &StaffAccount) -> Clerk {
    Clerk { id: s.id, login: s.login.clone(), name: s.display_name.clone(), department: s.department_id.clone() }
}

/// Every department: open or closed, hours, and how many wait.
#[utoipa::path(get, path = "/api/v1/queues", tag = "queue", responses((status = 200, body = Vec<DepartmentQueue>)))]
pub async fn departments(State(s): State<HttpState>) -> Result<Json<Vec<DepartmentQueue>>, ApiError> {
    Ok(Json(s.queues.departments().await?))
}

/// The caller's tickets of today, active first.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "queue", security(("session" = [])),
    responses((status = 200, body = Vec<TicketBody>), (status = 401, body = super::error::ErrorBody)))]
pub async fn my_tickets(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
) -> Result<Json<Vec<TicketBody>>, ApiError> {
    Ok(Json(s.queues.mine(&r.id).await?.iter().map(TicketBody::from).collect()))
}

/// Takes a ticket. Outside opening hours: 409 `queue_closed`, with the next opening time.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "queue", request_body = TakeRequest, security(("session" = [])),
    responses((status = 201, body = TicketBody), (status = 409, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn take_ticket(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    req: Result<Json<TakeRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TicketBody>), ApiError> {
    let req = body(req)?;
    let t = s.queues.take(&r.id, &req.department).await?;
    Ok((StatusCode::CREATED, Json(TicketBody::from(&t))))
}

/// Gives up one of the caller's tickets.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/cancel", tag = "queue", security(("session" = [])),
    responses((status = 200, body = TicketBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn cancel_ticket(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    Path(id): Path<i64>,
) -> Result<Json<TicketBody>, ApiError> {
    Ok(Json(TicketBody::from(&s.queues.cancel(&r.id, id).await?)))
}

/// "I am at the desk": for residents without an avatar (text mode, phone). `409 not_called`
/// for one's own ticket that is not called to a desk.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/arrived", tag = "queue", security(("session" = [])),
    responses((status = 200, body = TicketBody), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn arrived(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    Path(id): Path<i64>,
) -> Result<Json<TicketBody>, ApiError> {
    Ok(Json(TicketBody::from(&s.queues.arrived(&r.id, id).await?)))
}

/// Every desk of the office, open or not, with the ticket at it (of the clerk's department only).
#[utoipa::path(get, path = "/api/v1/staff/desks", tag = "staff", security(("session" = [])),
    responses((status = 200, body = Vec<DeskView>), (status = 403, body = super::error::ErrorBody)))]
pub async fn desks(State(s): State<HttpState>, ClerkAuth(st): ClerkAuth) -> Result<Json<Vec<DeskView>>, ApiError> {
    let mut all = s.queues.desk_views().await?;
    for d in &mut all {
        if d.department != st.department_id {
            d.ticket = None;
        }
    }
    Ok(Json(all))
}

/// The clerk's department's waiting tickets, in calling order.
#[utoipa::path(get, path = "/api/v1/staff/queue", tag = "staff", security(("session" = [])),
    responses((status = 200, body = Vec<StaffTicket>), (status = 403, body = super::error::ErrorBody)))]
pub async fn staff_queue(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
) -> Result<Json<Vec<StaffTicket>>, ApiError> {
    let mut waiting = s.queues.waiting(&st.department_id).await?;
    s.mark_in_world(&mut waiting);
    Ok(Json(waiting))
}

/// A desk's state after a desk action.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeskBody {
    pub counter: String,
    pub open: bool,
    pub clerk: Option<String>,
}

/// Opens a counter of the clerk's own department (leaving any other desk they held).
#[utoipa::path(post, path = "/api/v1/staff/desks/{counter}/take", tag = "staff", security(("session" = [])),
    responses((status = 200, body = DeskBody), (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn take_desk(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(counter): Path<String>,
) -> Result<Json<DeskBody>, ApiError> {
    let sign = s.queues.take_desk(&clerk(&st), &counter).await?;
    Ok(Json(DeskBody { counter: sign.counter, open: sign.open, clerk: sign.clerk }))
}

/// Closes the clerk's desk now; a ticket called to it goes back to the front of the queue.
#[utoipa::path(post, path = "/api/v1/staff/desk/leave", tag = "staff", security(("session" = [])),
    responses((status = 200, body = DeskBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn leave_desk(State(s): State<HttpState>, ClerkAuth(st): ClerkAuth) -> Result<Json<DeskBody>, ApiError> {
    let sign = s.queues.leave_desk(&clerk(&st)).await?;
    Ok(Json(DeskBody { counter: sign.counter, open: sign.open, clerk: sign.clerk }))
}

/// "I am at my desk": the staff console sends this while its clerk is at the screen (e.g. every
/// 20 s while the page is visible). Without an avatar at the desk, only this and desk actions
/// keep the desk attended (`--desk-presence-secs`); reading the desks or the queue does not.
#[utoipa::path(post, path = "/api/v1/staff/desk/heartbeat", tag = "staff", security(("session" = [])),
    responses((status = 204, description = "the desk counts as attended"), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn heartbeat(State(s): State<HttpState>, ClerkAuth(st): ClerkAuth) -> Result<StatusCode, ApiError> {
    if s.queues.touch(st.id) { Ok(StatusCode::NO_CONTENT) } else { Err(QueueError::NoDesk.into()) }
}

/// What calling the next number gave.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallBody {
    /// The ticket now called to the desk; null when nobody waits.
    pub called: Option<TicketBody>,
}

/// Finishes the desk's ticket and calls the department's longest-waiting ticket to the desk.
#[utoipa::path(post, path = "/api/v1/staff/desk/call-next", tag = "staff", security(("session" = [])),
    responses((status = 200, body = CallBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn call_next(State(s): State<HttpState>, ClerkAuth(st): ClerkAuth) -> Result<Json<CallBody>, ApiError> {
    let called = s.queues.call_next(&clerk(&st)).await?;
    Ok(Json(CallBody { called: called.as_ref().map(TicketBody::from) }))
}

/// Calls the desk's ticket again; the no-show timer restarts.
#[utoipa::path(post, path = "/api/v1/staff/desk/recall", tag = "staff", security(("session" = [])),
    responses((status = 200, body = TicketBody), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn recall(State(s): State<HttpState>, ClerkAuth(st): ClerkAuth) -> Result<Json<TicketBody>, ApiError> {
    Ok(Json(TicketBody::from(&s.queues.recall(&clerk(&st)).await?)))
}

/// Marks the desk's called ticket as a no-show.
#[utoipa::path(post, path = "/api/v1/staff/desk/no-show", tag = "staff", security(("session" = [])),
    responses((status = 200, body = TicketBody), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn no_show(State(s): State<HttpState>, ClerkAuth(st): ClerkAuth) -> Result<Json<TicketBody>, ApiError> {
    Ok(Json(TicketBody::from(&s.queues.no_show(&clerk(&st)).await?)))
}

/// Finishes the desk's ticket as served.
#[utoipa::path(post, path = "/api/v1/staff/desk/done", tag = "staff", security(("session" = [])),
    responses((status = 200, body = TicketBody), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn done(State(s): State<HttpState>, ClerkAuth(st): ClerkAuth) -> Result<Json<TicketBody>, ApiError> {
    Ok(Json(TicketBody::from(&s.queues.done(&clerk(&st)).await?)))
}

/// Where to send a ticket.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TransferRequest {
    pub department: String,
    /// Why, for the receiving clerk (kept in the ticket's events).
    #[serde(default)]
    pub note: Option<String>,
}

/// Moves a ticket of the clerk's department to another department's queue, keeping its place
/// by the time it was first taken.
#[utoipa::path(post, path = "/api/v1/staff/tickets/{id}/transfer", tag = "staff", request_body = TransferRequest, security(("session" = [])),
    responses((status = 200, body = TicketBody), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn transfer(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(id): Path<i64>,
    req: Result<Json<TransferRequest>, JsonRejection>,
) -> Result<Json<TicketBody>, ApiError> {
    let req = body(req)?;
    let t = s.queues.transfer(&clerk(&st), id, &req.department, req.note.as_deref()).await?;
    Ok(Json(TicketBody::from(&t)))
}

/// Everything done to a ticket of the clerk's department, oldest first.
#[utoipa::path(get, path = "/api/v1/staff/tickets/{id}/events", tag = "staff", security(("session" = [])),
    responses((status = 200, body = Vec<Object>), (status = 404, body = super::error::ErrorBody)))]
pub async fn ticket_events(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    Ok(Json(s.queues.events(&clerk(&st), id).await?))
}

/// A department at a glance, for its supervisor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub department: String,
    /// Tickets waiting.
    pub waiting: usize,
    /// How long the longest-waiting ticket has waited, in seconds (0: nobody waits).
    pub longest_wait_secs: i64,
    /// The department's desks: open or not, the clerk, the ticket at it.
    pub desks: Vec<DeskView>,
    pub consultations: Vec<RunningConsultation>,
}

/// The supervisor's department now: queue length, longest wait, desks and their clerks, running
/// consultations (each of which the supervisor may join).
#[utoipa::path(get, path = "/api/v1/staff/overview", tag = "supervisor", security(("session" = [])),
    responses((status = 200, body = Overview), (status = 403, body = super::error::ErrorBody)))]
pub async fn overview(
    State(s): State<HttpState>,
    SupervisorAuth(st): SupervisorAuth,
) -> Result<Json<Overview>, ApiError> {
    let dept = st.department_id.clone();
    let waiting = s.queues.waiting(&dept).await?;
    let desks = s.queues.desk_views().await?.into_iter().filter(|d| d.department == dept).collect();
    let consultations = s.consults.running_in(&dept).await?;
    Ok(Json(Overview {
        longest_wait_secs: waiting.iter().map(|t| t.waiting_secs).max().unwrap_or(0),
        waiting: waiting.len(),
        department: dept,
        desks,
        consultations,
    }))
}
