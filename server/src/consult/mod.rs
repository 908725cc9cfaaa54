//! Consultations at the counter: a called resident and the clerk of the desk talk face to face
//! over video, with a chat beside it, an interpreter or a supervisor when needed, and the
//! applications that come out of it linked to it.
//!
//! Files: `service` (starting, joining, leaving, ending; chat; applications; invitations),
//! `signal` (one participant's signalling connection), `store` (the SQL), `model` (settings,
//! errors, API views), `turn` (STUN/TURN servers with short-lived credentials), and `media/`
//! (the media engine behind one interface, an SFU on the webrtc crate).
//!
//! Publishes [`crate::events::OfficeEvent::Consultation`] (started, ended). Subscribes to
//! `Tickets` (a finished ticket ends its consultation), `Application` (its participants see the
//! form as it is now) and `ResidentMerged` (a guest's running consultation is the resident's).
//!
//! Uses `queue` (the ticket at a desk), `records` (applications and their audit trail), `events`,
//! `db` and `metrics`. The HTTP layer hands it requests and WebSocket frames; it imports no HTTP.
//!
//! May use: `identity`, `queue`, `records`.

pub mod media;
mod model;
mod service;
pub mod settings;
pub mod signal;
mod store;
pub mod turn;

pub use model::{
    ConsultError, ConsultSettings, ConsultationBody, IceSettings, InviteBody, Joiner, RunningConsultation, SignalGrant,
};
pub use service::Consultations;
pub use settings::ConsultFlags;
