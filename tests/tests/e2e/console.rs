//! The staff console (`/staff`): its forms without a browser (CSRF, cross-site posts, the login
//! refusals); in headless Chromium a clerk's morning with the keyboard (`console.mjs`), the whole
//! journey with a resident (`journey.mjs`), and the first admin and staff accounts, where a clerk
//! is kept out of the admin pages (`admin.mjs`).

use madoguchi_tests::{BrowserScript, Harness, browser_report, screenshots};
use serde_json::json;

const FLAGS: &[&str] = &["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1"];

#[test]
fn a_clerk_works_the_desk_from_the_console_with_the_keyboard() {
    let h = Harness::start(FLAGS);
    h.clerk("clerk.console", "resident_registration");
    let resident = h.guest("鈴木 一郎");
    let mut page = BrowserScript::start(
        "console.mjs",
        &[
            ("MADOGUCHI_BASE", &h.base()),
            ("STAFF_LOGIN", "clerk.console"),
            ("STAFF_PASSWORD", "clerk.console-correct-horse-battery"),
            ("SCREENSHOTS", &screenshots("console")),
        ],
    );
    let mut last = page.next_line();
    let mut ticket = 0;
    if last == "desk-open" {
        let (s, t) =
            h.call("POST", "/api/v1/tickets", Some(&resident), Some(&json!({"department": "resident_registration"})));
        assert_eq!(s, 201, "{t}");
        ticket = t["id"].as_i64().unwrap();
        page.answer(&format!("ticket {}", t["label"].as_str().unwrap()));
        last = page.next_line();
    }
    if last == "called" {
        let (s, v) = h.call("POST", &format!("/api/v1/tickets/{ticket}/arrived"), Some(&resident), None);
        assert_eq!(s, 200, "{v}");
        page.answer("arrived");
        last = page.next_line();
    }
    let mut others = Vec::new();
    while last == "another" {
        let who = h.guest(&format!("住民 {}", others.len() + 2));
        let (s, t) =
            h.call("POST", "/api/v1/tickets", Some(&who), Some(&json!({"department": "resident_registration"})));
        assert_eq!(s, 201, "{t}");
        others.push((who, t["id"].as_i64().unwrap()));
        page.answer(&format!("ticket {}", t["label"].as_str().unwrap()));
        last = page.next_line();
    }
    if last == "transferred" {
        // The third resident's ticket is now insurance_pension's, with the clerk's note.
        let (who, _) = others.last().expect("a third ticket");
        let (_, mine) = h.call("GET", "/api/v1/tickets", Some(who), None);
        assert_eq!(mine[0]["department"], "insurance_pension", "{mine}");
        let (second, id) = &others[0];
        let (_, theirs) = h.call("GET", "/api/v1/tickets", Some(second), None);
        assert_eq!(theirs[0]["status"], "no_show", "{theirs} ({id})");
        page.answer("checked");
        last = page.next_line();
    }
    page.finish(last);
    // What the clerk did is in the ticket's events, as the clerk's.
    let clerk = h.clerk("clerk.reader", "resident_registration");
    let (_, events) = h.call("GET", &format!("/api/v1/staff/tickets/{ticket}/events"), Some(&clerk), None);
    let by_clerk: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "clerk.console")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(by_clerk.contains(&"called") && by_clerk.contains(&"served"), "{events}");
}

