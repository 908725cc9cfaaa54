//! Consultations end to end: webrtc-crate peers (the test's own) as residents, clerks and
//! interpreters, through the real server's SFU on loopback; the signalling WebSocket and its
//! refusals; interpreters' one-time codes; a media fault that ends one consultation and no
//! other; and what a consultation leaves in the records.

use futures_util::{SinkExt, StreamExt};
use madoguchi_bots::consult::MediaPeer;
use madoguchi_shared::consult::{Candidate, ClientSignal, Role, ServerSignal};
use madoguchi_tests::{
    BrowserScript, Harness, SOON, TurnServer, eventually, media_runtime, moving_in_form, signal_url, signal_url_of,
    start_consultation,
};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const FLAGS: &[&str] = &["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1"];
const CONNECT: Duration = Duration::from_secs(10);

fn only(tag: u64) -> std::collections::HashSet<u64> {
    std::collections::HashSet::from([tag])
}

#[test]
fn two_participants_exchange_media_through_the_server_and_an_outsider_gets_none() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, a) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let (_, outsider_token, b) = start_consultation(&h, "clerk.b", "insurance_pension", "b1");
    assert_ne!(a, b);
    let (clerk_url, resident_url, outsider_url) =
        (signal_url(&h, &clerk, a), signal_url(&h, &resident, a), signal_url(&h, &outsider_token, b));
    let mut c = rt.block_on(MediaPeer::join(&clerk_url, 0xC1)).expect("clerk joins");
    let mut r = rt.block_on(MediaPeer::join(&resident_url, 0x21)).expect("resident joins");
    // The third peer is in another consultation, alone, sending media no one should get.
    let mut o = rt.block_on(MediaPeer::join(&outsider_url, 0x0E)).expect("outsider joins its own");
    for p in [&mut c, &mut r, &mut o] {
        assert!(rt.block_on(p.connected(CONNECT)), "media did not connect: {:?}", p.heard.lock().unwrap());
    }
    // Each sees who is there: the other, in slot 0.
    assert!(eventually(Duration::from_secs(5), || r.heard.lock().unwrap().participants.len() == 2));
    let who = r.heard.lock().unwrap().participants.clone();
    assert!(who.iter().any(|p| p.role == Role::Clerk && p.present && p.slot == Some(0)), "{who:?}");
    rt.block_on(async {
        tokio::join!(
            c.send_media(Duration::from_secs(3), 300),
            r.send_media(Duration::from_secs(3), 300),
            o.send_media(Duration::from_secs(3), 300)
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    for (me, other, name) in [(&c, &r, "clerk"), (&r, &c, "resident")] {
        for kind in ["audio", "video"] {
            let got = me.slot(kind, 0);
            assert!(got.packets > 50, "{name} got {} {kind} packets", got.packets);
            assert_eq!(got.tags, only(other.tag), "{name}'s {kind} slot carries the other participant's media only");
        }
        assert!(!me.tags_seen().contains(&o.tag), "{name} got the outsider's media");
        // Nobody sits in the other slots.
        assert_eq!(me.slot("video", 1).packets + me.slot("video", 2).packets, 0);
    }
    // Almost everything sent arrived (loopback).
    let sent_by_r = r.sent();
    let got_by_c = c.slot("audio", 0).packets + c.slot("video", 0).packets;
    assert!(got_by_c * 100 >= sent_by_r * 95, "the clerk got {got_by_c} of {sent_by_r}");
    assert_eq!(o.total_received(), 0, "alone in its consultation, the outsider receives nothing");
    // The server never tells a participant another participant's address: every candidate it
    // sends is its own (loopback here), and its SDP names no other port than the leg's.
    for p in [&c, &r] {
        let heard = p.heard.lock().unwrap();
        assert!(!heard.candidates.is_empty());
        assert!(heard.candidates.iter().all(|c| c.contains(" 127.0.0.1 ")), "{:?}", heard.candidates);
    }
    assert!(h.metric("madoguchi_media_packets_forwarded_total") as u64 >= got_by_c);
    assert_eq!(h.metric("madoguchi_consultations_running"), 2.0);
}

#[test]
fn who_may_join_and_what_signalling_refuses() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    // Another resident, another department's clerk, a supervisor-less colleague: no pass.
    let stranger = h.guest("他人");
    assert_eq!(h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(&stranger), None).0, 404);
    let other_dept = h.clerk("clerk.x", "taxation");
    let (s, v) = h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(&other_dept), None);
    assert_eq!((s, v["code"].as_str()), (403, Some("wrong_department")));
    let colleague = h.clerk("clerk.a2", "resident_registration");
    let (s, v) = h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(&colleague), None);
    assert_eq!((s, v["code"].as_str()), (403, Some("not_the_clerk")));
    assert_eq!(h.call("POST", "/api/v1/consultations/999/join", Some(&resident), None).0, 404);
    assert_eq!(h.call("POST", &format!("/api/v1/consultations/{id}/join"), None, None).0, 401);

    // A pass works once.
    let (_, grant) = h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(&resident), None);
    let url = signal_url_of(&h, &grant);
    let mut r = rt.block_on(MediaPeer::join(&url, 1)).expect("joins");
    let again = rt.block_on(MediaPeer::join(&url, 2));
    assert!(again.is_err_and(|e| e.to_string().contains("bad_ticket")), "a pass is single-use");
    assert!(rt.block_on(r.connected(CONNECT)));

    // Bad input on a raw socket of the clerk: each gets its error, nothing breaks.
    let clerk_url = signal_url(&h, &clerk, id);
    let replies = rt.block_on(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(&clerk_url).await.expect("socket");
        let mut replies = Vec::new();
        let first = ws.next().await.expect("joined").expect("frame");
        replies.push(first.into_text().unwrap().to_string());
        let sends: Vec<Message> = vec![
            Message::Text("not json".into()),
            Message::Text(r#"{"type":"offer","sdp":"garbage"}"#.into()),
            Message::Text(r#"{"type":"offer","sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nbroken"}"#.into()),
            Message::Text(
                serde_json::to_string(&ClientSignal::Candidate {
                    candidate: Some(Candidate {
                        candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                        sdp_mid: Some("0".into()),
                        sdp_m_line_index: Some(0),
                        username_fragment: Some("someone-else".into()),
                    }),
                })
                .unwrap()
                .into(),
            ),
            Message::Binary(vec![1, 2, 3].into()),
            Message::Text(r#"{"type":"chat","text":""}"#.into()),
            Message::Text(format!(r#"{{"type":"chat","text":"{}"}}"#, "あ".repeat(201)).into()),
        ];
        for m in sends {
            ws.send(m).await.expect("send");
            // The reply to it (news of who is present may come in between).
            loop {
                let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
                    .await
                    .expect("a reply")
                    .expect("frame")
                    .expect("ok");
                let text = reply.into_text().unwrap().to_string();
                if text.contains(r#""type":"error""#) {
                    replies.push(text);
                    break;
                }
            }
        }
        replies
    });
    let codes: Vec<String> = replies[1..]
        .iter()
        .map(|t| match serde_json::from_str::<ServerSignal>(t).expect("a server signal") {
            ServerSignal::Error { code, .. } => code,
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        [
            "malformed",
            "media_invalid",
            "media_invalid",
            "media_not_started",
            "malformed",
            "chat_empty",
            "chat_too_long"
        ],
        "{replies:?}"
    );

    // A flood is cut down to its rate; the resident's media and signalling carry on.
    let clerk_url = signal_url(&h, &clerk, id);
    let (limited, closed) = rt.block_on(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(&clerk_url).await.expect("socket");
        let _ = ws.next().await;
        for _ in 0..200 {
            if ws.send(Message::Text(r#"{"type":"ping"}"#.into())).await.is_err() {
                break;
            }
        }
        let (mut limited, mut closed) = (0, false);
        while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
            match frame {
                Ok(Message::Text(t)) if t.contains("rate_limited") => limited += 1,
                Ok(Message::Close(_)) | Err(_) => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        (limited, closed)
    });
    assert!(limited > 0, "a flood of 200 messages is rate-limited");
    assert!(closed, "and a connection that keeps at it is closed");
    r.send(ClientSignal::Chat { text: "まだいます".into() });
    assert!(eventually(Duration::from_secs(5), || r.heard.lock().unwrap().chat.iter().any(|l| l.text == "まだいます")));
    assert!(!r.is_closed());
    assert_eq!(h.get("/healthz").0, 200);
}

#[test]
fn an_interpreter_joins_with_a_one_time_code_and_gets_both_sides() {
    let h = Harness::start(&[FLAGS, &["--invite-ttl-secs", "2"]].concat());
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    // Only the consultation's clerk invites.
    let colleague = h.clerk("clerk.a2", "resident_registration");
    let path = format!("/api/v1/staff/consultations/{id}/invites");
    assert_eq!(h.call("POST", &path, Some(&colleague), Some(&json!({"kind": "language"}))).0, 403);
    assert_eq!(h.call("POST", &path, Some(&resident), Some(&json!({"kind": "language"}))).0, 403);
    let (s, invite) = h.call("POST", &path, Some(&clerk), Some(&json!({"kind": "sign_language"})));
    assert_eq!(s, 201, "{invite}");
    let code = invite["code"].as_str().unwrap().to_string();
    let mut c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).unwrap();
    let mut r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 0x21)).unwrap();
    let (s, grant) =
        h.call("POST", "/api/v1/consultations/join-by-code", None, Some(&json!({"code": code, "name": "通訳 鈴木"})));
    assert_eq!(s, 200, "{grant}");
    assert_eq!(grant["role"], "interpreter");
    let mut i = rt.block_on(MediaPeer::join(&signal_url_of(&h, &grant), 0x1A)).unwrap();
    for p in [&mut c, &mut r, &mut i] {
        assert!(rt.block_on(p.connected(CONNECT)));
    }
    // The code worked once.
    let (s, v) = h.call("POST", "/api/v1/consultations/join-by-code", None, Some(&json!({"code": code, "name": "x"})));
    assert_eq!((s, v["code"].as_str()), (403, Some("code_invalid")));
    // The resident sees who is present, the interpreter included.
    assert!(eventually(Duration::from_secs(5), || {
        let who = r.heard.lock().unwrap().participants.clone();
        who.iter().any(|p| p.role == Role::Interpreter && p.name == "通訳 鈴木")
    }));
    rt.block_on(async {
        tokio::join!(
            c.send_media(Duration::from_secs(2), 200),
            r.send_media(Duration::from_secs(2), 200),
            i.send_media(Duration::from_secs(2), 200)
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    // The interpreter gets the clerk (slot 0) and the resident (slot 1); each of them gets the
    // interpreter in the slot after the other.
    assert_eq!(i.slot("audio", 0).tags, only(c.tag));
    assert_eq!(i.slot("audio", 1).tags, only(r.tag));
    assert_eq!(c.slot("video", 1).tags, only(i.tag));
    assert_eq!(r.slot("video", 1).tags, only(i.tag));
    // An expired code, and a code for another consultation is no code for this one.
    let (_, late) = h.call("POST", &path, Some(&clerk), Some(&json!({"kind": "language"})));
    std::thread::sleep(Duration::from_millis(2500));
    let (s, _) = h.call(
        "POST",
        "/api/v1/consultations/join-by-code",
        None,
        Some(&json!({"code": late["code"], "name": "遅刻"})),
    );
    assert_eq!(s, 403, "an expired code is refused");
    // The interpreter's hang-up is theirs alone.
    rt.block_on(i.hang_up());
    assert!(eventually(Duration::from_secs(5), || r.heard.lock().unwrap().participants.len() == 2));
    assert!(r.heard.lock().unwrap().ended.is_none());
}

#[test]
fn a_media_fault_ends_its_consultation_and_no_other() {
    let h = Harness::start(&[FLAGS, &["--fault-injection"]].concat());
    let rt = media_runtime();
    let (clerk_a, resident_a, a) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let (clerk_b, resident_b, b) = start_consultation(&h, "clerk.b", "insurance_pension", "b1");
    let mut peers = Vec::new();
    for (token, id, tag) in [(&clerk_a, a, 1), (&resident_a, a, 2), (&clerk_b, b, 3), (&resident_b, b, 4)] {
        let mut p = rt.block_on(MediaPeer::join(&signal_url(&h, token, id), tag)).unwrap();
        assert!(rt.block_on(p.connected(CONNECT)));
        peers.push(p);
    }
    // Injecting a fault is for the clerk of that consultation only.
    assert_eq!(h.call("POST", &format!("/api/v1/staff/consultations/{a}/fault"), Some(&clerk_b), None).0, 403);
    let (s, v) = h.call("POST", &format!("/api/v1/staff/consultations/{a}/fault"), Some(&clerk_a), None);
    assert_eq!(s, 204, "{v}");
    for p in &peers[..2] {
        assert!(
            eventually(Duration::from_secs(5), || p.heard.lock().unwrap().ended.as_deref() == Some("media_failed")),
            "{:?}",
            p.heard.lock().unwrap()
        );
    }
    let (_, v) = h.call("GET", &format!("/api/v1/staff/consultations/{a}"), Some(&clerk_a), None);
    assert_eq!((v["status"].as_str(), v["end_reason"].as_str()), (Some("ended"), Some("media_failed")), "{v}");
    // The other consultation, and the world, carry on.
    rt.block_on(async {
        tokio::join!(peers[2].send_media(Duration::from_secs(2), 200), peers[3].send_media(Duration::from_secs(2), 200))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(peers[2].slot("audio", 0).packets > 30 && peers[3].slot("video", 0).packets > 10);
    assert!(peers[2].heard.lock().unwrap().ended.is_none());
    assert_eq!(h.metric("madoguchi_consult_media_failures_total"), 1.0);
    let mut bot = h.join("after");
    bot.send(&madoguchi_shared::ClientMessage::Chat { text: "動いています".into() });
    assert!(bot.wait_until(madoguchi_tests::SOON, |b| !b.chats.is_empty()));
}

#[test]
fn hang_up_and_the_finished_ticket_end_a_consultation_and_the_records_keep_it() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 1)).unwrap();
    let mut r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 2)).unwrap();
    assert!(rt.block_on(c.connected(CONNECT)) && rt.block_on(r.connected(CONNECT)));
    // The resident sees it as theirs.
    let (s, v) = h.call("GET", "/api/v1/consultations/current", Some(&resident), None);
    assert_eq!((s, v["id"].as_i64()), (200, Some(id)), "{v}");
    // Chat, kept with the consultation and shown to both.
    c.send(ClientSignal::Chat { text: "本人確認書類をお持ちですか".into() });
    r.send(ClientSignal::Chat { text: "はい、マイナンバーカードです".into() });
    assert!(eventually(Duration::from_secs(5), || r.heard.lock().unwrap().chat.len() == 2
        && c.heard.lock().unwrap().chat.len() == 2));
    // The clerk creates an application for the resident; both see it; its audit event names
    // the consultation.
    let (s, app) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{id}/applications"),
        Some(&clerk),
        Some(&json!({"procedure_id": "residence_certificate"})),
    );
    assert_eq!(s, 201, "{app}");
    let reference = app["reference"].as_str().unwrap().to_string();
    assert!(eventually(Duration::from_secs(5), || r
        .heard
        .lock()
        .unwrap()
        .applications
        .iter()
        .any(|a| a.reference == reference)));
    let (_, events) = h.call("GET", &format!("/api/v1/staff/applications/{reference}/events"), Some(&clerk), None);
    assert_eq!(events[0]["detail"]["consultation"].as_i64(), Some(id), "{events}");
    // An application of another resident cannot be linked.
    let other = h.guest("他人");
    let (_, theirs) = h.call(
        "POST",
        "/api/v1/applications",
        Some(&other),
        Some(&json!({"procedure_id": "residence_certificate", "form_data": {}})),
    );
    let (s, _) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{id}/applications"),
        Some(&clerk),
        Some(&json!({"reference": theirs["reference"]})),
    );
    assert_eq!(s, 400);
    // The resident hangs up: it ends for both.
    rt.block_on(r.hang_up());
    assert!(eventually(Duration::from_secs(5), || c.heard.lock().unwrap().ended.as_deref() == Some("hangup_resident")));
    let (_, v) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{id}/end"),
        Some(&clerk),
        Some(&json!({"note": "住民票の写し 1 通を交付"})),
    );
    assert_eq!((v["status"].as_str(), v["note"].as_str()), (Some("ended"), Some("住民票の写し 1 通を交付")), "{v}");
    let roles: Vec<&str> =
        v["participations"].as_array().unwrap().iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert_eq!(roles.len(), 2, "{v}");
    assert!(
        v["participations"].as_array().unwrap().iter().all(|p| p["left_at"].is_i64()),
        "everyone's leaving is recorded: {v}"
    );
    assert_eq!(v["chat"].as_array().unwrap().len(), 2);
    assert_eq!(h.call("GET", "/api/v1/consultations/current", Some(&resident), None).0, 204);

    // A second consultation on the same ticket ends when the clerk finishes the ticket.
    let (s, v) = h.call("POST", "/api/v1/staff/consultations", Some(&clerk), None);
    assert_eq!(s, 201, "{v}");
    let second = v["id"].as_i64().unwrap();
    let r2 = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, second), 3)).unwrap();
    assert_eq!(h.call("POST", "/api/v1/staff/desk/done", Some(&clerk), None).0, 200);
    assert!(eventually(Duration::from_secs(5), || r2.heard.lock().unwrap().ended.as_deref() == Some("ticket_served")));
    assert_eq!(h.call("POST", "/api/v1/staff/consultations", Some(&clerk), None).0, 409, "no resident at the desk now");
}

