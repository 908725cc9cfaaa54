//! One place builds the office: [`Office::start`] opens the records, starts every service with
//! its background loops and wires them through the office's events; [`Office::router`] is its
//! HTTP; [`Office::world`] its bevy world on the sockets it is given. `serve` binds the sockets
//! and runs these; a test can build the same office in its own process.
//!
//! May use: `consult`, `http`, `identity`, `net`, `queue`, `records`, `world` (it builds the office from all of them).

pub mod commands;
pub mod config;
pub mod serve;
#[cfg(test)]
mod tests;
pub mod world_app;

pub use world_app::{WorldParts, build_world};

use crate::db::{self, Db};
use crate::events::OfficeEvents;
use crate::http::state::HttpState;
use crate::identity::sessions::{self, SessionEnds};
use crate::metrics::Metrics;
use crate::net::tokens::IssuedToken;
use crate::ratelimit::{RateLimiter, Slots};
use crate::records::{audit, catalog};
use crate::{consult, http, identity, net, queue, records, world};
use anyhow::Context;
use bevy::prelude::App;
use config::{DbConfig, ServeConfig};
use madoguchi_shared::layout::Office as Layout;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// A running office's services, and what its world needs from them.
pub struct Office {
    pub layout: Arc<Layout>,
    /// Every service, as the HTTP handlers share them.
    pub state: HttpState,
    /// The path of the one-time link that makes the first admin, while the office has none.
    pub setup_path: Option<String>,
    world: Option<WorldLinks>,
}

/// The world's ends of the services' channels.
struct WorldLinks {
    queue: world::counters::QueueLink,
    sessions: net::sessions::SessionLink,
    websocket: net::websocket::WsLink,
    issued_tokens: UnboundedReceiver<IssuedToken>,
}

/// Where the world's netcode listens and what it tells clients.
pub struct WorldAddress {
    pub public_addr: SocketAddr,
    pub private_key: [u8; 32],
}

