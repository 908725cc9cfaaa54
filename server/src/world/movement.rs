//! The authoritative movement of every avatar through its room and its doors: keys, and
//! click-to-move routes planned around walls.

use super::avatar::{Avatar, Intent, NetIds, Position};
use super::settings::OfficeLayout;
use super::tick::TickSet;
use crate::metrics::WorldMetrics;
use bevy::prelude::*;
use bevy_renet::RenetServer;
use madoguchi_shared::movement::{seek_velocity, speed_cap, step};
use madoguchi_shared::path::find_path;
use madoguchi_shared::protocol::{Channel, ServerMessage, encode};
use madoguchi_shared::quant::{Point, QPos};
use std::time::Duration;

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
    metrics.joined_avatars.set(avatars.iter().count() as i64);
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<NetIds>().add_systems(Update, (move_avatars, count_avatars).chain().in_set(TickSet::Simulate));
}
