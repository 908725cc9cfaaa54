//! One state per fact in a consultation, and what one participant cannot do to another:
//! - an application created in a consultation is linked to it where links live
//!   (`consultation_applications`), in the transaction that creates it;
//! - a resident's own edit, submission or withdrawal through the REST API reaches the running
//!   consultation at once (the clerk's screen is never stale);
//! - a second interpreter or supervisor is refused while one is there (nobody evicts another);
//! - a resident reloading the consultation page fast is refused passes beyond a limit, and holds
//!   one pass at a time (so they cannot push anyone else's out);
//! - a clerk reading a consultation through the API, and a staff participant joining it over
//!   signalling, is an audited read of its linked forms, naming who read them.

use madoguchi_bots::consult::MediaPeer;
use madoguchi_shared::consult::{LinkedApplication, Role};
use madoguchi_tests::{
    Harness, SOON, eventually, media_runtime, moving_in_form, signal_url, signal_url_of, start_consultation,
};
use serde_json::json;

const FLAGS: &[&str] = &["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1"];

fn status_seen(peer: &MediaPeer, reference: &str) -> Option<(String, Option<String>)> {
    let heard = peer.heard.lock().unwrap();
    heard.applications.iter().find(|a| a.reference == reference).map(|a: &LinkedApplication| {
        (a.status.clone(), a.fields.iter().find(|f| f.id == "new_address").map(|f| f.value.clone()))
    })
}

#[test]
fn a_residents_own_changes_reach_the_consultation_and_its_link_is_written_once() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.one", "resident_registration", "a1");
    let c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).expect("the clerk joins");
    let mut form = moving_in_form();
    let (s, app) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{id}/applications"),
        Some(&clerk),
        Some(&json!({"procedure_id": "moving_in", "form_data": form})),
    );
    assert_eq!(s, 201, "{app}");
    let reference = app["reference"].as_str().expect("reference").to_string();
    assert!(eventually(SOON, || status_seen(&c, &reference).is_some_and(|(s, _)| s == "draft")));

    // The link is in one place, written with the application.
    let links = h.store.rows(&format!(
        "SELECT l.how FROM consultation_applications l JOIN applications a ON a.id = l.application_id
         WHERE l.consultation_id = {id} AND a.reference = '{reference}'"
    ));
    assert_eq!(links, [["created"]]);
    let elsewhere = h.store.rows("SELECT CAST(COUNT(*) AS TEXT) FROM applications WHERE consultation_id IS NOT NULL");
    assert_eq!(elsewhere, [["0"]], "no second copy of the link on the application row");

    // The resident's own edit, submission and withdrawal, through the REST API: the clerk sees
    // each at once.
    form["new_address"] = json!("東京都まどぐち区9-9-9");
    let path = format!("/api/v1/applications/{reference}");
    let (s, v) = h.call("PATCH", &path, Some(&resident), Some(&json!({"form_data": form})));
    assert_eq!(s, 200, "{v}");
    assert!(
        eventually(SOON, || status_seen(&c, &reference).and_then(|(_, a)| a).as_deref()
            == Some("東京都まどぐち区9-9-9")),
        "the clerk sees the resident's edit: {:?}",
        status_seen(&c, &reference)
    );
    let (s, v) = h.call("POST", &format!("{path}/submit"), Some(&resident), None);
    assert_eq!(s, 200, "{v}");
    assert!(eventually(SOON, || status_seen(&c, &reference).is_some_and(|(s, _)| s == "submitted")));
    let (s, v) = h.call("POST", &format!("{path}/withdraw"), Some(&resident), None);
    assert_eq!(s, 200, "{v}");
    assert!(eventually(SOON, || status_seen(&c, &reference).is_some_and(|(s, _)| s == "withdrawn")));

    // A clerk reading the consultation through the API reads its forms: an audited read.
    let viewed = || {
        h.store.rows(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM application_events e JOIN applications a ON a.id = e.application_id
             WHERE a.reference = '{reference}' AND e.action = 'viewed'"
        ))[0][0]
            .clone()
    };
    let before = viewed();
    let (s, body) = h.call("GET", &format!("/api/v1/staff/consultations/{id}"), Some(&clerk), None);
    assert_eq!(s, 200, "{body}");
    assert!(body.to_string().contains("9-9-9"), "it shows the form");
    assert_eq!(viewed().parse::<i64>().unwrap(), before.parse::<i64>().unwrap() + 1, "and says who read it");

    // A supervisor joining over signalling is shown the forms: a read in their name, written
    // before they see it.
    let supervisor = h.staff("super.one", "resident_registration", "supervisor");
    let sup = rt.block_on(MediaPeer::join(&signal_url(&h, &supervisor, id), 0xD1)).expect("the supervisor joins");
    assert!(eventually(SOON, || status_seen(&sup, &reference).is_some()), "the supervisor sees the form");
    let readers = h.store.rows(&format!(
        "SELECT e.actor_id FROM application_events e JOIN applications a ON a.id = e.application_id
         WHERE a.reference = '{reference}' AND e.action = 'viewed' ORDER BY e.id"
    ));
    assert_eq!(readers.last().map(|r| r[0].as_str()), Some("super.one"), "{readers:?}");
}

