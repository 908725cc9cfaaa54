//! The client's picture of the world, built only from what the server says: who is where,
//! interpolated between snapshots; tickets, desk signs, chat and errors for the UI.

use crate::net::{FromServer, JoinRequest, SessionEndedNotice};
use bevy::prelude::*;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::{DeskSign, Look, NetId, ServerMessage, TicketInfo};
use madoguchi_shared::quant::{Point, QPos};
use std::collections::{BTreeMap, HashMap};

/// An avatar: ours or another's.
#[derive(Component, Debug, Clone)]
pub struct Avatar {
    pub id: NetId,
    pub name: String,
    pub staff: bool,
    pub look: Look,
}

/// Marks our own avatar.
#[derive(Component, Debug)]
pub struct Me;

/// Smoothly moves an avatar from where it was towards where the server last put it.
#[derive(Component, Debug, Clone, Copy)]
pub struct Interp {
    pub from: Point,
    pub to: Point,
    /// Seconds since `to` arrived.
    pub t: f32,
    /// Seconds the move from `from` to `to` takes: one snapshot interval.
    pub span: f32,
}

impl Interp {
    pub fn at(p: Point) -> Self {
        Self { from: p, to: p, t: 0.0, span: 0.1 }
    }

    pub fn current(&self) -> Point {
        let k = if self.span <= 0.0 { 1.0 } else { (self.t / self.span).clamp(0.0, 1.0) };
        Point::new(self.from.x + (self.to.x - self.from.x) * k, self.from.y + (self.to.y - self.from.y) * k)
    }

    /// A new server position: start from where we are drawn now.
    pub fn retarget(&mut self, to: Point) {
        self.from = self.current();
        self.to = to;
        self.t = 0.0;
    }
}

/// Layout metres (x across, y into the room) to bevy world space (y up; into the room is -z,
/// so a camera looking down -z sees the room the right way round).
pub fn to_world(p: Point, height: f32) -> Vec3 {
    Vec3::new(p.x, height, -p.y)
}

/// Bevy world space back to layout metres.
pub fn from_world(v: Vec3) -> Point {
    Point::new(v.x, -v.z)
}

/// What the server told us about ourselves and the session.
#[derive(Resource, Debug, Default, Clone)]
pub struct WorldView {
    pub me: Option<NetId>,
    pub room: Option<u16>,
    pub snapshot_hz: u16,
    /// Our position as the server last reported it.
    pub my_pos: Option<Point>,
}

/// Our tickets by id.
#[derive(Resource, Debug, Default)]
pub struct Tickets(pub BTreeMap<i64, TicketInfo>);

/// Calls already announced, as (ticket, recalls): a reconnect that reports the same call again
/// does not ring again.
#[derive(Resource, Debug, Default)]
pub struct Announced(pub std::collections::HashSet<(i64, u32)>);

/// Desk signs by counter id.
#[derive(Resource, Debug, Default)]
pub struct Desks(pub HashMap<String, DeskSign>);

/// The resident's running consultation at the counter, if any (its id).
#[derive(Resource, Debug, Default)]
pub struct ActiveConsultation(pub Option<i64>);

/// Chat lines of the room: (name, text), newest last; at most 50 kept.
#[derive(Resource, Debug, Default)]
pub struct ChatLog(pub Vec<(String, String)>);

/// The last refusal, for the UI.
#[derive(Resource, Debug, Default)]
pub struct LastError(pub Option<(ErrorCode, String)>);

/// Sent when we arrive in a room (first join, a door, a reconnect): the scene rebuilds.
#[derive(Message, Debug, Clone, Copy)]
pub struct RoomChanged(pub u16);

/// A ticket just got called (not a repeat of the same call): the UI shows a banner and plays a sound.
#[derive(Message, Debug, Clone)]
pub struct Called(pub TicketInfo);

/// Whether a ticket update is a call to announce: called (again, for a recall), or straight
/// from waiting to being served (a resident already at the desk skips "called").
pub fn is_new_call(old: Option<&TicketInfo>, new: &TicketInfo) -> bool {
    use madoguchi_shared::protocol::TicketStatus::{Called, Serving, Waiting};
    match (old.map(|o| (o.status, o.recalls)), new.status) {
        (Some((Called, recalls)), Called) => recalls != new.recalls,
        (_, Called) => true,
        (Some((Waiting, _)), Serving) => true,
        _ => false,
    }
}

fn span(view: &WorldView) -> f32 {
    1.0 / f32::from(view.snapshot_hz.max(1))
}

