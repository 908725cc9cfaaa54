//! The HTTP listeners: connections accepted with limits, so a slow or greedy client cannot hold
//! the server's sockets.
//!
//! - A client has `header_timeout` (`--http-header-timeout-secs`, 10 s) to send a request's
//!   headers, on a new connection and between requests on a kept-alive one (slowloris gets cut
//!   off).
//! - At most `max_connections` connections are open at once; beyond that the listener stops
//!   accepting until one closes (new clients wait in the kernel's backlog, nobody is cut off).
//! - At most `max_per_address` from one client address; more are closed at once. Connections
//!   from a trusted proxy are not counted by address: behind a proxy every client shares it.
//! - A handler has [`super::REQUEST_TIMEOUT`] to answer (the router's layer).
//!
//! Each connection is served by hyper's HTTP/1 connection with upgrades (the world WebSocket);
//! on a stop signal every connection finishes the request in flight and closes.

use super::client_addr::TrustedProxies;
use crate::metrics::Metrics;
use crate::ratelimit::{Slots, address_key};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// How many connections a listener holds open.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_per_address: usize,
    /// Time a client has to send the headers of a request.
    pub header_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` turns true. Handlers see the peer's address as
/// `ConnectInfo<SocketAddr>`. Connections are counted in `metrics`, if given (the public
/// listener's; the operations listener is not counted).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    proxies: Arc<TrustedProxies>,
    metrics: Option<Arc<Metrics>>,
    mut stop: watch::Receiver<bool>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Slots::new(limits.max_per_address);
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stopped(&mut stop) => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or the like: wait, rather than spin.
                    tracing::warn!(error = %e, "could not accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        let slot = if proxies.contains(peer.ip()) {
            None
        } else {
            match per_address.take(address_key(peer.ip())) {
                Some(slot) => Some(slot),
                None => {
                    if let Some(m) = &metrics {
                        m.http_connections_refused_total.inc();
                    }
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.map(Body::new)
        });
        let mut stop = stop.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Some(m) = &metrics {
                m.http_connections.inc();
            }
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
            let conn =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
            let mut conn = std::pin::pin!(conn);
            let stopping = tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "HTTP connection ended");
                    }
                    false
                }
                _ = stopped(&mut stop) => true,
            };
            if stopping {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
            }
            if let Some(m) = &metrics {
                m.http_connections.dec();
            }
            drop((permit, slot));
        });
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
