//! The 3D client in a real browser: the wasm build (`scripts/build-web`, which `scripts/test`
//! runs) served by the server, loaded in headless Chromium through `tests/browser/client3d.mjs`.

use madoguchi_shared::ClientMessage;
use madoguchi_tests::{Harness, SOON};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn the_browser_client_renders_joins_walks_takes_a_ticket_is_called_and_chats() {
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/dist"));
    assert!(
        dist.join("madoguchi_bg.wasm").exists(),
        "the browser client is not built: run scripts/build-web (scripts/test does)"
    );
    let browser = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/browser"));
    assert!(browser.join("node_modules/playwright-core").exists(), "run scripts/browser-deps (scripts/test does)");
    let dist_s = dist.display().to_string();
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0", "--web-dir", &dist_s]);
    // The page and the files it loads.
    let (s, page) = h.get("/play");
    assert_eq!(s, 200);
    assert!(page.contains("canvas id=\"madoguchi\""));
    // A resident already in the office watches the browser client arrive.
    let mut watcher = h.join("watcher");
    let shot = std::env::temp_dir().join(format!("madoguchi-office-{}.png", std::process::id()));
    let mut child = Command::new("node")
        .arg("client3d.mjs")
        .arg("--walk")
        .current_dir(&browser)
        .env("MADOGUCHI_BASE", h.base())
        .env("SCREENSHOT", &shot)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run node");
    // The script's progress lines, as they come.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("node stdout");
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
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while std::time::Instant::now() < deadline {
        watcher.pump();
        saw_alex |= watcher.others.values().any(|(n, _)| n == "Alex");
        if let Ok(line) = lines.try_recv()
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
        }
        if let Some(c) = clerk.as_mut() {
            c.pump();
            if clerk_heard.is_none() {
                clerk_heard = c.chats.iter().find(|(_, n, _)| n == "Alex").map(|(_, _, t)| t.clone());
            }
        }
        if child.try_wait().expect("node").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(c) = clerk.as_mut() {
        let _ = c.wait_until(SOON, |b| b.chats.iter().any(|(_, n, _)| n == "Alex"));
        clerk_heard = c.chats.iter().find(|(_, n, _)| n == "Alex").map(|(_, _, t)| t.clone());
    }
    let out = child.wait_with_output().expect("node output");
    let stdout = reader.join().expect("stdout reader");
    let last = stdout.last().map(String::as_str).unwrap_or("");
    assert!(out.status.success(), "browser test failed: {last}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(last).expect("a JSON report");
    assert_eq!(report["ticket"], "C-001", "{report}");
    assert!(report["distinct_colors"].as_u64().unwrap_or(0) >= 8, "{report}");
    assert!(saw_alex, "a UDP client saw the browser client's avatar (over WebSocket) in the lobby");
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
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/dist"));
    assert!(dist.join("madoguchi_bg.wasm").exists(), "the browser client is not built: run scripts/build-web");
    let browser = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/browser"));
    let dist_s = dist.display().to_string();
    let args = ["--always-open", "--sessions-per-minute", "0", "--web-dir", &dist_s];
    let mut h = Harness::start(&args);
    let base = h.base();
    let http_addr = base.trim_start_matches("http://").to_string();
    let mut child = Command::new("node")
        .arg("reconnect.mjs")
        .current_dir(&browser)
        .env("MADOGUCHI_BASE", &base)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run node");
    let stdout = child.stdout.take().expect("node stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut all = Vec::new();
    let mut restarted = false;
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
            break;
        }
    }
    all.extend(lines.map_while(Result::ok));
    let status = child.wait().expect("node");
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err);
    let last = all.last().cloned().unwrap_or_default();
    assert!(restarted, "the page never connected: {last}\n{err}");
    assert!(status.success(), "reconnect test failed: {last}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&last).expect("a JSON report");
    assert!(report["back_after_ms"].as_u64().is_some_and(|ms| ms >= 4000), "{report}");
    assert_eq!(h.base(), base);
    eprintln!("{last}");
}
