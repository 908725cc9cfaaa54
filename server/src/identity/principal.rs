//! Who a world connection belongs to, as the world knows them: learnt from the connect token
//! (or WebSocket ticket) the HTTP side issued to a session.

use super::sessions::SessionKey;
use crate::records::audit::Actor;

/// Who enters the world, and by which session (kept alive while they stay, see
/// `net::sessions`).
#[derive(Debug, Clone)]
pub struct Entrant {
    pub who: WorldPrincipal,
    pub session: SessionKey,
}

/// A resident or a member of staff in the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldPrincipal {
    Resident { id: String },
    Staff { id: i64, department: String, login: String, name: String },
}

/// A member of staff at work: at a desk, in a consultation, the author of ticket and record
/// events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clerk {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub department: String,
}

impl Clerk {
    /// The clerk as the author of audit events.
    pub fn actor(&self) -> Actor {
        Actor::Staff { id: self.id, login: self.login.clone(), department: self.department.clone() }
    }
}
