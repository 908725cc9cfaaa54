//! The transports' flags: where the world listens, how many may connect, and the netcode key.

use std::net::SocketAddr;

/// How clients reach the world.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "World connections")]
pub struct NetFlags {
    /// UDP address the world (netcode) listens on. Port 0 picks a free port.
    #[arg(long, env = "MADOGUCHI_UDP_ADDR", default_value = "0.0.0.0:5000")]
    pub udp_addr: SocketAddr,

    /// Address clients are told to reach the world at, put into connect tokens. Needed behind
    /// NAT or a load balancer. Default: the bound UDP address (127.0.0.1 if bound to 0.0.0.0).
    #[arg(long, env = "MADOGUCHI_PUBLIC_UDP_ADDR")]
    pub public_udp_addr: Option<SocketAddr>,

    /// Most clients connected at once (netcode allows at most 1024).
    #[arg(long, env = "MADOGUCHI_MAX_CLIENTS", default_value_t = 512, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_clients: u16,

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

    /// Netcode private key, 64 hex digits. Keep it secret; share it only between instances
    /// that accept each other's tokens. Default: a fresh random key at each start.
    #[arg(long, env = "MADOGUCHI_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
}

impl NetFlags {
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
