//! What the transports share: which transport each connected client came by, so that each
//! serves only its own clients of the one `RenetServer` (client ids cannot collide: netcode's
//! have the top bit clear, see [`super::tokens`], WebSocket ones have it set); and when in the
//! frame they read (between renet's update and its events, so a connection made this frame is
//! reported this frame) and write.

use bevy::prelude::*;
use bevy_renet::{RenetReceive, RenetSend, RenetServerPlugin};
use std::collections::HashMap;

/// The way a client reaches the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    WebSocket,
}

/// Every connected client's transport, by renet client id; each transport keeps its own
/// entries.
#[derive(Resource, Default, Deref, DerefMut)]
pub struct ClientTransports(pub HashMap<u64, Transport>);

/// Where transports' systems run.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransportSet {
    /// Packets in: feed what arrived to renet (`PreUpdate`).
    Read,
    /// Packets out: send what renet queued (`PostUpdate`).
    Write,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<ClientTransports>()
        .configure_sets(
            PreUpdate,
            TransportSet::Read
                .in_set(RenetReceive)
                .after(RenetServerPlugin::update_system)
                .before(RenetServerPlugin::emit_server_events_system),
        )
        .configure_sets(PostUpdate, TransportSet::Write.in_set(RenetSend));
}
