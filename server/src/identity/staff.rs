//! Staff accounts: argon2id password hashes, login with lockout after repeated failures, and
//! every attempt recorded.
//!
//! Guessing stays expensive without handing an attacker a lock on a clerk:
//! - **Per login and network**: [`MAX_FAILURES`] failed attempts for a login from one client
//!   network (an IPv4 address, an IPv6 /64) within [`LOCKOUT_MS`] lock that login *from that
//!   network* only. A clerk logging in from elsewhere is not locked out by someone else's
//!   guesses.
//! - **Per login, everywhere**: once [`FREE_FAILURES`] failures from any networks have piled up
//!   within [`LOCKOUT_MS`], attempts from networks the login has never succeeded from must wait
//!   between them, a gap that doubles every [`FAILURES_PER_DOUBLING`] failures up to
//!   [`MAX_GAP_MS`] (refused with a wait otherwise, the password unchecked). A botnet gets at most
//!   one guess per gap; networks where the clerk has logged in before (the office's) are never
//!   slowed.
//! - **Hashing is bounded**: at most [`hash_slots`] argon2 computations run at once (19 MiB
//!   each), a few more wait, and beyond that a login is refused at once as busy.

use crate::db::{Db, now_ms};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
pub use madoguchi_shared::api::{StaffAccount, StaffRole as Role};
use sqlx::Row;

/// Failed attempts from one network that lock a login from that network.
pub const MAX_FAILURES: i64 = 5;
/// How long a lock lasts, and how far back failures are counted.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// Failures of a login from all networks before unfamiliar networks are slowed down.
pub const FREE_FAILURES: i64 = 10;
/// Further failures that double the gap between attempts from unfamiliar networks (1 s first).
pub const FAILURES_PER_DOUBLING: i64 = 5;
/// The longest gap between attempts from unfamiliar networks.
pub const MAX_GAP_MS: i64 = 60_000;

/// The gap unfamiliar networks must leave between attempts at a login with `failures` recent
/// failures: none up to [`FREE_FAILURES`], then 1 s doubling every [`FAILURES_PER_DOUBLING`].
pub fn throttle_gap_ms(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = ((failures - FREE_FAILURES) / FAILURES_PER_DOUBLING).min(16);
    (1000i64 << doublings).min(MAX_GAP_MS)
}

/// Argon2 computations at once (one per core, at most 4), and how many more may wait.
pub fn hash_slots() -> (usize, usize) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(4);
    (cores, cores * 4)
}

/// The gate in front of argon2: `work` permits compute, `admit` permits are inside (computing
/// or waiting); a login that finds no `admit` permit is refused at once.
struct HashGate {
    work: tokio::sync::Semaphore,
    admit: tokio::sync::Semaphore,
}

static HASH_GATE: std::sync::LazyLock<HashGate> = std::sync::LazyLock::new(|| {
    let (work, waiting) = hash_slots();
    HashGate { work: tokio::sync::Semaphore::new(work), admit: tokio::sync::Semaphore::new(work + waiting) }
});

/// Runs an argon2 computation on a blocking thread, through the gate.
async fn argon2_work<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, StaffError> {
    let _inside = HASH_GATE.admit.try_acquire().map_err(|_| StaffError::Busy)?;
    let _computing = HASH_GATE.work.acquire().await.map_err(|_| StaffError::Busy)?;
    tokio::task::spawn_blocking(f).await.map_err(|_| StaffError::Hash)
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
    /// Too many recent failures for this login from elsewhere: wait this many seconds.
    #[error("too many attempts at this login; try again in {0} seconds")]
    Throttled(u64),
    #[error("too many logins at once; try again in a moment")]
    Busy,
    /// The password was right, but an admin has disabled the account.
    #[error("this account is disabled; ask an administrator")]
    Disabled,
    #[error("a display name is 1 to 64 characters")]
    BadName,
    #[error("no staff account \"{0}\"")]
    NoAccount(String),
    /// A change that would leave the office without an active admin, or lock the admin out.
    #[error("{0}")]
    Lockout(&'static str),
    #[error("password hashing failed")]
    Hash,
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes) on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, StaffError> {
    argon2_work(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| StaffError::Hash)
    })
    .await?
}

