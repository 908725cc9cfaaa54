//! Records end to end, on SQLite and on PostgreSQL: sessions, the application lifecycle, the
//! audit trail, the authorization matrix, and durability under SIGKILL.

use madoguchi_tests::{Backend, Harness, Store, moving_in_form as moving_in, on_both_backends};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

on_both_backends!(
    an_application_goes_through_its_lifecycle_with_an_audit_trail,
    illegal_transitions_and_invalid_forms_are_refused_clearly,
    authorization_is_a_matrix_of_refusals_that_never_reveal_existence,
    staff_login_locks_after_repeated_failures_and_every_attempt_is_recorded,
    a_strangers_guesses_lock_only_their_network_and_a_guessing_crowd_is_slowed,
    a_residents_writes_are_rate_limited_and_open_drafts_capped,
    a_tampered_audit_event_is_caught_by_audit_verify,
    acknowledged_submissions_survive_sigkill,
    sessions_resume_and_end,
    concurrent_staff_reads_each_leave_one_event,
);

fn start(backend: Backend) -> Harness {
    Harness::start_on(Store::new(backend), &[])
}

fn draft(h: &Harness, token: &str, form: Value) -> String {
    let (s, v) = h.call(
        "POST",
        "/api/v1/applications",
        Some(token),
        Some(&json!({"procedure_id": "moving_in", "form_data": form})),
    );
    assert_eq!(s, 201, "{v}");
    v["reference"].as_str().unwrap().to_string()
}

