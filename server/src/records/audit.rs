//! The audit trail: every change to an application, and every staff read of one, is an event
//! written in the same transaction as the change. Events are append-only (database triggers
//! refuse UPDATE and DELETE) and hash-chained per application: each event's hash covers the
//! previous event's hash, and the application row holds the hash of its newest event, so an
//! edited, removed or reordered event breaks the chain where `verify` will find it. Each event
//! also covers a digest of the application's state after it, so a row changed behind the
//! chain's back (a status set by hand in the database) is caught too.
//!
//! Every event is also a link of one office-wide chain (`audit_log`, in the order events were
//! written; `audit_head` holds its newest link): a deleted application, a truncated chain or a
//! rolled-back head leaves a gap or a broken link there. `verify` checks every event row, in
//! one consistent snapshot. What a chain inside the database cannot show — someone with write
//! access rewriting and rehashing everything, the office-wide chain included — signed
//! checkpoints of the office-wide head, kept outside the database, do (`super::checkpoint`).

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
    let event_id: i64 = sqlx::query(
        "INSERT INTO application_events (application_id, seq, at, actor_kind, actor_id, action, detail, prev_hash, hash, state_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    link(db, tx, event_id, &hash).await?;
    sqlx::query("UPDATE applications SET event_count = $1, head_hash = $2 WHERE id = $3")
        .bind(seq)
        .bind(&hash)
        .bind(application_id)
        .execute(&mut **tx)
        .await?;
    Ok(hash)
}

/// The office-wide head, locked for the next link (on PostgreSQL every append waits here for
/// the one before it: links are written one at a time, in order).
const GLOBAL_HEAD_FOR_APPEND: Dialects = for_update!("SELECT gseq, ghash FROM audit_head WHERE id = 1");

/// A link of the office-wide chain: the previous link, the link's number and the event's hash.
pub fn link_hash(prev: &str, gseq: i64, event_hash: &str) -> String {
    digest([prev.as_bytes(), gseq.to_string().as_bytes(), event_hash.as_bytes()])
}

/// Adds event `event_id` (whose hash is `event_hash`) to the office-wide chain, inside `tx`.
async fn link(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    event_id: i64,
    event_hash: &str,
) -> Result<(i64, String), sqlx::Error> {
    let head = sqlx::query(db.pick(GLOBAL_HEAD_FOR_APPEND)).fetch_one(&mut **tx).await?;
    let gseq = head.try_get::<i64, _>(0)? + 1;
    let ghash = link_hash(&head.try_get::<String, _>(1)?, gseq, event_hash);
    sqlx::query("INSERT INTO audit_log (gseq, event_id, ghash) VALUES ($1, $2, $3)")
        .bind(gseq)
        .bind(event_id)
        .bind(&ghash)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE audit_head SET gseq = $1, ghash = $2 WHERE id = 1")
        .bind(gseq)
        .bind(&ghash)
        .execute(&mut **tx)
        .await?;
    Ok((gseq, ghash))
}

