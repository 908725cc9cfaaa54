//! Sessions of residents and staff, in the database.
//!
//! A session token is 128 random bits from the OS CSPRNG, shown to its holder once and stored
//! only as its SHA-256 (its [`SessionKey`]). Sessions end when idle for [`idle_expiry_ms`] (30
//! minutes unless configured) and at an absolute age of [`ABSOLUTE_EXPIRY_MS`], and on logout.
//! A connection to the world keeps its session alive ([`keep_alive`], fed by `net::sessions`),
//! as every authenticated request does.

use super::staff::{self, StaffAccount};
use crate::db::{Db, now_ms};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use madoguchi_shared::api::Resident;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

/// Idle time after which a session ends, unless configured otherwise.
pub const IDLE_EXPIRY_MS: i64 = 30 * 60 * 1000;

static IDLE_MS: AtomicI64 = AtomicI64::new(IDLE_EXPIRY_MS);

/// Sets the idle expiry for this process (`--session-idle-secs`); once, at start.
pub fn set_idle_expiry(d: Duration) {
    IDLE_MS.store((d.as_millis() as i64).max(1000), Ordering::Relaxed);
}

/// Idle time after which a session ends.
pub fn idle_expiry_ms() -> i64 {
    IDLE_MS.load(Ordering::Relaxed)
}

/// How often `last_seen_at` is written: at most once a minute, so reads do not all become
/// writes, and often enough for a short idle expiry.
fn touch_every_ms() -> i64 {
    (idle_expiry_ms() / 4).min(60 * 1000)
}

/// A session as stored: the SHA-256 of its token. Who holds a world connection is known by
/// this, never by the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn of(token: &str) -> SessionKey {
        SessionKey(hash(token))
    }
}
/// Why the connections of some sessions must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its holder logged out.
    LoggedOut,
    /// Idle or past its age.
    Expired,
    /// A guest signed in: the guest's sessions are gone, their holders have the resident's.
    SignedIn,
    /// An admin disabled the staff account or reset its password: its sessions are gone.
    AccountEnded,
    /// An admin changed the staff account's roles or department: its sessions stay, but a
    /// connection opened with the old rights must be opened again.
    RightsChanged,
}

impl EndReason {
    /// The code a connection that ends for this reason is told.
    pub fn code(self) -> &'static str {
        match self {
            EndReason::RightsChanged => "rights_changed",
            _ => "session_ended",
        }
    }

    /// What its holder is told, in plain words.
    pub fn message(self) -> &'static str {
        match self {
            EndReason::LoggedOut => "you logged out; log in or join again to continue",
            EndReason::Expired => "your session has ended; join again to continue",
            EndReason::SignedIn => "you signed in: this connection was the guest's; open the office again",
            EndReason::AccountEnded => "an administrator disabled your account or reset its password; log in again",
            EndReason::RightsChanged => {
                "an administrator changed your account's roles or department; open the page again to continue"
            }
        }
    }
}

/// Sessions whose live connections must end (an office event): published after the change is
/// committed, by whoever ended or changed them.
#[derive(Debug, Clone)]
pub struct SessionsEnded {
    pub keys: Vec<SessionKey>,
    /// The staff account they belong to, when the change was the account's (its desk closes too).
    pub staff: Option<i64>,
    pub reason: EndReason,
}

/// The office's channel of [`SessionsEnded`]: every kind of live connection (world, consultation
/// signalling, event streams) and the desks subscribe. A subscriber that falls behind is told so
/// (`Lagged`) and looks its sessions up instead ([`SessionListener`]): that finds a session that
/// ended, not a change of rights it missed.
#[derive(Clone)]
pub struct SessionEnds(broadcast::Sender<Arc<SessionsEnded>>);

impl Default for SessionEnds {
    fn default() -> Self {
        SessionEnds(broadcast::channel(256).0)
    }
}

