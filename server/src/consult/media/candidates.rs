//! The address participants are told to send media to. The server binds its media sockets to a
//! local address; behind a 1:1 NAT (a cloud VM's public IP) that address is not reachable, and
//! webrtc 0.21.1 stores its NAT 1:1 option without using it. So the server rewrites the
//! connection address of the host candidates it sends — trickled ones, and any in its SDP — to
//! the public address the deployment names (`--media-public-ip`). Only the candidates of the
//! server's own legs pass through here: a participant never sees another participant's address.

use std::net::IpAddr;

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
