//! The consultation API: staff start, read and end consultations and add applications and
//! interpreters; participants get a one-time pass for the signalling WebSocket and use it.

use super::error::{ApiError, body};
use super::extract::{Auth, ClerkAuth, ClientAddr, ResidentAuth};
use super::queue::clerk;
use super::state::HttpState;
use crate::consult::signal::{self, INBOX, Inbound, OUTBOX};
use crate::consult::{ConsultError, ConsultationBody, InviteBody, Joiner, SignalGrant};
use crate::identity::sessions::{Principal, SessionKey};
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use madoguchi_shared::api::PageLink;
use madoguchi_shared::api::paths;
use madoguchi_shared::consult::{ConsultView, LinkedApplication, MAX_SIGNAL_BYTES, ServerSignal};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest a send to a participant may take before they are cut off.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route(paths::STAFF_CONSULTATIONS, post(start))
        .route("/api/v1/staff/consultations/{id}", get(staff_view))
        .route("/api/v1/staff/consultations/{id}/end", post(end))
        .route("/api/v1/staff/consultations/{id}/applications", post(add_application))
        .route("/api/v1/staff/consultations/{id}/invites", post(invite))
        .route("/api/v1/staff/consultations/{id}/fault", post(fault))
        .route("/api/v1/consultations/current", get(current))
        .route(paths::CONSULTATION_JOIN, post(join))
        .route("/api/v1/consultations/join-by-code", post(join_by_code))
        .route(paths::PAGE_LINK, post(page_link))
        .route(paths::CONSULTATION_SIGNAL, get(signal_socket))
}

impl From<ConsultError> for ApiError {
    fn from(e: ConsultError) -> Self {
        match e {
            ConsultError::NotFound => ApiError::NotFoundWhat("no_consultation", e.to_string()),
            ConsultError::Ended => ApiError::Conflict("consultation_ended", e.to_string()),
            ConsultError::NoDesk => ApiError::Conflict("no_desk", e.to_string()),
            ConsultError::NotArrived => ApiError::Conflict("not_arrived", e.to_string()),
            ConsultError::NotTheClerk => ApiError::Forbidden("not_the_clerk", e.to_string()),
            ConsultError::WrongDepartment => ApiError::Forbidden("wrong_department", e.to_string()),
            ConsultError::BadCode => ApiError::Forbidden("code_invalid", e.to_string()),
            ConsultError::BadTicket => ApiError::Forbidden("ticket_invalid", e.to_string()),
            ConsultError::Invalid(_) => ApiError::BadRequest("invalid", e.to_string()),
            ConsultError::TooManyInvites => ApiError::Conflict("too_many_invites", e.to_string()),
            ConsultError::RateLimited(wait) => ApiError::RateLimited(wait),
            ConsultError::RoleTaken(_) => ApiError::Conflict("role_taken", e.to_string()),
            ConsultError::Record(_) => ApiError::BadRequest("application_refused", e.to_string()),
            ConsultError::Db(d) => ApiError::Internal(d.to_string()),
        }
    }
}

/// Starts the consultation with the resident at the clerk's desk (the ticket must have been
/// called and the resident arrived). Starting again returns the running one.
#[utoipa::path(post, path = "/api/v1/staff/consultations", tag = "consultations", security(("session" = [])),
    responses((status = 201, body = ConsultationBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn start(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
) -> Result<(StatusCode, Json<ConsultationBody>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.consults.start(&clerk(&st)).await?)))
}

/// A consultation: the clerk's own, or (supervisors) one of their department.
#[utoipa::path(get, path = "/api/v1/staff/consultations/{id}", tag = "consultations", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ConsultationBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn staff_view(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(id): Path<i64>,
) -> Result<Json<ConsultationBody>, ApiError> {
    Ok(Json(s.consults.for_staff(&clerk(&st), st.is_supervisor(), id).await?))
}

/// How a consultation ends.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct EndRequest {
    /// The clerk's note: what was done, what the resident should do next.
    pub note: Option<String>,
}

/// Ends the consultation (or, once ended, sets its note).
#[utoipa::path(post, path = "/api/v1/staff/consultations/{id}/end", tag = "consultations", security(("session" = [])),
    params(("id" = i64, Path)), request_body = EndRequest, responses((status = 200, body = ConsultationBody)))]
