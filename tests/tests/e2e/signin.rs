//! Residents signing in with OpenID Connect, against a real provider: `oidc-provider` (npm) run
//! by `tests/browser/oidc_provider.mjs` on loopback, with a verified and a plain test user. The
//! browser part (`tests/browser/signin.mjs`) goes through the real redirects; this side checks
//! what the sessions it ends with may do.

use madoguchi_tests::{BrowserScript, Harness, browser_report, screenshots};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The provider's process, stopped when the test ends (passed or not).
struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const SECRET: &str = "office-client-secret-for-the-sign-in-tests";

/// The office configured for the provider at `issuer`, and the provider itself.
fn office_and_provider() -> (Harness, Provider, tempfile_path::Dir, String) {
    office_and_provider_with(&[])
}

/// [`office_and_provider`], the server started with `extra` flags too.
fn office_and_provider_with(extra: &[&str]) -> (Harness, Provider, tempfile_path::Dir, String) {
    let port = free_port();
    let dir = tempfile_path::Dir::new();
    let config = dir.0.join("oidc.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[provider]]
id = "testidp"
name = {{ ja = "テスト IdP", en = "Test IdP" }}
issuer = "http://127.0.0.1:{port}"
client_id = "madoguchi-office"
client_secret_env = "MADOGUCHI_TEST_OIDC_SECRET"
scopes = ["profile", "madoguchi"]
verified_when = {{ claim = "identity_assurance", values = ["mynumber_card"] }}
"#
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let flags = ["--always-open", "--sessions-per-minute", "0", "--media-bind", "127.0.0.1", "--oidc-config", &config];
    let h = Harness::start_with_env(&[&flags[..], extra].concat(), &[("MADOGUCHI_TEST_OIDC_SECRET", SECRET)]);
    let browser = concat!(env!("CARGO_MANIFEST_DIR"), "/browser");
    let mut child = Command::new("node")
        .arg("oidc_provider.mjs")
        .current_dir(browser)
        .env("PORT", port.to_string())
        .env("CLIENT_ID", "madoguchi-office")
        .env("CLIENT_SECRET", SECRET)
        .env("REDIRECT_URI", format!("{}/auth/oidc/callback", h.base()))
        .env("POST_LOGOUT_URI", format!("{}/text", h.base()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run node");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("\"ready\":true"), "the provider did not start: {line}");
    (h, Provider(child), dir, format!("http://127.0.0.1:{port}"))
}

/// A small temporary directory, removed at the end.
mod tempfile_path {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!("madoguchi-oidc-{}-{}", std::process::id(), rand_suffix()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn rand_suffix() -> u64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
    }
}

#[test]
fn residents_sign_in_with_a_real_provider_and_its_level_decides_what_they_may_submit() {
    let (h, _provider, _dir, issuer) = office_and_provider();
    let report = browser_report(
        "signin.mjs",
        &[("MADOGUCHI_BASE", &h.base()), ("ISSUER", &issuer), ("SCREENSHOTS", &screenshots("signin"))],
    );
    let token = |k: &str| report[k].as_str().unwrap_or_else(|| panic!("{k} in {report}")).to_string();
    let (verified, plain, second, guest) =
        (token("verified_token"), token("plain_token"), token("second_device_token"), token("guest_token"));

    // The guest's session ended when they signed in.
    assert_eq!(h.call("GET", "/api/v1/tickets", Some(&guest), None).0, 401);
    // Two devices, one resident: the same tickets. The second device signed out: its session
    // is over.
    let (s, mine) = h.call("GET", "/api/v1/tickets", Some(&verified), None);
    assert_eq!(s, 200);
    assert_eq!(h.call("GET", "/api/v1/tickets", Some(&second), None).0, 401, "signed out");
    assert!(mine.as_array().unwrap().iter().any(|t| t["label"] == report["ticket"]), "{mine}");

    // A clerk of the department sees who is verified, by the name the provider vouches for; the
    // plain sign-in and guests are marked as not verified.
    let clerk = h.clerk("clerk.children", "children_families");
    let (s, queue) = h.call("GET", "/api/v1/staff/queue", Some(&clerk), None);
    assert_eq!(s, 200, "{queue}");
    let ours = queue.as_array().unwrap().iter().find(|t| t["label"] == report["ticket"]).expect("the ticket");
    assert_eq!((ours["verified"].as_bool(), ours["verified_name"].as_str()), (Some(true), Some("山田 太郎")), "{ours}");
    assert!(!ours.to_string().contains("token"), "no provider token reaches staff: {ours}");
    let (_, t) = h.call("POST", "/api/v1/tickets", Some(&plain), Some(&json!({"department": "children_families"})));
    let (_, queue) = h.call("GET", "/api/v1/staff/queue", Some(&clerk), None);
    let theirs =
        queue.as_array().unwrap().iter().find(|q| q["label"] == t["label"]).expect("the plain resident's ticket");
    assert_eq!((theirs["verified"].as_bool(), theirs.get("verified_name")), (Some(false), None), "{theirs}");

    // A procedure that needs a verified identity: the verified resident submits it; the plain
    // sign-in is refused with a clear error.
    let form = json!({"procedure_id": "child_allowance", "form_data": child_allowance_form()});
    for (who, expect) in [(&verified, 200), (&plain, 403)] {
        let (s, app) = h.call("POST", "/api/v1/applications", Some(who), Some(&form));
        assert_eq!(s, 201, "{app}");
        let reference = app["reference"].as_str().unwrap();
        let (s, v) = h.call("POST", &format!("/api/v1/applications/{reference}/submit"), Some(who), None);
        assert_eq!(s, expect, "{v}");
        if expect == 403 {
            assert_eq!(v["code"], "identity_required", "{v}");
        }
    }

    // The second device's guest signed in as the known resident: their ticket in another
    // department and their draft are the resident's now, the ticket that clashed with the
    // resident's own is cancelled, every move is on the record, and the audit chain holds.
    let merge = &report["merge"];
    let (s, mine) = h.call("GET", "/api/v1/tickets", Some(&verified), None);
    assert_eq!(s, 200);
    let status_of = |label: &serde_json::Value| {
        mine.as_array().unwrap().iter().find(|t| t["label"] == *label).map(|t| t["status"].clone())
    };
    assert_eq!(status_of(&merge["moved"]), Some(json!("waiting")), "{mine}");
    assert_eq!(status_of(&merge["clash"]), Some(json!("cancelled")), "{mine}");
    let (_, apps) = h.call("GET", "/api/v1/applications", Some(&verified), None);
    assert!(apps.as_array().unwrap().iter().any(|a| a["reference"] == merge["draft"]), "{apps}");
    assert_eq!(h.call("GET", "/api/v1/tickets", merge["guest_token"].as_str(), None).0, 401, "the guest session ended");
    let rows = |sql: &str| -> Vec<String> { h.store.rows(sql).into_iter().map(|r| r.join(" ")).collect() };
    let ticket_events = rows("SELECT action FROM ticket_events WHERE detail LIKE '%guest%' ORDER BY id");
    // One event per moved or cancelled ticket: the second device's two, then the 3D page's.
    assert_eq!(ticket_events, ["cancelled", "moved_to_resident", "moved_to_resident"]);
    assert_eq!(rows("SELECT action FROM application_events WHERE action = 'moved_to_resident'").len(), 1);
    let verify = h.store.cli(&["audit", "verify"], "");
    assert!(verify.status.success(), "audit verify: {}", String::from_utf8_lossy(&verify.stderr));

    // The 3D page's sign-in: the guest's session ended, the new one is the plain resident's,
    // with the guest's ticket; the one-time code cannot be traded again (a guessed one neither).
    let play = &report["play"];
    assert_eq!(h.call("GET", "/api/v1/tickets", play["guest_token"].as_str(), None).0, 401);
    let (s, theirs) = h.call("GET", "/api/v1/tickets", play["token"].as_str(), None);
    assert_eq!(s, 200);
    assert!(theirs.as_array().unwrap().iter().any(|t| t["label"] == play["label"]), "{theirs}");
    let (_, same) = h.call("GET", "/api/v1/sessions/me", play["token"].as_str(), None);
    let (_, plain_me) = h.call("GET", "/api/v1/sessions/me", Some(&plain), None);
    assert_eq!(same["resident"]["id"], plain_me["resident"]["id"], "{same} {plain_me}");
    assert!(same["resident"]["id"].is_string(), "{same}");
    let (s, v) = h.call("POST", "/api/v1/sessions/handoff", None, Some(&json!({"code": "00".repeat(24)})));
    assert_eq!((s, v["code"].as_str()), (404, Some("handoff_invalid")), "{v}");

    // The records say who signed in how: the guest became the verified resident.
    let events: Vec<String> =
        h.store.rows("SELECT action FROM resident_events ORDER BY id").into_iter().map(|r| r[0].clone()).collect();
    assert!(events.iter().any(|a| a == "upgraded_from_guest"), "{events:?}");
    assert!(events.iter().any(|a| a == "guest_merged") && events.iter().any(|a| a == "merged_into"), "{events:?}");
    // Five good sign-ins (verified, plain, second device, rotated key, the 3D page); the refused
    // ones left nothing.
    assert_eq!(events.iter().filter(|a| *a == "signed_in").count(), 5, "{events:?}");
    // No provider token is kept anywhere: identities hold the subject and the level only.
    let identities: Vec<String> = h
        .store
        .rows("SELECT provider || ' ' || subject || ' ' || level FROM resident_identities ORDER BY subject")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(identities, vec!["testidp plain-user guest", "testidp verified-user verified"]);
}

/// A child allowance claim as the catalog wants it.
fn child_allowance_form() -> serde_json::Value {
    json!({
        "claimant_name": "山田 太郎",
        "child_name": "山田 一郎",
        "child_birth_date": "2024-05-01",
        "children_in_care": 1,
        "bank_account": "まどぐち銀行 本店 1234567"
    })
}

/// A stand-in for the system browser: an `xdg-open` in `dir/bin` that writes the address it is
/// asked to open to `dir/opened`. Returns the `PATH` that finds it first.
pub(crate) fn stand_in_opener(dir: &std::path::Path) -> String {
    let bindir = dir.join("bin");
    std::fs::create_dir_all(&bindir).unwrap();
    let opener = bindir.join("xdg-open");
    std::fs::write(&opener, "#!/bin/sh\nprintf '%s\\n' \"$1\" > \"$OPENED.part\" && mv \"$OPENED.part\" \"$OPENED\"\n")
        .unwrap();
    std::fs::set_permissions(&opener, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{}:{}", bindir.display(), std::env::var("PATH").unwrap_or_default())
}

/// The system browser's part: as soon as the app opens an address (`opened` appears), headless
/// Chromium signs in there as `login`. Returns the address and the browser's report.
fn system_browser(
    opened: std::path::PathBuf,
    login: &'static str,
    shots: String,
) -> std::thread::JoinHandle<(String, serde_json::Value)> {
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !opened.exists() {
            assert!(std::time::Instant::now() < end, "the client never opened the browser");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let url = std::fs::read_to_string(&opened).unwrap().trim().to_string();
        let report = browser_report("desktop_signin.mjs", &[("URL", &url), ("LOGIN", login), ("SCREENSHOTS", &shots)]);
        (url, report)
    })
}

/// The desktop client signs in (RFC 8252): with `--sign-in`, it listens on loopback and opens
/// the office's start address in the system browser (here `xdg-open` is a stand-in that hands
/// the address to headless Chromium); the resident signs in with the provider there; the office
/// sends the browser to the app's loopback address with a code bound to the app's PKCE
/// challenge; the app trades it with its verifier, and enters the office as the signed-in,
/// verified resident (a watcher sees the provider's name), in Vietnamese.
#[test]
fn the_desktop_client_signs_in_through_the_system_browser_and_a_loopback_redirect() {
    let _one = crate::web_client::BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let bin = crate::native_client::client_binary();
    let x = crate::native_client::Xvfb::start();
    let (h, _provider, dir, _issuer) = office_and_provider();
    let path = stand_in_opener(&dir.0);
    let opened = dir.0.join("opened");
    let shot = dir.0.join("desktop.png");
    let mut watcher = h.join("watcher");
    let base = h.base();
    let browser = system_browser(opened.clone(), "verified-user", screenshots("signin-desktop"));
    let mut cmd = Command::new(bin);
    cmd.args(["--server", &base, "--lang", "vi", "--sign-in", "testidp", "--screenshot"])
        .arg(&shot)
        .env("PATH", path)
        .env("XDG_STATE_HOME", dir.0.join("state"))
        .env("OPENED", &opened);
    let (status, err, saw) = crate::native_client::run_client(cmd, &x, &mut watcher, "山田 太郎", |_| {});
    let (url, report) = browser.join().expect("the browser's part");
    assert!(
        url.starts_with(&format!("{base}/auth/oidc/testidp/start?"))
            && url.contains("back=loopback")
            && url.contains("challenge="),
        "{url}"
    );
    assert!(!url.contains("verifier"), "the verifier never leaves the app: {url}");
    assert!(report["page"].as_str().is_some_and(|p| p.contains("Quý vị đã đăng nhập")), "{report}");
    assert_eq!(report["code_length"], 48, "{report}");
    assert!(
        !report["cookies"].as_array().unwrap().iter().any(|c| c == "madoguchi_session"),
        "the system browser is left without a session of its own: {report}"
    );
    // The app entered as the signed-in resident and exited after its screenshot.
    assert!(status.is_some_and(|s| s.success()), "the client failed ({status:?}):\n{err}");
    assert!(err.contains("signed in as 山田 太郎"), "{err}");
    assert!(saw, "the watcher saw the signed-in resident's avatar");
    let level: Vec<String> = h
        .store
        .rows("SELECT r.identity_level FROM residents r JOIN resident_identities i ON i.resident_id = r.id WHERE i.subject = 'verified-user'")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(level, ["verified"]);
}

/// The only session file the desktop client keeps under `state`, and the token in it.
fn kept_session(state: &std::path::Path) -> (std::path::PathBuf, String) {
    let files: Vec<_> = std::fs::read_dir(state.join("madoguchi"))
        .expect("the client keeps its session")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let token = std::fs::read_to_string(&files[0]).unwrap();
    (files[0].clone(), token)
}

/// The desktop client offers the office's sign-in with buttons, clicked here with a real pointer
/// (xdotool under Xvfb):
/// - on its join screen: the resident signs in in the system browser and enters the office
///   under the provider's name; the session is kept (file mode 0600) for the next start;
/// - to a guest in the office (a session kept from before, with a ticket): the guest signs in
///   as a resident the office already knows; the app hands its guest session over with the
///   sign-in's code, the ticket becomes the resident's, the guest session ends — and the app,
///   waiting for its sign-in, comes back into the office as the resident instead of leaving.
#[test]
fn the_desktop_client_signs_in_from_its_join_screen_and_a_guest_brings_their_ticket() {
    let _one = crate::web_client::BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let bin = crate::native_client::client_binary();
    let x = crate::native_client::Xvfb::start();
    let (h, _provider, dir, _issuer) = office_and_provider();
    let path = stand_in_opener(&dir.0);
    let opened = dir.0.join("opened");
    let state = dir.0.join("state");
    let base = h.base();
    let client = || {
        let mut cmd = Command::new(&bin);
        cmd.args(["--server", &base, "--lang", "en"])
            .env("PATH", &path)
            .env("XDG_STATE_HOME", &state)
            .env("OPENED", &opened);
        cmd
    };
    // Clicks `at` every 3 s until the app opens the browser, then waits for `name` in the office.
    let drive = |cmd: Command, watcher: &mut madoguchi_bots::Bot, first: &str, at: (f32, f32, f32, f32), name: &str| {
        let (mut clicks, mut last) = (0, std::time::Duration::ZERO);
        let (mut ready, mut seen) = (first.is_empty(), false);
        let mut names = std::collections::BTreeSet::new();
        let (status, log) = crate::native_client::drive_client(cmd, &x, watcher, |w, t| {
            names.extend(w.others.values().map(|(n, _)| n.clone()));
            ready |= w.others.values().any(|(n, _)| n == first);
            if ready && !opened.exists() && t >= last + std::time::Duration::from_secs(3) {
                last = t;
                clicks += crate::native_client::click_window(&x, at.0, at.1, at.2, at.3) as u32;
            }
            seen |= opened.exists() && w.others.values().any(|(n, _)| n == name);
            seen
        });
        assert!(seen, "the watcher never saw {name} but {names:?} (clicks: {clicks}, {status:?}):\n{log}");
        log
    };

    // The join screen: its first row holds the sign-in (the panel is at 25 %/20 % of the window,
    // with 18 px of padding; the button is at least 44 px high).
    let browser = system_browser(opened.clone(), "plain-user", screenshots("signin-desktop-join"));
    let mut watcher = h.join("watcher");
    drive(client(), &mut watcher, "", (0.25, 0.2, 60.0, 44.0), "Alex Plain");
    let (url, report) = browser.join().expect("the browser's part");
    assert!(url.starts_with(&format!("{base}/auth/oidc/testidp/start?")) && url.contains("lang=en"), "{url}");
    assert!(report["page"].as_str().is_some_and(|p| p.contains("signed in")), "{report}");
    let (file, token) = kept_session(&state);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions()) & 0o777,
        0o600
    );
    let (s, me) = h.call("GET", "/api/v1/sessions/me", Some(&token), None);
    assert_eq!((s, me["resident"]["display_name"].as_str()), (200, Some("Alex Plain")), "{me}");

    // A guest with a ticket, whose session the app kept from before.
    let guest = h.guest("ゲスト花子");
    let (s, ticket) =
        h.call("POST", "/api/v1/tickets", Some(&guest), Some(&json!({"department": "resident_registration"})));
    assert_eq!(s, 201, "{ticket}");
    std::fs::write(&file, &guest).unwrap();
    std::fs::remove_file(&opened).unwrap();
    let browser = system_browser(opened.clone(), "verified-user", screenshots("signin-desktop-guest"));
    let mut watcher = h.join("watcher2");
    // The office's sign-in button, in its lower right corner.
    drive(client(), &mut watcher, "ゲスト花子", (1.0, 1.0, -40.0, -32.0), "山田 太郎");
    let (url, _) = browser.join().expect("the browser's part");
    assert!(url.contains("back=loopback"), "{url}");

    // The ticket is the resident's now; the guest session is over; the app keeps the
    // resident's session.
    assert_eq!(h.call("GET", "/api/v1/tickets", Some(&guest), None).0, 401);
    let (_, token) = kept_session(&state);
    let (s, me) = h.call("GET", "/api/v1/sessions/me", Some(&token), None);
    assert_eq!((s, me["resident"]["identity_level"].as_str()), (200, Some("verified")), "{me}");
    let (s, mine) = h.call("GET", "/api/v1/tickets", Some(&token), None);
    assert_eq!(s, 200);
    assert!(mine.as_array().unwrap().iter().any(|t| t["label"] == ticket["label"]), "{mine} {ticket}");
    let merged = h.store.rows(
        "SELECT e.detail FROM resident_events e JOIN resident_identities i ON i.resident_id = e.resident_id WHERE i.subject = 'verified-user' AND e.action = 'guest_merged'",
    );
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert!(merged[0][0].contains("\"tickets\":1"), "{merged:?}");
}

