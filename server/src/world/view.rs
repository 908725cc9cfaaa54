//! What each client sees: the avatars of its room (the nearest ones when crowded), sent as
//! appearances and departures on the reliable channel and as changed positions on the
//! unreliable one.

use super::avatar::{Avatar, Intent, Position};
use super::settings::WorldSettings;
use super::tick::{TickCount, TickSet};
use crate::net::outbox::Flush;
use bevy::prelude::*;
use bevy_renet::RenetServer;
use madoguchi_shared::protocol::{AvatarInfo, AvatarPos, Channel, NetId, ServerMessage, encode};
use madoguchi_shared::quant::{Point, QPos};
use std::collections::HashMap;

/// Ticks after which an unchanged position is sent again, so a lost unreliable snapshot
/// cannot leave a client with a stale position for long (one second at 20 Hz).
const REFRESH_TICKS: u32 = 20;

/// What was last sent to one client.
#[derive(Component, Debug, Default)]
pub struct View {
    room: Option<u16>,
    /// Visible avatars: last position sent and the tick it was sent.
    seen: HashMap<NetId, (QPos, u32)>,
    own: Option<(QPos, u32)>,
    last_ack: u32,
}

struct Entry {
    net_id: NetId,
    entity: Entity,
    at: Point,
    q: QPos,
}

fn due(prev: Option<(QPos, u32)>, q: QPos, tick: u32) -> bool {
    match prev {
        None => true,
        Some((pq, pt)) => pq != q || tick.wrapping_sub(pt) >= REFRESH_TICKS,
    }
}

/// Sends every client the difference between what it saw last tick and what it sees now.
fn publish_views(
    tick: Res<TickCount>,
    settings: Res<WorldSettings>,
    flush: Res<Flush>,
    mut server: ResMut<RenetServer>,
    mut viewers: Query<(Entity, &Avatar, &Position, &Intent, &mut View)>,
    names: Query<&Avatar>,
    mut rooms: Local<HashMap<u16, Vec<Entry>>>,
    mut candidates: Local<Vec<(f32, usize)>>,
) {
    let tick = tick.0;
    for list in rooms.values_mut() {
        list.clear();
    }
    for (entity, avatar, pos, _, _) in &viewers {
        rooms.entry(pos.room).or_default().push(Entry {
            net_id: avatar.net_id,
            entity,
            at: pos.at,
            q: QPos::from_point(pos.at),
        });
    }
    for (me, avatar, pos, intent, mut view) in &mut viewers {
        if !flush.due(avatar.client_id) {
            continue;
        }
        let view = &mut *view;
        if view.room != Some(pos.room) {
            // A new room: the client has dropped everything it saw (EnteredRoom says so).
            view.room = Some(pos.room);
            view.seen.clear();
            view.own = None;
        }
        let list = rooms.get(&pos.room).map(Vec::as_slice).unwrap_or(&[]);
        candidates.clear();
        candidates.extend(
            list.iter().enumerate().filter(|(_, e)| e.entity != me).map(|(i, e)| (e.at.distance_squared(pos.at), i)),
        );
        if candidates.len() > settings.max_visible {
            candidates.select_nth_unstable_by(settings.max_visible, |a, b| a.0.total_cmp(&b.0));
            candidates.truncate(settings.max_visible);
        }
        let mut vanished: Vec<NetId> =
            view.seen.keys().filter(|id| !candidates.iter().any(|(_, i)| list[*i].net_id == **id)).copied().collect();
        vanished.sort_unstable();
        for id in &vanished {
            view.seen.remove(id);
        }
        let mut appeared = Vec::new();
        let mut moved = Vec::new();
        let own_q = QPos::from_point(pos.at);
        if due(view.own, own_q, tick) || view.last_ack != intent.last_seq {
            moved.push(AvatarPos { id: avatar.net_id, pos: own_q });
            view.own = Some((own_q, tick));
            view.last_ack = intent.last_seq;
        }
        for &(_, i) in candidates.iter() {
            let e = &list[i];
            match view.seen.get(&e.net_id).copied() {
                None => {
                    let (name, staff, look) =
                        names.get(e.entity).map(|a| (a.name.clone(), a.staff, a.look)).unwrap_or_default();
                    appeared.push(AvatarInfo { id: e.net_id, name, pos: e.q, staff, look });
                    view.seen.insert(e.net_id, (e.q, tick));
                }
                Some(prev) if due(Some(prev), e.q, tick) => {
                    moved.push(AvatarPos { id: e.net_id, pos: e.q });
                    view.seen.insert(e.net_id, (e.q, tick));
                }
                Some(_) => {}
            }
        }
        if !vanished.is_empty() {
            server.send_message(avatar.client_id, Channel::Events, encode(&ServerMessage::Vanished { ids: vanished }));
        }
        if !appeared.is_empty() {
            server.send_message(
                avatar.client_id,
                Channel::Events,
                encode(&ServerMessage::Appeared { avatars: appeared }),
            );
        }
        if !moved.is_empty() {
            let snapshot = ServerMessage::Snapshot { tick, ack: intent.last_seq, avatars: moved };
            server.send_message(avatar.client_id, Channel::Movement, encode(&snapshot));
        }
    }
}

/// Gives every new avatar an empty view: its first snapshot then carries everything.
fn handle_new_avatar(add: On<Add, Avatar>, mut commands: Commands) {
    commands.entity(add.entity).insert(View::default());
}

pub(crate) fn plugin(app: &mut App) {
    app.add_observer(handle_new_avatar).add_systems(Update, publish_views.in_set(TickSet::Publish));
}
