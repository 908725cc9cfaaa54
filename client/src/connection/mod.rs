//! The connection to the office: a guest session over HTTP, then the world over netcode/UDP
//! (desktop) or a WebSocket (browser), both carrying the same renet packets.
//!
//! HTTP runs off the frame loop ([`crate::http::Job`]). The transport is a non-send resource
//! because the browser's WebSocket lives on the main thread.
//!
//! May use: nothing.

mod transport;

use crate::frame::Step;
use crate::http::Job;
use bevy::prelude::*;
use madoguchi_shared::api;
use madoguchi_shared::protocol::{
    Channel, ClientMessage, Look, PROTOCOL_VERSION, ServerMessage, connection_config, decode_server, encode,
};
use renet::RenetClient;
use std::time::Duration;
pub use transport::{Grant, LinkState, Transport};

/// Where the office is and who we are.
#[derive(Resource, Debug, Clone)]
pub struct ServerConfig {
    /// HTTP base URL, e.g. `http://127.0.0.1:8080` (the page's own origin in the browser).
    pub http_base: String,
}

/// What the player typed on the join screen.
#[derive(Resource, Debug, Clone, Default)]
pub struct JoinRequest {
    pub name: String,
    pub locale: String,
    /// As chosen on the join screen; `None`: [`Look::for_name`].
    pub look: Option<Look>,
}

impl JoinRequest {
    /// The look we say `Hello` with.
    pub fn look(&self) -> Look {
        self.look.unwrap_or_else(|| Look::for_name(&self.name))
    }
}

/// The connection's state, shown to the player.
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub enum ConnState {
    /// Waiting for the player to join.
    #[default]
    Idle,
    /// Asking the server for a session and a ticket.
    Requesting,
    /// Transport open, `Hello` sent, waiting for `Welcome`.
    Handshaking,
    Connected,
    /// Lost; trying again at the given elapsed time.
    Reconnecting {
        reason: String,
        retry_at: Duration,
    },
    /// Refused for good (e.g. protocol mismatch): nothing to retry.
    Failed(String),
    /// Our session ended (signed out, or expired while we were away): the server cancelled its
    /// waiting tickets. We never continue as someone else without saying so: the player joins
    /// again, as a new guest, from the join screen, which says what happened.
    SessionEnded,
}

/// The session ended: the join screen says so (until the player joins again).
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct SessionEndedNotice;

/// The live link, if any.
#[derive(Default)]
pub struct Link {
    pub transport: Option<Box<dyn Transport>>,
    pub renet: Option<RenetClient>,
}

/// The session token; kept (in the browser's local storage) so a reload keeps the ticket.
#[derive(Resource, Debug, Clone, Default)]
pub struct SessionToken(pub Option<String>);

/// What a grant request returns: the session token and the grant, or why not.
pub type GrantResult = Result<(String, Grant), GrantError>;

/// Why no grant came back.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantError {
    /// The stored session is no longer valid.
    SessionEnded,
    /// Anything else (network, server), worth retrying.
    Failed(String),
}

/// A sign-in under way (the desktop client's, in the system browser). When it finishes, the
/// office moves the guest's records to the resident and ends the guest session: that end is
/// then not the player's, and the app waits for the sign-in's session instead of leaving
/// (`held`: it did).
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct SignInUnderWay {
    pub running: bool,
    pub held: bool,
}

/// Failed connection attempts in a row, for the reconnect backoff; reset by `Welcome`.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct Backoff(pub u32);

/// How long to wait before reconnect attempt `failures` (1 = the first retry): 1 s doubling to
/// 30 s, each spread by ±25 % with `jitter` in [0, 1), so a server restart is not met by every
/// client at the same instant.
pub fn retry_delay(failures: u32, jitter: f32) -> Duration {
    let base = (1u64 << failures.saturating_sub(1).min(5)).min(30) as f32;
    Duration::from_secs_f32(base * (0.75 + 0.5 * jitter.clamp(0.0, 1.0)))
}

/// The state after a failure: reconnecting after the backoff delay.
fn lost(reason: String, backoff: &mut Backoff, now: Duration) -> ConnState {
    backoff.0 = backoff.0.saturating_add(1);
    ConnState::Reconnecting { reason, retry_at: now + retry_delay(backoff.0, crate::platform::random_unit()) }
}

/// The grant request running off the frame loop, if any.
#[derive(Resource, Default)]
pub struct Pending(pub Option<Job<GrantResult>>);

/// Server messages as they arrive, for the rest of the client.
#[derive(Message, Debug, Clone)]
pub struct FromServer(pub ServerMessage);

