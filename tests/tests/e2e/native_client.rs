//! The desktop client draws the office: under Xvfb (a virtual X display) with Mesa's software
//! Vulkan (lavapipe), it joins the real server over netcode/UDP, renders the lobby with its
//! Japanese HUD, and saves a PNG (`--screenshot`) that must not be blank.

use madoguchi_tests::{Harness, SOON};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A virtual X display on a free number, gone when dropped. The desktop client draws on it in
/// software (Mesa's lavapipe), so it is one of the software-rendered 3D offices that run one at a
/// time ([`madoguchi_tests::software_gl`]).
pub(crate) struct Xvfb {
    child: std::process::Child,
    pub(crate) display: String,
    _gl: madoguchi_tests::SoftwareGl,
}

impl Xvfb {
    pub(crate) fn start() -> Xvfb {
        let _gl = madoguchi_tests::software_gl();
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is not installed (scripts/test-deps installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("Xvfb display number");
        let n: u32 = line.trim().parse().unwrap_or_else(|_| panic!("Xvfb said {line:?}"));
        Xvfb { child, display: format!(":{n}"), _gl }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the desktop client (`cmd`, with its arguments) on the display `x` until it exits or two
/// minutes pass, reading its log as it comes (a chatty client never blocks on a full pipe) and
/// pumping `watcher`, who looks out for an avatar called `name`; `meanwhile` is called each turn
/// with the time since the start. Returns the exit status (`None`: killed), the log, and whether
/// the watcher saw the avatar.
pub(crate) fn run_client(
    cmd: Command,
    x: &Xvfb,
    watcher: &mut madoguchi_bots::Bot,
    name: &str,
    mut meanwhile: impl FnMut(Duration),
) -> (Option<std::process::ExitStatus>, String, bool) {
    let mut saw = false;
    let (status, log) = drive_client(cmd, x, watcher, |w, t| {
        saw |= w.others.values().any(|(n, _)| n == name);
        meanwhile(t);
        false
    });
    (status, log, saw)
}

/// Runs the desktop client like [`run_client`], calling `step` each turn with the watcher and
/// the time since the start, until `step` says it is done (the client is then stopped), the
/// client exits, or two minutes pass. Returns the exit status (`None`: stopped) and the log.
pub(crate) fn drive_client(
    mut cmd: Command,
    x: &Xvfb,
    watcher: &mut madoguchi_bots::Bot,
    mut step: impl FnMut(&madoguchi_bots::Bot, Duration) -> bool,
) -> (Option<std::process::ExitStatus>, String) {
    let mut child = cmd
        .env("DISPLAY", &x.display)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the client");
    let log = child.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(log), &mut s);
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        watcher.pump();
        if step(watcher, start.elapsed()) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if let Some(s) = child.try_wait().expect("client") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, log.join().unwrap_or_default())
}

/// Clicks the desktop client's window on display `x` at (`fx` × width, `fy` × height) plus
/// (`dx`, `dy`) pixels, with xdotool (a real pointer event through X). False while there is no
/// window yet.
pub(crate) fn click_window(x: &Xvfb, fx: f32, fy: f32, dx: f32, dy: f32) -> bool {
    let run = |args: &[&str]| {
        Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &x.display)
            .output()
            .expect("xdotool is not installed (scripts/test-deps installs it)")
    };
    let found = run(&["search", "--name", "Madoguchi"]);
    let Some(window) = String::from_utf8_lossy(&found.stdout).lines().next().map(str::to_string) else {
        return false;
    };
    let geometry = String::from_utf8_lossy(&run(&["getwindowgeometry", &window]).stdout).to_string();
    let Some((w, h)) = geometry
        .lines()
        .find_map(|l| l.trim().strip_prefix("Geometry: "))
        .and_then(|g| g.split_once('x'))
        .and_then(|(w, h)| Some((w.parse::<f32>().ok()?, h.parse::<f32>().ok()?)))
    else {
        return false;
    };
    let (px, py) = ((w * fx + dx).round().to_string(), (h * fy + dy).round().to_string());
    run(&["mousemove", "--window", &window, &px, &py, "sleep", "0.3", "click", "1"]).status.success()
}

