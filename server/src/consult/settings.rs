//! Consultations' flags: media ports and addresses, which peers media may reach, STUN/TURN,
//! and the consultation's timers.

use super::media::{candidates, ports, sfu::SfuConfig};
use super::model::{ConsultSettings, IceSettings};
use std::time::Duration;

/// Consultations and their media.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Consultations")]
pub struct ConsultFlags {
    /// UDP ports for consultation media, `low-high`: each participant's connection uses one
    /// (open them in the firewall). ICE over TCP, when on, uses the same numbers over TCP.
    #[arg(long, env = "MADOGUCHI_MEDIA_PORTS", default_value = "40000-40999", value_parser = ports::parse_range)]
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
}

/// A list of networks (`--media-peer-deny`, `--media-peer-allow`).
#[derive(Debug, Clone, Default)]
pub struct Networks(pub Vec<ipnet::IpNet>);

fn parse_networks(s: &str) -> Result<Networks, String> {
    candidates::parse_networks(s).map(Networks)
}

impl ConsultFlags {
    pub fn settings(&self) -> ConsultSettings {
        ConsultSettings {
            invite_ttl: Duration::from_secs(self.invite_ttl_secs.into()),
            empty_grace: Duration::from_secs(self.consult_empty_secs.into()),
            signal_ticket_ttl: Duration::from_secs(30),
            signal_idle: Duration::from_secs(self.consult_signal_idle_secs.into()),
            ice: IceSettings {
                stun_urls: self.stun_urls.clone(),
                turn_urls: self.turn_urls.clone(),
                turn_secret: self.turn_secret.clone(),
                turn_ttl: Duration::from_secs(self.turn_ttl_secs.into()),
            },
            fault_injection: self.fault_injection,
        }
    }

    /// The media engine's settings.
    pub fn media(&self) -> SfuConfig {
        SfuConfig {
            bind_ip: self.media_bind,
            public_ip: self.media_public_ip,
            ports: self.media_ports.clone(),
            tcp: self.media_tcp,
            peers: candidates::PeerNetworks::new(self.media_bind, &self.media_peer_deny.0, &self.media_peer_allow.0),
            fault_injection: self.fault_injection,
        }
    }
}
