//! Queues end to end: tickets taken at a counter in the world and over HTTP, clerks at desks
//! calling them, notifications, fairness, transfers, no-shows, restarts, opening hours, and
//! two clerks calling at once on SQLite and PostgreSQL.

use madoguchi_shared::ClientMessage;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::TicketStatus;
use madoguchi_tests::{Backend, Harness, SOON, Store, on_both_backends, walk_to_counter};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

on_both_backends!(
    a_double_click_on_call_next_leaves_one_ticket_at_the_desk,
    the_wait_estimate_counts_only_real_services,
    a_restart_keeps_the_queue,
    two_clerks_calling_at_once_never_get_the_same_ticket,
);

const OPEN: &[&str] = &["--always-open", "--sessions-per-minute", "0"];

fn take(h: &Harness, token: &str, dept: &str) -> (u16, Value) {
    h.call("POST", "/api/v1/tickets", Some(token), Some(&json!({ "department": dept })))
}

fn mine(h: &Harness, token: &str) -> Vec<Value> {
    let (s, v) = h.call("GET", "/api/v1/tickets", Some(token), None);
    assert_eq!(s, 200, "{v}");
    v.as_array().expect("list").clone()
}

fn error_code(bot: &madoguchi_bots::Bot, code: ErrorCode) -> bool {
    bot.errors.iter().any(|(c, _)| *c == code)
}

