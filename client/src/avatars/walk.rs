//! Our own walking: keys (WASD or arrows, Shift to run) or the touch stick give a velocity,
//! renewed while held and stopped when let go. Click and tap to move live with the room (they
//! need its camera).

use super::state::WorldView;
use crate::connection::ToServer;
use crate::frame::Step;
use crate::typing::Typing;
use bevy::input::touch::Touch;
use bevy::prelude::*;
use madoguchi_shared::movement::speed_cap;
use madoguchi_shared::protocol::ClientMessage;
use madoguchi_shared::quant::{Point, QVel};

/// Input sequence and when the last input went out.
#[derive(Resource, Default)]
pub struct InputState {
    pub seq: u32,
    pub last_vel: Point,
    pub since: f32,
    /// Copies of the last stop still to send.
    pub stops_left: u8,
}

impl InputState {
    /// Whether the player steers by hand now (keys or the stick): that ends a walk to a counter.
    pub fn steering(&self) -> bool {
        self.last_vel != Point::ZERO
    }
}

/// How often a held direction is renewed (the server stops an avatar whose input lapses).
const RENEW_EVERY: f32 = 0.05;

/// A stop is sent this many more times, [`RENEW_EVERY`] apart: inputs travel unreliably, and a
/// lost stop would walk the avatar on until the input lapses ([`INPUT_TTL`]).
///
/// [`INPUT_TTL`]: madoguchi_shared::limits::INPUT_TTL
const STOP_REPEATS: u8 = 2;

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

/// A direction from an on-screen stick (touch drag): length 0 to 1, layout axes.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct StickDir(pub Point);

/// Sends the keys' (or the stick's) velocity: renewed while held, a stop once when released.
pub fn send_movement(
    keys: Res<ButtonInput<KeyCode>>,
    stick: Res<StickDir>,
    typing: Res<Typing>,
    time: Res<Time>,
    view: Res<WorldView>,
    mut state: ResMut<InputState>,
    mut out: MessageWriter<ToServer>,
) {
    if view.me.is_none() {
        return;
    }
    let run = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    // While typing a line, letters are text, not steps.
    let keys_dir = if typing.open { Point::ZERO } else { key_direction(&keys) };
    let dir = if keys_dir != Point::ZERO { keys_dir } else { stick.0.clamp_length(1.0) };
    let s = speed_cap(run);
    let vel = Point::new(dir.x * s, dir.y * s);
    state.since += time.delta_secs();
    let changed = vel != state.last_vel;
    let moving = vel != Point::ZERO;
    let repeat_stop = !moving && state.stops_left > 0 && state.since >= RENEW_EVERY;
    if changed || (moving && state.since >= RENEW_EVERY) || repeat_stop {
        state.stops_left = match (changed, moving) {
            (_, true) => 0,
            (true, false) => STOP_REPEATS,
            (false, false) => state.stops_left - 1,
        };
        state.seq = state.seq.wrapping_add(1);
        state.since = 0.0;
        state.last_vel = vel;
        out.write(ToServer(ClientMessage::Input { seq: state.seq, vel: QVel::from_point(vel), run }));
    }
}

/// The touch stick: a finger dragged more than a few pixels from where it went down walks in
/// that direction (farther = faster, up to a walk), until it lifts. A short touch that does not
/// drag is a tap, which the scene turns into a walk target.
#[derive(Resource, Debug, Default)]
pub struct TouchStick {
    /// The finger steering, and where it went down.
    pub finger: Option<(u64, Vec2)>,
    pub dragging: bool,
    /// The finger went down on a button: it is the button's, neither a stick nor a tap.
    pub on_ui: bool,
}

/// Pixels a finger must move before a touch is a drag, and the drag length of full speed.
pub const DRAG_START_PX: f32 = 18.0;
pub const DRAG_FULL_PX: f32 = 90.0;

/// The stick direction for a drag from `start` to `now` (screen pixels, y down) in layout axes:
/// the camera looks north, so screen up is +y and screen right is +x.
pub fn stick_direction(start: Vec2, now: Vec2) -> Point {
    let d = now - start;
    if d.length() < DRAG_START_PX {
        return Point::ZERO;
    }
    let k = (d.length() / DRAG_FULL_PX).min(1.0) / d.length();
    Point::new(d.x * k, -d.y * k)
}

fn touch_stick(
    touches: Res<Touches>,
    buttons: Query<&Interaction>,
    ui_scale: Option<Res<UiScale>>,
    mut stick: ResMut<TouchStick>,
    mut dir: ResMut<StickDir>,
) {
    // Touches come in the window's pixels; the drag lengths are the screen's (at a lowered
    // resolution, see `performance`, the window has fewer pixels than the screen).
    let per_screen_px = ui_scale.map_or(1.0, |u| u.0);
    let at = |t: &Touch| t.position() / per_screen_px;
    if stick.finger.is_none()
        && let Some(t) = touches.iter_just_pressed().next()
    {
        stick.finger = Some((t.id(), at(t)));
        stick.dragging = false;
        stick.on_ui = buttons.iter().any(|i| *i != Interaction::None);
    }
    let Some((id, start)) = stick.finger else { return };
    if stick.on_ui {
        if touches.get_pressed(id).is_none() {
            stick.finger = None;
        }
        return;
    }
    match touches.get_pressed(id).map(at) {
        Some(now) => {
            let d = stick_direction(start, now);
            if d != Point::ZERO {
                stick.dragging = true;
            }
            dir.0 = if stick.dragging { d } else { Point::ZERO };
        }
        None => {
            stick.finger = None;
            dir.0 = Point::ZERO;
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<InputState>()
        .init_resource::<StickDir>()
        .init_resource::<TouchStick>()
        .add_systems(Update, send_movement.in_set(Step::Intend))
        .add_systems(PreUpdate, touch_stick.in_set(Step::Touch));
}
