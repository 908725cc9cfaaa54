//! Sessions and the world: a client in the world keeps its session (and its ticket) past the
//! idle limit; a session that ends — idle, or signed out — closes its world connections and
//! cancels its resident's waiting tickets, each with a ticket event that says why.

use madoguchi_shared::{ClientMessage, ErrorCode};
use madoguchi_tests::{Harness, SOON, walk_to_counter};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A three-second idle limit, so that a test can outlast it.
const SHORT_IDLE: &[&str] = &["--always-open", "--sessions-per-minute", "0", "--session-idle-secs", "3"];

/// The ticket's events as a clerk of its department sees them: (action, actor, why).
fn events(h: &Harness, clerk: &str, ticket: i64) -> Vec<(String, String, String)> {
    let (s, ev) = h.call("GET", &format!("/api/v1/staff/tickets/{ticket}/events"), Some(clerk), None);
    assert_eq!(s, 200, "{ev}");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    ev.as_array().unwrap().iter().map(|e| (text(&e["action"]), text(&e["actor"]), text(&e["detail"]["why"]))).collect()
}

#[test]
fn a_client_in_the_world_keeps_its_session_and_ticket_past_the_idle_limit() {
    let h = Harness::start(SHORT_IDLE);
    let token = h.guest("ずっと");
    let mut r = h.join_as(&token, "ずっと");
    walk_to_counter(&mut r, "c1");
    r.send(&ClientMessage::TakeTicket { counter: "c1".into() });
    assert!(r.wait_until(SOON, |b| b.ticket("C-001").is_some()), "{:?}", r.errors);
    // Another resident takes a ticket over HTTP and then does nothing.
    let idle = h.guest("idle");
    let (s, taken) = h.call("POST", "/api/v1/tickets", Some(&idle), Some(&json!({ "department": "welfare" })));
    assert_eq!(s, 201, "{taken}");

    // More than twice the idle limit in the world, sending nothing but the transport's own
    // keep-alive packets.
    let until = Instant::now() + Duration::from_secs(7);
    while Instant::now() < until {
        r.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(r.is_connected(), "{:?}", r.refused);
    let (s, mine) = h.call("GET", "/api/v1/tickets", Some(&token), None);
    assert_eq!(s, 200, "the world connection kept the session alive: {mine}");
    assert_eq!(mine[0]["status"], "waiting", "{mine}");
    assert_eq!(r.ticket("C-001").unwrap().status, madoguchi_shared::protocol::TicketStatus::Waiting);

    // The idle resident's session ended, and the office cancelled their ticket, saying why.
    let (s, _) = h.call("GET", "/api/v1/tickets", Some(&idle), None);
    assert_eq!(s, 401, "an idle session ends");
    let id = taken["id"].as_i64().unwrap();
    let clerk = h.clerk("welfare.reader", "welfare");
    let deadline = Instant::now() + SOON;
    while events(&h, &clerk, id).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let ev = events(&h, &clerk, id);
    assert_eq!(
        ev.last().unwrap(),
        &("cancelled".to_string(), "system".to_string(), "session ended".to_string()),
        "{ev:?}"
    );
}

#[test]
fn signing_out_closes_the_world_connection_and_cancels_the_waiting_ticket() {
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0"]);
    let token = h.guest("またね");
    let mut r = h.join_as(&token, "またね");
    walk_to_counter(&mut r, "c1");
    r.send(&ClientMessage::TakeTicket { counter: "c1".into() });
    assert!(r.wait_until(SOON, |b| b.ticket("C-001").is_some()), "{:?}", r.errors);
    let id = r.ticket("C-001").unwrap().id;

    let (s, body) = h.call("POST", "/api/v1/sessions/logout", Some(&token), None);
    assert_eq!(s, 204, "{body}");
    assert!(
        r.wait_until(SOON, |b| b.refused.as_ref().is_some_and(|(c, _)| *c == ErrorCode::SessionEnded)),
        "told plainly: {:?}",
        r.refused
    );
    assert!(r.wait_until(SOON, |b| !b.is_connected()), "and disconnected");
    let clerk = h.clerk("children.reader", "children_families");
    let ev = events(&h, &clerk, id);
    assert_eq!(
        ev.last().unwrap(),
        &("cancelled".to_string(), "system".to_string(), "session ended".to_string()),
        "{ev:?}"
    );
    // A new connect token for the old session is refused: nobody continues as that resident.
    let (s, _) = h.call("POST", "/api/v1/world/connect-token", Some(&token), None);
    assert_eq!(s, 401);
}

/// World slots cannot be hoarded: a session's newest connection (UDP or WebSocket) replaces its
/// older one, which is told so; and one network address holds at most
/// `--max-clients-per-address` connections, WebSocket ones included.
#[test]
fn a_session_holds_one_world_connection_and_an_address_a_few() {
    let h = Harness::start(&["--sessions-per-minute", "0", "--max-clients-per-address", "3"]);
    let replaced = |b: &madoguchi_bots::Bot| b.refused.as_ref().is_some_and(|(c, _)| *c == ErrorCode::Replaced);
    let token = h.guest("ひとり");
    let mut first = h.join_as(&token, "ひとり");
    let mut second = h.join_as(&token, "ひとり");
    assert!(first.wait_until(SOON, replaced), "the older connection is replaced: {:?}", first.refused);
    assert!(first.wait_until(SOON, |b| !b.is_connected()));
    second.pump();
    assert!(second.is_connected() && second.refused.is_none(), "{:?}", second.refused);
    // The browser transport follows the same rule.
    let mut ws = madoguchi_bots::Bot::connect_ws(&h.base(), &h.ws_ticket(&token)).expect("WebSocket bot");
    ws.hello("ひとり", "ja");
    assert!(ws.wait_until(SOON, |b| b.me.is_some()), "{:?}", ws.refused);
    assert!(second.wait_until(SOON, replaced), "{:?}", second.refused);

    // Two more from the same address fill its three slots; the next, either way, is refused.
    let _b = h.join("二人目");
    let _c = h.join("三人目");
    let limited = |b: &madoguchi_bots::Bot| b.refused.as_ref().is_some_and(|(c, _)| *c == ErrorCode::ConnectionLimit);
    let mut over = madoguchi_bots::Bot::connect(h.credentials().connect_token).expect("bot");
    assert!(over.wait_until(SOON, limited), "{:?}", over.refused);
    let mut over_ws =
        madoguchi_bots::Bot::connect_ws(&h.base(), &h.ws_ticket(&h.guest("四人目"))).expect("WebSocket bot");
    assert!(over_ws.wait_until(SOON, limited), "{:?}", over_ws.refused);
    // A full address still lets a session reconnect (a reload): the new connection replaces
    // the old one instead of taking a slot.
    let mut again = h.join_as(&token, "ひとり");
    assert!(ws.wait_until(SOON, replaced), "{:?}", ws.refused);
    again.pump();
    assert!(again.is_connected() && again.refused.is_none(), "{:?}", again.refused);
    let refused = h.metric("madoguchi_refused_messages_total{reason=\"connection_limit\"}");
    assert_eq!(refused, 2.0);
}
