//! How clients reach the world: admission by single-use connect token, the UDP (netcode) and
//! WebSocket transports feeding one `RenetServer`, each client's record (its phase and strikes),
//! the sessions behind open connections (kept alive; ended ones close their connections), and
//! the outbox (`send_to`, `send_error`, the flush schedule).
//!
//! Uses `identity` (whom a token was issued to) and `metrics`; knows nothing of avatars or
//! rooms.
//!
//! May use: `identity`.

pub mod clients;
pub mod outbox;
pub mod sessions;
pub mod settings;
pub mod tokens;
mod transports;
mod udp;
pub mod websocket;

pub use settings::NetFlags;
pub use udp::UdpTransport;

use bevy::prelude::*;

/// Every system of the transports and of admission.
pub(crate) fn plugin(app: &mut App) {
    app.add_plugins((
        transports::plugin,
        tokens::plugin,
        clients::plugin,
        outbox::plugin,
        sessions::plugin,
        udp::plugin,
        websocket::plugin,
    ));
}
