//! Who is asking: the session behind a request's bearer token, as an axum extractor (any
//! principal, a resident, or a member of staff).

use super::error::ApiError;
use super::state::HttpState;
use crate::identity::sessions::{self, Principal, Resident};
use crate::identity::staff::StaffAccount;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// Any authenticated principal: by the `Authorization: Bearer` token, or — for the staff
/// console's scripts — by the console's session cookie together with its CSRF token in an
/// `x-csrf-token` header (a cookie alone never authenticates an API call: another site could
/// make a browser send it).
pub struct Auth(pub Principal, pub String);

impl FromRequestParts<HttpState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let token = match bearer(&parts.headers) {
            Some(t) => t.to_string(),
            None => super::cookies::staff_api_token(&parts.headers).ok_or(ApiError::Unauthorized)?,
        };
        let principal = sessions::resume(&state.db, &token).await?.ok_or(ApiError::Unauthorized)?;
        Ok(Auth(principal, token))
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

/// A member of staff who works a counter (a clerk or a supervisor): desks, the queue,
/// consultations and their department's records. Anyone else on staff gets `403 role_required`.
pub struct ClerkAuth(pub StaffAccount);

impl FromRequestParts<HttpState> for ClerkAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let StaffAuth(s) = StaffAuth::from_request_parts(parts, state).await?;
        if !s.works_counter() {
            return Err(ApiError::Forbidden("role_required", "this needs the clerk or supervisor role".into()));
        }
        Ok(ClerkAuth(s))
    }
}

/// A supervisor (of their own department).
pub struct SupervisorAuth(pub StaffAccount);

impl FromRequestParts<HttpState> for SupervisorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let StaffAuth(s) = StaffAuth::from_request_parts(parts, state).await?;
        if !s.is_supervisor() {
            return Err(ApiError::Forbidden("role_required", "this needs the supervisor role".into()));
        }
        Ok(SupervisorAuth(s))
    }
}

/// An admin (office-wide: staff accounts).
pub struct AdminAuth(pub StaffAccount);

impl FromRequestParts<HttpState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let StaffAuth(s) = StaffAuth::from_request_parts(parts, state).await?;
        if !s.is_admin() {
            return Err(ApiError::Forbidden("role_required", "this needs the admin role".into()));
        }
        Ok(AdminAuth(s))
    }
}

/// The address of the client behind a request: the TCP peer, or whom a trusted proxy says it
/// forwarded for (see `super::client_addr`).
pub struct ClientAddr(pub std::net::IpAddr);

impl FromRequestParts<HttpState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        Ok(ClientAddr(state.proxies.client_ip(peer, &parts.headers)))
    }
}
