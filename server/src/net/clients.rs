//! Connected clients: each one's record (phase, strikes, principal, avatar), admission when a
//! transport reports a connection, refusals, and closing connections whose refusal has been
//! delivered or that never said `Hello`. Every client message is checked against its phase (see
//! `world::receive`) before anything acts on it.

use super::outbox::{send_error, send_to};
use super::tokens::{IssuedToken, Nonce, TokenLedger, parse_user_data};
use super::udp::UdpTransport;
use super::websocket::WsLink;
use crate::identity::principal::WorldPrincipal;
use crate::identity::sessions::SessionKey;
use crate::metrics::{Metrics, WorldMetrics};
use bevy::prelude::*;
use bevy_renet::renet::ServerEvent;
use bevy_renet::{RenetSend, RenetServer, RenetServerEvent};
use madoguchi_shared::ErrorCode;
use madoguchi_shared::limits::{HELLO_TIMEOUT, MAX_STRIKES};
use madoguchi_shared::protocol::{PROTOCOL_VERSION, ServerMessage, encode};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where a connection is in its life. Messages are checked against it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Connected at the transport level; only `Hello` is accepted.
    AwaitingHello { since: Duration },
    /// Past the handshake, with an avatar in the world.
    Joined,
    /// Refused: a `Refused` message is on its way, and the connection closes at `at`.
    Closing { at: Duration },
}

/// One connected client.
#[derive(Debug)]
pub struct Client {
    pub phase: Phase,
    /// The avatar, once joined. Kept through `Closing`, so it is removed when the connection is.
    pub avatar: Option<Entity>,
    /// Consecutive refused or malformed messages.
    pub strikes: u32,
    /// Who the connect token was issued to.
    pub principal: Option<WorldPrincipal>,
    /// The session it was issued to, kept alive while the client stays.
    pub session: Option<SessionKey>,
    /// The network address it connects from.
    pub addr: Option<IpAddr>,
}

/// Most connections from one network address (`--max-clients-per-address`).
#[derive(Resource, Debug, Clone, Copy)]
pub struct MaxPerAddress(pub usize);

/// Most clients connected at once, over every transport together.
#[derive(Resource, Debug, Clone, Copy)]
pub struct MaxClients(pub usize);

/// Every connected client, by renet client id.
#[derive(Resource, Default, Deref, DerefMut)]
pub struct Clients(pub HashMap<u64, Client>);

/// How long a refused client has to receive its `Refused` before the connection closes.
const CLOSE_LINGER: Duration = Duration::from_millis(300);

/// Refuses a client: a `Refused` message is sent, and the connection closes shortly after.
pub fn refuse(
    server: &mut RenetServer,
    metrics: &Metrics,
    client: &mut Client,
    client_id: u64,
    code: ErrorCode,
    message: String,
    now: Duration,
) {
    tracing::info!(client_id, code = code.as_str(), %message, "refusing client");
    metrics.refuse(code);
    send_to(server, client_id, encode(&ServerMessage::Refused { code, message }));
    client.phase = Phase::Closing { at: now + CLOSE_LINGER };
}

/// Opens or closes a client's record when renet reports a connection or disconnection. A
/// connection whose token nonce was already used (or never issued here) is refused.
fn handle_server_event(
    event: On<RenetServerEvent>,
    time: Res<Time<Real>>,
    transport: Res<UdpTransport>,
    metrics: Res<WorldMetrics>,
    mut ledger: ResMut<TokenLedger>,
    mut clients: ResMut<Clients>,
    mut server: ResMut<RenetServer>,
    ws: Option<ResMut<WsLink>>,
    max: Option<Res<MaxClients>>,
    per_address: Option<Res<MaxPerAddress>>,
    mut commands: Commands,
) {
    let now = time.elapsed();
    match &**event {
        ServerEvent::ClientConnected { client_id } => {
            metrics.connections_total.inc();
            let mut client = Client {
                phase: Phase::AwaitingHello { since: now },
                avatar: None,
                strikes: 0,
                principal: None,
                session: None,
                addr: None,
            };
            // A WebSocket client was authenticated by its single-use ticket; a UDP one by the
            // nonce sealed in its connect token.
            let from_ws = ws.and_then(|mut l| l.pending.remove(client_id));
            // Netcode counts only its own clients: the limit over both transports is kept here.
            if max.is_some_and(|m| server.connected_clients() > m.0) {
                refuse(
                    &mut server,
                    &metrics,
                    &mut client,
                    *client_id,
                    ErrorCode::Unavailable,
                    "the office is full; try again shortly".into(),
                    now,
                );
                clients.insert(*client_id, client);
                return;
            }
            let issued = match from_ws {
                Some((entrant, addr)) => {
                    client.addr = Some(addr);
                    Some(IssuedToken { nonce: Nonce::default(), entrant, expires_at: std::time::Instant::now() })
                }
                None => {
                    client.addr = transport.client_addr(*client_id).map(|a| a.ip());
                    let nonce = transport.user_data(*client_id).map(|d| parse_user_data(&d)).unwrap_or_default();
                    ledger.consume(&nonce)
                }
            };
            // Slots cannot be hoarded: a network address holds at most so many connections (not
            // counting one of the same session, which this one replaces: a reload is no new slot)...
            let session = issued.as_ref().map(|i| &i.entrant.session);
            let from_here = clients
                .values()
                .filter(|c| c.addr.is_some() && c.addr == client.addr && !matches!(c.phase, Phase::Closing { .. }))
                .filter(|c| session.is_none() || c.session.as_ref() != session)
                .count();
            if let Some(cap) = per_address.as_ref().map(|m| m.0)
                && from_here >= cap
            {
                refuse(
                    &mut server,
                    &metrics,
                    &mut client,
                    *client_id,
                    ErrorCode::ConnectionLimit,
                    format!("too many connections from your network ({cap}); close another window first"),
                    now,
                );
                clients.insert(*client_id, client);
                return;
            }
            match issued {
                Some(issued) => {
                    tracing::info!(client_id, principal = ?issued.entrant.who, "client connected");
                    // ...and a session one: its newest connection replaces an older one.
                    for (&other_id, other) in clients.iter_mut() {
                        if other.session.as_ref() == Some(&issued.entrant.session)
                            && !matches!(other.phase, Phase::Closing { .. })
                        {
                            refuse(
                                &mut server,
                                &metrics,
                                other,
                                other_id,
                                ErrorCode::Replaced,
                                "you connected again from another window or device; this one is closed".into(),
                                now,
                            );
                        }
                    }
                    client.principal = Some(issued.entrant.who);
                    client.session = Some(issued.entrant.session);
                }
                None => refuse(
                    &mut server,
                    &metrics,
                    &mut client,
                    *client_id,
                    ErrorCode::TokenReused,
                    "this connect token was already used; request a new one".into(),
                    now,
                ),
            }
            clients.insert(*client_id, client);
        }
        ServerEvent::ClientDisconnected { client_id, reason } => {
            metrics.disconnections_total.inc();
            tracing::info!(client_id, %reason, "client disconnected");
            if let Some(avatar) = clients.remove(client_id).and_then(|c| c.avatar) {
                commands.entity(avatar).despawn();
            }
        }
    }
}