#[test]
fn a_resident_takes_a_ticket_at_the_counter_and_is_called_to_the_desk() {
    let h = Harness::start(OPEN);
    let resident = h.guest("花子");
    let mut r = h.join_as(&resident, "花子");
    assert!(r.wait_until(SOON, |b| b.desks.len() == 6), "every desk sign arrives on join: {:?}", r.desks);
    assert!(r.desks.values().all(|d| !d.open));

    // Too far away: the lobby is not the counter.
    r.send(&ClientMessage::TakeTicket { counter: "c1".into() });
    assert!(r.wait_until(SOON, |b| error_code(b, ErrorCode::NotNearCounter)), "{:?}", r.errors);
    // Neither side may act as the other.
    r.send(&ClientMessage::TakeDesk { counter: "c1".into() });
    r.send(&ClientMessage::CallNext);
    assert!(r.wait_until(SOON, |b| b.errors.iter().filter(|(c, _)| *c == ErrorCode::StaffOnly).count() == 2));

    walk_to_counter(&mut r, "c1");
    r.send(&ClientMessage::TakeTicket { counter: "c1".into() });
    assert!(r.wait_until(SOON, |b| b.ticket("C-001").is_some()), "no ticket: {:?}", r.errors);
    let t = r.ticket("C-001").unwrap().clone();
    assert_eq!((t.status, t.position, t.wait_s), (TicketStatus::Waiting, Some(1), None), "no data yet: wait unknown");
    // A second ticket for the same department is refused, the first one repeated.
    r.send(&ClientMessage::TakeTicket { counter: "c1".into() });
    assert!(r.wait_until(SOON, |b| error_code(b, ErrorCode::TicketExists)));

    let clerk = h.clerk("sato", "children_families");
    let mut c = h.join_as(&clerk, "not my account name");
    c.send(&ClientMessage::TakeTicket { counter: "c1".into() });
    assert!(c.wait_until(SOON, |b| error_code(b, ErrorCode::ResidentOnly)), "{:?}", c.errors);
    c.send(&ClientMessage::TakeDesk { counter: "a1".into() });
    assert!(c.wait_until(SOON, |b| error_code(b, ErrorCode::WrongDepartment)), "{:?}", c.errors);
    c.send(&ClientMessage::CallNext);
    assert!(c.wait_until(SOON, |b| error_code(b, ErrorCode::NoDesk)), "{:?}", c.errors);

    // The clerk opens c1: the sign shows their account's name, their avatar stands behind it.
    c.send(&ClientMessage::TakeDesk { counter: "c1".into() });
    c.pump();
    assert!(
        r.wait_until(SOON, |b| b.desks.get("c1").is_some_and(|d| d.open && d.clerk.as_deref() == Some("sato"))),
        "{:?}",
        r.desks.get("c1")
    );
    assert!(c.wait_until(SOON, |b| b.pos.is_some_and(|p| (p.x - 20.5).abs() < 0.1 && (p.y - 18.0).abs() < 0.1)));
    assert!(r.wait_until(SOON, |b| b.staff_seen.iter().any(|n| n == "sato")), "the clerk is marked as staff");

    c.send(&ClientMessage::CallNext);
    c.pump();
    assert!(r.wait_until(SOON, |b| b.ticket("C-001").is_some_and(|t| t.status != TicketStatus::Waiting)));
    let called = r.ticket("C-001").unwrap().clone();
    assert_eq!(called.counter.as_deref(), Some("c1"));
    // Standing at the counter already, the resident has arrived.
    assert!(r.wait_until(SOON, |b| b.ticket("C-001").is_some_and(|t| t.status == TicketStatus::Serving)));
    // Everyone in the office sees the number on c1's queue display (the clerk's client too),
    // and no other counter's display changes.
    for b in [&mut r, &mut c] {
        assert!(
            b.wait_until(SOON, |b| b.desks.get("c1").is_some_and(|d| d.serving.as_deref() == Some("C-001"))),
            "{:?}",
            b.desks.get("c1")
        );
    }
    assert!(r.desks.iter().filter(|(k, _)| *k != "c1").all(|(_, d)| d.serving.is_none()), "{:?}", r.desks);
    // A resident who joins now is shown the display as it is.
    let late = h.guest("次郎");
    let mut l = h.join_as(&late, "次郎");
    assert!(
        l.wait_until(SOON, |b| b.desks.get("c1").is_some_and(|d| d.serving.as_deref() == Some("C-001"))),
        "{:?}",
        l.desks
    );

    let (s, v) = h.call("POST", "/api/v1/staff/desk/done", Some(&clerk), None);
    assert_eq!((s, v["status"].as_str()), (200, Some("served")), "{v}");
    assert!(r.wait_until(SOON, |b| b.ticket("C-001").is_some_and(|t| t.status == TicketStatus::Served)));
    assert!(
        l.wait_until(SOON, |b| b.desks.get("c1").is_some_and(|d| d.open && d.serving.is_none())),
        "served: the display clears"
    );
    let (s, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    assert_eq!((s, &v["called"]), (200, &Value::Null), "nobody waits: {v}");

    // The clerk's account did everything, and it is on record.
    let (s, ev) = h.call("GET", &format!("/api/v1/staff/tickets/{}/events", t.id), Some(&clerk), None);
    assert_eq!(s, 200, "{ev}");
    let actions: Vec<(&str, &str)> =
        ev.as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert_eq!(actions[1..], [("called", "sato"), ("arrived", actions[0].1), ("served", "sato")]);
    assert_eq!(actions[0].0, "taken");
}

#[test]
fn calling_is_fair_per_department_and_transfers_keep_their_place() {
    let h = Harness::start(OPEN);
    let residents: Vec<String> = (0..6).map(|i| h.guest(&format!("r{i}"))).collect();
    // r0 B, r1 A, r2 B, r3 A, r4 B, r5 A: taken in that order.
    let mut labels = Vec::new();
    for (i, r) in residents.iter().enumerate() {
        let dept = if i % 2 == 0 { "insurance_pension" } else { "resident_registration" };
        let (s, v) = take(&h, r, dept);
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["position"], json!(i / 2 + 1), "{v}");
        labels.push(v["label"].as_str().unwrap().to_string());
    }
    assert_eq!(labels, ["B-001", "A-001", "B-002", "A-002", "B-003", "A-003"]);
    let (s, v) = take(&h, &residents[1], "resident_registration");
    assert_eq!((s, v["code"].as_str()), (409, Some("ticket_exists")), "{v}");
    let (s, v) = take(&h, &residents[0], "no_such_department");
    assert_eq!((s, v["code"].as_str()), (400, Some("unknown_department")), "{v}");

    let a = h.clerk("clerk.a", "resident_registration");
    let b = h.clerk("clerk.b", "insurance_pension");
    // Residents cannot act as staff, and a clerk cannot open another department's desk.
    for path in ["/api/v1/staff/desk/call-next", "/api/v1/staff/desks/a1/take", "/api/v1/staff/tickets/1/transfer"] {
        let (s, v) = h.call("POST", path, Some(&residents[0]), Some(&json!({"department": "welfare"})));
        assert_eq!((s, v["code"].as_str()), (403, Some("staff_only")), "{path}: {v}");
    }
    let (s, v) = h.call("POST", "/api/v1/staff/desks/b1/take", Some(&a), None);
    assert_eq!((s, v["code"].as_str()), (403, Some("wrong_department")), "{v}");
    let (s, v) = h.call("POST", "/api/v1/staff/desks/a1/take", Some(&a), None);
    assert_eq!((s, v["clerk"].as_str()), (200, Some("clerk.a")), "{v}");
    let (s, v) =
        h.call("POST", "/api/v1/staff/desks/a1/take", Some(&h.clerk("clerk.a2", "resident_registration")), None);
    assert_eq!((s, v["code"].as_str()), (409, Some("desk_taken")), "{v}");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/b1/take", Some(&b), None).0, 200);

    // A calls A-001; A transfers it to B, where it goes ahead of B-002 and B-003 (taken later)
    // but stays behind B-001 (taken earlier).
    let (_, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&a), None);
    assert_eq!(v["called"]["label"], "A-001", "{v}");
    let id = v["called"]["id"].as_i64().unwrap();
    // B cannot transfer A's ticket; it does not exist for them.
    let (s, _) = h.call(
        "POST",
        &format!("/api/v1/staff/tickets/{id}/transfer"),
        Some(&b),
        Some(&json!({"department": "welfare"})),
    );
    assert_eq!(s, 404);
    let (s, v) = h.call(
        "POST",
        &format!("/api/v1/staff/tickets/{id}/transfer"),
        Some(&a),
        Some(&json!({"department": "insurance_pension", "note": "pension question"})),
    );
    assert_eq!((s, v["label"].as_str(), v["position"].as_i64()), (200, Some("B-004"), Some(2)), "{v}");
    let (_, q) = h.call("GET", "/api/v1/staff/queue", Some(&b), None);
    let order: Vec<&str> = q.as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap()).collect();
    assert_eq!(order, ["B-001", "B-004", "B-002", "B-003"]);
    assert_eq!(q[1]["transferred_from"], "resident_registration");

    let mut called_b = Vec::new();
    let mut called_a = Vec::new();
    for _ in 0..5 {
        let (_, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&b), None);
        called_b.push(v["called"]["label"].as_str().unwrap_or("-").to_string());
        let (_, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&a), None);
        called_a.push(v["called"]["label"].as_str().unwrap_or("-").to_string());
    }
    assert_eq!(called_b, ["B-001", "B-004", "B-002", "B-003", "-"]);
    assert_eq!(called_a, ["A-002", "A-003", "-", "-", "-"]);

    // Residents see only their own tickets, and cannot cancel another's.
    let r1 = mine(&h, &residents[1]);
    assert_eq!(r1.len(), 1);
    assert_eq!(r1[0]["label"], "B-004");
    let other = mine(&h, &residents[2])[0]["id"].as_i64().unwrap();
    let (s, v) = h.call("POST", &format!("/api/v1/tickets/{other}/cancel"), Some(&residents[0]), None);
    assert_eq!((s, v["code"].as_str()), (404, Some("no_ticket")), "{v}");
    // Staff cannot take tickets, and the clerk's trail names who moved the ticket.
    let (s, _) = take(&h, &a, "welfare");
    assert_eq!(s, 403);
    let (_, ev) = h.call("GET", &format!("/api/v1/staff/tickets/{id}/events"), Some(&b), None);
    let t = ev.as_array().unwrap().iter().find(|e| e["action"] == "transferred").expect("transferred event").clone();
    assert_eq!((t["actor"].as_str(), t["detail"]["new_label"].as_str()), (Some("clerk.a"), Some("B-004")), "{t}");
    assert!(ev.as_array().unwrap().iter().any(|e| e["actor"] == "clerk.b"), "B sees its own work: {ev}");
    // A, who handed it on, sees its history up to the transfer and nothing of B's work after.
    let (_, ev) = h.call("GET", &format!("/api/v1/staff/tickets/{id}/events"), Some(&a), None);
    assert_eq!(ev.as_array().unwrap().last().unwrap()["action"], "transferred", "{ev}");
}

