//! The UDP way in: netcode (secure mode) over a UDP socket, feeding the one `RenetServer`.
//!
//! This is renet_netcode's server transport, with three differences: the socket asks the kernel
//! for a large receive buffer, because the tick reads it only 20 times a second; each tick reads
//! at most a budget of datagrams (by count and by time), so a flood of packets costs the tick a
//! bounded time and leaves the rest to the kernel, which drops what its buffer cannot hold; and
//! bytes and packets are counted for /metrics.
//! The WebSocket transport feeds the same `RenetServer` beside it; [`ClientTransports`] says
//! which transport each client came by.

use super::outbox::Flush;
use super::transports::{ClientTransports, Transport, TransportSet};
use crate::metrics::{Metrics, WorldMetrics};
use bevy::prelude::*;
use bevy_renet::RenetServer;
use renetcode::{NETCODE_MAX_PACKET_BYTES, NETCODE_USER_DATA_BYTES, NetcodeServer, ServerResult};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Kernel receive buffer asked for (the kernel may grant less: net.core.rmem_max). The tick
/// drains the socket 20 times a second; with 200 clients that is 200+ datagrams per tick,
/// more than a default buffer (208 KiB, ~90 datagrams of kernel overhead) holds.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Most datagrams one tick reads. Clients send about 10 a second each (a flush every ~95 ms),
/// so 1024 clients fill half of it; beyond that, datagrams wait for the next tick.
pub const READ_BUDGET_DATAGRAMS: usize = 4096;

/// Most time one tick spends reading and opening datagrams (checked every
/// [`READ_BUDGET_CHECK_EVERY`] datagrams). A datagram costs a few microseconds, so a crowded
/// office needs about a millisecond of it; a flood gets no more than this.
pub const READ_BUDGET_TIME: Duration = Duration::from_millis(4);
const READ_BUDGET_CHECK_EVERY: usize = 32;

/// The netcode server and its socket.
#[derive(Resource)]
pub struct UdpTransport {
    socket: UdpSocket,
    netcode: NetcodeServer,
    buf: Box<[u8; NETCODE_MAX_PACKET_BYTES]>,
}

impl UdpTransport {
    /// Takes over `socket`, asking the kernel for a receive buffer that holds several ticks'
    /// worth of datagrams.
    pub fn new(socket: UdpSocket, netcode: NetcodeServer) -> io::Result<Self> {
        let socket = socket2::Socket::from(socket);
        if let Err(e) = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES) {
            tracing::warn!(error = %e, "could not enlarge the UDP receive buffer");
        }
        match socket.recv_buffer_size() {
            Ok(n) if n < SOCKET_BUFFER_BYTES => tracing::warn!(
                granted = n,
                wanted = SOCKET_BUFFER_BYTES,
                "UDP receive buffer is small; raise net.core.rmem_max for crowded offices"
            ),
            _ => {}
        }
        socket.set_nonblocking(true)?;
        Ok(Self { socket: socket.into(), netcode, buf: Box::new([0; NETCODE_MAX_PACKET_BYTES]) })
    }

    /// Where a connected client's packets come from.
    pub fn client_addr(&self, client_id: u64) -> Option<std::net::SocketAddr> {
        self.netcode.client_addr(client_id)
    }

    /// The user data sealed into the connect token of a connected client.
    pub fn user_data(&self, client_id: u64) -> Option<[u8; NETCODE_USER_DATA_BYTES]> {
        self.netcode.user_data(client_id)
    }

    fn send(socket: &UdpSocket, metrics: &Metrics, packet: &[u8], addr: SocketAddr) {
        match socket.send_to(packet, addr) {
            Ok(n) => {
                metrics.udp_bytes_out.inc_by(n as u64);
                metrics.udp_packets_out.inc();
            }
            Err(e) => tracing::debug!(%addr, error = %e, "UDP send failed"),
        }
    }

    fn handle(
        result: ServerResult,
        socket: &UdpSocket,
        metrics: &Metrics,
        server: &mut RenetServer,
        transports: &mut ClientTransports,
    ) {
        match result {
            ServerResult::None => {}
            ServerResult::PacketToSend { payload, addr } => Self::send(socket, metrics, payload, addr),
            ServerResult::Payload { client_id, payload } => {
                if server.process_packet_from(payload, client_id).is_err() {
                    tracing::debug!(client_id, "payload for unknown client");
                }
            }
            ServerResult::ClientConnected { client_id, addr, payload, .. } => {
                server.add_connection(client_id);
                transports.insert(client_id, Transport::Udp);
                Self::send(socket, metrics, payload, addr);
            }
            ServerResult::ClientDisconnected { client_id, addr, payload } => {
                server.remove_connection(client_id);
                transports.remove(&client_id);
                if let Some(payload) = payload {
                    Self::send(socket, metrics, payload, addr);
                }
            }
        }
    }
}

