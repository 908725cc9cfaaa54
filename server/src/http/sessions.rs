//! Sessions: guest residents, staff login and logout, and "who am I".

use super::error::{ApiError, body};
use super::extract::Auth;
use super::extract::ClientAddr;
use super::state::HttpState;
use crate::identity::sessions::{self, Principal, SessionKey};
use crate::identity::staff;
use crate::ratelimit::address_key;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use madoguchi_shared::api::paths;
use madoguchi_shared::api::{GuestRequest, LoginRequest, MeBody, SessionBody};
use madoguchi_shared::limits::{LOCALE_MAX_BYTES, NAME_MAX_CHARS};
use madoguchi_shared::text::clean_text;

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route(paths::GUEST_SESSION, post(create_guest_session))
        .route(paths::ME, get(me))
        .route(paths::LOGOUT, post(logout))
        .route(paths::STAFF_LOGIN, post(staff_login))
}

/// Starts a guest session (no account, no identity yet).
#[utoipa::path(post, path = "/api/v1/sessions/guest", tag = "sessions", request_body = GuestRequest,
    responses((status = 201, body = SessionBody), (status = 400, body = super::error::ErrorBody)))]
pub async fn create_guest_session(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    body: Option<Json<serde_json::Value>>,
) -> Result<(StatusCode, Json<SessionBody>), ApiError> {
    s.guest_limit.check(address_key(client)).map_err(ApiError::RateLimited)?;
    // No body: the defaults. A body must be an object (serde would take a list for a struct).
    let req = match body {
        None => GuestRequest::default(),
        Some(Json(v @ serde_json::Value::Object(_))) => serde_json::from_value(v)
            .map_err(|e| ApiError::BadRequest("bad_request", format!("a guest request: {e}")))?,
        Some(_) => return Err(ApiError::BadRequest("bad_request", "the body must be a JSON object".into())),
    };
    let name = clean_text(req.display_name.as_deref().unwrap_or("ゲスト"));
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(ApiError::BadRequest(
            "name_invalid",
            format!("a display name needs 1 to {NAME_MAX_CHARS} characters"),
        ));
    }
    let locale = req.locale.unwrap_or_else(|| "ja".into());
    if !(2..=LOCALE_MAX_BYTES).contains(&locale.len())
        || !locale.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::BadRequest(
            "locale_invalid",
            "locale must be a language tag such as ja, en or ja-Hira".into(),
        ));
    }
    let (resident, token) = sessions::create_guest(&s.db, &name, &locale).await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionBody {
            session_token: token,
            idle_expiry_s: sessions::idle_expiry_ms() / 1000,
            resident: Some(resident),
            staff: None,
        }),
    ))
}

/// Resumes a session: who it belongs to (also keeps it alive).
#[utoipa::path(get, path = "/api/v1/sessions/me", tag = "sessions", security(("session" = [])),
    responses((status = 200, body = MeBody), (status = 401, body = super::error::ErrorBody)))]
pub async fn me(Auth(principal, _): Auth) -> Json<MeBody> {
    Json(match principal {
        Principal::Resident(r) => MeBody { kind: "resident".into(), resident: Some(r), staff: None },
        Principal::Staff(st) => MeBody { kind: "staff".into(), resident: None, staff: Some(st) },
    })
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/sessions/logout", tag = "sessions", security(("session" = [])),
    responses((status = 204), (status = 401, body = super::error::ErrorBody)))]
pub async fn logout(State(s): State<HttpState>, Auth(principal, token): Auth) -> Result<StatusCode, ApiError> {
    let staff = match principal {
        Principal::Staff(st) => Some(st.id),
        Principal::Resident(_) => None,
    };
    end_session(&s, &token, staff).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends a session (a logout): its live connections close (world, consultation, event streams),
/// a staff member's desk closes, and a resident left without a session has their waiting
/// tickets cancelled (nobody could come for them).
pub(super) async fn end_session(s: &HttpState, token: &str, staff: Option<i64>) -> Result<(), ApiError> {
    sessions::revoke(&s.db, token).await?;
    s.session_ends.publish(vec![SessionKey::of(token)], staff, sessions::EndReason::LoggedOut);
    s.queues.cancel_orphaned(sessions::idle_expiry_ms()).await?;
    Ok(())
}

/// Staff login. Five wrong passwords from one network lock the login from that network for 15
/// minutes (`429 locked`); after ten failures from anywhere, networks the login never succeeded
/// from must wait between attempts (`429 rate_limited`); `503` when too many logins are being
/// checked at once.
#[utoipa::path(post, path = "/api/v1/staff/login", tag = "sessions", request_body = LoginRequest,
    responses((status = 200, body = SessionBody), (status = 401, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn staff_login(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    req: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<SessionBody>, ApiError> {
    s.login_limit.check(address_key(client)).map_err(ApiError::RateLimited)?;
    let req = body(req)?;
    if req.login.len() > 64 || req.password.len() > 1024 {
        return Err(ApiError::BadCredentials);
    }
    let network = address_key(client).to_string();
    let account = staff::login(&s.db, &req.login, &req.password, &network).await?;
    let token = sessions::create_staff(&s.db, account.id).await?;
    Ok(Json(SessionBody {
        session_token: token,
        idle_expiry_s: sessions::idle_expiry_ms() / 1000,
        resident: None,
        staff: Some(account),
    }))
}
