//! Connections: admission by single-use token, the handshake, and the phase check that every
//! client message passes before anything acts on it.

use crate::chat::ChatBucket;
use crate::metrics::Metrics;
use crate::tokens::{IssuedToken, Nonce, WorldPrincipal, parse_user_data};
use crate::transport::{UdpTransport, WorldMetrics};
use crate::view::View;
use crate::world::{Avatar, Intent, NetIds, OfficeLayout, Position, TickSet, WorldSettings};
use bevy::prelude::*;
use bevy_renet::renet::ServerEvent;
use bevy_renet::{RenetReceive, RenetServer, RenetServerEvent};
use madoguchi_shared::ErrorCode;
use madoguchi_shared::limits::{HELLO_TIMEOUT, LOCALE_MAX_BYTES, MAX_STRIKES, NAME_MAX_CHARS};
use madoguchi_shared::movement::clamp_velocity;
use madoguchi_shared::protocol::{
    Channel, ClientMessage, DecodeError, PROTOCOL_VERSION, ServerMessage, decode_client, encode, peek_hello_version,
};
use madoguchi_shared::quant::{Point, QPos};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

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
}

/// Most clients connected at once, over every transport together.
#[derive(Resource, Debug, Clone, Copy)]
pub struct MaxClients(pub usize);

/// Every connected client, by renet client id.
#[derive(Resource, Default, Deref, DerefMut)]
pub struct Clients(pub HashMap<u64, Client>);

/// Nonces of issued, not yet used connect tokens, fed by the HTTP side.
#[derive(Resource)]
pub struct TokenLedger {
    issued: UnboundedReceiver<IssuedToken>,
    live: HashMap<Nonce, IssuedToken>,
    next_sweep: Instant,
}

impl TokenLedger {
    pub fn new(issued: UnboundedReceiver<IssuedToken>) -> Self {
        Self { issued, live: HashMap::new(), next_sweep: Instant::now() }
    }

    /// Uses up a nonce. False if it was never issued here, already used, or long expired.
    fn consume(&mut self, nonce: &Nonce) -> Option<IssuedToken> {
        self.live.remove(nonce)
    }
}

/// A chat line from a joined client, for [`crate::chat`].
#[derive(Message, Debug, Clone)]
pub struct ChatRequest {
    pub avatar: Entity,
    pub text: String,
}

/// Who an avatar belongs to, from the connect token (residents and staff alike).
#[derive(Component, Debug, Clone, Deref)]
pub struct Who(pub WorldPrincipal);

/// A counter or queue message from a joined client, for [`crate::counters`].
#[derive(Message, Debug, Clone)]
pub struct CounterRequest {
    pub avatar: Entity,
    pub msg: ClientMessage,
}

/// How long a refused client has to receive its `Refused` before the connection closes.
const CLOSE_LINGER: Duration = Duration::from_millis(300);
/// How long past its expiry a nonce is remembered (netcode refuses the token itself by then).
const NONCE_GRACE: Duration = Duration::from_secs(60);

/// Queues raw bytes on the reliable channel.
pub fn send_to(server: &mut RenetServer, client_id: u64, bytes: Vec<u8>) {
    server.send_message(client_id, Channel::Events, bytes);
}

/// Tells a client one of its messages was refused, and counts it.
pub fn send_error(server: &mut RenetServer, metrics: &Metrics, client_id: u64, code: ErrorCode, message: String) {
    metrics.refuse(code);
    send_to(server, client_id, encode(&ServerMessage::Error { code, message }));
}

