//! The authorization matrix: every staff route of the OpenAPI document, called by a clerk, a
//! supervisor and an admin of the route's department and of another department, by a resident
//! and by nobody. A route of the document missing from the matrix fails the test, so a new staff
//! route must say who may use it.
//!
//! Each cell is a valid request made for that actor: before it, the actor's desk is taken and a
//! ticket waits, is called or has arrived as the route needs, and a status change gets its own
//! freshly submitted application; after it, the desk is left. An allowed cell must succeed (2xx);
//! a denied one gets 401, 403 (with a code) or 404 (another department's record is not found, as
//! far as a clerk can tell). A denied request changes nothing: the application's audit trail names
//! only allowed actors afterwards. The two routes only a consultation's own clerk may use succeed
//! for that clerk.
//!
//! And what admins do to accounts, on both backends: adding, changing, disabling (sessions end),
//! resetting passwords, the guards that keep an admin, and the append-only history.

use madoguchi_tests::{Backend, Harness, Store, moving_in_form, on_both_backends, start_consultation};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

const DEPT: &str = "resident_registration";
const OTHER: &str = "insurance_pension";

#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
enum Who {
    Nobody,
    Resident,
    Clerk,
    ClerkOther,
    Supervisor,
    SupervisorOther,
    Admin,
    AdminOther,
}
use Who::*;

const EVERYONE: [Who; 8] = [Nobody, Resident, Clerk, ClerkOther, Supervisor, SupervisorOther, Admin, AdminOther];
/// Works the counter, on their own department's things.
const COUNTER: &[Who] = &[Clerk, Supervisor];
/// Works the counter, on whatever is their own department (the route is scoped by it).
const ANY_COUNTER: &[Who] = &[Clerk, ClerkOther, Supervisor, SupervisorOther];
const SUPERVISORS: &[Who] = &[Supervisor, SupervisorOther];
const SUPERVISOR_OWN: &[Who] = &[Supervisor];
const ADMINS: &[Who] = &[Admin, AdminOther];
/// Only the consultation's own clerk.
const NOBODY_HERE: &[Who] = &[];

struct Row {
    method: &'static str,
    /// The OpenAPI path.
    route: &'static str,
    allowed: &'static [Who],
}

const fn row(method: &'static str, route: &'static str, allowed: &'static [Who]) -> Row {
    Row { method, route, allowed }
}

/// Who may call what. Each cell starts from the state it needs, so the order does not matter, but
/// for `end`, which ends the consultation the other consultation rows use.
const MATRIX: &[Row] = &[
    row("GET", "/api/v1/staff/applications", ANY_COUNTER),
    row("POST", "/api/v1/staff/applications", COUNTER),
    row("GET", "/api/v1/staff/applications/{reference}", COUNTER),
    row("PATCH", "/api/v1/staff/applications/{reference}", COUNTER),
    row("POST", "/api/v1/staff/applications/{reference}/status", COUNTER),
    row("GET", "/api/v1/staff/applications/{reference}/events", COUNTER),
    row("GET", "/api/v1/staff/desks", ANY_COUNTER),
    row("GET", "/api/v1/staff/queue", ANY_COUNTER),
    row("GET", "/api/v1/staff/overview", SUPERVISORS),
    row("GET", "/api/v1/staff/tickets/{id}/events", COUNTER),
    row("GET", "/api/v1/staff/consultations/{id}", SUPERVISOR_OWN),
    row("POST", "/api/v1/staff/consultations/{id}/applications", NOBODY_HERE),
    row("POST", "/api/v1/staff/consultations/{id}/invites", NOBODY_HERE),
    row("POST", "/api/v1/staff/consultations", ANY_COUNTER),
    row("POST", "/api/v1/staff/desks/{counter}/take", COUNTER),
    row("POST", "/api/v1/staff/desk/heartbeat", ANY_COUNTER),
    row("POST", "/api/v1/staff/desk/recall", ANY_COUNTER),
    row("POST", "/api/v1/staff/desk/no-show", ANY_COUNTER),
    row("POST", "/api/v1/staff/desk/done", ANY_COUNTER),
    row("POST", "/api/v1/staff/desk/call-next", ANY_COUNTER),
    row("POST", "/api/v1/staff/tickets/{id}/transfer", COUNTER),
    row("POST", "/api/v1/staff/desk/leave", ANY_COUNTER),
    row("GET", "/api/v1/staff/accounts", ADMINS),
    row("POST", "/api/v1/staff/accounts", ADMINS),
    row("GET", "/api/v1/staff/accounts/{login}", ADMINS),
    row("PATCH", "/api/v1/staff/accounts/{login}", ADMINS),
    row("POST", "/api/v1/staff/accounts/{login}/password", ADMINS),
    row("GET", "/api/v1/staff/accounts/{login}/events", ADMINS),
    row("POST", "/api/v1/staff/consultations/{id}/end", SUPERVISOR_OWN),
];