/// On PostgreSQL, concurrent calls of one desk would each see a different "current" ticket
/// without the desk's lock.
fn a_double_click_on_call_next_leaves_one_ticket_at_the_desk(backend: Backend) {
    let h = Harness::start_on(Store::new(backend), OPEN);
    let residents: Vec<String> = (0..10).map(|i| h.guest(&format!("d{i}"))).collect();
    for r in &residents {
        assert_eq!(take(&h, r, "welfare").0, 201);
    }
    let clerk = h.clerk("double", "welfare");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/d1/take", Some(&clerk), None).0, 200);
    let base = h.base();
    let start = std::sync::Arc::new(std::sync::Barrier::new(6));
    let clicks: Vec<_> = (0..6)
        .map(|_| {
            let (base, token, start) = (base.clone(), clerk.clone(), start.clone());
            std::thread::spawn(move || {
                let http = clerk_http::blocking_client();
                start.wait();
                http(&base, &token)
            })
        })
        .collect();
    for c in clicks {
        c.join().expect("click");
    }
    let statuses: Vec<String> =
        residents.iter().map(|r| mine(&h, r)[0]["status"].as_str().unwrap().to_string()).collect();
    let called = statuses.iter().filter(|s| *s == "called").count();
    let no_show = statuses.iter().filter(|s| *s == "no_show").count();
    assert_eq!(called, 1, "one ticket at the desk: {statuses:?}");
    // Six calls in a row: five residents called and passed over, one at the desk, the rest wait.
    assert_eq!((no_show, statuses.iter().filter(|s| *s == "waiting").count()), (5, 4), "{statuses:?}");
}

