//! The address participants are told to send media to. The server binds its media sockets to a
//! local address; behind a 1:1 NAT (a cloud VM's public IP) that address is not reachable, and
//! webrtc 0.21.1 stores its NAT 1:1 option without using it. So the server rewrites the
//! connection address of the host candidates it sends — trickled ones, and any in its SDP — to
//! the public address the deployment names (`--media-public-ip`). Only the candidates of the
//! server's own legs pass through here: a participant never sees another participant's address.
//!
//! The other way, the candidates a participant sends are where the server will send ICE checks
//! (STUN binding requests): [`PeerNetworks`] decides which addresses it may send to at all, so a
//! participant cannot make the media server probe the cloud's metadata address or an operator's
//! internal network, and [`candidate_address`] reads the address a candidate names.

use ipnet::IpNet;
use std::net::IpAddr;

/// Networks the media server never sends ICE checks to unless allowed: "this network", link-local
/// (the cloud metadata address 169.254.169.254 among them), multicast, reserved and broadcast,
/// and their IPv6 kin. Loopback is added unless the media sockets themselves are on loopback.
pub const DEFAULT_DENIED: &[&str] =
    &["0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3", "::/128", "fe80::/10", "fec0::/10", "ff00::/8"];

/// Which addresses a participant's candidates may name: not in the denied networks (the defaults
/// and `--media-peer-deny`), unless in the allowed ones (`--media-peer-allow`, which carves
/// exceptions out of the denied).
#[derive(Debug, Clone)]
pub struct PeerNetworks {
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
}

impl PeerNetworks {
    /// The defaults for media bound to `bound` (loopback denied unless `bound` is loopback),
    /// plus `deny`, less `allow`.
    pub fn new(bound: IpAddr, deny: &[IpNet], allow: &[IpNet]) -> PeerNetworks {
        let mut all: Vec<IpNet> = DEFAULT_DENIED.iter().filter_map(|n| n.parse().ok()).collect();
        if !bound.is_loopback() {
            all.extend(["127.0.0.0/8", "::1/128"].iter().filter_map(|n| n.parse::<IpNet>().ok()));
        }
        all.extend_from_slice(deny);
        PeerNetworks { deny: all, allow: allow.to_vec() }
    }

    /// Whether the server may send ICE checks to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address is its IPv4 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.allow.iter().any(|n| n.contains(&ip)) || !self.deny.iter().any(|n| n.contains(&ip))
    }
}

/// Parses a comma-separated list of networks (`10.0.0.0/8,fd00::/8`; a bare address is one host).
pub fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not a network (a.b.c.d/n or an IPv6 prefix)"))
        })
        .collect()
}

/// What a participant's candidate names: an IP address, a name (`….local` under mDNS, or any
/// other), or nothing readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateAddress {
    Ip(IpAddr),
    Name(String),
    Unreadable,
}

/// The connection address of a candidate (an `a=candidate:` value, with or without the
/// `candidate:` prefix): `foundation component transport priority address port typ type …`.
pub fn candidate_address(candidate: &str) -> CandidateAddress {
    let fields: Vec<&str> = candidate.split_ascii_whitespace().collect();
    if fields.len() < 8 || fields[6] != "typ" {
        return CandidateAddress::Unreadable;
    }
    match fields[4].parse::<IpAddr>() {
        Ok(ip) => CandidateAddress::Ip(ip),
        Err(_) if !fields[4].is_empty() => CandidateAddress::Name(fields[4].to_string()),
        Err(_) => CandidateAddress::Unreadable,
    }
}

/// `candidate` (an `a=candidate:` value, with or without the `candidate:` prefix) with its
/// connection address replaced by `public`, if it is a host candidate on `bound` (or on any
/// address, when the server binds the unspecified one). Anything else passes unchanged.
pub fn rewrite_candidate(candidate: &str, bound: IpAddr, public: IpAddr) -> String {
    // foundation component transport priority address port "typ" type ...
    let fields: Vec<&str> = candidate.split(' ').collect();
    if fields.len() < 8 || fields[6] != "typ" || fields[7] != "host" {
        return candidate.to_string();
    }
    let Ok(addr) = fields[4].parse::<IpAddr>() else { return candidate.to_string() };
    if addr != bound && !bound.is_unspecified() {
        return candidate.to_string();
    }
    let mut out: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    out[4] = public.to_string();
    out.join(" ")
}

