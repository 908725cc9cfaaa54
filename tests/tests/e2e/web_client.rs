//! The 3D client in a real browser: the wasm build (`scripts/build-web`, which `scripts/test`
//! runs) served by the server, loaded in headless Chromium through `tests/browser/client3d.mjs`.

use madoguchi_shared::ClientMessage;
use madoguchi_tests::{Harness, SOON};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::Duration;

/// One headless Chromium with the 3D client at a time: two software-rendered browsers on a small
/// machine make both slow enough to time out (the 3D journey of `console.rs` takes it too).
pub(crate) static BROWSER: Mutex<()> = Mutex::new(());

/// A child process killed when the test ends, passed or not (a failed assertion must not leave
/// node and Chromium running).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_browser_client_renders_joins_walks_takes_a_ticket_is_called_and_chats() {
    let _one = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/dist"));
    assert!(
        dist.join("madoguchi_bg.wasm").exists(),
        "the browser client is not built: run scripts/build-web (scripts/test does)"
    );
    let browser = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/browser"));
    assert!(browser.join("node_modules/playwright-core").exists(), "run scripts/test-deps (scripts/test does)");
    let dist_s = dist.display().to_string();
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0", "--web-dir", &dist_s]);
    // The page and the files it loads.
    let (s, page) = h.get("/play");
    assert_eq!(s, 200);
    assert!(page.contains("canvas id=\"madoguchi\""));
    // The page has a Content-Security-Policy (the browser run below fails on any violation).
    let (_, headers) = raw_get(&h.base(), "/play", "");
    let csp = headers.get("content-security-policy").expect("a CSP on /play");
    assert!(csp.contains("script-src 'self' 'sha256-") && csp.contains("frame-ancestors 'none'"), "{csp}");
    // A resident already in the office watches the browser client arrive.
    let mut watcher = h.join("watcher");
    let shot = std::env::temp_dir().join(format!("madoguchi-office-{}.png", std::process::id()));
    let _gl = madoguchi_tests::software_gl();
    let mut child = Guard(
        Command::new("node")
            .arg("client3d.mjs")
            .arg("--walk")
            .current_dir(&browser)
            .env("MADOGUCHI_BASE", h.base())
            .env("SCREENSHOT", &shot)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run node"),
    );
    // The script's progress lines, as they come.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.0.stdout.take().expect("node stdout");
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line.clone());
            all.push(line);
        }
        all
    });
    let mut saw_alex = false;
    let mut clerk: Option<madoguchi_bots::Bot> = None;
    let mut clerk_heard = None;
    let mut clerk_token: Option<String> = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while std::time::Instant::now() < deadline {
        watcher.pump();
        saw_alex |= watcher.others.values().any(|(n, _)| n == "Alex");
        let line = lines.try_recv().ok();
        if let Some(line) = &line
            && line.contains("\"step\":\"ticket\"")
        {
            // A clerk opens c1 in the world and calls the next ticket: the browser's C-001.
            let token = h.clerk("sato", "children_families");
            let mut c = h.join_as(&token, "sato");
            c.send(&ClientMessage::TakeDesk { counter: "c1".into() });
            assert!(c.wait_until(SOON, |b| b.desks.get("c1").is_some_and(|d| d.open)), "{:?}", c.errors);
            c.send(&ClientMessage::CallNext);
            c.pump();
            clerk = Some(c);
            clerk_token = Some(token);
        }
        if let (Some(line), Some(token)) = (&line, &clerk_token)
            && line.contains("\"step\":\"chatted\"")
        {
            // The resident stands at c1 (arrived): the clerk starts the consultation.
            let mut last = (0, serde_json::Value::Null);
            for _ in 0..150 {
                last = h.call("POST", "/api/v1/staff/consultations", Some(token), None);
                if last.0 == 201 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            assert_eq!(last.0, 201, "the consultation did not start: {}", last.1);
        }
        if let Some(c) = clerk.as_mut() {
            c.pump();
            if clerk_heard.is_none() {
                clerk_heard = c.chats.iter().find(|(_, n, _)| n == "Alex").map(|(_, _, t)| t.clone());
            }
        }
        if child.0.try_wait().expect("node").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(c) = clerk.as_mut() {
        let _ = c.wait_until(SOON, |b| b.chats.iter().any(|(_, n, _)| n == "Alex"));
        clerk_heard = c.chats.iter().find(|(_, n, _)| n == "Alex").map(|(_, _, t)| t.clone());
    }
    let status = child.0.wait().expect("node");
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.0.stderr.take().expect("stderr"), &mut stderr);
    let stdout = reader.join().expect("stdout reader");
    let last = stdout.last().map(String::as_str).unwrap_or("");
    assert!(status.success(), "browser test failed: {last}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(last).expect("a JSON report");
    assert_eq!(report["ticket"], "C-001", "{report}");
    assert!(report["distinct_colors"].as_u64().unwrap_or(0) >= 8, "{report}");
    assert!(saw_alex, "a UDP client saw the browser client's avatar (over WebSocket) in the lobby");
    // The build is precompressed with brotli (scripts/build-web), and Chromium takes it on loopback.
    assert_eq!(report["encoding"], "br", "{report}");
    let banner = report["banner"].as_str().unwrap_or("");
    assert!(
        banner.contains("C-001") && banner.contains("Children & Families"),
        "the banner says where to go: {report}"
    );
    assert!(report["chimes"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert_eq!(clerk_heard.as_deref(), Some("こんにちは、窓口です"), "the clerk heard the resident's chat line");
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "a PNG screenshot was saved");
    eprintln!("{last}");
}

#[test]
fn the_browser_client_comes_back_by_itself_after_a_server_restart() {
    let _one = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/dist"));
    assert!(dist.join("madoguchi_bg.wasm").exists(), "the browser client is not built: run scripts/build-web");
    let browser = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/browser"));
    let dist_s = dist.display().to_string();
    let args = ["--always-open", "--sessions-per-minute", "0", "--web-dir", &dist_s];
    let mut h = Harness::start(&args);
    let base = h.base();
    let http_addr = base.trim_start_matches("http://").to_string();
    let _gl = madoguchi_tests::software_gl();
    let mut child = Guard(
        Command::new("node")
            .arg("reconnect.mjs")
            .current_dir(&browser)
            .env("MADOGUCHI_BASE", &base)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run node"),
    );
    let stdout = child.0.stdout.take().expect("node stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut all = Vec::new();
    let mut restarted = false;
    let mut stalled = false;
    for line in lines.by_ref().map_while(Result::ok) {
        all.push(line.clone());
        if line.contains("\"step\":\"connected\"") {
            // Down for a few seconds (the client retries and backs off), then up again on the
            // same address and database.
            let stopped = std::time::Instant::now();
            drop(h.server);
            std::thread::sleep(Duration::from_secs(4));
            let mut again: Vec<&str> = args.to_vec();
            again.extend(["--http-addr", &http_addr]);
            h = Harness::start_on(h.store, &again);
            eprintln!("server restarted after {:?}", stopped.elapsed());
            restarted = true;
        }
        if line.contains("\"step\":\"stall\"") {
            // The process stops without closing a socket: the link goes silent.
            let pid = h.server.child.id().to_string();
            let signal = |s: &str| Command::new("kill").args([s, &pid]).status().expect("kill");
            assert!(signal("-STOP").success());
            std::thread::sleep(Duration::from_secs(13));
            assert!(signal("-CONT").success());
            stalled = true;
        }
    }
    all.extend(lines.map_while(Result::ok));
    let status = child.0.wait().expect("node");
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut child.0.stderr.take().expect("stderr"), &mut err);
    let last = all.last().cloned().unwrap_or_default();
    assert!(restarted, "the page never connected: {last}\n{err}");
    assert!(stalled, "the page never came back after the restart: {last}\n{err}");
    assert!(status.success(), "reconnect test failed: {last}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&last).expect("a JSON report");
    // Down for 4 s; with retries at about 1, 2 and 4 s it is back well within 20 s.
    assert!(report["back_after_ms"].as_u64().is_some_and(|ms| (4000..20_000).contains(&ms)), "{report}");
    assert_eq!(h.base(), base);
    eprintln!("{last}");
}

/// One raw HTTP/1.1 GET with extra header lines; returns the status line and lower-cased headers.
fn raw_get(base: &str, path: &str, extra: &str) -> (String, std::collections::HashMap<String, String>) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n").expect("send");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let text = String::from_utf8_lossy(&resp);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

#[test]
fn the_client_files_are_served_brotli_or_gzip_with_one_etag_per_encoding() {
    let dir = std::env::temp_dir().join(format!("madoguchi-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("madoguchi.js"), "export default 1;\n".repeat(100)).unwrap();
    std::fs::write(dir.join("madoguchi.js.gz"), b"gzip bytes").unwrap();
    std::fs::write(dir.join("madoguchi.js.br"), b"brotli bytes").unwrap();
    let h = Harness::start(&["--web-dir", dir.to_str().unwrap()]);
    let base = h.base();
    let (s, br) = raw_get(&base, "/web/madoguchi.js", "Accept-Encoding: gzip, deflate, br, zstd\r\n");
    assert!(s.contains("200"), "{s}");
    assert_eq!(br.get("content-encoding").map(String::as_str), Some("br"));
    assert_eq!(br.get("content-length").map(String::as_str), Some("12"));
    assert_eq!(br.get("x-decoded-length").map(String::as_str), Some("1800"));
    assert_eq!(br.get("vary").map(String::as_str), Some("accept-encoding"));
    // Refusing brotli (any case) gets gzip; nothing accepted gets the file itself. Each has its
    // own validator.
    let (_, gz) = raw_get(&base, "/web/madoguchi.js", "Accept-Encoding: BR;q=0, GZip\r\n");
    assert_eq!(gz.get("content-encoding").map(String::as_str), Some("gzip"));
    let (_, id) = raw_get(&base, "/web/madoguchi.js", "");
    assert_eq!(id.get("content-encoding"), None);
    assert_eq!(id.get("content-length").map(String::as_str), Some("1800"));
    let tags = [&br["etag"], &gz["etag"], &id["etag"]];
    assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2], "{tags:?}");
    // Revalidation: the same representation is not sent again; another one is.
    let (s, not_modified) =
        raw_get(&base, "/web/madoguchi.js", &format!("Accept-Encoding: br\r\nIf-None-Match: {}\r\n", tags[0]));
    assert!(s.contains("304"), "{s}");
    assert_eq!(not_modified.get("etag"), Some(tags[0]));
    let (s, _) =
        raw_get(&base, "/web/madoguchi.js", &format!("Accept-Encoding: gzip\r\nIf-None-Match: {}\r\n", tags[0]));
    assert!(s.contains("200"), "a gzip client does not revalidate against the brotli tag: {s}");
    // A compressed copy older than the file (rebuilt, not recompressed) is not served.
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(dir.join("madoguchi.js.br")).unwrap().set_modified(old).unwrap();
    let (_, stale) = raw_get(&base, "/web/madoguchi.js", "Accept-Encoding: br, gzip\r\n");
    assert_eq!(stale.get("content-encoding").map(String::as_str), Some("gzip"));
    // Only the build's own files, by name.
    for bad in ["/web/..%2Fetc%2Fpasswd", "/web/.hidden.js", "/web/madoguchi.js.br", "/web/x.html"] {
        let (s, _) = raw_get(&base, bad, "");
        assert!(s.contains("404"), "{bad}: {s}");
    }
    drop(h);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The 3D office on phones in portrait (390×844, 360×640, touch), in landscape (844×390) and on
/// a desktop (1280×720), all four at once (each its own browser context, as four residents):
/// `tests/browser/phone.mjs` enters, goes to a counter in the other room through the page's
/// counters list (the avatar walks there through the door and takes a ticket on arrival), and
/// is called by this test's clerks; on each screen nothing reaches past the viewport, controls
/// are at least 44 px, and touch hints name no key; on the 390 px phone the consultation then
/// covers the screen, fits it, and the game stops drawing behind it. Screenshots:
/// `target/screenshots/phone/`.
#[test]
fn the_3d_office_works_on_a_phone_in_portrait_through_the_counters_list() {
    let _one = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/dist"));
    assert!(dist.join("madoguchi_bg.wasm").exists(), "the browser client is not built: run scripts/build-web");
    let dist_s = dist.display().to_string();
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0", "--web-dir", &dist_s]);
    let clerks: Vec<(char, String)> = [
        ('A', "resident_registration", "a1"),
        ('B', "insurance_pension", "b1"),
        ('C', "children_families", "c1"),
        ('E', "taxation", "e1"),
    ]
    .into_iter()
    .map(|(prefix, department, desk)| {
        let clerk = h.clerk(&format!("clerk.{desk}"), department);
        assert_eq!(h.call("POST", &format!("/api/v1/staff/desks/{desk}/take"), Some(&clerk), None).0, 200);
        (prefix, clerk)
    })
    .collect();
    let mut page = madoguchi_tests::BrowserScript::start(
        "phone.mjs",
        &[("MADOGUCHI_BASE", &h.base()), ("SCREENSHOTS", &madoguchi_tests::screenshots("phone"))],
    );
    let (mut called, mut consulted) = (Vec::new(), 0);
    let mut last = page.next_line();
    loop {
        let clerk_of = |label: &str| {
            let prefix = label.chars().next().unwrap_or_default();
            clerks.iter().find(|(p, _)| *p == prefix).map(|(_, c)| c.clone()).expect("a clerk for the ticket")
        };
        if let Some(label) = last.strip_prefix("ticket ").map(str::to_string) {
            let (s, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk_of(&label)), None);
            assert_eq!((s, v["called"]["label"].as_str()), (200, Some(label.as_str())), "{v}");
            called.push(label);
            page.answer("called");
        } else if let Some(label) = last.strip_prefix("consult ") {
            let (s, v) = h.call("POST", "/api/v1/staff/consultations", Some(&clerk_of(label)), None);
            assert_eq!(s, 201, "{v}");
            consulted += 1;
            page.answer("started");
        } else {
            break;
        }
        last = page.next_line();
    }
    let report = page.finish(last);
    assert_eq!((called.len(), consulted), (4, 1), "{report}");
}
