//! HTTP: health and metrics, sessions, world admission, the records and queue APIs under
//! `/api/v1` (with an OpenAPI document generated from the handlers), the text mode and the
//! browser client.
//!
//! One router per resource, merged in [`router`]; the shared state ([`state`]), extractors
//! ([`extract`]) and the one error type ([`error`]). Handlers call into the features (`identity`,
//! `records`, `queue`, `consult`, `net`); no feature imports this module. The routes' paths and
//! the bodies clients exchange are `madoguchi_shared::api`'s.
//!
//! Pages: the toolkit every page is made with (`pages`), their live sections over server-sent
//! events (`live`), the resident's text mode (`text`, `text_consult`), the staff console
//! (`console/`); the pages' scripts are files beside their templates (`server/templates/`).
//!
//! May use: `consult`, `identity`, `net`, `queue`, `records`.

mod accounts;
pub mod client_addr;
mod console;
mod consult;
mod cookies;
mod error;
mod extract;
mod links;
pub mod listen;
mod live;
mod openapi;
mod ops;
mod pages;
mod queue;
mod records;
mod sessions;
mod settings;
mod signin;
pub mod state;
mod text;
mod text_consult;
mod web;
mod world;

pub use settings::HttpFlags;

use axum::Router;
use axum::http::{Request, StatusCode};
use state::HttpState;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Longest a handler may take to answer (408 after that). Streams (server-sent events, the
/// WebSocket) answer at once and are not cut by it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The operations listener's surface (`--ops-addr`): /healthz and /metrics.
pub fn ops_router(state: HttpState) -> Router {
    ops::ops_router()
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
}

/// The whole public HTTP surface: every request gets an `x-request-id` (kept if the client sent one,
/// echoed in the response), a tracing span naming it, and [`REQUEST_TIMEOUT`].
pub fn router(state: HttpState) -> Router {
    Router::new()
        .merge(ops::router())
        .merge(sessions::router())
        .merge(world::router())
        .merge(records::router())
        .merge(queue::router())
        .merge(consult::router())
        .merge(accounts::router())
        .merge(console::router())
        .merge(text::router())
        .merge(signin::router())
        .merge(text_consult::router())
        .merge(web::router())
        .route("/api/v1/openapi.json", axum::routing::get(openapi::openapi))
        .with_state(state)
        .layer(axum::middleware::from_fn(error::json_errors_under_api))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
