//! The records API: the procedure catalog, a resident's own applications, and a clerk's
//! department's applications. Every handler scopes its query to the caller; a reference outside
//! that scope answers 404 exactly like one that does not exist.

use super::error::{ApiError, body};
use super::extract::{Auth, ClerkAuth, ResidentAuth};
use super::state::HttpState;
use crate::identity::sessions::Resident;
use crate::identity::staff::StaffAccount;
use crate::records::applications::{self, ApplicationSummary, ApplicationView, EventView, Search, Status};
use crate::records::audit::Actor;
use crate::records::catalog::{FieldError, Procedure};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use madoguchi_shared::api::CreateRequest;
use madoguchi_shared::api::paths;
use serde::Deserialize;
use serde_json::Value;

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route(paths::PROCEDURES, get(list_procedures))
        .route("/api/v1/procedures/{id}/check", post(check_form))
        .route(paths::APPLICATIONS, get(resident_list).post(resident_create))
        .route("/api/v1/applications/{reference}", get(resident_read).patch(resident_edit))
        .route(paths::APPLICATION_SUBMIT, post(resident_submit))
        .route("/api/v1/applications/{reference}/withdraw", post(resident_withdraw))
        .route("/api/v1/staff/applications", get(staff_search).post(staff_create))
        .route("/api/v1/staff/applications/{reference}", get(staff_read).patch(staff_edit))
        .route("/api/v1/staff/applications/{reference}/status", post(staff_status))
        .route("/api/v1/staff/applications/{reference}/events", get(staff_events))
}

fn reference(r: &str) -> Result<&str, ApiError> {
    // Longer than any reference we issue: not found, without touching the database.
    if r.len() > 32 { Err(ApiError::NotFound) } else { Ok(r) }
}

fn resident_actor(r: &Resident) -> Actor {
    Actor::Resident { id: r.id.clone() }
}

pub(super) fn staff_actor(s: &StaffAccount) -> Actor {
    Actor::Staff { id: s.id, login: s.login.clone(), department: s.department_id.clone() }
}

/// The procedures residents can apply for, with their fields and the documents to bring.
#[utoipa::path(get, path = "/api/v1/procedures", tag = "resident", responses((status = 200, body = Vec<Procedure>)))]
pub async fn list_procedures(State(s): State<HttpState>) -> Json<Vec<Procedure>> {
    Json(s.catalog.all().cloned().collect())
}

/// More fields than any procedure has, by far.
const MAX_CHECKED_FIELDS: usize = 100;

/// A form to check.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CheckRequest {
    #[schema(value_type = Object)]
    pub form_data: Value,
    /// Check it as for submission (required fields must be there); otherwise as a draft.
    #[serde(default)]
    pub complete: bool,
}

/// What is wrong with a form, field by field (empty: nothing).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub errors: Vec<FieldError>,
}

/// Checks a form against its procedure without saving anything: the console shows each
/// field's problem as the clerk types.
#[utoipa::path(post, path = "/api/v1/procedures/{id}/check", tag = "staff", security(("session" = [])),
    params(("id" = String, Path)), request_body = CheckRequest, responses((status = 200, body = CheckResult), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn check_form(
    State(s): State<HttpState>,
    Auth(_principal, _): Auth,
    Path(id): Path<String>,
    req: Result<Json<CheckRequest>, JsonRejection>,
) -> Result<Json<CheckResult>, ApiError> {
    let req = body(req)?;
    match req.form_data.as_object() {
        None => return Err(ApiError::BadRequest("invalid", "form_data must be a JSON object".into())),
        // Every unknown field is an error of its own: a form of thousands would answer with more.
        Some(o) if o.len() > MAX_CHECKED_FIELDS => {
            return Err(ApiError::BadRequest("invalid", format!("at most {MAX_CHECKED_FIELDS} fields")));
        }
        Some(_) => {}
    }
    if s.catalog.get(&id).is_none() {
        return Err(ApiError::NotFoundWhat("no_procedure", "no such procedure".into()));
    }
    let errors = s.catalog.validate(&id, &req.form_data, req.complete).err().unwrap_or_default();
    Ok(Json(CheckResult { errors }))
}

/// New form data.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EditRequest {
    #[schema(value_type = Object)]
    pub form_data: Value,
}

/// A status change by staff.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusRequest {
    pub status: Status,
    /// Shown to the resident, e.g. what information is missing.
    #[serde(default)]
    pub note: Option<String>,
}

/// The caller's own applications, newest first.
#[utoipa::path(get, path = "/api/v1/applications", tag = "resident", security(("session" = [])),
    responses((status = 200, body = Vec<ApplicationView>), (status = 401, body = super::error::ErrorBody)))]
pub async fn resident_list(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
) -> Result<Json<Vec<ApplicationView>>, ApiError> {
    Ok(Json(applications::list_for_resident(&s.db, &r.id).await?))
}

/// Drafts an application.
#[utoipa::path(post, path = "/api/v1/applications", tag = "resident", security(("session" = [])), request_body = CreateRequest,
    responses((status = 201, body = ApplicationView), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn resident_create(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    req: Result<Json<CreateRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    s.write_limit.check(r.id.clone()).map_err(ApiError::RateLimited)?;
    let req = body(req)?;
    let view = s.records.create(&resident_actor(&r), &req.procedure_id, None, &req.form_data).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One of the caller's applications.
#[utoipa::path(get, path = "/api/v1/applications/{reference}", tag = "resident", security(("session" = [])),
    params(("reference" = String, Path)), responses((status = 200, body = ApplicationView), (status = 404, body = super::error::ErrorBody)))]
