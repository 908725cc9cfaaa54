//! The Madoguchi server: one process hosting one office.
//!
//! The world (rooms, avatars, chat) is a headless bevy app ticking at a fixed rate; it owns all
//! world state and never waits on I/O. HTTP runs on tokio beside it and reaches the world only
//! through channels drained once per tick. `main.rs` only parses arguments and calls [`run`].

pub mod chat;
pub mod config;
pub mod connection;
pub mod http;
pub mod metrics;
pub mod sessions;
pub mod tick;
pub mod tokens;
pub mod transport;
pub mod view;
pub mod world;

use anyhow::Context;
use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy_renet::{RenetServer, RenetServerPlugin};
use config::{Command, ServeConfig};
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::{NETCODE_PROTOCOL_ID, connection_config};
use metrics::Metrics;
use renetcode::{NetcodeServer, ServerAuthentication, ServerConfig};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// Reads and validates `office.toml` and `layouts/*.toml` under `assets`.
pub fn load_office(assets: &Path) -> anyhow::Result<Office> {
    let office_path = assets.join("office.toml");
    let office_text = std::fs::read_to_string(&office_path)
        .with_context(|| format!("cannot read {} (set --assets or MADOGUCHI_ASSETS)", office_path.display()))?;
    let dir = assets.join("layouts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut rooms = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        rooms.push((p.display().to_string(), text));
    }
    Ok(Office::parse((&office_path.display().to_string(), &office_text), &rooms)?)
}

/// Everything the world app needs from the process.
pub struct WorldParts {
    pub office: Arc<Office>,
    pub settings: world::WorldSettings,
    pub socket: UdpSocket,
    pub public_addr: SocketAddr,
    pub private_key: [u8; 32],
    pub max_clients: usize,
    pub metrics: Arc<Metrics>,
    pub issued_tokens: UnboundedReceiver<tokens::IssuedToken>,
    pub shutdown: Option<UnboundedReceiver<()>>,
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
    let transport = transport::UdpTransport::new(parts.socket, netcode).context("cannot configure the UDP socket")?;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(tick)))
        .add_plugins(RenetServerPlugin)
        .insert_resource(RenetServer::new(connection_config()))
        .insert_resource(transport)
        .insert_resource(transport::WorldMetrics(parts.metrics))
        .insert_resource(world::OfficeLayout(parts.office))
        .insert_resource(parts.settings)
        .insert_resource(connection::TokenLedger::new(parts.issued_tokens))
        .add_plugins((tick::plugin, transport::plugin, world::plugin, connection::plugin, chat::plugin, view::plugin));
    if let Some(rx) = parts.shutdown {
        app.insert_resource(tick::Shutdown(rx));
    }
    Ok(app)
}

/// Runs a command of the `madoguchi-server` binary.
pub fn run(cli: config::Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.serve),
        Command::CheckAssets => {
            let office = load_office(&cli.serve.assets)?;
            println!(
                "{}: {} departments, {} rooms ({})",
                office.name.en,
                office.departments.len(),
                office.rooms.len(),
                office.rooms.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
            );
            Ok(())
        }
    }
}

/// Runs the office until SIGINT or SIGTERM.
pub fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let office = Arc::new(load_office(&cfg.assets)?);
    let private_key = cfg.netcode_key()?;
    let socket = UdpSocket::bind(cfg.udp_addr).with_context(|| format!("cannot bind UDP {}", cfg.udp_addr))?;
    let udp_addr = socket.local_addr()?;
    let public_addr = cfg.public_udp_addr.unwrap_or_else(|| {
        if udp_addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], udp_addr.port())) } else { udp_addr }
    });
    let http_listener =
        std::net::TcpListener::bind(cfg.http_addr).with_context(|| format!("cannot bind HTTP {}", cfg.http_addr))?;
    http_listener.set_nonblocking(true)?;
    let http_addr = http_listener.local_addr()?;

    let metrics = Arc::new(Metrics::default());
    let (issued_tx, issued_rx) = unbounded_channel();
    let (shutdown_tx, shutdown_rx) = unbounded_channel();
    let state = http::HttpState {
        metrics: metrics.clone(),
        sessions: Arc::new(sessions::Sessions::default()),
        tokens: Arc::new(tokens::TokenIssuer::new(
            private_key,
            public_addr,
            Duration::from_secs(cfg.token_ttl_secs.into()),
            cfg.client_timeout_secs.into(),
            issued_tx,
            metrics.clone(),
        )),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("madoguchi-io")
        .enable_all()
        .build()?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(http_listener)?
    };
    runtime.spawn(async move {
        if let Err(e) = axum::serve(listener, http::router(state)).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    runtime.spawn(async move {
        wait_for_signal().await;
        let _ = shutdown_tx.send(());
    });

    let mut app = build_world(WorldParts {
        office,
        settings: world::WorldSettings {
            tick_hz: cfg.tick_hz,
            snapshot_hz: cfg.snapshot_hz.min(cfg.tick_hz),
            max_visible: cfg.max_visible,
        },
        socket,
        public_addr,
        private_key,
        max_clients: cfg.max_clients.into(),
        metrics,
        issued_tokens: issued_rx,
        shutdown: Some(shutdown_rx),
    })?;
    tracing::info!(%http_addr, %udp_addr, %public_addr, tick_hz = cfg.tick_hz, "office open");
    // One machine-readable line on stdout after the first tick, for scripts and tests that start
    // the server on ephemeral ports.
    let ready = serde_json::json!({"event": "ready", "http": http_addr.to_string(), "udp": udp_addr.to_string(), "public_udp": public_addr.to_string()});
    app.insert_resource(tick::ReadyLine(Some(ready.to_string())));
    let exit = app.run();
    runtime.shutdown_timeout(Duration::from_secs(2));
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("world stopped with code {code}"),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
