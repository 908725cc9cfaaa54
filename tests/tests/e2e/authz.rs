//! The authorization matrix: every staff route of the OpenAPI document, called by a clerk, a
//! supervisor and an admin of the route's department and of another department, by a resident
//! and by nobody. A route of the document missing from the matrix fails the test, so a new staff
//! route must say who may use it.
//!
//! "Allowed" means the request got past authorization (2xx, or a 400/404/409 about the request
//! or the desk's state: `no_ticket` at one's own desk); "denied" means 401, 403 or 404 (another
//! department's record is not found, as far as a clerk can tell). A denied request changes nothing: the application's
//! audit trail names only allowed actors afterwards.
//!
//! And what admins do to accounts, on both backends: adding, changing, disabling (sessions end),
//! resetting passwords, the guards that keep an admin, and the append-only history.

use madoguchi_tests::{Backend, Harness, Store, on_both_backends, start_consultation};
use serde_json::{Value, json};
use std::collections::BTreeSet;

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

/// Who may call what. Order matters a little: desk actions come after reads.
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
        // To a department that does not exist: refused after authorization, nothing moves.
        ("POST", "/api/v1/staff/tickets/{id}/transfer") => json!({"department": "no_such_department"}),
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
    let (_, _, consultation) = start_consultation(&h, "clerk.c", DEPT, "a1");
    // A waiting ticket and a submitted application of a resident of the department.
    let resident = h.guest("住民 太郎");
    let (s, t) = h.call("POST", "/api/v1/tickets", Some(&resident), Some(&json!({"department": DEPT})));
    assert_eq!(s, 201, "{t}");
    let ticket = t["id"].as_i64().unwrap();
    let (s, app) = h.call(
        "POST",
        "/api/v1/applications",
        Some(&resident),
        Some(&json!({"procedure_id": "residence_certificate", "form_data": {}})),
    );
    assert_eq!(s, 201, "{app}");
    let reference = app["reference"].as_str().unwrap().to_string();
    let _ = h.call(
        "POST",
        "/api/v1/applications/{reference}/submit".replace("{reference}", &reference).as_str(),
        Some(&resident),
        None,
    );
    h.staff("target.x", DEPT, "clerk");

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
        let path = r
            .route
            .replace("{reference}", &reference)
            .replace("{id}", &if r.route.contains("consultations") { consultation } else { ticket }.to_string())
            .replace("{counter}", "a2")
            .replace("{login}", "target.x");
        let mut cells = Vec::new();
        for (who, tok) in &tokens {
            let (status, v) = h.call(r.method, &path, tok.as_deref(), body_for(r.route, r.method, *who).as_ref());
            let desk_state = status == 404 && r.route.starts_with("/api/v1/staff/desk/") && v["code"] == "no_ticket";
            let allowed = (desk_state || !matches!(status, 401 | 403 | 404)) && status < 500;
            let should = r.allowed.contains(who);
            cells.push(format!("{who:?}={status}"));
            if allowed != should || status >= 500 {
                wrong.push(format!("{} {} as {who:?}: {status} {v}", r.method, r.route));
            }
            if !should && status == 403 {
                let code = v["code"].as_str().unwrap_or_default();
                if code.is_empty() {
                    wrong.push(format!("{} {} as {who:?}: a 403 without a code", r.method, r.route));
                }
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
