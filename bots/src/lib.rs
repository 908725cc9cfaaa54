//! Headless Madoguchi clients.
//!
//! A [`Bot`] does what a real client does on the wire: gets a guest session and a connect token
//! over HTTP, connects with netcode over UDP, says `Hello`, walks and chats. It renders nothing,
//! so hundreds fit in one thread: the load benchmark and the end-to-end tests use it.

pub mod consult;
pub mod consult_bench;
pub mod server_process;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::api;
use madoguchi_shared::protocol::{
    Channel, ClientMessage, DeskSign, NetId, PROTOCOL_VERSION, ServerMessage, TicketInfo, connection_config,
    decode_server, encode,
};
use madoguchi_shared::quant::{Point, QPos, QVel};
use renet::RenetClient;
use renetcode::{ClientAuthentication, ConnectToken, DisconnectReason, NETCODE_MAX_PACKET_BYTES, NetcodeClient};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What can go wrong getting into the world.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("HTTP request to {url} failed: {detail}")]
    Http { url: String, detail: String },
    #[error("the server sent a connect token that does not parse: {0}")]
    BadToken(String),
    #[error("UDP socket: {0}")]
    Io(#[from] io::Error),
    #[error("netcode: {0}")]
    Netcode(String),
}

/// A guest session token and a connect token issued to it.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub session_token: String,
    pub connect_token: ConnectToken,
}

/// Creates a guest session at `http_base` (e.g. `http://127.0.0.1:8080`) and gets a connect token.
pub async fn fetch_credentials(http: &reqwest::Client, http_base: &str) -> Result<Credentials, BotError> {
    let url = format!("{http_base}{}", api::paths::GUEST_SESSION);
    let err = |url: &str, e: reqwest::Error| BotError::Http { url: url.to_string(), detail: e.to_string() };
    let session: api::SessionBody = http
        .post(&url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| err(&url, e))?
        .json()
        .await
        .map_err(|e| err(&url, e))?;
    let connect_token = fetch_connect_token(http, http_base, &session.session_token).await?;
    Ok(Credentials { session_token: session.session_token, connect_token })
}

/// Gets a connect token for an existing session.
pub async fn fetch_connect_token(
    http: &reqwest::Client,
    http_base: &str,
    session_token: &str,
) -> Result<ConnectToken, BotError> {
    let body: api::ConnectTokenBody =
        post_with_session(http, &format!("{http_base}{}", api::paths::CONNECT_TOKEN), session_token).await?;
    let bytes = STANDARD.decode(body.connect_token).map_err(|e| BotError::BadToken(e.to_string()))?;
    ConnectToken::read(&mut bytes.as_slice()).map_err(|e| BotError::BadToken(e.to_string()))
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

type WsStream = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// How a bot reaches the world: netcode over UDP (native clients), or renet packets over a
/// WebSocket (what the browser client does).
enum Link {
    Udp { socket: UdpSocket, netcode: Box<NetcodeClient> },
    Ws { ws: Box<WsStream>, closed: bool, last_sent: Instant },
}

/// Gets a single-use WebSocket ticket for an existing session.
pub async fn fetch_ws_ticket(http: &reqwest::Client, http_base: &str, session_token: &str) -> Result<String, BotError> {
    let body: api::WsTicketBody =
        post_with_session(http, &format!("{http_base}{}", api::paths::WS_TICKET), session_token).await?;
    Ok(body.ticket)
}

/// POSTs to `url` with the session as bearer token and reads the JSON answer.
async fn post_with_session<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    session_token: &str,
) -> Result<T, BotError> {
    let err = |e: reqwest::Error| BotError::Http { url: url.to_string(), detail: e.to_string() };
    http.post(url)
        .bearer_auth(session_token)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(err)?
        .json()
        .await
        .map_err(err)
}

/// One headless client connection and what it has learned from the server.
pub struct Bot {
    link: Link,
    renet: RenetClient,
    buf: Box<[u8; NETCODE_MAX_PACKET_BYTES]>,
    last: Instant,
    last_flush: Instant,
    /// Least time between two flushes of queued packets; a client that flushes at the server's
    /// snapshot rate sends half the datagrams of one that flushes every tick.
    pub flush_interval: Duration,
    seq: u32,
    /// Keep every reliable message in `events` (tests); bench bots leave this off.
    pub record: bool,
    pub events: Vec<ServerMessage>,
    /// Payload bytes received and sent (UDP datagrams' payloads, WebSocket frames' data).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Datagrams (or WebSocket frames) received and sent: with the bytes, the wire cost.
    pub packets_in: u64,
    pub packets_out: u64,
    /// Our avatar id, once welcomed.
    pub me: Option<NetId>,
    pub room: Option<u16>,
    /// Our position as the server last reported it.
    pub pos: Option<Point>,
    /// Other avatars in view: name and last position.
    pub others: HashMap<NetId, (String, QPos)>,
    /// Last input sequence the server says it applied.
    pub ack: u32,
    pub refused: Option<(ErrorCode, String)>,
    pub errors: Vec<(ErrorCode, String)>,
    pub chats: Vec<(NetId, String, String)>,
    /// Our tickets as last reported, and when each report arrived.
    pub tickets: HashMap<i64, (TicketInfo, Instant)>,
    /// When each ticket was first reported called.
    pub called: HashMap<i64, Instant>,
    /// Counter signs.
    pub desks: HashMap<String, DeskSign>,
    /// The running consultation the server told of (`ServerMessage::Consultation`).
    pub consultation: Option<i64>,
    /// Names of the staff avatars seen.
    pub staff_seen: Vec<String>,
    /// How each avatar seen looks, by name.
    pub looks: HashMap<String, madoguchi_shared::protocol::Look>,
}