impl SessionEnds {
    /// Tells every subscriber.
    pub fn publish(&self, keys: Vec<SessionKey>, staff: Option<i64>, reason: EndReason) {
        if !keys.is_empty() || staff.is_some() {
            let _ = self.0.send(Arc::new(SessionsEnded { keys, staff, reason }));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SessionsEnded>> {
        self.0.subscribe()
    }
}

/// One live connection's ear on [`SessionEnds`], for its session. Subscribe before checking the
/// session (an end published in between is then heard, not missed).
pub struct SessionListener {
    rx: broadcast::Receiver<Arc<SessionsEnded>>,
    key: SessionKey,
    /// When it began listening: a change of rights from then on ends the connection.
    since: i64,
    /// Events were missed: the session is to be looked up before listening on.
    lagged: bool,
}

impl SessionListener {
    /// Listens, from when `rx` subscribed, for the end of session `key`.
    pub fn new(rx: broadcast::Receiver<Arc<SessionsEnded>>, key: SessionKey) -> SessionListener {
        SessionListener { rx, key, since: now_ms(), lagged: false }
    }

    /// Waits until the connection must end because of its session, and says why. Cancel-safe
    /// (it can sit in a `select!` loop): after missing events the session is looked up — again
    /// next time, if this call is dropped first — and a session gone is [`EndReason::Expired`],
    /// one whose account's rights changed since it began listening [`EndReason::RightsChanged`].
    pub async fn ended(&mut self, db: &Db) -> EndReason {
        loop {
            if self.lagged {
                if let Some(reason) = missed_end(db, &self.key, self.since).await.unwrap_or(None) {
                    return reason;
                }
                self.lagged = false;
            }
            match self.rx.recv().await {
                Ok(ended) if ended.keys.contains(&self.key) => return ended.reason,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => self.lagged = true,
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }
}

/// Whether session `key` is live (not ended, idle or past its age).
pub async fn is_live(db: &Db, key: &SessionKey) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    Ok(sqlx::query("SELECT 1 FROM sessions WHERE token_hash = $1 AND expires_at > $2 AND last_seen_at > $3")
        .bind(&key.0)
        .bind(now)
        .bind(now - idle_expiry_ms())
        .fetch_optional(&db.pool)
        .await?
        .is_some())
}

/// What a listener that missed notices finds in the table: the session gone, or its account's
/// rights changed at or after `since`; `None` if the connection may go on.
async fn missed_end(db: &Db, key: &SessionKey, since: i64) -> Result<Option<EndReason>, sqlx::Error> {
    if !is_live(db, key).await? {
        return Ok(Some(EndReason::Expired));
    }
    let changed: Option<i64> = sqlx::query("SELECT rights_changed_at FROM sessions WHERE token_hash = $1")
        .bind(&key.0)
        .fetch_optional(&db.pool)
        .await?
        .and_then(|r| r.try_get::<Option<i64>, _>(0).ok().flatten());
    Ok(changed.filter(|at| *at >= since).map(|_| EndReason::RightsChanged))
}

/// The sessions of staff account `staff_id`.
pub async fn keys_of_staff(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    staff_id: i64,
) -> Result<Vec<SessionKey>, sqlx::Error> {
    sqlx::query("SELECT token_hash FROM sessions WHERE principal_kind = 'staff' AND principal_id = $1")
        .bind(staff_id.to_string())
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get(0).map(SessionKey))
        .collect()
}

/// Age at which a resident session ends however active it is.
pub const ABSOLUTE_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;
/// Staff sessions last a working day at most.
pub const STAFF_ABSOLUTE_EXPIRY_MS: i64 = 10 * 60 * 60 * 1000;

/// Who holds a session.
#[derive(Debug, Clone)]
pub enum Principal {
    Resident(Resident),
    Staff(StaffAccount),
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

async fn insert(db: &Db, kind: &str, principal_id: &str, absolute_ms: i64) -> Result<String, sqlx::Error> {
    let token = new_token();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sessions (token_hash, principal_kind, principal_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(hash(&token))
    .bind(kind)
    .bind(principal_id)
    .bind(now)
    .bind(now + absolute_ms)
    .execute(&db.pool)
    .await?;
    Ok(token)
}

/// Registers a guest resident and opens their session. Returns the resident and the token.
pub async fn create_guest(db: &Db, display_name: &str, locale: &str) -> Result<(Resident, String), sqlx::Error> {
    let resident = Resident {
        id: hex::encode(rand::random::<[u8; 16]>()),
        display_name: display_name.to_string(),
        locale: locale.to_string(),
        identity_level: "guest".into(),
        verified_name: None,
    };
    sqlx::query(
        "INSERT INTO residents (id, display_name, locale, identity_level, created_at) VALUES ($1, $2, $3, 'guest', $4)",
    )
    .bind(&resident.id)
    .bind(&resident.display_name)
    .bind(&resident.locale)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    let token = insert(db, "resident", &resident.id, ABSOLUTE_EXPIRY_MS).await?;
    Ok((resident, token))
}

/// A resident by id.
pub async fn resident_by_id(db: &Db, id: &str) -> Result<Option<Resident>, sqlx::Error> {
    let r = sqlx::query("SELECT id, display_name, locale, identity_level, verified_name FROM residents WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    r.map(|r| -> Result<_, sqlx::Error> {
        Ok(Resident {
            id: r.try_get(0)?,
            display_name: r.try_get(1)?,
            locale: r.try_get(2)?,
            identity_level: r.try_get(3)?,
            verified_name: r.try_get(4)?,
        })
    })
    .transpose()
}

/// Opens a new session for a resident who has just signed in.
pub async fn open_resident(db: &Db, resident_id: &str) -> Result<String, sqlx::Error> {
    insert(db, "resident", resident_id, ABSOLUTE_EXPIRY_MS).await
}

/// Ends one session (its token), e.g. a guest's once they signed in.
pub async fn end(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(hash(token)).execute(&db.pool).await?;
    Ok(())
}

/// Ends every session of a resident — a guest whose records went to the resident they signed
/// in as — and returns their keys (so that their world connections close).
pub async fn end_all_of_resident(db: &Db, resident_id: &str) -> Result<Vec<SessionKey>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let keys: Vec<SessionKey> =
        sqlx::query("SELECT token_hash FROM sessions WHERE principal_kind = 'resident' AND principal_id = $1")
            .bind(resident_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0).map(SessionKey))
            .collect::<Result<_, _>>()?;
    sqlx::query("DELETE FROM sessions WHERE principal_kind = 'resident' AND principal_id = $1")
        .bind(resident_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(keys)
}

/// Opens a session for a staff member who has just logged in.
pub async fn create_staff(db: &Db, staff_id: i64) -> Result<String, sqlx::Error> {
    insert(db, "staff", &staff_id.to_string(), STAFF_ABSOLUTE_EXPIRY_MS).await
}

/// The principal behind a token, if its session is live. Expired sessions are deleted.
pub async fn resume(db: &Db, token: &str) -> Result<Option<Principal>, sqlx::Error> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let key = hash(token);
    let row = sqlx::query(
        "SELECT principal_kind, principal_id, last_seen_at, expires_at FROM sessions WHERE token_hash = $1",
    )
    .bind(&key)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (kind, id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    let (last_seen, expires): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
    let now = now_ms();
    if now >= expires || now - last_seen >= idle_expiry_ms() {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&key).execute(&db.pool).await?;
        return Ok(None);
    }
    if now - last_seen >= touch_every_ms() {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(&key)
            .execute(&db.pool)
            .await?;
    }
    match kind.as_str() {
        "resident" => Ok(resident_by_id(db, &id).await?.map(Principal::Resident)),
        "staff" => {
            let Ok(staff_id) = id.parse::<i64>() else { return Ok(None) };
            Ok(staff::by_id(db, staff_id).await?.map(Principal::Staff))
        }
        _ => Ok(None),
    }
}

/// Deletes sessions past their idle or absolute expiry, and login attempts older than
/// [`LOGIN_ATTEMPT_RETENTION_MS`]. Returns how many sessions went.
pub async fn purge_expired(db: &Db) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    let gone = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
        .bind(now)
        .bind(now - idle_expiry_ms())
        .execute(&db.pool)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM login_attempts WHERE at <= $1")
        .bind(now - LOGIN_ATTEMPT_RETENTION_MS)
        .execute(&db.pool)
        .await?;
    Ok(gone)
}

