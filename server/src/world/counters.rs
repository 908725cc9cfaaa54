//! Counters in the world: taking tickets at a desk, staffed desks and their signs, and the
//! queue's notices delivered to the right clients.
//!
//! The world never waits on the database: requests go to the queue service over a channel (the
//! world's own link, `super::link`), and what it decides comes back as [`WorldNotice`]s drained
//! once per tick.

use super::avatar::{Avatar, Intent, Position, Who};
use super::link::{QueueRequest, StaffCommand, WorldNotice};
use super::movement::move_avatars;
use super::receive::{CounterRequest, receive_messages};
use super::settings::OfficeLayout;
use super::tick::{TickCount, TickSet};
use crate::identity::Clerk;
use crate::identity::principal::WorldPrincipal;
use crate::metrics::Metrics;
use crate::metrics::WorldMetrics;
use crate::net::outbox::{send_error, send_to};
use bevy::prelude::*;
use bevy_renet::RenetServer;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::limits::TAKE_RANGE;
use madoguchi_shared::protocol::{ClientMessage, DeskSign, ServerMessage, TicketStatus, encode};
use madoguchi_shared::quant::{Point, QPos};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Sender, UnboundedReceiver};

/// How near the resident spot counts as having arrived when called, metres.
pub const ARRIVE_RANGE: f32 = 2.0;
/// How far from their staff spot a clerk may stray before their desk starts closing, metres.
pub const DESK_RANGE: f32 = 3.0;

/// The two ends of the world's link to the queue service. Requests go through a bounded
/// channel: a client's request that finds it full is refused with `busy`; the world's own
/// reports (arrivals, presence, joins) wait here for a later tick instead, newest per subject.
#[derive(Resource)]
pub struct QueueLink {
    requests: Sender<QueueRequest>,
    pub notices: UnboundedReceiver<WorldNotice>,
    deferred: VecDeque<QueueRequest>,
    metrics: Arc<Metrics>,
}

/// Most reports that wait for a full queue; each is about a different avatar, desk or ticket,
/// so this is reached only with that many of them at once (then the oldest is dropped).
const DEFERRED_MAX: usize = 4096;

impl QueueLink {
    pub fn new(requests: Sender<QueueRequest>, notices: UnboundedReceiver<WorldNotice>, metrics: Arc<Metrics>) -> Self {
        QueueLink { requests, notices, deferred: VecDeque::new(), metrics }
    }

