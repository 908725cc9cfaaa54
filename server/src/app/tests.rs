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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_goes_through_the_counter_on_sqlite() {
    a_ticket_goes_through_the_counter(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_goes_through_the_counter_on_postgres() {
    a_ticket_goes_through_the_counter(Backend::Postgres).await;
}
