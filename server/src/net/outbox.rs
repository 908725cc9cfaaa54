//! What goes out to clients: messages queued on the reliable channel, refusals (counted in the
//! metrics), and the flush schedule that spreads clients over the ticks.

use crate::metrics::Metrics;
use bevy::prelude::*;
use bevy_renet::RenetServer;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::{Channel, ServerMessage, encode};

/// Queues raw bytes on the reliable channel.
pub fn send_to(server: &mut RenetServer, client_id: u64, bytes: Vec<u8>) {
    server.send_message(client_id, Channel::Events, bytes);
}

/// Tells a client one of its messages was refused, and counts it.
pub fn send_error(server: &mut RenetServer, metrics: &Metrics, client_id: u64, code: ErrorCode, message: String) {
    metrics.refuse(code);
    send_to(server, client_id, encode(&ServerMessage::Error { code, message }));
}

/// When each client's packets (and its snapshot) go out: every `every` ticks, clients spread
/// evenly over the ticks, so each tick encrypts and sends for only a share of them.
#[derive(Resource, Debug, Clone)]
pub struct Flush {
    every: u32,
    tick: u32,
}

impl Flush {
    /// `snapshot_hz` flushes per second to each client of a world ticking at `tick_hz`.
    pub fn new(tick_hz: u16, snapshot_hz: u16) -> Self {
        Self { every: (u32::from(tick_hz) / u32::from(snapshot_hz.max(1))).max(1), tick: 0 }
    }

    /// Ticks between two flushes to the same client.
    pub fn every(&self) -> u32 {
        self.every
    }

    /// Whether `client_id` is flushed this tick.
    pub fn due(&self, client_id: u64) -> bool {
        (u64::from(self.tick) + client_id).is_multiple_of(u64::from(self.every))
    }
}

/// Moves the schedule on at the start of every tick.
fn advance(mut flush: ResMut<Flush>) {
    flush.tick = flush.tick.wrapping_add(1);
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(First, advance);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_is_flushed_once_per_period() {
        let mut f = Flush::new(20, 10);
        assert_eq!(f.every(), 2);
        let mut seen = [0; 4];
        for _ in 0..10 {
            f.tick += 1;
            for (id, n) in seen.iter_mut().enumerate() {
                *n += u32::from(f.due(id as u64));
            }
        }
        assert_eq!(seen, [5; 4]);
        assert_eq!(Flush::new(20, 0).every(), 20, "zero snapshots is clamped, not a division by zero");
    }
}
