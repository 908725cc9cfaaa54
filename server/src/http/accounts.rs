//! Staff accounts, for admins: list, add, change (name, department, roles, disabled), reset a
//! password, and each account's history of changes. Every route needs the admin role
//! (`403 role_required` otherwise); every change is recorded (`identity::accounts`).

use super::error::{ApiError, body};
use super::extract::AdminAuth;
use super::state::HttpState;
use crate::identity::accounts::{self, AccountEvent, Change};
use crate::identity::staff::{self, StaffAccount};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/staff/accounts", get(list).post(add))
        .route("/api/v1/staff/accounts/{login}", get(read).patch(change))
        .route("/api/v1/staff/accounts/{login}/password", post(reset_password))
        .route("/api/v1/staff/accounts/{login}/events", get(events))
}

/// Every staff account, disabled ones too.
#[utoipa::path(get, path = "/api/v1/staff/accounts", tag = "admin", security(("session" = [])),
    responses((status = 200, body = Vec<StaffAccount>), (status = 403, body = super::error::ErrorBody)))]
pub async fn list(
    State(s): State<HttpState>,
    AdminAuth(_admin): AdminAuth,
) -> Result<Json<Vec<StaffAccount>>, ApiError> {
    Ok(Json(accounts::list(&s.db).await?))
}

/// A new account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    pub login: String,
    #[serde(default)]
    pub display_name: String,
    pub department: String,
    /// clerk (default), supervisor, admin.
    #[serde(default)]
    pub roles: Vec<String>,
    /// At least 12 characters; the admin passes it on, the clerk should change it.
    pub password: String,
}

/// Adds a staff account.
#[utoipa::path(post, path = "/api/v1/staff/accounts", tag = "admin", request_body = NewAccount, security(("session" = [])),
    responses((status = 201, body = StaffAccount), (status = 400, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn add(
    State(s): State<HttpState>,
    AdminAuth(admin): AdminAuth,
    req: Result<Json<NewAccount>, JsonRejection>,
) -> Result<(StatusCode, Json<StaffAccount>), ApiError> {
    let r = body(req)?;
    let account =
        staff::add(&s.db, staff::By::Admin(&admin), &r.login, &r.display_name, &r.department, &r.roles, &r.password)
            .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/staff/accounts/{login}", tag = "admin", security(("session" = [])),
    responses((status = 200, body = StaffAccount), (status = 404, body = super::error::ErrorBody)))]
pub async fn read(
    State(s): State<HttpState>,
    AdminAuth(_admin): AdminAuth,
    Path(login): Path<String>,
) -> Result<Json<StaffAccount>, ApiError> {
    Ok(Json(accounts::by_login(&s.db, &login).await?))
}

/// Changes an account's name, department, roles or whether it is disabled (its sessions end).
/// Nobody disables themselves or drops their own admin role; the last active admin stays one
/// (`409 lockout`).
#[utoipa::path(patch, path = "/api/v1/staff/accounts/{login}", tag = "admin", request_body = Change, security(("session" = [])),
    responses((status = 200, body = StaffAccount), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn change(
    State(s): State<HttpState>,
    AdminAuth(admin): AdminAuth,
    Path(login): Path<String>,
    req: Result<Json<Change>, JsonRejection>,
) -> Result<Json<StaffAccount>, ApiError> {
    let c = body(req)?;
    Ok(Json(accounts::change(&s.db, &s.session_ends, &admin, &login, c).await?))
}

/// A new password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    pub password: String,
}

/// Sets a new password (at least 12 characters); the account's sessions end.
#[utoipa::path(post, path = "/api/v1/staff/accounts/{login}/password", tag = "admin", request_body = NewPassword, security(("session" = [])),
    responses((status = 204, description = "set"), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn reset_password(
    State(s): State<HttpState>,
    AdminAuth(admin): AdminAuth,
    Path(login): Path<String>,
    req: Result<Json<NewPassword>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let r = body(req)?;
    accounts::reset_password(&s.db, &s.session_ends, &admin, &login, &r.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every change to an account, oldest first: who did it, when, what changed.
#[utoipa::path(get, path = "/api/v1/staff/accounts/{login}/events", tag = "admin", security(("session" = [])),
    responses((status = 200, body = Vec<AccountEvent>), (status = 404, body = super::error::ErrorBody)))]
pub async fn events(
    State(s): State<HttpState>,
    AdminAuth(_admin): AdminAuth,
    Path(login): Path<String>,
) -> Result<Json<Vec<AccountEvent>>, ApiError> {
    Ok(Json(accounts::events(&s.db, &login).await?))
}
