//! Who a world connection belongs to, as the world knows them: learnt from the connect token
//! (or WebSocket ticket) the HTTP side issued to a session.

use super::sessions::SessionKey;

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
