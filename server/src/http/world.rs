//! Entering the world: a connect token for the bearer's session.

use super::{ApiError, Auth, HttpState};
use crate::sessions::Principal;
use crate::tokens::{TokenError, WorldPrincipal};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use madoguchi_shared::PROTOCOL_VERSION;
use serde::Serialize;

pub(super) fn router() -> Router<HttpState> {
    Router::new().route("/api/v1/world/connect-token", post(connect_token))
}

/// A netcode connect token: short-lived, single-use, tied to the session that asked for it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectTokenBody {
    /// The netcode connect token, standard base64.
    pub connect_token: String,
    pub client_id: u64,
    /// Where to send it (UDP).
    pub server_addr: String,
    pub expires_in_s: u64,
    pub protocol: u16,
}

/// Issues a connect token for the world.
#[utoipa::path(post, path = "/api/v1/world/connect-token", tag = "world", security(("session" = [])),
    responses((status = 200, body = ConnectTokenBody), (status = 401, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
pub async fn connect_token(
    State(s): State<HttpState>,
    Auth(principal, _): Auth,
) -> Result<Json<ConnectTokenBody>, ApiError> {
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
    s.token_limit.check(key).map_err(ApiError::RateLimited)?;
    let grant = s.tokens.issue(who).map_err(|e| match e {
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
