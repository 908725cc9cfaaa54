//! The one error type of the HTTP surface: it becomes a JSON body `{code, message, fields?}`
//! with the right status, and never carries internals (those go to the log).

use crate::identity::staff::StaffError;
use crate::records::applications::RecordError;
use crate::records::catalog::FieldError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

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
    /// Too much of this work at once (e.g. password checks); try again in a moment.
    #[error("too many requests at once; try again in a moment")]
    Busy,
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
            RecordError::TooManyDrafts => ApiError::Conflict("too_many_drafts", e.to_string()),
            RecordError::Db(e) => ApiError::Internal(e.to_string()),
        }
    }
}

/// A JSON body, or the `{code, message}` error for one that is not valid.
pub(crate) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| ApiError::BadRequest("bad_request", e.body_text()))
}

impl From<StaffError> for ApiError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::BadCredentials | StaffError::UnknownLogin => ApiError::BadCredentials,
            StaffError::Locked(_) => ApiError::Locked(e.to_string()),
            StaffError::Throttled(secs) => ApiError::RateLimited(secs),
            StaffError::Busy => ApiError::Busy,
            StaffError::Disabled => ApiError::Forbidden("account_disabled", e.to_string()),
            StaffError::NoAccount(_) => ApiError::NotFoundWhat("no_account", e.to_string()),
            StaffError::Lockout(_) => ApiError::Conflict("lockout", e.to_string()),
            StaffError::Taken(_) => ApiError::Conflict("login_taken", e.to_string()),
            StaffError::BadLogin
            | StaffError::WeakPassword
            | StaffError::BadName
            | StaffError::UnknownDepartment(_)
            | StaffError::UnknownRole(_) => ApiError::BadRequest("invalid", e.to_string()),
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
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error in HTTP handler");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let fields = match &self {
            ApiError::Invalid(f) => Some(f.clone()),
            _ => None,
        };
        // How long to wait before asking again, where there is an answer.
        let retry_after = match &self {
            ApiError::RateLimited(secs) => Some((*secs).max(1)),
            ApiError::Unavailable | ApiError::Busy => Some(1),
            _ => None,
        };
        let mut r = (status, Json(ErrorBody { code: code.into(), message: self.to_string(), fields })).into_response();
        if let Some(secs) = retry_after {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        r
    }
}

/// Under `/api/`, every error is an [`ErrorBody`]: the plain-text errors axum's own extractors
/// and router give (a path parameter that does not parse, an unknown route, a wrong method) are
/// rewritten as `{code, message}` with the same status.
pub async fn json_errors_under_api(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let r = next.run(req).await;
    let status = r.status();
    let plain = r
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_none_or(|v| v.to_str().is_ok_and(|t| t.starts_with("text/plain")));
    if !api || !(status.is_client_error() || status.is_server_error()) || !plain {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let text =
        axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    // axum's own 422 is a JSON body of the wrong shape: a bad request like any malformed body
    // (this API's 422 is a form that fails the catalog's rules, and is already JSON).
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = if text.trim().is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut out = (status, Json(ErrorBody { code: code.into(), message, fields: None })).into_response();
    for (k, v) in parts.headers.iter() {
        if k != axum::http::header::CONTENT_TYPE {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}