pub async fn resident_read(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    Path(reference_): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(applications::read(&s.db, &resident_actor(&r), reference(&reference_)?).await?))
}

/// Replaces the form data of a draft (or of an application that needs information).
#[utoipa::path(patch, path = "/api/v1/applications/{reference}", tag = "resident", security(("session" = [])),
    params(("reference" = String, Path)), request_body = EditRequest,
    responses((status = 200, body = ApplicationView), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn resident_edit(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    Path(reference_): Path<String>,
    req: Result<Json<EditRequest>, JsonRejection>,
) -> Result<Json<ApplicationView>, ApiError> {
    s.write_limit.check(r.id.clone()).map_err(ApiError::RateLimited)?;
    let reference_ = reference(&reference_)?.to_string();
    let req = body(req)?;
    let view = s.records.edit(&resident_actor(&r), &reference_, &req.form_data).await?;
    Ok(Json(view))
}

/// Submits a draft (or resubmits after "needs information"). The whole form is checked.
#[utoipa::path(post, path = "/api/v1/applications/{reference}/submit", tag = "resident", security(("session" = [])),
    params(("reference" = String, Path)),
    responses((status = 200, body = ApplicationView), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn resident_submit(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    Path(reference_): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    s.write_limit.check(r.id.clone()).map_err(ApiError::RateLimited)?;
    let view = s.records.change_status(&resident_actor(&r), reference(&reference_)?, Status::Submitted, None).await?;
    Ok(Json(view))
}

/// Withdraws an application that is not yet decided.
#[utoipa::path(post, path = "/api/v1/applications/{reference}/withdraw", tag = "resident", security(("session" = [])),
    params(("reference" = String, Path)), responses((status = 200, body = ApplicationView), (status = 409, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn resident_withdraw(
    State(s): State<HttpState>,
    ResidentAuth(r): ResidentAuth,
    Path(reference_): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    s.write_limit.check(r.id.clone()).map_err(ApiError::RateLimited)?;
    let view = s.records.change_status(&resident_actor(&r), reference(&reference_)?, Status::Withdrawn, None).await?;
    Ok(Json(view))
}

/// The clerk's department's applications, filtered.
#[utoipa::path(get, path = "/api/v1/staff/applications", tag = "staff", security(("session" = [])), params(Search),
    responses((status = 200, body = Vec<ApplicationSummary>), (status = 403, body = super::error::ErrorBody)))]
pub async fn staff_search(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    q: Result<Query<Search>, QueryRejection>,
) -> Result<Json<Vec<ApplicationSummary>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest("bad_query", e.body_text()))?;
    Ok(Json(applications::search_for_staff(&s.db, &st.department_id, &q).await?))
}

/// Creates an application on a resident's behalf (or before they are linked).
#[utoipa::path(post, path = "/api/v1/staff/applications", tag = "staff", security(("session" = [])), request_body = CreateRequest,
    responses((status = 201, body = ApplicationView), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn staff_create(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    req: Result<Json<CreateRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    let req = body(req)?;
    let view =
        s.records.create(&staff_actor(&st), &req.procedure_id, req.resident_id.as_deref(), &req.form_data).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Opens an application of the clerk's department. The read is recorded in its audit trail.
#[utoipa::path(get, path = "/api/v1/staff/applications/{reference}", tag = "staff", security(("session" = [])),
    params(("reference" = String, Path)), responses((status = 200, body = ApplicationView), (status = 404, body = super::error::ErrorBody)))]
pub async fn staff_read(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(reference_): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(applications::read(&s.db, &staff_actor(&st), reference(&reference_)?).await?))
}

/// Edits the form data.
#[utoipa::path(patch, path = "/api/v1/staff/applications/{reference}", tag = "staff", security(("session" = [])),
    params(("reference" = String, Path)), request_body = EditRequest,
    responses((status = 200, body = ApplicationView), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn staff_edit(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(reference_): Path<String>,
    req: Result<Json<EditRequest>, JsonRejection>,
) -> Result<Json<ApplicationView>, ApiError> {
    let reference_ = reference(&reference_)?.to_string();
    let req = body(req)?;
    let view = s.records.edit(&staff_actor(&st), &reference_, &req.form_data).await?;
    Ok(Json(view))
}

/// Moves an application through review: in_review, needs_info, approved, rejected.
#[utoipa::path(post, path = "/api/v1/staff/applications/{reference}/status", tag = "staff", security(("session" = [])),
    params(("reference" = String, Path)), request_body = StatusRequest,
    responses((status = 200, body = ApplicationView), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn staff_status(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(reference_): Path<String>,
    req: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<ApplicationView>, ApiError> {
    let reference_ = reference(&reference_)?.to_string();
    let req = body(req)?;
    let view = s.records.change_status(&staff_actor(&st), &reference_, req.status, req.note.as_deref()).await?;
    Ok(Json(view))
}

/// The audit trail of an application.
#[utoipa::path(get, path = "/api/v1/staff/applications/{reference}/events", tag = "staff", security(("session" = [])),
    params(("reference" = String, Path)), responses((status = 200, body = Vec<EventView>), (status = 404, body = super::error::ErrorBody)))]
pub async fn staff_events(
    State(s): State<HttpState>,
    ClerkAuth(st): ClerkAuth,
    Path(reference_): Path<String>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    Ok(Json(applications::events(&s.db, &staff_actor(&st), reference(&reference_)?).await?))
}
