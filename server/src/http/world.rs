//! Entering the world: a connect token for the bearer's session.

use super::error::ApiError;
use super::extract::Auth;
use super::extract::ClientAddr;
use super::state::HttpState;
use crate::identity::principal::{Entrant, WorldPrincipal};
use crate::identity::sessions::{Principal, SessionKey};
use crate::net::tokens::TokenError;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use madoguchi_shared::PROTOCOL_VERSION;
use madoguchi_shared::api::paths;
use madoguchi_shared::api::{ConnectTokenBody, WsTicketBody};
use serde::Deserialize;

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route(paths::CONNECT_TOKEN, post(connect_token))
        .route(paths::WS_TICKET, post(ws_ticket))
        .route(paths::WORLD_WS, get(ws_connect))
}

fn world_principal(principal: Principal) -> (WorldPrincipal, String) {
    let who = match principal {
        Principal::Resident(r) => WorldPrincipal::Resident { id: r.id },
        Principal::Staff(st) => {
            WorldPrincipal::Staff { id: st.id, department: st.department_id, login: st.login, name: st.display_name }
        }
    };
    let key = match &who {
        WorldPrincipal::Resident { id } => format!("r:{id}"),
        WorldPrincipal::Staff { id, .. } => format!("s:{id}"),
    };
    (who, key)
}

/// Issues a single-use ticket for entering the world over WebSocket (the browser transport).
#[utoipa::path(post, path = "/api/v1/world/ws-ticket", tag = "world", security(("session" = [])),
    responses((status = 200, body = WsTicketBody), (status = 401, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn ws_ticket(
    State(s): State<HttpState>,
    Auth(principal, token): Auth,
) -> Result<Json<WsTicketBody>, ApiError> {
    let (who, key) = world_principal(principal);
    s.token_limit.check(key).map_err(ApiError::RateLimited)?;
    Ok(Json(WsTicketBody {
        ticket: s.ws.issue(Entrant { who, session: SessionKey::of(&token) }),
        path: "/api/v1/world/ws".into(),
        expires_in_s: s.ws.ttl().as_secs(),
        protocol: PROTOCOL_VERSION,
    }))
}

#[derive(Deserialize)]
struct WsQuery {
    #[serde(default)]
    ticket: String,
}

/// Upgrades to the world's WebSocket, for the holder of a valid ticket.
async fn ws_connect(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    Query(q): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // A request that is not a WebSocket upgrade does not use the ticket up.
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return ApiError::BadRequest("not_websocket", e.body_text()).into_response(),
    };
    let Some(entrant) = (q.ticket.len() <= 64).then(|| s.ws.redeem(&q.ticket)).flatten() else {
        return ApiError::Forbidden(
            "ticket_invalid",
            "this WebSocket ticket is unknown, used or expired; ask for a new one".into(),
        )
        .into_response();
    };
    s.ws.accept(ws, entrant, client)
}

/// Issues a connect token for the world.
#[utoipa::path(post, path = "/api/v1/world/connect-token", tag = "world", security(("session" = [])),
    responses((status = 200, body = ConnectTokenBody), (status = 401, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn connect_token(
    State(s): State<HttpState>,
    Auth(principal, token): Auth,
) -> Result<Json<ConnectTokenBody>, ApiError> {
    let (who, key) = world_principal(principal);
    s.token_limit.check(key).map_err(ApiError::RateLimited)?;
    let grant = s.tokens.issue(Entrant { who, session: SessionKey::of(&token) }).map_err(|e| match e {
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
