//! The office built in the test's own process ([`Office::start`]): its HTTP routes called
//! through `tower::ServiceExt::oneshot` on the real router and services, on a real SQLite file
//! and a real PostgreSQL database (each test runs on both), nothing mocked. End-to-end tests
//! (`tests/`) keep what needs real sockets, browsers and the binary.

use super::config::Cli;
use super::{Office, WorldAddress};
use crate::events::OfficeEvent;
use crate::identity::{sessions, staff};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Where a test's office keeps its records.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh office on `backend`: its own data directory (and, on PostgreSQL, its own database on
/// the server `MADOGUCHI_TEST_POSTGRES_URL` names, which `scripts/test` starts).
async fn office(backend: Backend, extra: &[&str]) -> (Office, Cleanup) {
    let dir = std::env::temp_dir().join(format!("madoguchi-inproc-{:016x}", rand::random::<u64>()));
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets");
    let mut args = vec!["madoguchi-server".to_string(), "--assets".into(), assets.into()];
    let mut pg = None;
    args.extend(["--data-dir".into(), dir.display().to_string()]);
    if let Backend::Postgres = backend {
        let admin = std::env::var("MADOGUCHI_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://madoguchi:madoguchi@127.0.0.1:5432/postgres".into());
        let name = format!("madoguchi_inproc_{:016x}", rand::random::<u64>());
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL does not answer at {admin} (run scripts/test): {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.expect("a database");
        pool.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
        args.extend(["--database-url".into(), format!("{base}/{name}")]);
        pg = Some((admin, name));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(&args).expect("the flags");
    let addr = WorldAddress { public_addr: "127.0.0.1:5000".parse().unwrap(), private_key: [7; 32] };
    let office = Office::start(&cli.serve, &cli.db, &addr).await.expect("the office starts");
    (office, Cleanup { dir, pg })
}

/// What a test's office leaves behind: its data directory, and its PostgreSQL database (the
/// admin URL and the name). Removed by [`Cleanup::run`] at the end of a test that passed; a
/// failed test's are kept to look at.
struct Cleanup {
    dir: std::path::PathBuf,
    pg: Option<(String, String)>,
}

impl Cleanup {
    async fn run(self, office: Office) {
        office.state.db.pool.close().await;
        drop(office);
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg {
            let pool = sqlx::AnyPool::connect(&admin).await.expect("the PostgreSQL server");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&pool)
                .await
                .expect("the test database dropped");
            pool.close().await;
        }
    }
}

/// One request through the office's router: its status and JSON body (`null` if none).
async fn call(
    office: &Office,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = office.router().oneshot(req).await.expect("an answer");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.expect("the body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A clerk of `department`, signed in: their session token.
async fn clerk(office: &Office, login: &str, department: &str) -> String {
    let db = &office.state.db;
    let roles = ["clerk".to_string()];
    let account = staff::add(db, staff::By::CommandLine, login, "", department, &roles, "a-long-enough-password")
        .await
        .expect("a clerk");
    sessions::create_staff(db, account.id).await.expect("a session")
}

/// A resident takes a ticket, the clerk takes a desk and calls it, the resident arrives and the
/// clerk finishes: each step through the router, each answer as the API documents it, and the
/// office's events heard by a subscriber as they happen.
async fn a_ticket_goes_through_the_counter(backend: Backend) {
    let (office, cleanup) = office(backend, &["--always-open"]).await;
    let mut events = office.state.events.subscribe();
    let (s, guest) =
        call(&office, "POST", "/api/v1/sessions/guest", None, Some(json!({"display_name": "住民", "locale": "ja"})))
            .await;
    assert_eq!(s, StatusCode::CREATED, "{guest}");
    let resident = guest["session_token"].as_str().unwrap().to_string();
    let take = json!({"department": "resident_registration"});
    let (s, ticket) = call(&office, "POST", "/api/v1/tickets", Some(&resident), Some(take.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{ticket}");
    let id = ticket["id"].as_i64().unwrap();
    assert_eq!(ticket["position"], 1, "{ticket}");
    // One active ticket per department: a second take is refused, and nothing changes.
    let (s, again) = call(&office, "POST", "/api/v1/tickets", Some(&resident), Some(take)).await;
    assert_eq!((s, again["code"].as_str()), (StatusCode::CONFLICT, Some("ticket_exists")), "{again}");

    let clerk = clerk(&office, "inproc.clerk", "resident_registration").await;
    let (s, v) = call(&office, "POST", "/api/v1/staff/desks/a1/take", Some(&clerk), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = call(&office, "POST", "/api/v1/staff/desk/call-next", Some(&clerk), None).await;
    assert_eq!((s, v["called"]["id"].as_i64()), (StatusCode::OK, Some(id)), "{v}");
    let (s, v) = call(&office, "POST", &format!("/api/v1/tickets/{id}/arrived"), Some(&resident), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = call(&office, "POST", "/api/v1/staff/desk/done", Some(&clerk), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, mine) = call(&office, "GET", "/api/v1/tickets", Some(&resident), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine[0]["status"], "served", "{mine}");
    let (s, v) = call(&office, "POST", "/api/v1/staff/desk/leave", Some(&clerk), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // The queue published each change of the department's tickets, ending with this one served,
    // and the desk's opening (held by the clerk) and closing.
    let (mut statuses, mut desks) = (Vec::new(), Vec::new());
    while let Ok(e) = events.try_recv() {
        match &*e {
            OfficeEvent::Tickets { department, tickets } => {
                assert_eq!(department, "resident_registration");
                statuses.extend(tickets.iter().filter(|(_, t)| t.id == id).map(|(_, t)| t.status.as_str().to_string()));
            }
            OfficeEvent::Desk { department, sign, staff_id } => {
                assert_eq!((department.as_str(), sign.counter.as_str()), ("resident_registration", "a1"));
                desks.push((sign.open, staff_id.is_some()));
            }
            _ => {}
        }
    }
    assert_eq!(statuses.first().map(String::as_str), Some("waiting"), "{statuses:?}");
    assert_eq!(statuses.last().map(String::as_str), Some("served"), "{statuses:?}");
    assert_eq!(desks, [(true, true), (false, false)], "the desk opened for the clerk, then closed");
    cleanup.run(office).await;
}

/// Runs each named test on SQLite and on PostgreSQL: `name::on_sqlite`, `name::on_postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name(Backend::Postgres).await;
            }
        }
    )*};
}

on_both_backends!(a_ticket_goes_through_the_counter, an_application_is_its_residents_and_its_departments);

/// A resident's application, from the draft to the clerk's question: each step through the
/// router. Nobody else reads it, nor learns that it exists — another resident and a clerk of
/// another department get 404 —, a clerk's list shows no form data, a move the rules forbid is 409, every change is an
/// audit event in one chain, and every change (the resident's own edits too) is an office event.
async fn an_application_is_its_residents_and_its_departments(backend: Backend) {
    let (office, cleanup) = office(backend, &[]).await;
    let mut events = office.state.events.subscribe();
    let guest = |name: &'static str| {
        let office = &office;
        async move {
            let body = json!({"display_name": name, "locale": "ja"});
            let (s, v) = call(office, "POST", "/api/v1/sessions/guest", None, Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["session_token"].as_str().unwrap().to_string()
        }
    };
    let (alice, bob) = (guest("住民A").await, guest("住民B").await);
    let mut form = json!({"full_name": "山田花子", "address": "まどぐち区1-1", "copies": 1, "scope": "self",
        "purpose": "年金"});
    let new = json!({"procedure_id": "residence_certificate", "form_data": form});
    let (s, app) = call(&office, "POST", "/api/v1/applications", Some(&alice), Some(new)).await;
    assert_eq!((s, app["status"].as_str()), (StatusCode::CREATED, Some("draft")), "{app}");
    let reference = app["reference"].as_str().unwrap().to_string();
    let mine = format!("/api/v1/applications/{reference}");
    form["copies"] = 2.into();
    let (s, v) = call(&office, "PATCH", &mine, Some(&alice), Some(json!({"form_data": form}))).await;
    assert_eq!((s, v["form_data"]["copies"].as_i64()), (StatusCode::OK, Some(2)), "{v}");
    let (s, v) = call(&office, "POST", &format!("{mine}/submit"), Some(&alice), None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("submitted")), "{v}");

    // Another resident neither reads it nor sees it listed.
    let (s, v) = call(&office, "GET", &mine, Some(&bob), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = call(&office, "GET", "/api/v1/applications", Some(&bob), None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{v}");

    // The department's clerk lists it without its form, reads it, and asks for more; to a clerk
    // of another department it does not exist.
    let (registration, welfare) = (
        clerk(&office, "inproc.registration", "resident_registration").await,
        clerk(&office, "inproc.welfare", "welfare").await,
    );
    let (s, list) = call(&office, "GET", "/api/v1/staff/applications", Some(&registration), None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let listed: Vec<&Value> = list.as_array().unwrap().iter().filter(|a| a["reference"] == reference).collect();
    assert_eq!(listed.len(), 1, "{list}");
    assert!(listed[0].get("form_data").is_none(), "a list carries no personal data: {list}");
    let theirs = format!("/api/v1/staff/applications/{reference}");
    let (s, v) = call(&office, "GET", &theirs, Some(&welfare), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    let (s, v) = call(&office, "GET", &theirs, Some(&registration), None).await;
    assert_eq!((s, v["form_data"]["full_name"].as_str()), (StatusCode::OK, Some("山田花子")), "{v}");
    let status = format!("{theirs}/status");
    let (s, v) = call(&office, "POST", &status, Some(&registration), Some(json!({"status": "in_review"}))).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("in_review")), "{v}");
    let ask = json!({"status": "needs_info", "note": "原本をお持ちください"});
    let (s, v) = call(&office, "POST", &status, Some(&registration), Some(ask)).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("needs_info")), "{v}");
    let (s, v) = call(&office, "POST", &status, Some(&registration), Some(json!({"status": "draft"}))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")), "{v}");
    let (s, v) = call(&office, "GET", &mine, Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["status"].as_str(), v["status_note"].as_str()), (Some("needs_info"), Some("原本をお持ちください")));

    // Every change is in the audit chain, each event linked to the one before.
    let (s, trail) = call(&office, "GET", &format!("{theirs}/events"), Some(&registration), None).await;
    assert_eq!(s, StatusCode::OK, "{trail}");
    let trail = trail.as_array().unwrap();
    assert!(trail.len() >= 5, "create, edit, submit, two moves (and the clerk's reading): {trail:?}");
    assert!(trail.windows(2).all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()), "{trail:?}");
    let (s, v) = call(&office, "GET", &format!("{theirs}/events"), Some(&welfare), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // Each change was published: the draft, the resident's edit, the submission, two moves.
    let mut changes = 0;
    while let Ok(e) = events.try_recv() {
        if let OfficeEvent::Application { reference: r } = &*e {
            assert_eq!(r, &reference);
            changes += 1;
        }
    }
    assert_eq!(changes, 5, "one office event per change");
    cleanup.run(office).await;
}
