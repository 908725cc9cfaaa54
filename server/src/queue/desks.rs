//! Desk operations: opening and closing desks (a ticket called to a closing desk goes back to
//! the front of its queue, one being served is finished), recovering after a restart, and the
//! desks and queue as staff see them. The rules themselves are in `desk_rules`.

use super::model::{DeskView, QueueError, StaffTicket, local_rfc3339};
use super::service::Queues;
use super::store::TicketRow;
use crate::db::now_ms;
use crate::events::OfficeEvent;
use crate::identity::Clerk;
use crate::identity::sessions::SessionsEnded;
use crate::records::audit::Actor;
use madoguchi_shared::protocol::{DeskSign, TicketStatus};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;

impl Queues {
    /// Records a desk action or an explicit presence heartbeat of a clerk at their desk (reading
    /// the desks or the queue does not count); false if the clerk holds no desk.
    pub fn touch(&self, staff_id: i64) -> bool {
        self.board().touch(staff_id, Instant::now())
    }

    /// A clerk's avatar is at their desk, or not.
    pub fn presence(&self, staff_id: i64, present: bool) {
        self.board().presence(staff_id, present, Instant::now());
    }

    /// The desk `clerk` holds, if any.
    pub fn desk_of(&self, staff_id: i64) -> Option<String> {
        self.board().held_by(staff_id)
    }

    /// The desk `clerk` holds and the ticket at it (called or being served), if any; a
    /// consultation starts from this.
    pub async fn desk_ticket(&self, clerk: &Clerk) -> Result<(String, Option<TicketRow>), QueueError> {
        let counter = self.desk_of(clerk.id).ok_or(QueueError::NoDesk)?;
        let ticket = self.store().at_counter(&counter).await?;
        Ok((counter, ticket))
    }