fn body_for(route: &str, method: &str, who: Who) -> Option<Value> {
    Some(match (method, route) {
        ("POST", "/api/v1/staff/applications") => json!({"procedure_id": "residence_certificate", "form_data": {}}),
        ("PATCH", "/api/v1/staff/applications/{reference}") => json!({"form_data": {}}),
        ("POST", "/api/v1/staff/applications/{reference}/status") => json!({"status": "in_review", "note": "確認中"}),
        ("POST", "/api/v1/staff/consultations/{id}/applications") => json!({"procedure_id": "residence_certificate"}),
        ("POST", "/api/v1/staff/consultations/{id}/invites") => json!({"kind": "language"}),
        ("POST", "/api/v1/staff/consultations/{id}/end") => json!({"note": "終了"}),
        ("POST", "/api/v1/staff/tickets/{id}/transfer") => json!({"department": OTHER}),
        ("POST", "/api/v1/staff/accounts") => json!({
            "login": format!("new.{}", format!("{who:?}").to_lowercase()),
            "department": DEPT,
            "password": "a-long-enough-password",
        }),
        ("PATCH", "/api/v1/staff/accounts/{login}") => json!({"display_name": "対象 職員"}),
        ("POST", "/api/v1/staff/accounts/{login}/password") => json!({"password": "another-long-password"}),
        _ => return None,
    })
}

