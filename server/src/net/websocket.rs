//! The browser way in: renet packets over a WebSocket, into the same `RenetServer` the UDP
//! transport feeds.
//!
//! Browsers cannot speak netcode over UDP, so a browser client asks for a short-lived,
//! single-use ticket with its session (`POST /api/v1/world/ws-ticket`) and opens
//! `GET /api/v1/world/ws?ticket=…`. Each binary frame carries one renet packet each way; an
//! empty frame is a keep-alive. Netcode's encryption does not come with it: deploy behind TLS
//! (wss). The world sees these clients exactly like UDP ones, with the ticket's principal.

use super::outbox::Flush;
use super::transports::{ClientTransports, Transport, TransportSet};
use crate::identity::principal::Entrant;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use bevy::prelude::*;
use bevy_renet::RenetServer;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{Receiver, Sender, UnboundedReceiver, UnboundedSender, channel};

/// Largest frame a browser client may send: a renet packet is at most about 1.2 KB.
pub const MAX_FRAME_BYTES: usize = 4 * 1024;
/// Packets queued for one client at most: a client that does not read is disconnected rather
/// than let the server hold its backlog.
const OUTBOUND_QUEUE: usize = 512;
/// Longest a write to a client's socket may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames a client may send per second before its socket is closed (a client flushing every
/// frame at 240 Hz sends well under this; renet bounds what each frame may hold).
const MAX_FRAMES_PER_SECOND: u32 = 1000;

/// What a socket task tells the world.
#[derive(Debug)]
pub enum WsEvent {
    Open { client_id: u64, entrant: Entrant, addr: IpAddr, outbound: Sender<Vec<u8>> },
    Packet { client_id: u64, bytes: Vec<u8> },
    Closed { client_id: u64 },
}

/// Single-use tickets for the WebSocket, issued over HTTP.
pub struct WsTickets {
    ttl: Duration,
    live: Mutex<HashMap<String, (Entrant, Instant)>>,
    events: UnboundedSender<WsEvent>,
    idle_timeout: Duration,
}

impl WsTickets {
    pub fn new(ttl: Duration, idle_timeout: Duration, events: UnboundedSender<WsEvent>) -> Self {
        Self { ttl, live: Mutex::default(), events, idle_timeout }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new ticket for `entrant`.
    pub fn issue(&self, entrant: Entrant) -> String {
        let ticket = hex::encode(rand::random::<[u8; 16]>());
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        live.retain(|_, (_, at)| now.duration_since(*at) < self.ttl);
        live.insert(ticket.clone(), (entrant, now));
        ticket
    }

    /// Uses up a ticket: whom it was for, if it was issued here, unused and not expired.
    pub fn redeem(&self, ticket: &str) -> Option<Entrant> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let (entrant, at) = live.remove(ticket)?;
        (at.elapsed() < self.ttl).then_some(entrant)
    }

    /// Upgrades the request and runs the socket until either side closes it.
    pub fn accept(&self, ws: WebSocketUpgrade, entrant: Entrant, addr: IpAddr) -> axum::response::Response {
        let events = self.events.clone();
        let idle = self.idle_timeout;
        ws.max_message_size(MAX_FRAME_BYTES)
            .max_frame_size(MAX_FRAME_BYTES)
            .on_upgrade(move |socket| run_socket(socket, entrant, addr, events, idle))
    }
}