#[test]
fn console_forms_need_the_session_token_and_this_site() {
    let h = Harness::start(FLAGS);
    h.clerk("plain.clerk", "resident_registration");
    let login = |name: &str, headers: &[(&str, &str)]| {
        let password = format!("{name}-correct-horse-battery");
        h.post_form("/staff/login", &[("login", name), ("password", &password), ("lang", "en")], headers)
    };
    // A cross-site login post is refused; a wrong password gets the form again.
    let (s, _) = login("plain.clerk", &[("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")]);
    assert_eq!(s, 403);
    let (s, page) =
        h.post_form("/staff/login", &[("login", "plain.clerk"), ("password", "wrong-password"), ("lang", "en")], &[]);
    assert_eq!(s, 401);
    assert!(page.contains("The login name or password is wrong."), "{page}");
    // Without a session, a desk action goes back to the login page (the client follows the
    // redirect).
    let (s, page) = h.post_form("/staff/desk/call-next", &[("csrf", "x"), ("lang", "en")], &[]);
    assert_eq!(s, 200);
    assert!(page.contains(r#"action="/staff/login""#) && page.contains("Please log in again."), "{page}");
    let (s, _) = h.post_form("/staff/heartbeat", &[], &[]);
    assert_eq!(s, 401);
    let (s, _) = h.get("/staff/events");
    assert_eq!(s, 401);
    // The login page itself.
    let (s, page) = h.get("/staff?lang=en");
    assert_eq!(s, 200);
    assert!(page.contains(r#"action="/staff/login""#));
}

/// The whole journey in two browsers (`tests/browser/journey.mjs`), the resident in the text
/// mode. Then the records: the audit chain verifies, and the application's events say who did
/// what.
#[test]
fn the_whole_journey_from_ticket_to_reviewed_application() {
    journey("text", "journey-text-mode");
}

/// The same journey with the resident in the 3D office (the browser client's wasm build): they
/// walk to the counter for a ticket and back when called, the consultation opens over the game,
/// and after it the client's own panel says what happens next.
#[test]
fn the_whole_journey_from_the_3d_office() {
    let _one = crate::web_client::BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    journey("3d", "journey-3d");
}

fn journey(resident: &str, shots: &str) {
    let dist = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/dist"));
    let dist = dist.display().to_string();
    let mut flags = FLAGS.to_vec();
    if resident == "3d" {
        assert!(
            std::path::Path::new(&dist).join("madoguchi_bg.wasm").exists(),
            "the browser client is not built: run scripts/build-web (scripts/test does)"
        );
        flags.extend(["--web-dir", &dist]);
    }
    let h = Harness::start(&flags);
    h.clerk("clerk.journey", "resident_registration");
    let shots = screenshots(shots);
    let mut env = vec![
        ("MADOGUCHI_BASE", h.base()),
        ("STAFF_LOGIN", "clerk.journey".to_string()),
        ("STAFF_PASSWORD", "clerk.journey-correct-horse-battery".to_string()),
        ("SCREENSHOTS", shots),
        ("RESIDENT", resident.to_string()),
    ];
    if resident == "text" {
        // In this run a supervisor joins the consultation from the console too.
        h.staff("super.journey", "resident_registration", "supervisor");
        env.push(("SUPERVISOR_LOGIN", "super.journey".into()));
        env.push(("SUPERVISOR_PASSWORD", "super.journey-correct-horse-battery".into()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let report = browser_report("journey.mjs", &env);
    let reference = report["reference"].as_str().expect("the reference").to_string();
    let verify = h.store.cli(&["audit", "verify"], "");
    assert!(verify.status.success(), "audit verify: {}", String::from_utf8_lossy(&verify.stderr));
    let reader = h.clerk("clerk.auditor", "resident_registration");
    let (_, events) = h.call("GET", &format!("/api/v1/staff/applications/{reference}/events"), Some(&reader), None);
    let who: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !matches!(e["action"].as_str(), Some("viewed" | "viewed_events")))
        .map(|e| {
            let what = if e["action"] == "status" { e["detail"]["after"].as_str() } else { e["action"].as_str() };
            format!("{} by {}", what.unwrap_or("?"), e["actor_kind"].as_str().unwrap_or("?"))
        })
        .collect();
    assert_eq!(who.first().map(String::as_str), Some("created by staff"), "{events}");
    assert!(who.iter().any(|w| w == "edited by staff"), "the clerk's edits are the clerk's: {who:?}");
    let submitted = who.iter().position(|w| w == "submitted by resident").expect("submitted by the resident");
    let review = who.iter().position(|w| w == "in_review by staff").expect("in review");
    assert_eq!(who.last().map(String::as_str), Some("approved by staff"), "{who:?}");
    assert!(submitted < review, "{who:?}");
    assert!(who[..submitted].iter().all(|w| w.ends_with("by staff")), "{who:?}");
}

/// `tests/browser/admin.mjs`: the first admin from the setup link, then staff accounts.
#[test]
fn the_first_admin_comes_from_a_one_time_link_and_manages_staff_in_the_console() {
    let h = Harness::start(FLAGS);
    let setup = h.server.ready.setup.clone().expect("an office without an admin prints a setup link");
    // A wrong code is no link.
    assert_eq!(h.get("/staff/setup?code=0123456789abcdef0123456789abcdef").0, 404);
    browser_report("admin.mjs", &[("MADOGUCHI_BASE", &h.base()), ("SETUP_PATH", &setup)]);
    // The records agree: the first admin was made by the setup link, the clerk by the admin.
    let rows = h.store.rows(
        "SELECT s.login, e.action, e.actor_login FROM staff_events e JOIN staff s ON s.id = e.staff_id ORDER BY e.id",
    );
    assert_eq!(rows[0], vec!["chief", "created", "setup-link"], "{rows:?}");
    assert_eq!(rows[1], vec!["tanaka", "created", "chief"], "{rows:?}");
    assert_eq!(h.get(&setup).0, 404);
    // A restarted office with an admin prints no link.
    let h = h.kill_and_restart(FLAGS);
    assert!(h.server.ready.setup.is_none());
}

/// The clerk's queue says which residents are in the 3D office now and which are elsewhere
/// (text mode, a phone's page, the API), from what the world reports about once a second.
#[test]
fn the_queue_says_whether_a_resident_is_in_the_3d_office() {
    let h = Harness::start(FLAGS);
    let clerk = h.clerk("clerk.where", "resident_registration");
    let walker = h.guest("三次元 歩");
    let texter = h.guest("文字 読子");
    let mut bot = h.join_as(&walker, "三次元 歩");
    for t in [&walker, &texter] {
        let (s, v) = h.call("POST", "/api/v1/tickets", Some(t), Some(&json!({"department": "resident_registration"})));
        assert_eq!(s, 201, "{v}");
    }
    let place = |h: &Harness| -> Vec<(String, bool)> {
        let (_, q) = h.call("GET", "/api/v1/staff/queue", Some(&clerk), None);
        q.as_array()
            .unwrap()
            .iter()
            .map(|t| (t["resident_name"].as_str().unwrap().to_string(), t["in_3d_office"].as_bool().unwrap()))
            .collect()
    };
    let until = |want: Vec<(String, bool)>| {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let got = place(&h);
            if got == want || std::time::Instant::now() > end {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let both = |a: bool| vec![("三次元 歩".to_string(), a), ("文字 読子".to_string(), false)];
    assert_eq!(until(both(true)), both(true), "the avatar's owner is in the 3D office, the other is not");
    // The resident id never leaves the server in this list.
    let (_, q) = h.call("GET", "/api/v1/staff/queue", Some(&clerk), None);
    assert!(q[0].get("resident_id").is_none(), "{q}");
    bot.disconnect();
    assert_eq!(until(both(false)), both(false), "after leaving the world, no longer in it");
}