#[test]
fn nobody_evicts_another_participant_and_passes_are_one_per_participant() {
    let h = Harness::start(FLAGS);
    let rt = media_runtime();
    let (clerk, resident, id) = start_consultation(&h, "clerk.two", "resident_registration", "a1");
    let _c = rt.block_on(MediaPeer::join(&signal_url(&h, &clerk, id), 0xC1)).expect("the clerk joins");

    // Two interpreters with two codes: the second is refused while the first is there.
    let invite = || {
        let (s, v) = h.call(
            "POST",
            &format!("/api/v1/staff/consultations/{id}/invites"),
            Some(&clerk),
            Some(&json!({"kind": "language"})),
        );
        assert_eq!(s, 201, "{v}");
        v["code"].as_str().unwrap().to_string()
    };
    let (first, second) = (invite(), invite());
    let by_code = |code: &str, name: &str| {
        h.call("POST", "/api/v1/consultations/join-by-code", None, Some(&json!({"code": code, "name": name})))
    };
    let (s, grant) = by_code(&first, "通訳 一");
    assert_eq!(s, 200, "{grant}");
    let i1 = rt.block_on(MediaPeer::join(&signal_url_of(&h, &grant), 0x1A)).expect("the first interpreter joins");
    let (s, v) = by_code(&second, "通訳 二");
    assert_eq!((s, v["code"].as_str()), (409, Some("role_taken")), "{v}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!i1.is_closed() && i1.heard.lock().unwrap().ended.is_none(), "the first stays");
    // The second code was not used up: once the first interpreter has left, it works.
    i1.send(madoguchi_shared::consult::ClientSignal::Hangup);
    assert!(eventually(SOON, || by_code(&second, "通訳 二").0 == 200), "the second code works later");

    // Two supervisors of the department: the same.
    let s1 = h.staff("sup.one", "resident_registration", "supervisor");
    let s2 = h.staff("sup.two", "resident_registration", "supervisor");
    let sv1 = rt.block_on(MediaPeer::join(&signal_url(&h, &s1, id), 0x5A)).expect("the first supervisor joins");
    let sv2 = rt.block_on(MediaPeer::join(&signal_url(&h, &s2, id), 0x5B));
    assert!(sv2.as_ref().is_err_and(|e| e.to_string().contains("role_taken")), "{:?}", sv2.err());
    assert!(!sv1.is_closed());
    // The first supervisor may come back on a new connection (their own place).
    let again = rt.block_on(MediaPeer::join(&signal_url(&h, &s1, id), 0x5A)).expect("the same supervisor again");
    assert!(eventually(SOON, || sv1.is_closed()), "their older connection is the one replaced");
    assert!(!again.is_closed());
    let present: Vec<Role> = again.heard.lock().unwrap().participants.iter().map(|p| p.role).collect();
    assert!(present.contains(&Role::Supervisor), "{present:?}");

    // The resident reloads the consultation page fast: passes beyond the limit are refused, and
    // each new pass replaces the last one (only the newest opens the socket).
    let cookie = format!("madoguchi_session={resident}");
    let started = std::time::Instant::now();
    let passes: Vec<(u16, String)> =
        (0..14).map(|_| h.get_with_headers("/text/consultation?lang=ja", &[("cookie", &cookie)])).collect();
    // 10 at once, then one every 3 s (20 a minute).
    let most = 10 + (started.elapsed().as_secs() / 3) as usize + 1;
    let ok: Vec<&String> = passes.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
    let refused = passes.iter().filter(|(s, _)| *s == 429).count();
    assert!((10..=most).contains(&ok.len()) && ok.len() + refused == 14, "{} served, {refused} refused", ok.len());
    let pass_of = |page: &str| {
        let signal = page.split(r#"data-signal=""#).nth(1).and_then(|r| r.split('"').next()).expect("a pass");
        format!("{}{}", h.base().replacen("http", "ws", 1), signal.replace("&amp;", "&"))
    };
    let older = rt.block_on(MediaPeer::join(&pass_of(ok[0]), 0x21));
    assert!(older.is_err_and(|e| e.to_string().contains("bad_ticket")), "an older pass was replaced");
    let newest = rt.block_on(MediaPeer::join(&pass_of(ok[ok.len() - 1]), 0x21)).expect("the newest pass works");
    assert!(!newest.is_closed());
}