async fn run_socket(
    mut socket: WebSocket,
    entrant: Entrant,
    addr: IpAddr,
    events: UnboundedSender<WsEvent>,
    idle: Duration,
) {
    // WebSocket ids have the top bit set, netcode ids never do (see net/tokens.rs).
    let client_id: u64 = rand::random::<u64>() | (1 << 63);
    let (tx, mut outbound): (Sender<Vec<u8>>, Receiver<Vec<u8>>) = channel(OUTBOUND_QUEUE);
    if events.send(WsEvent::Open { client_id, entrant, addr, outbound: tx }).is_err() {
        return;
    }
    let mut window = (Instant::now(), 0u32);
    // Only frames from the client move the idle deadline; what the server sends does not.
    let mut idle_at = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(idle_at) => break,
            packet = outbound.recv() => match packet {
                Some(p) => {
                    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Binary(p.into()))).await {
                        Ok(Ok(())) => {}
                        _ => break,
                    }
                }
                // The world dropped the client: close.
                None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    idle_at = tokio::time::Instant::now() + idle;
                    if window.0.elapsed() >= Duration::from_secs(1) {
                        window = (Instant::now(), 0);
                    }
                    window.1 += 1;
                    if window.1 > MAX_FRAMES_PER_SECOND {
                        tracing::info!(client_id, "WebSocket client flooding; closing");
                        break;
                    }
                    if !b.is_empty() && events.send(WsEvent::Packet { client_id, bytes: b.to_vec() }).is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => idle_at = tokio::time::Instant::now() + idle,
                // Text frames are not part of the protocol; a close or an error ends it.
                Some(Ok(Message::Text(_))) | Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
        }
    }
    let _ = events.send(WsEvent::Closed { client_id });
}

/// The world's end: socket events in, and a sender per connected socket.
#[derive(Resource)]
pub struct WsLink {
    pub events: UnboundedReceiver<WsEvent>,
    outbound: HashMap<u64, Sender<Vec<u8>>>,
    /// Principals of sockets that opened, until renet reports their connection.
    pub pending: HashMap<u64, (Entrant, IpAddr)>,
    pub max_clients: usize,
}

impl WsLink {
    pub fn new(events: UnboundedReceiver<WsEvent>, max_clients: usize) -> Self {
        Self { events, outbound: HashMap::new(), pending: HashMap::new(), max_clients }
    }
}

fn receive_ws(link: Option<ResMut<WsLink>>, mut ids: ResMut<ClientTransports>, mut server: ResMut<RenetServer>) {
    let Some(mut link) = link else { return };
    let link = &mut *link;
    while let Ok(ev) = link.events.try_recv() {
        match ev {
            WsEvent::Open { client_id, entrant, addr, outbound } => {
                if server.connected_clients() >= link.max_clients || server.is_connected(client_id) {
                    // Dropping the sender closes the socket.
                    tracing::info!(client_id, "WebSocket client refused: the office is full");
                    continue;
                }
                server.add_connection(client_id);
                link.outbound.insert(client_id, outbound);
                link.pending.insert(client_id, (entrant, addr));
                ids.insert(client_id, Transport::WebSocket);
            }
            WsEvent::Packet { client_id, bytes } => {
                if link.outbound.contains_key(&client_id) && server.process_packet_from(&bytes, client_id).is_err() {
                    tracing::debug!(client_id, "packet for an unknown WebSocket client");
                }
            }
            WsEvent::Closed { client_id } => {
                if link.outbound.remove(&client_id).is_some() {
                    server.remove_connection(client_id);
                }
            }
        }
    }
    // Clients renet disconnected (refused, timed out): dropping the sender closes the socket.
    for client_id in server.disconnections_id() {
        if ids.get(&client_id) == Some(&Transport::WebSocket) {
            link.outbound.remove(&client_id);
            server.remove_connection(client_id);
        }
    }
    ids.retain(|id, t| *t != Transport::WebSocket || link.outbound.contains_key(id) || server.is_connected(*id));
}

fn send_ws(link: Option<ResMut<WsLink>>, mut server: ResMut<RenetServer>, flush: Res<Flush>) {
    let Some(link) = link else { return };
    for (&client_id, tx) in &link.outbound {
        if !flush.due(client_id) {
            continue;
        }
        let Ok(packets) = server.get_packets_to_send(client_id) else { continue };
        for p in packets {
            if tx.try_send(p).is_err() {
                // Not reading (or gone): drop it; its transport removes it next tick.
                tracing::info!(client_id, "WebSocket client not keeping up; disconnecting");
                server.disconnect(client_id);
                break;
            }
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(PreUpdate, receive_ws.in_set(TransportSet::Read))
        .add_systems(PostUpdate, send_ws.in_set(TransportSet::Write));
}