fn an_application_goes_through_its_lifecycle_with_an_audit_trail(backend: Backend) {
    let h = start(backend);
    let resident = h.guest("山田 花子");
    let clerk = h.clerk("tanaka", "resident_registration");
    let reference = draft(&h, &resident, json!({"full_name": "山田 花子"}));
    assert!(reference.starts_with('A'), "department prefix A: {reference}");
    let (s, v) = h.call(
        "PATCH",
        &format!("/api/v1/applications/{reference}"),
        Some(&resident),
        Some(&json!({"form_data": moving_in()})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(&resident), None);
    assert_eq!((s, v["status"].as_str()), (200, Some("submitted")), "{v}");
    // The clerk finds it among the department's submitted applications.
    let (s, list) = h.call("GET", "/api/v1/staff/applications?status=submitted", Some(&clerk), None);
    assert_eq!(s, 200, "{list}");
    assert!(list.as_array().unwrap().iter().any(|a| a["reference"] == reference.as_str()));
    let status = |to: &str, note: Option<&str>| {
        h.call(
            "POST",
            &format!("/api/v1/staff/applications/{reference}/status"),
            Some(&clerk),
            Some(&json!({"status": to, "note": note})),
        )
    };
    assert_eq!(status("in_review", None).0, 200);
    assert_eq!(status("needs_info", Some("転出証明書の写しを添付してください")).0, 200);
    // The resident is told what is missing.
    let (_, app) = h.call("GET", &format!("/api/v1/applications/{reference}"), Some(&resident), None);
    assert_eq!(
        (app["status"].as_str(), app["status_note"].as_str()),
        (Some("needs_info"), Some("転出証明書の写しを添付してください"))
    );
    // The resident corrects and resubmits.
    let mut form = moving_in();
    form["previous_address"] = json!("大阪府大阪市北区1-1-2");
    let (s, _) = h.call(
        "PATCH",
        &format!("/api/v1/applications/{reference}"),
        Some(&resident),
        Some(&json!({"form_data": form})),
    );
    assert_eq!(s, 200);
    let (s, _) = h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(&resident), None);
    assert_eq!(s, 200);
    assert_eq!(status("in_review", None).0, 200);
    let (s, v) = status("approved", None);
    assert_eq!((s, v["status"].as_str()), (200, Some("approved")));
    assert!(v.get("status_note").is_none(), "a decision without a note clears the old note: {v}");
    // The resident sees the outcome in their list.
    let (_, mine) = h.call("GET", "/api/v1/applications", Some(&resident), None);
    assert_eq!(mine[0]["status"], "approved");
    assert!(mine[0].get("resident_id").is_none(), "residents are not shown internal ids");
    // The trail: every change, in order, with who and when, and the clerk's reads.
    let (s, events) = h.call("GET", &format!("/api/v1/staff/applications/{reference}/events"), Some(&clerk), None);
    assert_eq!(s, 200, "{events}");
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["created", "edited", "status", "status", "status", "edited", "status", "status", "status", "viewed_events"]
    );
    let needs_info = &events[4];
    assert_eq!(needs_info["actor_kind"], "staff");
    assert_eq!(needs_info["actor_id"], "tanaka");
    assert_eq!(needs_info["detail"]["before"], "in_review");
    assert_eq!(needs_info["detail"]["after"], "needs_info");
    assert!(needs_info["at"].as_str().unwrap().ends_with('Z'), "UTC: {}", needs_info["at"]);
    assert_eq!(events[5]["detail"]["before"]["previous_address"], "大阪府大阪市北区1-1-1");
    assert_eq!(events[5]["detail"]["after"]["previous_address"], "大阪府大阪市北区1-1-2");
    // A staff read is itself recorded.
    let (s, _) = h.call("GET", &format!("/api/v1/staff/applications/{reference}"), Some(&clerk), None);
    assert_eq!(s, 200);
    let (_, events) = h.call("GET", &format!("/api/v1/staff/applications/{reference}/events"), Some(&clerk), None);
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[actions.len() - 3..], ["viewed_events", "viewed", "viewed_events"]);
    let out = h.store.cli(&["audit", "verify"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("intact: 1 applications, 12 events"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn illegal_transitions_and_invalid_forms_are_refused_clearly(backend: Backend) {
    let h = start(backend);
    let resident = h.guest("Aiko");
    let clerk = h.clerk("sato", "resident_registration");
    let reference = draft(&h, &resident, json!({"full_name": "Aiko"}));
    // Submitting an incomplete form: one error per field.
    let (s, v) = h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(&resident), None);
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["code"], "invalid_form");
    let fields: HashSet<&str> = v["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains("birth_date") && fields.contains("new_address") && !fields.contains("full_name"), "{v}");
    assert!(v["fields"].as_array().unwrap().iter().all(|f| f["code"] == "required"));
    // Bad values in a draft are refused too, each named.
    let bad = json!({"birth_date": "1990-02-30", "postal_code": "abc", "household_role": "king", "shoe_size": 27});
    let (s, v) = h.call(
        "PATCH",
        &format!("/api/v1/applications/{reference}"),
        Some(&resident),
        Some(&json!({"form_data": bad})),
    );
    assert_eq!(s, 422);
    let codes: Vec<(String, String)> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().into(), f["code"].as_str().unwrap().into()))
        .collect();
    for expected in [
        ("birth_date", "invalid_date"),
        ("postal_code", "pattern"),
        ("household_role", "invalid_choice"),
        ("shoe_size", "unknown_field"),
    ] {
        assert!(codes.contains(&(expected.0.into(), expected.1.into())), "{expected:?} not in {codes:?}");
    }
    // Nothing was lost: the draft still has its name.
    let (_, app) = h.call("GET", &format!("/api/v1/applications/{reference}"), Some(&resident), None);
    assert_eq!(app["form_data"]["full_name"], "Aiko");
    // Staff cannot approve a draft, nor skip review.
    let (s, v) = h.call(
        "POST",
        &format!("/api/v1/staff/applications/{reference}/status"),
        Some(&clerk),
        Some(&json!({"status": "approved"})),
    );
    assert_eq!((s, v["code"].as_str()), (409, Some("invalid_transition")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("draft") && v["message"].as_str().unwrap().contains("approved"));
    // An unknown status is a bad request, not a server error.
    let (s, v) = h.call(
        "POST",
        &format!("/api/v1/staff/applications/{reference}/status"),
        Some(&clerk),
        Some(&json!({"status": "teleported"})),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_request")), "{v}");
    // Submitted: the resident can no longer edit.
    h.call(
        "PATCH",
        &format!("/api/v1/applications/{reference}"),
        Some(&resident),
        Some(&json!({"form_data": moving_in()})),
    );
    assert_eq!(h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(&resident), None).0, 200);
    let (s, v) = h.call(
        "PATCH",
        &format!("/api/v1/applications/{reference}"),
        Some(&resident),
        Some(&json!({"form_data": moving_in()})),
    );
    assert_eq!((s, v["code"].as_str()), (409, Some("not_editable")));
    // Withdrawn is final.
    assert_eq!(h.call("POST", &format!("/api/v1/applications/{reference}/withdraw"), Some(&resident), None).0, 200);
    let (s, v) = h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(&resident), None);
    assert_eq!((s, v["code"].as_str()), (409, Some("invalid_transition")));
    // A procedure that needs a verified identity cannot be submitted by a guest.
    let (s, v) = h.call(
        "POST",
        "/api/v1/applications",
        Some(&resident),
        Some(&json!({"procedure_id": "child_allowance", "form_data": {"claimant_name": "Aiko", "child_name": "Ken", "child_birth_date": "2024-05-05", "children_in_care": 1, "bank_account": "まどぐち銀行 本店 1234567"}})),
    );
    assert_eq!(s, 201, "{v}");
    let r2 = v["reference"].as_str().unwrap();
    assert!(r2.starts_with('C'), "children & families prefix: {r2}");
    let (s, v) = h.call("POST", &format!("/api/v1/applications/{r2}/submit"), Some(&resident), None);
    assert_eq!((s, v["code"].as_str()), (403, Some("identity_required")), "{v}");
    // Malformed JSON gets a JSON error.
    let (s, v) = h.call("POST", "/api/v1/applications", Some(&resident), Some(&json!({"procedure": 1})));
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_request")), "{v}");
}

