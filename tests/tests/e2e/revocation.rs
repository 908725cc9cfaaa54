//! A live connection belongs to an account and a session: when an admin disables a staff
//! account, changes its roles or department, or resets its password, and when its holder logs
//! out, every live connection of that account ends at once, each told why — the consultation's
//! signalling and media, the console's event stream (`/staff/events`), the world connection —
//! and its desk closes.

use madoguchi_bots::consult::MediaPeer;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::consult::Role;
use madoguchi_tests::{Harness, SOON, eventually, media_runtime, signal_url, start_consultation};
use serde_json::json;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FLAGS: &[&str] = &["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1"];

/// The console's event stream for a staff session, read on a thread of its own: `started`
/// hears once the first event came, and the thread returns everything the stream carried once
/// the server ends it (or after 30 s, when it never does).
fn staff_events(base: String, token: String, started: mpsc::Sender<()>) -> std::thread::JoinHandle<(String, bool)> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let mut r = reqwest::Client::new()
                .get(format!("{base}/staff/events?lang=en"))
                .header("cookie", format!("madoguchi_staff={token}"))
                .send()
                .await
                .expect("event stream");
            assert_eq!(r.status().as_u16(), 200);
            let mut text = String::new();
            let end = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                match tokio::time::timeout_at(end, r.chunk()).await {
                    Ok(Ok(Some(bytes))) => {
                        if text.is_empty() {
                            let _ = started.send(());
                        }
                        text.push_str(&String::from_utf8_lossy(&bytes));
                    }
                    Ok(_) => return (text, true),
                    Err(_) => return (text, false),
                }
            }
        })
    })
}

/// How an account's live connections end in one case.
struct Case {
    login: &'static str,
    /// What ends them: a request as the admin (or, for logout, as the account itself).
    action: fn(&Harness, &str, &str, &str),
    /// What the connections are told.
    code: &'static str,
    /// Whether the session itself is gone (a change of rights keeps it).
    session_gone: bool,
}

fn disable(h: &Harness, admin: &str, login: &str, _own: &str) {
    let (s, v) =
        h.call("PATCH", &format!("/api/v1/staff/accounts/{login}"), Some(admin), Some(&json!({"disabled": true})));
    assert_eq!(s, 200, "{v}");
}

fn demote(h: &Harness, admin: &str, login: &str, _own: &str) {
    let (s, v) =
        h.call("PATCH", &format!("/api/v1/staff/accounts/{login}"), Some(admin), Some(&json!({"roles": ["clerk"]})));
    assert_eq!(s, 200, "{v}");
}

fn move_department(h: &Harness, admin: &str, login: &str, _own: &str) {
    let (s, v) = h.call(
        "PATCH",
        &format!("/api/v1/staff/accounts/{login}"),
        Some(admin),
        Some(&json!({"department": "taxation"})),
    );
    assert_eq!(s, 200, "{v}");
}

fn reset_password(h: &Harness, admin: &str, login: &str, _own: &str) {
    let body = json!({"password": "a-brand-new-password-1"});
    let (s, v) = h.call("POST", &format!("/api/v1/staff/accounts/{login}/password"), Some(admin), Some(&body));
    assert_eq!(s, 204, "{v}");
}

fn logout(h: &Harness, _admin: &str, _login: &str, own: &str) {
    let (s, v) = h.call("POST", "/api/v1/sessions/logout", Some(own), None);
    assert_eq!(s, 204, "{v}");
}

