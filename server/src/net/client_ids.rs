//! Which transport each connected client came by, so that each transport serves only its own
//! clients of the one `RenetServer`. Client ids cannot collide: netcode's have the top bit clear
//! (see [`super::tokens`]), WebSocket ones have it set.

use bevy::prelude::*;
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
