//! The world app as the office builds it: the bevy schedule, renet and netcode on the UDP
//! socket, the world's and the network's plugins, and its links to the services.

use crate::metrics::{Metrics, WorldMetrics};
use crate::net::outbox::Flush;
use crate::{net, world};
use anyhow::Context;
use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy_renet::{RenetServer, RenetServerPlugin};
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::{NETCODE_PROTOCOL_ID, connection_config};
use renetcode::{NetcodeServer, ServerAuthentication, ServerConfig};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::UnboundedReceiver;

/// Everything the world app needs from the process.
pub struct WorldParts {
    pub office: Arc<Office>,
    pub settings: world::settings::WorldSettings,
    pub socket: UdpSocket,
    pub public_addr: SocketAddr,
    pub private_key: [u8; 32],
    pub max_clients: usize,
    /// Most connections from one network address.
    pub max_per_address: usize,
    pub metrics: Arc<Metrics>,
    pub issued_tokens: UnboundedReceiver<net::tokens::IssuedToken>,
    pub shutdown: Option<UnboundedReceiver<()>>,
    /// The link to the queue service; without it, counter messages are refused as unavailable.
    pub queue: Option<world::counters::QueueLink>,
    /// Browser clients over WebSocket; without it, only UDP.
    pub websocket: Option<net::websocket::WsLink>,
    /// The session keeper; without it, connections do not keep their sessions alive.
    pub sessions: Option<net::sessions::SessionLink>,
    /// Where the world says which residents are in it.
    pub in_world: net::clients::InWorld,
}

/// Builds the world app, ready to `run()` (which ticks until shutdown) or to `update()` by hand.
pub fn build_world(parts: WorldParts) -> anyhow::Result<App> {
    let tick = Duration::from_secs_f64(1.0 / f64::from(parts.settings.tick_hz.max(1)));
    let netcode = NetcodeServer::new(ServerConfig {
        current_time: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
        max_clients: parts.max_clients.min(1024),
        protocol_id: NETCODE_PROTOCOL_ID,
        public_addresses: vec![parts.public_addr],
        authentication: ServerAuthentication::Secure { private_key: parts.private_key },
    });
    let transport = net::UdpTransport::new(parts.socket, netcode).context("cannot configure the UDP socket")?;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(tick)))
        .add_plugins(RenetServerPlugin)
        .insert_resource(RenetServer::new(connection_config()))
        .insert_resource(transport)
        .insert_resource(WorldMetrics(parts.metrics))
        .insert_resource(world::settings::OfficeLayout(parts.office))
        .insert_resource(Flush::new(parts.settings.tick_hz, parts.settings.snapshot_hz))
        .insert_resource(parts.settings)
        .insert_resource(net::tokens::TokenLedger::new(parts.issued_tokens))
        .insert_resource(net::clients::MaxClients(parts.max_clients.min(1024)))
        .insert_resource(net::clients::MaxPerAddress(parts.max_per_address.max(1)))
        .add_plugins((net::plugin, world::plugin))
        .insert_resource(parts.in_world);
    if let Some(link) = parts.queue {
        app.insert_resource(link);
    }
    if let Some(link) = parts.websocket {
        app.insert_resource(link);
    }
    if let Some(link) = parts.sessions {
        app.insert_resource(link);
    }
    if let Some(rx) = parts.shutdown {
        app.insert_resource(world::tick::Shutdown(rx));
    }
    Ok(app)
}
