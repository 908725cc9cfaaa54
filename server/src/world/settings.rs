//! What the world is built from: the validated office layout and the process's tunables.

use bevy::prelude::*;
use madoguchi_shared::layout::Office;
use std::sync::Arc;

/// The validated office layout.
#[derive(Resource, Clone, Deref)]
pub struct OfficeLayout(pub Arc<Office>);

/// Tunables of the world, from the process config.
#[derive(Resource, Debug, Clone)]
pub struct WorldSettings {
    pub tick_hz: u16,
    /// Snapshots (and packet flushes) per second to each client; at most `tick_hz`.
    pub snapshot_hz: u16,
    /// Most other avatars sent to one client.
    pub max_visible: usize,
}

impl Default for WorldSettings {
    fn default() -> Self {
        Self { tick_hz: 20, snapshot_hz: 10, max_visible: 32 }
    }
}