pub async fn end(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(id): Path<i64>,
    req: Result<Json<EndRequest>, JsonRejection>,
) -> Result<Json<ConsultationBody>, ApiError> {
    let req = req.map(|Json(r)| r).unwrap_or_default();
    Ok(Json(s.consults.end_by_staff(&clerk(&st), st.is_supervisor(), id, req.note.as_deref()).await?))
}

/// An application for the consultation: a new one from the catalog (`procedure_id`, and
/// optionally `form_data`), or one of the resident's existing ones (`reference`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AddApplication {
    pub procedure_id: Option<String>,
    #[schema(value_type = Object)]
    pub form_data: Option<serde_json::Value>,
    pub reference: Option<String>,
}

/// Creates or links an application; both sides of the consultation see it.
#[utoipa::path(post, path = "/api/v1/staff/consultations/{id}/applications", tag = "consultations", security(("session" = [])),
    params(("id" = i64, Path)), request_body = AddApplication, responses((status = 201, body = Object)))]
pub async fn add_application(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(id): Path<i64>,
    req: Result<Json<AddApplication>, JsonRejection>,
) -> Result<(StatusCode, Json<LinkedApplication>), ApiError> {
    let req = body(req)?;
    let c = clerk(&st);
    let linked = match (&req.procedure_id, &req.reference) {
        (Some(p), None) => {
            let form = req.form_data.clone().unwrap_or_else(|| serde_json::json!({}));
            s.consults.create_application(&c, id, p, &form).await?
        }
        (None, Some(r)) => s.consults.link_application(&c, id, r).await?,
        _ => {
            return Err(ApiError::BadRequest(
                "invalid",
                "give either procedure_id (a new application) or reference (an existing one)".into(),
            ));
        }
    };
    Ok((StatusCode::CREATED, Json(linked)))
}

/// Whom to invite.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InviteRequest {
    /// `sign_language` or `language`.
    pub kind: String,
}

/// A one-time code that lets an interpreter into this consultation, for a few minutes.
#[utoipa::path(post, path = "/api/v1/staff/consultations/{id}/invites", tag = "consultations", security(("session" = [])),
    params(("id" = i64, Path)), request_body = InviteRequest, responses((status = 201, body = InviteBody)))]
pub async fn invite(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(id): Path<i64>,
    req: Result<Json<InviteRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<InviteBody>), ApiError> {
    let req = body(req)?;
    Ok((StatusCode::CREATED, Json(s.consults.invite(&clerk(&st), id, &req.kind).await?)))
}

/// Makes the consultation's media fail (only on a server started with `--fault-injection`, for
/// tests of isolation; 404 otherwise).
async fn fault(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if s.consults.inject_fault(&clerk(&st), id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Conflict("no_media", "this consultation has no media running".into()))
    }
}

/// The resident's running consultation, or 204 when there is none.
#[utoipa::path(get, path = "/api/v1/consultations/current", tag = "consultations", security(("session" = [])),
    responses((status = 200, body = Object), (status = 204)))]