/// Refuses a client that speaks another protocol version, naming both.
pub fn protocol_mismatch(
    server: &mut RenetServer,
    metrics: &Metrics,
    client: &mut Client,
    client_id: u64,
    theirs: u16,
    now: Duration,
) {
    let message = format!(
        "protocol version mismatch: this server speaks version {PROTOCOL_VERSION}, the client speaks version {theirs}; reload the page or update the app"
    );
    refuse(server, metrics, client, client_id, ErrorCode::ProtocolMismatch, message, now);
}

/// Counts a refused message; too many in a row close the connection.
pub fn strike(
    server: &mut RenetServer,
    metrics: &Metrics,
    client: &mut Client,
    client_id: u64,
    code: ErrorCode,
    message: String,
    now: Duration,
) {
    send_error(server, metrics, client_id, code, message);
    client.strikes += 1;
    if client.strikes >= MAX_STRIKES {
        refuse(
            server,
            metrics,
            client,
            client_id,
            ErrorCode::TooManyErrors,
            format!("{MAX_STRIKES} refused messages in a row"),
            now,
        );
    }
}

/// Closes connections whose refusal has been delivered, and refuses clients that never said
/// `Hello`.
pub(super) fn expire_phases(
    time: Res<Time<Real>>,
    metrics: Res<WorldMetrics>,
    mut clients: ResMut<Clients>,
    mut server: ResMut<RenetServer>,
) {
    let now = time.elapsed();
    for (&client_id, client) in clients.iter_mut() {
        match client.phase {
            Phase::Closing { at } if now >= at => server.disconnect(client_id),
            Phase::AwaitingHello { since } if now.saturating_sub(since) > HELLO_TIMEOUT => refuse(
                &mut server,
                &metrics,
                client,
                client_id,
                ErrorCode::HelloTimeout,
                format!("no Hello within {} s", HELLO_TIMEOUT.as_secs()),
                now,
            ),
            _ => {}
        }
    }
    metrics.connected_clients.set(server.connected_clients() as i64);
}

/// The residents with an avatar in the 3D office now, for the staff console's queue ("in the 3D
/// office" or not). Written by the world every 20 ticks (a second at the default 20 Hz), read by
/// the HTTP side.
#[derive(Resource, Clone, Default)]
pub struct InWorld(pub Arc<RwLock<HashSet<String>>>);

impl InWorld {
    /// Whether resident `id` has an avatar in the world.
    pub fn contains(&self, id: &str) -> bool {
        self.0.read().unwrap_or_else(|e| e.into_inner()).contains(id)
    }
}

/// Publishes who is in the world, every 20 ticks.
fn publish_in_world(clients: Res<Clients>, board: Res<InWorld>, mut ticks: Local<u32>) {
    *ticks += 1;
    if *ticks % 20 != 1 {
        return;
    }
    let now: HashSet<String> = clients
        .0
        .values()
        .filter(|c| matches!(c.phase, Phase::Joined))
        .filter_map(|c| match &c.principal {
            Some(WorldPrincipal::Resident { id }) => Some(id.clone()),
            _ => None,
        })
        .collect();
    let mut held = board.0.write().unwrap_or_else(|e| e.into_inner());
    if *held != now {
        *held = now;
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Clients>()
        .init_resource::<InWorld>()
        .add_observer(handle_server_event)
        .add_systems(PostUpdate, expire_phases.before(RenetSend))
        .add_systems(Last, publish_in_world);
}