#[test]
fn ticket_spam_is_rate_limited_and_cancel_works() {
    let h = Harness::start(OPEN);
    let r = h.guest("spam");
    let mut refused = None;
    for i in 0..10 {
        let (s, v) = take(&h, &r, "welfare");
        if s == 429 {
            refused = Some(i);
            assert_eq!(v["code"], "rate_limited");
            break;
        }
        assert_eq!(s, 201, "{v}");
        let (s, v) = h.call("POST", &format!("/api/v1/tickets/{}/cancel", v["id"]), Some(&r), None);
        assert_eq!((s, v["status"].as_str()), (200, Some("cancelled")), "{v}");
    }
    assert_eq!(refused, Some(5), "a burst of 5 tickets, then refused");
    let list = mine(&h, &r);
    assert_eq!(list.len(), 5);
    assert!(list.iter().all(|t| t["status"] == "cancelled"));
}

#[test]
fn a_called_resident_who_does_not_come_is_a_no_show_and_the_next_is_called() {
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0", "--no-show-secs", "2"]);
    let r1 = h.guest("one");
    let r2 = h.guest("two");
    assert_eq!(take(&h, &r1, "taxation").0, 201);
    assert_eq!(take(&h, &r2, "taxation").0, 201);
    let clerk = h.clerk("tax", "taxation");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/e1/take", Some(&clerk), None).0, 200);
    let (_, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    assert_eq!(v["called"]["label"], "E-001");
    let (s, v) = h.call("POST", "/api/v1/staff/desk/recall", Some(&clerk), None);
    assert_eq!((s, v["recalls"].as_i64()), (200, Some(1)), "{v}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while mine(&h, &r2)[0]["status"] != "called" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(mine(&h, &r1)[0]["status"], "no_show");
    assert_eq!(mine(&h, &r2)[0]["status"], "called");
    assert_eq!(mine(&h, &r2)[0]["counter"], "e1");
    // The text-mode resident says they are at the desk; that stops the no-show clock.
    let id = mine(&h, &r2)[0]["id"].as_i64().unwrap();
    let (s, v) = h.call("POST", &format!("/api/v1/tickets/{id}/arrived"), Some(&r2), None);
    assert_eq!((s, v["status"].as_str()), (200, Some("serving")), "{v}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(mine(&h, &r2)[0]["status"], "serving");
}

/// Waits until `token`'s first ticket has `status`; false after `within`.
fn wait_status(h: &Harness, token: &str, status: &str, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if mine(h, token)[0]["status"] == status {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_console_desk_is_attended_by_heartbeats_and_actions_not_by_reading() {
    let h = Harness::start(&[
        "--always-open",
        "--sessions-per-minute",
        "0",
        "--no-show-secs",
        "2",
        "--desk-presence-secs",
        "4",
    ]);
    let residents: Vec<String> = (0..5).map(|i| h.guest(&format!("r{i}"))).collect();
    for r in &residents {
        assert_eq!(take(&h, r, "taxation").0, 201);
    }
    let clerk = h.clerk("tax", "taxation");
    // No desk yet: nothing to be present at.
    let (s, v) = h.call("POST", "/api/v1/staff/desk/heartbeat", Some(&clerk), None);
    assert_eq!((s, v["code"].as_str()), (409, Some("no_desk")), "{v}");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/e1/take", Some(&clerk), None).0, 200);
    let (_, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    assert_eq!(v["called"]["label"], "E-001");
    // An open console tab only reads: E-001 is a no-show 2–3 s after the call (the clock ticks
    // once a second), and the desk, acted on less than 4 s before, calls E-002; that one is a
    // no-show 2–3 s later, when the clerk's last act is over 4 s old (the presence period) — so
    // E-003 is not called, however much the tab reads.
    let until = std::time::Instant::now() + Duration::from_secs(8);
    while std::time::Instant::now() < until {
        assert_eq!(h.call("GET", "/api/v1/staff/desks", Some(&clerk), None).0, 200);
        assert_eq!(h.call("GET", "/api/v1/staff/queue", Some(&clerk), None).0, 200);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(mine(&h, &residents[0])[0]["status"], "no_show");
    assert_eq!(mine(&h, &residents[1])[0]["status"], "no_show");
    assert_eq!(mine(&h, &residents[2])[0]["status"], "waiting", "an unattended desk called the next");
    // A console that sends heartbeats keeps the desk attended past the presence period.
    let (_, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    assert_eq!(v["called"]["label"], "E-003");
    let beat_until = std::time::Instant::now() + Duration::from_secs(7);
    while std::time::Instant::now() < beat_until {
        assert_eq!(h.call("POST", "/api/v1/staff/desk/heartbeat", Some(&clerk), None).0, 204);
        std::thread::sleep(Duration::from_millis(500));
    }
    // E-003 no-show at +2 s calls E-004 (the act at 0 s); E-004 no-show at +4 s calls E-005:
    // only the heartbeats make the desk attended then.
    assert_eq!(mine(&h, &residents[3])[0]["status"], "no_show");
    assert!(
        wait_status(&h, &residents[4], "called", Duration::from_secs(1))
            || mine(&h, &residents[4])[0]["status"] == "no_show"
    );
}

fn the_wait_estimate_counts_only_real_services(backend: Backend) {
    let h = Harness::start_on(Store::new(backend), OPEN);
    let r: Vec<String> = (0..4).map(|i| h.guest(&format!("r{i}"))).collect();
    for t in &r {
        assert_eq!(take(&h, t, "taxation").0, 201);
    }
    let clerk = h.clerk("tax", "taxation");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/e1/take", Some(&clerk), None).0, 200);
    let real_services =
        || h.store.exec("UPDATE tickets SET service_ms = service_ms WHERE service_ms IS NOT NULL").unwrap();
    // Called, never arrived, marked done: not a service.
    h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.call("POST", "/api/v1/staff/desk/done", Some(&clerk), None).0, 200);
    assert_eq!(mine(&h, &r[0])[0]["status"], "served");
    assert_eq!(real_services(), 0);
    assert_eq!(mine(&h, &r[2])[0]["wait_s"], Value::Null, "no real service yet: wait unknown");
    // Called, arrived, done: a service, and now there is an estimate.
    h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    let id = mine(&h, &r[1])[0]["id"].as_i64().unwrap();
    assert_eq!(h.call("POST", &format!("/api/v1/tickets/{id}/arrived"), Some(&r[1]), None).0, 200);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(h.call("POST", "/api/v1/staff/desk/done", Some(&clerk), None).0, 200);
    assert_eq!(real_services(), 1);
    let wait = mine(&h, &r[2])[0]["wait_s"].as_u64().expect("an estimate after a real service");
    assert!((1..=60).contains(&wait), "{wait}");
    // Arrived and being served when the server restarts: ended, but not a service.
    h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    let id = mine(&h, &r[2])[0]["id"].as_i64().unwrap();
    assert_eq!(h.call("POST", &format!("/api/v1/tickets/{id}/arrived"), Some(&r[2]), None).0, 200);
    let h = h.kill_and_restart(OPEN);
    assert_eq!(mine(&h, &r[2])[0]["status"], "served");
    assert_eq!(h.store.exec("UPDATE tickets SET service_ms = service_ms WHERE service_ms IS NOT NULL").unwrap(), 1);
}

#[test]
fn a_clerk_who_disconnects_loses_the_desk_after_the_grace_period() {
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0", "--desk-grace-secs", "1"]);
    let resident = h.guest("watcher");
    let mut r = h.join_as(&resident, "watcher");
    let clerk = h.clerk("welfare.1", "welfare");
    let mut c = h.join_as(&clerk, "x");
    c.send(&ClientMessage::TakeDesk { counter: "d1".into() });
    c.pump();
    assert!(r.wait_until(SOON, |b| b.desks.get("d1").is_some_and(|d| d.open)));
    c.disconnect();
    drop(c);
    assert!(
        r.wait_until(Duration::from_secs(6), |b| b.desks.get("d1").is_some_and(|d| !d.open)),
        "the desk closes after the grace period"
    );
    let (_, v) = h.call("GET", "/api/v1/queues", None, None);
    let welfare = v.as_array().unwrap().iter().find(|d| d["id"] == "welfare").unwrap().clone();
    assert_eq!(welfare["open_desks"], 0, "{welfare}");
}

fn a_restart_keeps_the_queue(backend: Backend) {
    let h = Harness::start_on(Store::new(backend), OPEN);
    let tokens: Vec<String> = (0..3).map(|i| h.guest(&format!("q{i}"))).collect();
    for t in &tokens {
        assert_eq!(take(&h, t, "resident_registration").0, 201);
    }
    // A-001 is called to a desk when the server dies; desks do not survive a restart, so it goes
    // back to the front of the queue rather than waiting at a closed desk.
    let clerk = h.clerk("restart.clerk", "resident_registration");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/a1/take", Some(&clerk), None).0, 200);
    let (_, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    assert_eq!(v["called"]["label"], "A-001");
    let h = h.kill_and_restart(OPEN);
    let positions: Vec<Value> = tokens.iter().map(|t| mine(&h, t)[0]["position"].clone()).collect();
    assert_eq!(positions, [json!(1), json!(2), json!(3)]);
    let first_id = mine(&h, &tokens[0])[0]["id"].as_i64().unwrap();
    let (_, ev) = h.call("GET", &format!("/api/v1/staff/tickets/{first_id}/events"), Some(&clerk), None);
    let last = ev.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["detail"]["why"].as_str()),
        (Some("requeued"), Some("server restarted")),
        "{ev}"
    );
    // Reconnecting with the same session brings the ticket back into the world client.
    let mut bot = h.join_as(&tokens[1], "q1");
    assert!(bot.wait_until(SOON, |b| b.ticket("A-002").is_some_and(|t| t.position == Some(2))), "{:?}", bot.tickets);
    // Numbering continues.
    let (_, v) = take(&h, &h.guest("late"), "resident_registration");
    assert_eq!(v["label"], "A-004");
    // Notifications still flow after the restart: cancel the first, the others move up.
    let first = mine(&h, &tokens[0])[0]["id"].as_i64().unwrap();
    assert_eq!(h.call("POST", &format!("/api/v1/tickets/{first}/cancel"), Some(&tokens[0]), None).0, 200);
    assert!(bot.wait_until(SOON, |b| b.ticket("A-002").is_some_and(|t| t.position == Some(1))), "{:?}", bot.tickets);
}

fn two_clerks_calling_at_once_never_get_the_same_ticket(backend: Backend) {
    let h = Harness::start_on(Store::new(backend), OPEN);
    const N: usize = 40;
    for i in 0..N {
        assert_eq!(take(&h, &h.guest(&format!("w{i}")), "resident_registration").0, 201);
    }
    let clerks = [h.clerk("c.one", "resident_registration"), h.clerk("c.two", "resident_registration")];
    assert_eq!(h.call("POST", "/api/v1/staff/desks/a1/take", Some(&clerks[0]), None).0, 200);
    assert_eq!(h.call("POST", "/api/v1/staff/desks/a2/take", Some(&clerks[1]), None).0, 200);
    let base = h.base();
    // Both clerks start calling at the same moment.
    let start = std::sync::Arc::new(std::sync::Barrier::new(clerks.len()));
    let handles: Vec<_> = clerks
        .iter()
        .map(|token| {
            let (base, token, start) = (base.clone(), token.clone(), start.clone());
            std::thread::spawn(move || {
                let http = clerk_http::blocking_client();
                start.wait();
                let mut got = Vec::new();
                let mut empty = 0;
                while empty < 3 {
                    let v: Value = http(&base, &token);
                    match v["called"]["id"].as_i64() {
                        Some(id) => {
                            got.push(id);
                            // A moment at the desk before the next call, as a clerk has: SQLite
                            // serialises writers and its busy wait backs off, so a clerk calling
                            // back to back would take every ticket before the other got the lock.
                            std::thread::sleep(std::time::Duration::from_millis(10));
                        }
                        None => empty += 1,
                    }
                }
                got
            })
        })
        .collect();
    let results: Vec<Vec<i64>> = handles.into_iter().map(|h| h.join().expect("clerk thread")).collect();
    let all: Vec<i64> = results.iter().flatten().copied().collect();
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), N, "every ticket called once: {results:?}");
    assert_eq!(unique.len(), N, "no ticket called twice: {results:?}");
    assert!(results.iter().all(|r| !r.is_empty()), "both clerks called: {results:?}");
}

/// A tiny blocking HTTP helper for threads (the harness's client is single-threaded).
mod clerk_http {
    use serde_json::Value;
    pub fn blocking_client() -> impl Fn(&str, &str) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let client = ::reqwest::Client::new();
        move |base: &str, token: &str| {
            rt.block_on(async {
                let r = client
                    .post(format!("{base}/api/v1/staff/desk/call-next"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("call-next");
                assert_eq!(r.status().as_u16(), 200);
                r.json().await.expect("json")
            })
        }
    }
}

#[test]
fn outside_opening_hours_a_ticket_is_refused_with_the_next_opening() {
    // An office whose departments open only on the day after tomorrow (UTC), all day.
    let src = madoguchi_bots::server_process::assets_dir();
    let dir = madoguchi_bots::server_process::fresh_data_dir().join("assets");
    copy_dir(&src, &dir);
    let now_days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400;
    let weekday = ["thu", "fri", "sat", "sun", "mon", "tue", "wed"][((now_days + 2) % 7) as usize];
    let office = std::fs::read_to_string(dir.join("office.toml")).unwrap();
    let mut out = String::new();
    for line in office.lines() {
        if line.starts_with("utc_offset") {
            out.push_str("utc_offset = \"+00:00\"\n");
        } else if line.starts_with("hours") {
            out.push_str(&format!("hours = {{ days = [\"{weekday}\"], open = \"00:00\", close = \"24:00\" }}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(dir.join("office.toml"), out).unwrap();
    let dir_s = dir.display().to_string();
    let h = Harness::start(&["--assets", &dir_s, "--sessions-per-minute", "0"]);
    let r = h.guest("early");
    let (s, v) = take(&h, &r, "welfare");
    assert_eq!((s, v["code"].as_str()), (409, Some("queue_closed")), "{v}");
    let date = madoguchi_shared::hours::LocalTime::at((now_days as i64 + 2) * 86_400_000, 0).date();
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains(&date) && msg.contains("00:00"), "names the next opening {date}: {msg}");
    let (_, q) = h.call("GET", "/api/v1/queues", None, None);
    let w = q.as_array().unwrap().iter().find(|d| d["id"] == "welfare").unwrap().clone();
    assert_eq!(
        (w["open"].as_bool(), w["next_opening"].as_str()),
        (Some(false), Some(&*format!("{date}T00:00:00+00:00")))
    );
    assert!(mine(&h, &r).is_empty(), "nothing was taken");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A joined resident sends 10 000 cancels at once: a few are taken, the rest refused as rate
/// limited (each a strike, so the connection closes); another resident's ticket is not slowed
/// down, the server's memory does not grow, and no request is left pending. One client's
/// requests run in the order sent: a clerk's "take desk, call next, leave desk", sent three
/// times in one burst, never finds "call next" before its desk.
#[test]
fn a_flood_of_queue_requests_is_bounded_and_one_clients_requests_keep_their_order() {
    let h = Harness::start(OPEN);
    let other_token = h.guest("other");
    let mut other = h.join_as(&other_token, "other");
    walk_to_counter(&mut other, "c1");
    let flood_token = h.guest("flood");
    let mut flood = h.join_as(&flood_token, "flood");
    // Warm up and measure a quiet take first (at another counter, by HTTP: same queue service).
    let quiet = h.guest("quiet");
    let t0 = std::time::Instant::now();
    assert_eq!(take(&h, &quiet, "welfare").0, 201);
    let quiet_ms = t0.elapsed().as_millis();
    let rss_before = h.metric("process_resident_memory_bytes");

    for i in 0..10_000 {
        flood.send(&ClientMessage::CancelTicket { ticket: i });
    }
    flood.pump();
    let t0 = std::time::Instant::now();
    other.send(&ClientMessage::TakeTicket { counter: "c1".into() });
    let took = madoguchi_bots::pump_until(&mut [&mut other, &mut flood], SOON, |b| b[0].ticket("C-001").is_some());
    let flooded_ms = t0.elapsed().as_millis();
    assert!(took, "the other resident got no ticket: {:?}", other.errors);
    assert!(flooded_ms < 1000, "a ticket took {flooded_ms} ms during the flood ({quiet_ms} ms before it)");

    assert!(flood.wait_until(SOON, |b| !b.is_connected()), "the flooder is disconnected");
    let codes = |b: &madoguchi_bots::Bot, c: ErrorCode| b.errors.iter().filter(|(e, _)| *e == c).count();
    // The burst allowance ran (no such ticket to cancel), then refusals up to the strike limit,
    // and nothing after it.
    let limit = madoguchi_shared::limits::MAX_STRIKES as usize;
    assert_eq!(codes(&flood, ErrorCode::RateLimited), limit, "{:?}", flood.errors.last());
    assert_eq!(flood.refused.as_ref().map(|r| r.0), Some(ErrorCode::TooManyErrors));
    let grown = h.metric("process_resident_memory_bytes") - rss_before;
    eprintln!("{{\"quiet_take_ms\":{quiet_ms},\"flooded_take_ms\":{flooded_ms},\"rss_growth_bytes\":{grown}}}");
    assert!(grown < 16.0 * 1024.0 * 1024.0, "memory grew by {grown} bytes");
    let deadline = std::time::Instant::now() + SOON;
    while h.metric("madoguchi_queue_requests_pending") != 0.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(h.metric("madoguchi_queue_requests_pending"), 0.0, "every request taken was finished");
    let refused = h.metric("madoguchi_refused_messages_total{reason=\"rate_limited\"}");
    assert!(refused >= 19.0, "{refused}");

    // Ordered: three rounds of take desk → call next → leave desk in one burst (9 requests,
    // within the allowance). The first waiting ticket is called and put back each round.
    let waiting = h.guest("waiting");
    assert_eq!(take(&h, &waiting, "resident_registration").0, 201);
    let clerk = h.clerk("order", "resident_registration");
    let mut c = h.join_as(&clerk, "order");
    for _ in 0..3 {
        c.send(&ClientMessage::TakeDesk { counter: "a1".into() });
        c.send(&ClientMessage::CallNext);
        c.send(&ClientMessage::LeaveDesk);
    }
    c.pump();
    let id = mine(&h, &waiting)[0]["id"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + SOON;
    let mut actions = Vec::new();
    while std::time::Instant::now() < deadline {
        c.pump();
        let (_, ev) = h.call("GET", &format!("/api/v1/staff/tickets/{id}/events"), Some(&clerk), None);
        actions = ev.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
        if actions.len() >= 7 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(c.errors.is_empty(), "in order, nothing is refused: {:?}", c.errors);
    assert_eq!(actions, ["taken", "called", "requeued", "called", "requeued", "called", "requeued"]);
}