impl Office {
    /// Opens (and migrates) the records database, then starts every service and its background
    /// loops on the current tokio runtime.
    pub async fn start(cfg: &ServeConfig, db_cfg: &DbConfig, addr: &WorldAddress) -> anyhow::Result<Office> {
        let mut layout = crate::assets::load_office(&cfg.assets)?;
        if cfg.queue.always_open {
            tracing::warn!("--always-open: every department takes tickets at any hour");
            layout.set_always_open();
        }
        let layout = Arc::new(layout);
        let catalog = Arc::new(load_catalog(&cfg.assets, &layout)?);
        let metrics = Arc::new(Metrics::default());
        sessions::set_idle_expiry(Duration::from_secs(cfg.identity.session_idle_secs.into()));
        let db = open_db(db_cfg, &layout).await?;
        let purged = sessions::purge_expired(&db).await?;
        tracing::info!(sessions = purged, "purged expired sessions");
        let handle = tokio::runtime::Handle::current();

        let events = OfficeEvents::default();
        let session_ends = SessionEnds::default();
        let (notice_tx, notice_rx) = unbounded_channel();
        let records = records::Records::new(db.clone(), catalog.clone(), events.clone(), layout.utc_offset_min);

        let (request_tx, request_rx) = tokio::sync::mpsc::channel(queue::REQUEST_QUEUE);
        world::counters::QueueLink::follow_events(&handle, &events, notice_tx.clone(), &request_tx, metrics.clone());
        let queues = queue::Queues::new(
            db.clone(),
            layout.clone(),
            cfg.queue.settings(),
            notice_tx,
            events.clone(),
            metrics.clone(),
        );
        queues.recover().await?;
        queues.follow_events(&handle, &events);
        queues.close_desks_of_ended(&handle, session_ends.subscribe());
        queues.sweep_orphans(&handle, session_ends.subscribe());
        queues.spawn(&handle, request_rx);

        let (failures_tx, failures_rx) = unbounded_channel();
        let media: Arc<dyn consult::media::MediaEngine> =
            Arc::new(consult::media::sfu::Sfu::new(cfg.consult.media(), failures_tx, metrics.clone()));
        if cfg.consult.fault_injection {
            tracing::warn!("--fault-injection: staff can make a consultation's media fail on purpose");
        }
        let consults = consult::Consultations::new(
            db.clone(),
            queues.clone(),
            records.clone(),
            media,
            cfg.consult.settings(),
            metrics.clone(),
            events.clone(),
            session_ends.clone(),
        );
        consults.start_service(failures_rx).await?;

        start_checkpoints(cfg, db_cfg, &db)?;
        let (alive, every) = sessions::spawn_keeper(&handle, &db, &session_ends);
        sessions::spawn_purger(&handle, &db);
        let session_link = net::sessions::SessionLink::new(alive, session_ends.subscribe(), every);

        let (ws_tx, ws_rx) = unbounded_channel();
        let ws_tickets = Arc::new(net::websocket::WsTickets::new(
            Duration::from_secs(cfg.net.token_ttl_secs.into()),
            Duration::from_secs(cfg.net.client_timeout_secs.into()),
            ws_tx,
        ));
        let setup_code = first_admin_code(&db).await?;
        let setup_path = setup_code.as_ref().map(|c| format!("/staff/setup?code={c}"));
        let oidc = oidc_providers(cfg)?;
        let (issued_tx, issued_rx) = unbounded_channel();
        let state = HttpState {
            oidc: Arc::new(oidc),
            in_world: net::clients::InWorld::default(),
            setup_code: Arc::new(std::sync::Mutex::new(setup_code)),
            ws: ws_tickets,
            queues,
            consults,
            page_links: Arc::default(),
            handoffs: Arc::default(),
            secure_cookies: cfg.http.secure_cookies(),
            proxies: Arc::new(cfg.http.trusted_proxies.clone()),
            event_streams: Slots::new(http::state::STREAMS_PER_SESSION),
            public_origin: cfg.http.public_url.as_deref().map(Arc::from),
            web_dir: Some(cfg.http.web_dir.clone()),
            metrics: metrics.clone(),
            db,
            catalog,
            records,
            events,
            words: Arc::new(madoguchi_shared::i18n::Catalog::with_staff()),
            tokens: Arc::new(net::tokens::TokenIssuer::new(
                addr.private_key,
                addr.public_addr,
                Duration::from_secs(cfg.net.token_ttl_secs.into()),
                cfg.net.client_timeout_secs.into(),
                issued_tx,
                metrics.clone(),
            )),
            guest_limit: Arc::new(RateLimiter::new(cfg.identity.sessions_per_minute, cfg.identity.sessions_per_minute)),
            login_limit: Arc::new(RateLimiter::new(10, cfg.identity.sessions_per_minute.min(10))),
            session_ends,
            token_limit: Arc::new(RateLimiter::new(12, 30)),
            write_limit: Arc::new(RateLimiter::new(
                cfg.records.resident_writes_per_minute,
                cfg.records.resident_writes_per_minute,
            )),
        };
        let world = WorldLinks {
            queue: world::counters::QueueLink::new(request_tx, notice_rx, metrics),
            sessions: session_link,
            websocket: net::websocket::WsLink::new(ws_rx, cfg.net.max_clients.into()),
            issued_tokens: issued_rx,
        };
        Ok(Office { layout, state, setup_path, world: Some(world) })
    }

    /// The office's public HTTP: the API, the pages, the browser client.
    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    /// The operations HTTP (`/metrics`, health): for the operators' network only.
    pub fn ops_router(&self) -> axum::Router {
        http::ops_router(self.state.clone())
    }