fn authorization_is_a_matrix_of_refusals_that_never_reveal_existence(backend: Backend) {
    let h = start(backend);
    let a = h.guest("Aiko");
    let b = h.guest("Bunta");
    let clerk_x = h.clerk("kato", "resident_registration");
    let clerk_y = h.clerk("ito", "taxation");
    let reference = draft(&h, &a, moving_in());
    let missing = "A2026-ZZZZ-ZZZZ";
    let not_found = |s: u16, v: &Value| s == 404 && v["code"] == "not_found" && v["message"] == "no such application";
    // Resident B against A's application: exactly the answer for one that does not exist.
    for (method, path) in [
        ("GET", format!("/api/v1/applications/{reference}")),
        ("PATCH", format!("/api/v1/applications/{reference}")),
        ("POST", format!("/api/v1/applications/{reference}/submit")),
        ("POST", format!("/api/v1/applications/{reference}/withdraw")),
    ] {
        let body = json!({"form_data": moving_in()});
        let (s, v) = h.call(method, &path, Some(&b), Some(&body));
        assert!(not_found(s, &v), "B {method} {path}: {s} {v}");
        let (s2, v2) = h.call(method, &path.replace(&reference, missing), Some(&b), Some(&body));
        assert_eq!((s, &v), (s2, &v2), "indistinguishable from a missing reference");
    }
    let (_, b_list) = h.call("GET", "/api/v1/applications", Some(&b), None);
    assert_eq!(b_list, json!([]), "B sees none of A's applications");
    // A guest against staff endpoints.
    for (method, path) in
        [("GET", "/api/v1/staff/applications".to_string()), ("GET", format!("/api/v1/staff/applications/{reference}"))]
    {
        let (s, v) = h.call(method, &path, Some(&a), None);
        assert_eq!((s, v["code"].as_str()), (403, Some("staff_only")), "{path}");
    }
    let (s, v) = h.call(
        "POST",
        &format!("/api/v1/staff/applications/{reference}/status"),
        Some(&a),
        Some(&json!({"status": "approved"})),
    );
    assert_eq!((s, v["code"].as_str()), (403, Some("staff_only")));
    // Staff on resident endpoints.
    let (s, v) = h.call("GET", "/api/v1/applications", Some(&clerk_x), None);
    assert_eq!((s, v["code"].as_str()), (403, Some("resident_only")));
    // The clerk of the application's department sees it; another department's clerk does not.
    assert_eq!(h.call("GET", &format!("/api/v1/staff/applications/{reference}"), Some(&clerk_x), None).0, 200);
    for (method, path, body) in [
        ("GET", format!("/api/v1/staff/applications/{reference}"), None),
        ("PATCH", format!("/api/v1/staff/applications/{reference}"), Some(json!({"form_data": moving_in()}))),
        ("POST", format!("/api/v1/staff/applications/{reference}/status"), Some(json!({"status": "in_review"}))),
        ("GET", format!("/api/v1/staff/applications/{reference}/events"), None),
    ] {
        let (s, v) = h.call(method, &path, Some(&clerk_y), body.as_ref());
        assert!(not_found(s, &v), "clerk Y {method} {path}: {s} {v}");
    }
    let (_, y_list) = h.call("GET", "/api/v1/staff/applications", Some(&clerk_y), None);
    assert_eq!(y_list, json!([]));
    let (s, v) =
        h.call("POST", "/api/v1/staff/applications", Some(&clerk_y), Some(&json!({"procedure_id": "moving_in"})));
    assert_eq!((s, v["code"].as_str()), (403, Some("wrong_department")));
    // No token, a forged token, an expired session, a logged-out session.
    for token in [None, Some("forged-AAAAAAAAAAAAAAAAAAAAAA")] {
        let (s, v) = h.call("GET", "/api/v1/applications", token, None);
        assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
        let (s, _) = h.call("GET", &format!("/api/v1/staff/applications/{reference}"), token, None);
        assert_eq!(s, 401);
    }
    h.store.exec("UPDATE sessions SET expires_at = 1 WHERE principal_kind = 'resident'").unwrap();
    let (s, _) = h.call("GET", "/api/v1/applications", Some(&a), None);
    assert_eq!(s, 401, "an expired session is refused");
    assert_eq!(h.call("POST", "/api/v1/sessions/logout", Some(&clerk_x), None).0, 204);
    let (s, _) = h.call("GET", "/api/v1/staff/applications", Some(&clerk_x), None);
    assert_eq!(s, 401, "a logged-out session is refused");
}