pub(crate) fn client_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("madoguchi-client");
    assert!(bin.exists(), "{} is not built: cargo build -p madoguchi-client (scripts/test does)", bin.display());
    bin
}

/// Decodes the client's own PNGs (8-bit RGB, stored deflate blocks) back to pixels.
fn read_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let (mut at, mut w, mut h, mut z) = (8, 0, 0, Vec::new());
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                assert_eq!(&data[8..10], &[8, 2], "8-bit RGB");
            }
            b"IDAT" => z.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    let (mut raw, mut p) = (Vec::new(), 2);
    loop {
        let last = z[p] & 1 == 1;
        assert_eq!(z[p] & 6, 0, "stored blocks");
        let len = u16::from_le_bytes([z[p + 1], z[p + 2]]) as usize;
        raw.extend_from_slice(&z[p + 5..p + 5 + len]);
        p += 5 + len;
        if last {
            break;
        }
    }
    let row = w as usize * 3;
    let pixels = raw.chunks(row + 1).flat_map(|r| r[1..].to_vec()).collect();
    (w, h, pixels)
}

#[test]
fn the_desktop_client_renders_the_office_under_xvfb() {
    // Software rendering, like the browser tests': one at a time, or under the full suite's load
    // the screenshot can come before the avatar is drawn.
    let _one = crate::web_client::BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let bin = client_binary();
    let x = Xvfb::start();
    let h = Harness::start(&["--always-open"]);
    let mut watcher = h.join("watcher");
    // Step aside from the entrance, where the client will appear.
    watcher.walk_for(madoguchi_shared::quant::Point::new(-1.6, 0.0), false, Duration::from_millis(1500));
    let shot = std::env::temp_dir().join(format!("madoguchi-native-{}.png", std::process::id()));
    let _ = std::fs::remove_file(&shot);
    let mut cmd = Command::new(bin);
    cmd.args(["--server", &h.base(), "--name", "描画テスト", "--lang", "ja", "--look", "1,0", "--screenshot"])
        .arg(&shot);
    let (status, err, mut saw) = run_client(cmd, &x, &mut watcher, "描画テスト", |_| {});
    assert!(status.is_some_and(|s| s.success()), "the client failed ({status:?}):\n{err}");
    saw |= watcher.wait_until(SOON, |b| b.others.values().any(|(n, _)| n == "描画テスト"));
    assert!(saw, "the server had the desktop client's avatar in the lobby");

    let (w, hgt, px) = read_png(&std::fs::read(&shot).expect("the screenshot was saved"));
    assert!(w >= 640 && hgt >= 400, "{w}x{hgt}");
    let mut colors = std::collections::HashSet::new();
    for p in px.chunks(3) {
        colors.insert((p[0] >> 3, p[1] >> 3, p[2] >> 3));
    }
    assert!(colors.len() >= 16, "the picture is blank: {} colors", colors.len());
    // The HUD's first lines (top left) are dark text on a light background: the font drew them.
    let dark = (0..120)
        .flat_map(|y| (0..400).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let i = (y * w as usize + x) * 3;
            px[i..i + 3].iter().all(|&c| c < 90)
        })
        .count();
    assert!(dark > 200, "no HUD text drawn at the top left ({dark} dark pixels)");
    // Our avatar is the orange one (`--look 1,0`: orange, round), near the middle of the picture.
    let orange = px.chunks(3).filter(|p| p[0] > 200 && p[1] > 100 && p[1] < 190 && p[2] < 90).count();
    assert!(orange > 100, "our avatar is not drawn ({orange} orange pixels)");
    eprintln!("{w}x{hgt}, {} colors, {dark} dark HUD pixels, {orange} avatar pixels", colors.len());
}
