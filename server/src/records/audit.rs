//! The audit trail: every change to an application, and every staff read of one, is an event
//! written in the same transaction as the change. Events are append-only (database triggers
//! refuse UPDATE and DELETE) and hash-chained per application: each event's hash covers the
//! previous event's hash, and the application row holds the hash of its newest event, so an
//! edited, removed or reordered event breaks the chain where `verify` will find it. Each event
//! also covers a digest of the application's state after it, so a row changed behind the
//! chain's back (a status set by hand in the database) is caught too.

use crate::db::Db;
use crate::db::{Dialects, for_update};
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

/// The `prev_hash` of an application's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something to a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Resident { id: String },
    Staff { id: i64, login: String, department: String },
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Resident { .. } => "resident",
            Actor::Staff { .. } => "staff",
            Actor::System => "system",
        }
    }

    pub fn id(&self) -> String {
        match self {
            Actor::Resident { id } => id.clone(),
            Actor::Staff { login, .. } => login.clone(),
            Actor::System => "system".into(),
        }
    }
}

/// The fields an event's hash covers, in order.
pub struct EventFields<'a> {
    pub application_id: i64,
    pub seq: i64,
    pub at: i64,
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub action: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a str,
    /// [`state_hash`] of the application after the event.
    pub state_hash: &'a str,
}

/// Length-prefixed SHA-256 over `parts`: no two different lists share an encoding.
fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// The application columns an event vouches for, as `verify` and `append` read them.
/// The columns of an application's state that its events vouch for, in a fixed order.
macro_rules! state_cols {
    () => {
        "reference, procedure_id, department_id, COALESCE(resident_id, ''), status, form_data, COALESCE(status_note, '')"
    };
}
/// The chain's head and the state, locked for the append.
const HEAD_FOR_APPEND: Dialects =
    for_update!("SELECT event_count, head_hash, ", state_cols!(), " FROM applications WHERE id = $1");
const HEAD_FOR_VERIFY: &str =
    concat!("SELECT reference, event_count, head_hash, ", state_cols!(), " FROM applications WHERE id = $1");

/// A digest of an application's state: the state columns of its row, starting at `first`.
fn state_hash(row: &sqlx::any::AnyRow, first: usize) -> Result<String, sqlx::Error> {
    let cols: Vec<String> = (first..first + 7).map(|i| row.try_get(i)).collect::<Result<_, _>>()?;
    Ok(digest(cols.iter().map(|c| c.as_bytes())))
}

/// The hash of an event: SHA-256 over its fields, each length-prefixed so no two different
/// events can share an encoding.
pub fn event_hash(e: &EventFields) -> String {
    digest([
        e.prev_hash.as_bytes(),
        e.application_id.to_string().as_bytes(),
        e.seq.to_string().as_bytes(),
        e.at.to_string().as_bytes(),
        e.actor_kind.as_bytes(),
        e.actor_id.as_bytes(),
        e.action.as_bytes(),
        e.detail.as_bytes(),
        e.state_hash.as_bytes(),
    ])
}

/// Appends an event to application `application_id` inside `tx` and moves the application's
/// head hash forward. Call it after changing the row, in the same transaction: the event vouches
/// for the row's state as `tx` sees it. The application row is locked until `tx` ends (SQLite's immediate
/// transaction holds the whole database), so concurrent appends queue instead of colliding.
pub async fn append(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    application_id: i64,
    actor: &Actor,
    action: &str,
    detail: &serde_json::Value,
    at: i64,
) -> Result<String, sqlx::Error> {
    let row = sqlx::query(db.pick(HEAD_FOR_APPEND)).bind(application_id).fetch_one(&mut **tx).await?;
    let count: i64 = row.try_get(0)?;
    let prev: String = row.try_get(1)?;
    let state = state_hash(&row, 2)?;
    let seq = count + 1;
    let detail = detail.to_string();
    let (kind, id) = (actor.kind(), actor.id());
    let hash = event_hash(&EventFields {
        application_id,
        seq,
        at,
        actor_kind: kind,
        actor_id: &id,
        action,
        detail: &detail,
        prev_hash: &prev,
        state_hash: &state,
    });
    sqlx::query(
        "INSERT INTO application_events (application_id, seq, at, actor_kind, actor_id, action, detail, prev_hash, hash, state_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(application_id)
    .bind(seq)
    .bind(at)
    .bind(kind)
    .bind(id)
    .bind(action)
    .bind(detail)
    .bind(prev)
    .bind(&hash)
    .bind(&state)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE applications SET event_count = $1, head_hash = $2 WHERE id = $3")
        .bind(seq)
        .bind(&hash)
        .bind(application_id)
        .execute(&mut **tx)
        .await?;
    Ok(hash)
}

/// The outcome of walking every chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact { applications: u64, events: u64 },
    Broken { reference: String, seq: i64, reason: String },
}

