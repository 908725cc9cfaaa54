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
    /// A login name nobody has. The API answers it exactly like `BadCredentials`.
    #[error("login or password is wrong")]
    UnknownLogin,
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
        "INSERT INTO staff (login, display_name, department_id, roles, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (login) DO NOTHING RETURNING id",
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

/// Outcomes that count towards a lockout. `pending` is an attempt still being checked, so that
/// concurrent guesses count against each other.
/// The failures before an attempt, newest first ([`MAX_FAILURES`] at most, bound as `$5`).
const FAILURES_BEFORE: &str = "SELECT at FROM login_attempts WHERE login = $1 AND id < $2 AND at > $3 AND outcome IN ('pending', 'wrong_password', 'unknown_login')
     AND id > COALESCE((SELECT MAX(id) FROM login_attempts WHERE login = $4 AND outcome = 'success'), 0)
     ORDER BY id DESC LIMIT $5";

/// Checks a login. After [`MAX_FAILURES`] failed attempts for a login name since its last
/// success within [`LOCKOUT_MS`], further attempts are refused as locked, even with the right
/// password, until the oldest of them is [`LOCKOUT_MS`] old. Unknown login names are counted and
/// locked the same way and cost the same hashing time, so neither timing nor lockout reveals
/// which logins exist. Every attempt is a row in `login_attempts`, written before the password is
/// checked: simultaneous guesses see each other.
pub async fn login(db: &Db, login: &str, password: &str) -> Result<StaffAccount, StaffError> {
    let name: String = login.chars().take(64).collect();
    let now = now_ms();
    let attempt: i64 =
        sqlx::query("INSERT INTO login_attempts (login, at, outcome) VALUES ($1, $2, 'pending') RETURNING id")
            .bind(&name)
            .bind(now)
            .fetch_one(&db.pool)
            .await?
            .try_get(0)?;
    let result = check(db, &name, password, attempt, now).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(StaffError::Locked(_)) => "locked",
        Err(StaffError::BadCredentials) => "wrong_password",
        Err(StaffError::UnknownLogin) => "unknown_login",
        Err(_) => "error",
    };
    tracing::info!(login = %name, outcome, "staff login attempt");
    sqlx::query("UPDATE login_attempts SET outcome = $1 WHERE id = $2")
        .bind(outcome)
        .bind(attempt)
        .execute(&db.pool)
        .await?;
    result
}

async fn check(db: &Db, name: &str, password: &str, attempt: i64, now: i64) -> Result<StaffAccount, StaffError> {
    // The failures before this attempt, newest first.
    let failures = sqlx::query(FAILURES_BEFORE)
        .bind(name)
        .bind(attempt)
        .bind(now - LOCKOUT_MS)
        .bind(name) // $4: every placeholder appears once
        .bind(MAX_FAILURES)
        .fetch_all(&db.pool)
        .await?;
    if failures.len() as i64 >= MAX_FAILURES {
        let oldest: i64 = failures.last().map(|r| r.try_get(0)).transpose()?.unwrap_or(now);
        return Err(StaffError::Locked((oldest + LOCKOUT_MS - now + 59_999) / 60_000));
    }
    let row =
        sqlx::query("SELECT id, login, display_name, department_id, roles, password_hash FROM staff WHERE login = $1")
            .bind(name)
            .fetch_optional(&db.pool)
            .await?;
    let Some(row) = row else {
        // Spend the time a real verification would take.
        let _ = hash_password(password.to_string()).await;
        return Err(StaffError::UnknownLogin);
    };
    let hash: String = row.try_get("password_hash")?;
    if verify_password(password.to_string(), hash).await { Ok(account(&row)?) } else { Err(StaffError::BadCredentials) }
}