/// `sdp` with every host candidate line rewritten by [`rewrite_candidate`], and the `c=` lines
/// that name the bound address with the public one.
pub fn rewrite_sdp(sdp: &str, bound: IpAddr, public: IpAddr) -> String {
    let family = if public.is_ipv4() { "IP4" } else { "IP6" };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix("\r\n") {
            Some(b) => (b, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            },
        };
        if let Some(value) = body.strip_prefix("a=") {
            if value.starts_with("candidate:") {
                out.push_str("a=");
                out.push_str(&rewrite_candidate(value, bound, public));
                out.push_str(end);
                continue;
            }
        } else if let Some(conn) = body.strip_prefix("c=IN ") {
            let mut parts = conn.splitn(2, ' ');
            let (_, addr) = (parts.next(), parts.next().unwrap_or(""));
            if addr.parse::<IpAddr>().is_ok_and(|a| a == bound && !bound.is_unspecified()) {
                out.push_str(&format!("c=IN {family} {public}{end}"));
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 5));

    #[test]
    fn host_candidates_on_the_bound_address_get_the_public_one() {
        let c = "candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host";
        assert_eq!(rewrite_candidate(c, LOCAL, PUBLIC), "candidate:1 1 udp 2130706431 203.0.113.7 40001 typ host");
        let tcp = "candidate:2 1 tcp 1671430143 10.0.0.5 40001 typ host tcptype passive";
        assert!(rewrite_candidate(tcp, LOCAL, PUBLIC).contains(" 203.0.113.7 40001 typ host tcptype passive"));
        // Bound to every address: any host candidate is rewritten.
        let other = "candidate:1 1 udp 2130706431 192.168.1.2 40001 typ host";
        assert!(rewrite_candidate(other, "0.0.0.0".parse().unwrap(), PUBLIC).contains(" 203.0.113.7 "));
    }

    #[test]
    fn other_candidates_and_garbage_pass_unchanged() {
        let srflx = "candidate:3 1 udp 1694498815 198.51.100.1 40001 typ srflx raddr 10.0.0.5 rport 40001";
        assert_eq!(rewrite_candidate(srflx, LOCAL, PUBLIC), srflx);
        let elsewhere = "candidate:1 1 udp 2130706431 10.9.9.9 40001 typ host";
        assert_eq!(rewrite_candidate(elsewhere, LOCAL, PUBLIC), elsewhere);
        for junk in ["", "candidate:", "a b c d e f g h", "candidate:1 1 udp 1 not-an-ip 1 typ host"] {
            assert_eq!(rewrite_candidate(junk, LOCAL, PUBLIC), junk);
        }
    }

    #[test]
    fn the_metadata_address_link_local_and_loopback_are_denied_by_default() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let public_bind = PeerNetworks::new(ip("0.0.0.0"), &[], &[]);
        for denied in [
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "fe80::1",
            "127.0.0.1",
            "::1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public_bind.permits(ip(denied)), "{denied}");
        }
        for allowed in ["10.1.2.3", "192.168.0.10", "203.0.113.9", "2001:db8::1"] {
            assert!(public_bind.permits(ip(allowed)), "{allowed}");
        }
        // Media on loopback (a test, a machine of one's own): loopback peers are fine.
        assert!(PeerNetworks::new(ip("127.0.0.1"), &[], &[]).permits(ip("127.0.0.1")));
        // An operator denies their internal network but for the clerks' subnet.
        let city = PeerNetworks::new(
            ip("0.0.0.0"),
            &parse_networks("10.0.0.0/8").unwrap(),
            &parse_networks("10.20.0.0/16, 169.254.10.1").unwrap(),
        );
        assert!(!city.permits(ip("10.1.2.3")));
        assert!(city.permits(ip("10.20.3.4")));
        assert!(city.permits(ip("169.254.10.1")) && !city.permits(ip("169.254.169.254")));
        assert!(parse_networks("10.0.0.0/8,nonsense").is_err());
    }

    #[test]
    fn a_candidates_address_is_read() {
        let c = "candidate:1 1 udp 2130706431 192.0.2.1 40001 typ host";
        assert_eq!(candidate_address(c), CandidateAddress::Ip("192.0.2.1".parse().unwrap()));
        let mdns = "candidate:1 1 udp 2130706431 3f2c1a.local 40001 typ host";
        assert_eq!(candidate_address(mdns), CandidateAddress::Name("3f2c1a.local".into()));
        assert_eq!(candidate_address("candidate:1 1 udp"), CandidateAddress::Unreadable);
    }

    #[test]
    fn sdp_lines_are_rewritten_and_line_ends_kept() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.5\r\na=candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host\r\na=mid:0\r\n";
        let out = rewrite_sdp(sdp, LOCAL, PUBLIC);
        assert_eq!(
            out,
            "v=0\r\nc=IN IP4 203.0.113.7\r\na=candidate:1 1 udp 2130706431 203.0.113.7 40001 typ host\r\na=mid:0\r\n"
        );
        assert!(!out.contains("10.0.0.5"), "the private address leaks nowhere");
    }
}
