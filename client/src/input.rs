//! The player's intent: keys to walk (WASD or arrows, Shift to run), E or Enter to take a
//! ticket at the nearest counter. Click and tap to move live with the scene (they need a camera).

use crate::net::ToServer;
use crate::world::WorldView;
use bevy::prelude::*;
use madoguchi_shared::layout::Office;
use madoguchi_shared::movement::speed_cap;
use madoguchi_shared::protocol::ClientMessage;
use madoguchi_shared::quant::{Point, QVel};
use std::sync::Arc;

/// The office layout, the same files the server validates.
#[derive(Resource, Clone, Deref)]
pub struct OfficeRes(pub Arc<Office>);

use madoguchi_shared::limits::TAKE_RANGE;

/// Input sequence and when the last input went out.
#[derive(Resource, Default)]
pub struct InputState {
    pub seq: u32,
    pub last_vel: Point,
    pub since: f32,
}

/// How often a held direction is renewed (the server stops an avatar whose input lapses).
const RENEW_EVERY: f32 = 0.05;

/// The walking direction the keys ask for, unit length or zero.
pub fn key_direction(keys: &ButtonInput<KeyCode>) -> Point {
    let mut d = Point::ZERO;
    if keys.any_pressed([KeyCode::KeyW, KeyCode::ArrowUp]) {
        d.y += 1.0;
    }
    if keys.any_pressed([KeyCode::KeyS, KeyCode::ArrowDown]) {
        d.y -= 1.0;
    }
    if keys.any_pressed([KeyCode::KeyD, KeyCode::ArrowRight]) {
        d.x += 1.0;
    }
    if keys.any_pressed([KeyCode::KeyA, KeyCode::ArrowLeft]) {
        d.x -= 1.0;
    }
    let len = (d.x * d.x + d.y * d.y).sqrt();
    if len > 0.0 { Point::new(d.x / len, d.y / len) } else { d }
}

/// Sends the keys' velocity: renewed while held, a stop once when released.
pub fn send_movement(
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    view: Res<WorldView>,
    mut state: ResMut<InputState>,
    mut out: MessageWriter<ToServer>,
) {
    if view.me.is_none() {
        return;
    }
    let run = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    let dir = key_direction(&keys);
    let s = speed_cap(run);
    let vel = Point::new(dir.x * s, dir.y * s);
    state.since += time.delta_secs();
    let changed = vel != state.last_vel;
    let moving = vel != Point::ZERO;
    if changed || (moving && state.since >= RENEW_EVERY) {
        state.seq = state.seq.wrapping_add(1);
        state.since = 0.0;
        state.last_vel = vel;
        out.write(ToServer(ClientMessage::Input { seq: state.seq, vel: QVel::from_point(vel), run }));
    }
}

/// The counter whose resident spot is nearest to `at` in `room`, within reach.
pub fn counter_in_reach(office: &Office, room: u16, at: Point) -> Option<String> {
    let r = office.room(room)?;
    r.file
        .counters
        .iter()
        .map(|c| (c, Point::new(c.resident_spot[0], c.resident_spot[1]).distance_squared(at)))
        .filter(|(_, d)| *d <= TAKE_RANGE * TAKE_RANGE)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c.id.clone())
}

/// E or Enter at a counter takes a ticket for its department. A quick tap can press and
/// release within one frame, so key events are read as well as the key state.
pub fn interact(
    keys: Res<ButtonInput<KeyCode>>,
    mut events: MessageReader<bevy::input::keyboard::KeyboardInput>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut out: MessageWriter<ToServer>,
) {
    let tapped = events.read().any(|e| {
        e.state == bevy::input::ButtonState::Pressed
            && !e.repeat
            && matches!(e.key_code, KeyCode::KeyE | KeyCode::Enter)
    });
    if !tapped && !keys.any_just_pressed([KeyCode::KeyE, KeyCode::Enter]) {
        return;
    }
    let (Some(room), Some(at)) = (view.room, view.my_pos) else { return };
    if let Some(counter) = counter_in_reach(&office, room, at) {
        out.write(ToServer(ClientMessage::TakeTicket { counter }));
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<InputState>().add_systems(Update, (send_movement, interact));
}
