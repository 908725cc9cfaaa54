//! Hostile or broken input never stops the server or disturbs anyone else, and clients that
//! vanish are cleaned up.

use madoguchi_shared::ErrorCode;
use madoguchi_shared::limits::{MAX_CLIENT_MESSAGE_BYTES, MAX_STRIKES, WALK_SPEED};
use madoguchi_shared::protocol::ServerMessage;
use madoguchi_shared::protocol::{Channel, ClientMessage};
use madoguchi_shared::quant::Point;
use madoguchi_tests::{Harness, SOON, pump_all, pump_until, saw};
use rand::Rng;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

#[test]
fn random_and_truncated_datagrams_do_not_stop_the_server_or_disturb_clients() {
    let mut h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    let a_id = a.me.unwrap();
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[1].others.contains_key(&a_id)));
    let target = h.server.ready.udp;
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = rand::rng();
    for i in 0..3000 {
        let len = match i % 4 {
            0 => rng.random_range(0..20), // shorter than any netcode header
            1 => rng.random_range(20..200),
            2 => 1078,                        // the size of a connection request
            _ => rng.random_range(200..1500), // up to and past the netcode maximum
        };
        let mut buf: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if i % 3 == 0 && !buf.is_empty() {
            buf[0] = (i % 7) as u8; // plausible packet-type bytes
        }
        let _ = attacker.send_to(&buf, target);
        if i % 200 == 0 {
            pump_all(&mut [&mut a, &mut b], Duration::from_millis(5));
        }
    }
    // Everyone is still here, and movement still flows.
    let before = b.others[&a_id].1.to_point();
    a.walk_for(Point::new(0.0, WALK_SPEED), false, Duration::from_millis(800));
    assert!(
        pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[1]
            .others
            .get(&a_id)
            .is_some_and(|o| o.1.to_point().y > before.y + 0.5)),
        "Bunta still sees Aiko move after the flood"
    );
    assert!(a.is_connected() && b.is_connected());
    assert!(h.server.is_running());
    let (status, body) = h.get("/healthz");
    assert_eq!(status, 200, "{body}");
}

/// Garbage sent as fast as two threads can, for six seconds, while eight residents walk about:
/// the tick reads at most its budget of datagrams and goes on ticking, and nobody is dropped.
#[test]
fn a_udp_flood_does_not_stall_the_tick_or_drop_anyone() {
    let h = Harness::start(&[]);
    let mut bots: Vec<_> = (0..8).map(|i| h.join(&format!("Resident{i}"))).collect();
    let target = h.server.ready.udp;
    let flood_for = Duration::from_secs(6);
    let ticks_before = h.metric("madoguchi_tick_duration_seconds_count");
    let stop = Instant::now() + flood_for;
    let flooders: Vec<_> = (0..2)
        .map(|t| {
            std::thread::spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                let mut rng = rand::rng();
                let garbage: Vec<Vec<u8>> = (0..256)
                    .map(|i| {
                        let len = if i % 4 == 2 { 1078 } else { rng.random_range(1..1200) };
                        let mut b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                        b[0] = ((i + t) % 7) as u8; // plausible packet types
                        b
                    })
                    .collect();
                let mut sent = 0usize;
                while Instant::now() < stop {
                    for g in &garbage {
                        let _ = socket.send_to(g, target);
                    }
                    sent += garbage.len();
                }
                sent
            })
        })
        .collect();
    while Instant::now() < stop {
        for (i, b) in bots.iter_mut().enumerate() {
            let a = i as f32;
            b.walk(Point::new(a.cos(), a.sin()) * (WALK_SPEED * 0.5), false);
        }
        pump_all(&mut bots.iter_mut().collect::<Vec<_>>(), Duration::from_millis(50));
    }
    let sent: usize = flooders.into_iter().map(|f| f.join().unwrap()).sum();
    let ticks = h.metric("madoguchi_tick_duration_seconds_count") - ticks_before;
    let spent = h.metric("madoguchi_udp_read_budget_spent_total");
    eprintln!("flood: {sent} datagrams in {flood_for:?}; {ticks} ticks; budget spent in {spent}");
    // 20 ticks a second: a tick stuck reading the flood would fall far behind.
    assert!(ticks >= 20.0 * flood_for.as_secs_f64() * 0.6, "only {ticks} ticks during the flood");
    assert!(spent > 0.0, "the flood ({sent} datagrams) never reached the read budget: it tested nothing");
    pump_all(&mut bots.iter_mut().collect::<Vec<_>>(), Duration::from_millis(500));
    for (i, b) in bots.iter().enumerate() {
        assert!(b.is_connected() && b.me.is_some(), "resident {i} was dropped: {:?}", b.disconnect_reason());
    }
    let (status, body) = h.get("/healthz");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn malformed_and_oversized_messages_get_errors_and_repeat_offenders_are_disconnected() {
    let h = Harness::start(&[]);
    let mut a = h.join("Mallory");
    let mut b = h.join("Bunta");
    // Not a message at all.
    a.send_raw(Channel::Events, vec![0xFF, 0xFF, 0xFF]);
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| !bs[0].errors.is_empty()));
    assert_eq!(a.errors[0].0, ErrorCode::Malformed);
    // A valid message with trailing junk.
    let mut bytes = madoguchi_shared::protocol::encode(&ClientMessage::Chat { text: "x".into() });
    bytes.extend_from_slice(&[1, 2, 3]);
    a.send_raw(Channel::Events, bytes);
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[0].errors.len() == 2));
    assert_eq!(a.errors[1].0, ErrorCode::Malformed);
    // Larger than any client message may be.
    a.send_raw(Channel::Events, vec![3; MAX_CLIENT_MESSAGE_BYTES + 100]);
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[0].errors.len() == 3));
    assert_eq!(a.errors[2].0, ErrorCode::TooLarge);
    // A click-to-move target outside the room.
    a.send(&ClientMessage::MoveTo { target: madoguchi_shared::quant::QPos { x: -500, y: 100 }, run: false });
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[0].errors.len() == 4));
    assert_eq!(a.errors[3].0, ErrorCode::TargetInvalid);
    assert!(a.is_connected(), "a few bad messages do not cost the connection");
    // A stream of garbage does.
    for _ in 0..MAX_STRIKES {
        a.send_raw(Channel::Movement, vec![0xEE; 8]);
    }
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[0].refused.is_some()));
    assert_eq!(a.refused.as_ref().unwrap().0, ErrorCode::TooManyErrors);
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| !bs[0].is_connected()));
    // Bunta is unaffected and sees Mallory leave.
    let m_id = a.me.unwrap();
    assert!(pump_until(&mut [&mut b], SOON, |bs| !bs[0].others.contains_key(&m_id)));
    assert!(b.is_connected());
    b.chat("still here");
    assert!(pump_until(&mut [&mut b], SOON, |bs| bs[0].chats.len() == 1));
    // Four strikes before the stream, so the stream's 16th message was the last one read.
    let malformed = 2 + (MAX_STRIKES - 4);
    assert_eq!(h.metric("madoguchi_refused_messages_total{reason=\"malformed\"}"), f64::from(malformed));
    assert_eq!(h.metric("madoguchi_refused_messages_total{reason=\"too_large\"}"), 1.0);
    assert_eq!(h.metric("madoguchi_refused_messages_total{reason=\"target_invalid\"}"), 1.0);
    assert_eq!(h.metric("madoguchi_refused_messages_total{reason=\"too_many_errors\"}"), 1.0);
}

