//! Avatars, and the authoritative movement of each through its room and its doors.

use crate::transport::WorldMetrics;
use bevy::prelude::*;
use bevy_renet::RenetServer;
use madoguchi_shared::layout::Office;
use madoguchi_shared::limits::INPUT_TTL;
use madoguchi_shared::movement::{seek_velocity, speed_cap, step};
use madoguchi_shared::path::find_path;
use madoguchi_shared::protocol::{Channel, NetId, ServerMessage, encode};
use madoguchi_shared::quant::{Point, QPos};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

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

impl WorldSettings {
    /// Ticks between two flushes to the same client.
    pub fn send_every(&self) -> u32 {
        (u32::from(self.tick_hz) / u32::from(self.snapshot_hz.max(1))).max(1)
    }

    /// Whether `client_id` is flushed on `tick`. Clients are spread evenly over the ticks, so
    /// each tick encrypts and sends for only a share of them.
    pub fn due(&self, client_id: u64, tick: u32) -> bool {
        let every = self.send_every();
        (u64::from(tick) + client_id).is_multiple_of(u64::from(every))
    }
}

/// The world tick counter, advanced at the start of every tick.
#[derive(Resource, Default, Debug, Clone, Copy)]
pub struct TickCount(pub u32);

/// A resident's (or later, a clerk's) presence in the world.
#[derive(Component, Debug)]
pub struct Avatar {
    pub net_id: NetId,
    pub client_id: u64,
    pub name: String,
    pub locale: String,
    /// A member of staff; their name comes from their account, not from `Hello`.
    pub staff: bool,
}

/// Where an avatar is.
#[derive(Component, Debug, Clone, Copy)]
pub struct Position {
    pub room: u16,
    pub at: Point,
}

/// What the avatar's client last asked for. Velocities are clamped when received.
#[derive(Component, Debug, Default, Clone)]
pub struct Intent {
    pub vel: Point,
    pub run: bool,
    /// A click-to-move target in the current room, waiting for its route to be planned, and
    /// when it was asked for (routes are planned oldest first).
    pub goal: Option<Point>,
    pub goal_at: Duration,
    /// The planned route to the goal, next waypoint first (around walls and desks); overrides
    /// `vel` until walked or blocked.
    pub route: VecDeque<Point>,
    /// `vel` lapses to a stop at this time (elapsed real time), see [`INPUT_TTL`].
    pub until: Duration,
    /// Last input sequence number applied, echoed in snapshots.
    pub last_seq: u32,
}

impl Intent {
    /// Steering by keys. A stop leaves a click-to-move goal alone: the key-release that ends a
    /// walk can arrive in the same tick as the click that follows it.
    pub fn set_velocity(&mut self, vel: Point, run: bool, seq: u32, now: Duration) {
        self.vel = vel;
        if vel != Point::ZERO {
            self.run = run;
            self.goal = None;
            self.route.clear();
        }
        self.until = now + INPUT_TTL;
        self.last_seq = seq;
    }
}

/// Next avatar id; ids are never reused while the server runs.
#[derive(Resource, Default)]
pub struct NetIds(NetId);

impl NetIds {
    pub fn allocate(&mut self) -> NetId {
        self.0 = self.0.wrapping_add(1).max(1);
        self.0
    }
}

/// Named stages of a tick, in order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TickSet {
    /// Client messages are read and applied.
    Receive,
    /// Avatars move.
    Simulate,
    /// Each client is told what changed in its view.
    Publish,
}

/// Longest step the simulation takes in one tick, so a stalled process does not teleport anyone.
const MAX_DT: f32 = 0.25;

/// Routes planned per tick at most. Most clicks are a straight line (microseconds); a search
/// around walls can take milliseconds, so a crowd clicking at once waits a tick or two rather
/// than stretching one tick.
const ROUTES_PER_TICK: usize = 8;

/// Integrates every avatar's intent with the speed cap and collision, and takes avatars that
/// step into a door to the door's destination.
pub(crate) fn move_avatars(
    time: Res<Time<Real>>,
    office: Res<OfficeLayout>,
    mut server: ResMut<RenetServer>,
    mut avatars: Query<(Entity, &Avatar, &mut Position, &mut Intent)>,
) {
    let dt = time.delta_secs().min(MAX_DT);
    let now = time.elapsed();
    // Plan the oldest waiting goals first, so clients that click all the time cannot keep
    // everyone else waiting (a new click puts a client at the back).
    let mut waiting: Vec<(Duration, Entity)> =
        avatars.iter().filter(|(.., i)| i.goal.is_some()).map(|(e, .., i)| (i.goal_at, e)).collect();
    waiting.sort_unstable();
    for (_, e) in waiting.into_iter().take(ROUTES_PER_TICK) {
        let Ok((_, _, pos, mut intent)) = avatars.get_mut(e) else { continue };
        let (Some(room), Some(goal)) = (office.room(pos.room), intent.goal.take()) else { continue };
        intent.route = find_path(room.size, &room.solids, pos.at, goal).unwrap_or_default().into();
    }
    for (_, avatar, mut pos, mut intent) in &mut avatars {
        let Some(room) = office.room(pos.room) else { continue };
        // Waypoints already reached are done.
        while intent.route.front().is_some_and(|w| w.distance_squared(pos.at) < 1e-4) {
            intent.route.pop_front();
        }
        let speed = speed_cap(intent.run);
        let vel = match intent.route.front() {
            Some(&waypoint) => seek_velocity(pos.at, waypoint, speed, dt),
            None if intent.goal.is_some() => Point::ZERO,
            None if now <= intent.until => intent.vel,
            None => Point::ZERO,
        };
        if vel == Point::ZERO {
            intent.route.clear();
            continue;
        }
        let next = step(pos.at, vel, dt, room.size, &room.solids);
        if !intent.route.is_empty() && next.distance_squared(pos.at) < 1e-6 {
            // Blocked (another rule moved us, or a corner): stop rather than push forever.
            intent.route.clear();
        }
        pos.at = next;
        if let Some((to, at)) = room.door_target_at(next) {
            pos.room = to;
            pos.at = at;
            *intent = Intent { last_seq: intent.last_seq, ..Default::default() };
            let msg = ServerMessage::EnteredRoom { room: to, pos: QPos::from_point(at) };
            server.send_message(avatar.client_id, Channel::Events, encode(&msg));
        }
    }
}

/// Keeps the avatar gauge current.
fn count_avatars(avatars: Query<(), With<Avatar>>, metrics: Res<WorldMetrics>) {
    crate::metrics::Metrics::set(&metrics.joined_avatars, avatars.iter().count() as u64);
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<NetIds>()
        .init_resource::<TickCount>()
        .configure_sets(Update, (TickSet::Receive, TickSet::Simulate, TickSet::Publish).chain())
        .add_systems(Update, (move_avatars, count_avatars).chain().in_set(TickSet::Simulate));
}
