//! The Madoguchi server: one process hosting one office.
//!
//! The world (rooms, avatars, chat) is a headless bevy app ticking at a fixed rate; it owns all
//! world state and never waits on I/O. HTTP runs on tokio beside it and reaches the world only
//! through channels drained once per tick. `main.rs` only parses arguments and calls [`run`];
//! this file composes the features, one folder each:
//!
//! - `http/` — routers, one per resource; the text mode; the browser client's files;
//! - `world/` — avatars, movement, views, chat, counters in the world, the tick;
//! - `queue/` — tickets, desks, calling, notices, the no-show timer, the wait estimate;
//! - `net/` — admission, the UDP and WebSocket transports, client records, the outbox;
//! - `records/` — applications, the audit chain, the procedure catalog;
//! - `identity/` — sessions, staff accounts, world principals;
//! - `db.rs`, `events.rs` (office events: who publishes what, who subscribes), `config.rs`,
//!   `metrics.rs`, `ratelimit.rs`, `assets.rs` beneath them all.
//!
//! Each folder uses only what is beneath it; `scripts/check-modules` fails on any import cycle.

pub mod assets;
pub mod config;
pub mod consult;
pub mod db;
pub mod events;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod net;
pub mod queue;
pub mod ratelimit;
pub mod records;
pub mod world;

use anyhow::Context;
use assets::load_office;
use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy_renet::{RenetServer, RenetServerPlugin};
use config::{AuditCommand, Command, DbConfig, ServeConfig, StaffCommand};
use db::Db;
use identity::sessions::{self, SessionEnds, SessionKey};
use identity::staff;
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::{NETCODE_PROTOCOL_ID, connection_config};
use metrics::{Metrics, WorldMetrics};
use net::outbox::Flush;
use ratelimit::RateLimiter;
use records::{audit, catalog};
use renetcode::{NetcodeServer, ServerAuthentication, ServerConfig};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// Loads the procedure catalog under `assets/procedures`, checked against the office.
pub fn load_catalog(assets: &Path, office: &Office) -> anyhow::Result<catalog::Catalog> {
    Ok(catalog::Catalog::load(&assets.join("procedures"), office)?)
}

/// Opens the records database (migrating it) and loads the office's departments into it.
pub async fn open_db(cfg: &DbConfig, office: &Office) -> anyhow::Result<Db> {
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

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("madoguchi-io")
        .enable_all()
        .build()?)
}

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
    let transport = net::udp::UdpTransport::new(parts.socket, netcode).context("cannot configure the UDP socket")?;
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

/// Runs a command of the `madoguchi-server` binary.
pub fn run(cli: config::Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.serve, cli.db),
        Command::CheckAssets => {
            let office = load_office(&cli.serve.assets)?;
            let catalog = load_catalog(&cli.serve.assets, &office)?;
            println!(
                "{}: {} departments, {} rooms ({}), {} procedures",
                office.name.en,
                office.departments.len(),
                office.rooms.len(),
                office.rooms.iter().map(|r| r.id()).collect::<Vec<_>>().join(", "),
                catalog.len()
            );
            Ok(())
        }
        Command::Migrate => {
            let office = load_office(&cli.serve.assets)?;
            let db = runtime()?.block_on(open_db(&cli.db, &office))?;
            println!("database is up to date ({})", db.backend.as_str());
            Ok(())
        }
        Command::Staff(StaffCommand::Add { login, department, roles, display_name }) => {
            let office = load_office(&cli.serve.assets)?;
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let account = runtime()?.block_on(async {
                let db = open_db(&cli.db, &office).await?;
                anyhow::Ok(
                    staff::add(&db, staff::By::CommandLine, &login, &display_name, &department, &roles, password)
                        .await?,
                )
            })?;
            let roles: Vec<_> = account.roles.iter().map(|r| r.as_str()).collect();
            println!("added {} ({}, {})", account.login, account.department_id, roles.join(", "));
            Ok(())
        }
        Command::Audit(AuditCommand::Keygen { out }) => {
            let public = records::checkpoint::keygen(&out).map_err(anyhow::Error::msg)?;
            println!("new audit checkpoint key in {}; its public key (give it to the auditor):", out.display());
            println!("{public}");
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { since_checkpoint, public_key }) => {
            let office = load_office(&cli.serve.assets)?;
            let key = match (&since_checkpoint, public_key, &cli.serve.audit_key_file) {
                (None, ..) => None,
                (Some(_), Some(hex_key), _) => {
                    Some(records::checkpoint::public_key(&hex_key).map_err(anyhow::Error::msg)?)
                }
                (Some(_), None, Some(file)) => {
                    Some(records::checkpoint::load_key(file).map_err(anyhow::Error::msg)?.verifying_key())
                }
                (Some(_), None, None) => anyhow::bail!("--since-checkpoint needs --public-key (or --audit-key-file)"),
            };
            let (verdict, checkpoints) = runtime()?.block_on(async {
                let db = open_db(&cli.db, &office).await?;
                let verdict = audit::verify(&db).await?;
                let checkpoints = match (&since_checkpoint, &key) {
                    (Some(file), Some(key)) => {
                        Some(records::checkpoint::verify_file(&db, file, key).await.map_err(anyhow::Error::msg)?)
                    }
                    _ => None,
                };
                anyhow::Ok((verdict, checkpoints))
            })?;
            if let Some(cp) = checkpoints {
                match cp {
                    records::checkpoint::CheckpointVerdict::Holds { checkpoints, newest_gseq } => println!(
                        "checkpoints hold: {checkpoints} signed checkpoints; nothing up to link {newest_gseq} has changed"
                    ),
                    records::checkpoint::CheckpointVerdict::Broken(why) => {
                        anyhow::bail!("audit checkpoints BROKEN: {why}")
                    }
                }
            }
            match verdict {
                audit::Verdict::Intact { applications, events } => {
                    println!("audit trail intact: {applications} applications, {events} events");
                    Ok(())
                }
                audit::Verdict::Broken { reference, seq, reason } => {
                    anyhow::bail!("audit trail BROKEN at application {reference}, event {seq}: {reason}")
                }
            }
        }
    }
}