fn refuse(
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

/// Moves newly issued token nonces into the ledger; runs before the transport reads packets so a
/// token is always known by the time its connection completes.
fn admit_tokens(mut ledger: ResMut<TokenLedger>) {
    while let Ok(t) = ledger.issued.try_recv() {
        ledger.live.insert(t.nonce, t);
    }
    // Unused nonces are forgotten once netcode would refuse their tokens anyway; a sweep a
    // second keeps this off the tick (issuing is rate-limited per session on the HTTP side).
    let now = Instant::now();
    if now >= ledger.next_sweep {
        ledger.live.retain(|_, t| t.expires_at + NONCE_GRACE > now);
        ledger.next_sweep = now + Duration::from_secs(1);
    }
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
    ws: Option<ResMut<crate::websocket::WsLink>>,
    max: Option<Res<MaxClients>>,
    mut commands: Commands,
) {
    let now = time.elapsed();
    match &**event {
        ServerEvent::ClientConnected { client_id } => {
            Metrics::add(&metrics.connections_total, 1);
            let mut client =
                Client { phase: Phase::AwaitingHello { since: now }, avatar: None, strikes: 0, principal: None };
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
                Some(principal) => {
                    Some(IssuedToken { nonce: Nonce::default(), principal, expires_at: std::time::Instant::now() })
                }
                None => {
                    let nonce = transport.user_data(*client_id).map(|d| parse_user_data(&d)).unwrap_or_default();
                    ledger.consume(&nonce)
                }
            };
            match issued {
                Some(issued) => {
                    tracing::info!(client_id, principal = ?issued.principal, "client connected");
                    client.principal = Some(issued.principal);
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
            Metrics::add(&metrics.disconnections_total, 1);
            tracing::info!(client_id, %reason, "client disconnected");
            if let Some(avatar) = clients.remove(client_id).and_then(|c| c.avatar) {
                commands.entity(avatar).despawn();
            }
        }
    }
}

/// Why a name or locale from `Hello` is refused.
fn check_hello(name: &str, locale: &str) -> Result<String, (ErrorCode, String)> {
    let name = crate::chat::clean_text(name);
    let n = name.chars().count();
    if n == 0 || n > NAME_MAX_CHARS {
        return Err((ErrorCode::NameInvalid, format!("a display name needs 1 to {NAME_MAX_CHARS} characters")));
    }
    let locale_ok = (2..=LOCALE_MAX_BYTES).contains(&locale.len())
        && locale.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !locale_ok {
        return Err((ErrorCode::LocaleInvalid, "locale must be a language tag such as ja, en or ja-Hira".into()));
    }
    Ok(name)
}

/// Reads every client's messages, decodes them, and checks each against the client's phase
/// and bounds before applying it. Bad input gets an error back; repeated bad input, or a
/// protocol mismatch, closes that one connection.
pub(crate) fn receive_messages(
    time: Res<Time<Real>>,
    office: Res<OfficeLayout>,
    settings: Res<WorldSettings>,
    metrics: Res<WorldMetrics>,
    mut server: ResMut<RenetServer>,
    mut clients: ResMut<Clients>,
    mut ids: ResMut<NetIds>,
    mut intents: Query<(&Position, &mut Intent)>,
    mut chat: MessageWriter<ChatRequest>,
    mut counter: MessageWriter<CounterRequest>,
    mut commands: Commands,
) {
    let now = time.elapsed();
    for (&client_id, client) in clients.iter_mut() {
        for channel in [Channel::Events, Channel::Movement] {
            while let Some(bytes) = server.receive_message(client_id, channel) {
                if matches!(client.phase, Phase::Closing { .. }) {
                    continue;
                }
                let msg = match decode_client(&bytes) {
                    Ok(m) => m,
                    Err(e) => {
                        if let (Phase::AwaitingHello { .. }, Some(v)) = (client.phase, peek_hello_version(&bytes)) {
                            protocol_mismatch(&mut server, &metrics, client, client_id, v, now);
                            continue;
                        }
                        let code = match e {
                            DecodeError::TooLarge(_) => ErrorCode::TooLarge,
                            DecodeError::Malformed(_) => ErrorCode::Malformed,
                        };
                        strike(&mut server, &metrics, client, client_id, code, e.to_string(), now);
                        continue;
                    }
                };
                let avatar = client.avatar.unwrap_or(Entity::PLACEHOLDER);
                let result = match (client.phase, msg) {
                    (Phase::AwaitingHello { .. }, ClientMessage::Hello { protocol, name, locale }) => {
                        if protocol != PROTOCOL_VERSION {
                            protocol_mismatch(&mut server, &metrics, client, client_id, protocol, now);
                            continue;
                        }
                        match check_hello(&name, &locale) {
                            Ok(name) => {
                                let net_id = ids.allocate();
                                let at = office.entry_point;
                                // Staff appear under their account's name, marked as staff.
                                let (name, staff) = match &client.principal {
                                    Some(WorldPrincipal::Staff { name: account, .. }) => (account.clone(), true),
                                    _ => (name, false),
                                };
                                let who = client.principal.clone().map(Who);
                                let avatar = commands
                                    .spawn((
                                        Avatar { net_id, client_id, name: name.clone(), locale, staff },
                                        Position { room: office.entry_room, at },
                                        Intent::default(),
                                        ChatBucket::new(now),
                                        View::default(),
                                    ))
                                    .id();
                                if let Some(who) = who {
                                    commands.entity(avatar).insert(who);
                                }
                                client.phase = Phase::Joined;
                                client.avatar = Some(avatar);
                                let welcome = ServerMessage::Welcome {
                                    protocol: PROTOCOL_VERSION,
                                    you: net_id,
                                    room: office.entry_room,
                                    pos: QPos::from_point(at),
                                    tick_hz: settings.tick_hz,
                                    snapshot_hz: settings.snapshot_hz,
                                };
                                send_to(&mut server, client_id, encode(&welcome));
                                tracing::info!(client_id, net_id, %name, "joined");
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                    (Phase::AwaitingHello { .. }, _) => Err((ErrorCode::NotJoined, "say Hello first".into())),
                    (Phase::Joined, ClientMessage::Hello { .. }) => {
                        Err((ErrorCode::AlreadyJoined, "already joined".into()))
                    }
                    (Phase::Joined, ClientMessage::Input { seq, vel, run }) => {
                        if let Ok((_, mut intent)) = intents.get_mut(avatar) {
                            // Unreliable inputs can arrive out of order: keep only newer ones.
                            if (seq.wrapping_sub(intent.last_seq) as i32) > 0 {
                                intent.set_velocity(clamp_velocity(vel.to_point(), run), run, seq, now);
                            }
                        }
                        Ok(())
                    }
                    (Phase::Joined, ClientMessage::MoveTo { target, run }) => match intents.get_mut(avatar) {
                        Ok((pos, mut intent)) => {
                            let p = target.to_point();
                            let size = office.room(pos.room).map(|r| r.size).unwrap_or(Point::ZERO);
                            if p.x < 0.0 || p.y < 0.0 || p.x > size.x || p.y > size.y {
                                Err((ErrorCode::TargetInvalid, "target lies outside the room".into()))
                            } else {
                                intent.goal = Some(p);
                                intent.goal_at = now;
                                intent.route.clear();
                                intent.run = run;
                                Ok(())
                            }
                        }
                        Err(_) => Ok(()),
                    },
                    (Phase::Joined, ClientMessage::Chat { text }) => {
                        chat.write(ChatRequest { avatar, text });
                        Ok(())
                    }
                    (
                        Phase::Joined,
                        msg @ (ClientMessage::TakeTicket { .. }
                        | ClientMessage::CancelTicket { .. }
                        | ClientMessage::TakeDesk { .. }
                        | ClientMessage::LeaveDesk
                        | ClientMessage::CallNext),
                    ) => {
                        counter.write(CounterRequest { avatar, msg });
                        Ok(())
                    }
                    (Phase::Closing { .. }, _) => Ok(()),
                };
                match result {
                    Ok(()) => client.strikes = 0,
                    Err((code, message)) => strike(&mut server, &metrics, client, client_id, code, message, now),
                }
            }
        }
    }
}

fn protocol_mismatch(
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

fn strike(
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
fn expire_phases(
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
    Metrics::set(&metrics.connected_clients, server.connected_clients() as u64);
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Clients>()
        .add_message::<ChatRequest>()
        .add_message::<CounterRequest>()
        .add_observer(handle_server_event)
        .add_systems(PreUpdate, admit_tokens.before(RenetReceive))
        .add_systems(Update, (receive_messages.in_set(TickSet::Receive), expire_phases.after(TickSet::Publish)));
}
