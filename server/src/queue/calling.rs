//! Calling at a desk: call next (finishing the desk's ticket and calling the longest-waiting
//! one: each ticket goes to one desk only), recall, no-show, done. Every action holds the desk's
//! lock, so a double click and the no-show timer never interleave with the clerk.

use super::model::QueueError;
use super::service::Queues;
use super::store::{Ending, TicketRow};
use crate::db::now_ms;
use crate::identity::Clerk;

use crate::records::audit::Actor;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};
use tokio::sync::OwnedMutexGuard;

impl Queues {
    /// Finishes the desk's current ticket (served if the resident came, no-show if not) and
    /// calls the department's longest-waiting ticket to it. `None` when nobody waits.
    pub async fn call_next(&self, clerk: &Clerk) -> Result<Option<TicketInfo>, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let department = self.department_of_counter(&counter).ok_or(QueueError::UnknownCounter)?;
        self.call_next_at(&counter, clerk.id, &clerk.actor(), &department).await
    }

    /// The clerk's desk, locked; checked again once the lock is held (the desk may have closed
    /// while this waited).
    async fn hold_desk(&self, clerk: &Clerk) -> Result<(String, Option<OwnedMutexGuard<()>>), QueueError> {
        let counter = self.desk_of(clerk.id).ok_or(QueueError::NoDesk)?;
        let guard = self.lock_counter(&counter).await;
        if self.desk_of(clerk.id).as_deref() != Some(counter.as_str()) {
            return Err(QueueError::NoDesk);
        }
        self.touch(clerk.id);
        Ok((counter, guard))
    }

    /// Call next at `counter`, whose lock the caller holds.
    pub(super) async fn call_next_at(
        &self,
        counter: &str,
        staff_id: i64,
        actor: &Actor,
        department: &str,
    ) -> Result<Option<TicketInfo>, QueueError> {
        let now = now_ms();
        let today = self.today(now);
        let store = self.store();
        let mut tx = store.begin().await?;
        let mut ended = Vec::new();
        for t in store.clear_counter(&mut tx, counter, now).await? {
            store
                .event(&mut tx, t.id, actor, t.status.as_str(), serde_json::json!({ "counter": counter }), now)
                .await?;
            ended.push(t.info(None, None));
        }
        let called = match store.call_oldest(&mut tx, counter, staff_id, department, &today, now).await? {
            Some(t) => {
                store.event(&mut tx, t.id, actor, "called", serde_json::json!({ "counter": counter }), now).await?;
                Some(t.info(None, None))
            }
            None => None,
        };
        tx.commit().await?;
        if let Some(t) = &called {
            tracing::info!(ticket = t.id, label = %t.label, counter, "called");
            self.metrics().tickets_called_total.inc();
        }
        let no_shows = ended.iter().filter(|t| t.status == TicketStatus::NoShow).count() as u64;
        self.metrics().tickets_no_show_total.inc_by(no_shows);
        // The called ticket's owner hears of it first; the rest see the queue move up.
        let mut first = ended;
        first.extend(called.clone());
        self.publish(department, first).await?;
        Ok(called)
    }

    /// Calls the desk's ticket again (the no-show timer restarts).
    pub async fn recall(&self, clerk: &Clerk) -> Result<TicketInfo, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let t = self.store().called_at(&counter).await?.ok_or(QueueError::NoTicket)?;
        let now = now_ms();
        let store = self.store();
        let mut tx = store.begin().await?;
        if !store.recall(&mut tx, t.id, now).await? {
            return Err(QueueError::NoTicket);
        }
        store.event(&mut tx, t.id, &clerk.actor(), "recalled", serde_json::json!({ "counter": counter }), now).await?;
        tx.commit().await?;
        let mut info = t.info(None, None);
        info.recalls += 1;
        self.publish(&t.department, vec![]).await?;
        Ok(info)
    }

    /// Marks the desk's called ticket as a no-show.
    pub async fn no_show(&self, clerk: &Clerk) -> Result<TicketInfo, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let t = self.store().called_at(&counter).await?.ok_or(QueueError::NoTicket)?;
        self.finish(&t, Ending::NoShow, &clerk.actor(), None).await?.ok_or(QueueError::NoTicket)
    }

    /// Finishes the desk's ticket as served.
    pub async fn done(&self, clerk: &Clerk) -> Result<TicketInfo, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let t = self.store().at_counter(&counter).await?.ok_or(QueueError::NoTicket)?;
        self.finish(&t, Ending::Served, &clerk.actor(), None).await?.ok_or(QueueError::NoTicket)
    }

    /// Ends ticket `t` as `how` if it is still at its counter (and, with `called_before`, was
    /// called before that time). `None` if it no longer is.
    pub(super) async fn finish(
        &self,
        t: &TicketRow,
        how: Ending,
        actor: &Actor,
        called_before: Option<i64>,
    ) -> Result<Option<TicketInfo>, QueueError> {
        let now = now_ms();
        let store = self.store();
        let mut tx = store.begin().await?;
        if !store.end_at_counter(&mut tx, t, how, called_before.unwrap_or(i64::MAX), now).await? {
            return Ok(None);
        }
        let to = how.status();
        store.event(&mut tx, t.id, actor, to.as_str(), serde_json::json!({ "counter": t.counter }), now).await?;
        tx.commit().await?;
        if how == Ending::NoShow {
            self.metrics().tickets_no_show_total.inc();
        }
        let mut info = t.info(None, None);
        info.status = to;
        self.publish(&t.department, vec![info.clone()]).await?;
        Ok(Some(info))
    }
}
