//! The accessible text mode in a real headless Chromium (Debian's, driven by Playwright from
//! npm), with axe-core: see `tests/browser/text_mode.mjs` for the steps. `scripts/test` installs
//! what it needs (`scripts/test-deps`).

use madoguchi_tests::Harness;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_text_mode_works_without_javascript_live_with_it_and_passes_axe() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/browser"));
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "the browser test packages are not installed: run scripts/test-deps (scripts/test does)"
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

/// Without a browser: forms from another site, and the live stream's first event.
#[test]
fn forms_from_other_sites_are_refused_and_the_live_stream_starts_with_the_current_state() {
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = h.base();
    rt.block_on(async {
        // Starting a session from another site's form is refused.
        let r = http
            .post(format!("{base}/text/start"))
            .header("origin", "https://evil.example")
            .form(&[("name", "x"), ("lang", "en")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        let r = http
            .post(format!("{base}/text/start"))
            .header("sec-fetch-site", "cross-site")
            .form(&[("name", "x"), ("lang", "en")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        // The same form from this site starts one.
        let r = http.post(format!("{base}/text/start")).form(&[("name", "Mio"), ("lang", "en")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        assert!(r.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));
        // A forged logout (no valid form token) does not end the session.
        let r = http
            .post(format!("{base}/text/leave"))
            .header("cookie", &cookie)
            .form(&[("csrf", "00"), ("lang", "en")])
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("set-cookie").is_none(), "the cookie is kept");
        let page = http.get(format!("{base}/text?lang=en")).header("cookie", &cookie).send().await.unwrap();
        let html = page.text().await.unwrap();
        assert!(html.contains("Your tickets"), "still signed in");
        let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let r = http
            .post(format!("{base}/text/tickets"))
            .header("cookie", &cookie)
            .form(&[("department", "taxation"), ("csrf", csrf.as_str()), ("lang", "en")])
            .send()
            .await
            .unwrap();
        assert!(r.headers()["location"].to_str().unwrap().contains("notice=taken"));
        // The live stream's first event is the current state: E-001, without waiting for a change.
        let mut live = http.get(format!("{base}/text/events?lang=en")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(live.status().as_u16(), 200);
        let first =
            tokio::time::timeout(std::time::Duration::from_secs(5), live.chunk()).await.expect("an event at once");
        let text = String::from_utf8(first.unwrap().unwrap().to_vec()).unwrap();
        assert!(text.starts_with("event: tickets") && text.contains("E-001"), "{text}");
        // Without a session there is no stream.
        let r = http.get(format!("{base}/text/events")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    });
}
