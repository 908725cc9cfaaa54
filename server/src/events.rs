//! Office events: what changed in the office, published once by the feature that changed it,
//! after its transaction committed, to every feature that cares. No feature calls another's
//! "changed" hook; "what happens when X changes?" is answered by the subscribers of X's event:
//!
//! | event | published by | subscribed by |
//! |---|---|---|
//! | [`OfficeEvent::Tickets`] | `queue` (after a department's queue changed) | `consult` (a finished ticket ends its consultation), the text mode's and the console's event streams |
//! | [`OfficeEvent::Desk`] | `queue` (a desk opened or closed) | `world` (the counter's sign; the clerk goes behind the desk or out to the floor), the console's event stream (its desks) |
//! | [`OfficeEvent::Application`] | `records` (created, edited, status changed, linked to a consultation) | `consult` (its participants see the form as it is now) |
//! | [`OfficeEvent::Consultation`] | `consult` (started, ended) | `world` (the resident's clients open or close the consultation panel) |
//! | [`OfficeEvent::ResidentMerged`] | `identity` (a guest signed in as a resident the office knows; their records moved) | `consult` (the guest's running consultation is the resident's), `queue` (the departments whose tickets changed hands tell everyone again) |
//!
//! Sessions that end (logout, expiry, an admin's change) are published on their own channel,
//! `identity::sessions::SessionEnds`, whose listeners follow one session each.
//!
//! An event says what changed, not everything about it: a subscriber re-reads what it shows.
//! The channel holds [`CAPACITY`] events per subscriber; one that falls further behind is told
//! (`Lagged`) and re-reads what it shows instead of trusting the events it missed (the world's
//! bridge asks the queue to tell every desk again; consultation panels it cannot re-read, and
//! it says so). Subscribers act after the publisher's call
//! has returned: a participant's view of a form follows the HTTP answer that changed it by the
//! time one event takes to cross.

use madoguchi_shared::protocol::{DeskSign, TicketInfo};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events one subscriber may be behind before it must re-read.
pub const CAPACITY: usize = 4096;

/// Something that changed in the office.
#[derive(Debug, Clone)]
pub enum OfficeEvent {
    /// The tickets of a department's queue, as they are now (positions and waits), and tickets
    /// that just ended: each with the resident it belongs to.
    Tickets { department: String, tickets: Vec<(String, TicketInfo)> },
    /// A desk of `department` opened (`staff_id` holds it) or closed: its counter's sign now.
    Desk { department: String, sign: DeskSign, staff_id: Option<i64> },
    /// An application (by reference) changed: created, edited, moved to another status, or
    /// linked to a consultation.
    Application { reference: String },
    /// A resident's consultation started (its id) or ended (`None`).
    Consultation { resident_id: String, consultation: Option<i64> },
    /// A guest's records (tickets, applications, consultations) became `resident`'s; the
    /// tickets of `departments` changed hands.
    ResidentMerged { guest: String, resident: String, departments: Vec<String> },
}

/// The office's event bus: cheap to clone, one per office.
#[derive(Clone)]
pub struct OfficeEvents(broadcast::Sender<Arc<OfficeEvent>>);

impl Default for OfficeEvents {
    fn default() -> Self {
        OfficeEvents(broadcast::channel(CAPACITY).0)
    }
}

impl OfficeEvents {
    /// Tells every subscriber (none listening is not an error).
    pub fn publish(&self, event: OfficeEvent) {
        let _ = self.0.send(Arc::new(event));
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<OfficeEvent>> {
        self.0.subscribe()
    }
}
