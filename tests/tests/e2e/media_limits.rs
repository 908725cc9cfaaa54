//! What a participant's signalling cannot make the media server do: send ICE checks to more
//! addresses than a connection may have, or to denied networks (the cloud metadata address, an
//! operator's internal ranges); and what a panic while handling an offer leaves behind: nothing
//! (no participant listed for a connection that is gone, no media leg).
//!
//! The test's sockets on loopback aliases (127.0.0.5–7) stand in for the addresses a hostile
//! participant names; all traffic stays on loopback.

use futures_util::{SinkExt, StreamExt};
use madoguchi_bots::consult::MediaPeer;
use madoguchi_shared::consult::{Candidate, ClientSignal, Role, ServerSignal};
use madoguchi_tests::{Harness, SOON, eventually, media_runtime, signal_url, start_consultation};
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const FLAGS: &[&str] = &["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1"];

/// An offer as a browser makes one (audio and video, bundled), with ICE username fragment
/// `Fz3q` and `candidates` (lines) in its first section; nobody answers its connectivity checks.
fn offer(extra: &str) -> String {
    offer_with_candidates("", extra)
}

fn offer_with_candidates(candidates: &str, extra: &str) -> String {
    let section = |kind: &str, mid: u8, rtp: &str| {
        format!(
            "m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
             a=ice-ufrag:Fz3q\r\na=ice-pwd:4kR8yEoWv4b0pQxG2mZ1nT7s\r\na=ice-options:trickle\r\n\
             a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC\r\n\
             a=setup:actpass\r\na=mid:{mid}\r\na=sendrecv\r\na=msid:- {kind}\r\na=rtcp-mux\r\n{rtp}",
            pt = if kind == "audio" { 111 } else { 96 },
        )
    };
    format!(
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n{}{}{extra}",
        section("audio", 0, &format!("a=rtpmap:111 opus/48000/2\r\na=ssrc:1001 cname:t\r\n{candidates}")),
        section("video", 1, "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=ssrc:2002 cname:t\r\n"),
    )
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw signalling connection, past its `joined`.
async fn open(url: &str) -> Socket {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("socket");
    let first = ws.next().await.expect("joined").expect("frame");
    assert!(first.to_text().unwrap_or_default().contains(r#""type":"joined""#), "{first:?}");
    ws
}

async fn send(ws: &mut Socket, m: &ClientSignal) {
    let _ = ws.send(Message::Text(serde_json::to_string(m).unwrap().into())).await;
}

/// What the server says within `within`, until `done` holds for a message or the socket closes;
/// and whether it closed.
async fn hear(ws: &mut Socket, within: Duration, done: impl Fn(&ServerSignal) -> bool) -> (Vec<ServerSignal>, bool) {
    let end = tokio::time::Instant::now() + within;
    let mut heard = Vec::new();
    loop {
        match tokio::time::timeout_at(end, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let m: ServerSignal = serde_json::from_str(&t).expect("a server signal");
                let stop = done(&m);
                heard.push(m);
                if stop {
                    return (heard, false);
                }
            }
            Ok(Some(Ok(Message::Close(_)) | Err(_))) | Ok(None) => return (heard, true),
            Ok(Some(Ok(_))) => {}
            Err(_) => return (heard, false),
        }
    }
}

fn candidate(line: String) -> ClientSignal {
    ClientSignal::Candidate {
        candidate: Some(Candidate {
            candidate: line,
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: Some("Fz3q".into()),
        }),
    }
}

fn errors(heard: &[ServerSignal]) -> Vec<String> {
    heard
        .iter()
        .filter_map(|m| match m {
            ServerSignal::Error { code, .. } => Some(code.clone()),
            _ => None,
        })
        .collect()
}

/// STUN binding requests (type 0x0001) that reached each sink over `window`.
fn binding_requests(sinks: &[UdpSocket], window: Duration) -> Vec<usize> {
    let mut counts = vec![0; sinks.len()];
    let end = Instant::now() + window;
    let mut buf = [0u8; 1500];
    while Instant::now() < end {
        for (i, s) in sinks.iter().enumerate() {
            while let Ok(n) = s.recv(&mut buf) {
                if n >= 20 && buf[0] == 0 && buf[1] == 1 {
                    counts[i] += 1;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    counts
}

fn sinks(ip: &str, n: usize) -> Vec<UdpSocket> {
    (0..n)
        .map(|_| {
            let s = UdpSocket::bind((ip, 0)).expect("a sink on a loopback alias");
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect()
}

/// 636 candidates naming 636 sockets of one address — 300 in an offer, 300 in a renegotiating
/// offer, 36 trickled (the signalling's burst allows 40 messages): the server takes at most `MAX_REMOTE_CANDIDATES` (20) of them (it leaves
/// the rest out of the offers, and refuses the trickled ones with `too_many_candidates`, which
/// does not close the connection), and over the next 5 s at most 20 of the sockets hear a
/// connectivity check. A candidate before any offer is refused too (`media_not_started`).
#[test]
fn a_participant_cannot_make_the_media_server_check_more_than_twenty_addresses() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (_clerk, resident, id) = start_consultation(&h, "clerk.cand", "resident_registration", "a1");
    let targets = sinks("127.0.0.5", 636);
    let line = |i: usize| {
        let port = targets[i].local_addr().unwrap().port();
        format!("candidate:{i} 1 udp {} 127.0.0.5 {port} typ host", 2_130_706_431 - i)
    };
    let in_sdp = |range: std::ops::Range<usize>| range.map(|i| format!("a={}\r\n", line(i))).collect::<String>();
    let url = signal_url(&h, &resident, id);
    let (heard, closed, counts) = rt.block_on(async {
        let mut ws = open(&url).await;
        let early = candidate("candidate:1 1 udp 2130706431 127.0.0.5 9 typ host".into());
        send(&mut ws, &early).await;
        let (before, _) = hear(&mut ws, SOON, |m| matches!(m, ServerSignal::Error { .. })).await;
        assert_eq!(errors(&before), ["media_not_started"], "a candidate before an offer");
        for part in [0..300, 300..600] {
            send(&mut ws, &ClientSignal::Offer { sdp: offer_with_candidates(&in_sdp(part), "") }).await;
            let (answer, _) = hear(&mut ws, SOON, |m| matches!(m, ServerSignal::Answer { .. })).await;
            assert!(matches!(answer.last(), Some(ServerSignal::Answer { .. })), "{answer:?}");
        }
        for i in 600..636 {
            send(&mut ws, &candidate(line(i))).await;
        }
        let (heard, closed) = hear(&mut ws, Duration::from_secs(2), |_| false).await;
        (heard, closed, binding_requests(&targets, Duration::from_secs(5)))
    });
    let codes = errors(&heard);
    let refused = codes.iter().filter(|c| *c == "too_many_candidates").count();
    let reached = counts.iter().filter(|c| **c > 0).count();
    eprintln!(
        "636 candidates: {refused} trickled ones refused for the cap; {reached} addresses checked, {} binding requests in 5 s",
        counts.iter().sum::<usize>()
    );
    assert_eq!((refused, codes.len()), (36, 36), "every trickled one is refused, for the cap: {codes:?}");
    assert!(!closed, "and the connection stays");
    assert!(reached > 0, "the allowed candidates are checked (else the sinks prove nothing)");
    assert!(reached <= 20, "at most 20 addresses get checks, not {reached}");
    assert!(counts[300..].iter().all(|c| *c == 0), "none beyond the first offer's first 20");
    assert_eq!(h.get("/healthz").0, 200);
}

/// With `--media-peer-deny 127.0.0.6/32` (standing in for an internal network), a candidate
/// naming it is refused (`candidate_denied`) and its socket hears nothing, while one naming
/// 127.0.0.7 is checked; the cloud metadata address and a DNS name are refused by default, and an
/// mDNS name (what browsers send for their host address) is left out without a word.
#[test]
fn candidates_naming_denied_networks_are_refused_and_never_checked() {
    let h = Harness::start(&[FLAGS, &["--media-peer-deny", "127.0.0.6/32"]].concat());
    let rt = media_runtime();
    let (_clerk, resident, id) = start_consultation(&h, "clerk.deny", "resident_registration", "a1");
    let mut denied = sinks("127.0.0.6", 1);
    let mut allowed = sinks("127.0.0.7", 1);
    let url = signal_url(&h, &resident, id);
    let (codes, denied_heard, allowed_heard) = rt.block_on(async {
        let mut ws = open(&url).await;
        send(&mut ws, &ClientSignal::Offer { sdp: offer("") }).await;
        hear(&mut ws, SOON, |m| matches!(m, ServerSignal::Answer { .. })).await;
        let port = |s: &[UdpSocket]| s[0].local_addr().unwrap().port();
        let mut codes = Vec::new();
        for line in [
            format!("candidate:1 1 udp 2130706431 127.0.0.6 {} typ host", port(&denied)),
            "candidate:2 1 udp 2130706431 169.254.169.254 80 typ host".to_string(),
            "candidate:3 1 udp 2130706431 metadata.example 80 typ host".to_string(),
            "candidate:4 1 udp 2130706431 0b3c5e1f-3e4d.local 50000 typ host".to_string(),
            format!("candidate:5 1 udp 2130706431 127.0.0.7 {} typ host", port(&allowed)),
        ] {
            // A ping after each: what comes before its pong is that candidate's answer.
            send(&mut ws, &candidate(line)).await;
            send(&mut ws, &ClientSignal::Ping).await;
            let (heard, _) = hear(&mut ws, SOON, |m| matches!(m, ServerSignal::Pong)).await;
            codes.push(errors(&heard).first().cloned().unwrap_or_else(|| "accepted".into()));
        }
        let counts = binding_requests(&[denied.remove(0), allowed.remove(0)], Duration::from_secs(3));
        (codes, counts[0], counts[1])
    });
    assert_eq!(codes, ["candidate_denied", "candidate_denied", "candidate_denied", "accepted", "accepted"]);
    assert_eq!(denied_heard, 0, "the denied address hears nothing");
    assert!(allowed_heard > 0, "the allowed one is checked (so the silence above means something)");
}

/// With `--fault-injection`, an offer that makes the signalling loop panic, and one that makes
/// the media engine's negotiation panic: each time the participant is gone afterwards (the clerk
/// sees them leave; no participant is left counted for a dead connection), and the media panic
/// ends that consultation (`media_failed`), leaving no leg.
#[test]
fn a_panic_while_handling_an_offer_leaves_no_ghost_participant() {
    let h = Harness::start(&[FLAGS, &["--fault-injection"]].concat());
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.panic", "resident_registration", "a1");
    let c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).expect("the clerk joins");
    let present = || h.metric("madoguchi_consult_participants");
    assert!(eventually(SOON, || present() == 1.0), "the clerk is counted");

    // The signalling loop panics.
    let url = signal_url(&h, &resident, id);
    let heard = rt.block_on(async {
        let mut ws = open(&url).await;
        send(&mut ws, &ClientSignal::Offer { sdp: offer("a=x-madoguchi-fault:signalling\r\n") }).await;
        hear(&mut ws, SOON, |m| matches!(m, ServerSignal::Ended { .. })).await
    });
    assert_eq!(errors(&heard.0), ["internal"], "{heard:?}");
    assert!(eventually(SOON, || present() == 1.0), "the resident is not left counted: {}", present());
    assert!(
        eventually(SOON, || !c.heard.lock().unwrap().participants.iter().any(|p| p.role == Role::Resident)),
        "nor listed"
    );

    // The media engine's negotiation panics: that consultation's media fails, and it ends.
    let url = signal_url(&h, &resident, id);
    let heard = rt.block_on(async {
        let mut ws = open(&url).await;
        send(&mut ws, &ClientSignal::Offer { sdp: offer("a=x-madoguchi-fault:media\r\n") }).await;
        hear(&mut ws, SOON, |m| matches!(m, ServerSignal::Ended { .. })).await
    });
    assert!(
        heard.0.iter().any(|m| matches!(m, ServerSignal::Ended { reason } if reason == "media_failed")),
        "{heard:?}"
    );
    assert!(eventually(SOON, || c.heard.lock().unwrap().ended.as_deref() == Some("media_failed")));
    assert!(eventually(SOON, || present() == 0.0));
    assert!(eventually(SOON, || h.metric("madoguchi_media_legs") == 0.0), "no leg is left");
    assert_eq!(h.get("/healthz").0, 200);
}
