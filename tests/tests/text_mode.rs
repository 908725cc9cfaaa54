//! The accessible text mode in a real headless Chromium (Debian's, driven by Playwright from
//! npm), with axe-core: see `tests/browser/text_mode.mjs` for the steps. `scripts/test` installs
//! what it needs (`scripts/browser-deps`).

use madoguchi_tests::Harness;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_text_mode_works_without_javascript_live_with_it_and_passes_axe() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/browser"));
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "the browser test packages are not installed: run scripts/browser-deps (scripts/test does)"
    );
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0"]);
    let clerk = h.clerk("text.clerk", "resident_registration");
    let out = Command::new("node")
        .arg("text_mode.mjs")
        .current_dir(&dir)
        .env("MADOGUCHI_BASE", h.base())
        .env("CLERK_TOKEN", &clerk)
        .output()
        .expect("run node (Node.js 20+ is needed for the browser tests)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(out.status.success(), "browser test failed: {last}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(last).expect("a JSON report line");
    assert_eq!(report["ok"], true);
    for (page, r) in report["axe"].as_object().expect("axe results") {
        assert_eq!(r["serious"], 0, "{page}: {r}");
    }
    assert!(report["axe"].as_object().unwrap().len() >= 4, "{report}");
    for (page, n) in report["page_bytes"].as_object().expect("sizes") {
        assert!(n.as_u64().unwrap() <= 50 * 1024, "{page}: {n} bytes");
    }
    // The live page heard of the call: the server really pushed it.
    assert!(report["live_called_ms"].as_u64().is_some(), "{report}");
    eprintln!("{last}");
}
