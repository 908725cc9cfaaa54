//! The browser way in: renet over a WebSocket into the same world as UDP clients.

use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use madoguchi_shared::quant::Point;
use madoguchi_tests::{Harness, SOON, pump_until, saw};
use std::time::Duration;

#[test]
fn a_browser_client_over_websocket_meets_a_udp_client() {
    let h = Harness::start(&[]);
    let mut udp = h.join("udp");
    let mut ws = h.join_ws("browser");
    assert!(
        pump_until(&mut [&mut udp, &mut ws], SOON, |b| {
            b[0].others.values().any(|(n, _)| n == "browser") && b[1].others.values().any(|(n, _)| n == "udp")
        }),
        "they see each other"
    );
    ws.chat("WebSocket から こんにちは");
    assert!(
        pump_until(&mut [&mut udp, &mut ws], SOON, |b| b[0].chats.iter().any(|c| c.2 == "WebSocket から こんにちは")),
        "chat crosses transports"
    );
    // Movement over WebSocket is the same authoritative movement.
    let start = ws.pos.unwrap();
    let ws_id = ws.me.unwrap();
    ws.walk_for(Point::new(1.0, 0.0), false, Duration::from_millis(800));
    assert!(
        pump_until(&mut [&mut udp, &mut ws], SOON, |b| b[0]
            .others
            .get(&ws_id)
            .is_some_and(|(_, p)| p.to_point().x > start.x + 0.5)),
        "the UDP client sees the browser client walk: from {start:?}, the browser client is at {:?} (acked {}), the UDP client sees {:?} (ws id {ws_id}, connected {}, refused {:?})",
        ws.pos,
        ws.ack,
        udp.others,
        udp.is_connected(),
        udp.refused,
    );
    // A browser client leaving is seen leaving.
    ws.disconnect();
    assert!(udp.wait_until(SOON, |b| saw(b, |m| matches!(m, ServerMessage::Vanished { ids } if ids.contains(&ws_id)))));
    let deadline = std::time::Instant::now() + SOON;
    while h.metric("madoguchi_avatars") != 1.0 && std::time::Instant::now() < deadline {
        udp.pump();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(h.metric("madoguchi_avatars"), 1.0, "the browser client's avatar is gone");
}

#[test]
fn websocket_tickets_are_required_single_use_and_need_a_session() {
    let h = Harness::start(&[]);
    // No session, no ticket.
    let (s, v) = h.call("POST", "/api/v1/world/ws-ticket", None, None);
    assert_eq!(s, 401, "{v}");
    // Not a WebSocket request: refused in words (and no ticket is used up by it).
    let (s, body) = h.get("/api/v1/world/ws?ticket=x");
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("not_websocket"), "{body}");
    // A made-up ticket is refused at the handshake.
    assert!(madoguchi_bots::Bot::connect_ws(&h.base(), "0123456789abcdef").is_err());
    let session = h.guest("t");
    let ticket = h.ws_ticket(&session);
    let mut first = madoguchi_bots::Bot::connect_ws(&h.base(), &ticket).expect("first use");
    first.hello("t", "ja");
    assert!(first.wait_until(SOON, |b| b.me.is_some()));
    // The same ticket again is refused at the handshake.
    let again = madoguchi_bots::Bot::connect_ws(&h.base(), &ticket);
    assert!(again.is_err(), "a ticket works once");
    // The protocol rules are the same as over UDP: a second Hello is refused.
    first.send(&ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        name: "t".into(),
        locale: "ja".into(),
        look: madoguchi_shared::protocol::Look::default(),
    });
    assert!(first.wait_until(SOON, |b| b.errors.iter().any(|(c, _)| *c == ErrorCode::AlreadyJoined)));
}

#[test]
fn garbage_frames_over_websocket_hurt_nobody_else() {
    let h = Harness::start(&[]);
    let mut udp = h.join("bystander");
    let mut bad = h.join_ws("vandal");
    for i in 0..50u8 {
        bad.send_ws_frame(vec![i; (i as usize) * 13 % 1200 + 1]);
    }
    // An oversized frame closes the socket.
    bad.send_ws_frame(vec![0; 64 * 1024]);
    assert!(bad.wait_until(Duration::from_secs(12), |b| b.ws_closed()), "the vandal's socket is closed");
    udp.chat("still here");
    assert!(udp.wait_until(SOON, |b| b.chats.iter().any(|c| c.2 == "still here")), "the bystander is unaffected");
    let (s, _) = h.get("/healthz");
    assert_eq!(s, 200);
}

#[test]
fn a_flood_of_frames_closes_the_socket() {
    let h = Harness::start(&[]);
    let mut flood = h.join_ws("flood");
    for _ in 0..3000 {
        flood.send_ws_frame(Vec::new());
    }
    assert!(flood.wait_until(SOON, |b| b.ws_closed()), "more than 1000 frames a second close the socket");
}