fn staff_login_locks_after_repeated_failures_and_every_attempt_is_recorded(backend: Backend) {
    // No per-address limit here: this test is about the per-login lockout.
    let h = Harness::start_on(Store::new(backend), &["--sessions-per-minute", "0"]);
    h.clerk("suzuki", "welfare");
    let login =
        |pw: &str| h.call("POST", "/api/v1/staff/login", None, Some(&json!({"login": "suzuki", "password": pw})));
    for _ in 0..5 {
        let (s, v) = login("wrong-password-123");
        assert_eq!((s, v["code"].as_str()), (401, Some("bad_credentials")));
    }
    let (s, v) = login("suzuki-correct-horse-battery");
    assert_eq!((s, v["code"].as_str()), (429, Some("locked")), "locked even with the right password: {v}");
    assert!(v["message"].as_str().unwrap().contains("15 minutes"), "{v}");
    // An unknown login gets the same answer as a wrong password.
    let (s, v) =
        h.call("POST", "/api/v1/staff/login", None, Some(&json!({"login": "nobody", "password": "whatever-123456"})));
    assert_eq!((s, v["code"].as_str()), (401, Some("bad_credentials")));
    // An unknown login locks like a known one, so a lockout does not reveal that a login exists.
    for _ in 0..4 {
        let (s, v) = h.call("POST", "/api/v1/staff/login", None, Some(&json!({"login": "nobody", "password": "x"})));
        assert_eq!((s, v["code"].as_str()), (401, Some("bad_credentials")));
    }
    let (s, v) = h.call("POST", "/api/v1/staff/login", None, Some(&json!({"login": "nobody", "password": "x"})));
    assert_eq!((s, v["code"].as_str()), (429, Some("locked")), "{v}");
    // Simultaneous guesses count against each other: of 8 at once against a fresh login, at most
    // 5 are checked and the rest are locked out.
    h.clerk("sato", "welfare");
    let answers: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                sc.spawn(|| {
                    h.call(
                        "POST",
                        "/api/v1/staff/login",
                        None,
                        Some(&json!({"login": "sato", "password": "guess-guess-guess"})),
                    )
                    .0
                })
            })
            .collect();
        hs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let checked = answers.iter().filter(|s| **s == 401).count();
    assert!(checked <= 5 && answers.iter().all(|s| *s == 401 || *s == 429), "{answers:?}");
    // Every attempt is a row: 1 success (the harness login) + 5 failures + 1 locked + 5 unknown
    // + 1 locked unknown, then the second clerk's login and 8 guesses.
    let recorded = h.store.exec("UPDATE login_attempts SET outcome = outcome").unwrap();
    assert_eq!(recorded, 13 + 1 + 8);
    assert_eq!(h.store.exec("UPDATE login_attempts SET outcome = outcome WHERE outcome = 'pending'").unwrap(), 0);
    // Passwords are stored as argon2id hashes, never in clear.
    assert_eq!(h.store.exec("UPDATE staff SET login = login WHERE password_hash LIKE '$argon2id$%'").unwrap(), 2);
}