#[test]
fn disabling_moving_demoting_resetting_or_logging_out_ends_every_live_connection_of_the_account() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let admin = h.staff("admin.r", "resident_registration", "admin");
    let (clerk, resident, id) = start_consultation(&h, "clerk.r", "resident_registration", "a1");
    // The resident is in the consultation too (signalling only), and sees who is present.
    let r = rt.block_on(MediaPeer::join(&signal_url(&h, &resident, id), 1)).expect("the resident joins");
    let cases = [
        Case { login: "sup.disabled", action: disable, code: "session_ended", session_gone: true },
        Case { login: "sup.demoted", action: demote, code: "rights_changed", session_gone: false },
        Case { login: "sup.moved", action: move_department, code: "rights_changed", session_gone: false },
        Case { login: "sup.reset", action: reset_password, code: "session_ended", session_gone: true },
        Case { login: "sup.logout", action: logout, code: "session_ended", session_gone: true },
    ];
    for (n, case) in cases.iter().enumerate() {
        let who = case.login;
        let token = h.staff(who, "resident_registration", "supervisor");
        // The desk.
        let (s, v) = h.call("POST", "/api/v1/staff/desks/a2/take", Some(&token), None);
        assert_eq!(s, 200, "{who}: {v}");
        // The world.
        let mut bot = h.join_as(&token, who);
        // The consultation: signalling and media.
        let legs = h.metric("madoguchi_media_legs");
        let mut sup = rt.block_on(MediaPeer::join(&signal_url(&h, &token, id), 10 + n as u64)).expect("joins");
        assert!(rt.block_on(sup.connected(Duration::from_secs(10))), "{who}: media connects");
        assert!(
            eventually(SOON, || r.heard.lock().unwrap().participants.iter().any(|p| p.role == Role::Supervisor)),
            "{who}: the resident sees the supervisor"
        );
        assert_eq!(h.metric("madoguchi_media_legs"), legs + 1.0, "{who}: their media leg is open");
        // The console's live updates.
        let (started_tx, started) = mpsc::channel();
        let events = staff_events(h.base(), token.clone(), started_tx);
        started.recv_timeout(Duration::from_secs(10)).expect("the event stream starts");

        let at = Instant::now();
        (case.action)(&h, &admin, who, &token);

        // Signalling: told why, then ended, then closed; the others see them gone.
        assert!(
            eventually(SOON, || sup.heard.lock().unwrap().ended.as_deref() == Some(case.code)),
            "{who}: signalling ends with {}: {:?}",
            case.code,
            sup.heard.lock().unwrap()
        );
        let errors = sup.heard.lock().unwrap().errors.clone();
        assert!(errors.iter().any(|(c, m)| c == case.code && !m.is_empty()), "{who}: told why: {errors:?}");
        assert!(eventually(SOON, || sup.is_closed()), "{who}: the signalling socket closes");
        assert!(
            eventually(SOON, || !r.heard.lock().unwrap().participants.iter().any(|p| p.role == Role::Supervisor)),
            "{who}: the resident sees the supervisor gone"
        );
        // Media: their leg is closed.
        assert!(eventually(SOON, || h.metric("madoguchi_media_legs") == legs), "{who}: the media leg closes");
        // The event stream: an `ended` event with the reason, then the end of the stream.
        let (text, ended) = events.join().expect("events thread");
        assert!(ended, "{who}: the event stream ends (it carried {text:?})");
        assert!(text.contains("event: ended"), "{who}: the stream says why: {text:?}");
        // The world: told, then disconnected.
        assert!(
            bot.wait_until(SOON, |b| b.refused.as_ref().is_some_and(|(c, _)| *c == ErrorCode::SessionEnded)),
            "{who}: the world says so: {:?}",
            bot.refused
        );
        assert!(bot.wait_until(SOON, |b| !b.is_connected()), "{who}: and disconnects");
        eprintln!("{who}: every live connection ended {} ms after the change", at.elapsed().as_millis());
        // The desk is closed.
        let a2_open = || {
            let (s, desks) = h.call("GET", "/api/v1/staff/desks", Some(&clerk), None);
            assert_eq!(s, 200, "{desks}");
            let a2 = desks.as_array().expect("desks").iter().find(|d| d["counter"] == "a2").cloned();
            a2.expect("counter a2 is listed")["open"] == true
        };
        assert!(eventually(SOON, || !a2_open()), "{who}: the desk closed");
        // The session: gone, or (a change of rights) still there with the new rights.
        let (s, _) = h.call("GET", "/api/v1/sessions/me", Some(&token), None);
        assert_eq!(s == 401, case.session_gone, "{who}: /sessions/me answered {s}");
    }
    // The resident and the clerk carry on.
    assert!(!r.is_closed());
    r.send(madoguchi_shared::consult::ClientSignal::Chat { text: "まだいます".into() });
    assert!(eventually(SOON, || r.heard.lock().unwrap().chat.iter().any(|l| l.text == "まだいます")));
}
