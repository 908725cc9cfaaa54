//! HTTP work off the frame loop, one way for every feature: a request runs on its own thread
//! with a small runtime (desktop) or as a promise (browser), and its answer waits in a [`Job`]
//! that a system looks at each frame. The frame loop never waits for the network.

use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long an HTTP call to the office may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What may cross into work off the frame loop: anything `Send` on the desktop (a thread), and
/// anything at all in the browser (one thread; `reqwest`'s futures there are not `Send`).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send> MaybeSend for T {}
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T> MaybeSend for T {}

/// Work running off the frame loop, and its answer once it has come.
pub struct Job<T>(Arc<Mutex<Option<T>>>);

impl<T: MaybeSend + 'static> Job<T> {
    /// Starts `work` off the frame loop.
    pub fn start(work: impl Future<Output = T> + MaybeSend + 'static) -> Job<T> {
        let slot = Arc::new(Mutex::new(None));
        let answer = slot.clone();
        crate::platform::spawn(async move {
            let v = work.await;
            *answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
        });
        Job(slot)
    }

    /// Runs blocking `work` on its own thread (desktop only: a sign-in waits for the system
    /// browser).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn on_thread(work: impl FnOnce() -> T + Send + 'static) -> Job<T> {
        let slot = Arc::new(Mutex::new(None));
        let answer = slot.clone();
        std::thread::spawn(move || {
            let v = work();
            *answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
        });
        Job(slot)
    }
}

impl<T> Job<T> {
    /// The answer, once (`None` while the work runs, and after the answer was taken).
    pub fn answer(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Why an HTTP call failed: the office's status when it answered, and what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {}

/// Sends `req` (with [`TIMEOUT`]) and reads a JSON answer; an answer that is not a success is
/// [`Failed`] with its status and the office's own message, if it gave one. `what` names the
/// call in the message.
pub async fn json<T: DeserializeOwned>(req: reqwest::RequestBuilder, what: &str) -> Result<T, Failed> {
    let fail = |e: reqwest::Error| Failed { status: e.status().map(|s| s.as_u16()), message: format!("{what}: {e}") };
    let r = req.timeout(TIMEOUT).send().await.map_err(fail)?;
    let status = r.status();
    if !status.is_success() {
        // The office's own error body says why (`{"code", "message"}`, a few hundred bytes);
        // anything else (a proxy's page, a body of unknown or large size) is neither read nor shown.
        let small = r.content_length().is_some_and(|n| n <= 16 * 1024);
        let body = if small { r.json::<serde_json::Value>().await.ok() } else { None };
        let said = body.and_then(|b| b["message"].as_str().map(String::from));
        let said: String = said.unwrap_or_default().chars().take(200).collect();
        return Err(Failed { status: Some(status.as_u16()), message: format!("{what}: {status} {said}") });
    }
    r.json().await.map_err(fail)
}
