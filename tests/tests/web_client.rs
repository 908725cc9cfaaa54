//! The 3D client in a real browser: the wasm build (`scripts/build-web`, which `scripts/test`
//! runs) served by the server, loaded in headless Chromium through `tests/browser/client3d.mjs`.

use madoguchi_tests::Harness;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn the_browser_client_renders_joins_over_websocket_walks_and_takes_a_ticket() {
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
    let mut saw_alex = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while std::time::Instant::now() < deadline {
        watcher.pump();
        saw_alex |= watcher.others.values().any(|(n, _)| n == "Alex");
        if child.try_wait().expect("node").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(out.status.success(), "browser test failed: {last}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(last).expect("a JSON report");
    assert_eq!(report["ticket"], "C-001", "{report}");
    assert!(report["distinct_colors"].as_u64().unwrap_or(0) >= 8, "{report}");
    assert!(saw_alex, "a UDP client saw the browser client's avatar (over WebSocket) in the lobby");
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "a PNG screenshot was saved");
    eprintln!("{last}");
}