impl Bot {
    /// Opens a UDP socket on loopback-or-any and starts connecting with `token`.
    pub fn connect(token: ConnectToken) -> Result<Bot, BotError> {
        let server =
            token.server_addresses[0].ok_or_else(|| BotError::Netcode("token has no server address".into()))?;
        let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }
            .map_err(|e: std::net::AddrParseError| BotError::Netcode(e.to_string()))?;
        Self::connect_with_socket(token, UdpSocket::bind(bind)?)
    }

    /// Like [`Bot::connect`], over a socket of the caller's (to reuse an address, say).
    pub fn connect_with_socket(token: ConnectToken, socket: UdpSocket) -> Result<Bot, BotError> {
        socket.set_nonblocking(true)?;
        let netcode = NetcodeClient::new(unix_now(), ClientAuthentication::Secure { connect_token: token })
            .map_err(|e| BotError::Netcode(e.to_string()))?;
        Ok(Bot::with_link(Link::Udp { socket, netcode: Box::new(netcode) }))
    }

    /// Connects over WebSocket, as the browser client does: `http_base` is the server's HTTP
    /// base URL, `ticket` a single-use ticket from `POST /api/v1/world/ws-ticket`.
    pub fn connect_ws(http_base: &str, ticket: &str) -> Result<Bot, BotError> {
        let url = format!("{}{}?ticket={ticket}", http_base.replacen("http", "ws", 1), api::paths::WORLD_WS);
        let (mut ws, _) =
            tungstenite::connect(url.as_str()).map_err(|e| BotError::Netcode(format!("WebSocket: {e}")))?;
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_nonblocking(true)?;
            s.set_nodelay(true)?;
        }
        let mut bot = Bot::with_link(Link::Ws { ws: Box::new(ws), closed: false, last_sent: Instant::now() });
        bot.renet.set_connected();
        Ok(bot)
    }

    fn with_link(link: Link) -> Bot {
        Bot {
            link,
            renet: RenetClient::new(connection_config()),
            buf: Box::new([0; NETCODE_MAX_PACKET_BYTES]),
            last: Instant::now(),
            last_flush: Instant::now() - Duration::from_secs(1),
            flush_interval: Duration::ZERO,
            seq: 0,
            record: true,
            events: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
            packets_in: 0,
            packets_out: 0,
            me: None,
            room: None,
            pos: None,
            others: HashMap::new(),
            ack: 0,
            refused: None,
            errors: Vec::new(),
            chats: Vec::new(),
            tickets: HashMap::new(),
            called: HashMap::new(),
            desks: HashMap::new(),
            consultation: None,
            staff_seen: Vec::new(),
            looks: HashMap::new(),
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.link {
            Link::Udp { socket, .. } => socket.local_addr(),
            Link::Ws { ws, .. } => match ws.get_ref() {
                tungstenite::stream::MaybeTlsStream::Plain(s) => s.local_addr(),
                _ => Err(io::Error::other("not a plain TCP stream")),
            },
        }
    }

    pub fn is_connected(&self) -> bool {
        match &self.link {
            Link::Udp { netcode, .. } => netcode.is_connected(),
            Link::Ws { closed, .. } => !closed,
        }
    }

    /// Why netcode ended the connection, if it did (UDP bots).
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match &self.link {
            Link::Udp { netcode, .. } => netcode.disconnect_reason(),
            Link::Ws { .. } => None,
        }
    }

    /// Whether the server closed this bot's WebSocket.
    pub fn ws_closed(&self) -> bool {
        matches!(self.link, Link::Ws { closed: true, .. })
    }

    /// Advances time, reads the socket, applies what the server said, and sends what is queued.
    pub fn pump(&mut self) {
        if matches!(self.link, Link::Ws { .. }) {
            self.pump_ws();
        } else {
            self.pump_udp();
        }
    }

    fn pump_ws(&mut self) {
        let now = Instant::now();
        let dt = now - self.last;
        self.last = now;
        self.renet.update(dt);
        let Link::Ws { ws, closed, last_sent } = &mut self.link else { return };
        if *closed {
            return;
        }
        loop {
            match ws.read() {
                Ok(tungstenite::Message::Binary(b)) => {
                    self.bytes_in += b.len() as u64;
                    self.packets_in += 1;
                    self.renet.process_packet(&b);
                }
                Ok(tungstenite::Message::Close(_)) => {
                    *closed = true;
                    break;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    *closed = true;
                    break;
                }
            }
        }
        if *closed {
            self.renet.disconnect_due_to_transport();
            return;
        }
        if now.duration_since(self.last_flush) >= self.flush_interval {
            self.last_flush = now;
            let packets = self.renet.get_packets_to_send();
            // An empty frame a second keeps an idle connection alive.
            if packets.is_empty() && now.duration_since(*last_sent) >= Duration::from_secs(1) {
                let _ = ws.write(tungstenite::Message::Binary(Vec::new().into()));
                *last_sent = now;
            }
            for p in packets {
                self.bytes_out += p.len() as u64;
                self.packets_out += 1;
                let _ = ws.write(tungstenite::Message::Binary(p.into()));
                *last_sent = now;
            }
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => *closed = true,
            }
        }
        self.read_messages();
    }

    fn pump_udp(&mut self) {
        let now = Instant::now();
        let dt = now - self.last;
        self.last = now;
        self.renet.update(dt);
        let Link::Udp { socket, netcode } = &mut self.link else { return };
        let (mut bytes_out, mut packets_out) = (0u64, 0u64);
        let mut send = |socket: &UdpSocket, packet: &[u8], addr: SocketAddr| {
            if let Ok(n) = socket.send_to(packet, addr) {
                bytes_out += n as u64;
                packets_out += 1;
            }
        };
        if netcode.disconnect_reason().is_some() {
            self.renet.disconnect_due_to_transport();
            return;
        }
        if netcode.is_connected() {
            self.renet.set_connected();
        } else if netcode.is_connecting() {
            self.renet.set_connecting();
        }
        let server = netcode.server_addr();
        loop {
            match socket.recv_from(&mut self.buf[..]) {
                Ok((len, addr)) => {
                    self.bytes_in += len as u64;
                    self.packets_in += 1;
                    if addr != server {
                        continue;
                    }
                    if let Some(payload) = netcode.process_packet(&mut self.buf[..len]) {
                        self.renet.process_packet(payload);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if let Some((packet, addr)) = netcode.update(dt) {
            send(socket, packet, addr);
        }
        if netcode.is_connected() && now.duration_since(self.last_flush) >= self.flush_interval {
            self.last_flush = now;
            for p in self.renet.get_packets_to_send() {
                match netcode.generate_payload_packet(&p) {
                    Ok((addr, payload)) => send(socket, payload, addr),
                    Err(_) => break,
                }
            }
        }
        self.bytes_out += bytes_out;
        self.packets_out += packets_out;
        self.read_messages();
    }

    fn read_messages(&mut self) {
        while let Some(bytes) = self.renet.receive_message(Channel::Events) {
            if let Ok(msg) = decode_server(&bytes) {
                self.apply(msg);
            }
        }
        while let Some(bytes) = self.renet.receive_message(Channel::Movement) {
            if let Ok(msg) = decode_server(&bytes) {
                self.apply(msg);
            }
        }
    }

    fn apply(&mut self, msg: ServerMessage) {
        match &msg {
            ServerMessage::Welcome { you, room, pos, .. } => {
                self.me = Some(*you);
                self.room = Some(*room);
                self.pos = Some(pos.to_point());
            }
            ServerMessage::Refused { code, message } => self.refused = Some((*code, message.clone())),
            ServerMessage::Error { code, message } => self.errors.push((*code, message.clone())),
            ServerMessage::EnteredRoom { room, pos } => {
                self.room = Some(*room);
                self.pos = Some(pos.to_point());
                self.others.clear();
            }
            ServerMessage::Appeared { avatars } => {
                for a in avatars {
                    self.others.insert(a.id, (a.name.clone(), a.pos));
                    self.looks.insert(a.name.clone(), a.look);
                    if a.staff {
                        self.staff_seen.push(a.name.clone());
                    }
                }
            }
            ServerMessage::Vanished { ids } => {
                for id in ids {
                    self.others.remove(id);
                }
            }
            ServerMessage::Snapshot { ack, avatars, .. } => {
                self.ack = *ack;
                for a in avatars {
                    if Some(a.id) == self.me {
                        self.pos = Some(a.pos.to_point());
                    } else if let Some(o) = self.others.get_mut(&a.id) {
                        o.1 = a.pos;
                    }
                }
                return; // snapshots are not events
            }
            ServerMessage::Chat { from, name, text } => self.chats.push((*from, name.clone(), text.clone())),
            ServerMessage::Ticket(t) => {
                if t.status == madoguchi_shared::protocol::TicketStatus::Called {
                    self.called.entry(t.id).or_insert_with(Instant::now);
                }
                self.tickets.insert(t.id, (t.clone(), Instant::now()));
            }
            ServerMessage::Desk(d) => {
                self.desks.insert(d.counter.clone(), d.clone());
            }
            ServerMessage::Consultation { id } => self.consultation = *id,
        }
        if self.record {
            self.events.push(msg);
        }
    }

    /// Sends one raw WebSocket frame (tests use this to send what no honest client would).
    pub fn send_ws_frame(&mut self, bytes: Vec<u8>) {
        if let Link::Ws { ws, .. } = &mut self.link {
            let _ = ws.write(tungstenite::Message::Binary(bytes.into()));
            let _ = ws.flush();
        }
    }

    /// Queues raw bytes on a channel (tests use this to send what no honest client would).
    pub fn send_raw(&mut self, channel: Channel, bytes: Vec<u8>) {
        self.renet.send_message(channel, bytes);
    }

    /// Queues a message on the channel it belongs on.
    pub fn send(&mut self, msg: &ClientMessage) {
        let channel = match msg {
            ClientMessage::Input { .. } => Channel::Movement,
            _ => Channel::Events,
        };
        self.renet.send_message(channel, encode(msg));
    }

    /// Says Hello with the look a client that chose none would send.
    pub fn hello(&mut self, name: &str, locale: &str) {
        self.hello_as(name, locale, madoguchi_shared::protocol::Look::for_name(name));
    }

    /// Says Hello with a chosen look.
    pub fn hello_as(&mut self, name: &str, locale: &str, look: madoguchi_shared::protocol::Look) {
        self.send(&ClientMessage::Hello { protocol: PROTOCOL_VERSION, name: name.into(), locale: locale.into(), look });
    }

    /// Asks to move at `vel` metres per second (the server clamps it to the cap).
    pub fn walk(&mut self, vel: Point, run: bool) {
        self.seq += 1;
        let seq = self.seq;
        self.send(&ClientMessage::Input { seq, vel: QVel::from_point(vel), run });
    }

    /// The sequence number of the last input sent.
    pub fn last_seq(&self) -> u32 {
        self.seq
    }

    /// Walks (running) towards `target` in the current room; pumps until there or `timeout`.
    pub fn go_to(&mut self, target: Point, timeout: Duration) -> bool {
        self.send(&ClientMessage::MoveTo { target: QPos::from_point(target), run: true });
        self.wait_until(timeout, |b| b.pos.is_some_and(|p| p.distance_squared(target) < 0.05))
    }

    /// The ticket with this label, as last reported.
    pub fn ticket(&self, label: &str) -> Option<&TicketInfo> {
        self.tickets.values().map(|(t, _)| t).find(|t| t.label == label)
    }

    pub fn chat(&mut self, text: &str) {
        self.send(&ClientMessage::Chat { text: text.into() });
    }

    /// Pumps until `pred` holds or `timeout` passes; true if it held.
    pub fn wait_until(&mut self, timeout: Duration, mut pred: impl FnMut(&Bot) -> bool) -> bool {
        pump_until(&mut [self], timeout, |bots| pred(bots[0]))
    }

    /// Walks at `vel` for `dur`, renewing the input every 50 ms as a real client does.
    pub fn walk_for(&mut self, vel: Point, run: bool, dur: Duration) {
        let end = Instant::now() + dur;
        while Instant::now() < end {
            self.walk(vel, run);
            let next = (Instant::now() + Duration::from_millis(50)).min(end);
            while Instant::now() < next {
                self.pump();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.walk(Point::ZERO, run);
        self.pump();
    }

    /// Sends a netcode disconnect right away, as a client that closes properly does.
    pub fn disconnect(&mut self) {
        match &mut self.link {
            Link::Udp { socket, netcode } => {
                if let Ok((addr, packet)) = netcode.disconnect()
                    && let Ok(n) = socket.send_to(packet, addr)
                {
                    self.bytes_out += n as u64;
                }
            }
            Link::Ws { ws, closed, .. } => {
                let _ = ws.close(None);
                let _ = ws.flush();
                *closed = true;
            }
        }
    }
}

/// Pumps every bot for `dur`.
pub fn pump_all(bots: &mut [&mut Bot], dur: Duration) {
    pump_until(bots, dur, |_| false);
}

/// Pumps every bot until `pred` holds for them or `timeout` passes; true if it held.
pub fn pump_until(bots: &mut [&mut Bot], timeout: Duration, mut pred: impl FnMut(&[&mut Bot]) -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        for b in bots.iter_mut() {
            b.pump();
        }
        if pred(bots) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
