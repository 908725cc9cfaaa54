//! The audit trail: every change to an application, and every staff read of one, is an event
//! written in the same transaction as the change. Events are append-only (database triggers
//! refuse UPDATE and DELETE) and hash-chained per application: each event's hash covers the
//! previous event's hash, and the application row holds the hash of its newest event, so an
//! edited, removed or reordered event breaks the chain where `verify` will find it.

use crate::db::Db;
use sha2::{Digest, Sha256};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

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
}

/// The hash of an event: SHA-256 over its fields, each length-prefixed so no two different
/// events can share an encoding.
pub fn event_hash(e: &EventFields) -> String {
    let mut h = Sha256::new();
    for part in [
        e.prev_hash.as_bytes(),
        e.application_id.to_string().as_bytes(),
        e.seq.to_string().as_bytes(),
        e.at.to_string().as_bytes(),
        e.actor_kind.as_bytes(),
        e.actor_id.as_bytes(),
        e.action.as_bytes(),
        e.detail.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Appends an event to application `application_id` inside `tx` and moves the application's
/// head hash forward. The application row is locked until `tx` ends (SQLite's immediate
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
    let sql = format!("SELECT event_count, head_hash FROM applications WHERE id = $1{}", db.for_update());
    let row = sqlx::query(AssertSqlSafe(sql)).bind(application_id).fetch_one(&mut **tx).await?;
    let count: i64 = row.try_get(0)?;
    let prev: String = row.try_get(1)?;
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
    });
    sqlx::query(
        "INSERT INTO application_events (application_id, seq, at, actor_kind, actor_id, action, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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

/// Walks every application's chain and reports the first broken link.
pub async fn verify(db: &Db) -> Result<Verdict, sqlx::Error> {
    let apps = sqlx::query("SELECT id, reference, event_count, head_hash FROM applications ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    let mut total = 0u64;
    for app in &apps {
        let id: i64 = app.try_get(0)?;
        let reference: String = app.try_get(1)?;
        let count: i64 = app.try_get(2)?;
        let head: String = app.try_get(3)?;
        let events = sqlx::query(
            "SELECT seq, at, actor_kind, actor_id, action, detail, prev_hash, hash FROM application_events
             WHERE application_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await?;
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1i64;
        for e in &events {
            let seq: i64 = e.try_get(0)?;
            let stored_prev: String = e.try_get(6)?;
            let stored_hash: String = e.try_get(7)?;
            let broken = |reason: String| Verdict::Broken { reference: reference.clone(), seq, reason };
            if seq != expected_seq {
                return Ok(broken(format!("event {expected_seq} is missing")));
            }
            if stored_prev != prev {
                return Ok(broken("prev_hash does not match the previous event".into()));
            }
            let actor_kind: String = e.try_get(2)?;
            let actor_id: String = e.try_get(3)?;
            let action: String = e.try_get(4)?;
            let detail: String = e.try_get(5)?;
            let computed = event_hash(&EventFields {
                application_id: id,
                seq,
                at: e.try_get(1)?,
                actor_kind: &actor_kind,
                actor_id: &actor_id,
                action: &action,
                detail: &detail,
                prev_hash: &stored_prev,
            });
            if computed != stored_hash {
                return Ok(broken("the event's content does not match its hash".into()));
            }
            prev = stored_hash;
            expected_seq += 1;
        }
        if expected_seq - 1 != count || prev != head {
            return Ok(Verdict::Broken {
                reference,
                seq: expected_seq,
                reason: format!(
                    "the application records {count} events ending in {head:.12}…, the chain has {}",
                    expected_seq - 1
                ),
            });
        }
        total += events.len() as u64;
    }
    Ok(Verdict::Intact { applications: apps.len() as u64, events: total })
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
        };
        let h = event_hash(&base);
        assert_ne!(h, event_hash(&EventFields { seq: 2, ..base }));
        assert_ne!(h, event_hash(&EventFields { at: 1001, ..base }));
        assert_ne!(h, event_hash(&EventFields { actor_id: "sato", ..base }));
        assert_ne!(h, event_hash(&EventFields { detail: "{\"a\":1}", ..base }));
        // Moving bytes between fields changes the hash too.
        assert_ne!(
            event_hash(&EventFields { actor_kind: "staffx", actor_id: "", ..base }),
            event_hash(&EventFields { actor_kind: "staff", actor_id: "x", ..base })
        );
    }
}
