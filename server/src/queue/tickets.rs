//! A resident's tickets (番号札): taking one (numbered per department per local day, one active
//! per department, rate-limited), their list with positions and waits, cancelling, arriving at
//! the desk, cancelling those of ended sessions; and for staff, moving a ticket to another
//! department and reading its events.

use super::model::{QueueError, local_rfc3339};
use super::service::Queues;
use super::store::{ORPHANED_BATCH, TicketRow, is_unique_violation};
use crate::db::now_ms;
use crate::identity::Clerk;
use crate::identity::sessions;
use crate::records::audit::Actor;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};
use std::collections::HashMap;

impl Queues {
    /// The label of number `n` in `department`: `A-012`.
    fn label(&self, department: &str, n: i64) -> String {
        let prefix = self.office().department(department).map(|d| d.ticket_prefix.as_str()).unwrap_or("?");
        format!("{prefix}-{n:03}")
    }

    /// Takes a ticket for `resident` in `department`.
    pub async fn take(&self, resident: &str, department: &str) -> Result<TicketInfo, QueueError> {
        let now = now_ms();
        self.check_open(department, now)?;
        self.take_limit().check(resident.to_string()).map_err(QueueError::RateLimited)?;
        let today = self.today(now);
        let store = self.store();
        let mut tx = store.begin().await?;
        if let Some(r) = store.active_of_resident(&mut tx, resident, department, &today).await? {
            drop(tx);
            return Err(QueueError::Exists(Box::new(self.with_position(r).await?)));
        }
        // A ticket left over from an earlier day no longer blocks a new one.
        store.expire_earlier_of_resident(&mut tx, resident, department, &today, now).await?;
        let number = store.next_number(&mut tx, department, &today).await?;
        let label = self.label(department, number);
        let id = match store.insert(&mut tx, department, resident, &today, number, &label, now).await {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                // Taken at the same moment by another request of the same resident.
                drop(tx);
                let mine = self.mine(resident).await?;
                let t = mine.into_iter().find(|t| t.department == department && t.status.is_active());
                return Err(match t {
                    Some(t) => QueueError::Exists(Box::new(t)),
                    None => QueueError::Db(e),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let actor = Actor::Resident { id: resident.into() };
        store.event(&mut tx, id, &actor, "taken", serde_json::json!({ "label": label }), now).await?;
        tx.commit().await?;
        tracing::info!(ticket = id, %label, department, "ticket taken");
        self.metrics().tickets_taken_total.inc();
        let infos = self.publish(department, vec![]).await?;
        Ok(infos.into_iter().find(|t| t.id == id).unwrap_or_else(|| TicketInfo {
            id,
            department: department.into(),
            label,
            status: TicketStatus::Waiting,
            position: None,
            wait_s: None,
            counter: None,
            recalls: 0,
        }))
    }

    /// The resident's tickets of today, active first.
    pub async fn mine(&self, resident: &str) -> Result<Vec<TicketInfo>, QueueError> {
        let today = self.today(now_ms());
        let mut out = Vec::new();
        for r in self.store().of_resident(resident, &today).await? {
            out.push(self.with_position(r).await?);
        }
        out.sort_by_key(|t| !t.status.is_active());
        Ok(out)
    }

    /// One ticket, with its position and wait if waiting.
    async fn with_position(&self, r: TicketRow) -> Result<TicketInfo, QueueError> {
        if r.status != TicketStatus::Waiting {
            return Ok(r.info(None, None));
        }
        let pos = self.store().position(&r).await?;
        let wait = self.estimate(&r.department, pos).await?;
        Ok(r.info(Some(pos), wait))
    }

    /// Ends one of the resident's own active tickets.
    pub async fn cancel(&self, resident: &str, ticket: i64) -> Result<TicketInfo, QueueError> {
        let now = now_ms();
        let store = self.store();
        let mut tx = store.begin().await?;
        let Some(r) = store.cancel(&mut tx, resident, ticket, now).await? else { return Err(QueueError::NoTicket) };
        let actor = Actor::Resident { id: resident.into() };
        store.event(&mut tx, r.id, &actor, "cancelled", serde_json::json!({}), now).await?;
        tx.commit().await?;
        let info = r.info(None, None);
        self.publish(&r.department, vec![info.clone()]).await?;
        Ok(info)
    }

    /// Cancels orphaned tickets ([`Self::cancel_orphaned`]) at once, then every
    /// [`sessions::purge_period`] and whenever sessions expire (`ended` hears it), from a task
    /// on `handle`.
    pub fn sweep_orphans(
        &self,
        handle: &tokio::runtime::Handle,
        mut ended: tokio::sync::broadcast::Receiver<std::sync::Arc<sessions::SessionsEnded>>,
    ) {
        let me = self.clone();
        handle.spawn(async move {
            let mut every = tokio::time::interval(sessions::purge_period());
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    e = ended.recv() => match e {
                        Ok(e) if e.reason == sessions::EndReason::Expired => {}
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                }
                if let Err(e) = me.cancel_orphaned(sessions::idle_expiry_ms()).await {
                    tracing::warn!(error = %e, "could not cancel the tickets of ended sessions");
                }
            }
        });
    }

    /// Cancels the waiting and called tickets of residents who have no live session left
    /// (signed out, or their session expired): nobody can come for them, and a called one would
    /// end as a no-show. Each gets a `cancelled` event by the system. `idle_ms` is the sessions'
    /// idle expiry. Returns how many were cancelled.
    pub async fn cancel_orphaned(&self, idle_ms: i64) -> Result<usize, QueueError> {
        let store = self.store();
        let mut cancelled = 0;
        loop {
            let now = now_ms();
            let orphans = store.orphaned(now, now - idle_ms).await?;
            let batch = orphans.len();
            let mut by_dept: HashMap<String, Vec<TicketInfo>> = HashMap::new();
            for t in orphans {
                // A called ticket is its desk's: hold the desk's lock, as its clerk would.
                let _g = match t.counter.as_deref() {
                    Some(c) => self.lock_counter(c).await,
                    None => None,
                };
                let mut tx = store.begin().await?;
                // Already ended meanwhile: nothing to do (the transaction rolls back).
                let Some(r) = store.cancel(&mut tx, &t.resident, t.id, now).await? else { continue };
                let detail = serde_json::json!({ "why": "session ended" });
                store.event(&mut tx, r.id, &Actor::System, "cancelled", detail, now).await?;
                tx.commit().await?;
                cancelled += 1;
                by_dept.entry(r.department.clone()).or_default().push(r.info(None, None));
            }
            for (dept, ended) in by_dept {
                self.publish(&dept, ended).await?;
            }
            if batch < ORPHANED_BATCH {
                break;
            }
        }
        if cancelled > 0 {
            tracing::info!(cancelled, "cancelled the tickets of ended sessions");
        }
        Ok(cancelled)
    }

    /// The resident's avatar (or the text page) reports arrival at the desk it was called to.
    pub async fn arrived(&self, resident: &str, ticket: i64) -> Result<TicketInfo, QueueError> {
        let now = now_ms();
        let store = self.store();
        let mut tx = store.begin().await?;
        let Some(r) = store.arrive(&mut tx, resident, ticket, now).await? else {
            drop(tx);
            // Theirs, but not called (yet, or any more): say so; anyone else's does not exist.
            return Err(match store.owner(ticket).await? {
                Some(owner) if owner == resident => QueueError::NotCalled,
                _ => QueueError::NoTicket,
            });
        };
        let actor = Actor::Resident { id: resident.into() };
        store.event(&mut tx, r.id, &actor, "arrived", serde_json::json!({}), now).await?;
        tx.commit().await?;
        self.publish(&r.department, vec![]).await?;
        Ok(r.info(None, None))
    }

    /// Moves a ticket of the clerk's department to another department's queue. It gets that
    /// department's next number but keeps its place by the time it was first taken.
    pub async fn transfer(
        &self,
        clerk: &Clerk,
        ticket: i64,
        to: &str,
        note: Option<&str>,
    ) -> Result<TicketInfo, QueueError> {
        let now = now_ms();
        let today = self.today(now);
        let store = self.store();
        let mut tx = store.begin().await?;
        // Whose ticket first: another department's ticket is no ticket, whatever is asked of it.
        let Some(t) = store.lock_active_of_department(&mut tx, ticket, &clerk.department).await? else {
            return Err(QueueError::NoTicket);
        };
        if self.office().department(to).is_none() {
            return Err(QueueError::UnknownDepartment);
        }
        if t.department == to {
            return Err(QueueError::TargetHasTicket);
        }
        let number = store.next_number(&mut tx, to, &today).await?;
        let label = self.label(to, number);
        match store.move_to(&mut tx, &t, to, number, &label, &today, now).await {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => return Err(QueueError::TargetHasTicket),
            Err(e) => return Err(e.into()),
        }
        let note: String = note.unwrap_or("").chars().take(500).collect();
        let detail = serde_json::json!({ "from": t.department, "to": to, "old_label": t.label, "new_label": label, "note": note });
        store.event(&mut tx, t.id, &clerk.actor(), "transferred", detail, now).await?;
        tx.commit().await?;
        tracing::info!(ticket = t.id, from = %t.department, to, "ticket transferred");
        self.publish(&t.department, vec![]).await?;
        let infos = self.publish(to, vec![]).await?;
        infos.into_iter().find(|i| i.id == t.id).ok_or(QueueError::NoTicket)
    }

    /// Ticket events, oldest first, for a ticket of the clerk's department.
    pub async fn events(&self, clerk: &Clerk, ticket: i64) -> Result<Vec<serde_json::Value>, QueueError> {
        let Some(current) = self.store().department_if_seen_by(ticket, &clerk.department).await? else {
            return Err(QueueError::NoTicket);
        };
        let off = self.office().utc_offset_min;
        let mut out = Vec::new();
        for e in self.store().events(ticket).await? {
            let detail = serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default();
            let handed_on = e.action == "transferred" && detail["from"].as_str() == Some(clerk.department.as_str());
            out.push(serde_json::json!({
                "at": local_rfc3339(e.at, off),
                "actor_kind": e.actor_kind,
                "actor": e.actor,
                "action": e.action,
                "detail": detail,
            }));
            // A department that handed the ticket on sees its history up to that point only.
            if handed_on && current != clerk.department {
                break;
            }
        }
        Ok(out)
    }
}
