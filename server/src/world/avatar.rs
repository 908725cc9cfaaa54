//! An avatar: a joined client's presence in the world, where it is, and what its client last
//! asked it to do.

use crate::identity::principal::WorldPrincipal;
use bevy::prelude::*;
use madoguchi_shared::limits::INPUT_TTL;
use madoguchi_shared::protocol::{Look, NetId};
use madoguchi_shared::quant::Point;
use std::collections::VecDeque;
use std::time::Duration;

/// A resident's or a clerk's presence in the world.
#[derive(Component, Debug)]
pub struct Avatar {
    pub net_id: NetId,
    pub client_id: u64,
    pub name: String,
    /// A member of staff; their name comes from their account, not from `Hello`.
    pub staff: bool,
    /// As chosen in `Hello` (staff: the default; clients draw staff in their own look).
    pub look: Look,
}

/// Who an avatar belongs to, from the connect token (residents and staff alike).
#[derive(Component, Debug, Clone, Deref)]
pub struct Who(pub WorldPrincipal);

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