pub async fn current(State(s): State<HttpState>, ResidentAuth(r): ResidentAuth) -> Result<Response, ApiError> {
    Ok(match s.consults.current_for_resident(&r.id).await? {
        Some(view) => Json::<ConsultView>(view).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// A one-time pass to the consultation's signalling WebSocket, as the caller's role in it:
/// its resident, its clerk, or a supervisor of its department.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/join", tag = "consultations", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = SignalGrant), (status = 404, body = super::error::ErrorBody)))]
pub async fn join(
    State(s): State<HttpState>,
    Auth(principal, token): Auth,
    Path(id): Path<i64>,
) -> Result<Json<SignalGrant>, ApiError> {
    let joiner = match principal {
        Principal::Resident(r) => Joiner::Resident { id: r.id, name: r.display_name },
        Principal::Staff(st) => Joiner::Staff {
            id: st.id,
            login: st.login.clone(),
            supervisor: st.is_supervisor(),
            name: st.display_name,
            department: st.department_id,
        },
    };
    Ok(Json(s.consults.grant(id, &joiner, Some(SessionKey::of(&token))).await?))
}

/// A one-time link that opens the resident's running consultation in a browser with this session
/// (the 3D client shows it over its canvas; the desktop client opens the system browser). `404`
/// without a running consultation.
#[utoipa::path(post, path = "/api/v1/consultations/page-link", tag = "consultations", security(("session" = [])),
    responses((status = 200, body = PageLink), (status = 404, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn page_link(State(s): State<HttpState>, Auth(principal, token): Auth) -> Result<Json<PageLink>, ApiError> {
    let Principal::Resident(r) = principal else {
        return Err(ApiError::Forbidden("resident_only", "this is for residents".into()));
    };
    s.token_limit.check(format!("page-link:{}", r.id)).map_err(ApiError::RateLimited)?;
    if s.consults.current_for_resident(&r.id).await?.is_none() {
        return Err(ApiError::NotFoundWhat("no_consultation", "you have no consultation running".into()));
    }
    let lang = madoguchi_shared::i18n::Lang::from_code(&r.locale).code();
    Ok(Json(PageLink {
        url: format!("/text/consultation/open?code={}&lang={lang}", s.page_links.issue(&token)),
        expires_in_s: super::links::LINK_TTL.as_secs(),
    }))
}

/// An interpreter's code.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodeRequest {
    /// As the clerk gave it: `1234-5678-9012`.
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
    /// The interpreter's name, shown to the participants (1 to 32 characters, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
    )]
    pub name: String,
}

/// An interpreter joins with the code the clerk gave them (once, before it expires).
#[utoipa::path(post, path = "/api/v1/consultations/join-by-code", tag = "consultations",
    request_body = CodeRequest, responses((status = 200, body = SignalGrant), (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn join_by_code(
    State(s): State<HttpState>,
    ClientAddr(addr): ClientAddr,
    req: Result<Json<CodeRequest>, JsonRejection>,
) -> Result<Json<SignalGrant>, ApiError> {
    // Guessing a code is slow: the login limiter applies per address.
    s.login_limit.check(crate::ratelimit::address_key(addr)).map_err(ApiError::RateLimited)?;
    let req = body(req)?;
    Ok(Json(s.consults.redeem(&req.code, &req.name).await?))
}

#[derive(Deserialize)]
struct SignalQuery {
    #[serde(default)]
    ticket: String,
}

/// The signalling WebSocket, for the holder of a pass from `join` or `join-by-code`.
async fn signal_socket(
    State(s): State<HttpState>,
    Query(q): Query<SignalQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return ApiError::BadRequest("not_websocket", e.body_text()).into_response(),
    };
    if q.ticket.is_empty() || q.ticket.len() > 64 {
        return ApiError::Forbidden("ticket_invalid", "a signalling ticket is required".into()).into_response();
    }
    let consults = s.consults.clone();
    ws.max_message_size(MAX_SIGNAL_BYTES)
        .max_frame_size(MAX_SIGNAL_BYTES)
        .on_upgrade(move |socket| pump(socket, consults, q.ticket))
}

/// Carries frames between the socket and the participant's signalling loop.
async fn pump(mut socket: WebSocket, consults: crate::consult::Consultations, ticket: String) {
    let (in_tx, in_rx) = mpsc::channel(INBOX);
    let (out_tx, mut out_rx) = mpsc::channel::<ServerSignal>(OUTBOX);
    // A connection that sends nothing (not even a ping) for this long is closed.
    let idle = consults.signal_idle();
    tokio::spawn(signal::run(consults, ticket, in_rx, out_tx));
    let mut idle_at = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(idle_at) => break,
            msg = out_rx.recv() => match msg {
                Some(m) => {
                    let last = matches!(m, ServerSignal::Ended { .. });
                    let text = serde_json::to_string(&m).unwrap_or_default();
                    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
                        Ok(Ok(())) => {}
                        _ => break,
                    }
                    if last {
                        let _ = socket.send(Message::Close(None)).await;
                        break;
                    }
                }
                None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            frame = socket.recv() => {
                let inbound = match frame {
                    Some(Ok(Message::Text(t))) => Inbound::Text(t.to_string()),
                    Some(Ok(Message::Binary(_))) => Inbound::Other,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        idle_at = tokio::time::Instant::now() + idle;
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                idle_at = tokio::time::Instant::now() + idle;
                if in_tx.send(inbound).await.is_err() {
                    break;
                }
            }
        }
    }
}
