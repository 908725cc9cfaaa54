//! Requests from the world (residents at counters, clerks at desks, arrivals, presence): each
//! is handled on its own task, and a refusal goes back to the client that asked.

use super::messages::{QueueRequest, StaffCommand, WorldNotice};
use super::model::QueueError;
use super::service::Queues;
use madoguchi_shared::ErrorCode;
use tokio::sync::mpsc;

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
    pub fn spawn(&self, rt: &tokio::runtime::Handle, mut requests: mpsc::UnboundedReceiver<QueueRequest>) {
        let q = self.clone();
        rt.spawn(async move {
            while let Some(req) = requests.recv().await {
                let q = q.clone();
                tokio::spawn(async move { q.handle(req).await });
            }
        });
        self.spawn_clock(rt);
    }
}