/// Keyframes: a publisher is asked for one when the others connect, and a receiver's own PLI
/// reaches the publisher in that slot at once (not only at the room's periodic request), at most
/// once per publisher every 500 ms however often a receiver asks.
#[test]
fn keyframe_requests_reach_the_publisher_and_a_receivers_pli_is_relayed() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).unwrap();
    let mut r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 0x21)).unwrap();
    assert!(rt.block_on(c.connected(CONNECT)) && rt.block_on(r.connected(CONNECT)));
    rt.block_on(async {
        tokio::join!(c.send_media(Duration::from_secs(1), 200), r.send_media(Duration::from_secs(1), 200))
    });
    let asked = |p: &MediaPeer| p.keyframe_requests.lock().unwrap().len();
    assert!(
        eventually(Duration::from_secs(4), || asked(&c) > 0 && asked(&r) > 0),
        "both publishers were asked for a keyframe once the other side connected (clerk {}, resident {})",
        asked(&c),
        asked(&r)
    );

    // The resident asks for the clerk's video (slot 0) five times, 700 ms apart: each time a
    // request reaches the clerk within 300 ms. The room's own requests come every 3 s, so they
    // could explain one or two of these, not five.
    let mut latencies = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(700));
        let before = asked(&c);
        let sent = Instant::now();
        assert!(rt.block_on(r.request_keyframe(0)), "the resident has the clerk's video in slot 0");
        if eventually(Duration::from_millis(300), || asked(&c) > before) {
            latencies.push(c.keyframe_requests.lock().unwrap()[before].duration_since(sent));
        }
    }
    assert_eq!(latencies.len(), 5, "every request was relayed at once: {latencies:?}");

    // A burst of 30 requests in 150 ms reaches the clerk at most twice (one relay per 500 ms,
    // and perhaps the room's own).
    std::thread::sleep(Duration::from_millis(700));
    let before = asked(&c);
    for _ in 0..30 {
        assert!(rt.block_on(r.request_keyframe(0)));
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let got = asked(&c) - before;
    assert!((1..=2).contains(&got), "a burst is relayed once, not {got} times");
    // And the other way: the clerk's request reaches the resident.
    let before = asked(&r);
    assert!(rt.block_on(c.request_keyframe(0)));
    assert!(eventually(Duration::from_millis(500), || asked(&r) > before));
}

