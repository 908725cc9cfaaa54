//! Telling people: after every change of a department's queue, each waiting resident's new
//! position and wait (and the owners of tickets that just ended) go to the world, which
//! forwards them to the residents' clients, and to the office ([`crate::events::OfficeEvent::Tickets`]:
//! live pages, consultations). Notices of one
//! department go out in the order the queue changed.

use super::estimate;
use super::model::QueueError;
use super::service::Queues;
use crate::db::now_ms;
use crate::events::{OfficeEvent, OfficeEvents};
use crate::world::link::WorldNotice;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};
use tokio::sync::broadcast;

impl Queues {
    /// Recomputes positions in `department` and tells every waiting resident, plus the owners
    /// of `ended` tickets. Returns the active tickets.
    pub(super) async fn publish(
        &self,
        department: &str,
        ended: Vec<TicketInfo>,
    ) -> Result<Vec<TicketInfo>, QueueError> {
        let _order = self.lock_department(department).await;
        let today = self.today(now_ms());
        let rows = self.store().active_of_department(department, &today).await?;
        let desks = self.open_desks(department);
        let mean = if desks > 0 { self.mean_service_ms(department).await? } else { None };
        let mut pos = 0;
        let mut out = Vec::new();
        let mut change = Vec::new();
        for r in rows {
            let info = if r.status == TicketStatus::Waiting {
                pos += 1;
                r.info(Some(pos), estimate::estimate(mean, pos, desks))
            } else {
                r.info(None, None)
            };
            change.push((r.resident.clone(), info.clone()));
            out.push(info);
        }
        for t in ended {
            if let Some(owner) = self.store().owner(t.id).await? {
                change.push((owner, t));
            }
        }
        for (resident_id, info) in &change {
            self.notify_world(WorldNotice::Ticket { resident_id: resident_id.clone(), info: info.clone() });
        }
        self.tickets_changed(department, change);
        Ok(out)
    }

    /// Tells everyone concerned about `department`'s queue again, after its tickets changed
    /// hands outside the queue (a guest's tickets moved to the resident they signed in as).
    async fn republish(&self, department: &str) {
        if let Err(e) = self.publish(department, Vec::new()).await {
            tracing::warn!(error = %e, department, "telling a queue again");
        }
    }

    /// Follows the office's events, from a task on `handle`: when a guest's tickets became a
    /// resident's ([`OfficeEvent::ResidentMerged`]), their departments' queues are told again
    /// (after missing events, every department's).
    pub fn follow_events(&self, handle: &tokio::runtime::Handle, events: &OfficeEvents) {
        let me = self.clone();
        let mut rx = events.subscribe();
        handle.spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(event) => {
                        if let OfficeEvent::ResidentMerged { departments, .. } = &*event {
                            for d in departments {
                                me.republish(d).await;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let all: Vec<String> = me.office().departments.iter().map(|d| d.id.clone()).collect();
                        for d in all {
                            me.republish(&d).await;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    /// Sends the resident's active tickets to the world (they just joined).
    pub(super) async fn resend(&self, resident: &str) -> Result<(), QueueError> {
        for info in self.mine(resident).await?.into_iter().filter(|t| t.status.is_active()) {
            self.notify_world(WorldNotice::Ticket { resident_id: resident.into(), info });
        }
        Ok(())
    }
}
