//! Taking a ticket: a [`TakeAt`] from any door (E at a counter, the take button, a sign or a
//! desk tapped, the counters list) takes one at once when the counter is in reach, or walks
//! there by the server's routes — one leg per room, to the door and then to the counter — and
//! takes it on arrival. Steering by hand ends the walk.

use crate::avatars::{InputState, WorldView};
use crate::connection::ToServer;
use crate::frame::Step;
use crate::office::OfficeRes;
use crate::typing::Typing;
use bevy::input::ButtonState;
use bevy::input::keyboard::KeyboardInput;
use bevy::prelude::*;
use madoguchi_shared::layout::Office;
use madoguchi_shared::limits::TAKE_RANGE;
use madoguchi_shared::protocol::{ClientMessage, NetId};
use madoguchi_shared::quant::{Point, QPos};

/// A ticket wanted at this counter (its id): taken at once in reach, else on arrival.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct TakeAt(pub String);

/// The counter we are walking to, to take a ticket on arrival.
#[derive(Resource, Debug, Default, Clone)]
pub struct PendingTake(pub Option<String>);

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

/// E at a counter: a ticket there — unless the frame's keys went to the chat line. A quick tap
/// can press and release within one frame, so key events are read, not key state.
fn e_key(
    mut keys: MessageReader<KeyboardInput>,
    typing: Res<Typing>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut take: MessageWriter<TakeAt>,
) {
    // Every event is read (a reader left half-read would see the rest again next frame).
    let pressed = keys.read().filter(|e| e.state == ButtonState::Pressed && e.key_code == KeyCode::KeyE && !e.repeat);
    if pressed.count() == 0 || typing.open || typing.took_keys {
        return;
    }
    let (Some(room), Some(at)) = (view.room, view.my_pos) else { return };
    if let Some(counter) = counter_in_reach(&office, room, at) {
        take.write(TakeAt(counter));
    }
}

/// A counter chosen in the browser page's "go to a counter" list.
fn page_go(mut take: MessageWriter<TakeAt>) {
    if let Some(id) = crate::platform::take_page_go() {
        take.write(TakeAt(id));
    }
}

/// The one place a ticket is asked for: a [`TakeAt`] (the last of the frame) becomes the
/// counter we go to; in reach of it, `TakeTicket` goes out. Steering by hand ends the walk.
fn take_tickets(
    mut asked: MessageReader<TakeAt>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    walking: Res<InputState>,
    mut pending: ResMut<PendingTake>,
    mut out: MessageWriter<ToServer>,
) {
    if walking.steering() {
        pending.0 = None;
    }
    if let Some(TakeAt(counter)) = asked.read().last() {
        pending.0 = office.counter(counter).is_some().then(|| counter.clone());
    }
    let (Some(want), Some(room), Some(at)) = (pending.0.clone(), view.room, view.my_pos) else { return };
    if counter_in_reach(&office, room, at).as_deref() == Some(want.as_str()) {
        out.write(ToServer(ClientMessage::TakeTicket { counter: want }));
        pending.0 = None;
    }
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

/// Walks to the counter of [`PendingTake`], a leg per room (and again after a reconnect: a new
/// avatar). A leg on which the avatar stands still for [`STALL_AFTER`] is sent again, up to
/// [`STALL_RETRIES`] times.
fn walk_to_counter(
    mut asked: MessageReader<TakeAt>,
    time: Res<Time>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut pending: ResMut<PendingTake>,
    mut out: MessageWriter<ToServer>,
    mut leg: Local<Leg>,
) {
    // Chosen (again): a new first leg.
    if asked.read().count() > 0 {
        leg.this = None;
    }
    let (Some(want), Some(room), Some(at)) = (pending.0.clone(), view.room, view.my_pos) else {
        leg.this = None;
        return;
    };
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

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<PendingTake>()
        .add_message::<TakeAt>()
        .add_systems(Update, (e_key, page_go).in_set(Step::Intend))
        .add_systems(Update, (take_tickets, walk_to_counter).chain().in_set(Step::Send));
}