/// `--media-public-ip`: a server bound to every interface tells participants only the public
/// address (127.0.0.2 stands in for it: loopback answers on any 127.x address), in trickled
/// candidates and in its SDP, and media still flows both ways.
#[test]
fn participants_are_told_only_the_public_media_address() {
    let h = Harness::start(&[
        "--always-open",
        "--sessions-per-minute",
        "0",
        "--media-bind",
        "0.0.0.0",
        "--media-public-ip",
        "127.0.0.2",
        // Bound to every interface, the server would not send to loopback peers (the test's).
        "--media-peer-allow",
        "127.0.0.0/8",
    ]);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).unwrap();
    let mut r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 0x21)).unwrap();
    assert!(rt.block_on(c.connected(CONNECT)) && rt.block_on(r.connected(CONNECT)));
    rt.block_on(async {
        tokio::join!(c.send_media(Duration::from_secs(1), 200), r.send_media(Duration::from_secs(1), 200))
    });
    std::thread::sleep(Duration::from_millis(300));
    for (p, name) in [(&c, "clerk"), (&r, "resident")] {
        assert!(p.slot("video", 0).packets > 10, "{name} gets video");
        let heard = p.heard.lock().unwrap();
        assert!(!heard.candidates.is_empty());
        for cand in &heard.candidates {
            let addr = cand.split(' ').nth(4).unwrap_or_default();
            assert_eq!(addr, "127.0.0.2", "{name} was told {cand}");
        }
        let sdp = heard.answer_sdp.as_deref().unwrap_or_default();
        for line in sdp.lines().filter(|l| l.starts_with("a=candidate:")) {
            assert_eq!(line.split(' ').nth(4), Some("127.0.0.2"), "{name}'s answer: {line}");
        }
    }
}

