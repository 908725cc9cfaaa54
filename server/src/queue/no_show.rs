//! The queue's clock, once a second: the no-show timer (a called resident who has not reached
//! the desk within `--no-show-secs` is a no-show, and an attended desk calls the next), desks
//! whose clerk has been away past the grace period (or whose console has been idle) close, and
//! active tickets left from earlier days expire.

use super::model::QueueError;
use super::service::Queues;
use super::store::{Ending, TicketRow};
use crate::db::now_ms;
use crate::records::audit::Actor;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};
use std::collections::HashMap;
use std::time::{Duration, Instant};

impl Queues {
    /// One run of the clock.
    pub async fn tick(&self) -> Result<(), QueueError> {
        let stale = self.board().stale(self.settings().desk_grace, Instant::now());
        for (counter, why) in stale {
            tracing::info!(%counter, why, "closing the desk");
            if let Err(e) = self.close_stale_desk(&counter).await {
                tracing::warn!(error = %e, %counter, "could not close a desk");
            }
        }
        let now = now_ms();
        let deadline = now - self.settings().no_show_after.as_millis() as i64;
        for t in self.store().called_before(deadline).await? {
            if let Err(e) = self.expire_call(&t, deadline).await {
                tracing::warn!(error = %e, ticket = t.id, "no-show timer");
            }
        }
        let today = self.today(now);
        let expired = self.store().expire_earlier_days(&today, now).await?;
        if !expired.is_empty() {
            tracing::info!(expired = expired.len(), "expired tickets of earlier days");
            let mut by_dept: HashMap<String, Vec<TicketInfo>> = HashMap::new();
            for mut t in expired {
                t.status = TicketStatus::Expired;
                by_dept.entry(t.department.clone()).or_default().push(t.info(None, None));
            }
            for (dept, ended) in by_dept {
                self.publish(&dept, ended).await?;
            }
        }
        Ok(())
    }

    /// The no-show timer for one called ticket: under its counter's lock, ends it if it is still
    /// called there since before `deadline`, then calls the next ticket if a clerk attends the
    /// desk (an unattended desk does not work through its queue as no-shows).
    async fn expire_call(&self, t: &TicketRow, deadline: i64) -> Result<(), QueueError> {
        let Some(counter) = t.counter.as_deref() else { return Ok(()) };
        let _g = self.lock_counter(counter).await;
        if self.finish(t, Ending::NoShow, &Actor::System, Some(deadline)).await?.is_none() {
            return Ok(());
        }
        let holder = self.board().attended_by(counter, self.settings().desk_presence, Instant::now());
        if let (Some(staff_id), Some(dept)) = (holder, self.department_of_counter(counter)) {
            self.call_next_at(counter, staff_id, &Actor::System, &dept).await?;
        }
        Ok(())
    }

    /// Runs [`Queues::tick`] once a second on `rt`, for as long as the runtime runs.
    pub fn spawn_clock(&self, rt: &tokio::runtime::Handle) {
        let q = self.clone();
        rt.spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = q.tick().await {
                    tracing::warn!(error = %e, "queue timer");
                }
            }
        });
    }
}
