//! Starting the real `madoguchi-server` binary on ephemeral ports, for tests and benchmarks.

use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The server's `ready` line.
#[derive(Debug, Clone, Deserialize)]
pub struct Ready {
    pub http: SocketAddr,
    pub udp: SocketAddr,
}

/// A running server process; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub ready: Ready,
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

/// The repository's `assets/` directory: `MADOGUCHI_ASSETS`, or the one in this source tree.
pub fn assets_dir() -> PathBuf {
    std::env::var("MADOGUCHI_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets")))
}

impl ServerProcess {
    /// Starts the server on loopback with ephemeral ports plus `extra` arguments, and waits for
    /// its ready line.
    pub fn start(extra: &[&str]) -> Result<ServerProcess, String> {
        let bin = server_binary()?;
        let mut child = Command::new(&bin)
            .args(["--udp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .arg("--assets")
            .arg(assets_dir())
            .args(extra)
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
        Ok(ServerProcess { child, ready })
    }

    pub fn http_base(&self) -> String {
        format!("http://{}", self.ready.http)
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