async fn verify_password(password: String, hash: String) -> Result<bool, StaffError> {
    argon2_work(move || {
        PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
}

/// The roles named, checked (none: clerk), without repeats.
pub fn parse_roles(roles: &[String]) -> Result<Vec<Role>, StaffError> {
    let mut parsed = Vec::new();
    for r in roles {
        let role = Role::parse(r.trim()).ok_or_else(|| StaffError::UnknownRole(r.clone()))?;
        if !parsed.contains(&role) {
            parsed.push(role);
        }
    }
    if parsed.is_empty() {
        parsed.push(Role::Clerk);
    }
    Ok(parsed)
}

pub fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

/// A department id the office has, or the error saying it does not.
pub async fn check_department(db: &Db, department: &str) -> Result<(), StaffError> {
    let exists =
        sqlx::query("SELECT 1 FROM departments WHERE id = $1").bind(department).fetch_optional(&db.pool).await?;
    if exists.is_none() {
        return Err(StaffError::UnknownDepartment(department.into()));
    }
    Ok(())
}

/// A password an account may have.
pub fn check_password(password: &str) -> Result<(), StaffError> {
    if password.chars().count() < 12 || password.len() > 1024 {
        return Err(StaffError::WeakPassword);
    }
    Ok(())
}

/// Who made a change to an account: an admin, or (`None`) the command line or the first start's
/// setup link.
pub enum By<'a> {
    Admin(&'a StaffAccount),
    CommandLine,
    SetupLink,
}

impl By<'_> {
    fn admin(&self) -> Option<&StaffAccount> {
        match self {
            By::Admin(a) => Some(a),
            _ => None,
        }
    }

    fn name(&self) -> &str {
        match self {
            By::Admin(a) => &a.login,
            By::CommandLine => "command-line",
            By::SetupLink => "setup-link",
        }
    }
}

/// Adds a staff member; `by` says who did it. The account's creation is its first event
/// (`staff_events`).
pub async fn add(
    db: &Db,
    by: By<'_>,
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
    check_password(password)?;
    let parsed = parse_roles(roles)?;
    check_department(db, department).await?;
    let hash = hash_password(password.to_string()).await?;
    let name: String =
        if display_name.trim().is_empty() { login } else { display_name.trim() }.chars().take(64).collect();
    let mut tx = db.pool.begin().await?;
    let row = sqlx::query(
        "INSERT INTO staff (login, display_name, department_id, roles, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (login) DO NOTHING RETURNING id",
    )
    .bind(login)
    .bind(&name)
    .bind(department)
    .bind(roles_text(&parsed))
    .bind(hash)
    .bind(now_ms())
    .fetch_optional(&mut *tx)
    .await?;
    let id: i64 = row.ok_or_else(|| StaffError::Taken(login.into()))?.try_get(0)?;
    let detail = serde_json::json!({"department": department, "roles": roles_text(&parsed), "display_name": name});
    record_event(&mut tx, &by, id, "created", &detail).await?;
    tx.commit().await?;
    Ok(StaffAccount {
        id,
        login: login.into(),
        display_name: name,
        department_id: department.into(),
        roles: parsed,
        disabled: false,
    })
}

/// Appends an event about account `staff_id`, done by `by`.
pub async fn record_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    by: &By<'_>,
    staff_id: i64,
    action: &str,
    detail: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO staff_events (at, actor_id, actor_login, staff_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now_ms())
    .bind(by.admin().map(|b| b.id))
    .bind(by.name())
    .bind(staff_id)
    .bind(action)
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An account from a row with its columns by name (`id, login, display_name, department_id,
/// roles, disabled_at`).
pub(crate) fn account(row: &sqlx::any::AnyRow) -> Result<StaffAccount, sqlx::Error> {
    let roles: String = row.try_get("roles")?;
    Ok(StaffAccount {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        display_name: row.try_get("display_name")?,
        department_id: row.try_get("department_id")?,
        roles: roles.split(',').filter_map(Role::parse).collect(),
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
    })
}

/// An active (not disabled) staff member by id.
pub async fn by_id(db: &Db, id: i64) -> Result<Option<StaffAccount>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, login, display_name, department_id, roles, disabled_at FROM staff WHERE id = $1 AND disabled_at IS NULL",
    )
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(account).transpose()
}

/// Outcomes that count as failures. `pending` is an attempt still being checked, so that
/// concurrent guesses count against each other.
/// The failures of a login from one network before an attempt, newest first ([`MAX_FAILURES`]
/// at most), since its last success from that network.
const FAILURES_FROM: &str = "SELECT at FROM login_attempts WHERE login = $1 AND network = $2 AND id < $3 AND at > $4
     AND outcome IN ('pending', 'wrong_password', 'unknown_login')
     AND id > COALESCE((SELECT MAX(id) FROM login_attempts WHERE login = $5 AND network = $6 AND outcome = 'success'), 0)
     ORDER BY id DESC LIMIT $7";

/// Failures of a login from every network since `$3`, and the time of its last checked attempt
/// before this one.
const FAILURES_ANYWHERE: &str = "SELECT
     (SELECT COUNT(*) FROM login_attempts WHERE login = $1 AND at > $2 AND id < $3
        AND outcome IN ('pending', 'wrong_password', 'unknown_login')),
     (SELECT MAX(at) FROM login_attempts WHERE login = $4 AND id < $5
        AND outcome IN ('pending', 'wrong_password', 'unknown_login', 'success'))";

