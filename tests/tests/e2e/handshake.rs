//! Getting in: connect tokens are single-use and short-lived, the handshake checks the
//! protocol version, and nothing but `Hello` is accepted before it.

use madoguchi_bots::Bot;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::{Channel, ClientMessage, Look, PROTOCOL_VERSION};
use madoguchi_tests::{Harness, SOON};
use renetcode::DisconnectReason;
use std::net::UdpSocket;
use std::time::Duration;

#[test]
fn a_wrong_protocol_version_is_refused_with_both_versions_named() {
    let h = Harness::start(&[]);
    let mut bot = h.connect();
    bot.send(&ClientMessage::Hello {
        protocol: 999,
        name: "Old App".into(),
        locale: "en".into(),
        look: Look::default(),
    });
    assert!(bot.wait_until(SOON, |b| b.refused.is_some()), "expected a refusal");
    let (code, message) = bot.refused.clone().unwrap();
    assert_eq!(code, ErrorCode::ProtocolMismatch);
    assert!(message.contains(&format!("version {PROTOCOL_VERSION}")), "names the server's version: {message}");
    assert!(message.contains("version 999"), "names the client's version: {message}");
    assert!(bot.wait_until(SOON, |b| !b.is_connected()), "the connection is closed after the refusal");
    assert_eq!(bot.me, None, "no avatar for a refused client");
}

#[test]
fn a_hello_from_a_future_protocol_that_does_not_decode_is_still_told_the_versions() {
    let h = Harness::start(&[]);
    let mut bot = h.connect();
    // Variant 0 (Hello), version 999 as a varint, then fields this server does not know.
    bot.send_raw(Channel::Events, vec![0, 0xE7, 0x07, 0xFF, 0xFF, 0xFF]);
    assert!(bot.wait_until(SOON, |b| b.refused.is_some()));
    let (code, message) = bot.refused.clone().unwrap();
    assert_eq!(code, ErrorCode::ProtocolMismatch);
    assert!(message.contains("version 999"), "{message}");
}

#[test]
fn a_reused_connect_token_is_refused_from_another_address() {
    let h = Harness::start(&["--client-timeout-secs", "2"]);
    let creds = h.credentials();
    let mut a = Bot::connect(creds.connect_token.clone()).unwrap();
    assert!(a.wait_until(SOON, |b| b.is_connected()));
    a.hello("Aiko", "ja");
    assert!(a.wait_until(SOON, |b| b.me.is_some()));
    a.disconnect();
    drop(a);
    let mut thief = Bot::connect(creds.connect_token).unwrap();
    let connected = thief.wait_until(Duration::from_secs(4), |b| b.is_connected());
    assert!(!connected, "a replayed token must not open a second connection");
    assert!(thief.wait_until(SOON, |b| b.disconnect_reason().is_some()), "the client gives up with a reason");
}

#[test]
fn a_reused_connect_token_is_refused_from_the_same_address() {
    let h = Harness::start(&[]);
    let creds = h.credentials();
    let mut a = Bot::connect(creds.connect_token.clone()).unwrap();
    assert!(a.wait_until(SOON, |b| b.is_connected()));
    a.hello("Aiko", "ja");
    assert!(a.wait_until(SOON, |b| b.me.is_some()));
    let addr = a.local_addr().unwrap();
    a.disconnect();
    drop(a);
    std::thread::sleep(Duration::from_millis(300));
    // Same address and port: netcode alone would accept the token again.
    let socket = UdpSocket::bind(addr).expect("rebind the same port");
    let mut again = Bot::connect_with_socket(creds.connect_token, socket).unwrap();
    assert!(again.wait_until(SOON, |b| b.refused.is_some() || b.disconnect_reason().is_some()));
    assert_eq!(
        again.refused.as_ref().map(|r| r.0),
        Some(ErrorCode::TokenReused),
        "reason: {:?}",
        again.disconnect_reason()
    );
    assert!(again.wait_until(SOON, |b| !b.is_connected()));
    assert_eq!(again.me, None);
}

#[test]
fn an_expired_connect_token_is_refused() {
    let h = Harness::start(&["--token-ttl-secs", "1"]);
    let creds = h.credentials();
    std::thread::sleep(Duration::from_millis(2200));
    let mut bot = Bot::connect(creds.connect_token).unwrap();
    assert!(!bot.wait_until(Duration::from_secs(3), |b| b.is_connected()), "an expired token must not connect");
    assert_eq!(bot.disconnect_reason(), Some(DisconnectReason::ConnectTokenExpired));
    assert_eq!(h.metric("madoguchi_connections_total"), 0.0, "the server accepted no connection");
}

