//! `madoguchi-server serve`: binds the sockets, starts the office ([`super::Office`]), serves
//! its HTTP, and runs its world until SIGINT or SIGTERM.

use super::config::{DbConfig, ServeConfig};
use super::{Office, WorldAddress, runtime};
use crate::{http, world};
use anyhow::Context;
use bevy::prelude::AppExit;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use tokio::sync::mpsc::unbounded_channel;

/// The sockets an office listens on, bound before anything starts (a port in use is an error
/// at once).
struct Sockets {
    udp: UdpSocket,
    udp_addr: SocketAddr,
    http: std::net::TcpListener,
    ops: std::net::TcpListener,
}

fn bind(cfg: &ServeConfig) -> anyhow::Result<Sockets> {
    let udp = UdpSocket::bind(cfg.net.udp_addr).with_context(|| format!("cannot bind UDP {}", cfg.net.udp_addr))?;
    let http = std::net::TcpListener::bind(cfg.http.http_addr)
        .with_context(|| format!("cannot bind HTTP {}", cfg.http.http_addr))?;
    let ops = std::net::TcpListener::bind(cfg.http.ops_addr)
        .with_context(|| format!("cannot bind ops {}", cfg.http.ops_addr))?;
    http.set_nonblocking(true)?;
    ops.set_nonblocking(true)?;
    if !ops.local_addr()?.ip().is_loopback() {
        tracing::warn!(ops_addr = %ops.local_addr()?, "the operations listener (/metrics) is not on loopback: keep it off the public network");
    }
    Ok(Sockets { udp_addr: udp.local_addr()?, udp, http, ops })
}

/// Serves the office's HTTP and operations listeners until `stop` turns true; then both stop
/// accepting and let requests in flight finish.
fn spawn_http(
    runtime: &tokio::runtime::Runtime,
    cfg: &ServeConfig,
    office: &Office,
    http: std::net::TcpListener,
    ops: std::net::TcpListener,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let _guard = runtime.enter();
    let (http, ops) = (tokio::net::TcpListener::from_std(http)?, tokio::net::TcpListener::from_std(ops)?);
    let limits = http::listen::ConnectionLimits {
        max_connections: cfg.http.max_http_connections as usize,
        max_per_address: cfg.http.max_http_connections_per_address as usize,
        header_timeout: Duration::from_secs(cfg.http.http_header_timeout_secs.into()),
    };
    let ops_limits = http::listen::ConnectionLimits { max_connections: 64, max_per_address: 64, ..limits };
    let proxies = office.state.proxies.clone();
    runtime.spawn(http::listen::serve(ops, office.ops_router(), ops_limits, proxies.clone(), None, stop.clone()));
    let metrics = Some(office.state.metrics.clone());
    runtime.spawn(http::listen::serve(http, office.router(), limits, proxies, metrics, stop));
    Ok(())
}

/// Runs the office until SIGINT or SIGTERM.
pub fn serve(cfg: ServeConfig, db_cfg: DbConfig) -> anyhow::Result<()> {
    let private_key = cfg.net.netcode_key()?;
    let sockets = bind(&cfg)?;
    let (http_addr, ops_addr, udp_addr) = (sockets.http.local_addr()?, sockets.ops.local_addr()?, sockets.udp_addr);
    let public_addr = cfg.net.public_udp_addr.unwrap_or_else(|| {
        if udp_addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], udp_addr.port())) } else { udp_addr }
    });
    let addr = WorldAddress { public_addr, private_key };
    let runtime = runtime()?;
    let mut office = runtime.block_on(Office::start(&cfg, &db_cfg, &addr))?;
    let (stop_http_tx, stop_http_rx) = tokio::sync::watch::channel(false);
    spawn_http(&runtime, &cfg, &office, sockets.http, sockets.ops, stop_http_rx)?;
    let (shutdown_tx, shutdown_rx) = unbounded_channel();
    runtime.spawn(async move {
        wait_for_signal().await;
        let _ = shutdown_tx.send(());
        let _ = stop_http_tx.send(true);
    });
    let mut app = office.world(&cfg, sockets.udp, &addr, Some(shutdown_rx))?;
    tracing::info!(%http_addr, %ops_addr, %udp_addr, %public_addr, tick_hz = cfg.world.tick_hz, "office open");
    // One machine-readable line on stdout after the first tick, for scripts and tests that start
    // the server on ephemeral ports.
    let mut ready = serde_json::json!({"event": "ready", "http": http_addr.to_string(), "ops": ops_addr.to_string(), "udp": udp_addr.to_string(), "public_udp": public_addr.to_string()});
    if let Some(path) = &office.setup_path {
        let base = cfg.http.public_url.clone().unwrap_or_else(|| format!("http://{http_addr}"));
        tracing::warn!(
            "this office has no admin yet: create the first one at {}{path} (the link works once)",
            base.trim_end_matches('/')
        );
        ready["setup"] = serde_json::Value::String(path.clone());
    }
    app.insert_resource(world::tick::ReadyLine(Some(ready.to_string())));
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