fn a_strangers_guesses_lock_only_their_network_and_a_guessing_crowd_is_slowed(backend: Backend) {
    let h =
        Harness::start_on(Store::new(backend), &["--sessions-per-minute", "0", "--trusted-proxies", "127.0.0.0/8,::1"]);
    // The harness logs the clerk in once from loopback: the office's network, from now on.
    h.clerk("tanaka", "welfare");
    let right = json!({"login": "tanaka", "password": "tanaka-correct-horse-battery"});
    let wrong = json!({"login": "tanaka", "password": "a-wrong-guess-123"});
    let login_from =
        |client: &str, body: &serde_json::Value| h.call_from(client, "POST", "/api/v1/staff/login", Some(body));
    // A stranger locks the login from their own network only.
    for _ in 0..5 {
        assert_eq!(login_from("203.0.113.5", &wrong).0, 401);
    }
    let (s, v, _) = login_from("203.0.113.5", &right);
    assert_eq!((s, v["code"].as_str()), (429, Some("locked")), "{v}");
    let (s, v, _) = login_from("127.0.0.1", &right);
    assert_eq!(s, 200, "the clerk at the office is not locked out by a stranger: {v}");
    // From a new network (the clerk at home) it works too, while nobody else is guessing.
    let (s, v, _) = login_from("198.51.100.20", &right);
    assert_eq!(s, 200, "{v}");
    // A crowd of networks, one guess each: after 10 failures in all, strangers must wait.
    let mut throttled = None;
    for i in 1..=20 {
        let (s, v, retry) = login_from(&format!("192.0.2.{i}"), &wrong);
        if s == 429 {
            assert_eq!(v["code"].as_str(), Some("rate_limited"), "{v}");
            throttled = Some((i, retry));
            break;
        }
        assert_eq!(s, 401, "{v}");
    }
    let (at, retry) = throttled.expect("a crowd of guessing networks is slowed down");
    assert!(at <= 7, "slowed after 5 + {at} failures, not 10");
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "a Retry-After: {retry:?}");
    // Networks where the clerk has logged in before are never slowed.
    let (s, v, _) = login_from("127.0.0.1", &right);
    assert_eq!(s, 200, "{v}");
    let (s, v, _) = login_from("198.51.100.20", &right);
    assert_eq!(s, 200, "{v}");
    // Throttled attempts are recorded, and are not failures: the crowd's network is not locked.
    let throttled_rows =
        h.store.exec("UPDATE login_attempts SET outcome = outcome WHERE outcome = 'throttled'").unwrap();
    assert!(throttled_rows >= 1);
    assert_eq!(h.store.exec("UPDATE login_attempts SET outcome = outcome WHERE network = '' ").unwrap(), 0);
}