    /// Hands the office events the world acts on to its notices, from a task on `handle`: a
    /// desk opened or closed (its sign, the clerk behind it), a resident's consultation started
    /// or ended (their clients open or close its panel).
    pub fn follow_events(
        handle: &tokio::runtime::Handle,
        events: &crate::events::OfficeEvents,
        notices: tokio::sync::mpsc::UnboundedSender<WorldNotice>,
        requests: &Sender<QueueRequest>,
        metrics: Arc<Metrics>,
    ) {
        use crate::events::OfficeEvent;
        let mut rx = events.subscribe();
        // Not a sender that keeps the queue's loop alive: it ends when the world's link goes.
        let requests = requests.downgrade();
        handle.spawn(async move {
            loop {
                let notice = match rx.recv().await {
                    Ok(event) => match &*event {
                        OfficeEvent::Desk { sign, staff_id, .. } => {
                            WorldNotice::Desk { sign: sign.clone(), staff_id: *staff_id }
                        }
                        OfficeEvent::Consultation { resident_id, consultation } => {
                            WorldNotice::Consultation { resident_id: resident_id.clone(), consultation: *consultation }
                        }
                        _ => continue,
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // This task only forwards to an unbounded channel, so it falls behind
                        // only if it is not scheduled while thousands of events go by. The
                        // desks are told again, in order with later events; a resident's
                        // consultation panel may stay wrong until their next consultation event
                        // or reconnect. Say so.
                        tracing::warn!(missed = n, "the world missed office events; desks are told again");
                        let Some(requests) = requests.upgrade() else { break };
                        metrics.queue_requests_pending.inc();
                        if requests.send(QueueRequest::RetellDesks).await.is_err() {
                            metrics.queue_requests_pending.dec();
                            break;
                        }
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if notices.send(notice).is_err() {
                    break;
                }
            }
        });
    }

    /// Sends a client's request on: `busy` when the queue is full, `unavailable` when the
    /// queue service has stopped.
    fn submit(&self, req: QueueRequest) -> Result<(), (ErrorCode, &'static str)> {
        match self.requests.try_send(req) {
            Ok(()) => {
                self.metrics.queue_requests_pending.inc();
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.metrics.queue_requests_dropped_total.inc();
                Err((ErrorCode::Busy, "the office is busy; try again in a moment"))
            }
            Err(TrySendError::Closed(_)) => Err((ErrorCode::Unavailable, "the queue is not running")),
        }
    }

    /// Sends one of the world's own reports, after any that wait; if the queue is full it
    /// waits too, replacing an older one about the same subject.
    fn report(&mut self, req: QueueRequest) {
        self.flush();
        if !self.deferred.is_empty() {
            self.defer(req);
            return;
        }
        match self.requests.try_send(req) {
            Ok(()) => {
                self.metrics.queue_requests_pending.inc();
            }
            Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(r)) => self.defer(r),
        }
    }

    fn defer(&mut self, req: QueueRequest) {
        if let Some(older) = self.deferred.iter_mut().find(|d| d.same_subject(&req)) {
            *older = req;
            return;
        }
        if self.deferred.len() >= DEFERRED_MAX {
            tracing::warn!("the queue service is behind: dropping the oldest waiting report");
            self.deferred.pop_front();
            self.metrics.queue_requests_dropped_total.inc();
        }
        self.deferred.push_back(req);
    }

    /// Sends the reports that wait, in order, while the queue takes them.
    fn flush(&mut self) {
        while let Some(req) = self.deferred.pop_front() {
            match self.requests.try_send(req) {
                Ok(()) => {
                    self.metrics.queue_requests_pending.inc();
                }
                Err(TrySendError::Full(r)) => {
                    self.deferred.push_front(r);
                    return;
                }
                Err(TrySendError::Closed(_)) => {
                    self.deferred.clear();
                    return;
                }
            }
        }
    }
}

/// Every counter's sign and the staff id holding it.
#[derive(Resource, Default)]
pub struct DeskSigns(pub HashMap<String, (DeskSign, Option<i64>)>);

/// Tickets called to a desk whose owner has not arrived yet: ticket → (resident, counter).
#[derive(Resource, Default)]
struct Called(HashMap<i64, (String, String)>);

/// Tickets called to a counter or being served at one: ticket → (counter, label). The newest at
/// a counter is on its queue display ([`DeskSign::serving`]).
#[derive(Resource, Default)]
struct AtCounters(HashMap<i64, (String, String)>);

impl AtCounters {
    fn serving(&self, counter: &str) -> Option<String> {
        self.0.iter().filter(|(_, (c, _))| c == counter).max_by_key(|(id, _)| **id).map(|(_, (_, l))| l.clone())
    }

