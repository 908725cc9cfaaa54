//! The player's intent: keys (WASD or arrows, Shift to run) or a touch stick to walk, E to take
//! a ticket at the nearest counter, Enter to chat. Click and tap to move live with the scene
//! (they need a camera); they land here as a walk target or a counter to take a ticket at.

use crate::net::ToServer;
use crate::world::WorldView;
use bevy::input::ButtonState;
use bevy::input::keyboard::KeyboardInput;
use bevy::prelude::*;
use bevy::window::Ime;
use madoguchi_shared::layout::Office;
use madoguchi_shared::limits::CHAT_MAX_CHARS;
use madoguchi_shared::movement::speed_cap;
use madoguchi_shared::protocol::{ClientMessage, NetId};
use madoguchi_shared::quant::{Point, QPos, QVel};
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
    /// Copies of the last stop still to send.
    pub stops_left: u8,
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

/// The chat line being typed, while the chat entry is open.
#[derive(Resource, Debug, Default, Clone)]
pub struct ChatEntry {
    pub open: bool,
    pub text: String,
}

/// Whether the player is on a touch screen: hints then speak of tapping, never of keys. It
/// starts from the device (`navigator.maxTouchPoints` in the browser) and follows use: a touch
/// makes it true, a key press false.
#[derive(Resource, Debug, Clone, Copy)]
pub struct TouchFirst(pub bool);

impl Default for TouchFirst {
    fn default() -> Self {
        TouchFirst(crate::platform::touch_screen())
    }
}

fn detect_touch(touches: Option<Res<Touches>>, mut keys: MessageReader<KeyboardInput>, mut touch: ResMut<TouchFirst>) {
    // Only the browser's page has the boxes and lists the touch hints speak of.
    let touched = cfg!(target_arch = "wasm32") && touches.is_some_and(|t| t.any_just_pressed());
    let typed = keys.read().filter(|k| k.state == ButtonState::Pressed).count() > 0;
    let now = if touched {
        true
    } else if typed {
        false
    } else {
        touch.0
    };
    if touch.0 != now {
        touch.0 = now;
    }
}

/// A counter the player clicked from afar: walking there, then a ticket is taken on arrival.
#[derive(Resource, Debug, Default, Clone)]
pub struct PendingTake(pub Option<String>);

/// Sends the keys' (or the stick's) velocity: renewed while held, a stop once when released.
#[allow(clippy::too_many_arguments)]
pub fn send_movement(
    keys: Res<ButtonInput<KeyCode>>,
    stick: Res<StickDir>,
    entry: Res<ChatEntry>,
    time: Res<Time>,
    view: Res<WorldView>,
    mut state: ResMut<InputState>,
    mut pending: ResMut<PendingTake>,
    mut out: MessageWriter<ToServer>,
) {
    if view.me.is_none() {
        return;
    }
    let run = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    // While typing a chat line, letters are text, not steps.
    let keys_dir = if entry.open { Point::ZERO } else { key_direction(&keys) };
    let dir = if keys_dir != Point::ZERO { keys_dir } else { stick.0.clamp_length(1.0) };
    if dir != Point::ZERO {
        // Steering by hand cancels a walk to a clicked counter.
        pending.0 = None;
    }
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

/// Keys while playing: E at a counter takes a ticket for its department; Enter opens the chat
/// entry, where typed text (and IME commits) collect until Enter sends it or Escape drops it.
/// A quick tap can press and release within one frame, so key events are read, not key state.
#[allow(clippy::too_many_arguments)]
pub fn keys_and_chat(
    mut events: MessageReader<KeyboardInput>,
    mut ime: MessageReader<Ime>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut entry: ResMut<ChatEntry>,
    mut windows: Query<&mut Window>,
    mut out: MessageWriter<ToServer>,
) {
    let was_open = entry.open;
    for e in events.read() {
        if e.state != ButtonState::Pressed {
            continue;
        }
        if !entry.open {
            match e.key_code {
                KeyCode::KeyE if !e.repeat => {
                    let (Some(room), Some(at)) = (view.room, view.my_pos) else { continue };
                    if let Some(counter) = counter_in_reach(&office, room, at) {
                        out.write(ToServer(ClientMessage::TakeTicket { counter }));
                    }
                }
                // The browser page has its own chat box (with the system's IME); else type here.
                KeyCode::Enter | KeyCode::NumpadEnter
                    if !e.repeat && view.me.is_some() && !crate::platform::focus_page_chat() =>
                {
                    entry.open = true;
                    entry.text.clear();
                }
                _ => {}
            }
            continue;
        }
        match edit_line(&mut entry.text, e, CHAT_MAX_CHARS) {
            Edit::Typing => {}
            Edit::Submit => {
                let text = entry.text.trim().to_string();
                if !text.is_empty() {
                    out.write(ToServer(ClientMessage::Chat { text }));
                }
                entry.open = false;
            }
            Edit::Cancel => entry.open = false,
        }
    }
    for e in ime.read() {
        if let Ime::Commit { value, .. } = e
            && entry.open
        {
            push_limited(&mut entry.text, value, CHAT_MAX_CHARS);
        }
    }
    if entry.open != was_open {
        // The system's input method (kana to kanji) composes only while a text entry is open.
        for mut w in &mut windows {
            w.ime_enabled = entry.open;
        }
    }
}

/// What a key press did to a line being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Typing,
    Submit,
    Cancel,
}

