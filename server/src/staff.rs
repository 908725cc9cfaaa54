//! Staff accounts: argon2id password hashes, login with lockout after repeated failures, and
//! every attempt recorded.

use crate::db::{Db, now_ms};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use serde::Serialize;
use sqlx::Row;

/// Failed attempts in a row that lock an account.
pub const MAX_FAILURES: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Staffs a counter, works on their department's applications.
    Clerk,
    /// A clerk who also watches queues and moves staff.
    Supervisor,
    /// Configures the office.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "clerk" => Some(Role::Clerk),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// A staff member, without secrets.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffAccount {
    #[serde(skip)]
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub department_id: String,
    pub roles: Vec<Role>,
}

/// Why a staff operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("login must be 3-64 of a-z, 0-9, ., _ and -")]
    BadLogin,
    #[error("password must be at least 12 characters")]
    WeakPassword,
    #[error("unknown department \"{0}\"")]
    UnknownDepartment(String),
    #[error("unknown role \"{0}\" (clerk, supervisor or admin)")]
    UnknownRole(String),
    #[error("login \"{0}\" is taken")]
    Taken(String),
    #[error("login or password is wrong")]
    BadCredentials,
    #[error("too many failed attempts; try again in {0} minutes")]
    Locked(i64),
    #[error("password hashing failed")]
    Hash,
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes) on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, StaffError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| StaffError::Hash)
    })
    .await
    .map_err(|_| StaffError::Hash)?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// Adds a staff member.
pub async fn add(
    db: &Db,
    login: &str,
    display_name: &str,
    department: &str,
    roles: &[String],
    password: &str,
) -> Result<StaffAccount, StaffError> {
    let login_ok = (3..=64).contains(&login.len())
        && login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if !login_ok {
        return Err(StaffError::BadLogin);
    }
    if password.chars().count() < 12 {
        return Err(StaffError::WeakPassword);
    }
    let mut parsed = Vec::new();
    for r in roles {
        parsed.push(Role::parse(r).ok_or_else(|| StaffError::UnknownRole(r.clone()))?);
    }
    if parsed.is_empty() {
        parsed.push(Role::Clerk);
    }
    let exists =
        sqlx::query("SELECT 1 FROM departments WHERE id = $1").bind(department).fetch_optional(&db.pool).await?;
    if exists.is_none() {
        return Err(StaffError::UnknownDepartment(department.into()));
    }
    let hash = hash_password(password.to_string()).await?;
    let roles_text = parsed.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
    let name = if display_name.trim().is_empty() { login } else { display_name.trim() };
    let row = sqlx::query(
        "INSERT INTO staff (login, display_name, department_id, roles, password_hash, failed_logins, locked_until, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, 0, $6) ON CONFLICT (login) DO NOTHING RETURNING id",
    )
    .bind(login)
    .bind(name)
    .bind(department)
    .bind(&roles_text)
    .bind(hash)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?;
    let id: i64 = row.ok_or_else(|| StaffError::Taken(login.into()))?.try_get(0)?;
    Ok(StaffAccount {
        id,
        login: login.into(),
        display_name: name.into(),
        department_id: department.into(),
        roles: parsed,
    })
}

fn account(row: &sqlx::any::AnyRow) -> Result<StaffAccount, sqlx::Error> {
    let roles: String = row.try_get("roles")?;
    Ok(StaffAccount {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        display_name: row.try_get("display_name")?,
        department_id: row.try_get("department_id")?,
        roles: roles.split(',').filter_map(Role::parse).collect(),
    })
}

/// A staff member by id.
pub async fn by_id(db: &Db, id: i64) -> Result<Option<StaffAccount>, sqlx::Error> {
    let row = sqlx::query("SELECT id, login, display_name, department_id, roles FROM staff WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(account).transpose()
}

async fn record_attempt(db: &Db, login: &str, outcome: &str) {
    tracing::info!(login, outcome, "staff login attempt");
    let r = sqlx::query("INSERT INTO login_attempts (login, at, outcome) VALUES ($1, $2, $3)")
        .bind(login.chars().take(64).collect::<String>())
        .bind(now_ms())
        .bind(outcome)
        .execute(&db.pool)
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "could not record a login attempt");
    }
}

/// Checks a login. After [`MAX_FAILURES`] wrong passwords in a row the account is locked for
/// [`LOCKOUT_MS`], even for the right password. An unknown login costs the same hashing time as
/// a known one, so timing does not reveal which logins exist.
pub async fn login(db: &Db, login: &str, password: &str) -> Result<StaffAccount, StaffError> {
    let row = sqlx::query(
        "SELECT id, login, display_name, department_id, roles, password_hash, failed_logins, locked_until FROM staff WHERE login = $1",
    )
    .bind(login)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        // Spend the time a real verification would take.
        let _ = hash_password(password.to_string()).await;
        record_attempt(db, login, "unknown_login").await;
        return Err(StaffError::BadCredentials);
    };
    let now = now_ms();
    let locked_until: i64 = row.try_get("locked_until")?;
    if locked_until > now {
        record_attempt(db, login, "locked").await;
        return Err(StaffError::Locked((locked_until - now + 59_999) / 60_000));
    }
    let hash: String = row.try_get("password_hash")?;
    let id: i64 = row.try_get("id")?;
    if verify_password(password.to_string(), hash).await {
        sqlx::query("UPDATE staff SET failed_logins = 0, locked_until = 0 WHERE id = $1")
            .bind(id)
            .execute(&db.pool)
            .await?;
        record_attempt(db, login, "success").await;
        return Ok(account(&row)?);
    }
    let failures: i64 = row.try_get::<i64, _>("failed_logins")? + 1;
    let lock = if failures >= MAX_FAILURES { now + LOCKOUT_MS } else { 0 };
    sqlx::query("UPDATE staff SET failed_logins = $1, locked_until = $2 WHERE id = $3")
        .bind(if lock > 0 { 0 } else { failures })
        .bind(lock)
        .bind(id)
        .execute(&db.pool)
        .await?;
    record_attempt(db, login, if lock > 0 { "wrong_password_locked" } else { "wrong_password" }).await;
    Err(StaffError::BadCredentials)
}