fn a_residents_writes_are_rate_limited_and_open_drafts_capped(backend: Backend) {
    let h = Harness::start_on(Store::new(backend), &["--resident-writes-per-minute", "25"]);
    let a = h.guest("Aiko");
    let b = h.guest("Bunta");
    // Twenty open drafts at most: the 21st is refused, and nothing is stored for it.
    let refs: Vec<String> = (0..20).map(|_| draft(&h, &a, moving_in())).collect();
    let create = json!({"procedure_id": "moving_in", "form_data": moving_in()});
    let (s, v) = h.call("POST", "/api/v1/applications", Some(&a), Some(&create));
    assert_eq!((s, v["code"].as_str()), (409, Some("too_many_drafts")), "{v}");
    assert_eq!(h.call("GET", "/api/v1/applications", Some(&a), None).1.as_array().unwrap().len(), 20);
    // Submitting one makes room.
    let (s, v) = h.call("POST", &format!("/api/v1/applications/{}/submit", refs[0]), Some(&a), None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(h.call("POST", "/api/v1/applications", Some(&a), Some(&create)).0, 201);
    // 23 writes so far; edits in a burst run into the per-minute limit, with a Retry-After.
    let mut edited = 0;
    let limited = loop {
        let (s, v) = h.call(
            "PATCH",
            &format!("/api/v1/applications/{}", refs[1]),
            Some(&a),
            Some(&json!({"form_data": moving_in()})),
        );
        match s {
            200 => edited += 1,
            429 => break v,
            _ => panic!("{s} {v}"),
        }
        assert!(edited < 10, "edits are not limited");
    };
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    assert_eq!(edited, 2, "25 writes a minute: 23 before, 2 edits");
    // Refused writes stored nothing, and another resident is not affected.
    let (_, events) = h.call("GET", &format!("/api/v1/applications/{}", refs[1]), Some(&a), None);
    assert_eq!(events["status"], "draft");
    draft(&h, &b, moving_in());
}

fn a_tampered_audit_event_is_caught_by_audit_verify(backend: Backend) {
    let h = start(backend);
    let resident = h.guest("Aiko");
    let reference = draft(&h, &resident, moving_in());
    h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(&resident), None);
    let other = draft(&h, &resident, moving_in());
    let out = h.store.cli(&["audit", "verify"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A row changed behind the chain's back (no event) is caught, and setting it back heals it.
    let set_status = |to: &str| {
        h.store.exec(&format!("UPDATE applications SET status = '{to}' WHERE reference = '{other}'")).unwrap()
    };
    assert_eq!(set_status("approved"), 1);
    let out = h.store.cli(&["audit", "verify"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&other) && err.contains("state"), "{err}");
    set_status("draft");
    assert!(h.store.cli(&["audit", "verify"], "").status.success());
    // Events are append-only: the database refuses an edit outright...
    let refused = h.store.exec("UPDATE application_events SET detail = '{}' WHERE seq = 2");
    assert!(refused.unwrap_err().contains("append-only"));
    assert!(h.store.exec("DELETE FROM application_events WHERE seq = 2").unwrap_err().contains("append-only"));
    // ...and someone who disables that protection is still caught.
    match backend {
        Backend::Sqlite => h.store.exec("DROP TRIGGER application_events_no_update").map(|_| ()),
        Backend::Postgres => {
            h.store.exec("ALTER TABLE application_events DISABLE TRIGGER application_events_no_change").map(|_| ())
        }
    }
    .unwrap();
    let n = h
        .store
        .exec(&format!(
            "UPDATE application_events SET detail = '{{\"before\":\"draft\",\"after\":\"approved\"}}' WHERE seq = 2 AND application_id = (SELECT id FROM applications WHERE reference = '{reference}')"
        ))
        .unwrap();
    assert_eq!(n, 1);
    let out = h.store.cli(&["audit", "verify"], "");
    assert!(!out.status.success(), "verify must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&reference) && err.contains("event 2"), "names the first broken link: {err}");
    assert!(!err.contains(&other), "the intact application is not blamed: {err}");
}

fn acknowledged_submissions_survive_sigkill(backend: Backend) {
    let h = start(backend);
    let base = h.base();
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tokens: Vec<String> = (0..4).map(|i| h.guest(&format!("resident {i}"))).collect();
    let workers: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (acked, stop, base) = (acknowledged.clone(), stop.clone(), base.clone());
            std::thread::spawn(move || {
                let http = blocking_http::Client::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Some((s, v)) = http.send(
                        "POST",
                        &format!("{base}/api/v1/applications"),
                        &token,
                        Some(json!({"procedure_id": "moving_in", "form_data": moving_in()})),
                    ) else {
                        break;
                    };
                    if s != 201 {
                        break;
                    }
                    let r = v["reference"].as_str().unwrap().to_string();
                    let Some((s, _)) =
                        http.send("POST", &format!("{base}/api/v1/applications/{r}/submit"), &token, None)
                    else {
                        break;
                    };
                    if s == 200 {
                        acked.lock().unwrap().push((token.clone(), r));
                    }
                }
            })
        })
        .collect();
    // Let submissions flow, then kill the server mid-stream.
    let t0 = Instant::now();
    while acknowledged.lock().unwrap().len() < 40 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let h = h.kill_and_restart(&[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() >= 40, "only {} submissions were acknowledged before the kill", acked.len());
    for (token, reference) in &acked {
        let (s, v) = h.call("GET", &format!("/api/v1/applications/{reference}"), Some(token), None);
        assert_eq!(s, 200, "acknowledged {reference} is gone after SIGKILL: {v}");
        assert_eq!(v["status"], "submitted", "{reference}");
    }
    let out = h.store.cli(&["audit", "verify"], "");
    assert!(out.status.success(), "audit chain after SIGKILL: {}", String::from_utf8_lossy(&out.stderr));
}

fn sessions_resume_and_end(backend: Backend) {
    let h = start(backend);
    let (s, v) =
        h.call("POST", "/api/v1/sessions/guest", None, Some(&json!({"display_name": "  Aiko\u{7}  ", "locale": "en"})));
    assert_eq!(s, 201);
    let token = v["session_token"].as_str().unwrap();
    assert!(token.len() >= 22, "128-bit token");
    let (s, me) = h.call("GET", "/api/v1/sessions/me", Some(token), None);
    assert_eq!(s, 200);
    assert_eq!(me["kind"], "resident");
    assert_eq!(me["resident"]["display_name"], "Aiko", "control characters stripped, trimmed");
    assert_eq!(me["resident"]["locale"], "en");
    // An expired session is purged when the server starts (and hourly after).
    let (_, other) = h.call("POST", "/api/v1/sessions/guest", None, Some(&json!({"display_name": "Bunta"})));
    let other_id = other["resident"]["id"].as_str().unwrap().to_string();
    h.store.exec(&format!("UPDATE sessions SET expires_at = 1 WHERE principal_id = '{other_id}'")).unwrap();
    // A restart does not end live sessions: they live in the database.
    let h = h.kill_and_restart(&[]);
    let (s, _) = h.call("GET", "/api/v1/sessions/me", Some(token), None);
    assert_eq!(s, 200);
    let left = h
        .store
        .exec(&format!("UPDATE sessions SET last_seen_at = last_seen_at WHERE principal_id = '{other_id}'"))
        .unwrap();
    assert_eq!(left, 0, "the expired session was purged at start");
    // Tokens are stored hashed.
    assert_eq!(
        h.store.exec(&format!("UPDATE sessions SET expires_at = expires_at WHERE token_hash = '{token}'")).unwrap(),
        0
    );
    let (s, v) = h.call("POST", "/api/v1/sessions/guest", None, Some(&json!({"display_name": "x".repeat(40)})));
    assert_eq!((s, v["code"].as_str()), (400, Some("name_invalid")));
    assert_eq!(h.call("POST", "/api/v1/sessions/logout", Some(token), None).0, 204);
    assert_eq!(h.call("GET", "/api/v1/sessions/me", Some(token), None).0, 401);
}

fn concurrent_staff_reads_each_leave_one_event(backend: Backend) {
    let h = start(backend);
    let resident = h.guest("Aiko");
    let clerk = h.clerk("mori", "resident_registration");
    let reference = draft(&h, &resident, moving_in());
    let base = h.base();
    let (threads, reads) = (8, 10);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (base, clerk, reference) = (base.clone(), clerk.clone(), reference.clone());
            std::thread::spawn(move || {
                let http = blocking_http::Client::new();
                (0..reads)
                    .map(|_| {
                        http.send("GET", &format!("{base}/api/v1/staff/applications/{reference}"), &clerk, None)
                            .map(|r| r.0)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for w in workers {
        let statuses = w.join().unwrap();
        assert!(statuses.iter().all(|s| *s == Some(200)), "every concurrent read succeeds: {statuses:?}");
    }
    let (_, events) = h.call("GET", &format!("/api/v1/staff/applications/{reference}/events"), Some(&clerk), None);
    let viewed = events.as_array().unwrap().iter().filter(|e| e["action"] == "viewed").count();
    assert_eq!(viewed, threads * reads, "one audit event per read");
    let out = h.store.cli(&["audit", "verify"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_openapi_document_is_generated_from_the_code() {
    let h = Harness::start(&[]);
    let (s, doc) = h.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/sessions/guest",
        "/api/v1/applications",
        "/api/v1/applications/{reference}/submit",
        "/api/v1/staff/applications/{reference}/status",
        "/api/v1/staff/login",
        "/api/v1/world/connect-token",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    for schema in ["ApplicationView", "ErrorBody", "Status", "FieldError", "Procedure"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "schema {schema} missing");
    }
    let (_, procs) = h.call("GET", "/api/v1/procedures", None, None);
    assert_eq!(procs.as_array().unwrap().len(), 6);
}

/// A small blocking HTTP client for worker threads.
mod blocking_http {
    use serde_json::Value;

    pub struct Client {
        rt: tokio::runtime::Runtime,
        client: reqwest::Client,
    }

    impl Client {
        pub fn new() -> Client {
            Client {
                rt: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
                client: reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap(),
            }
        }

        /// None when the server is gone (connection refused or reset).
        pub fn send(&self, method: &str, url: &str, token: &str, body: Option<Value>) -> Option<(u16, Value)> {
            self.rt.block_on(async {
                let mut r =
                    self.client.request(reqwest::Method::from_bytes(method.as_bytes()).ok()?, url).bearer_auth(token);
                if let Some(b) = body {
                    r = r.json(&b);
                }
                let resp = r.send().await.ok()?;
                let s = resp.status().as_u16();
                let v = resp.json().await.unwrap_or(Value::Null);
                Some((s, v))
            })
        }
    }
}

#[test]
fn guest_sessions_and_staff_logins_are_rate_limited_per_address() {
    let h = Harness::start(&["--sessions-per-minute", "3"]);
    for _ in 0..3 {
        h.guest("Aiko");
    }
    let (s, v) = h.call("POST", "/api/v1/sessions/guest", None, Some(&json!({"display_name": "Flood"})));
    assert_eq!((s, v["code"].as_str()), (429, Some("rate_limited")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("try again in"), "{v}");
    // Staff logins from one address: at most 3 a minute here too (the limit is min(10, per-minute)).
    let login =
        || h.call("POST", "/api/v1/staff/login", None, Some(&json!({"login": "nobody", "password": "x".repeat(16)})));
    let codes: Vec<u16> = (0..12).map(|_| login().0).collect();
    assert!(codes.contains(&429), "logins are throttled per address: {codes:?}");
}