/// Applies every server message to the client's world.
#[allow(clippy::too_many_arguments)]
pub fn apply_server_messages(
    mut inbox: MessageReader<FromServer>,
    mut view: ResMut<WorldView>,
    mut tickets: ResMut<Tickets>,
    mut announced: ResMut<Announced>,
    mut desks: ResMut<Desks>,
    mut consultation: ResMut<ActiveConsultation>,
    mut chat: ResMut<ChatLog>,
    mut last_error: ResMut<LastError>,
    mut rooms: MessageWriter<RoomChanged>,
    mut calls: MessageWriter<Called>,
    mut avatars: Query<(Entity, &Avatar, &mut Interp, Has<Me>)>,
    join: Option<Res<JoinRequest>>,
    mut commands: Commands,
) {
    for FromServer(msg) in inbox.read() {
        match msg {
            ServerMessage::Welcome { you, room, pos, snapshot_hz, .. } => {
                for (e, ..) in &avatars {
                    commands.entity(e).despawn();
                }
                // The server reports our tickets and the desks afresh after `Welcome`: what
                // changed while we were away (a ticket cancelled, a desk closed) is not kept.
                tickets.0.clear();
                desks.0.clear();
                *view = WorldView {
                    me: Some(*you),
                    room: Some(*room),
                    snapshot_hz: *snapshot_hz,
                    my_pos: Some(pos.to_point()),
                };
                let p = pos.to_point();
                commands.spawn((
                    Avatar {
                        id: *you,
                        name: String::new(),
                        staff: false,
                        look: join.as_ref().map(|j| j.look()).unwrap_or_default(),
                    },
                    Me,
                    Interp::at(p),
                    Transform::from_translation(to_world(p, 0.0)),
                ));
                rooms.write(RoomChanged(*room));
            }
            ServerMessage::EnteredRoom { room, pos } => {
                view.room = Some(*room);
                view.my_pos = Some(pos.to_point());
                for (e, _, mut interp, me) in &mut avatars {
                    if me {
                        *interp = Interp::at(pos.to_point());
                    } else {
                        commands.entity(e).despawn();
                    }
                }
                rooms.write(RoomChanged(*room));
            }
            ServerMessage::Appeared { avatars: list } => {
                for a in list {
                    let p = a.pos.to_point();
                    commands.spawn((
                        Avatar { id: a.id, name: a.name.clone(), staff: a.staff, look: a.look },
                        Interp { span: span(&view), ..Interp::at(p) },
                        Transform::from_translation(to_world(p, 0.0)),
                    ));
                }
            }
            ServerMessage::Vanished { ids } => {
                for (e, a, _, me) in &avatars {
                    if !me && ids.contains(&a.id) {
                        commands.entity(e).despawn();
                    }
                }
            }
            ServerMessage::Snapshot { avatars: list, .. } => {
                let s = span(&view);
                let by_id: HashMap<NetId, QPos> = list.iter().map(|a| (a.id, a.pos)).collect();
                for (_, a, mut interp, me) in &mut avatars {
                    if let Some(q) = by_id.get(&a.id) {
                        interp.span = s;
                        interp.retarget(q.to_point());
                        if me {
                            view.my_pos = Some(q.to_point());
                        }
                    }
                }
            }
            ServerMessage::Chat { name, text, .. } => {
                chat.0.push((name.clone(), text.clone()));
                let excess = chat.0.len().saturating_sub(50);
                chat.0.drain(..excess);
            }
            ServerMessage::Ticket(t) => {
                if is_new_call(tickets.0.get(&t.id), t) && announced.0.insert((t.id, t.recalls)) {
                    calls.write(Called(t.clone()));
                }
                tickets.0.insert(t.id, t.clone());
            }
            ServerMessage::Desk(d) => {
                desks.0.insert(d.counter.clone(), d.clone());
            }
            ServerMessage::Consultation { id } => {
                consultation.0 = *id;
            }
            ServerMessage::Error { code, message } | ServerMessage::Refused { code, message } => {
                last_error.0 = Some((*code, message.clone()));
            }
        }
    }
}

/// Moves every avatar's transform along its interpolation.
pub fn interpolate(time: Res<Time>, mut q: Query<(&mut Interp, &mut Transform)>) {
    let dt = time.delta_secs();
    for (mut interp, mut tf) in &mut q {
        interp.t += dt;
        let p = interp.current();
        tf.translation = to_world(p, tf.translation.y);
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<WorldView>()
        .init_resource::<Tickets>()
        .init_resource::<Announced>()
        .init_resource::<Desks>()
        .init_resource::<ActiveConsultation>()
        .init_resource::<ChatLog>()
        .init_resource::<LastError>()
        .add_message::<RoomChanged>()
        .add_message::<Called>()
        .add_systems(Update, (apply_server_messages, interpolate).chain())
        .add_systems(Update, forget_tickets.run_if(resource_added::<SessionEndedNotice>));
}

/// The session ended and its tickets were cancelled: what we knew of them goes too, so the next
/// join (a new guest) starts clean.
fn forget_tickets(mut tickets: ResMut<Tickets>, mut announced: ResMut<Announced>) {
    tickets.0.clear();
    announced.0.clear();
}