/// How long login attempts are kept for investigation.
pub const LOGIN_ATTEMPT_RETENTION_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Keeps the sessions of open world connections alive. Returns those that have ended (signed
/// out, past their age, or idle before this came: the world closes their connections).
pub async fn keep_alive(db: &Db, keys: &[SessionKey]) -> Result<Vec<SessionKey>, sqlx::Error> {
    let now = now_ms();
    let mut ended = Vec::new();
    let mut tx = db.pool.begin().await?;
    for key in keys {
        let touched = sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND expires_at > $1 AND last_seen_at > $3",
        )
        .bind(now)
        .bind(&key.0)
        .bind(now - idle_expiry_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if touched == 0 {
            ended.push(key.clone());
        }
    }
    tx.commit().await?;
    Ok(ended)
}

/// Starts the session keeper on `handle`: it keeps alive the sessions the world sends it (in
/// batches, see `net::sessions`); those found ended are published as [`EndReason::Expired`]
/// (the world closes their connections; the queue cancels tickets nobody can come for). Returns
/// where to send the batches, and how often to (well within the idle expiry, at most once a
/// minute: one small write per connection).
pub fn spawn_keeper(
    handle: &tokio::runtime::Handle,
    db: &Db,
    ends: &SessionEnds,
) -> (tokio::sync::mpsc::Sender<Vec<SessionKey>>, Duration) {
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<Vec<SessionKey>>(1);
    let (db, ends) = (db.clone(), ends.clone());
    handle.spawn(async move {
        while let Some(keys) = alive_rx.recv().await {
            match keep_alive(&db, &keys).await {
                Ok(ended) => ends.publish(ended, None, EndReason::Expired),
                Err(e) => tracing::warn!(error = %e, "could not keep the world's sessions alive"),
            }
        }
    });
    (alive_tx, Duration::from_millis((idle_expiry_ms() / 4).clamp(1000, 60_000) as u64))
}

/// Removes expired sessions and old login attempts every hour (or a quarter of the idle expiry,
/// if shorter), from a task on `handle` (the first time one period after the start, whose own
/// purge has run).
pub fn spawn_purger(handle: &tokio::runtime::Handle, db: &Db) {
    let db = db.clone();
    handle.spawn(async move {
        let mut every = tokio::time::interval(purge_period());
        every.tick().await; // the first tick is immediate
        loop {
            every.tick().await;
            match purge_expired(&db).await {
                Ok(n) if n > 0 => tracing::info!(sessions = n, "purged expired sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
            }
        }
    });
}

/// How often expired sessions are swept up: hourly, or a quarter of the idle expiry if shorter.
pub fn purge_period() -> Duration {
    Duration::from_millis((idle_expiry_ms() / 4).clamp(1000, 3_600_000) as u64)
}

/// Ends a session.
pub async fn revoke(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(hash(token)).execute(&db.pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_carry_128_bits_and_differ() {
        let a = super::new_token();
        let b = super::new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22, "16 bytes in unpadded base64");
        assert_eq!(super::hash(&a).len(), 64);
    }
}
