//! The consultation's vocabulary: settings, who is asking, why something is refused, and the
//! views the APIs return.

use super::store::Participation;
use madoguchi_shared::consult::{ChatLine, IceServer, LinkedApplication, Role};
use serde::Serialize;
use std::time::Duration;

/// Tunables from the process config.
#[derive(Debug, Clone)]
pub struct ConsultSettings {
    /// How long an interpreter's one-time code is valid.
    pub invite_ttl: Duration,
    /// A consultation that everyone has left ends after this long (someone reconnecting in
    /// time keeps it).
    pub empty_grace: Duration,
    /// How long a signalling ticket (the WebSocket's one-time pass) is valid.
    pub signal_ticket_ttl: Duration,
    /// A signalling connection that sends nothing (not even a ping) for this long is closed.
    pub signal_idle: Duration,
    /// STUN/TURN servers handed to participants.
    pub ice: IceSettings,
    /// Lets a test make a consultation's media fail on purpose (`--fault-injection`).
    pub fault_injection: bool,
}

impl Default for ConsultSettings {
    fn default() -> Self {
        ConsultSettings {
            invite_ttl: Duration::from_secs(300),
            empty_grace: Duration::from_secs(30),
            signal_ticket_ttl: Duration::from_secs(30),
            signal_idle: Duration::from_secs(60),
            ice: IceSettings::default(),
            fault_injection: false,
        }
    }
}

/// STUN and TURN servers for participants' browsers. TURN credentials are short-lived: the
/// TURN REST API scheme (`username = expiry:label`, `credential = base64(HMAC-SHA1(secret,
/// username))`), which coturn checks with `use-auth-secret`.
#[derive(Debug, Clone, Default)]
pub struct IceSettings {
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    pub turn_secret: Option<String>,
    pub turn_ttl: Duration,
}

/// Who asks to join a consultation.
#[derive(Debug, Clone)]
pub enum Joiner {
    Resident {
        id: String,
        name: String,
    },
    Staff {
        id: i64,
        login: String,
        name: String,
        department: String,
        supervisor: bool,
    },
    /// Someone who redeemed an invitation code.
    Interpreter {
        invite: String,
        name: String,
    },
}

/// Why a consultation operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsultError {
    #[error("no such consultation")]
    NotFound,
    #[error("the consultation has ended")]
    Ended,
    #[error("you hold no desk; take one first")]
    NoDesk,
    #[error("no resident is at your desk: call a number, and wait until the resident has arrived")]
    NotArrived,
    #[error("only the clerk of this consultation may do that")]
    NotTheClerk,
    #[error("this consultation belongs to another department")]
    WrongDepartment,
    #[error("this code is not valid: it is unknown, used or expired")]
    BadCode,
    #[error("this signalling ticket is unknown, used or expired")]
    BadTicket,
    #[error("{0}")]
    Invalid(String),
    #[error("too many open invitations for this consultation")]
    TooManyInvites,
    #[error("this consultation already has a {0}")]
    RoleTaken(&'static str),
    #[error("too many passes asked for; wait {0} s")]
    RateLimited(u64),
    #[error("the application could not be linked: {0}")]
    Record(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A consultation as staff see it (the console builds on this).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsultationBody {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket: String,
    pub department: String,
    pub counter: String,
    pub resident_id: String,
    pub staff_id: i64,
    /// `running` or `ended`.
    pub status: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub note: Option<String>,
    /// Who is connected now.
    #[schema(value_type = Vec<String>)]
    pub present: Vec<Role>,
    pub participations: Vec<Participation>,
    #[schema(value_type = Vec<Object>)]
    pub applications: Vec<LinkedApplication>,
    #[schema(value_type = Vec<Object>)]
    pub chat: Vec<ChatLine>,
}

/// A running consultation, as a supervisor's overview lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunningConsultation {
    pub id: i64,
    pub ticket: String,
    pub counter: String,
    pub staff_id: i64,
    pub started_at: i64,
    /// Who is connected now.
    #[schema(value_type = Vec<String>)]
    pub present: Vec<Role>,
}

/// A one-time pass for the signalling WebSocket.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignalGrant {
    pub consultation: i64,
    #[schema(value_type = String)]
    pub role: Role,
    /// Open `/api/v1/consultations/signal?ticket=…` with it within 30 s; it works once.
    pub ticket: String,
    #[schema(value_type = Vec<Object>)]
    pub ice_servers: Vec<IceServer>,
}

/// An interpreter's invitation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InviteBody {
    pub consultation: i64,
    /// Give this to the interpreter; it works once, until `expires_at`.
    pub code: String,
    /// The page where the interpreter enters the code.
    pub join_path: String,
    pub kind: String,
    pub expires_at: i64,
}