/// `--media-tcp`: a participant whose network lets no UDP through (a peer with TCP candidates
/// only) connects over ICE-TCP and exchanges media with one on UDP; without the flag it cannot.
#[test]
fn ice_over_tcp_carries_media_when_the_server_listens_for_it() {
    let mut flags = FLAGS.to_vec();
    flags.push("--media-tcp");
    let h = Harness::start(&flags);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).unwrap();
    let mut r = rt.block_on(MediaPeer::join_over_tcp(&signal_url(&h, &resident, id), 0x21)).unwrap();
    assert!(rt.block_on(c.connected(CONNECT)), "{:?}", c.heard.lock().unwrap());
    assert!(rt.block_on(r.connected(CONNECT)), "over TCP: {:?}", r.heard.lock().unwrap());
    assert!(r.heard.lock().unwrap().candidates.iter().any(|c| c.contains(" tcp ") && c.contains("tcptype passive")));
    rt.block_on(async {
        tokio::join!(c.send_media(Duration::from_secs(2), 300), r.send_media(Duration::from_secs(2), 300))
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.slot("video", 0).tags, only(0x21), "the clerk gets the TCP resident's video");
    assert_eq!(r.slot("video", 0).tags, only(0xC1), "the TCP resident gets the clerk's video");
    let got = r.slot("audio", 0).packets + r.slot("video", 0).packets;
    assert!(got * 100 >= c.sent() * 95, "over TCP the resident got {got} of {}", c.sent());

    // Without --media-tcp, a TCP-only participant does not connect.
    let h = Harness::start(FLAGS);
    let (_, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut r = rt.block_on(MediaPeer::join_over_tcp(&signal_url(&h, &resident, id), 0x21)).unwrap();
    assert!(!rt.block_on(r.connected(Duration::from_secs(5))), "connected over TCP without --media-tcp");
}

/// TURN: with `--turn-urls`/`--turn-secret`, participants get short-lived credentials that a
/// real coturn (`use-auth-secret`) accepts, and a participant allowed only relayed paths
/// exchanges media through it. A credential made with another secret is refused by coturn.
#[test]
fn media_flows_through_a_real_turn_server_with_the_handed_out_credentials() {
    let turn = TurnServer::start();
    let mut flags: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
    flags.extend(turn.flags());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let h = Harness::start(&flags);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).unwrap();
    let mut r = rt.block_on(MediaPeer::join_relayed(&signal_url(&h, &resident, id), 0x21)).unwrap();
    {
        let heard = r.heard.lock().unwrap();
        let servers = &heard.ice_servers;
        assert_eq!(servers.len(), 1, "{servers:?}");
        let user = servers[0].username.as_deref().unwrap_or_default();
        let expiry: u64 = user.split(':').next().unwrap_or_default().parse().expect("expiry:label");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!((now + 290..=now + 310).contains(&expiry), "the credential expires in five minutes: {user}");
        assert!(user.ends_with(&format!(":madoguchi-c{id}-resident")), "made for this participant: {user}");
    }
    assert!(rt.block_on(c.connected(CONNECT)), "{:?}", c.heard.lock().unwrap());
    assert!(rt.block_on(r.connected(CONNECT)), "relayed: {:?}", r.heard.lock().unwrap());
    rt.block_on(async {
        tokio::join!(c.send_media(Duration::from_secs(2), 300), r.send_media(Duration::from_secs(2), 300))
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.slot("video", 0).tags, only(0x21), "the clerk gets the relayed resident's video");
    assert_eq!(r.slot("video", 0).tags, only(0xC1), "the relayed resident gets the clerk's video");

    // The same TURN server handed out with another secret: coturn refuses the credentials, and a
    // relay-only participant cannot connect.
    let mut flags: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
    flags.extend(["--turn-urls".into(), format!("turn:127.0.0.1:{}?transport=udp", turn.port)]);
    flags.extend(["--turn-secret".into(), "not-the-secret".into()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let h = Harness::start(&flags);
    let (_, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut r = rt.block_on(MediaPeer::join_relayed(&signal_url(&h, &resident, id), 0x21)).unwrap();
    assert!(!rt.block_on(r.connected(Duration::from_secs(5))), "connected with a credential coturn should refuse");
}

/// TURN credentials cannot be revoked, so they live minutes (`--turn-ttl-secs`, 4 s here) and the
/// signalling connection hands out fresh ones at half that while the consultation runs — each
/// later than the last, each one coturn's scheme accepts for this participant — and none after
/// it ends (its connections close, and nobody gets a pass to it any more).
#[test]
fn turn_credentials_are_short_lived_and_renewed_only_while_the_consultation_runs() {
    let turn = TurnServer::start();
    let mut flags: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
    flags.extend(turn.flags());
    flags.extend(["--turn-ttl-secs".into(), "4".into()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let h = Harness::start(&flags);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.turn", "resident_registration", "a1");
    let r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 0x21)).unwrap();
    let expiry = |servers: &[madoguchi_shared::consult::IceServer]| -> u64 {
        let user = servers[0].username.as_deref().unwrap_or_default();
        let credential = servers[0].credential.as_deref().unwrap_or_default();
        assert_eq!(credential, madoguchi_server::consult::turn::turn_credential(&turn.secret, user), "{user}");
        assert!(user.ends_with(&format!(":madoguchi-c{id}-resident")), "{user}");
        user.split(':').next().unwrap_or_default().parse().expect("expiry:label")
    };
    let first = expiry(&r.heard.lock().unwrap().ice_servers);
    assert!(eventually(Duration::from_secs(6), || r.heard.lock().unwrap().ice_renewals.len() >= 2));
    let renewals: Vec<u64> = r.heard.lock().unwrap().ice_renewals.iter().map(|s| expiry(s)).collect();
    assert!(renewals[0] > first && renewals[1] > renewals[0], "each later than the last: {first} {renewals:?}");
    // It ends: no more renewals, no more passes.
    let (s, v) = h.call("POST", &format!("/api/v1/staff/consultations/{id}/end"), Some(&clerk), Some(&json!({})));
    assert_eq!(s, 200, "{v}");
    assert!(eventually(SOON, || r.is_closed()));
    let after_end = r.heard.lock().unwrap().ice_renewals.len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(r.heard.lock().unwrap().ice_renewals.len(), after_end, "none after the end");
    let (s, v) = h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(&resident), None);
    assert_eq!((s, v["code"].as_str()), (409, Some("consultation_ended")), "{v}");
}

/// A signalling connection that stays silent past `--consult-signal-idle-secs` is closed and
/// its participant shown as gone; one that pings stays.
#[test]
fn a_silent_signalling_connection_is_closed_and_a_pinging_one_stays() {
    let mut flags = FLAGS.to_vec();
    flags.extend(["--consult-signal-idle-secs", "5"]);
    let h = Harness::start(&flags);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let (clerk_url, resident_url) = (signal_url(&h, &clerk, id), signal_url(&h, &resident, id));
    rt.block_on(async move {
        let (mut silent, _) = tokio_tungstenite::connect_async(&resident_url).await.expect("socket");
        let (mut pinging, _) = tokio_tungstenite::connect_async(&clerk_url).await.expect("socket");
        let opened = Instant::now();
        // The pinging one pings every 2 s for 8 s, noting whether the resident is listed, then not.
        let pinger = tokio::spawn(async move {
            let (mut resident_seen, mut resident_gone) = (false, false);
            while opened.elapsed() < Duration::from_secs(8) {
                pinging.send(Message::Ping(vec![1].into())).await.expect("still open");
                let until = Instant::now() + Duration::from_secs(2);
                while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until.into(), pinging.next()).await {
                    if let Message::Text(t) = frame
                        && let Ok(ServerSignal::Participants { participants }) = serde_json::from_str(&t)
                    {
                        // Those connected are listed; one who leaves drops off the list.
                        let listed = participants.iter().any(|p| p.role == Role::Resident && p.present);
                        resident_seen |= listed;
                        resident_gone = resident_seen && !listed;
                    }
                }
            }
            (pinging, resident_gone)
        });
        // The silent one: frames until the server closes it.
        let closed_after = loop {
            match tokio::time::timeout(Duration::from_secs(12), silent.next()).await {
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => break opened.elapsed(),
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("a silent connection was still open after 12 s"),
            }
        };
        assert!(
            closed_after >= Duration::from_millis(4500) && closed_after < Duration::from_secs(9),
            "closed after {closed_after:?}, with a 5 s limit"
        );
        // The pinging one, 8 s in, is still open: its chat is answered; and it was told the
        // resident is gone.
        let (mut pinging, resident_gone) = pinger.await.expect("the pinging task");
        assert!(resident_gone, "the clerk was told the resident's connection ended");
        pinging.send(Message::Text(r#"{"type":"chat","text":"まだいますか"}"#.into())).await.expect("still open");
        let heard = loop {
            match tokio::time::timeout(Duration::from_secs(3), pinging.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.contains("まだいますか") => break true,
                Ok(Some(Ok(_))) => {}
                _ => break false,
            }
        };
        assert!(heard, "the pinging connection, 8 s in, still carries chat");
    });
}

#[test]
fn renegotiation_a_supervisor_with_media_and_at_most_three_open_invites() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let mut c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).unwrap();
    let mut r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 0x21)).unwrap();
    assert!(rt.block_on(c.connected(CONNECT)) && rt.block_on(r.connected(CONNECT)));
    rt.block_on(async {
        tokio::join!(c.send_media(Duration::from_secs(1), 200), r.send_media(Duration::from_secs(1), 200))
    });
    let ports = h.metric("madoguchi_media_ports_in_use");
    assert_eq!(ports, 2.0);

    // The resident offers again on the same connection: a second answer, the same leg (no new
    // port), and media keeps flowing both ways.
    rt.block_on(r.renegotiate()).expect("offers again");
    assert!(
        eventually(Duration::from_secs(5), || r.heard.lock().unwrap().answers == 2),
        "{:?}",
        r.heard.lock().unwrap()
    );
    assert!(r.heard.lock().unwrap().errors.is_empty(), "{:?}", r.heard.lock().unwrap().errors);
    assert_eq!(h.metric("madoguchi_media_ports_in_use"), ports);
    let before = (c.slot("video", 0).packets, r.slot("video", 0).packets);
    rt.block_on(async {
        tokio::join!(c.send_media(Duration::from_secs(1), 200), r.send_media(Duration::from_secs(1), 200))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.slot("video", 0).packets > before.0 + 10, "the clerk still gets video after renegotiation");
    assert!(r.slot("video", 0).packets > before.1 + 10, "the resident still gets video after renegotiation");

    // A supervisor of the department joins with media: they get both, the others see them.
    let sup = h.staff("super.a", "resident_registration", "supervisor");
    let other_sup = h.staff("super.x", "taxation", "supervisor");
    let (s, v) = h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(&other_sup), None);
    assert_eq!((s, v["code"].as_str()), (403, Some("wrong_department")));
    let (s, grant) = h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(&sup), None);
    assert_eq!((s, grant["role"].as_str()), (200, Some("supervisor")), "{grant}");
    let mut sv = rt.block_on(MediaPeer::join(&signal_url_of(&h, &grant), 0x5A)).unwrap();
    assert!(rt.block_on(sv.connected(CONNECT)));
    assert!(eventually(Duration::from_secs(5), || {
        r.heard.lock().unwrap().participants.iter().any(|p| p.role == Role::Supervisor && p.present)
    }));
    rt.block_on(async {
        tokio::join!(
            c.send_media(Duration::from_secs(2), 200),
            r.send_media(Duration::from_secs(2), 200),
            sv.send_media(Duration::from_secs(2), 200)
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut got: Vec<u64> = (0..3).flat_map(|i| sv.slot("video", i).tags).collect();
    got.sort();
    assert_eq!(got, vec![0x21, 0xC1], "the supervisor gets the clerk's and the resident's video");
    assert!(r.tags_seen().contains(&0x5A) && c.tags_seen().contains(&0x5A));

    // Three open interpreter codes at most; a used one frees its place.
    let path = format!("/api/v1/staff/consultations/{id}/invites");
    let codes: Vec<String> = (0..3)
        .map(|_| {
            let (s, v) = h.call("POST", &path, Some(&clerk), Some(&json!({"kind": "language"})));
            assert_eq!(s, 201, "{v}");
            v["code"].as_str().unwrap().to_string()
        })
        .collect();
    let (s, v) = h.call("POST", &path, Some(&clerk), Some(&json!({"kind": "language"})));
    assert_eq!((s, v["code"].as_str()), (409, Some("too_many_invites")), "{v}");

    // The interpreter's page: a form; a wrong code, a cross-site post and a missing name get
    // the form again (or a refusal) with what was wrong; the right code gives the consultation
    // page with a pass that joins as the interpreter.
    let (s, form) = h.get("/consult/join?lang=en");
    assert_eq!(s, 200);
    assert!(form.contains(r#"action="/consult/join""#) && form.contains(r#"name="code""#), "{form}");
    let (s, page) = h.post_form("/consult/join", &[("code", "0000-0000-0000"), ("name", "Lee"), ("lang", "en")], &[]);
    assert_eq!(s, 403);
    assert!(page.contains("This code is not valid"), "{page}");
    let (s, _) = h.post_form(
        "/consult/join",
        &[("code", &codes[0]), ("name", "Lee")],
        &[("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")],
    );
    assert_eq!(s, 403, "a cross-site post is refused");
    let (s, page) = h.post_form("/consult/join", &[("code", &codes[0]), ("name", " "), ("lang", "en")], &[]);
    assert_eq!(s, 400);
    assert!(page.contains("Enter your name"), "{page}");
    let (s, page) = h.post_form("/consult/join", &[("code", &codes[0]), ("name", "Lee 通訳"), ("lang", "en")], &[]);
    assert_eq!(s, 200, "{page}");
    let signal = page
        .split(r#"data-signal=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries a signalling pass")
        .replace("&amp;", "&");
    let ws = format!("{}{signal}", h.base().replacen("http", "ws", 1));
    let mut i = rt.block_on(MediaPeer::join(&ws, 0x1A)).expect("the interpreter joins from the page's pass");
    assert!(rt.block_on(i.connected(CONNECT)));
    assert_eq!(i.heard.lock().unwrap().joined.as_ref().map(|j| j.you), Some(Role::Interpreter));
    assert!(eventually(Duration::from_secs(5), || {
        c.heard.lock().unwrap().participants.iter().any(|p| p.role == Role::Interpreter && p.name == "Lee 通訳")
    }));
    // The code was used: a fourth may be made now, and the used one is refused on the page too.
    assert_eq!(h.call("POST", &path, Some(&clerk), Some(&json!({"kind": "language"}))).0, 201);
    let (s, _) = h.post_form("/consult/join", &[("code", &codes[0]), ("name", "Lee"), ("lang", "en")], &[]);
    assert_eq!(s, 403);
}

/// A procedure that needs a verified identity (child allowance), filled by the clerk in the
/// consultation: a guest's confirmation is refused with `identity_required` (the page then shows
/// its sign-in links), nothing is submitted, and the consultation carries on.
#[test]
fn a_guest_cannot_confirm_a_procedure_that_needs_a_verified_identity() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.c", "children_families", "c1");
    let r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 2)).unwrap();
    let (s, app) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{id}/applications"),
        Some(&clerk),
        Some(&json!({"procedure_id": "child_allowance"})),
    );
    assert_eq!(s, 201, "{app}");
    let reference = app["reference"].as_str().unwrap().to_string();
    let form = json!({"claimant_name": "山田 花子", "child_name": "山田 一郎", "child_birth_date": "2024-05-01", "children_in_care": 1, "bank_account": "まどぐち銀行 本店 1234567"});
    let (s, v) = h.call(
        "PATCH",
        &format!("/api/v1/staff/applications/{reference}"),
        Some(&clerk),
        Some(&json!({"form_data": form})),
    );
    assert_eq!(s, 200, "{v}");
    let seen = || r.heard.lock().unwrap().applications.iter().find(|a| a.reference == reference).cloned();
    assert!(eventually(Duration::from_secs(5), || seen().is_some_and(|a| a.ready)));
    r.send(ClientSignal::Confirm { reference: reference.clone() });
    assert!(
        eventually(Duration::from_secs(5), || r
            .heard
            .lock()
            .unwrap()
            .errors
            .iter()
            .any(|e| e.0 == "identity_required")),
        "{:?}",
        r.heard.lock().unwrap().errors
    );
    let (_, v) = h.call("GET", &format!("/api/v1/staff/applications/{reference}"), Some(&clerk), None);
    assert_eq!(v["status"], "draft", "nothing was submitted: {v}");
    assert!(!r.is_closed(), "the consultation carries on");
}

/// 書かない窓口: the clerk fills the resident's form during the consultation, everyone present
/// sees it as it is filled, and only the resident's confirmation submits it.
#[test]
fn the_clerk_fills_the_form_and_only_the_residents_confirmation_submits_it() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.a", "resident_registration", "a1");
    let c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 1)).unwrap();
    let r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 2)).unwrap();
    let (s, app) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{id}/applications"),
        Some(&clerk),
        Some(&json!({"procedure_id": "moving_in"})),
    );
    assert_eq!(s, 201, "{app}");
    let reference = app["reference"].as_str().unwrap().to_string();
    let seen = |p: &MediaPeer| p.heard.lock().unwrap().applications.iter().find(|a| a.reference == reference).cloned();
    assert!(eventually(Duration::from_secs(5), || seen(&r).is_some()));
    let empty = seen(&r).unwrap();
    assert_eq!(empty.name.as_ref().map(|n| n.ja.as_str()), Some("転入届"), "{empty:?}");
    assert!(empty.fields.iter().any(|f| f.id == "postal_code" && f.required && f.value.is_empty()), "{empty:?}");
    assert!(!empty.ready);
    // Not yet complete: confirming is refused, and nothing is submitted.
    r.send(ClientSignal::Confirm { reference: reference.clone() });
    assert!(eventually(Duration::from_secs(5), || r.heard.lock().unwrap().errors.iter().any(|e| e.0 == "incomplete")));

    // The clerk's field checks, as the console makes them while the clerk types.
    let (s, v) = h.call(
        "POST",
        "/api/v1/procedures/moving_in/check",
        Some(&clerk),
        Some(&json!({"form_data": {"postal_code": "1500001x"}})),
    );
    assert_eq!(s, 200, "{v}");
    assert!(v["errors"].as_array().unwrap().iter().any(|e| e["field"] == "postal_code"), "{v}");
    assert_eq!(
        h.call("POST", "/api/v1/procedures/nothing/check", Some(&clerk), Some(&json!({"form_data": {}}))).0,
        404
    );
    let (s, v) = h.call("POST", "/api/v1/procedures/moving_in/check", Some(&clerk), Some(&json!({"form_data": []})));
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "a form is an object: {v}");
    let many: serde_json::Map<String, serde_json::Value> = (0..101).map(|i| (format!("f{i}"), json!("x"))).collect();
    let (s, _) =
        h.call("POST", "/api/v1/procedures/moving_in/check", Some(&clerk), Some(&json!({ "form_data": many })));
    assert_eq!(s, 400, "a form of more fields than any procedure has is refused, not answered field by field");
    // The clerk fills it in: the resident sees every value, and that it can be confirmed.
    let form = moving_in_form();
    let (s, v) = h.call(
        "PATCH",
        &format!("/api/v1/staff/applications/{reference}"),
        Some(&clerk),
        Some(&json!({"form_data": form})),
    );
    assert_eq!(s, 200, "{v}");
    assert!(eventually(Duration::from_secs(5), || seen(&r).is_some_and(|a| a.ready)));
    let filled = seen(&r).unwrap();
    assert!(filled.fields.iter().any(|f| f.id == "postal_code" && f.value == "150-0001"), "{filled:?}");
    // The clerk's copy travels on another socket: it may land a moment after the resident's.
    assert!(eventually(Duration::from_secs(5), || seen(&c).is_some_and(|a| a.ready)), "the clerk sees the same");

    // Only the resident confirms, and only what is linked here.
    c.send(ClientSignal::Confirm { reference: reference.clone() });
    assert!(eventually(Duration::from_secs(5), || c.heard.lock().unwrap().errors.iter().any(|e| e.0 == "not_allowed")));
    r.send(ClientSignal::Confirm { reference: "MDG-0000-0000".into() });
    assert!(eventually(Duration::from_secs(5), || r.heard.lock().unwrap().errors.iter().any(|e| e.0 == "not_linked")));
    r.send(ClientSignal::Confirm { reference: reference.clone() });
    assert!(eventually(Duration::from_secs(5), || seen(&r).is_some_and(|a| a.status == "submitted" && !a.ready)));
    assert!(eventually(Duration::from_secs(5), || seen(&c).is_some_and(|a| a.status == "submitted")));

    // The clerk takes it into review with a note: the resident sees the note.
    let (s, v) = h.call(
        "POST",
        &format!("/api/v1/staff/applications/{reference}/status"),
        Some(&clerk),
        Some(&json!({"status": "in_review", "note": "転出証明書の原本を確認します"})),
    );
    assert_eq!(s, 200, "{v}");
    assert!(eventually(Duration::from_secs(5), || seen(&r)
        .is_some_and(|a| a.status == "in_review" && a.note.as_deref() == Some("転出証明書の原本を確認します"))));

    // The audit trail says who did what: the clerk created and edited it, the resident submitted.
    let (_, events) = h.call("GET", &format!("/api/v1/staff/applications/{reference}/events"), Some(&clerk), None);
    let who: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] != "viewed" && e["action"] != "viewed_events")
        .map(|e| {
            let what = if e["action"] == "status" { &e["detail"]["after"] } else { &e["action"] };
            (what.as_str().unwrap().to_string(), e["actor_kind"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        who,
        vec![
            ("created".to_string(), "staff".to_string()),
            ("edited".into(), "staff".into()),
            ("submitted".into(), "resident".into()),
            ("in_review".into(), "staff".into()),
        ],
        "{events}"
    );
    assert!(h.store.cli(&["audit", "verify"], "").status.success());
}

/// Open file descriptors of a process.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Resident memory of a process, in kB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn api(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> serde_json::Value {
    let r = http.request(method, format!("{base}{path}")).bearer_auth(token).send().await.expect("request");
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// One desk's loop: a ticket taken, called, arrived; a consultation started, joined by both
/// sides with media connected, and ended by finishing the ticket.
async fn cycles(base: String, clerk: String, resident: String, department: &'static str, n: usize) {
    let http = reqwest::Client::new();
    let ws = base.replacen("http://", "ws://", 1);
    for i in 0..n {
        let take = http
            .post(format!("{base}/api/v1/tickets"))
            .bearer_auth(&resident)
            .json(&json!({ "department": department }))
            .send()
            .await
            .expect("take");
        assert_eq!(take.status(), 201, "cycle {i}: {}", take.text().await.unwrap_or_default());
        let called = api(&http, &base, reqwest::Method::POST, "/api/v1/staff/desk/call-next", &clerk).await;
        let ticket = called["called"]["id"].as_i64().expect("called");
        api(&http, &base, reqwest::Method::POST, &format!("/api/v1/tickets/{ticket}/arrived"), &resident).await;
        let c = api(&http, &base, reqwest::Method::POST, "/api/v1/staff/consultations", &clerk).await;
        let id = c["id"].as_i64().unwrap();
        let mut peers = Vec::new();
        for token in [&clerk, &resident] {
            let grant =
                api(&http, &base, reqwest::Method::POST, &format!("/api/v1/consultations/{id}/join"), token).await;
            let url = format!("{ws}/api/v1/consultations/signal?ticket={}", grant["ticket"].as_str().unwrap());
            peers.push(MediaPeer::join(&url, i as u64).await.expect("join"));
        }
        for p in &mut peers {
            assert!(p.connected(CONNECT).await, "cycle {i}: no media");
        }
        api(&http, &base, reqwest::Method::POST, "/api/v1/staff/desk/done", &clerk).await;
        for p in peers {
            let end = Instant::now() + Duration::from_secs(5);
            while p.heard.lock().unwrap().ended.is_none() && Instant::now() < end {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(p.heard.lock().unwrap().ended.as_deref(), Some("ticket_served"), "cycle {i}");
            p.drop_out().await;
        }
    }
}

#[test]
fn a_thousand_consultations_leave_no_sockets_ports_or_tasks_behind() {
    let h = Harness::start(&[FLAGS, &["--tickets-per-minute", "100000"]].concat());
    let rt = media_runtime();
    // One desk per department: two desks of one department would call each other's tickets.
    const DESKS: [(&str, &str); 5] = [
        ("a1", "resident_registration"),
        ("b1", "insurance_pension"),
        ("c1", "children_families"),
        ("d1", "welfare"),
        ("e1", "taxation"),
    ];
    let mut pairs = Vec::new();
    for (i, (counter, dept)) in DESKS.iter().enumerate() {
        let clerk = h.clerk(&format!("clerk.{i}"), dept);
        assert_eq!(h.call("POST", &format!("/api/v1/staff/desks/{counter}/take"), Some(&clerk), None).0, 200);
        pairs.push((clerk, h.guest(&format!("住民{i}")), *dept));
    }
    let run = |per_desk: usize| {
        rt.block_on(async {
            let loops = pairs.iter().map(|(c, r, d)| cycles(h.base(), c.clone(), r.clone(), d, per_desk));
            futures_util::future::join_all(loops).await;
        })
    };
    // Warm up (pools, caches, the first ports), then measure.
    run(2);
    std::thread::sleep(Duration::from_millis(500));
    let (fds_before, rss_before) = (fds(h.pid()), rss_kb(h.pid()));
    let started = Instant::now();
    run(200); // 5 desks x 200 = 1 000 consultations
    std::thread::sleep(Duration::from_secs(1));
    let (fds_after, rss_after) = (fds(h.pid()), rss_kb(h.pid()));
    eprintln!(
        "{{\"test\":\"consult_cycles\",\"cycles\":1000,\"seconds\":{:.1},\"fds_before\":{fds_before},\"fds_after\":{fds_after},\"rss_before_kb\":{rss_before},\"rss_after_kb\":{rss_after}}}",
        started.elapsed().as_secs_f64()
    );
    assert!(fds_after <= fds_before + 4, "file descriptors grew from {fds_before} to {fds_after}");
    // Memory: a leak of even 50 KB a consultation would pass this bound (a leg's buffers are
    // larger); the allocator keeps some of what it was given, so the bound is not zero.
    let growth_kb = rss_after.saturating_sub(rss_before);
    assert!(growth_kb <= 48 * 1024, "RSS grew by {growth_kb} KB over 1 000 consultations");
    assert_eq!(h.metric("madoguchi_media_ports_in_use"), 0.0, "every media port is back in the pool");
    assert_eq!(h.metric("madoguchi_media_legs"), 0.0);
    assert_eq!(h.metric("madoguchi_consultations_running"), 0.0);
    assert_eq!(h.metric("madoguchi_consult_participants"), 0.0);
    assert!(h.metric("madoguchi_consultations_ended_total") >= 1010.0);
}

#[test]
fn the_text_mode_consultation_page_carries_video_both_ways_on_a_phone() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let clerk = h.clerk("clerk.page", "resident_registration");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/a1/take", Some(&clerk), None).0, 200);
    let mut page = BrowserScript::start("consult_page.mjs", &[("MADOGUCHI_BASE", &h.base())]);
    let mut last = page.next_line();
    let mut clerk_peer = None;
    if last == "ticket" {
        let (s, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
        assert_eq!(s, 200, "{v}");
        page.answer("called");
        last = page.next_line();
    }
    if last == "arrived" {
        let (s, v) = h.call("POST", "/api/v1/staff/consultations", Some(&clerk), None);
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_i64().unwrap();
        let mut peer = rt.block_on(MediaPeer::join_with(&signal_url(&h, &clerk, id), 0xC1, true)).expect("clerk joins");
        assert!(rt.block_on(peer.connected(CONNECT)));
        clerk_peer = Some(peer);
        page.answer("started");
        last = page.next_line();
    }
    page.finish(last);
    let peer = clerk_peer.expect("the clerk joined");
    // The clerk got the resident's real camera and microphone.
    assert!(peer.slot("video", 0).bytes > 10_000, "{:?}", peer.slot("video", 0).packets);
    assert!(peer.slot("audio", 0).packets > 20);
}
