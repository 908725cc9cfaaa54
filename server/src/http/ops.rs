//! Operations: health (on the public listener too, for load balancers) and Prometheus metrics
//! (only on the operations listener, `--ops-addr`).

use super::state::HttpState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use madoguchi_shared::PROTOCOL_VERSION;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A world that has not ticked for this long is reported unhealthy.
const STALL: Duration = Duration::from_secs(2);

/// What the public listener serves of operations: health only.
pub(super) fn router() -> Router<HttpState> {
    Router::new().route("/healthz", get(healthz))
}

/// The operations listener: health and metrics.
pub(super) fn ops_router() -> Router<HttpState> {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics))
}

/// 200 while the world ticks and the database answers; 503 otherwise.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "healthy"), (status = 503, description = "world stalled or database down")))]
pub async fn healthz(State(s): State<HttpState>) -> Response {
    let last = s.metrics.last_tick_ms.load(Relaxed) as i64;
    let age_ms = crate::db::now_ms().saturating_sub(last);
    let world_ok = last != 0 && age_ms < STALL.as_millis() as i64;
    let db_ok = sqlx::query("SELECT 1").execute(&s.db.pool).await.is_ok();
    let ok = world_ok && db_ok;
    let body = serde_json::json!({
        "status": if ok { "ok" } else if world_ok { "database_down" } else { "stalled" },
        "protocol": PROTOCOL_VERSION,
        "last_tick_age_ms": age_ms,
        "database": s.db.backend.as_str(),
    });
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

async fn metrics(State(s): State<HttpState>) -> Response {
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], s.metrics.render()).into_response()
}
