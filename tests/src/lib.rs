//! End-to-end test harness: the real `madoguchi-server` binary on ephemeral loopback ports,
//! real HTTP, real netcode over UDP, driven by headless bots.

use madoguchi_bots::server_process::{ServerProcess, assets_dir, fresh_data_dir, http_client, server_binary};
use madoguchi_bots::{Bot, Credentials, fetch_credentials};
pub use madoguchi_bots::{pump_all, pump_until};
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::ServerMessage;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running server and what is needed to talk to it.
pub struct Harness {
    pub server: ServerProcess,
    pub store: Store,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

/// Which records database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A records database for one test: a SQLite file in a fresh directory, or a fresh database
/// on the test PostgreSQL server. Outlives server restarts; removed when dropped.
pub struct Store {
    pub backend: Backend,
    pub data_dir: PathBuf,
    /// `DATABASE_URL` for PostgreSQL; `None` for the default SQLite file.
    pub database_url: Option<String>,
    pg_admin: Option<(String, String)>,
}

/// The PostgreSQL server tests use (`scripts/test` starts one and sets this).
pub fn postgres_admin_url() -> String {
    std::env::var("MADOGUCHI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://madoguchi:madoguchi@127.0.0.1:5432/postgres".into())
}

impl Store {
    pub fn new(backend: Backend) -> Store {
        let data_dir = fresh_data_dir();
        match backend {
            Backend::Sqlite => Store { backend, data_dir, database_url: None, pg_admin: None },
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("madoguchi_test_{:016x}", rand::random::<u64>());
                block_on(async {
                    sqlx::any::install_default_drivers();
                    let pool = sqlx::AnyPool::connect(&admin).await.unwrap_or_else(|e| {
                        panic!("PostgreSQL is needed for this test and does not answer at {admin}: {e}. Run the tests with scripts/test, which starts it.")
                    });
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&pool)
                        .await
                        .expect("create test database");
                    pool.close().await;
                });
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
                Store { backend, data_dir, database_url: Some(format!("{base}/{name}")), pg_admin: Some((admin, name)) }
            }
        }
    }

    /// The URL a test can open the database with directly.
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("madoguchi.sqlite3").display()))
    }

    fn env(&self) -> Vec<(&str, &str)> {
        match &self.database_url {
            Some(u) => vec![("DATABASE_URL", u.as_str())],
            None => vec![],
        }
    }

    /// Runs `madoguchi-server <args>` against this store, with `stdin` as input.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut child = Command::new(server_binary().expect("server binary"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--assets")
            .arg(assets_dir())
            .env_remove("DATABASE_URL")
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run madoguchi-server");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("wait")
    }

    /// Runs a query directly against the database; every column must be text (CAST numbers).
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let url = self.url();
        let sql = sql.to_string();
        block_on(async move {
            use sqlx::Row;
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&pool).await.expect("query");
            pool.close().await;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.try_get::<String, _>(i).expect("a text column")).collect())
                .collect()
        })
    }

    /// Runs a statement directly against the database (to tamper with it, say).
    pub fn exec(&self, sql: &str) -> Result<u64, String> {
        let url = self.url();
        let sql = sql.to_string();
        block_on(async move {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&url).await.map_err(|e| e.to_string())?;
            let r = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.map_err(|e| e.to_string());
            pool.close().await;
            r.map(|r| r.rows_affected())
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some((admin, name)) = self.pg_admin.take() {
            block_on(async move {
                if let Ok(pool) = sqlx::AnyPool::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

/// How long tests wait for something that should happen within a few ticks.
pub const SOON: Duration = Duration::from_secs(5);

/// Waits (on the test's clock, polling every 50 ms) until `f` holds; whether it did.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + within;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

impl Harness {
    /// Starts a server with the default assets plus `extra` flags, on a fresh SQLite file.
    pub fn start(extra: &[&str]) -> Harness {
        Harness::start_on(Store::new(Backend::Sqlite), extra)
    }

    /// Starts a server with the default assets, `extra` flags and `env` variables (e.g. a client
    /// secret the configuration names), on a fresh SQLite file.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Harness {
        Harness::start_on_with_env(Store::new(Backend::Sqlite), extra, env)
    }

    /// Starts a server on `store`.
    pub fn start_on(store: Store, extra: &[&str]) -> Harness {
        Harness::start_on_with_env(store, extra, &[])
    }

    fn start_on_with_env(store: Store, extra: &[&str], env: &[(&str, &str)]) -> Harness {
        let mut all = store.env();
        all.extend_from_slice(env);
        let server = ServerProcess::start_with(extra, &all, store.data_dir.clone(), true)
            .unwrap_or_else(|e| panic!("server did not start: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        // The runtime runs only inside calls, so a pooled connection never hears the server close
        // it: idle ones are dropped before the server's keep-alive limit (see `http_client`).
        let http = http_client();
        Harness { server, store, rt, http }
    }

    /// Kills the server with SIGKILL (no chance to flush anything) and starts it again on the
    /// same database.
    pub fn kill_and_restart(self, extra: &[&str]) -> Harness {
        let Harness { server, store, .. } = self;
        drop(server); // Child::kill is SIGKILL
        Harness::start_on(store, extra)
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON.
    pub fn call(&self, method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        self.rt.block_on(async {
            let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut req = self.http.request(m, format!("{}{path}", self.base()));
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let r = req.send().await.expect("request");
            let status = r.status().as_u16();
            let text = r.text().await.expect("body");
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        })
    }

    /// Like [`Harness::call`], as if relayed by a proxy for `client` (`X-Forwarded-For`; only
    /// believed by a server started with `--trusted-proxies` covering loopback). Also returns
    /// the `Retry-After` header.
    pub fn call_from(&self, client: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value, Option<u64>) {
        self.rt.block_on(async {
            let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut req = self.http.request(m, format!("{}{path}", self.base())).header("x-forwarded-for", client);
            if let Some(b) = body {
                req = req.json(b);
            }
            let r = req.send().await.expect("request");
            let status = r.status().as_u16();
            let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
            let text = r.text().await.expect("body");
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), retry)
        })
    }

    /// A new guest resident's session token.
    pub fn guest(&self, name: &str) -> String {
        let (s, v) = self.call(
            "POST",
            "/api/v1/sessions/guest",
            None,
            Some(&serde_json::json!({"display_name": name, "locale": "ja"})),
        );
        assert_eq!(s, 201, "{v}");
        v["session_token"].as_str().expect("token").to_string()
    }

    /// Adds a clerk through the CLI and logs them in; returns the session token.
    pub fn clerk(&self, login: &str, department: &str) -> String {
        self.staff(login, department, "clerk")
    }

    /// Adds a staff member with `role` (clerk, supervisor, admin) through the CLI and logs them
    /// in; returns the session token.
    pub fn staff(&self, login: &str, department: &str, role: &str) -> String {
        let password = format!("{login}-correct-horse-battery");
        let out = self.store.cli(
            &["staff", "add", "--login", login, "--department", department, "--role", role],
            &format!("{password}\n"),
        );
        assert!(out.status.success(), "staff add failed: {}", String::from_utf8_lossy(&out.stderr));
        let (s, v) = self.call(
            "POST",
            "/api/v1/staff/login",
            None,
            Some(&serde_json::json!({"login": login, "password": password})),
        );
        assert_eq!(s, 200, "{v}");
        v["session_token"].as_str().expect("token").to_string()
    }

    pub fn base(&self) -> String {
        self.server.http_base()
    }

    /// The server's process id (for its open file descriptors).
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// A fresh guest session and connect token.
    pub fn credentials(&self) -> Credentials {
        self.rt.block_on(fetch_credentials(&self.http, &self.base())).expect("credentials")
    }

    /// A bot that joined the world on an existing session (a resident's or a clerk's).
    pub fn join_as(&self, session_token: &str, name: &str) -> Bot {
        let token = self
            .rt
            .block_on(madoguchi_bots::fetch_connect_token(&self.http, &self.base(), session_token))
            .expect("connect token");
        welcomed(Bot::connect(token).expect("bot"), name)
    }

    /// A single-use WebSocket ticket for a session.
    pub fn ws_ticket(&self, session_token: &str) -> String {
        self.rt.block_on(madoguchi_bots::fetch_ws_ticket(&self.http, &self.base(), session_token)).expect("ws ticket")
    }

    /// A bot that joined the world over WebSocket, as the browser client does.
    pub fn join_ws(&self, name: &str) -> Bot {
        let session = self.guest(name);
        welcomed(Bot::connect_ws(&self.base(), &self.ws_ticket(&session)).expect("WebSocket bot"), name)
    }

    /// A bot whose netcode connection is open, before `Hello`.
    pub fn connect(&self) -> Bot {
        let mut bot = Bot::connect(self.credentials().connect_token).expect("bot");
        assert!(
            bot.wait_until(SOON, |b| b.is_connected()),
            "netcode connection did not open: {:?}",
            bot.disconnect_reason()
        );
        bot
    }

    /// A bot that has joined the world as `name`.
    pub fn join(&self, name: &str) -> Bot {
        welcomed(self.connect(), name)
    }

    /// GET a path; returns status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.rt.block_on(async {
            let r = self.http.get(format!("{}{path}", self.base())).send().await.expect("GET");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    }

    /// GET a path with extra headers (a cookie, say); returns status and body.
    pub fn get_with_headers(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        self.rt.block_on(async {
            let mut req = self.http.get(format!("{}{path}", self.base()));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let r = req.send().await.expect("GET");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    }

    /// POST a path with optional bearer token; returns status and body.
    pub fn post(&self, path: &str, bearer: Option<&str>) -> (u16, String) {
        self.rt.block_on(async {
            let mut req = self.http.post(format!("{}{path}", self.base()));
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.expect("POST");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    }

    /// POST an HTML form (`application/x-www-form-urlencoded`) with extra headers; returns
    /// status and body.
    pub fn post_form(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> (u16, String) {
        fn enc(s: &str) -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                    b' ' => "+".into(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        }
        let body = fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        self.rt.block_on(async {
            let mut req = self
                .http
                .post(format!("{}{path}", self.base()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let r = req.send().await.expect("POST");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    }

    /// GET a path of the operations listener (/metrics); returns status and body.
    pub fn get_ops(&self, path: &str) -> (u16, String) {
        self.rt.block_on(async {
            let r = self.http.get(format!("{}{path}", self.server.ops_base())).send().await.expect("GET");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    }

    /// Reads one counter or gauge from /metrics (the first sample whose name and labels match).
    pub fn metric(&self, name_and_labels: &str) -> f64 {
        let (_, text) = self.get_ops("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name_and_labels} not in /metrics"))
    }
}

/// A consultation running at `counter` of `department`, from a fresh clerk and a fresh guest:
/// the clerk takes the desk, the resident takes a ticket, is called and arrives, and the clerk
/// starts the consultation. The clerk's and the resident's session tokens, and its id.
pub fn start_consultation(h: &Harness, clerk_login: &str, department: &str, counter: &str) -> (String, String, i64) {
    let clerk = h.clerk(clerk_login, department);
    let (s, v) = h.call("POST", &format!("/api/v1/staff/desks/{counter}/take"), Some(&clerk), None);
    assert_eq!(s, 200, "{v}");
    let resident = h.guest(&format!("住民-{clerk_login}"));
    let (s, v) =
        h.call("POST", "/api/v1/tickets", Some(&resident), Some(&serde_json::json!({ "department": department })));
    assert_eq!(s, 201, "{v}");
    let ticket = v["id"].as_i64().expect("ticket id");
    let (s, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["called"]["id"].as_i64(), Some(ticket), "{v}");
    let (s, v) = h.call("POST", &format!("/api/v1/tickets/{ticket}/arrived"), Some(&resident), None);
    assert_eq!(s, 200, "{v}");
    let (s, v) = h.call("POST", "/api/v1/staff/consultations", Some(&clerk), None);
    assert_eq!(s, 201, "{v}");
    (clerk, resident, v["id"].as_i64().expect("consultation id"))
}

/// The signalling WebSocket URL for a session's pass to consultation `id`.
pub fn signal_url(h: &Harness, token: &str, id: i64) -> String {
    let (s, v) = h.call("POST", &format!("/api/v1/consultations/{id}/join"), Some(token), None);
    assert_eq!(s, 200, "{v}");
    signal_url_of(h, &v)
}

/// The signalling WebSocket URL of a pass (`SignalGrant`).
pub fn signal_url_of(h: &Harness, grant: &Value) -> String {
    let ticket = grant["ticket"].as_str().expect("ticket");
    format!("{}/api/v1/consultations/signal?ticket={ticket}", h.base().replacen("http://", "ws://", 1))
}

/// A real TURN server (coturn's `turnserver`) on loopback, checking credentials made from
/// `secret` by the TURN REST scheme (`use-auth-secret`), as a deployment's would. Killed on drop.
pub struct TurnServer {
    child: std::process::Child,
    pub port: u16,
    pub secret: String,
    dir: PathBuf,
}

impl TurnServer {
    pub fn start() -> TurnServer {
        let port = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("a free port");
            s.local_addr().expect("addr").port()
        };
        let dir = fresh_data_dir();
        let secret = format!("turn-secret-{port}");
        let log = dir.join("turn.log");
        let child = std::process::Command::new("turnserver")
            .args(["-n", "--no-cli", "--no-tls", "--no-dtls", "--simple-log", "--allow-loopback-peers"])
            .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1", "--realm", "madoguchi.test"])
            .args(["--min-port", "61000", "--max-port", "61999", "--use-auth-secret"])
            // As the README tells operators: no relaying into internal networks (the test's
            // peers are on loopback, which --allow-loopback-peers lets through).
            .args(["--denied-peer-ip=10.0.0.0-10.255.255.255", "--denied-peer-ip=172.16.0.0-172.31.255.255"])
            .args(["--denied-peer-ip=192.168.0.0-192.168.255.255", "--denied-peer-ip=169.254.0.0-169.254.255.255"])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!("--log-file={}", log.display()))
            .arg(format!("--pidfile={}", dir.join("turn.pid").display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("turnserver (coturn) is installed: scripts/test-deps installs it");
        // Ready once it holds its port.
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(std::time::Instant::now() < end, "turnserver did not open port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        TurnServer { child, port, secret, dir }
    }

    /// The server flags that hand this TURN server to participants.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--turn-urls".into(),
            format!("turn:127.0.0.1:{}?transport=udp", self.port),
            "--turn-secret".into(),
            self.secret.clone(),
        ]
    }
}

impl Drop for TurnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A runtime for media peers: their tasks keep running between the test's calls.
pub fn media_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// Says `Hello` as `name` and waits for the `Welcome`.
fn welcomed(mut bot: Bot, name: &str) -> Bot {
    bot.hello(name, "ja");
    assert!(
        bot.wait_until(SOON, |b| b.me.is_some()),
        "no Welcome for {name}: refused={:?} errors={:?}",
        bot.refused,
        bot.errors
    );
    bot
}

/// The office as the server loads it, for geometry.
pub fn office() -> Office {
    let dir = assets_dir();
    let read = |p: std::path::PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut rooms: Vec<(String, String)> = std::fs::read_dir(dir.join("layouts"))
        .expect("layouts")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.display().to_string(), read(p.clone())))
        .collect();
    rooms.sort();
    Office::parse(("office.toml", &read(dir.join("office.toml"))), &rooms).expect("assets are valid")
}

/// Walks a bot from the lobby through the door to the service counters, then up to the
/// resident spot of `counter`.
pub fn walk_to_counter(bot: &mut Bot, counter: &str) {
    let office = office();
    let counters = office.room_index("counters").expect("counters room");
    if bot.room != Some(counters) {
        bot.send(&madoguchi_shared::ClientMessage::MoveTo {
            target: madoguchi_shared::quant::QPos::from_point(madoguchi_shared::quant::Point::new(12.0, 15.6)),
            run: true,
        });
        assert!(bot.wait_until(Duration::from_secs(10), |b| b.room == Some(counters)), "did not reach the counters");
    }
    let (_, c) = office.counter(counter).expect("counter");
    let spot = madoguchi_shared::quant::Point::new(c.resident_spot[0], c.resident_spot[1]);
    assert!(bot.go_to(spot, Duration::from_secs(10)), "did not reach counter {counter}: at {:?}", bot.pos);
}

/// Whether `bot` has received an event matching `pred`.
pub fn saw(bot: &Bot, pred: impl Fn(&ServerMessage) -> bool) -> bool {
    bot.events.iter().any(pred)
}

/// Runs each named test function (taking a [`Backend`]) once per backend, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::Backend::Postgres) } )*
        }
    };
}

/// One 3D office in a software-rendered browser at a time. SwiftShader draws on the processor,
/// and two of them beside each other (with the rest of the suite) on a 2-core machine slowed
/// each to a frame every few seconds: steps that take a second on their own then outlasted the
/// scripts' patience. Tests that run a browser with the 3D client hold this while it runs; the
/// other tests go on beside it.
///
/// A lock on a file, so that it holds across processes: `cargo nextest` (which `scripts/test`
/// uses) runs each test in a process of its own, `cargo test` runs them as threads of one. Under
/// nextest, `.config/nextest.toml` also puts these tests in one test group, so that a test
/// waiting here does not take a test slot; the lock keeps them one at a time either way.
pub fn software_gl() -> SoftwareGl {
    let path = std::env::temp_dir().join("madoguchi-tests-software-gl.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    // The lock goes with the file: released when the guard is dropped, or the process dies.
    file.lock().unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    SoftwareGl { _file: file }
}

/// Held while a software-rendered 3D office runs ([`software_gl`]).
pub struct SoftwareGl {
    _file: std::fs::File,
}

/// The browser scripts that load the 3D office (`/play`), when run by [`BrowserScript`]
/// (`journey.mjs` only with `RESIDENT=3d`).
const SCRIPTS_WITH_3D: &[&str] = &["client3d.mjs", "languages.mjs", "phone.mjs", "reconnect.mjs", "signin.mjs"];

/// A browser script of `tests/browser/` that may talk with the test: it prints a word when it
/// needs the test to act, the test answers with a line; its last line is its JSON report.
pub struct BrowserScript {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    name: String,
    /// Held while a script with the 3D office runs (see [`software_gl`]); dropped last.
    _gl: Option<SoftwareGl>,
}

impl BrowserScript {
    /// Starts `node <script>` in `tests/browser/` with `env`.
    pub fn start(script: &str, env: &[(&str, &str)]) -> BrowserScript {
        use std::io::BufRead;
        use std::process::Stdio;
        let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/browser"));
        assert!(dir.join("node_modules/playwright-core").exists(), "run scripts/test-deps (scripts/test does)");
        let with_3d =
            SCRIPTS_WITH_3D.contains(&script) || (script == "journey.mjs" && env.contains(&("RESIDENT", "3d")));
        let _gl = with_3d.then(software_gl);
        let mut cmd = std::process::Command::new("node");
        cmd.arg(script).current_dir(&dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run node (Node.js 20+ is needed for the browser tests)");
        let to = child.stdin.take().expect("stdin");
        let from = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        BrowserScript { _gl, child, to, from, name: script.to_string() }
    }

    /// The script's next line; empty once it has ended.
    pub fn next_line(&mut self) -> String {
        self.from.next().and_then(Result::ok).unwrap_or_default()
    }

    /// Answers the script.
    pub fn answer(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.to, "{line}").expect("answer the browser script");
    }

    /// Waits for the script's end (`last` is the newest line read) and returns its report,
    /// after checking that it passed.
    pub fn finish(mut self, mut last: String) -> Value {
        loop {
            let line = self.next_line();
            if line.is_empty() {
                break;
            }
            last = line;
        }
        let status = self.child.wait().expect("wait for node");
        assert!(status.success(), "{} failed: {last}", self.name);
        let report: Value = serde_json::from_str(&last).expect("a JSON report line");
        assert_eq!(report["ok"], true, "{report}");
        eprintln!("{last}");
        report
    }
}

/// Runs a browser script that needs no answers, and returns its passing report.
pub fn browser_report(script: &str, env: &[(&str, &str)]) -> Value {
    BrowserScript::start(script, env).finish(String::new())
}

/// The form of a complete 転入届 (moving_in).
pub fn moving_in_form() -> Value {
    serde_json::json!({
        "full_name": "山田 花子",
        "full_name_kana": "ヤマダ ハナコ",
        "birth_date": "1990-04-01",
        "move_date": "2026-11-20",
        "previous_address": "大阪府大阪市北区1-1-1",
        "postal_code": "150-0001",
        "new_address": "東京都まどぐち区1-2-3",
        "household_role": "head"
    })
}

/// Where a browser test saves its screenshots: `$MADOGUCHI_SCREENSHOTS/{name}`, else
/// `target/screenshots/{name}`. The folder is emptied first, so it holds this run's pictures only.
pub fn screenshots(name: &str) -> String {
    let root = std::env::var("MADOGUCHI_SCREENSHOTS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/screenshots").to_string());
    let dir = format!("{root}/{name}");
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