/// Applies one key press to a line of text (the chat line, the join screen's name): characters
/// (and space) are added up to `max` characters, Backspace removes one, Enter submits, Escape
/// cancels.
pub fn edit_line(text: &mut String, e: &KeyboardInput, max: usize) -> Edit {
    match e.key_code {
        KeyCode::Enter | KeyCode::NumpadEnter => return Edit::Submit,
        KeyCode::Escape => return Edit::Cancel,
        KeyCode::Backspace => {
            text.pop();
        }
        // The text the key produced, as the system's keyboard layout says (none for keys an
        // IME is composing with: those arrive as `Ime::Commit`).
        _ => {
            if let Some(t) = &e.text {
                push_limited(text, t, max);
            }
        }
    }
    Edit::Typing
}

/// Appends `s` (control characters dropped) while the text stays within `max` characters.
pub fn push_limited(text: &mut String, s: &str, max: usize) {
    for c in s.chars().filter(|c| !c.is_control()) {
        if text.chars().count() >= max {
            return;
        }
        text.push(c);
    }
}

/// Where to walk next from `room` on the way to `counter`: its resident spot when it is in
/// `room`, else the middle of a door of `room` that leads to its room (the office's rooms are
/// one door apart). `None` for an unknown counter or no such door.
pub fn next_leg(office: &Office, room: u16, counter: &str) -> Option<Point> {
    let (there, c) = office.counter(counter)?;
    if there.index == room {
        return Some(Point::new(c.resident_spot[0], c.resident_spot[1]));
    }
    let door = office.room(room)?.file.doors.iter().find(|d| d.to_room == there.id())?;
    let [x0, y0, x1, y1] = door.rect;
    Some(Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0))
}

/// A walk to a counter whose avatar has not moved for this long (seconds) is asked for again:
/// the server ends a route when something stops it on the way, and a resident who chose a
/// counter should not be left standing halfway.
const STALL_AFTER: f32 = 2.0;
/// At most this many times per leg, so an avatar that really cannot get there stops asking.
const STALL_RETRIES: u8 = 3;

/// The leg being walked, and whether it is still moving.
#[derive(Default)]
pub struct Leg {
    /// Counter, room and avatar the leg was sent for.
    this: Option<(String, u16, Option<NetId>)>,
    target: Point,
    last_pos: Option<Point>,
    still_for: f32,
    retries: u8,
}

/// A counter chosen from the page's counters list, or clicked from afar: the avatar walks there
/// by the server's routes, one leg per room (to the door, then to the counter), and the ticket
/// is taken on arrival ([`take_on_arrival`]). Steering by hand ends the walk. A leg on which the
/// avatar stands still for [`STALL_AFTER`] is sent again, up to [`STALL_RETRIES`] times.
pub fn walk_to_counter(
    time: Res<Time>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut pending: ResMut<PendingTake>,
    mut out: MessageWriter<ToServer>,
    mut leg: Local<Leg>,
) {
    if let Some(id) = crate::platform::take_page_go().filter(|id| office.counter(id).is_some()) {
        pending.0 = Some(id);
        leg.this = None;
    }
    let (Some(want), Some(room), Some(at)) = (pending.0.clone(), view.room, view.my_pos) else {
        leg.this = None;
        return;
    };
    // A leg per room, and again after a reconnect (a new avatar).
    let this = Some((want.clone(), room, view.me));
    if leg.this == this {
        let moved = leg.last_pos.is_none_or(|p| p.distance_squared(at) > 1e-4);
        leg.last_pos = Some(at);
        leg.still_for = if moved { 0.0 } else { leg.still_for + time.delta_secs() };
        if leg.still_for >= STALL_AFTER && leg.retries < STALL_RETRIES {
            leg.retries += 1;
            leg.still_for = 0.0;
            out.write(ToServer(ClientMessage::MoveTo { target: QPos::from_point(leg.target), run: false }));
        }
        return;
    }
    match next_leg(&office, room, &want) {
        Some(target) => {
            *leg = Leg { this, target, last_pos: Some(at), ..default() };
            out.write(ToServer(ClientMessage::MoveTo { target: QPos::from_point(target), run: false }));
        }
        None => {
            leg.this = this;
            pending.0 = None;
        }
    }
}

/// A counter chosen or clicked from afar: when we arrive in reach, take the ticket.
pub fn take_on_arrival(
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut pending: ResMut<PendingTake>,
    mut out: MessageWriter<ToServer>,
) {
    let (Some(want), Some(room), Some(at)) = (pending.0.clone(), view.room, view.my_pos) else { return };
    if office.counter(&want).is_none() {
        pending.0 = None;
        return;
    }
    if counter_in_reach(&office, room, at).as_deref() == Some(want.as_str()) {
        out.write(ToServer(ClientMessage::TakeTicket { counter: want }));
        pending.0 = None;
    }
}

/// Chat lines typed into the browser page's chat box.
fn page_chat(mut out: MessageWriter<ToServer>) {
    for text in crate::platform::take_page_chat() {
        let text: String = text.trim().chars().take(CHAT_MAX_CHARS).collect();
        if !text.is_empty() {
            out.write(ToServer(ClientMessage::Chat { text }));
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<InputState>()
        .init_resource::<StickDir>()
        .init_resource::<ChatEntry>()
        .init_resource::<PendingTake>()
        .add_message::<Ime>()
        .init_resource::<TouchFirst>()
        .add_systems(
            Update,
            (detect_touch, keys_and_chat, send_movement, walk_to_counter, take_on_arrival, page_chat).chain(),
        );
}
