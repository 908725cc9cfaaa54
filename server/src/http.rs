//! HTTP: health, metrics, guest sessions and world connect tokens.
//!
//! One router per resource, merged in [`router`], so tests can drive the real router.

use crate::metrics::Metrics;
use crate::sessions::Sessions;
use crate::tokens::{TokenError, TokenIssuer};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use madoguchi_shared::PROTOCOL_VERSION;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Everything the HTTP handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<Sessions>,
    pub tokens: Arc<TokenIssuer>,
}

/// A client-facing error: a stable code, a message for people, the right status. Internals go
/// to the log, never into the body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "a valid session token is required (Authorization: Bearer <token>); create one with POST /api/v1/sessions/guest"
    )]
    Unauthorized,
    #[error("the world is not running; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error in HTTP handler");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        (status, Json(ErrorBody { code, message: self.to_string() })).into_response()
    }
}

/// The whole HTTP surface.
pub fn router(state: HttpState) -> Router {
    Router::new().merge(ops_router()).merge(session_router()).merge(world_router()).with_state(state)
}

fn ops_router() -> Router<HttpState> {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics))
}

fn session_router() -> Router<HttpState> {
    Router::new().route("/api/v1/sessions/guest", post(create_guest_session))
}

fn world_router() -> Router<HttpState> {
    Router::new().route("/api/v1/world/connect-token", post(connect_token))
}

/// A world that has not ticked for this long is reported unhealthy.
const STALL: Duration = Duration::from_secs(2);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

async fn healthz(State(s): State<HttpState>) -> Response {
    let last = s.metrics.last_tick_ms.load(Relaxed);
    let age_ms = now_ms().saturating_sub(last);
    let ok = last != 0 && age_ms < STALL.as_millis() as u64;
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "stalled" },
        "protocol": PROTOCOL_VERSION,
        "last_tick_age_ms": age_ms,
    });
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

async fn metrics(State(s): State<HttpState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.render()).into_response()
}

#[derive(Serialize)]
struct GuestSession {
    session_token: String,
    idle_expiry_s: u64,
}

async fn create_guest_session(State(s): State<HttpState>) -> (StatusCode, Json<GuestSession>) {
    let (_, token) = s.sessions.create();
    (
        StatusCode::CREATED,
        Json(GuestSession { session_token: token, idle_expiry_s: crate::sessions::IDLE_EXPIRY.as_secs() }),
    )
}

#[derive(Serialize)]
struct ConnectTokenBody {
    /// The netcode connect token, standard base64.
    connect_token: String,
    client_id: u64,
    server_addr: String,
    expires_in_s: u64,
    protocol: u16,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

async fn connect_token(State(s): State<HttpState>, headers: HeaderMap) -> Result<Json<ConnectTokenBody>, ApiError> {
    let token = bearer(&headers).ok_or(ApiError::Unauthorized)?;
    let session = s.sessions.resume(token).ok_or(ApiError::Unauthorized)?;
    let grant = s.tokens.issue(session).map_err(|e| match e {
        TokenError::WorldGone => ApiError::Unavailable,
        TokenError::Generation(d) => ApiError::Internal(d),
    })?;
    Ok(Json(ConnectTokenBody {
        connect_token: STANDARD.encode(&grant.bytes),
        client_id: grant.client_id,
        server_addr: grant.server_addr.to_string(),
        expires_in_s: grant.expires_in.as_secs(),
        protocol: PROTOCOL_VERSION,
    }))
}