/// Starts the session keeper: it keeps the sessions of world connections alive (the world sends
/// them in batches, see `net::sessions`); sessions found ended are published as such (the world
/// closes their connections), and their residents' waiting tickets are cancelled.
fn spawn_session_keeper(
    runtime: &tokio::runtime::Runtime,
    db: &Db,
    queues: &queue::Queues,
    ends: &SessionEnds,
) -> net::sessions::SessionLink {
    let ended_rx = ends.subscribe();
    let ends = ends.clone();
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<Vec<SessionKey>>(1);
    let (db, queues) = (db.clone(), queues.clone());
    runtime.spawn(async move {
        while let Some(keys) = alive_rx.recv().await {
            match sessions::keep_alive(&db, &keys).await {
                Ok(ended) if !ended.is_empty() => {
                    if let Err(e) = queues.cancel_orphaned(sessions::idle_expiry_ms()).await {
                        tracing::warn!(error = %e, "could not cancel the tickets of ended sessions");
                    }
                    ends.publish(ended, None, sessions::EndReason::Expired);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not keep the world's sessions alive"),
            }
        }
    });
    // Well within the idle expiry, at most once a minute (one small write per connection).
    let every = Duration::from_millis((sessions::idle_expiry_ms() / 4).clamp(1000, 60_000) as u64);
    net::sessions::SessionLink::new(alive_tx, ended_rx, every)
}

/// Runs the office until SIGINT or SIGTERM.
pub fn serve(cfg: ServeConfig, db_cfg: DbConfig) -> anyhow::Result<()> {
    let mut office = load_office(&cfg.assets)?;
    if cfg.always_open {
        tracing::warn!("--always-open: every department takes tickets at any hour");
        office.set_always_open();
    }
    let office = Arc::new(office);
    let catalog = Arc::new(load_catalog(&cfg.assets, &office)?);
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
    let ops_listener =
        std::net::TcpListener::bind(cfg.ops_addr).with_context(|| format!("cannot bind ops {}", cfg.ops_addr))?;
    ops_listener.set_nonblocking(true)?;
    let ops_addr = ops_listener.local_addr()?;
    if !ops_addr.ip().is_loopback() {
        tracing::warn!(%ops_addr, "the operations listener (/metrics) is not on loopback: keep it off the public network");
    }

    let metrics = Arc::new(Metrics::default());
    let (issued_tx, issued_rx) = unbounded_channel();
    let (shutdown_tx, shutdown_rx) = unbounded_channel();
    let runtime = runtime()?;
    sessions::set_idle_expiry(Duration::from_secs(cfg.session_idle_secs.into()));
    let db = runtime.block_on(open_db(&db_cfg, &office))?;
    let purged = runtime.block_on(sessions::purge_expired(&db))?;
    tracing::info!(sessions = purged, "purged expired sessions");
    let (notice_tx, notice_rx) = unbounded_channel();
    let (request_tx, request_rx) = tokio::sync::mpsc::channel(queue::REQUEST_QUEUE);
    let events = events::OfficeEvents::default();
    world::counters::QueueLink::follow_events(runtime.handle(), &events, notice_tx.clone());
    let records = records::Records::new(db.clone(), catalog.clone(), events.clone(), office.utc_offset_min);
    let queues = queue::Queues::new(
        db.clone(),
        office.clone(),
        queue::QueueSettings {
            no_show_after: Duration::from_secs(cfg.no_show_secs.into()),
            desk_grace: Duration::from_secs(cfg.desk_grace_secs.into()),
            desk_presence: Duration::from_secs(cfg.desk_presence_secs.into()),
            take_burst: 5,
            take_per_minute: cfg.tickets_per_minute,
        },
        notice_tx,
        events.clone(),
        metrics.clone(),
    );
    runtime.block_on(queues.recover())?;
    queues.follow_events(runtime.handle(), &events);
    let session_ends = SessionEnds::default();
    queues.close_desks_of_ended(runtime.handle(), session_ends.subscribe());
    let (failures_tx, failures_rx) = unbounded_channel();
    let media: Arc<dyn consult::media::MediaEngine> = Arc::new(consult::media::sfu::Sfu::new(
        consult::media::sfu::SfuConfig {
            bind_ip: cfg.media_bind,
            public_ip: cfg.media_public_ip,
            ports: cfg.media_ports.clone(),
            tcp: cfg.media_tcp,
            peers: consult::media::candidates::PeerNetworks::new(
                cfg.media_bind,
                &cfg.media_peer_deny.0,
                &cfg.media_peer_allow.0,
            ),
            fault_injection: cfg.fault_injection,
        },
        failures_tx,
        metrics.clone(),
    ));
    if cfg.fault_injection {
        tracing::warn!("--fault-injection: staff can make a consultation's media fail on purpose");
    }
    let consults = consult::Consultations::new(
        db.clone(),
        queues.clone(),
        records.clone(),
        media,
        consult::ConsultSettings {
            invite_ttl: Duration::from_secs(cfg.invite_ttl_secs.into()),
            empty_grace: Duration::from_secs(cfg.consult_empty_secs.into()),
            signal_ticket_ttl: Duration::from_secs(30),
            signal_idle: Duration::from_secs(cfg.consult_signal_idle_secs.into()),
            ice: consult::IceSettings {
                stun_urls: cfg.stun_urls.clone(),
                turn_urls: cfg.turn_urls.clone(),
                turn_secret: cfg.turn_secret.clone(),
                turn_ttl: Duration::from_secs(cfg.turn_ttl_secs.into()),
            },
            fault_injection: cfg.fault_injection,
        },
        metrics.clone(),
        events.clone(),
        session_ends.clone(),
    );
    runtime.block_on(consults.start_service(failures_rx))?;
    queues.spawn(runtime.handle(), request_rx);
    if let Some(key_file) = &cfg.audit_key_file {
        let key = records::checkpoint::load_key(key_file).map_err(anyhow::Error::msg)?;
        let file = cfg.audit_checkpoint_file.clone().unwrap_or_else(|| db_cfg.data_dir.join("audit-checkpoints.jsonl"));
        tracing::info!(file = %file.display(), every_s = cfg.audit_checkpoint_secs, "signing audit checkpoints");
        let _guard = runtime.enter();
        records::checkpoint::spawn_writer(db.clone(), key, file, Duration::from_secs(cfg.audit_checkpoint_secs.into()));
    }
    let session_link = spawn_session_keeper(&runtime, &db, &queues, &session_ends);
    let (ws_tx, ws_rx) = unbounded_channel();
    let ws_tickets = Arc::new(net::websocket::WsTickets::new(
        Duration::from_secs(cfg.token_ttl_secs.into()),
        Duration::from_secs(cfg.client_timeout_secs.into()),
        ws_tx,
    ));
    // An office without an admin prints a one-time link to make the first one.
    let setup_code = if runtime.block_on(identity::accounts::has_admin(&db))? {
        None
    } else {
        let mut b = [0u8; 16];
        rand::Rng::fill(&mut rand::rng(), &mut b[..]);
        Some(hex::encode(b))
    };
    let setup_path = setup_code.as_ref().map(|c| format!("/staff/setup?code={c}"));
    let in_world = net::clients::InWorld::default();
    let oidc = match &cfg.oidc_config {
        Some(path) => identity::oidc::Providers::load(path).map_err(anyhow::Error::msg)?,
        None => identity::oidc::Providers::none(),
    };
    if !oidc.is_empty() {
        let ids: Vec<String> = oidc.offered().into_iter().map(|(id, _)| id).collect();
        tracing::info!(providers = ?ids, "residents may sign in with OpenID Connect");
    }
    let state = http::state::HttpState {
        oidc: Arc::new(oidc),
        in_world: in_world.clone(),
        setup_code: Arc::new(std::sync::Mutex::new(setup_code)),
        ws: ws_tickets,
        queues,
        consults,
        page_links: Arc::default(),
        handoffs: Arc::default(),
        // A public https:// URL means browsers reach the office over TLS.
        secure_cookies: cfg.secure_cookies || cfg.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
        proxies: Arc::new(cfg.trusted_proxies.clone()),
        event_streams: ratelimit::Slots::new(http::state::STREAMS_PER_SESSION),
        public_origin: cfg.public_url.as_deref().map(Arc::from),
        web_dir: Some(cfg.web_dir.clone()),
        metrics: metrics.clone(),
        db,
        catalog,
        records,
        events,
        words: Arc::new(madoguchi_shared::i18n::Catalog::with_staff()),
        tokens: Arc::new(net::tokens::TokenIssuer::new(
            private_key,
            public_addr,
            Duration::from_secs(cfg.token_ttl_secs.into()),
            cfg.client_timeout_secs.into(),
            issued_tx,
            metrics.clone(),
        )),
        guest_limit: Arc::new(RateLimiter::new(cfg.sessions_per_minute, cfg.sessions_per_minute)),
        login_limit: Arc::new(RateLimiter::new(10, cfg.sessions_per_minute.min(10))),
        session_ends: session_ends.clone(),
        token_limit: Arc::new(RateLimiter::new(12, 30)),
        write_limit: Arc::new(RateLimiter::new(cfg.resident_writes_per_minute, cfg.resident_writes_per_minute)),
    };
    let (listener, ops_listener) = {
        let _guard = runtime.enter();
        (tokio::net::TcpListener::from_std(http_listener)?, tokio::net::TcpListener::from_std(ops_listener)?)
    };
    let (stop_http_tx, stop_http_rx) = tokio::sync::watch::channel(false);
    let purge_db = state.db.clone();
    let purge_queues = state.queues.clone();
    let limits = http::listen::ConnectionLimits {
        max_connections: cfg.max_http_connections as usize,
        max_per_address: cfg.max_http_connections_per_address as usize,
        header_timeout: Duration::from_secs(cfg.http_header_timeout_secs.into()),
    };
    // On a stop signal, both listeners stop accepting and let requests in flight finish.
    runtime.spawn(http::listen::serve(
        ops_listener,
        http::ops_router(state.clone()),
        http::listen::ConnectionLimits { max_connections: 64, max_per_address: 64, ..limits },
        state.proxies.clone(),
        None,
        stop_http_rx.clone(),
    ));
    let proxies = state.proxies.clone();
    runtime.spawn(http::listen::serve(
        listener,
        http::router(state),
        limits,
        proxies,
        Some(metrics.clone()),
        stop_http_rx,
    ));
    runtime.spawn(async move {
        wait_for_signal().await;
        let _ = shutdown_tx.send(());
        let _ = stop_http_tx.send(true);
    });
    // Expired sessions and old login attempts are removed at start and then every hour (or a
    // quarter of the idle expiry, if shorter); each time, and at start, the waiting tickets of
    // residents left without a live session are cancelled.
    runtime.spawn(async move {
        let period = Duration::from_millis((sessions::idle_expiry_ms() / 4).clamp(1000, 3_600_000) as u64);
        let mut every = tokio::time::interval(period);
        every.tick().await; // the first tick is immediate; the start-up purge already ran
        loop {
            if let Err(e) = purge_queues.cancel_orphaned(sessions::idle_expiry_ms()).await {
                tracing::warn!(error = %e, "could not cancel the tickets of ended sessions");
            }
            every.tick().await;
            match sessions::purge_expired(&purge_db).await {
                Ok(n) if n > 0 => tracing::info!(sessions = n, "purged expired sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
            }
        }
    });

    let queue_link = world::counters::QueueLink::new(request_tx, notice_rx, metrics.clone());
    let mut app = build_world(WorldParts {
        in_world,
        office,
        settings: world::settings::WorldSettings {
            tick_hz: cfg.tick_hz,
            snapshot_hz: cfg.snapshot_hz.min(cfg.tick_hz),
            max_visible: cfg.max_visible,
        },
        socket,
        public_addr,
        private_key,
        max_clients: cfg.max_clients.into(),
        max_per_address: cfg.max_clients_per_address.into(),
        metrics,
        issued_tokens: issued_rx,
        shutdown: Some(shutdown_rx),
        queue: Some(queue_link),
        websocket: Some(net::websocket::WsLink::new(ws_rx, cfg.max_clients.into())),
        sessions: Some(session_link),
    })?;
    tracing::info!(%http_addr, %ops_addr, %udp_addr, %public_addr, tick_hz = cfg.tick_hz, "office open");
    // One machine-readable line on stdout after the first tick, for scripts and tests that start
    // the server on ephemeral ports.
    let mut ready = serde_json::json!({"event": "ready", "http": http_addr.to_string(), "ops": ops_addr.to_string(), "udp": udp_addr.to_string(), "public_udp": public_addr.to_string()});
    if let Some(path) = &setup_path {
        let base = cfg.public_url.clone().unwrap_or_else(|| format!("http://{http_addr}"));
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