/// Checks a login from `network` (the client's address key, see `ratelimit::address_key`);
/// the module comment says how failures lock and slow. Unknown login names are counted, locked
/// and slowed the same way and cost the same hashing time, so neither timing nor lockout reveals
/// which logins exist. Every attempt is a row in `login_attempts`, written before the password
/// is checked: simultaneous guesses see each other.
pub async fn login(db: &Db, login: &str, password: &str, network: &str) -> Result<StaffAccount, StaffError> {
    let name: String = login.chars().take(64).collect();
    let now = now_ms();
    let attempt: i64 = sqlx::query(
        "INSERT INTO login_attempts (login, network, at, outcome) VALUES ($1, $2, $3, 'pending') RETURNING id",
    )
    .bind(&name)
    .bind(network)
    .bind(now)
    .fetch_one(&db.pool)
    .await?
    .try_get(0)?;
    let result = check(db, &name, password, network, attempt, now).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(StaffError::Locked(_)) => "locked",
        Err(StaffError::Throttled(_)) => "throttled",
        Err(StaffError::Busy) => "busy",
        Err(StaffError::BadCredentials) => "wrong_password",
        Err(StaffError::UnknownLogin) => "unknown_login",
        Err(StaffError::Disabled) => "disabled",
        Err(_) => "error",
    };
    tracing::info!(login = %name, network, outcome, "staff login attempt");
    sqlx::query("UPDATE login_attempts SET outcome = $1 WHERE id = $2")
        .bind(outcome)
        .bind(attempt)
        .execute(&db.pool)
        .await?;
    result
}

async fn check(
    db: &Db,
    name: &str,
    password: &str,
    network: &str,
    attempt: i64,
    now: i64,
) -> Result<StaffAccount, StaffError> {
    let failures = sqlx::query(FAILURES_FROM)
        .bind(name)
        .bind(network)
        .bind(attempt)
        .bind(now - LOCKOUT_MS)
        .bind(name) // $5, $6: every placeholder appears once
        .bind(network)
        .bind(MAX_FAILURES)
        .fetch_all(&db.pool)
        .await?;
    if failures.len() as i64 >= MAX_FAILURES {
        let oldest: i64 = failures.last().map(|r| r.try_get(0)).transpose()?.unwrap_or(now);
        return Err(StaffError::Locked((oldest + LOCKOUT_MS - now + 59_999) / 60_000));
    }
    let familiar =
        sqlx::query("SELECT 1 FROM login_attempts WHERE login = $1 AND network = $2 AND outcome = 'success' LIMIT 1")
            .bind(name)
            .bind(network)
            .fetch_optional(&db.pool)
            .await?
            .is_some();
    if !familiar {
        let row = sqlx::query(FAILURES_ANYWHERE)
            .bind(name)
            .bind(now - LOCKOUT_MS)
            .bind(attempt)
            .bind(name)
            .bind(attempt)
            .fetch_one(&db.pool)
            .await?;
        let (recent, last): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        let gap = throttle_gap_ms(recent);
        if let Some(last) = last
            && now - last < gap
        {
            return Err(StaffError::Throttled(((last + gap - now + 999) / 1000) as u64));
        }
    }
    let row = sqlx::query(
        "SELECT id, login, display_name, department_id, roles, password_hash, disabled_at FROM staff WHERE login = $1",
    )
    .bind(name)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        // Spend the time a real verification would take.
        hash_password(password.to_string()).await?;
        return Err(StaffError::UnknownLogin);
    };
    let hash: String = row.try_get("password_hash")?;
    if verify_password(password.to_string(), hash).await? {
        let account = account(&row)?;
        if account.disabled {
            return Err(StaffError::Disabled);
        }
        Ok(account)
    } else {
        Err(StaffError::BadCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_starts_after_the_free_failures_and_doubles_to_its_cap() {
        assert_eq!(throttle_gap_ms(0), 0);
        assert_eq!(throttle_gap_ms(FREE_FAILURES - 1), 0);
        assert_eq!(throttle_gap_ms(FREE_FAILURES), 1000);
        assert_eq!(throttle_gap_ms(FREE_FAILURES + FAILURES_PER_DOUBLING), 2000);
        assert_eq!(throttle_gap_ms(FREE_FAILURES + 3 * FAILURES_PER_DOUBLING), 8000);
        assert_eq!(throttle_gap_ms(10_000), MAX_GAP_MS);
    }

    #[tokio::test]
    async fn hashing_beyond_the_gate_is_refused_at_once() {
        let (work, waiting) = hash_slots();
        // Hold every admission: the next is refused without waiting.
        let held: Vec<_> = (0..work + waiting).map(|_| HASH_GATE.admit.try_acquire().unwrap()).collect();
        let started = std::time::Instant::now();
        assert!(matches!(hash_password("x".repeat(12)).await, Err(StaffError::Busy)));
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        drop(held);
        assert!(hash_password("x".repeat(12)).await.is_ok());
    }
}