#[test]
fn every_staff_route_lets_in_exactly_the_roles_and_departments_it_should() {
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1"]);
    // A running consultation of the department, with its own clerk (not one of the actors).
    let (own_clerk, _, consultation) = start_consultation(&h, "clerk.c", DEPT, "a1");
    // Who holds each ticket: the resident who must arrive when it is called.
    let mut holders: HashMap<i64, String> = HashMap::new();
    let waiting_ticket = |department: &str, holders: &mut HashMap<i64, String>| -> i64 {
        let resident = h.guest("住民 次郎");
        let (s, t) = h.call("POST", "/api/v1/tickets", Some(&resident), Some(&json!({ "department": department })));
        assert_eq!(s, 201, "{t}");
        let id = t["id"].as_i64().unwrap();
        holders.insert(id, resident);
        id
    };
    // A submitted application of a resident of the department.
    let submitted = |resident: &str| -> String {
        let (s, app) = h.call(
            "POST",
            "/api/v1/applications",
            Some(resident),
            Some(&json!({"procedure_id": "moving_in", "form_data": moving_in_form()})),
        );
        assert_eq!(s, 201, "{app}");
        let reference = app["reference"].as_str().unwrap().to_string();
        let (s, v) = h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(resident), None);
        assert_eq!(s, 200, "{v}");
        reference
    };
    let resident = h.guest("住民 太郎");
    let reference = submitted(&resident);
    let ticket = waiting_ticket(DEPT, &mut holders);
    h.staff("target.x", DEPT, "clerk");

    // The two routes that belong to the consultation's own clerk work for that clerk.
    let (s, v) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{consultation}/applications"),
        Some(&own_clerk),
        body_for("/api/v1/staff/consultations/{id}/applications", "POST", Clerk).as_ref(),
    );
    assert_eq!(s, 201, "the consultation's clerk opens an application: {v}");
    let (s, v) = h.call(
        "POST",
        &format!("/api/v1/staff/consultations/{consultation}/invites"),
        Some(&own_clerk),
        body_for("/api/v1/staff/consultations/{id}/invites", "POST", Clerk).as_ref(),
    );
    assert_eq!(s, 201, "the consultation's clerk invites an interpreter: {v}");

    let token = |who: Who| -> Option<String> {
        match who {
            Nobody => None,
            Resident => Some(resident.clone()),
            Clerk => Some(h.staff("m.clerk", DEPT, "clerk")),
            ClerkOther => Some(h.staff("m.clerk.other", OTHER, "clerk")),
            Supervisor => Some(h.staff("m.super", DEPT, "supervisor")),
            SupervisorOther => Some(h.staff("m.super.other", OTHER, "supervisor")),
            Admin => Some(h.staff("m.admin", DEPT, "admin")),
            AdminOther => Some(h.staff("m.admin.other", OTHER, "admin")),
        }
    };
    let tokens: Vec<(Who, Option<String>)> = EVERYONE.iter().map(|w| (*w, token(*w))).collect();

    // Every staff route of the document is in the matrix, and nothing else is.
    let (_, doc) = h.call("GET", "/api/v1/openapi.json", None, None);
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/staff/") || path == "/api/v1/staff/login" {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let in_matrix: BTreeSet<(String, String)> =
        MATRIX.iter().map(|r| (r.method.to_string(), r.route.to_string())).collect();
    assert_eq!(documented, in_matrix, "the matrix and the OpenAPI document list the same staff routes");

    let mut wrong = Vec::new();
    let mut table = Vec::new();
    for r in MATRIX {
        let mut cells = Vec::new();
        for (who, tok) in &tokens {
            let counter_worker = ANY_COUNTER.contains(who);
            let (department, free_counter) =
                if matches!(who, ClerkOther | SupervisorOther) { (OTHER, "b1") } else { (DEPT, "a2") };
            // What the cell needs before it: the actor at a desk of their own department, with a
            // ticket waiting, called, or called and arrived.
            let at_desk = r.route.starts_with("/api/v1/staff/desk/") || r.route == "/api/v1/staff/consultations";
            if at_desk && counter_worker {
                let take = format!("/api/v1/staff/desks/{free_counter}/take");
                let (s, v) = h.call("POST", &take, tok.as_deref(), None);
                assert_eq!(s, 200, "{who:?} takes {free_counter}: {v}");
                let route = r.route.rsplit('/').next().unwrap();
                if ["call-next", "recall", "no-show", "done", "consultations"].contains(&route) {
                    waiting_ticket(department, &mut holders);
                }
                if ["recall", "no-show", "done", "consultations"].contains(&route) {
                    let (s, v) = h.call("POST", "/api/v1/staff/desk/call-next", tok.as_deref(), None);
                    assert_eq!(s, 200, "{who:?} calls: {v}");
                    let called = v["called"]["id"].as_i64().expect("a ticket is called");
                    if route == "consultations" {
                        let arrived = format!("/api/v1/tickets/{called}/arrived");
                        let (s, v) = h.call("POST", &arrived, Some(holders[&called].as_str()), None);
                        assert_eq!(s, 200, "the resident arrives: {v}");
                    }
                }
            }
            // A status change and a transfer each get their own application or ticket.
            let reference = if r.route.ends_with("/status") { submitted(&resident) } else { reference.clone() };
            let ticket = if r.route.ends_with("/transfer") { waiting_ticket(DEPT, &mut holders) } else { ticket };
            let path = r
                .route
                .replace("{reference}", &reference)
                .replace("{id}", &if r.route.contains("consultations") { consultation } else { ticket }.to_string())
                .replace("{counter}", "a2")
                .replace("{login}", "target.x");

            let (status, v) = h.call(r.method, &path, tok.as_deref(), body_for(r.route, r.method, *who).as_ref());

            // After it: a consultation it started ends, and the desk is free for the next actor.
            if r.route == "/api/v1/staff/consultations" && status == 201 {
                let end = format!("/api/v1/staff/consultations/{}/end", v["id"]);
                let (s, e) = h.call("POST", &end, tok.as_deref(), Some(&json!({"note": "終了"})));
                assert_eq!(s, 200, "{who:?} ends the consultation it started: {e}");
            }
            if (at_desk || r.route.ends_with("/take")) && counter_worker {
                let _ = h.call("POST", "/api/v1/staff/desk/leave", tok.as_deref(), None);
            }

            let should = r.allowed.contains(who);
            cells.push(format!("{who:?}={status}"));
            let right = if should { (200..300).contains(&status) } else { matches!(status, 401 | 403 | 404) };
            if !right {
                wrong.push(format!("{} {} as {who:?}: {status} {v}", r.method, r.route));
            }
            if !should && status == 403 && v["code"].as_str().unwrap_or_default().is_empty() {
                wrong.push(format!("{} {} as {who:?}: a 403 without a code", r.method, r.route));
            }
        }
        table.push(format!("{} {}: {}", r.method, r.route, cells.join(" ")));
    }
    eprintln!("{}", table.join("\n"));
    assert!(wrong.is_empty(), "authorization differs from the matrix:\n{}", wrong.join("\n"));

    // Denied requests changed nothing: the application's events name only the resident and
    // the department's clerk and supervisor.
    let clerk = &tokens[2].1;
    let (_, events) = h.call("GET", &format!("/api/v1/staff/applications/{reference}/events"), clerk.as_deref(), None);
    let actors: BTreeSet<String> =
        events.as_array().unwrap().iter().map(|e| e["actor_id"].as_str().unwrap_or_default().to_string()).collect();
    for a in &actors {
        assert!(
            a.starts_with("r-") || a.len() > 20 || ["m.clerk", "m.super"].contains(&a.as_str()),
            "an event by {a}: {events}"
        );
    }
    // Scoped routes show another department nothing of this one.
    let other = tokens[3].1.as_deref();
    let (_, found) = h.call("GET", "/api/v1/staff/applications", other, None);
    assert!(!found.to_string().contains(&reference), "another department's search finds nothing of this one");
    let (_, queue) = h.call("GET", "/api/v1/staff/queue", other, None);
    assert!(queue.as_array().unwrap().iter().all(|t| t["department"] == OTHER), "{queue}");
    let (_, desks) = h.call("GET", "/api/v1/staff/desks", other, None);
    assert!(
        desks.as_array().unwrap().iter().all(|d| d["department"] == OTHER || d["ticket"].is_null()),
        "another department's desks show no tickets: {desks}"
    );
}

