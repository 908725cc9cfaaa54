//! What the queue service and the world say to each other over their channels, and the changes
//! live pages (the text mode) subscribe to.

use super::model::Clerk;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::{DeskSign, TicketInfo};

/// What the queue tells the world.
#[derive(Debug, Clone)]
pub enum WorldNotice {
    /// Deliver to every client of this resident.
    Ticket { resident_id: String, info: TicketInfo },
    /// A counter's sign changed; `staff_id` holds it now (their avatar goes behind the desk).
    Desk { sign: DeskSign, staff_id: Option<i64> },
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
}

/// What a clerk in the world asks for.
#[derive(Debug, Clone)]
pub enum StaffCommand {
    TakeDesk(String),
    LeaveDesk,
    CallNext,
}

/// A change for live pages: tickets of these residents changed.
#[derive(Debug, Clone)]
pub struct QueueChange {
    pub tickets: Vec<(String, TicketInfo)>,
}
