//! End-to-end test harness: the real `madoguchi-server` binary on ephemeral loopback ports,
//! real HTTP, real netcode over UDP, driven by headless bots.

use madoguchi_bots::server_process::{ServerProcess, assets_dir};
use madoguchi_bots::{Bot, Credentials, fetch_credentials};
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::ServerMessage;
use std::time::{Duration, Instant};

/// A running server and what is needed to talk to it.
pub struct Harness {
    pub server: ServerProcess,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

/// How long tests wait for something that should happen within a few ticks.
pub const SOON: Duration = Duration::from_secs(5);

impl Harness {
    /// Starts a server with the default assets plus `extra` flags.
    pub fn start(extra: &[&str]) -> Harness {
        let server = ServerProcess::start(extra).unwrap_or_else(|e| panic!("server did not start: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        Harness { server, rt, http: reqwest::Client::new() }
    }

    pub fn base(&self) -> String {
        self.server.http_base()
    }

    /// A fresh guest session and connect token.
    pub fn credentials(&self) -> Credentials {
        self.rt.block_on(fetch_credentials(&self.http, &self.base())).expect("credentials")
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
        let mut bot = self.connect();
        bot.hello(name, "ja");
        assert!(
            bot.wait_until(SOON, |b| b.me.is_some()),
            "no Welcome for {name}: refused={:?} errors={:?}",
            bot.refused,
            bot.errors
        );
        bot
    }

    /// GET a path; returns status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.rt.block_on(async {
            let r = self.http.get(format!("{}{path}", self.base())).send().await.expect("GET");
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

    /// Reads one counter or gauge from /metrics (the first sample whose name and labels match).
    pub fn metric(&self, name_and_labels: &str) -> f64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name_and_labels} not in /metrics"))
    }
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

/// Pumps every bot for `dur`.
pub fn pump_all(bots: &mut [&mut Bot], dur: Duration) {
    let end = Instant::now() + dur;
    while Instant::now() < end {
        for b in bots.iter_mut() {
            b.pump();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Pumps every bot until `pred` holds for `bots` or `timeout` passes.
pub fn pump_until(bots: &mut [&mut Bot], timeout: Duration, mut pred: impl FnMut(&[&mut Bot]) -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        for b in bots.iter_mut() {
            b.pump();
        }
        if pred(bots) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether `bot` has received an event matching `pred`.
pub fn saw(bot: &Bot, pred: impl Fn(&ServerMessage) -> bool) -> bool {
    bot.events.iter().any(pred)
}