    /// Forgets all but the `n` newest tickets at `counter` (one whose end the world never heard
    /// of must not stay forever).
    fn keep_newest(&mut self, counter: &str, n: usize) {
        let mut ids: Vec<i64> = self.0.iter().filter(|(_, (c, _))| c == counter).map(|(id, _)| *id).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        for id in ids.into_iter().skip(n) {
            self.0.remove(&id);
        }
    }
}

/// Whether each clerk holding a desk was last reported at it; and which entity is whose.
#[derive(Resource, Default)]
struct StaffPresence {
    at_desk: HashMap<i64, bool>,
    avatars: HashMap<Entity, i64>,
}

fn setup_signs(office: Res<OfficeLayout>, mut signs: ResMut<DeskSigns>) {
    for (_, c) in office.counters() {
        signs
            .0
            .insert(c.id.clone(), (DeskSign { counter: c.id.clone(), open: false, clerk: None, serving: None }, None));
    }
}

fn clerk_of(p: &WorldPrincipal) -> Option<Clerk> {
    match p {
        WorldPrincipal::Staff { id, department, login, name } => {
            Some(Clerk { id: *id, login: login.clone(), name: name.clone(), department: department.clone() })
        }
        WorldPrincipal::Resident { .. } => None,
    }
}

/// Checks counter messages against who sent them and where they stand, and forwards them.
fn handle_requests(
    mut requests: MessageReader<CounterRequest>,
    office: Res<OfficeLayout>,
    metrics: Res<WorldMetrics>,
    link: Option<Res<QueueLink>>,
    mut server: ResMut<RenetServer>,
    avatars: Query<(&Avatar, &Position, Option<&Who>)>,
) {
    for req in requests.read() {
        let Ok((avatar, pos, who)) = avatars.get(req.avatar) else { continue };
        let client_id = avatar.client_id;
        let refuse = |server: &mut RenetServer, code: ErrorCode, message: &str| {
            send_error(server, &metrics, client_id, code, message.to_string());
        };
        let Some(link) = link.as_ref() else {
            refuse(&mut server, ErrorCode::Unavailable, "the queue is not running");
            continue;
        };
        let resident = match who.map(|w| &w.0) {
            Some(WorldPrincipal::Resident { id }) => Some(id.clone()),
            _ => None,
        };
        let clerk = who.and_then(|w| clerk_of(&w.0));
        let forward = match (&req.msg, resident, clerk) {
            (ClientMessage::TakeTicket { counter }, Some(resident_id), _) => match office.counter(counter) {
                None => Err((ErrorCode::CounterUnknown, "no such counter")),
                Some((room, c)) => {
                    let spot = Point::new(c.resident_spot[0], c.resident_spot[1]);
                    if room.index != pos.room || spot.distance_squared(pos.at) > TAKE_RANGE * TAKE_RANGE {
                        Err((ErrorCode::NotNearCounter, "walk up to the counter to take a ticket there"))
                    } else {
                        Ok(QueueRequest::Take { client_id, resident_id, counter: counter.clone() })
                    }
                }
            },
            (ClientMessage::CancelTicket { ticket }, Some(resident_id), _) => {
                Ok(QueueRequest::Cancel { client_id, resident_id, ticket: *ticket })
            }
            (ClientMessage::TakeTicket { .. } | ClientMessage::CancelTicket { .. }, None, _) => {
                Err((ErrorCode::ResidentOnly, "tickets are for residents"))
            }
            (ClientMessage::TakeDesk { counter }, _, Some(clerk)) => {
                Ok(QueueRequest::Staff { client_id, clerk, command: StaffCommand::TakeDesk(counter.clone()) })
            }
            (ClientMessage::LeaveDesk, _, Some(clerk)) => {
                Ok(QueueRequest::Staff { client_id, clerk, command: StaffCommand::LeaveDesk })
            }
            (ClientMessage::CallNext, _, Some(clerk)) => {
                Ok(QueueRequest::Staff { client_id, clerk, command: StaffCommand::CallNext })
            }
            (ClientMessage::TakeDesk { .. } | ClientMessage::LeaveDesk | ClientMessage::CallNext, _, None) => {
                Err((ErrorCode::StaffOnly, "only staff can do that"))
            }
            _ => continue,
        };
        match forward.and_then(|r| link.submit(r)) {
            Ok(()) => {}
            Err((code, message)) => refuse(&mut server, code, message),
        }
    }
}

/// Greets new arrivals with every desk sign, asks the queue for a resident's tickets, and
/// puts a clerk who still holds a desk (a reconnect within the grace period) behind it.
fn greet_arrivals(
    arrivals: Query<(Entity, &Avatar, Option<&Who>), Added<Avatar>>,
    signs: Res<DeskSigns>,
    office: Res<OfficeLayout>,
    mut link: Option<ResMut<QueueLink>>,
    mut presence: ResMut<StaffPresence>,
    mut server: ResMut<RenetServer>,
    mut places: Query<(&mut Position, &mut Intent)>,
) {
    for (entity, avatar, who) in &arrivals {
        for (sign, _) in signs.0.values() {
            send_to(&mut server, avatar.client_id, encode(&ServerMessage::Desk(sign.clone())));
        }
        let Some(link) = link.as_mut() else { continue };
        match who.map(|w| &w.0) {
            Some(WorldPrincipal::Resident { id }) => {
                link.report(QueueRequest::Joined { resident_id: id.clone() });
            }
            Some(WorldPrincipal::Staff { id, .. }) => {
                presence.avatars.insert(entity, *id);
                if let Some((counter, _)) = signs.0.iter().find(|(_, (_, holder))| *holder == Some(*id)) {
                    place_behind(&office, counter, avatar.client_id, &mut server, places.get_mut(entity).ok());
                }
            }
            None => {}
        }
    }
}

/// Moves a clerk's avatar to the staff spot of `counter`.
fn place_behind(
    office: &OfficeLayout,
    counter: &str,
    client_id: u64,
    server: &mut RenetServer,
    place: Option<(Mut<Position>, Mut<Intent>)>,
) {
    let (Some((room, c)), Some((mut pos, mut intent))) = (office.counter(counter), place) else { return };
    let at = Point::new(c.staff_spot[0], c.staff_spot[1]);
    let changed_room = pos.room != room.index;
    pos.room = room.index;
    pos.at = at;
    *intent = Intent { last_seq: intent.last_seq, ..Default::default() };
    if changed_room {
        let msg = ServerMessage::EnteredRoom { room: room.index, pos: QPos::from_point(at) };
        send_to(server, client_id, encode(&msg));
    }
}

/// Moves a clerk standing behind `counter` to the first spawn point of its room, on the public
/// side of the counters.
fn step_out(
    office: &OfficeLayout,
    counter: &str,
    staff_id: i64,
    avatars: &Query<(Entity, &Avatar, Option<&Who>)>,
    places: &mut Query<(&mut Position, &mut Intent)>,
) {
    let Some((room, c)) = office.counter(counter) else { return };
    let Some(exit) = room.file.spawns.first().map(|s| Point::new(s.at[0], s.at[1])) else { return };
    let spot = Point::new(c.staff_spot[0], c.staff_spot[1]);
    for (entity, _, who) in avatars.iter() {
        if !matches!(who.map(|w| &w.0), Some(WorldPrincipal::Staff { id, .. }) if *id == staff_id) {
            continue;
        }
        if let Ok((mut pos, mut intent)) = places.get_mut(entity)
            && pos.room == room.index
            && pos.at.distance_squared(spot) <= DESK_RANGE * DESK_RANGE
        {
            pos.at = exit;
            // Same room: the next snapshot carries the new position.
            *intent = Intent { last_seq: intent.last_seq, ..Default::default() };
        }
    }
}

/// Delivers the queue's notices.
#[allow(clippy::too_many_arguments)]
fn drain_notices(
    link: Option<ResMut<QueueLink>>,
    office: Res<OfficeLayout>,
    metrics: Res<WorldMetrics>,
    mut signs: ResMut<DeskSigns>,
    mut called: ResMut<Called>,
    mut at_counters: ResMut<AtCounters>,
    mut server: ResMut<RenetServer>,
    avatars: Query<(Entity, &Avatar, Option<&Who>)>,
    mut places: Query<(&mut Position, &mut Intent)>,
    mut by_resident: Local<HashMap<String, Vec<u64>>>,
) {
    let Some(mut link) = link else { return };
    link.flush();
    let mut notices = Vec::new();
    while let Ok(n) = link.notices.try_recv() {
        notices.push(n);
    }
    if notices.is_empty() {
        return;
    }
    by_resident.clear();
    for (_, a, who) in &avatars {
        if let Some(WorldPrincipal::Resident { id }) = who.map(|w| &w.0) {
            by_resident.entry(id.clone()).or_default().push(a.client_id);
        }
    }
    for notice in notices {
        match notice {
            WorldNotice::Ticket { resident_id, info } => {
                match (&info.status, &info.counter) {
                    (TicketStatus::Called, Some(counter)) => {
                        called.0.insert(info.id, (resident_id.clone(), counter.clone()));
                    }
                    _ => {
                        called.0.remove(&info.id);
                    }
                }
                // The queue displays: every open counter this ticket was or is at shows the
                // newest ticket there, and everyone sees a display that changed.
                let before = at_counters.0.get(&info.id).map(|(c, _)| c.clone());
                match (&info.status, &info.counter) {
                    (TicketStatus::Called | TicketStatus::Serving, Some(counter)) => {
                        at_counters.0.insert(info.id, (counter.clone(), info.label.clone()));
                        at_counters.keep_newest(counter, 4);
                    }
                    _ => {
                        at_counters.0.remove(&info.id);
                    }
                }
                for counter in before.iter().chain(info.counter.iter()) {
                    let Some((sign, _)) = signs.0.get_mut(counter) else { continue };
                    let now = if sign.open { at_counters.serving(counter) } else { None };
                    if sign.serving != now {
                        sign.serving = now;
                        let bytes = encode(&ServerMessage::Desk(sign.clone()));
                        for (_, a, _) in &avatars {
                            send_to(&mut server, a.client_id, bytes.clone());
                        }
                    }
                }
                let bytes = encode(&ServerMessage::Ticket(info));
                for client in by_resident.get(&resident_id).into_iter().flatten() {
                    send_to(&mut server, *client, bytes.clone());
                }
            }
            WorldNotice::Desk { mut sign, staff_id } => {
                let counter = sign.counter.clone();
                sign.serving = if sign.open { at_counters.serving(&counter) } else { None };
                let previous = signs.0.insert(counter.clone(), (sign.clone(), staff_id)).and_then(|(_, h)| h);
                // A clerk whose desk closed while standing behind it is shown out to the floor.
                if let (Some(prev), None) = (previous, staff_id) {
                    step_out(&office, &counter, prev, &avatars, &mut places);
                }
                // A clerk who just took the desk goes behind it (a desk told again, as after
                // missed events, moves nobody).
                let taken_by = staff_id.filter(|s| previous != Some(*s));
                let bytes = encode(&ServerMessage::Desk(sign));
                for (entity, a, who) in &avatars {
                    send_to(&mut server, a.client_id, bytes.clone());
                    let is_holder = matches!((who.map(|w| &w.0), taken_by), (Some(WorldPrincipal::Staff { id, .. }), Some(s)) if *id == s);
                    if is_holder {
                        place_behind(&office, &counter, a.client_id, &mut server, places.get_mut(entity).ok());
                    }
                }
            }
            WorldNotice::Consultation { resident_id, consultation } => {
                let bytes = encode(&ServerMessage::Consultation { id: consultation });
                for client in by_resident.get(&resident_id).into_iter().flatten() {
                    send_to(&mut server, *client, bytes.clone());
                }
            }
            WorldNotice::Error { client_id, code, message } => {
                send_error(&mut server, &metrics, client_id, code, message)
            }
        }
    }
}

/// A few times a second: residents who reach the counter they were called to have arrived;
/// clerks who leave their desk (or disconnect) start its grace period, and stop it on return.
#[allow(clippy::too_many_arguments)]
fn watch_presence(
    tick: Res<TickCount>,
    office: Res<OfficeLayout>,
    link: Option<ResMut<QueueLink>>,
    signs: Res<DeskSigns>,
    mut called: ResMut<Called>,
    mut presence: ResMut<StaffPresence>,
    mut removed: RemovedComponents<Avatar>,
    avatars: Query<(Entity, &Position, &Who)>,
) {
    let Some(mut link) = link else { return };
    let gone: Vec<i64> = removed.read().filter_map(|e| presence.avatars.remove(&e)).collect();
    if gone.is_empty() && !tick.0.is_multiple_of(5) {
        return;
    }
    let holders: HashMap<i64, &str> =
        signs.0.iter().filter_map(|(counter, (_, holder))| holder.map(|h| (h, counter.as_str()))).collect();
    presence.at_desk.retain(|id, _| holders.contains_key(id));
    // A clerk is at their desk if any of their avatars is; one whose avatar just left is not.
    // A clerk who never joined the world (a console-only desk) is not reported at all.
    let mut here: HashMap<i64, bool> =
        gone.into_iter().filter(|id| holders.contains_key(id)).map(|id| (id, false)).collect();
    let mut residents: HashMap<&str, Vec<&Position>> = HashMap::new();
    for (_, pos, who) in &avatars {
        match &who.0 {
            WorldPrincipal::Resident { id } => residents.entry(id.as_str()).or_default().push(pos),
            WorldPrincipal::Staff { id, .. } => {
                let Some(counter) = holders.get(id) else { continue };
                let Some((room, c)) = office.counter(counter) else { continue };
                let spot = Point::new(c.staff_spot[0], c.staff_spot[1]);
                let at = room.index == pos.room && spot.distance_squared(pos.at) <= DESK_RANGE * DESK_RANGE;
                *here.entry(*id).or_insert(false) |= at;
            }
        }
    }
    for (staff_id, now_here) in here {
        if presence.at_desk.get(&staff_id) != Some(&now_here) {
            presence.at_desk.insert(staff_id, now_here);
            link.report(QueueRequest::Presence { staff_id, present: now_here });
        }
    }
    let mut arrived = Vec::new();
    for (ticket, (resident, counter)) in &called.0 {
        let Some((room, c)) = office.counter(counter) else { continue };
        let spot = Point::new(c.resident_spot[0], c.resident_spot[1]);
        let there = residents
            .get(resident.as_str())
            .into_iter()
            .flatten()
            .any(|p| p.room == room.index && spot.distance_squared(p.at) <= ARRIVE_RANGE * ARRIVE_RANGE);
        if there {
            link.report(QueueRequest::Arrived { resident_id: resident.clone(), ticket: *ticket });
            arrived.push(*ticket);
        }
    }
    for t in arrived {
        called.0.remove(&t);
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<DeskSigns>()
        .init_resource::<Called>()
        .init_resource::<AtCounters>()
        .init_resource::<StaffPresence>()
        .add_systems(Startup, setup_signs)
        .add_systems(
            Update,
            (
                handle_requests.in_set(TickSet::Receive).after(receive_messages),
                (drain_notices, greet_arrivals).chain().in_set(TickSet::Simulate).before(move_avatars),
                watch_presence.after(TickSet::Simulate).before(TickSet::Publish),
            ),
        );
}
