//! HTTP's flags: the listeners, their limits, the public origin, proxies, cookies, the web
//! client's files.

use super::client_addr::TrustedProxies;
use std::net::SocketAddr;

/// How the office serves HTTP.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "HTTP")]
pub struct HttpFlags {
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

    /// Reverse proxies to believe (comma-separated CIDRs or addresses, e.g. 10.0.0.0/8,::1):
    /// only from these peers do `Forwarded`/`X-Forwarded-For` name the client's address, which
    /// the per-address limits then use. Default: none (the TCP peer is the client).
    #[arg(long, env = "MADOGUCHI_TRUSTED_PROXIES", default_value = "", value_parser = parse_proxies)]
    pub trusted_proxies: TrustedProxies,

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

    /// Directory of the browser client's build (`scripts/build-web` writes it), served under /web.
    #[arg(long, env = "MADOGUCHI_WEB_DIR", default_value = "client/dist")]
    pub web_dir: std::path::PathBuf,

    /// Mark the text mode's session cookie `Secure`: set this when the office is served over
    /// HTTPS (directly or behind a TLS proxy).
    #[arg(long, env = "MADOGUCHI_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

fn parse_proxies(s: &str) -> Result<TrustedProxies, String> {
    TrustedProxies::parse(s)
}

/// An http(s) URL of scheme and host (and port): the origin browsers send, no path.
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

impl HttpFlags {
    /// Whether the session cookie is `Secure`: asked for, or implied by a public https:// URL
    /// (browsers reach the office over TLS).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies || self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}