    /// The status of each of these tickets that still exists.
    pub async fn statuses(&self, ids: &[i64]) -> Result<Vec<(i64, TicketStatus)>, QueueError> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(status) = self.store().status(id).await? {
                out.push((id, status));
            }
        }
        Ok(out)
    }

    /// Open desks of a department.
    pub(super) fn open_desks(&self, department: &str) -> u32 {
        self.board().open_in(department)
    }

    fn sign(&self, counter: &str) -> DeskSign {
        self.board().sign(counter)
    }

    /// Tells the office that `counter`'s desk opened (`staff_id` holds it) or closed
    /// ([`OfficeEvent::Desk`]); its sign as it is now.
    fn desk_changed(&self, counter: &str, staff_id: Option<i64>) -> DeskSign {
        let sign = self.sign(counter);
        let department = self.department_of_counter(counter).unwrap_or_default();
        self.tell_office(OfficeEvent::Desk { department, sign: sign.clone(), staff_id });
        sign
    }

    /// Tells the office every desk again, as it is now (the world missed events): each under
    /// its counter's lock, so no change of that desk comes between reading it and telling it.
    pub(super) async fn retell_desks(&self) {
        let counters: Vec<String> =
            self.office().rooms.iter().flat_map(|r| r.file.counters.iter().map(|c| c.id.clone())).collect();
        for counter in counters {
            let _g = self.lock_counter(&counter).await;
            let (sign, holder) = {
                let board = self.board();
                (board.sign(&counter), board.holder(&counter))
            };
            let department = self.department_of_counter(&counter).unwrap_or_default();
            self.tell_office(OfficeEvent::Desk { department, sign, staff_id: holder });
        }
    }

    fn staff_ticket(&self, t: TicketRow, who: super::store::Holder) -> StaffTicket {
        StaffTicket {
            waiting_secs: ((now_ms() - t.queued_at) / 1000).max(0),
            language: who.language,
            verified: who.verified,
            verified_name: who.verified_name.filter(|_| who.verified),
            in_3d_office: false,
            resident_id: t.resident.clone(),
            id: t.id,
            label: t.label,
            department: t.department,
            status: t.status.as_str().into(),
            resident_name: who.name,
            queued_at: local_rfc3339(t.queued_at, self.office().utc_offset_min),
            counter: t.counter,
            recalls: t.recalls.max(0) as u32,
            transferred_from: t.transferred_from,
        }
    }

    /// Every desk, with the ticket at it.
    pub async fn desk_views(&self) -> Result<Vec<DeskView>, QueueError> {
        let today = self.today(now_ms());
        let mut at_desk: HashMap<String, StaffTicket> = HashMap::new();
        for (t, who) in self.store().at_desks_with_names(&today).await? {
            let t = self.staff_ticket(t, who);
            if let Some(c) = t.counter.clone() {
                at_desk.insert(c, t);
            }
        }
        let board = self.board();
        Ok(self
            .office()
            .counters()
            .map(|(_, c)| {
                let clerk = board.clerk_at(&c.id);
                DeskView {
                    counter: c.id.clone(),
                    department: c.department.clone(),
                    open: clerk.is_some(),
                    clerk,
                    ticket: at_desk.remove(&c.id),
                }
            })
            .collect())
    }

    /// The department's waiting tickets in calling order.
    pub async fn waiting(&self, department: &str) -> Result<Vec<StaffTicket>, QueueError> {
        let today = self.today(now_ms());
        let rows = self.store().waiting_with_names(department, &today).await?;
        Ok(rows.into_iter().map(|(t, who)| self.staff_ticket(t, who)).collect())
    }

    /// Opens `counter` for `clerk` (who leaves any other desk they held).
    pub async fn take_desk(&self, clerk: &Clerk, counter: &str) -> Result<DeskSign, QueueError> {
        let Some((_, c)) = self.office().counter(counter) else { return Err(QueueError::UnknownCounter) };
        let department = c.department.clone();
        let previous = self.board().take(clerk, counter, &department, Instant::now())?;
        if let Some(prev) = previous {
            let _g = self.lock_counter(&prev).await;
            self.desk_changed(&prev, None);
            self.release_counter(&prev, &clerk.actor(), "clerk moved to another desk").await?;
        }
        tracing::info!(counter, clerk = %clerk.login, "desk open");
        let sign = self.desk_changed(counter, Some(clerk.id));
        self.publish(&department, vec![]).await?;
        Ok(sign)
    }

    /// Closes the desk of a staff account when its sessions end or its rights change (an admin
    /// disabled or moved it, changed its roles, reset its password; or its holder logged out):
    /// nobody works that desk any more. Runs until `ended` closes.
    pub fn close_desks_of_ended(
        &self,
        handle: &tokio::runtime::Handle,
        mut ended: broadcast::Receiver<Arc<SessionsEnded>>,
    ) {
        let me = self.clone();
        handle.spawn(async move {
            loop {
                let staff = match ended.recv().await {
                    Ok(e) => e.staff,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "desks: missed ended sessions");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let Some(id) = staff else { continue };
                if let Some(counter) = me.desk_of(id) {
                    // Still theirs once its lock is held (they may have moved desks meanwhile).
                    let theirs = |q: &Self| q.desk_of(id).as_deref() == Some(counter.as_str());
                    if let Err(e) = me.close_desk_if(&counter, &Actor::System, theirs).await {
                        tracing::warn!(error = %e, counter, "could not close the desk of an ended session");
                    }
                }
            }
        });
    }

    /// Closes the clerk's desk now.
    pub async fn leave_desk(&self, clerk: &Clerk) -> Result<DeskSign, QueueError> {
        let counter = self.desk_of(clerk.id).ok_or(QueueError::NoDesk)?;
        self.close_desk(&counter, &clerk.actor()).await?;
        Ok(self.sign(&counter))
    }

    /// Closes a desk: a ticket called to it goes back to the front of the queue (it keeps its
    /// original time); one being served is finished.
    pub(super) async fn close_desk(&self, counter: &str, actor: &Actor) -> Result<(), QueueError> {
        self.close_desk_if(counter, actor, |_| true).await
    }

    /// Closes a desk the clock found stale, if it still is once its lock is held (the clerk may
    /// have come back, or acted, while this waited).
    pub(super) async fn close_stale_desk(&self, counter: &str) -> Result<(), QueueError> {
        let grace = self.settings().desk_grace;
        self.close_desk_if(counter, &Actor::System, |q| q.board().is_stale(counter, grace, Instant::now())).await
    }

    async fn close_desk_if(
        &self,
        counter: &str,
        actor: &Actor,
        still: impl Fn(&Self) -> bool,
    ) -> Result<(), QueueError> {
        let _g = self.lock_counter(counter).await;
        if !still(self) || !self.board().close(counter) {
            return Ok(());
        }
        tracing::info!(counter, "desk closed");
        self.desk_changed(counter, None);
        self.release_counter(counter, actor, "desk closed").await
    }

    /// Desks live in memory, so after a restart none is open: tickets left called or being
    /// served at a desk are released as when a desk closes. Run once at start.
    pub async fn recover(&self) -> Result<(), QueueError> {
        for counter in self.store().counters_in_use().await? {
            self.release_counter(&counter, &Actor::System, "server restarted").await?;
        }
        Ok(())
    }

    /// Puts a ticket called to `counter` back in the queue (it keeps its time, so it is next)
    /// and finishes one being served there.
    async fn release_counter(&self, counter: &str, actor: &Actor, why: &str) -> Result<(), QueueError> {
        let now = now_ms();
        let store = self.store();
        let mut tx = store.begin().await?;
        let mut ended = Vec::new();
        for mut t in store.at_counter_in(&mut tx, counter).await? {
            let detail = serde_json::json!({ "counter": counter, "why": why });
            if t.status == TicketStatus::Called {
                store.requeue(&mut tx, t.id, now).await?;
                store.event(&mut tx, t.id, actor, "requeued", detail, now).await?;
            } else {
                store.serve(&mut tx, t.id, now).await?;
                store.event(&mut tx, t.id, actor, "served", detail, now).await?;
                t.status = TicketStatus::Served;
                ended.push(t.info(None, None));
            }
        }
        tx.commit().await?;
        if let Some((_, c)) = self.office().counter(counter) {
            let dept = c.department.clone();
            self.publish(&dept, ended).await?;
        }
        Ok(())
    }
}
