//! The one-time link that carries a resident's session to the consultation page
//! (`POST /api/v1/consultations/page-link`): only the browser it was made for may use it. A link
//! arriving from another site — an attacker's page sending a victim to the attacker's link, which
//! would put the victim in the attacker's consultation — is refused and stays unused; the
//! browser client's frame and the desktop client's system browser open it; a browser already in
//! the office as someone else is asked before its session is replaced.

use madoguchi_tests::{Harness, browser_report, screenshots, start_consultation};
use std::process::Command;

const FLAGS: &[&str] = &["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1"];

/// What the office answered a request: status, `Location`, the session cookie it set, the body.
struct Answer {
    status: u16,
    location: String,
    cookie: Option<String>,
    body: String,
}

/// A request to the office, redirects not followed.
fn request(h: &Harness, method: &str, path: &str, headers: &[(&str, &str)], form: Option<&[(&str, &str)]>) -> Answer {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client.request(m, format!("{}{path}", h.base()));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(fields) = form {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("content-type", "application/x-www-form-urlencoded").body(body.join("&"));
        }
        let r = req.send().await.expect("request");
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let cookie =
            r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
                c.strip_prefix("madoguchi_session=").map(|v| v.split(';').next().unwrap_or("").to_string())
            });
        Answer {
            status: r.status().as_u16(),
            location: header("location").unwrap_or_default(),
            cookie,
            body: r.text().await.expect("body"),
        }
    })
}

/// A fresh link for the resident of `token`, as a path.
fn link(h: &Harness, token: &str) -> String {
    let (s, v) = h.call("POST", "/api/v1/consultations/page-link", Some(token), None);
    assert_eq!(s, 200, "{v}");
    v["url"].as_str().expect("url").to_string()
}

#[test]
fn a_consultation_link_from_another_site_is_refused_and_another_session_is_never_replaced_silently() {
    let h = Harness::start(FLAGS);
    let (_clerk, resident, _id) = start_consultation(&h, "clerk.link", "resident_registration", "a1");
    let base = h.base();
    let url = link(&h, &resident);

    // From another site, however the browser says so: refused, no session set, link unused.
    let evil_referer = "https://evil.example/page";
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("referer", evil_referer)],
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "none"), ("referer", evil_referer)],
    ] {
        let a = request(&h, "GET", &url, &headers, None);
        assert_eq!((a.status, &a.cookie), (403, &None), "{headers:?}: {}", a.body);
        assert!(a.body.contains("ほかのサイト"), "{headers:?} is told why: {}", a.body);
    }
    // A navigation that says nothing of where it came from (the desktop client's system browser,
    // a link in a mail, a browser without these headers): asked first, nothing set; the answer,
    // posted from the question's page, opens it, once.
    let code = url.split("code=").nth(1).and_then(|r| r.split('&').next()).expect("code").to_string();
    for headers in [vec![("sec-fetch-site", "none")], vec![]] {
        let a = request(&h, "GET", &url, &headers, None);
        assert_eq!((a.status, &a.cookie), (200, &None), "{headers:?}: {}", a.body);
        assert!(
            a.body.contains("住民-clerk.link") && a.body.contains(r#"action="/text/consultation/open""#),
            "{}",
            a.body
        );
    }
    let answer = |headers: &[(&str, &str)]| {
        request(&h, "POST", "/text/consultation/open", headers, Some(&[("code", &code), ("csrf", ""), ("lang", "ja")]))
    };
    let a = answer(&[]);
    assert_eq!((a.status, &a.cookie), (403, &None), "an answer that says nothing of where it comes from: {}", a.body);
    let a = answer(&[("origin", "null")]);
    assert_eq!((a.status, &a.cookie), (403, &None), "an answer from a page without an origin: {}", a.body);
    let a = answer(&[("origin", &base)]);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location, "/text/consultation?lang=ja");
    assert_eq!(a.cookie.as_deref(), Some(resident.as_str()), "the resident's session");
    let a = answer(&[("origin", &base)]);
    assert_eq!((a.status, a.cookie.is_some()), (403, false), "a second opening: {}", a.body);

    // The browser client's frame: same origin, its page the referrer.
    let url = link(&h, &resident);
    let play = format!("{base}/play");
    let a = request(&h, "GET", &url, &[("sec-fetch-site", "same-origin"), ("referer", &play)], None);
    assert_eq!((a.status, a.cookie.as_deref()), (303, Some(resident.as_str())), "{}", a.body);
    // A browser that already holds this very session: nothing to ask.
    let url = link(&h, &resident);
    let own = format!("madoguchi_session={resident}");
    let a = request(&h, "GET", &url, &[("sec-fetch-site", "same-origin"), ("cookie", &own)], None);
    assert_eq!(a.status, 303, "{}", a.body);

    // A browser in the office as someone else: asked first, and nothing changes until it answers.
    let other = h.guest("別の人");
    let theirs = format!("madoguchi_session={other}");
    let url = link(&h, &resident);
    let a = request(&h, "GET", &url, &[("sec-fetch-site", "same-origin"), ("cookie", &theirs)], None);
    assert_eq!((a.status, &a.cookie), (200, &None), "{}", a.body);
    assert!(a.body.contains("別の人") && a.body.contains("住民-clerk.link"), "names both: {}", a.body);
    let csrf = a.body.split(r#"name="csrf" value=""#).nth(1).and_then(|r| r.split('"').next()).expect("a form token");
    let code = url.split("code=").nth(1).and_then(|r| r.split('&').next()).expect("code");
    let post = |headers: &[(&str, &str)], token: &str| {
        request(
            &h,
            "POST",
            "/text/consultation/open",
            headers,
            Some(&[("code", code), ("csrf", token), ("lang", "ja")]),
        )
    };
    let a = post(&[("cookie", &theirs), ("sec-fetch-site", "cross-site")], csrf);
    assert_eq!((a.status, &a.cookie), (403, &None), "an answer from another site: {}", a.body);
    let a = post(&[("cookie", &theirs), ("origin", &base)], "0123456789abcdef0123456789abcdef");
    assert_eq!((a.status, &a.cookie), (403, &None), "an answer without this session's token: {}", a.body);
    let a = post(&[("cookie", &theirs), ("origin", &base)], csrf);
    assert_eq!((a.status, a.cookie.as_deref()), (303, Some(resident.as_str())), "the answer: {}", a.body);
}