    /// The office's world on `socket`, ready to run (once: it takes the services' channels).
    pub fn world(
        &mut self,
        cfg: &ServeConfig,
        socket: UdpSocket,
        addr: &WorldAddress,
        shutdown: Option<UnboundedReceiver<()>>,
    ) -> anyhow::Result<App> {
        let links = self.world.take().context("the office's world was already built")?;
        build_world(WorldParts {
            in_world: self.state.in_world.clone(),
            office: self.layout.clone(),
            settings: cfg.world.settings(),
            socket,
            public_addr: addr.public_addr,
            private_key: addr.private_key,
            max_clients: cfg.net.max_clients.into(),
            max_per_address: cfg.net.max_clients_per_address.into(),
            metrics: self.state.metrics.clone(),
            issued_tokens: links.issued_tokens,
            shutdown,
            queue: Some(links.queue),
            websocket: Some(links.websocket),
            sessions: Some(links.sessions),
        })
    }
}

/// Signs audit checkpoints, if the office has a key for them (`--audit-key-file`).
fn start_checkpoints(cfg: &ServeConfig, db_cfg: &DbConfig, db: &Db) -> anyhow::Result<()> {
    if let Some(key_file) = &cfg.records.audit_key_file {
        let key = records::checkpoint::load_key(key_file).map_err(anyhow::Error::msg)?;
        let file = cfg
            .records
            .audit_checkpoint_file
            .clone()
            .unwrap_or_else(|| db_cfg.data_dir.join("audit-checkpoints.jsonl"));
        tracing::info!(file = %file.display(), every_s = cfg.records.audit_checkpoint_secs, "signing audit checkpoints");
        records::checkpoint::spawn_writer(
            db.clone(),
            key,
            file,
            Duration::from_secs(cfg.records.audit_checkpoint_secs.into()),
        );
    }
    Ok(())
}

/// An office without an admin prints a one-time link to make the first one: its code.
async fn first_admin_code(db: &Db) -> anyhow::Result<Option<String>> {
    if identity::accounts::has_admin(db).await? {
        return Ok(None);
    }
    let mut b = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut b[..]);
    Ok(Some(hex::encode(b)))
}

/// The OpenID Connect providers residents may sign in with (`--oidc-config`), if any.
fn oidc_providers(cfg: &ServeConfig) -> anyhow::Result<identity::oidc::Providers> {
    let oidc = match &cfg.identity.oidc_config {
        Some(path) => identity::oidc::Providers::load(path).map_err(anyhow::Error::msg)?,
        None => identity::oidc::Providers::none(),
    };
    if !oidc.is_empty() {
        let ids: Vec<String> = oidc.offered().into_iter().map(|(id, _)| id).collect();
        tracing::info!(providers = ?ids, "residents may sign in with OpenID Connect");
    }
    Ok(oidc)
}

/// Loads the procedure catalog under `assets/procedures`, checked against the office.
pub fn load_catalog(assets: &Path, office: &Layout) -> anyhow::Result<catalog::Catalog> {
    Ok(catalog::Catalog::load(&assets.join("procedures"), office)?)
}

/// Opens the records database (migrating it) and loads the office's departments into it.
pub async fn open_db(cfg: &DbConfig, office: &Layout) -> anyhow::Result<Db> {
    let url = db::database_url(cfg.database_url.as_deref(), &cfg.data_dir)?;
    let db = Db::connect(&url).await.with_context(|| format!("cannot open the database ({})", redact(&url)))?;
    for d in &office.departments {
        sqlx::query(
            "INSERT INTO departments (id, ticket_prefix, name_ja, name_en) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET ticket_prefix = $2, name_ja = $3, name_en = $4",
        )
        .bind(&d.id)
        .bind(&d.ticket_prefix)
        .bind(&d.name.ja)
        .bind(&d.name.en)
        .execute(&db.pool)
        .await?;
    }
    let linked = audit::link_earlier_events(&db).await?;
    if linked > 0 {
        tracing::info!(events = linked, "linked earlier audit events into the office-wide chain");
    }
    tracing::info!(database = %redact(&url), backend = db.backend.as_str(), "records database ready");
    Ok(db)
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// The tokio runtime beside the world: two threads (the machine the office is sized for has
/// two cores, and the world takes one).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("madoguchi-io")
        .enable_all()
        .build()?)
}
