//! The queue's vocabulary: its settings, why an operation is refused, and the views of queues, desks and tickets that the APIs return.

use madoguchi_shared::ErrorCode;
use madoguchi_shared::hours::LocalTime;
use madoguchi_shared::protocol::TicketInfo;
use serde::Serialize;
use std::time::Duration;

/// Tunables from the process config.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// A called resident who has not come after this long is a no-show; the desk calls the next.
    pub no_show_after: Duration,
    /// A clerk who walks away from their desk or disconnects keeps it this long.
    pub desk_grace: Duration,
    /// A desk without its clerk's avatar is attended this long after the clerk's last desk
    /// action or console heartbeat.
    pub desk_presence: Duration,
    /// Tickets one resident may take: a burst of this many...
    pub take_burst: u32,
    /// ...refilled at this many per minute.
    pub take_per_minute: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            no_show_after: Duration::from_secs(180),
            desk_presence: Duration::from_secs(60),
            desk_grace: Duration::from_secs(60),
            take_burst: 5,
            take_per_minute: 10,
        }
    }
}

/// Why a queue operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("no such department")]
    UnknownDepartment,
    #[error("no such counter")]
    UnknownCounter,
    #[error("{message}")]
    Closed { message: String, next_opening_ms: Option<i64> },
    #[error("you already hold ticket {} for this department", .0.label)]
    Exists(Box<TicketInfo>),
    #[error("too many tickets taken; try again in {0} s")]
    RateLimited(u64),
    #[error("another clerk holds this desk")]
    DeskTaken,
    #[error("this counter belongs to another department")]
    WrongDepartment,
    #[error("you hold no desk; take one first")]
    NoDesk,
    #[error("no such ticket")]
    NoTicket,
    #[error("this ticket has not been called to a desk")]
    NotCalled,
    #[error("the resident already holds a ticket for that department")]
    TargetHasTicket,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl QueueError {
    /// The error's code in the HTTP API's answers (`{"code": …}`) and the text mode's notices.
    pub fn api_code(&self) -> &'static str {
        match self {
            QueueError::UnknownDepartment => "unknown_department",
            QueueError::UnknownCounter => "counter_unknown",
            QueueError::Closed { .. } => "queue_closed",
            QueueError::Exists(_) | QueueError::TargetHasTicket => "ticket_exists",
            QueueError::RateLimited(_) => "rate_limited",
            QueueError::DeskTaken => "desk_taken",
            QueueError::WrongDepartment => "wrong_department",
            QueueError::NoDesk => "no_desk",
            QueueError::NoTicket => "no_ticket",
            QueueError::NotCalled => "not_called",
            QueueError::Db(_) => "unavailable",
        }
    }

    /// The wire code for world clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            QueueError::UnknownDepartment | QueueError::UnknownCounter => ErrorCode::CounterUnknown,
            QueueError::Closed { .. } => ErrorCode::QueueClosed,
            QueueError::Exists(_) | QueueError::TargetHasTicket => ErrorCode::TicketExists,
            QueueError::RateLimited(_) => ErrorCode::RateLimited,
            QueueError::DeskTaken => ErrorCode::DeskTaken,
            QueueError::WrongDepartment => ErrorCode::WrongDepartment,
            QueueError::NoDesk => ErrorCode::NoDesk,
            QueueError::NoTicket | QueueError::NotCalled => ErrorCode::NoTicket,
            QueueError::Db(_) => ErrorCode::Unavailable,
        }
    }
}

/// A department's queue at a glance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepartmentQueue {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    pub ticket_prefix: String,
    /// Taking tickets now.
    pub open: bool,
    /// `mon-fri 08:30-17:15`.
    pub hours: String,
    /// When it next opens (RFC 3339, local offset), if closed now, or when tomorrow's opening is.
    pub next_opening: Option<String>,
    pub waiting: u32,
    pub open_desks: u32,
}

/// A desk (counter) as staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeskView {
    pub counter: String,
    pub department: String,
    pub open: bool,
    pub clerk: Option<String>,
    /// The ticket at the desk, if any.
    pub ticket: Option<StaffTicket>,
}

/// A ticket as staff see it: no more about the resident than their display name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffTicket {
    pub id: i64,
    pub label: String,
    pub department: String,
    #[schema(value_type = String)]
    pub status: String,
    pub resident_name: String,
    /// When it was first taken (kept through transfers), RFC 3339.
    pub queued_at: String,
    /// Seconds since then.
    pub waiting_secs: i64,
    /// The resident's language (`ja`, `en`, …), so the clerk can invite an interpreter.
    pub language: String,
    /// Whether an identity provider vouched for the resident (they signed in, verified).
    pub verified: bool,
    /// The name the provider vouches for, when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_name: Option<String>,
    /// Whether the resident is in the 3D office now (else the text mode, a phone's page or
    /// the API); filled in by the HTTP side from what the world reports.
    pub in_3d_office: bool,
    #[serde(skip)]
    pub resident_id: String,
    pub counter: Option<String>,
    pub recalls: u32,
    pub transferred_from: Option<String>,
}

/// The ticket as a JSON API body (residents).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketBody {
    pub id: i64,
    pub department: String,
    pub label: String,
    #[schema(value_type = String)]
    pub status: String,
    pub position: Option<u32>,
    /// Estimated wait in seconds; null means unknown (no recent service times).
    pub wait_s: Option<u32>,
    pub counter: Option<String>,
    pub recalls: u32,
}

impl From<&TicketInfo> for TicketBody {
    fn from(t: &TicketInfo) -> Self {
        TicketBody {
            id: t.id,
            department: t.department.clone(),
            label: t.label.clone(),
            status: t.status.as_str().into(),
            position: t.position,
            wait_s: t.wait_s,
            counter: t.counter.clone(),
            recalls: t.recalls,
        }
    }
}

/// RFC 3339 in the office's local offset.
pub fn local_rfc3339(ms: i64, offset_min: i32) -> String {
    let t = LocalTime::at(ms, offset_min);
    let sign = if offset_min < 0 { '-' } else { '+' };
    let o = offset_min.unsigned_abs();
    format!("{}T{}:00{sign}{:02}:{:02}", t.date(), t.clock(), o / 60, o % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_carry_the_offset() {
        assert_eq!(local_rfc3339(1_795_654_800_000, 540), "2026-11-26T10:00:00+09:00");
        assert_eq!(local_rfc3339(0, -330), "1969-12-31T18:30:00-05:30");
    }
}
