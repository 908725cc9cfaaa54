//! Signing in from the desktop client (RFC 8252: the system browser and a loopback redirect).
//!
//! The app listens on a free port of 127.0.0.1, makes a PKCE verifier, and asks the office to
//! begin a sign-in that comes back to that port (`POST /api/v1/signin/{provider}` with
//! `back = loopback`, the port and the verifier's S256 challenge). It opens the office's start
//! address in the system browser; the resident signs in with the provider there; the office
//! sends the browser to `http://127.0.0.1:<port>/signed-in?code=…`. The app answers the browser
//! with a page saying it may be closed, and trades the code, with its verifier, for the session
//! (`POST /api/v1/sessions/handoff`): a code caught by anyone else is useless without it.

use base64::Engine;
use madoguchi_shared::i18n::{Catalog, Lang};
use sha2::Digest;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long the app waits for the resident to finish in the browser.
const WAIT: Duration = Duration::from_secs(300);
/// The longest request the loopback listener reads.
const MAX_REQUEST: usize = 8 * 1024;

/// The session a sign-in opened.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub display_name: String,
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Signs in with `provider` at the office `base`, opening addresses with `open` (the system
/// browser). Blocks until the browser comes back, [`WAIT`] passes, or something fails.
pub fn desktop(base: &str, provider: &str, lang: Lang, open: impl Fn(&str)) -> anyhow::Result<SignedIn> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let http = reqwest::Client::new();
    let post = |path: String, body: serde_json::Value| {
        rt.block_on(async {
            let r = http.post(format!("{base}{path}")).json(&body).send().await?;
            let status = r.status();
            let body: serde_json::Value = r.json().await?;
            anyhow::ensure!(status.is_success(), "the office refused: {status} {body}");
            Ok::<_, anyhow::Error>(body)
        })
    };
    let begin = post(
        format!("/api/v1/signin/{provider}"),
        serde_json::json!({"lang": lang.code(), "back": "loopback", "port": port, "challenge": s256(&verifier)}),
    )?;
    let url = begin["url"].as_str().ok_or_else(|| anyhow::anyhow!("no address to open: {begin}"))?;
    open(&format!("{base}{url}"));

    let words = Catalog::new();
    let deadline = Instant::now() + WAIT;
    let code = loop {
        anyhow::ensure!(Instant::now() < deadline, "nobody came back from the browser within {} s", WAIT.as_secs());
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(code) = answer(stream, &words, lang) {
                    break code;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.into()),
        }
    };
    let done = post("/api/v1/sessions/handoff".into(), serde_json::json!({"code": code, "verifier": verifier}))?;
    Ok(SignedIn {
        token: done["token"].as_str().unwrap_or_default().to_string(),
        display_name: done["display_name"].as_str().unwrap_or_default().to_string(),
    })
}

/// Reads one request from the browser; answers `/signed-in?code=…` with a page saying the app
/// has it (and returns the code), anything else with 404.
fn answer(mut stream: TcpStream, words: &Catalog, lang: Lang) -> Option<String> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = String::from_utf8_lossy(&buf);
    let target = request.lines().next().and_then(|l| l.strip_prefix("GET ")).and_then(|l| l.split(' ').next());
    let code = target
        .and_then(|t| t.strip_prefix("/signed-in?"))
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("code=")))
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string);
    let (status, text) = match &code {
        Some(_) => ("200 OK", words.format(lang, "desktop-signed-in", &[])),
        None => ("404 Not Found", String::new()),
    };
    let page = format!(
        "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><title>Madoguchi</title><p>{}</p>",
        lang.html_lang(),
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{page}",
        page.len()
    );
    code
}
