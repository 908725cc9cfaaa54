//! HTTP: health and metrics, sessions, world connect tokens, and the records API under
//! `/api/v1`, with an OpenAPI document generated from the handlers.
//!
//! One router per resource, merged in [`router`]; one error type that becomes a JSON body
//! `{code, message, fields?}` with the right status and never carries internals.

pub mod auth;
pub mod ops;
pub mod queue;
pub mod ratelimit;
pub mod records;
pub mod text;
pub mod web;
pub mod world;

use crate::applications::RecordError;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::procedures::{Catalog, FieldError};
use crate::sessions::{self, Principal, Resident};
use crate::staff::{StaffAccount, StaffError};
use crate::tokens::TokenIssuer;
use axum::extract::FromRequestParts;
use axum::extract::rejection::JsonRejection;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use utoipa::OpenApi;

/// Everything the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub queues: crate::queue::Queues,
    /// Single-use tickets for browser clients' WebSocket.
    pub ws: Arc<crate::websocket::WsTickets>,
    /// Where the browser client's build is (`scripts/build-web`), if anywhere.
    pub web_dir: Option<std::path::PathBuf>,
    /// Mark session cookies `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    pub db: Db,
    pub catalog: Arc<Catalog>,
    pub tokens: Arc<TokenIssuer>,
    /// Guest session creation, per client address.
    pub guest_limit: Arc<ratelimit::RateLimiter>,
    /// Staff login attempts, per client address (accounts also lock themselves).
    pub login_limit: Arc<ratelimit::RateLimiter>,
    /// Connect tokens, per session principal: enough for reconnects, not for hoarding.
    pub token_limit: Arc<ratelimit::RateLimiter<String>>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable.
    pub code: String,
    /// For people.
    pub message: String,
    /// One entry per invalid field, when a form was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldError>>,
}

/// A client-facing error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid session is required (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("no such application")]
    NotFound,
    #[error("{1}")]
    NotFoundWhat(&'static str, String),
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("the form has errors")]
    Invalid(Vec<FieldError>),
    #[error("login or password is wrong")]
    BadCredentials,
    #[error("{0}")]
    Locked(String),
    #[error("too many requests from this address; try again in {0} s")]
    RateLimited(u64),
    #[error("the world is not running; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal(String),
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::NotFound => ApiError::NotFound,
            RecordError::Transition { .. } => ApiError::Conflict("invalid_transition", e.to_string()),
            RecordError::NotEditable(_) => ApiError::Conflict("not_editable", e.to_string()),
            RecordError::Invalid(fields) => ApiError::Invalid(fields),
            RecordError::IdentityRequired => ApiError::Forbidden("identity_required", e.to_string()),
            RecordError::WrongDepartment => ApiError::Forbidden("wrong_department", e.to_string()),
            RecordError::Db(e) => ApiError::Internal(e.to_string()),
        }
    }
}

/// A JSON body, or the `{code, message}` error for one that is not valid.
pub(super) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| ApiError::BadRequest("bad_request", e.body_text()))
}

impl From<StaffError> for ApiError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::BadCredentials | StaffError::UnknownLogin => ApiError::BadCredentials,
            StaffError::Locked(_) => ApiError::Locked(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(code, _) => (StatusCode::FORBIDDEN, *code),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NotFoundWhat(code, _) => (StatusCode::NOT_FOUND, *code),
            ApiError::BadRequest(code, _) => (StatusCode::BAD_REQUEST, *code),
            ApiError::Conflict(code, _) => (StatusCode::CONFLICT, *code),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_form"),
            ApiError::Locked(_) => (StatusCode::TOO_MANY_REQUESTS, "locked"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error in HTTP handler");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let fields = match &self {
            ApiError::Invalid(f) => Some(f.clone()),
            _ => None,
        };
        (status, Json(ErrorBody { code: code.into(), message: self.to_string(), fields })).into_response()
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// Any authenticated principal.
pub struct Auth(pub Principal, pub String);

impl FromRequestParts<HttpState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let principal = sessions::resume(&state.db, token).await?.ok_or(ApiError::Unauthorized)?;
        Ok(Auth(principal, token.to_string()))
    }
}

/// A resident's session.
pub struct ResidentAuth(pub Resident);

impl FromRequestParts<HttpState> for ResidentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        match Auth::from_request_parts(parts, state).await?.0 {
            Principal::Resident(r) => Ok(ResidentAuth(r)),
            Principal::Staff(_) => {
                Err(ApiError::Forbidden("resident_only", "this is for residents; staff use /api/v1/staff".into()))
            }
        }
    }
}

/// A staff member's session.
pub struct StaffAuth(pub StaffAccount);

impl FromRequestParts<HttpState> for StaffAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        match Auth::from_request_parts(parts, state).await?.0 {
            Principal::Staff(s) => Ok(StaffAuth(s)),
            Principal::Resident(_) => Err(ApiError::Forbidden("staff_only", "a staff session is required".into())),
        }
    }
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("session token")).build(),
            ),
        );
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Madoguchi API", description = "Residents, staff and records of a Madoguchi virtual ward office."),
    paths(
        ops::healthz,
        auth::create_guest_session,
        auth::me,
        auth::staff_login,
        auth::logout,
        world::connect_token,
        world::ws_ticket,
        records::list_procedures,
        records::resident_list,
        records::resident_create,
        records::resident_read,
        records::resident_edit,
        records::resident_submit,
        records::resident_withdraw,
        records::staff_search,
        records::staff_create,
        records::staff_read,
        records::staff_edit,
        records::staff_status,
        records::staff_events,
        queue::departments,
        queue::my_tickets,
        queue::take_ticket,
        queue::cancel_ticket,
        queue::arrived,
        queue::desks,
        queue::staff_queue,
        queue::take_desk,
        queue::leave_desk,
        queue::call_next,
        queue::recall,
        queue::no_show,
        queue::done,
        queue::transfer,
        queue::ticket_events,
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "sessions", description = "Guest and staff sessions"),
        (name = "resident", description = "A resident's own applications"),
        (name = "staff", description = "A clerk's department's applications"),
        (name = "world", description = "Entering the 3D office"),
        (name = "queue", description = "Queues and a resident's tickets (番号札)"),
    )
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The whole HTTP surface.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .merge(ops::router())
        .merge(auth::router())
        .merge(world::router())
        .merge(records::router())
        .merge(queue::router())
        .merge(text::router())
        .merge(web::router())
        .route("/api/v1/openapi.json", axum::routing::get(openapi))
        .with_state(state)
}