on_both_backends!(an_admin_changes_accounts_and_every_change_is_recorded);

fn an_admin_changes_accounts_and_every_change_is_recorded(backend: Backend) {
    let h = Harness::start_on(Store::new(backend), &["--sessions-per-minute", "0"]);
    let admin = h.staff("root.admin", DEPT, "admin");
    let clerk = h.staff("kana.clerk", DEPT, "clerk");
    let login =
        |l: &str, p: &str| h.call("POST", "/api/v1/staff/login", None, Some(&json!({"login": l, "password": p})));

    // Add: a bad login, a short password, an unknown department or role, a taken login.
    let add = |b: Value| h.call("POST", "/api/v1/staff/accounts", Some(&admin), Some(&b));
    let ok = json!({"login": "sato.s", "display_name": "佐藤", "department": DEPT, "roles": ["clerk"], "password": "first-password-123"});
    for (bad, why) in [
        (json!({"login": "Bad Login", "department": DEPT, "password": "first-password-123"}), "login"),
        (json!({"login": "sato.s", "department": DEPT, "password": "short"}), "password"),
        (json!({"login": "sato.s", "department": "nowhere", "password": "first-password-123"}), "department"),
        (json!({"login": "sato.s", "department": DEPT, "roles": ["king"], "password": "first-password-123"}), "role"),
    ] {
        let (s, v) = add(bad);
        assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{why}: {v}");
    }
    let (s, v) = add(ok.clone());
    assert_eq!(s, 201, "{v}");
    assert!(v.get("password_hash").is_none() && v.get("id").is_none(), "no secrets: {v}");
    assert_eq!(add(ok).0, 409, "a taken login");
    assert_eq!(login("sato.s", "first-password-123").0, 200);

    // Change department and roles; disable: the sessions end, logging in is refused.
    let (s, v) = h.call(
        "PATCH",
        "/api/v1/staff/accounts/kana.clerk",
        Some(&admin),
        Some(&json!({"department": OTHER, "roles": ["clerk", "supervisor"]})),
    );
    assert_eq!((s, v["department_id"].as_str()), (200, Some(OTHER)), "{v}");
    assert_eq!(h.call("GET", "/api/v1/staff/overview", Some(&clerk), None).0, 200, "now a supervisor");
    let (s, v) = h.call("PATCH", "/api/v1/staff/accounts/kana.clerk", Some(&admin), Some(&json!({"disabled": true})));
    assert_eq!((s, v["disabled"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(h.call("GET", "/api/v1/staff/queue", Some(&clerk), None).0, 401, "a disabled account's session ended");
    let (s, v) = login("kana.clerk", "kana.clerk-correct-horse-battery");
    assert_eq!((s, v["code"].as_str()), (403, Some("account_disabled")), "{v}");
    let (s, _) = h.call("PATCH", "/api/v1/staff/accounts/kana.clerk", Some(&admin), Some(&json!({"disabled": false})));
    assert_eq!(s, 200);

    // A password reset: the old one fails, the new one works, sessions end.
    let sato = login("sato.s", "first-password-123").1["session_token"].as_str().unwrap().to_string();
    let (s, _) = h.call(
        "POST",
        "/api/v1/staff/accounts/sato.s/password",
        Some(&admin),
        Some(&json!({"password": "second-password-456"})),
    );
    assert_eq!(s, 204);
    assert_eq!(h.call("GET", "/api/v1/staff/queue", Some(&sato), None).0, 401);
    assert_eq!(login("sato.s", "first-password-123").0, 401);
    assert_eq!(login("sato.s", "second-password-456").0, 200);

    // The office keeps an admin: not oneself, not the last one.
    let (s, v) = h.call("PATCH", "/api/v1/staff/accounts/root.admin", Some(&admin), Some(&json!({"disabled": true})));
    assert_eq!((s, v["code"].as_str()), (409, Some("lockout")), "{v}");
    let second = h.staff("second.admin", OTHER, "admin");
    let (s, v) =
        h.call("PATCH", "/api/v1/staff/accounts/root.admin", Some(&second), Some(&json!({"roles": ["clerk"]})));
    assert_eq!(s, 200, "another admin remains: {v}");
    let (s, v) =
        h.call("PATCH", "/api/v1/staff/accounts/second.admin", Some(&second), Some(&json!({"roles": ["clerk"]})));
    assert_eq!((s, v["code"].as_str()), (409, Some("lockout")), "{v}");
    assert_eq!(h.call("GET", "/api/v1/staff/accounts/nobody.here", Some(&second), None).0, 404);

    // Every change is in the account's history, naming who did it; the command line's too.
    let (_, events) = h.call("GET", "/api/v1/staff/accounts/kana.clerk/events", Some(&second), None);
    let seen: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["by"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("created".into(), "command-line".into()),
            ("changed".into(), "root.admin".into()),
            ("changed".into(), "root.admin".into()),
            ("changed".into(), "root.admin".into()),
        ],
        "{events}"
    );
    assert_eq!(events[1]["detail"]["department"]["to"], OTHER);
    let (_, events) = h.call("GET", "/api/v1/staff/accounts/sato.s/events", Some(&second), None);
    assert_eq!(events[0]["by"], "root.admin");
    assert_eq!(events[1]["action"], "password_reset");
    // The history cannot be rewritten in the database.
    assert!(h.store.exec("DELETE FROM staff_events").is_err());
    assert!(h.store.exec("UPDATE staff_events SET action = 'x'").is_err());
}
