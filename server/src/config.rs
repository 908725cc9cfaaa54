//! Process configuration: every flag has an environment variable, and `--help` lists both.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The Madoguchi ward office server: the authoritative world (rooms, avatars, chat) over
/// netcode/UDP, and HTTP (health, metrics, connect tokens) in the same process.
#[derive(Debug, Clone, Parser)]
#[command(name = "madoguchi-server", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeConfig,
    #[command(flatten)]
    pub db: DbConfig,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the office (the default when no command is given).
    Serve,
    /// Load and validate the office layouts and procedure catalog, print a summary, and exit.
    CheckAssets,
    /// Apply database migrations and load the departments, then exit.
    Migrate,
    /// Manage staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Check the records' audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member. The password is read from standard input (one line, 12+ characters).
    Add {
        /// Login name: 3-64 of a-z, 0-9, '.', '_' and '-'.
        #[arg(long)]
        login: String,
        /// Department id from office.toml, e.g. resident_registration.
        #[arg(long)]
        department: String,
        /// clerk, supervisor or admin; repeat for several.
        #[arg(long = "role", default_value = "clerk")]
        roles: Vec<String>,
        /// Name shown to residents (default: the login).
        #[arg(long, default_value = "")]
        display_name: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Walk the office-wide chain and every application's chain, checking every event; exit 1
    /// and name the first broken link if any.
    Verify {
        /// Also check a file of signed checkpoints (see --audit-key-file): every signature, and
        /// that nothing up to the newest checkpoint changed.
        #[arg(long)]
        since_checkpoint: Option<PathBuf>,
        /// The checkpoints' public key, 64 hex digits (`audit keygen` prints it). Default: the
        /// public half of --audit-key-file.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Make a new checkpoint signing key in a new file (owner-only); prints its public key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where records are kept.
#[derive(Debug, Clone, clap::Args)]
pub struct DbConfig {
    /// Database URL: postgres://user:pass@host/db for PostgreSQL, or sqlite://path. Default: a
    /// SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the default SQLite database.
    #[arg(long, env = "MADOGUCHI_DATA_DIR", global = true, default_value = "data")]
    pub data_dir: PathBuf,
}

/// How to run the office.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// UDP address the world (netcode) listens on. Port 0 picks a free port.
    #[arg(long, env = "MADOGUCHI_UDP_ADDR", default_value = "0.0.0.0:5000")]
    pub udp_addr: SocketAddr,

    /// Address clients are told to reach the world at, put into connect tokens. Needed behind
    /// NAT or a load balancer. Default: the bound UDP address (127.0.0.1 if bound to 0.0.0.0).
    #[arg(long, env = "MADOGUCHI_PUBLIC_UDP_ADDR")]
    pub public_udp_addr: Option<SocketAddr>,

    /// HTTP address for the web client, the text mode, the API and /healthz. Port 0 picks a
    /// free port.
    #[arg(long, env = "MADOGUCHI_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// HTTP address for operations: /metrics and /healthz. Keep it off the public network
    /// (the default is loopback); a Prometheus beside the server scrapes it. Port 0 picks a
    /// free port.
    #[arg(long, env = "MADOGUCHI_OPS_ADDR", default_value = "127.0.0.1:9090")]
    pub ops_addr: SocketAddr,

    /// The office's public address as residents' browsers see it, e.g.
    /// https://madoguchi.example.jp. Form posts must come from this origin. Default: the
    /// request's own Host (right when nothing in front rewrites Host).
    #[arg(long, env = "MADOGUCHI_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// OpenID Connect providers residents may sign in with: a TOML file of `[[provider]]`s (id,
    /// name, issuer, client_id, client_secret_env, scopes, verified_when); see the README.
    /// Default: none (residents are guests).
    #[arg(long, env = "MADOGUCHI_OIDC_CONFIG")]
    pub oidc_config: Option<std::path::PathBuf>,

    /// Reverse proxies to believe (comma-separated CIDRs or addresses, e.g. 10.0.0.0/8,::1):
    /// only from these peers do `Forwarded`/`X-Forwarded-For` name the client's address, which
    /// the per-address limits then use. Default: none (the TCP peer is the client).
    #[arg(long, env = "MADOGUCHI_TRUSTED_PROXIES", default_value = "", value_parser = parse_proxies)]
    pub trusted_proxies: crate::http::client_addr::TrustedProxies,

    /// Most HTTP connections open at once; beyond it, new ones wait for a free one.
    #[arg(long, env = "MADOGUCHI_MAX_HTTP_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_http_connections: u32,

    /// Seconds a client has to send a request's headers (on a new connection, and between
    /// requests on a kept-alive one); slower connections are closed.
    #[arg(long, env = "MADOGUCHI_HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=300))]
    pub http_header_timeout_secs: u16,

    /// Most HTTP connections open at once from one client address (not counted for trusted
    /// proxies); more are closed at once.
    #[arg(long, env = "MADOGUCHI_MAX_HTTP_CONNECTIONS_PER_ADDRESS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_http_connections_per_address: u32,

    /// Directory holding office.toml and layouts/*.toml.
    #[arg(long, env = "MADOGUCHI_ASSETS", global = true, default_value = "assets")]
    pub assets: PathBuf,

    /// World ticks per second.
    #[arg(long, env = "MADOGUCHI_TICK_HZ", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=120))]
    pub tick_hz: u16,

    /// Snapshots per second sent to each client (at most the tick rate). Clients interpolate
    /// between them; fewer means less bandwidth and less work per tick.
    #[arg(long, env = "MADOGUCHI_SNAPSHOT_HZ", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=120))]
    pub snapshot_hz: u16,

    /// Most clients connected at once (netcode allows at most 1024).
    #[arg(long, env = "MADOGUCHI_MAX_CLIENTS", default_value_t = 512, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_clients: u16,

    /// Most other avatars a client is sent: the nearest ones in its room.
    #[arg(long, env = "MADOGUCHI_MAX_VISIBLE", default_value_t = 32)]
    pub max_visible: usize,

    /// Most world connections from one network address (over UDP and WebSocket together). A
    /// session holds one connection at most: its newest replaces an older one.
    #[arg(long, env = "MADOGUCHI_MAX_CLIENTS_PER_ADDRESS", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_clients_per_address: u16,

    /// Seconds of silence after which a client is dropped and its avatar removed.
    #[arg(long, env = "MADOGUCHI_CLIENT_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=300))]
    pub client_timeout_secs: u16,

    /// Seconds a connect token stays valid after it is issued.
    #[arg(long, env = "MADOGUCHI_TOKEN_TTL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=3600))]
    pub token_ttl_secs: u16,

    /// Guest sessions one client address may open per minute (also its burst); staff logins are
    /// held to at most 10 a minute per address. 0 turns both limits off. Behind a reverse proxy
    /// every client shares the proxy's address: raise this, or limit at the proxy.
    #[arg(long, env = "MADOGUCHI_SESSIONS_PER_MINUTE", default_value_t = 20)]
    pub sessions_per_minute: u32,

    /// Directory of the browser client's build (`scripts/build-web` writes it), served under /web.
    #[arg(long, env = "MADOGUCHI_WEB_DIR", default_value = "client/dist")]
    pub web_dir: std::path::PathBuf,

    /// Mark the text mode's session cookie `Secure`: set this when the office is served over
    /// HTTPS (directly or behind a TLS proxy).
    #[arg(long, env = "MADOGUCHI_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Seconds a session may sit idle before it ends (30 minutes). An open world
    /// connection or text-mode page keeps its session alive; when a session ends, its resident's
    /// waiting tickets are cancelled.
    #[arg(long, env = "MADOGUCHI_SESSION_IDLE_SECS", default_value_t = 1800, value_parser = clap::value_parser!(u32).range(2..=86_400))]
    pub session_idle_secs: u32,

    /// Tickets one resident may take per minute (after a burst of 5). 0 turns the limit off.
    #[arg(long, env = "MADOGUCHI_TICKETS_PER_MINUTE", default_value_t = 10)]
    pub tickets_per_minute: u32,

    /// Writes one resident may make to their applications per minute (drafts, edits,
    /// submissions, withdrawals; also the burst). Every edit is kept in the audit trail for
    /// good, so this bounds how fast one session can grow the database. 0 turns it off.
    #[arg(long, env = "MADOGUCHI_RESIDENT_WRITES_PER_MINUTE", default_value_t = 30)]
    pub resident_writes_per_minute: u32,

    /// Take tickets at any hour, ignoring the opening hours in office.toml (demonstrations, tests).
    #[arg(long, env = "MADOGUCHI_ALWAYS_OPEN")]
    pub always_open: bool,

    /// Seconds a called resident has to reach the desk before they are a no-show and the desk
    /// calls the next ticket.
    #[arg(long, env = "MADOGUCHI_NO_SHOW_SECS", default_value_t = 180, value_parser = clap::value_parser!(u16).range(1..))]
    pub no_show_secs: u16,

    /// Seconds a desk staffed from the console (no avatar at it) counts as attended after the
    /// clerk's last desk action or presence heartbeat (`POST /api/v1/staff/desk/heartbeat`);
    /// an unattended desk does not call the next number when a called resident does not come.
    #[arg(long, env = "MADOGUCHI_DESK_PRESENCE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u16).range(1..))]
    pub desk_presence_secs: u16,

    /// Seconds a clerk who leaves their desk or disconnects keeps it before it closes.
    #[arg(long, env = "MADOGUCHI_DESK_GRACE_SECS", default_value_t = 60)]
    pub desk_grace_secs: u16,

    /// File holding the Ed25519 key (64 hex digits; `audit keygen` makes one) that signs audit
    /// checkpoints. Keep it outside the database and its backups. Without it, no checkpoints.
    #[arg(long, env = "MADOGUCHI_AUDIT_KEY_FILE", global = true)]
    pub audit_key_file: Option<PathBuf>,

    /// Where signed audit checkpoints are appended (one JSON line each). Default:
    /// audit-checkpoints.jsonl in the data directory. Ship it off the machine.
    #[arg(long, env = "MADOGUCHI_AUDIT_CHECKPOINT_FILE")]
    pub audit_checkpoint_file: Option<PathBuf>,

    /// Seconds between audit checkpoints (one is written only when the chain has grown).
    #[arg(long, env = "MADOGUCHI_AUDIT_CHECKPOINT_SECS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_checkpoint_secs: u32,

    /// UDP ports for consultation media, `low-high`: each participant's connection uses one
    /// (open them in the firewall). ICE over TCP, when on, uses the same numbers over TCP.
    #[arg(long, env = "MADOGUCHI_MEDIA_PORTS", default_value = "40000-40999", value_parser = crate::consult::media::ports::parse_range)]
    pub media_ports: std::ops::RangeInclusive<u16>,

    /// Address consultation media sockets bind to. 0.0.0.0: every interface.
    #[arg(long, env = "MADOGUCHI_MEDIA_BIND", default_value = "0.0.0.0")]
    pub media_bind: std::net::IpAddr,

    /// Public address participants send media to, when the server is behind a 1:1 NAT (a cloud
    /// machine's public IP): the host candidates the server sends carry it instead of the bound
    /// address.
    #[arg(long, env = "MADOGUCHI_MEDIA_PUBLIC_IP")]
    pub media_public_ip: Option<std::net::IpAddr>,

    /// Networks the media server never sends ICE checks to, on top of the defaults (link-local,
    /// including the cloud metadata address 169.254.169.254; multicast and reserved; loopback
    /// unless `--media-bind` is loopback): comma-separated, e.g. the server's own internal
    /// ranges, `10.0.0.0/8,fd00::/8`. A participant's candidate naming one is refused.
    #[arg(long, env = "MADOGUCHI_MEDIA_PEER_DENY", default_value = "", value_parser = parse_networks)]
    pub media_peer_deny: Networks,

    /// Exceptions to the denied networks (e.g. the clerks' subnet inside a denied internal range).
    #[arg(long, env = "MADOGUCHI_MEDIA_PEER_ALLOW", default_value = "", value_parser = parse_networks)]
    pub media_peer_allow: Networks,

    /// Also accept consultation media over TCP (ICE-TCP, passive) on the media ports, for
    /// networks that block UDP.
    #[arg(long, env = "MADOGUCHI_MEDIA_TCP")]
    pub media_tcp: bool,

    /// STUN servers for participants' browsers (comma-separated `stun:host:port` URLs).
    #[arg(long, env = "MADOGUCHI_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Vec<String>,

    /// TURN servers for participants behind restrictive networks (comma-separated
    /// `turn:host:port?transport=udp` URLs); needs --turn-secret.
    #[arg(long, env = "MADOGUCHI_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,

    /// The TURN server's shared secret (coturn `static-auth-secret`): participants get
    /// credentials made from it that expire after --turn-ttl-secs; the secret itself is never sent.
    #[arg(long, env = "MADOGUCHI_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// Seconds a participant's TURN credential is valid. TURN credentials cannot be revoked, so
    /// they are short-lived: a participant's signalling connection hands out fresh ones at half
    /// this while the consultation runs, and none after it ends.
    #[arg(long, env = "MADOGUCHI_TURN_TTL_SECS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(4..))]
    pub turn_ttl_secs: u32,

    /// Seconds an interpreter's one-time code is valid.
    #[arg(long, env = "MADOGUCHI_INVITE_TTL_SECS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub invite_ttl_secs: u32,

    /// Seconds a consultation that everyone has left waits for someone to come back before it
    /// ends.
    #[arg(long, env = "MADOGUCHI_CONSULT_EMPTY_SECS", default_value_t = 30)]
    pub consult_empty_secs: u16,

    /// Seconds a consultation's signalling connection may stay silent (no message, no ping)
    /// before it is closed; clients ping every 20 s.
    #[arg(long, env = "MADOGUCHI_CONSULT_SIGNAL_IDLE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u16).range(5..))]
    pub consult_signal_idle_secs: u16,

    /// Lets staff make a consultation's media fail on purpose
    /// (`POST /api/v1/staff/consultations/{id}/fault`), for tests of isolation. Never in production.
    #[arg(long, hide = true)]
    pub fault_injection: bool,

    /// Netcode private key, 64 hex digits. Keep it secret; share it only between instances
    /// that accept each other's tokens. Default: a fresh random key at each start.
    #[arg(long, env = "MADOGUCHI_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
}

fn parse_proxies(s: &str) -> Result<crate::http::client_addr::TrustedProxies, String> {
    crate::http::client_addr::TrustedProxies::parse(s)
}

/// An http(s) URL of scheme and host (and port): the origin browsers send, no path.
/// A list of networks (`--media-peer-deny`, `--media-peer-allow`).
#[derive(Debug, Clone, Default)]
pub struct Networks(pub Vec<ipnet::IpNet>);

fn parse_networks(s: &str) -> Result<Networks, String> {
    crate::consult::media::candidates::parse_networks(s).map(Networks)
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let (scheme, rest) = s.split_once("://").ok_or("expected e.g. https://madoguchi.example.jp")?;
    if !matches!(scheme, "http" | "https") {
        return Err(format!("the scheme must be http or https, not {scheme:?}"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("give only the scheme, host and port, without a path".into());
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

impl ServeConfig {
    /// The 32-byte netcode key: parsed from config, or random.
    pub fn netcode_key(&self) -> anyhow::Result<[u8; 32]> {
        match &self.private_key {
            Some(hexkey) => {
                let bytes = hex::decode(hexkey.trim())
                    .map_err(|e| anyhow::anyhow!("MADOGUCHI_PRIVATE_KEY / --private-key is not hex: {e}"))?;
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    anyhow::anyhow!(
                        "MADOGUCHI_PRIVATE_KEY / --private-key must be 32 bytes (64 hex digits), got {}",
                        bytes.len()
                    )
                })
            }
            None => Ok(rand::random()),
        }
    }
}
