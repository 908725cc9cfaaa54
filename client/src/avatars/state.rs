//! Who is where: our avatar and the others in the room, as the server says.

use crate::connection::{FromServer, JoinRequest};
use bevy::prelude::*;
use madoguchi_shared::protocol::{Look, NetId, ServerMessage};
use madoguchi_shared::quant::{Point, QPos};
use std::collections::HashMap;

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

/// Sent when we arrive in a room (first join, a door, a reconnect): the scene rebuilds.
#[derive(Message, Debug, Clone, Copy)]
pub struct RoomChanged(pub u16);

fn span(view: &WorldView) -> f32 {
    1.0 / f32::from(view.snapshot_hz.max(1))
}

/// Applies the server's word on who is where.
pub fn apply_server_messages(
    mut inbox: MessageReader<FromServer>,
    mut view: ResMut<WorldView>,
    mut rooms: MessageWriter<RoomChanged>,
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
            _ => {}
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