/// Walks every application's chain and reports the first broken link. Safe beside a running
/// server: each application is checked up to the event its row names (events are written in the
/// same transaction as the row), so an event appended meanwhile is not mistaken for tampering.
pub async fn verify(db: &Db) -> Result<Verdict, sqlx::Error> {
    let ids = sqlx::query("SELECT id FROM applications ORDER BY id").fetch_all(&db.pool).await?;
    let mut total = 0u64;
    for id in &ids {
        let id: i64 = id.try_get(0)?;
        let Some(app) = sqlx::query(HEAD_FOR_VERIFY).bind(id).fetch_optional(&db.pool).await? else {
            continue;
        };
        match verify_one(db, id, &app).await? {
            Ok(events) => total += events,
            Err(broken) => return Ok(broken),
        }
    }
    Ok(Verdict::Intact { applications: ids.len() as u64, events: total })
}

/// One application's chain: `Ok(events)` or the first broken link.
async fn verify_one(db: &Db, id: i64, app: &sqlx::any::AnyRow) -> Result<Result<u64, Verdict>, sqlx::Error> {
    let reference: String = app.try_get(0)?;
    let count: i64 = app.try_get(1)?;
    let head: String = app.try_get(2)?;
    let events = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, action, detail, prev_hash, hash, state_hash FROM application_events
         WHERE application_id = $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(id)
    .bind(count)
    .fetch_all(&db.pool)
    .await?;
    let mut state = String::new();
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1i64;
    for e in &events {
        let seq: i64 = e.try_get(0)?;
        let stored_prev: String = e.try_get(6)?;
        let stored_hash: String = e.try_get(7)?;
        let broken = |reason: String| Ok(Err(Verdict::Broken { reference: reference.clone(), seq, reason }));
        if seq != expected_seq {
            return broken(format!("event {expected_seq} is missing"));
        }
        if stored_prev != prev {
            return broken("prev_hash does not match the previous event".into());
        }
        let actor_kind: String = e.try_get(2)?;
        let actor_id: String = e.try_get(3)?;
        let action: String = e.try_get(4)?;
        let detail: String = e.try_get(5)?;
        state = e.try_get(8)?;
        let computed = event_hash(&EventFields {
            application_id: id,
            seq,
            at: e.try_get(1)?,
            actor_kind: &actor_kind,
            actor_id: &actor_id,
            action: &action,
            detail: &detail,
            prev_hash: &stored_prev,
            state_hash: &state,
        });
        if computed != stored_hash {
            return broken("the event's content does not match its hash".into());
        }
        prev = stored_hash;
        expected_seq += 1;
    }
    if expected_seq - 1 != count || prev != head {
        return Ok(Err(Verdict::Broken {
            reference,
            seq: expected_seq,
            reason: format!(
                "the application records {count} events ending in {head:.12}…, the chain has {}",
                expected_seq - 1
            ),
        }));
    }
    if state != state_hash(app, 3)? {
        return Ok(Err(Verdict::Broken {
            reference,
            seq: count,
            reason: "the application's current state is not the state its last event vouches for".into(),
        }));
    }
    Ok(Ok(events.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field() {
        let base = EventFields {
            application_id: 1,
            seq: 1,
            at: 1000,
            actor_kind: "staff",
            actor_id: "tanaka",
            action: "status",
            detail: "{}",
            prev_hash: GENESIS,
            state_hash: "s",
        };
        let h = event_hash(&base);
        assert_ne!(h, event_hash(&EventFields { seq: 2, ..base }));
        assert_ne!(h, event_hash(&EventFields { at: 1001, ..base }));
        assert_ne!(h, event_hash(&EventFields { actor_id: "sato", ..base }));
        assert_ne!(h, event_hash(&EventFields { detail: "{\"a\":1}", ..base }));
        assert_ne!(h, event_hash(&EventFields { state_hash: "t", ..base }));
        // Moving bytes between fields changes the hash too.
        assert_ne!(
            event_hash(&EventFields { actor_kind: "staffx", actor_id: "", ..base }),
            event_hash(&EventFields { actor_kind: "staff", actor_id: "x", ..base })
        );
    }
}