/// Feeds waiting datagrams to netcode, up to the read budget, and netcode's payloads to renet.
/// Bad packets (random bytes, truncated, replayed, wrong key) are dropped by netcode without
/// effect on anyone else.
fn receive_udp(
    mut transport: ResMut<UdpTransport>,
    mut server: ResMut<RenetServer>,
    metrics: Res<WorldMetrics>,
    mut transports: ResMut<ClientTransports>,
    time: Res<Time<Real>>,
) {
    let t = &mut *transport;
    t.netcode.update(time.delta());
    let started = Instant::now();
    let mut read = 0;
    loop {
        if read == READ_BUDGET_DATAGRAMS
            || (read % READ_BUDGET_CHECK_EVERY == READ_BUDGET_CHECK_EVERY - 1 && started.elapsed() >= READ_BUDGET_TIME)
        {
            metrics.udp_read_budget_spent_total.inc();
            break;
        }
        read += 1;
        match t.socket.recv_from(&mut t.buf[..]) {
            Ok((len, addr)) => {
                metrics.udp_bytes_in.inc_by(len as u64);
                metrics.udp_packets_in.inc();
                let result = t.netcode.process_packet(addr, &mut t.buf[..len]);
                UdpTransport::handle(result, &t.socket, &metrics, &mut server, &mut transports);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // ICMP port-unreachable from a vanished client surfaces as a reset on some systems.
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionReset) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "UDP receive failed");
                break;
            }
        }
    }
    for client_id in t.netcode.clients_id() {
        let result = t.netcode.update_client(client_id);
        UdpTransport::handle(result, &t.socket, &metrics, &mut server, &mut transports);
    }
    for client_id in server.disconnections_id() {
        if !t.netcode.is_client_connected(client_id) {
            continue; // a WebSocket client: its transport removes it
        }
        let result = t.netcode.disconnect(client_id);
        UdpTransport::handle(result, &t.socket, &metrics, &mut server, &mut transports);
    }
}

/// Encrypts and sends what renet has queued for each client due this tick (see
/// [`Flush::due`]): one packet of events, snapshot and acks instead of one per tick.
fn send_udp(
    mut transport: ResMut<UdpTransport>,
    mut server: ResMut<RenetServer>,
    metrics: Res<WorldMetrics>,
    flush: Res<Flush>,
    transports: Res<ClientTransports>,
) {
    let t = &mut *transport;
    for client_id in server.clients_id() {
        if transports.get(&client_id) != Some(&Transport::Udp) || !flush.due(client_id) {
            continue;
        }
        let Ok(packets) = server.get_packets_to_send(client_id) else { continue };
        for packet in packets {
            match t.netcode.generate_payload_packet(client_id, &packet) {
                Ok((addr, payload)) => UdpTransport::send(&t.socket, &metrics, payload, addr),
                Err(e) => {
                    tracing::debug!(client_id, error = %e, "could not seal payload");
                    break;
                }
            }
        }
    }
}

/// Tells every client the server is going away, so they do not wait for a timeout.
fn disconnect_on_exit(
    exit: MessageReader<AppExit>,
    mut transport: ResMut<UdpTransport>,
    mut server: ResMut<RenetServer>,
    metrics: Res<WorldMetrics>,
    mut transports: ResMut<ClientTransports>,
) {
    if exit.is_empty() {
        return;
    }
    let t = &mut *transport;
    for client_id in t.netcode.clients_id() {
        let result = t.netcode.disconnect(client_id);
        UdpTransport::handle(result, &t.socket, &metrics, &mut server, &mut transports);
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(PreUpdate, receive_udp.in_set(TransportSet::Read))
        .add_systems(PostUpdate, send_udp.in_set(TransportSet::Write))
        .add_systems(Last, disconnect_on_exit);
}
