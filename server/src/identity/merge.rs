//! A guest who signs in as a resident the office already knows (the same person, on another
//! device or earlier) brings what they did as a guest along: their tickets, applications and
//! consultations become the resident's, in the sign-in's transaction, each move on the record —
//! a ticket event per active ticket, an audit event per application (its hash chain vouches for
//! the new owner), and a resident event on both.
//!
//! A resident has at most one active ticket per department: where both had one, the resident's
//! stays and the guest's is cancelled (with a ticket event saying why).

use super::sessions::{self, EndReason, SessionEnds};
use crate::db::Db;
use crate::events::{OfficeEvent, OfficeEvents};
use crate::records::audit::{self, Actor};
use sqlx::{Any, Row, Transaction};

const ACTIVE_TICKETS: &str =
    "SELECT id, department_id FROM tickets WHERE resident_id = $1 AND status IN ('waiting', 'called', 'serving')";

/// What moved, for the caller to tell the queues.
#[derive(Debug, Default)]
pub struct Moved {
    /// Departments whose queue changed (a ticket moved or was cancelled).
    pub departments: Vec<String>,
    pub tickets: usize,
    pub applications: usize,
}

/// After a sign-in that began as `guest` and became `resident` has committed: the guest's
/// sessions end (their holders now have the resident's), and if records moved (`moved`), the
/// office hears of it ([`OfficeEvent::ResidentMerged`]).
pub async fn announce(
    db: &Db,
    ends: &SessionEnds,
    events: &OfficeEvents,
    guest: &str,
    resident: &str,
    moved: Option<&Moved>,
) {
    match sessions::end_all_of_resident(db, guest).await {
        Ok(keys) => ends.publish(keys, None, EndReason::SignedIn),
        Err(e) => tracing::warn!(error = %e, "sign-in: ending the guest's sessions"),
    }
    if let Some(moved) = moved {
        events.publish(OfficeEvent::ResidentMerged {
            guest: guest.to_string(),
            resident: resident.to_string(),
            departments: moved.departments.clone(),
        });
    }
}

/// Moves `guest`'s records to `resident` inside `tx` (see the module comment).
pub async fn guest_into(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    guest: &str,
    resident: &str,
    now: i64,
) -> Result<Moved, sqlx::Error> {
    let mut moved = Moved::default();
    let active_of = |who: &str| sqlx::query(ACTIVE_TICKETS).bind(who.to_string());
    let theirs: Vec<(i64, String)> = active_of(guest)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let held: Vec<String> = active_of(resident)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get(1))
        .collect::<Result<_, sqlx::Error>>()?;
    for (ticket, department) in &theirs {
        let (action, detail) = if held.contains(department) {
            sqlx::query("UPDATE tickets SET status = 'cancelled', finished_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(ticket)
                .execute(&mut **tx)
                .await?;
            ("cancelled", serde_json::json!({"reason": "signed_in_with_a_ticket_here", "guest": guest}))
        } else {
            moved.tickets += 1;
            ("moved_to_resident", serde_json::json!({"guest": guest}))
        };
        sqlx::query(
            "INSERT INTO ticket_events (ticket_id, at, actor_kind, actor_id, action, detail) VALUES ($1, $2, 'resident', $3, $4, $5)",
        )
        .bind(ticket)
        .bind(now)
        .bind(resident)
        .bind(action)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await?;
        if !moved.departments.contains(department) {
            moved.departments.push(department.clone());
        }
    }
    sqlx::query("UPDATE tickets SET resident_id = $1 WHERE resident_id = $2")
        .bind(resident)
        .bind(guest)
        .execute(&mut **tx)
        .await?;

    let apps: Vec<i64> = sqlx::query("SELECT id FROM applications WHERE resident_id = $1 ORDER BY id")
        .bind(guest)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, sqlx::Error>>()?;
    sqlx::query("UPDATE applications SET resident_id = $1 WHERE resident_id = $2")
        .bind(resident)
        .bind(guest)
        .execute(&mut **tx)
        .await?;
    let actor = Actor::Resident { id: resident.to_string() };
    for app in &apps {
        audit::append(db, tx, *app, &actor, "moved_to_resident", &serde_json::json!({"guest": guest}), now).await?;
    }
    moved.applications = apps.len();
    sqlx::query("UPDATE consultations SET resident_id = $1 WHERE resident_id = $2")
        .bind(resident)
        .bind(guest)
        .execute(&mut **tx)
        .await?;
    Ok(moved)
}
