//! The world's link to the services beside it: what the world asks of the queue service
//! ([`QueueRequest`], in per-client lanes) and what services tell the world ([`WorldNotice`]).
//! The world owns these types; the queue holds the sending end of the notices and the receiving
//! end of the requests.

use crate::identity::Clerk;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::{DeskSign, TicketInfo};

/// What the queue tells the world.
#[derive(Debug, Clone)]
pub enum WorldNotice {
    /// Deliver to every client of this resident.
    Ticket { resident_id: String, info: TicketInfo },
    /// A counter's sign changed; `staff_id` holds it now (their avatar goes behind the desk).
    Desk { sign: DeskSign, staff_id: Option<i64> },
    /// The resident's consultation started (its id) or ended (`None`): their clients open or
    /// close the consultation panel.
    Consultation { resident_id: String, consultation: Option<i64> },
    /// A request from this client was refused.
    Error { client_id: u64, code: ErrorCode, message: String },
}

/// What the world asks of the queue.
#[derive(Debug, Clone)]
pub enum QueueRequest {
    Take {
        client_id: u64,
        resident_id: String,
        counter: String,
    },
    Cancel {
        client_id: u64,
        resident_id: String,
        ticket: i64,
    },
    /// A resident joined the world: send them their active tickets.
    Joined {
        resident_id: String,
    },
    /// A resident's avatar reached the counter their ticket was called to.
    Arrived {
        resident_id: String,
        ticket: i64,
    },
    Staff {
        client_id: u64,
        clerk: Clerk,
        command: StaffCommand,
    },
    /// A clerk's avatar is at their desk (true) or has walked away or disconnected (false).
    Presence {
        staff_id: i64,
        present: bool,
    },
    /// The world missed office events: every desk is told again (as office events, in order
    /// with the others).
    RetellDesks,
}

/// Whose requests must run one after another: one client's, or (for the world's own reports)
/// one resident's, one clerk's, or the world's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lane {
    Client(u64),
    Resident(String),
    Staff(i64),
    /// The world's own bookkeeping (telling it every desk again).
    World,
}

impl QueueRequest {
    /// The lane this request runs in.
    pub fn lane(&self) -> Lane {
        match self {
            QueueRequest::Take { client_id, .. }
            | QueueRequest::Cancel { client_id, .. }
            | QueueRequest::Staff { client_id, .. } => Lane::Client(*client_id),
            QueueRequest::Joined { resident_id } | QueueRequest::Arrived { resident_id, .. } => {
                Lane::Resident(resident_id.clone())
            }
            QueueRequest::Presence { staff_id, .. } => Lane::Staff(*staff_id),
            QueueRequest::RetellDesks => Lane::World,
        }
    }

    /// The client that asked, for requests a client sent (not the world's own reports).
    pub fn client(&self) -> Option<u64> {
        match self {
            QueueRequest::Take { client_id, .. }
            | QueueRequest::Cancel { client_id, .. }
            | QueueRequest::Staff { client_id, .. } => Some(*client_id),
            _ => None,
        }
    }

    /// Whether two of the world's reports say something about the same thing, so that the
    /// newer one replaces the older while both wait (a client's requests never do).
    pub fn same_subject(&self, other: &QueueRequest) -> bool {
        match (self, other) {
            (QueueRequest::Joined { resident_id: a }, QueueRequest::Joined { resident_id: b }) => a == b,
            (QueueRequest::Arrived { ticket: a, .. }, QueueRequest::Arrived { ticket: b, .. }) => a == b,
            (QueueRequest::Presence { staff_id: a, .. }, QueueRequest::Presence { staff_id: b, .. }) => a == b,
            (QueueRequest::RetellDesks, QueueRequest::RetellDesks) => true,
            _ => false,
        }
    }
}

/// What a clerk in the world asks for.
#[derive(Debug, Clone)]
pub enum StaffCommand {
    TakeDesk(String),
    LeaveDesk,
    CallNext,
}