#[test]
fn nothing_but_hello_is_accepted_before_the_handshake() {
    let h = Harness::start(&[]);
    let mut bot = h.connect();
    bot.chat("hello?");
    assert!(bot.wait_until(SOON, |b| !b.errors.is_empty()));
    assert_eq!(bot.errors[0].0, ErrorCode::NotJoined);
    // A bad name is refused and can be corrected.
    bot.hello("   ", "ja");
    assert!(bot.wait_until(SOON, |b| b.errors.len() == 2));
    assert_eq!(bot.errors[1].0, ErrorCode::NameInvalid);
    bot.hello(&"長".repeat(40), "ja");
    assert!(bot.wait_until(SOON, |b| b.errors.len() == 3));
    assert_eq!(bot.errors[2].0, ErrorCode::NameInvalid);
    bot.hello("Aiko", "ja; DROP TABLE");
    assert!(bot.wait_until(SOON, |b| b.errors.len() == 4));
    assert_eq!(bot.errors[3].0, ErrorCode::LocaleInvalid);
    bot.hello_as("Aiko", "ja", Look { color: 200, shape: 0 });
    assert!(bot.wait_until(SOON, |b| b.errors.len() == 5));
    assert_eq!(bot.errors[4].0, ErrorCode::LookInvalid, "{:?}", bot.errors[4]);
    bot.hello("Aiko", "ja");
    assert!(bot.wait_until(SOON, |b| b.me.is_some()));
    bot.hello("Aiko again", "ja");
    assert!(bot.wait_until(SOON, |b| b.errors.len() == 6));
    assert_eq!(bot.errors[5].0, ErrorCode::AlreadyJoined);
}

/// The look a resident chose on the join screen is the one everyone else sees; a clerk is seen
/// in the staff's look whatever their client sent.
#[test]
fn everyone_sees_the_look_a_resident_chose_and_staff_in_theirs() {
    let h = Harness::start(&[]);
    let mut a = h.connect();
    a.hello_as("Aiko", "ja", Look { color: 5, shape: 2 });
    assert!(a.wait_until(SOON, |a| a.me.is_some()), "{:?}", a.errors);
    let mut b = h.connect();
    b.hello_as("Bao", "vi", Look { color: 1, shape: 0 });
    assert!(b.wait_until(SOON, |b| b.me.is_some()), "{:?}", b.errors);
    let clerk = h.clerk("kato", "welfare");
    let mut c = h.join_as(&clerk, "ignored");
    let mut watcher = h.join("watcher");
    assert!(
        watcher.wait_until(SOON, |w| w.looks.len() >= 3),
        "{:?} {:?} {:?} {:?}",
        watcher.looks,
        a.errors,
        b.errors,
        c.errors
    );
    assert_eq!(watcher.looks.get("Aiko"), Some(&Look { color: 5, shape: 2 }));
    assert_eq!(watcher.looks.get("Bao"), Some(&Look { color: 1, shape: 0 }));
    assert_eq!(watcher.looks.get("kato"), Some(&Look::default()), "{:?}", watcher.looks);
    assert!(a.wait_until(SOON, |a| a.looks.get("Bao") == Some(&Look { color: 1, shape: 0 })));
    c.pump();
}

#[test]
fn a_client_that_never_says_hello_is_refused() {
    let h = Harness::start(&[]);
    let mut bot = h.connect();
    assert!(bot.wait_until(Duration::from_secs(8), |b| b.refused.is_some()));
    assert_eq!(bot.refused.as_ref().unwrap().0, ErrorCode::HelloTimeout);
    assert!(bot.wait_until(SOON, |b| !b.is_connected()));
}

#[test]
fn connect_tokens_need_a_live_session() {
    let h = Harness::start(&[]);
    let (status, body) = h.post("/api/v1/world/connect-token", None);
    assert_eq!(status, 401, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "unauthorized");
    let (status, _) = h.post("/api/v1/world/connect-token", Some("forged-token-AAAAAAAAAAAAAAAA"));
    assert_eq!(status, 401);
    let (status, body) = h.post("/api/v1/sessions/guest", None);
    assert_eq!(status, 201);
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = session["session_token"].as_str().unwrap();
    let (status, body) = h.post("/api/v1/world/connect-token", Some(token));
    assert_eq!(status, 200, "{body}");
    let grant: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(grant["server_addr"], h.server.ready.udp.to_string());
    assert_eq!(grant["protocol"], PROTOCOL_VERSION);
}

#[test]
fn one_session_cannot_hoard_connect_tokens() {
    let h = Harness::start(&[]);
    let hoarder = h.guest("Hoarder");
    let answers: Vec<u16> = (0..20).map(|_| h.post("/api/v1/world/connect-token", Some(&hoarder)).0).collect();
    assert!(answers[..12].iter().all(|s| *s == 200), "a burst for reconnects is fine: {answers:?}");
    // The bucket refills at one token per two seconds, far slower than these requests.
    assert!(answers.iter().filter(|s| **s == 429).count() >= 5, "then the session is slowed down: {answers:?}");
    let (s, body) = h.post("/api/v1/world/connect-token", Some(&hoarder));
    assert_eq!(s, 429, "{body}");
    assert!(body.contains("rate_limited"), "{body}");
    let other = h.guest("Someone else");
    assert_eq!(h.post("/api/v1/world/connect-token", Some(&other)).0, 200, "other sessions are unaffected");
}
