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

/// The world's flags (`--tick-hz`, `--snapshot-hz`, `--max-visible`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "World")]
pub struct WorldFlags {
    /// World ticks per second.
    #[arg(long, env = "MADOGUCHI_TICK_HZ", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=120))]
    pub tick_hz: u16,

    /// Snapshots per second sent to each client (at most the tick rate). Clients interpolate
    /// between them; fewer means less bandwidth and less work per tick.
    #[arg(long, env = "MADOGUCHI_SNAPSHOT_HZ", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=120))]
    pub snapshot_hz: u16,

    /// Most other avatars a client is sent: the nearest ones in its room.
    #[arg(long, env = "MADOGUCHI_MAX_VISIBLE", default_value_t = 32)]
    pub max_visible: usize,
}

impl WorldFlags {
    pub fn settings(&self) -> WorldSettings {
        WorldSettings {
            tick_hz: self.tick_hz,
            snapshot_hz: self.snapshot_hz.min(self.tick_hz),
            max_visible: self.max_visible,
        }
    }
}
