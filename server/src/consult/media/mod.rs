//! The media engine behind one interface: the consultation service asks it to open a
//! participant's leg with an SDP offer, to add their ICE candidates, to drop a leg and to close a
//! room (a consultation); it hears back each leg's local candidates and state, and a room's
//! failure. [`MediaEngine`] is all the rest of the server knows of media, so the engine could be
//! replaced (str0m, say) without touching signalling or records.
//!
//! The engine here is [`sfu::Sfu`], on the webrtc crate: every participant has one peer
//! connection to the server, which forwards RTP between the participants of one room without
//! decoding it (`rewrite` makes each packet fit the receiving leg), from a pool of UDP ports
//! (`ports`), advertising the public address the deployment names (`candidates`). Its tasks run
//! on tokio, never on the world's tick.

pub mod candidates;
pub mod ports;
pub mod rewrite;
pub mod sfu;

use madoguchi_shared::consult::{Candidate, Role};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;

/// A future the engine returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A consultation's id, as the media engine knows it.
pub type RoomId = i64;

/// Whose leg: a participant's role in the room and the number of their signalling connection.
/// Numbers only grow: a newer connection of a role replaces an older one's leg, and an older
/// one (an offer still in flight when it was replaced) never replaces or reuses a newer one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegOf {
    pub role: Role,
    pub conn: u64,
}

/// What a leg reports to its participant's signalling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// A local ICE candidate to trickle (`None`: gathering has finished).
    Candidate(Option<Candidate>),
    /// `connected`, `disconnected` or `failed`.
    State(&'static str),
}

/// A room whose media failed: the consultation ends with this reason.
#[derive(Debug, Clone)]
pub struct RoomFailure {
    pub room: RoomId,
    pub reason: String,
}

/// Why the engine refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// The offer or candidate could not be used (the participant's fault).
    #[error("{0}")]
    Invalid(String),
    /// No media port is free, or the room is full.
    #[error("{0}")]
    Busy(String),
    /// A candidate names an address the server does not send to (`--media-peer-deny`).
    #[error("{0}")]
    Denied(String),
    /// More candidates than one connection may have, or faster than it may send them.
    #[error("{0}")]
    TooMany(String),
    /// This participant has no media yet: offer first.
    #[error("no media connection yet: send an offer first")]
    NoLeg,
    /// The room's media has failed or closed.
    #[error("{0}")]
    Closed(String),
}

/// Figures for metrics and the leak checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    pub rooms: usize,
    pub legs: usize,
    pub ports_in_use: usize,
    pub ports_total: usize,
}

/// The engine's interface.
pub trait MediaEngine: Send + Sync + 'static {
    /// Opens the connection's leg in `room` with an SDP offer (replacing an older connection's
    /// leg of the role), or renegotiates it; the SDP answer. The leg's events go to `events` (the
    /// sender given with the first offer is kept). A connection replaced by a newer one, or one
    /// that has left, is refused with [`MediaError::Closed`].
    fn offer(
        &self,
        room: RoomId,
        who: LegOf,
        sdp: String,
        events: mpsc::Sender<LegEvent>,
    ) -> BoxFuture<'_, Result<String, MediaError>>;

    /// Adds a remote ICE candidate to the connection's leg (`None`: the participant has no more).
    fn candidate(
        &self,
        room: RoomId,
        who: LegOf,
        candidate: Option<Candidate>,
    ) -> BoxFuture<'_, Result<(), MediaError>>;

    /// Closes the connection's leg (they left, or a newer connection replaced this one): the
    /// others stop receiving them, and no offer of this connection or an older one of the role
    /// opens a leg any more.
    fn leave(&self, room: RoomId, who: LegOf) -> BoxFuture<'_, ()>;

    /// Closes every leg of `room`.
    fn close(&self, room: RoomId) -> BoxFuture<'_, ()>;

    /// Makes one of `room`'s media tasks panic (tests of isolation; only with
    /// `--fault-injection`). False if the room has no media.
    fn inject_fault(&self, room: RoomId) -> BoxFuture<'_, bool>;

    fn stats(&self) -> MediaStats;
}
