//! Requests from the world (residents at counters, clerks at desks, arrivals, presence): run in
//! order per client, side by side across clients, within fixed bounds; a refusal goes back to
//! the client that asked.

use super::model::QueueError;
use super::service::Queues;
use crate::world::link::{Lane, QueueRequest, StaffCommand, WorldNotice};
use madoguchi_shared::ErrorCode;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, mpsc};

impl Queues {
    /// Handles one request from the world.
    pub async fn handle(&self, req: QueueRequest) {
        let (client_id, result) = match req {
            QueueRequest::Take { client_id, resident_id, counter } => {
                let Some(dept) = self.department_of_counter(&counter) else {
                    self.notify_world(WorldNotice::Error {
                        client_id,
                        code: ErrorCode::CounterUnknown,
                        message: format!("no counter \"{counter}\""),
                    });
                    return;
                };
                let r = self.take(&resident_id, &dept).await;
                if let Err(QueueError::Exists(t)) = &r {
                    self.notify_world(WorldNotice::Ticket { resident_id, info: (**t).clone() });
                }
                (client_id, r.map(|_| ()))
            }
            QueueRequest::Cancel { client_id, resident_id, ticket } => {
                (client_id, self.cancel(&resident_id, ticket).await.map(|_| ()))
            }
            QueueRequest::Joined { resident_id } => {
                if let Err(e) = self.resend(&resident_id).await {
                    tracing::warn!(error = %e, "could not send tickets to a joining resident");
                }
                return;
            }
            QueueRequest::Arrived { resident_id, ticket } => {
                let _ = self.arrived(&resident_id, ticket).await;
                return;
            }
            QueueRequest::Presence { staff_id, present } => {
                self.presence(staff_id, present);
                return;
            }
            QueueRequest::RetellDesks => {
                self.retell_desks().await;
                return;
            }
            QueueRequest::Staff { client_id, clerk, command } => {
                let r = match command {
                    StaffCommand::TakeDesk(counter) => self.take_desk(&clerk, &counter).await.map(|_| ()),
                    StaffCommand::LeaveDesk => self.leave_desk(&clerk).await.map(|_| ()),
                    StaffCommand::CallNext => match self.call_next(&clerk).await {
                        Ok(Some(_)) => Ok(()),
                        Ok(None) => Err(QueueError::NoTicket),
                        Err(e) => Err(e),
                    },
                };
                (client_id, r)
            }
        };
        if let Err(e) = result {
            if let QueueError::Db(d) = &e {
                tracing::error!(error = %d, "queue request failed");
            }
            let message = match &e {
                QueueError::Db(_) => "the queue is unavailable; try again".to_string(),
                QueueError::NoTicket => "no ticket is waiting".to_string(),
                other => other.to_string(),
            };
            self.notify_world(WorldNotice::Error { client_id, code: e.code(), message });
        }
    }

    /// Serves the world's requests, and runs the clock (see `no_show`), until the world's side
    /// of the channel closes.
    ///
    /// Requests run in lanes (see [`Lane`]): one lane's requests one after another, in the order
    /// sent; different lanes side by side, at most [`LANES_AT_ONCE`] at a time. A lane holds at
    /// most [`LANE_DEPTH`] waiting requests; beyond that the client is told `busy`. With the
    /// world's bounded channel in front, nothing a client sends grows without bound.
    pub fn spawn(&self, rt: &tokio::runtime::Handle, mut requests: mpsc::Receiver<QueueRequest>) {
        let q = self.clone();
        let lanes: Lanes = Arc::default();
        let running = Arc::new(Semaphore::new(LANES_AT_ONCE));
        rt.spawn(async move {
            while let Some(req) = requests.recv().await {
                let key = req.lane();
                {
                    let mut map = lanes.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(waiting) = map.get_mut(&key) {
                        if waiting.len() < LANE_DEPTH {
                            waiting.push_back(req);
                        } else {
                            drop(map);
                            q.drop_busy(&req);
                        }
                        continue;
                    }
                    map.insert(key.clone(), VecDeque::new());
                }
                let lane = LaneRun { q: q.clone(), lanes: lanes.clone(), key, finished: false };
                let running = running.clone();
                tokio::spawn(lane.run(req, running));
            }
        });
        self.spawn_clock(rt);
    }

    /// Drops a request the queue has no room for; its client is told `busy`.
    fn drop_busy(&self, req: &QueueRequest) {
        self.metrics().queue_requests_pending.dec();
        self.metrics().queue_requests_dropped_total.inc();
        match req.client() {
            Some(client_id) => self.notify_world(WorldNotice::Error {
                client_id,
                code: ErrorCode::Busy,
                message: "the office is busy; try again in a moment".into(),
            }),
            None => tracing::warn!(lane = ?req.lane(), "the queue service is behind: dropped a report from the world"),
        }
    }
}

/// How many requests from the world may wait for the queue service to take them; a client's
/// request beyond that is refused with `busy` (see `world::counters::QueueLink`).
pub const REQUEST_QUEUE: usize = 1024;
/// How many requests may wait in one lane behind the one running.
pub const LANE_DEPTH: usize = 16;
/// How many lanes run a request at the same moment.
pub const LANES_AT_ONCE: usize = 16;

/// The requests waiting in each lane that has a task running it.
type Lanes = Arc<Mutex<HashMap<Lane, VecDeque<QueueRequest>>>>;

/// The task that runs one lane until it is empty. If it ends early (a panic in a handler),
/// dropping it removes the lane, so the lane's next request starts a new task.
struct LaneRun {
    q: Queues,
    lanes: Lanes,
    key: Lane,
    finished: bool,
}

impl LaneRun {
    async fn run(mut self, first: QueueRequest, running: Arc<Semaphore>) {
        let mut next = Some(first);
        while let Some(req) = next {
            {
                let _turn = running.acquire().await;
                self.q.handle(req).await;
            }
            self.q.metrics().queue_requests_pending.dec();
            let mut map = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            next = map.get_mut(&self.key).and_then(|w| w.pop_front());
            if next.is_none() {
                map.remove(&self.key);
            }
        }
        self.finished = true;
    }
}

impl Drop for LaneRun {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Ended early: the request it was running is lost, and the lane with it, so that the
        // next request of this lane starts afresh instead of waiting behind nobody.
        let mut map = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let waiting = map.remove(&self.key).map_or(0, |w| w.len() as i64);
        self.q.metrics().queue_requests_pending.dec_by(waiting + 1);
    }
}