/// Messages for the server.
#[derive(Message, Debug, Clone)]
pub struct ToServer(pub ClientMessage);

/// Gets a grant to enter the world for our session, or starts a guest session first if we have
/// none. A session the server no longer knows is [`GrantError::SessionEnded`], never silently
/// replaced by a new one.
pub async fn request_grant(
    http_base: String,
    session: Option<String>,
    name: String,
    locale: String,
    websocket: bool,
) -> GrantResult {
    let http = reqwest::Client::new();
    let failed = |e: crate::http::Failed| GrantError::Failed(e.message);
    let token = match &session {
        Some(t) => t.clone(),
        None => {
            let guest = api::GuestRequest { display_name: Some(name), locale: Some(locale) };
            let req = http.post(format!("{http_base}{}", api::paths::GUEST_SESSION)).json(&guest);
            crate::http::json::<api::SessionBody>(req, "session").await.map_err(failed)?.session_token
        }
    };
    let path = if websocket { api::paths::WS_TICKET } else { api::paths::CONNECT_TOKEN };
    let req = http.post(format!("{http_base}{path}")).bearer_auth(&token);
    let grant = if websocket {
        let b: api::WsTicketBody = crate::http::json(req, "ticket").await.map_err(ended_or_failed)?;
        let ws_base = http_base.replacen("http", "ws", 1);
        Grant::WebSocket { url: format!("{ws_base}{}?ticket={}", b.path, b.ticket) }
    } else {
        use base64::Engine;
        let b: api::ConnectTokenBody = crate::http::json(req, "token").await.map_err(ended_or_failed)?;
        let token = base64::engine::general_purpose::STANDARD
            .decode(b.connect_token)
            .map_err(|e| GrantError::Failed(format!("token: {e}")))?;
        Grant::Netcode { token }
    };
    Ok((token, grant))
}

/// A session the office no longer knows (401: signed out, expired, or the server's database was
/// reset) has ended; anything else is worth retrying.
fn ended_or_failed(e: crate::http::Failed) -> GrantError {
    if e.status == Some(401) { GrantError::SessionEnded } else { GrantError::Failed(e.message) }
}

/// Our session has ended: forget it, and go back to the join screen, which says so.
pub(crate) fn end_session(session: &mut SessionToken, backoff: &mut Backoff, commands: &mut Commands) {
    session.0 = None;
    crate::platform::forget_session();
    backoff.0 = 0;
    commands.remove_resource::<JoinRequest>();
    commands.insert_resource(SessionEndedNotice);
}

/// Starts a renet client over `transport` and says `Hello`.
pub fn open(link: &mut Link, transport: Box<dyn Transport>, join: &JoinRequest) {
    let mut renet = RenetClient::new(connection_config());
    renet.set_connecting();
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        name: join.name.clone(),
        locale: join.locale.clone(),
        look: join.look(),
    };
    renet.send_message(Channel::Events, encode(&hello));
    link.renet = Some(renet);
    link.transport = Some(transport);
}