/// In a real Chromium: the link opened from another site's page (http://localhost:<port> is
/// another site than http://127.0.0.1:<port>) is refused and sets no session; the same link in a
/// frame of the office's own page — the browser client's way — opens the consultation.
#[test]
fn in_chromium_a_link_from_another_site_is_refused_and_the_browser_clients_frame_opens_it() {
    let h = Harness::start(FLAGS);
    let (_clerk, resident, _id) = start_consultation(&h, "clerk.frame", "resident_registration", "a1");
    let url = format!("{}{}", h.base(), link(&h, &resident));
    let report = browser_report(
        "consult_link.mjs",
        &[("URL", &url), ("MODE", "frame"), ("SCREENSHOTS", &screenshots("consult-link"))],
    );
    assert_eq!(report["cross_site_status"], 403, "{report}");
    assert!(report["people"].as_str().is_some_and(|p| p.contains("住民-clerk.frame")), "{report}");
}

/// The desktop client's way: at the counter when the clerk starts the consultation, the app asks
/// for a link and opens it in the system browser (here `xdg-open` is a stand-in that hands the
/// address to headless Chromium); asked first there, the resident confirms and lands on the
/// consultation page with the app's session.
#[test]
fn the_desktop_client_opens_the_consultation_in_the_system_browser() {
    let _one = crate::web_client::BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let bin = crate::native_client::client_binary();
    let x = crate::native_client::Xvfb::start();
    let h = Harness::start(FLAGS);
    let dir = std::env::temp_dir().join(format!("madoguchi-desktop-consult-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = crate::signin::stand_in_opener(&dir);
    let opened = dir.join("opened");
    let state = dir.join("state");
    let clerk = h.clerk("clerk.desktop", "resident_registration");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/a1/take", Some(&clerk), None).0, 200);
    let mut cmd = Command::new(bin);
    cmd.args(["--server", &h.base(), "--name", "デスクトップ住民"])
        .env("PATH", path)
        .env("XDG_STATE_HOME", &state)
        .env("OPENED", &opened);
    let mut watcher = h.join("watcher");
    // Once the app is in the office: its resident takes a ticket, is called, arrives, and the
    // clerk starts the consultation; then the system browser opens what the app handed it.
    let mut started = false;
    let mut browser = None;
    let (status, log) = crate::native_client::drive_client(cmd, &x, &mut watcher, |w, _| {
        if !started && w.others.values().any(|(n, _)| n == "デスクトップ住民") {
            let file = std::fs::read_dir(state.join("madoguchi")).expect("the session file").next();
            let token = std::fs::read_to_string(file.expect("one").expect("entry").path()).expect("token");
            let (s, v) = h.call(
                "POST",
                "/api/v1/tickets",
                Some(&token),
                Some(&serde_json::json!({"department": "resident_registration"})),
            );
            assert_eq!(s, 201, "{v}");
            let ticket = v["id"].as_i64().expect("id");
            assert_eq!(h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None).0, 200);
            assert_eq!(h.call("POST", &format!("/api/v1/tickets/{ticket}/arrived"), Some(&token), None).0, 200);
            let (s, v) = h.call("POST", "/api/v1/staff/consultations", Some(&clerk), None);
            assert_eq!(s, 201, "{v}");
            started = true;
        }
        if started && browser.is_none() && opened.exists() {
            let url = std::fs::read_to_string(&opened).expect("opened").trim().to_string();
            let shots = screenshots("consult-link-desktop");
            browser = Some((
                url.clone(),
                browser_report("consult_link.mjs", &[("URL", &url), ("MODE", "system"), ("SCREENSHOTS", &shots)]),
            ));
        }
        browser.is_some()
    });
    let (url, report) = browser.unwrap_or_else(|| panic!("the app never opened the browser ({status:?}):\n{log}"));
    assert!(url.starts_with(&format!("{}/text/consultation/open?code=", h.base())), "{url}");
    assert!(report["people"].as_str().is_some_and(|p| p.contains("デスクトップ住民")), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