#[test]
fn a_client_that_vanishes_is_despawned_after_the_timeout() {
    let h = Harness::start(&["--client-timeout-secs", "2"]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    let a_id = a.me.unwrap();
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[1].others.contains_key(&a_id)));
    // Aiko's process dies: no disconnect packet, just silence.
    drop(a);
    let gone_at = Instant::now();
    pump_all(&mut [&mut b], Duration::from_millis(1000));
    assert!(b.others.contains_key(&a_id), "not removed before the timeout");
    assert!(
        pump_until(&mut [&mut b], Duration::from_secs(6), |bs| !bs[0].others.contains_key(&a_id)),
        "Aiko was never removed"
    );
    let after = gone_at.elapsed();
    assert!(after >= Duration::from_millis(1500), "removed after {after:?}, before the 2 s timeout");
    assert!(saw(&b, |m| matches!(m, ServerMessage::Vanished { ids } if ids.contains(&a_id))));
    assert!(pump_until(&mut [&mut b], SOON, |_| h.metric("madoguchi_avatars") == 1.0));
    assert_eq!(h.metric("madoguchi_connected_clients"), 1.0);
}

#[test]
fn health_and_metrics_are_served() {
    let h = Harness::start(&[]);
    let (status, body) = h.get("/healthz");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    let mut a = h.join("Aiko");
    pump_all(&mut [&mut a], Duration::from_millis(200));
    let (status, text) = h.get_ops("/metrics");
    assert_eq!(status, 200);
    for needle in [
        "# TYPE madoguchi_tick_duration_seconds histogram",
        "madoguchi_tick_duration_seconds_bucket{le=\"+Inf\"}",
        "madoguchi_connected_clients 1",
        "madoguchi_avatars 1",
        "madoguchi_udp_bytes_received_total",
        "madoguchi_udp_bytes_sent_total",
        "madoguchi_refused_messages_total{reason=\"chat_rate_limited\"} 0",
        "process_resident_memory_bytes",
        "# TYPE madoguchi_tick_cpu_seconds histogram",
        "process_cpu_seconds_total",
        "madoguchi_udp_read_budget_spent_total",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
    assert!(h.metric("madoguchi_udp_bytes_sent_total") > 0.0);
}