/// Pumps the transport, turns what arrived into [`FromServer`] messages and sends [`ToServer`]
/// ones; notices a lost link, and a session the server has ended.
pub fn pump_link(
    mut link: NonSendMut<Link>,
    time: Res<Time<Real>>,
    mut state: ResMut<ConnState>,
    mut backoff: ResMut<Backoff>,
    mut session: ResMut<SessionToken>,
    mut sign_in: ResMut<SignInUnderWay>,
    mut outgoing: MessageReader<ToServer>,
    mut incoming: MessageWriter<FromServer>,
    mut commands: Commands,
) {
    let Link { transport, renet } = &mut *link;
    let (Some(transport), Some(renet)) = (transport.as_mut(), renet.as_mut()) else {
        outgoing.clear();
        return;
    };
    let dt = time.delta();
    renet.update(dt);
    let link_state = transport.state();
    match &link_state {
        LinkState::Open => renet.set_connected(),
        LinkState::Connecting => renet.set_connecting(),
        LinkState::Closed(_) => {}
    }
    for m in outgoing.read() {
        let channel = match m.0 {
            ClientMessage::Input { .. } => Channel::Movement,
            _ => Channel::Events,
        };
        renet.send_message(channel, encode(&m.0));
    }
    // What already arrived is read before a closed link is dropped: a `Refused` often comes
    // just before the close.
    transport.pump(renet, dt);
    for channel in [Channel::Events, Channel::Movement] {
        while let Some(bytes) = renet.receive_message(channel) {
            if let Ok(msg) = decode_server(&bytes) {
                match &msg {
                    ServerMessage::Welcome { .. } => {
                        *state = ConnState::Connected;
                        backoff.0 = 0;
                    }
                    ServerMessage::Refused { code, message } => {
                        *state = match code {
                            // Nothing to retry: another version, or this session is in use
                            // elsewhere (retrying would take it back, and so on for ever).
                            madoguchi_shared::ErrorCode::ProtocolMismatch | madoguchi_shared::ErrorCode::Replaced => {
                                ConnState::Failed(message.clone())
                            }
                            madoguchi_shared::ErrorCode::SessionEnded if sign_in.running => {
                                sign_in.held = true;
                                ConnState::Reconnecting { reason: message.clone(), retry_at: Duration::MAX }
                            }
                            madoguchi_shared::ErrorCode::SessionEnded => {
                                end_session(&mut session, &mut backoff, &mut commands);
                                ConnState::SessionEnded
                            }
                            _ => lost(message.clone(), &mut backoff, time.elapsed()),
                        };
                    }
                    _ => {}
                }
                incoming.write(FromServer(msg));
            }
        }
    }
    match link_state {
        LinkState::Open | LinkState::Connecting => {}
        LinkState::Closed(reason) => {
            renet.disconnect_due_to_transport();
            if !matches!(*state, ConnState::Failed(_) | ConnState::Reconnecting { .. } | ConnState::SessionEnded) {
                *state = lost(reason, &mut backoff, time.elapsed());
            }
            link.transport = None;
            link.renet = None;
        }
    }
}

/// Starts a request when the player joins or a reconnect is due; opens the transport when the
/// request comes back. When the session has ended, forgets it and goes back to the join screen.
pub fn drive_connection(
    mut link: NonSendMut<Link>,
    mut state: ResMut<ConnState>,
    join: Option<Res<JoinRequest>>,
    config: Res<ServerConfig>,
    mut pending: ResMut<Pending>,
    time: Res<Time<Real>>,
    mut session: ResMut<SessionToken>,
    mut backoff: ResMut<Backoff>,
    mut sign_in: ResMut<SignInUnderWay>,
    mut commands: Commands,
) {
    let Some(join) = join else { return };
    let start = match &*state {
        // A new join after the session ended starts a new guest session: the player chose to.
        ConnState::Idle | ConnState::SessionEnded => true,
        ConnState::Reconnecting { retry_at, .. } => time.elapsed() >= *retry_at,
        _ => false,
    };
    if start {
        *state = ConnState::Requesting;
        pending.0 = Some(Job::start(request_grant(
            config.http_base.clone(),
            session.0.clone(),
            join.name.clone(),
            join.locale.clone(),
            cfg!(target_arch = "wasm32"),
        )));
        return;
    }
    if *state != ConnState::Requesting {
        return;
    }
    let Some(done) = pending.0.as_ref().and_then(Job::answer) else { return };
    pending.0 = None;
    match done {
        Ok((token, grant)) => {
            crate::platform::remember_session(&token);
            session.0 = Some(token);
            match transport::transport(&grant) {
                Ok(t) => {
                    open(&mut link, t, &join);
                    *state = ConnState::Handshaking;
                }
                Err(e) => *state = lost(e, &mut backoff, time.elapsed()),
            }
        }
        // The guest session a sign-in under way is moving to the resident: wait for it.
        Err(GrantError::SessionEnded) if sign_in.running => {
            sign_in.held = true;
            *state = ConnState::Reconnecting { reason: String::new(), retry_at: Duration::MAX };
        }
        Err(GrantError::SessionEnded) => {
            *state = ConnState::SessionEnded;
            end_session(&mut session, &mut backoff, &mut commands);
        }
        Err(GrantError::Failed(e)) => *state = lost(e, &mut backoff, time.elapsed()),
    }
}

/// Says goodbye to the server when the app closes, so our avatar leaves at once.
fn close_on_exit(exit: MessageReader<AppExit>, mut link: NonSendMut<Link>) {
    if !exit.is_empty()
        && let Some(t) = link.transport.as_mut()
    {
        t.close();
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ConnState>()
        .init_resource::<Backoff>()
        .init_resource::<Pending>()
        .init_resource::<SessionToken>()
        .init_resource::<SignInUnderWay>()
        .insert_non_send(Link::default())
        .add_message::<FromServer>()
        .add_message::<ToServer>()
        .add_systems(PreUpdate, (drive_connection, pump_link).chain().in_set(Step::Connect))
        .add_systems(Last, close_on_exit);
}
