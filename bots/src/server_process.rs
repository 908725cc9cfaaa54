//! Starting the real `madoguchi-server` binary on ephemeral ports, for tests and benchmarks.

use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// An HTTP client for a server started here. A kept-alive connection left idle for the server's
/// header timeout (`--http-header-timeout-secs`, 10 s) is closed by the server, and a request
/// sent on it as it closes fails ("connection closed before message completed"): pooled
/// connections are dropped after 5 s idle instead.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().expect("an HTTP client")
}

/// The server's `ready` line.
#[derive(Debug, Clone, Deserialize)]
pub struct Ready {
    pub http: SocketAddr,
    /// The operations listener (/metrics, /healthz).
    pub ops: SocketAddr,
    pub udp: SocketAddr,
    /// The first admin's one-time setup path, when the office has no admin.
    #[serde(default)]
    pub setup: Option<String>,
}

/// A running server process; killed when dropped, its private data directory removed.
pub struct ServerProcess {
    pub child: Child,
    pub ready: Ready,
    /// The server's own data directory (its SQLite file lives here unless DATABASE_URL is set).
    pub data_dir: PathBuf,
    keep_data: bool,
}

/// A fresh, empty directory under the system temp dir.
pub fn fresh_data_dir() -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("madoguchi-{}-{n}-{:08x}", std::process::id(), rand::random::<u32>()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Where the server binary is: `MADOGUCHI_SERVER_BIN`, or beside the running executable
/// (cargo puts test executables one level deeper, in `deps/`).
pub fn server_binary() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("MADOGUCHI_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    for _ in 0..2 {
        let candidate = dir.join(format!("madoguchi-server{}", std::env::consts::EXE_SUFFIX));
        if candidate.exists() {
            return Ok(candidate);
        }
        if !dir.pop() {
            break;
        }
    }
    Err(format!(
        "madoguchi-server was not found beside {}; build it first (cargo build -p madoguchi-server) or set MADOGUCHI_SERVER_BIN",
        exe.display()
    ))
}

/// The repository's `assets/` directory: `MADOGUCHI_ASSETS`, or the one in the source tree this
/// was built from, or (when that tree is gone: a build shared between checkouts through one
/// target directory) the one beside the working directory, as `cargo test` runs from a crate.
pub fn assets_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MADOGUCHI_ASSETS") {
        return PathBuf::from(dir);
    }
    let built = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets"));
    if built.join("office.toml").exists() {
        return built;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    [cwd.join("../assets"), cwd.join("assets")].into_iter().find(|d| d.join("office.toml").exists()).unwrap_or(built)
}

impl ServerProcess {
    /// Starts the server on loopback with ephemeral ports and a fresh data directory, plus
    /// `extra` arguments, and waits for its ready line.
    pub fn start(extra: &[&str]) -> Result<ServerProcess, String> {
        Self::start_with(extra, &[], fresh_data_dir(), false)
    }

    /// Like [`ServerProcess::start`], with environment variables and a given data directory
    /// (kept after the process ends when `keep_data`, e.g. to restart on the same database).
    pub fn start_with(
        extra: &[&str],
        env: &[(&str, &str)],
        data_dir: PathBuf,
        keep_data: bool,
    ) -> Result<ServerProcess, String> {
        let bin = server_binary()?;
        // `extra` may name its own assets directory.
        let assets = if extra.contains(&"--assets") { vec![] } else { vec!["--assets".into(), assets_dir()] };
        // Ephemeral loopback ports, unless `extra` names its own (a restart on the same address).
        let mut ports = Vec::new();
        for flag in ["--udp-addr", "--http-addr", "--ops-addr"] {
            if !extra.contains(&flag) {
                ports.extend([flag, "127.0.0.1:0"]);
            }
        }
        // Media on loopback, on a block of ports of its own: servers of tests running side by side
        // then rarely meet on a port (and pass over one another's when they do).
        let mut media: Vec<String> = Vec::new();
        if !extra.contains(&"--media-ports") {
            let block = 41_000 + 200 * (rand::random::<u16>() % 120);
            media.extend(["--media-ports".to_string(), format!("{block}-{}", block + 199)]);
        }
        if !extra.contains(&"--media-bind") {
            media.extend(["--media-bind".to_string(), "127.0.0.1".to_string()]);
        }
        let mut child = Command::new(&bin)
            .args(ports)
            .args(media)
            .args(assets)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(extra)
            .env_remove("DATABASE_URL")
            .envs(env.iter().copied())
            .env("RUST_LOG", std::env::var("MADOGUCHI_TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let ready = match read_ready(stdout, Duration::from_secs(30)) {
            Ok(r) => r,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(ServerProcess { child, ready, data_dir, keep_data })
    }

    pub fn http_base(&self) -> String {
        format!("http://{}", self.ready.http)
    }

    /// The operations listener's base URL (/metrics).
    pub fn ops_base(&self) -> String {
        format!("http://{}", self.ready.ops)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn read_ready(stdout: ChildStdout, timeout: Duration) -> Result<Ready, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut sent = false;
        while let Some(Ok(line)) = lines.next() {
            if !sent && let Ok(r) = serde_json::from_str::<Ready>(&line) {
                let _ = tx.send(r);
                sent = true;
            }
            // keep draining so the server never blocks on a full pipe
        }
    });
    rx.recv_timeout(timeout).map_err(|_| format!("the server printed no ready line within {timeout:?}"))
}

/// Adds a staff member of `department` through the server's CLI (`staff add`), on the records of
/// `data_dir` (or `database_url`), with the office of `assets`.
pub fn add_staff(
    data_dir: &Path,
    assets: &Path,
    database_url: Option<&str>,
    login: &str,
    department: &str,
    password: &str,
) -> Result<(), String> {
    use std::io::Write;
    let mut cmd = Command::new(server_binary()?);
    cmd.args(["staff", "add", "--login", login, "--department", department, "--data-dir"])
        .arg(data_dir)
        .arg("--assets")
        .arg(assets)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().map_err(|e| format!("staff add: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{password}").map_err(|e| format!("staff add: {e}"))?;
    }
    match child.wait() {
        Ok(s) if s.success() => Ok(()),
        _ => Err(format!("staff add {login} failed")),
    }
}