/// The office lists its ways to sign in, in the language asked for (none when it has none). A
/// sign-in's code traded with a bearer token that is not a guest's is refused before the code
/// is looked at: an ended session with 401, a clerk's with 403.
/// One address block begins sign-ins as fast as it can — 10 000, the whole table of sign-ins
/// under way were it not shared, from 1 000 /64s of one /48, through a trusted proxy that names
/// them (`--trusted-proxies`) — and a resident of another network still signs in (in Chromium,
/// through the provider's pages), while the block keeps only its share.
#[test]
fn one_address_block_cannot_keep_the_office_from_signing_residents_in() {
    let (h, _provider, _dir, _issuer) = office_and_provider_with(&["--trusted-proxies", "127.0.0.1/32"]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let base = h.base();
    let started = rt.block_on(async {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut started = 0;
        let mut batch = tokio::task::JoinSet::new();
        for i in 0..10_000u32 {
            let (client, url) = (client.clone(), format!("{base}/auth/oidc/testidp/start?lang=en"));
            let from = format!("2001:db8:1:{:x}::{}", i / 10, i % 10 + 1);
            batch.spawn(async move {
                let r = client.get(url).header("x-forwarded-for", from).send().await.expect("start");
                r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_string()
            });
            if batch.len() >= 16 {
                started += usize::from(batch.join_next().await.unwrap().unwrap().contains("/auth?"));
            }
        }
        while let Some(r) = batch.join_next().await {
            started += usize::from(r.unwrap().contains("/auth?"));
        }
        started
    });
    assert_eq!(started, 10_000, "each start went on to the provider (the block's oldest made room)");
    let report = browser_report("signin_plain.mjs", &[("MADOGUCHI_BASE", &h.base())]);
    assert_eq!(report["session"], true, "{report}");
}

#[test]
fn the_office_lists_its_providers_and_a_handoff_checks_the_guest_first() {
    let (h, _provider, _dir, _issuer) = office_and_provider();
    let (s, ja) = h.call("GET", "/api/v1/signin", None, None);
    assert_eq!((s, &ja), (200, &json!({"providers": [{"id": "testidp", "name": "テスト IdP"}]})));
    let (_, en) = h.call("GET", "/api/v1/signin?lang=en", None, None);
    assert_eq!(en["providers"][0]["name"], "Test IdP", "{en}");
    let (_, ko) = h.call("GET", "/api/v1/signin?lang=ko", None, None);
    assert_eq!(ko["providers"][0]["name"], "テスト IdP (Test IdP)", "a name missing in Korean: {ko}");

    let code = json!({"code": "0123456789abcdef0123456789abcdef", "verifier": "x".repeat(43)});
    let (s, e) = h.call("POST", "/api/v1/sessions/handoff", Some("no-such-session"), Some(&code));
    assert_eq!(s, 401, "{e}");
    let clerk = h.clerk("clerk.children", "children_families");
    let (s, e) = h.call("POST", "/api/v1/sessions/handoff", Some(&clerk), Some(&code));
    assert_eq!((s, e["code"].as_str()), (403, Some("resident_only")), "{e}");
    let guest = h.guest("ゲスト");
    let (s, e) = h.call("POST", "/api/v1/sessions/handoff", Some(&guest), Some(&code));
    assert_eq!((s, e["code"].as_str()), (404, Some("handoff_invalid")), "{e}");
    // The guest's session is untouched by a code that was not valid.
    assert_eq!(h.call("GET", "/api/v1/sessions/me", Some(&guest), None).0, 200);

    let plain = Harness::start(&[]);
    let (s, none) = plain.call("GET", "/api/v1/signin", None, None);
    assert_eq!((s, none), (200, json!({"providers": []})));
}

/// A guest at the counter signs in from the consultation page (headless Chromium, a 360 px
/// phone): the clerk filled a child allowance claim (it needs a verified identity); the guest's
/// confirmation is refused and the page offers the office's sign-in (a 44 px link, axe-clean);
/// through the provider's real login the guest comes back to the same consultation as the
/// verified resident, who confirms: the claim is submitted in their name, and the guest's
/// session is over.
#[test]
fn a_guest_signs_in_from_the_consultation_page_and_then_confirms_a_verified_procedure() {
    let (h, _provider, _dir, _issuer) = office_and_provider();
    let clerk = h.clerk("clerk.c", "children_families");
    assert_eq!(h.call("POST", "/api/v1/staff/desks/c1/take", Some(&clerk), None).0, 200);
    let mut page = BrowserScript::start(
        "consult_signin.mjs",
        &[("MADOGUCHI_BASE", &h.base()), ("LOGIN", "verified-user"), ("SCREENSHOTS", &screenshots("consult-signin"))],
    );
    let mut last = page.next_line();
    if last == "ticket" {
        let (s, v) = h.call("POST", "/api/v1/staff/desk/call-next", Some(&clerk), None);
        assert_eq!(s, 200, "{v}");
        page.answer("called");
        last = page.next_line();
    }
    let mut reference = String::new();
    if last == "arrived" {
        let (s, v) = h.call("POST", "/api/v1/staff/consultations", Some(&clerk), None);
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_i64().unwrap();
        let path = format!("/api/v1/staff/consultations/{id}/applications");
        let (s, app) = h.call("POST", &path, Some(&clerk), Some(&json!({"procedure_id": "child_allowance"})));
        assert_eq!(s, 201, "{app}");
        reference = app["reference"].as_str().unwrap().to_string();
        let path = format!("/api/v1/staff/applications/{reference}");
        let (s, v) = h.call("PATCH", &path, Some(&clerk), Some(&json!({"form_data": child_allowance_form()})));
        assert_eq!(s, 200, "{v}");
        page.answer("filled");
        last = page.next_line();
    }
    let report = page.finish(last);
    let (s, app) = h.call("GET", &format!("/api/v1/staff/applications/{reference}"), Some(&clerk), None);
    assert_eq!((s, app["status"].as_str()), (200, Some("submitted")), "{app}");
    let owner = h.store.rows(&format!(
        "SELECT r.identity_level FROM applications a JOIN residents r ON r.id = a.resident_id JOIN resident_identities i ON i.resident_id = r.id WHERE a.reference = '{reference}' AND i.subject = 'verified-user'"
    ));
    assert_eq!(owner, [["verified".to_string()]], "the claim is the verified resident's");
    let guest = report["guest_session"].as_str().expect("the guest's session");
    assert_eq!(h.call("GET", "/api/v1/sessions/me", Some(guest), None).0, 401, "the guest's session ended");
}