/// Links the events written before the office-wide chain existed, in the order they were
/// written. Runs at start; does nothing once the chain has begun (an event found outside the
/// chain later is tampering, for `verify` to report, not something to adopt).
pub async fn link_earlier_events(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let head: i64 = sqlx::query(db.pick(GLOBAL_HEAD_FOR_APPEND)).fetch_one(&mut *tx).await?.try_get(0)?;
    if head > 0 {
        return Ok(0);
    }
    let rows = sqlx::query("SELECT id, hash FROM application_events ORDER BY id").fetch_all(&mut *tx).await?;
    for r in &rows {
        link(db, &mut tx, r.try_get(0)?, &r.try_get::<String, _>(1)?).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// The office-wide head: (number of links, newest link's hash).
pub async fn global_head(db: &Db) -> Result<(i64, String), sqlx::Error> {
    let r = sqlx::query("SELECT gseq, ghash FROM audit_head WHERE id = 1").fetch_one(&db.pool).await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// The hash of link `gseq` of the office-wide chain, if it exists.
pub async fn link_at(db: &Db, gseq: i64) -> Result<Option<String>, sqlx::Error> {
    let r = sqlx::query("SELECT ghash FROM audit_log WHERE gseq = $1").bind(gseq).fetch_optional(&db.pool).await?;
    r.map(|r| r.try_get(0)).transpose()
}

/// The outcome of walking every chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact { applications: u64, events: u64 },
    Broken { reference: String, seq: i64, reason: String },
}

/// Walks the office-wide chain and every application's chain, checking every event row, and
/// reports the first broken link. Runs in one read transaction (a snapshot: SQLite's WAL reader,
/// PostgreSQL's repeatable read), so it is safe beside a running server.
pub async fn verify(db: &Db) -> Result<Verdict, sqlx::Error> {
    use futures_util::TryStreamExt;
    let mut tx = db.pool.begin().await?;
    if db.backend == crate::db::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    }
    let broken = |reference: String, seq: i64, reason: String| Ok(Verdict::Broken { reference, seq, reason });
    let head = sqlx::query("SELECT gseq, ghash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
    let (head_gseq, head_ghash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);

    // 1. The office-wide chain: every link in order, each naming an event whose content matches
    //    its hash.
    let mut prev = GENESIS.to_string();
    let mut expected = 1i64;
    // A broken event found on the way: (application id, seq), named by reference below.
    let mut bad_event = None;
    {
        let mut links = sqlx::query(
            "SELECT l.gseq, l.ghash, e.id, e.application_id, e.seq, e.at, e.actor_kind, e.actor_id, e.action, e.detail,
                    e.prev_hash, e.hash, e.state_hash
             FROM audit_log l LEFT JOIN application_events e ON e.id = l.event_id ORDER BY l.gseq",
        )
        .fetch(&mut *tx);
        while let Some(l) = links.try_next().await? {
            let gseq: i64 = l.try_get(0)?;
            let at_link = |what: &str| format!("office-wide link {gseq}: {what}");
            if gseq != expected {
                return broken("(office-wide)".into(), expected, format!("link {expected} is missing"));
            }
            if l.try_get::<Option<i64>, _>(2)?.is_none() {
                return broken("(office-wide)".into(), gseq, at_link("its event has been deleted"));
            }
            let event = event_from(&l, 3)?;
            let stored_hash: String = l.try_get(11)?;
            if event_hash(&event.fields()) != stored_hash {
                bad_event = Some((event.application_id, event.seq));
                break;
            }
            let ghash: String = l.try_get(1)?;
            if link_hash(&prev, gseq, &stored_hash) != ghash {
                return broken("(office-wide)".into(), gseq, at_link("does not follow from the link before it"));
            }
            prev = ghash;
            expected += 1;
        }
    }
    if let Some((app, seq)) = bad_event {
        let reference = reference_of(&mut tx, app).await?;
        return broken(reference, seq, "the event's content does not match its hash".into());
    }
    if expected - 1 != head_gseq || prev != head_ghash {
        return broken(
            "(office-wide)".into(),
            expected - 1,
            format!(
                "the office-wide head says {head_gseq} links ending in {head_ghash:.12}…, the chain has {}",
                expected - 1
            ),
        );
    }
    // 2. No event outside that chain, and none of an application that is gone.
    if let Some(r) = sqlx::query(
        "SELECT e.application_id, e.seq FROM application_events e LEFT JOIN audit_log l ON l.event_id = e.id
         WHERE l.gseq IS NULL ORDER BY e.id LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?
    {
        let (app, seq): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        let reference = reference_of(&mut tx, app).await?;
        return broken(reference, seq, "an event that is not in the office-wide chain".into());
    }
    if let Some(r) = sqlx::query(
        "SELECT e.application_id FROM application_events e LEFT JOIN applications a ON a.id = e.application_id
         WHERE a.id IS NULL LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?
    {
        let app: i64 = r.try_get(0)?;
        return broken(format!("#{app}"), 0, "the application has been deleted; its events remain".into());
    }
    // 3. Each application's own chain, every event of it, up to the head its row names.
    let ids: Vec<i64> = sqlx::query("SELECT id FROM applications ORDER BY id")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut total = 0u64;
    for id in &ids {
        let app = sqlx::query(HEAD_FOR_VERIFY).bind(id).fetch_one(&mut *tx).await?;
        let events = sqlx::query(
            "SELECT application_id, seq, at, actor_kind, actor_id, action, detail, prev_hash, state_hash, hash
             FROM application_events WHERE application_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        match verify_one(&app, &events)? {
            Ok(n) => total += n,
            Err(b) => return Ok(b),
        }
    }
    if (total as i64) != head_gseq {
        return broken(
            "(office-wide)".into(),
            head_gseq,
            format!("the applications' chains hold {total} events, the office-wide chain {head_gseq}"),
        );
    }
    Ok(Verdict::Intact { applications: ids.len() as u64, events: total })
}

/// An application's reference, or `#id (deleted)`.
async fn reference_of(tx: &mut Transaction<'static, Any>, id: i64) -> Result<String, sqlx::Error> {
    let r = sqlx::query("SELECT reference FROM applications WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
    Ok(match r {
        Some(r) => r.try_get(0)?,
        None => format!("#{id} (deleted)"),
    })
}

/// An event's fields as read from a row, starting at column `first` (application_id, seq, at,
/// actor_kind, actor_id, action, detail, prev_hash, state_hash).
struct StoredEvent {
    application_id: i64,
    seq: i64,
    at: i64,
    actor_kind: String,
    actor_id: String,
    action: String,
    detail: String,
    prev_hash: String,
    state_hash: String,
}

impl StoredEvent {
    fn fields(&self) -> EventFields<'_> {
        EventFields {
            application_id: self.application_id,
            seq: self.seq,
            at: self.at,
            actor_kind: &self.actor_kind,
            actor_id: &self.actor_id,
            action: &self.action,
            detail: &self.detail,
            prev_hash: &self.prev_hash,
            state_hash: &self.state_hash,
        }
    }
}

/// Reads application_id, seq, at, actor_kind, actor_id, action, detail, prev_hash, then (after
/// one column in the office-wide query, the hash) state_hash.
fn event_from(r: &sqlx::any::AnyRow, first: usize) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        application_id: r.try_get(first)?,
        seq: r.try_get(first + 1)?,
        at: r.try_get(first + 2)?,
        actor_kind: r.try_get(first + 3)?,
        actor_id: r.try_get(first + 4)?,
        action: r.try_get(first + 5)?,
        detail: r.try_get(first + 6)?,
        prev_hash: r.try_get(first + 7)?,
        state_hash: r.try_get(first + 9)?,
    })
}

/// One application's chain, every event of it: `Ok(events)` or the first broken link.
fn verify_one(app: &sqlx::any::AnyRow, events: &[sqlx::any::AnyRow]) -> Result<Result<u64, Verdict>, sqlx::Error> {
    let reference: String = app.try_get(0)?;
    let count: i64 = app.try_get(1)?;
    let head: String = app.try_get(2)?;
    let mut state = String::new();
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1i64;
    for e in events {
        // application_id .. prev_hash, state_hash, hash: the state hash sits where event_from
        // expects the office-wide query's hash column, so read it by hand.
        let ev = StoredEvent {
            application_id: e.try_get(0)?,
            seq: e.try_get(1)?,
            at: e.try_get(2)?,
            actor_kind: e.try_get(3)?,
            actor_id: e.try_get(4)?,
            action: e.try_get(5)?,
            detail: e.try_get(6)?,
            prev_hash: e.try_get(7)?,
            state_hash: e.try_get(8)?,
        };
        let stored_hash: String = e.try_get(9)?;
        let seq = ev.seq;
        let broken = |reason: String| Ok(Err(Verdict::Broken { reference: reference.clone(), seq, reason }));
        if seq != expected_seq {
            return broken(format!("event {expected_seq} is missing"));
        }
        if seq > count {
            return broken(format!(
                "the application's head names {count} events, but event {seq} exists (a head rolled back?)"
            ));
        }
        if ev.prev_hash != prev {
            return broken("prev_hash does not match the previous event".into());
        }
        if event_hash(&ev.fields()) != stored_hash {
            return broken("the event's content does not match its hash".into());
        }
        state = ev.state_hash.clone();
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
