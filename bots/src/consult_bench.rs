//! `madoguchi-bench consult`: resident/clerk pairs of webrtc-crate peers in consultations
//! through a real server, sending synthetic RTP both ways; connection time, loss, the server's
//! CPU and memory, and how its memory moves over consultations opened and closed in a loop.
//!
//! What each figure measures:
//! - `connect_*_ms`: per participant, from its own SDP offer to the first media packet from its
//!   partner (each pair starts sending as soon as it has joined; packets sent before the media
//!   connection is up are dropped by the sender's stack, as a browser's are). `ice_connected_*_ms`:
//!   from its offer to its peer connection's `connected`. The clerk joins first, so the clerk's
//!   figure includes the resident's join just after it. Not included: logging in, tickets,
//!   desks, the clerk accepting, and other pairs' joins (every pair joins at once).
//! - `loss_pct`: over the sending window, packets every participant sent against those its
//!   partners received on every slot, both directions.
//! - `server_cpu_pct`: the server's CPU time over the sending window only, against its length.
//! - `rss_growth_mb`: the server's RSS after `cycles` consultations were opened (with media
//!   connected) and closed, less its RSS before them; both read after a 2 s settle, the first
//!   after the pairs above have left. Not extrapolated.
//!
//! The default office has six counters; the bench adds a hall with one counter per pair (a
//! copy of the assets in a temporary directory), so that every pair has a desk.

use crate::consult::MediaPeer;
use crate::server_process::{ServerProcess, assets_dir, fresh_data_dir};
use anyhow::{Context, bail};
use madoguchi_shared::api::{self, paths};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The figures, as printed.
pub struct Options {
    pub pairs: usize,
    pub seconds: u64,
    pub kbps: u32,
    /// Consultations opened and closed after the media window, for the memory figure.
    pub cycles: usize,
    /// `MALLOC_ARENA_MAX` for the server (as `scripts/run` sets it); 0 leaves glibc's default.
    pub malloc_arena_max: u32,
}

/// A copy of the office's assets with a hall of `n` counters of resident_registration.
fn assets_with_hall(n: usize) -> anyhow::Result<PathBuf> {
    let from = assets_dir();
    let to = fresh_data_dir().join("assets");
    for dir in ["layouts", "procedures"] {
        std::fs::create_dir_all(to.join(dir))?;
        for e in std::fs::read_dir(from.join(dir))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "toml") {
                std::fs::copy(&p, to.join(dir).join(p.file_name().unwrap_or_default()))?;
            }
        }
    }
    std::fs::copy(from.join("office.toml"), to.join("office.toml"))?;
    let width = 5.0 * n as f64 + 4.0;
    let mut hall = format!(
        "id = \"bench_hall\"\nname = {{ ja = \"ベンチ用ホール\", en = \"Bench hall\", easy = \"ベンチ の へや\" }}\nsize = [{width:.1}, 20.0]\n\n[[spawn]]\nid = \"start\"\nat = [2.0, 2.0]\n"
    );
    for i in 0..n {
        let x = 2.0 + 5.0 * i as f64;
        hall.push_str(&format!(
            "\n[[counter]]\nid = \"z{i}\"\ndepartment = \"resident_registration\"\ndesk = [{x:.1}, 16.0, {:.1}, 16.8]\nresident_spot = [{:.1}, 15.0]\nstaff_spot = [{:.1}, 18.0]\n",
            x + 4.0,
            x + 2.0,
            x + 2.0
        ));
    }
    std::fs::write(to.join("layouts").join("bench_hall.toml"), hall)?;
    Ok(to)
}

/// CPU seconds (user + system) and resident MB of a process.
fn cpu_and_rss(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the ')' and state.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0.0f64);
    (cpu, rss / 1024.0)
}

struct Desk {
    clerk: String,
    resident: String,
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = http.post(format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status} {v}");
    }
    Ok(v)
}

/// Takes a ticket, calls it and arrives: the resident is at the desk.
async fn seat(http: &reqwest::Client, base: &str, d: &Desk) -> anyhow::Result<()> {
    let take = api::TakeRequest { department: "resident_registration".into() };
    post(http, base, paths::TICKETS, &d.resident, Some(serde_json::to_value(take)?)).await?;
    let called = post(http, base, paths::STAFF_DESK_CALL_NEXT, &d.clerk, None).await?;
    let ticket = called["called"]["id"].as_i64().context("nobody was called")?;
    post(http, base, &paths::ticket_arrived(ticket), &d.resident, None).await?;
    Ok(())
}

/// Accepts, and both sides join: the clerk's peer and the resident's.
async fn consult(http: &reqwest::Client, base: &str, d: &Desk, tag: u64) -> anyhow::Result<(MediaPeer, MediaPeer)> {
    let ws = base.replacen("http://", "ws://", 1);
    let c = post(http, base, paths::STAFF_CONSULTATIONS, &d.clerk, None).await?;
    let id = c["id"].as_i64().context("no consultation id")?;
    let mut peers = Vec::new();
    for (token, t) in [(&d.clerk, tag), (&d.resident, tag + 1)] {
        let grant = post(http, base, &paths::consultation_join(id), token, None).await?;
        let ticket = grant["ticket"].as_str().unwrap_or_default();
        let url = format!("{ws}{}?ticket={ticket}", paths::CONSULTATION_SIGNAL);
        peers.push(MediaPeer::join(&url, t).await?);
    }
    let r = peers.pop().context("resident")?;
    let c = peers.pop().context("clerk")?;
    Ok((c, r))
}

/// Both sides of a pair send a trickle (64 kbit/s) from now until each has heard the other (at
/// most 10 s); then, per participant, its offer → its partner's first packet and its offer →
/// `connected`.
async fn first_media(c: &MediaPeer, r: &MediaPeer) -> anyhow::Result<[(Duration, Duration); 2]> {
    let heard = || c.first_media_at().is_some() && r.first_media_at().is_some();
    let trickle = async {
        while !heard() {
            tokio::join!(c.send_media(Duration::from_millis(100), 64), r.send_media(Duration::from_millis(100), 64));
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), trickle).await.is_err() {
        bail!("a participant got no media within 10 s of its offer");
    }
    let of = |p: &MediaPeer| -> anyhow::Result<(Duration, Duration)> {
        let first = p.first_media_at().context("no media")?;
        let up = p.connected_at().context("no connection")?;
        Ok((first.saturating_duration_since(p.offered_at), up.saturating_duration_since(p.offered_at)))
    };
    Ok([of(c)?, of(r)?])
}

/// Runs the bench; the JSON figures.
pub fn run(o: &Options) -> anyhow::Result<Value> {
    if o.pairs == 0 {
        bail!("--pairs must be at least 1");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let assets = assets_with_hall(o.pairs)?;
    let ports = format!("40000-{}", 40000 + 4 * o.pairs + 100);
    let args = [
        "--always-open",
        "--sessions-per-minute",
        "0",
        "--tickets-per-minute",
        "0",
        "--assets",
        assets.to_str().unwrap_or_default(),
        "--media-ports",
        &ports,
    ];
    let arenas = o.malloc_arena_max.to_string();
    let env: Vec<(&str, &str)> =
        if o.malloc_arena_max > 0 { vec![("MALLOC_ARENA_MAX", arenas.as_str())] } else { vec![] };
    let server = ServerProcess::start_with(&args, &env, fresh_data_dir(), false).map_err(anyhow::Error::msg)?;
    let base = server.http_base();
    let pid = server.pid();
    eprintln!("bench consult: {} pairs at {} kbit/s each way against {base}", o.pairs, o.kbps);
    let http = crate::server_process::http_client();
    let password = "bench-password-long-enough";
    let mut desks = Vec::new();
    for i in 0..o.pairs {
        let login = format!("bench.clerk{i}");
        crate::server_process::add_staff(&server.data_dir, &assets, None, &login, "resident_registration", password)
            .map_err(anyhow::Error::msg)?;
        let d = rt.block_on(async {
            let v = http
                .post(format!("{base}{}", paths::STAFF_LOGIN))
                .json(&api::LoginRequest { login: login.clone(), password: password.to_string() })
                .send()
                .await?
                .error_for_status()?
                .json::<api::SessionBody>()
                .await?;
            let clerk = v.session_token;
            post(&http, &base, &paths::staff_desk_take(&format!("z{i}")), &clerk, None).await?;
            let guest = api::GuestRequest { display_name: Some(format!("住民{i}")), locale: Some("ja".into()) };
            let g = http
                .post(format!("{base}{}", paths::GUEST_SESSION))
                .json(&guest)
                .send()
                .await?
                .error_for_status()?
                .json::<api::SessionBody>()
                .await?;
            anyhow::Ok(Desk { clerk, resident: g.session_token })
        })?;
        desks.push(d);
    }
    // Every pair at its desk, then all accepted and joined at once; each pair sends as soon as
    // it has joined, and each participant is timed from its own offer.
    let (mut connects, mut ice, peers) = rt.block_on(async {
        for d in &desks {
            seat(&http, &base, d).await?;
        }
        let joins = desks.iter().enumerate().map(|(i, d)| {
            let http = &http;
            let base = &base;
            async move {
                let (c, r) = consult(http, base, d, 2 * i as u64 + 1).await?;
                let times = first_media(&c, &r).await?;
                anyhow::Ok((times, c, r))
            }
        });
        let (mut connects, mut ice, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
        for r in futures_util::future::join_all(joins).await {
            let (times, c, r) = r?;
            for (media, up) in times {
                connects.push(media);
                ice.push(up);
            }
            pairs.push((c, r));
        }
        anyhow::Ok((connects, ice, pairs))
    })?;
    connects.sort();
    ice.sort();
    let pct = |list: &[Duration], q: f64| {
        let i = ((list.len() as f64 * q).ceil() as usize).saturating_sub(1);
        list.get(i).map(|d| (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0).unwrap_or(f64::NAN)
    };
    // The measured window: everyone sends at the rate asked. The server's CPU is read at its
    // start and end; what is received is read after a short drain (packets in flight).
    let counts = |peers: &[(MediaPeer, MediaPeer)]| -> Vec<(u64, u64)> {
        peers.iter().flat_map(|(c, r)| [c, r]).map(|p| (p.sent(), p.total_received())).collect()
    };
    let before = counts(&peers);
    let (cpu0, _) = cpu_and_rss(pid);
    let t0 = Instant::now();
    rt.block_on(async {
        let sends = peers.iter().flat_map(|(c, r)| {
            [c.send_media(Duration::from_secs(o.seconds), o.kbps), r.send_media(Duration::from_secs(o.seconds), o.kbps)]
        });
        futures_util::future::join_all(sends).await;
    });
    let (cpu1, rss) = cpu_and_rss(pid);
    let wall = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let after = counts(&peers);
    // What each participant sent in the window, against what its partner received.
    let (mut sent, mut got) = (0u64, 0u64);
    for pair in 0..o.pairs {
        let (c, r) = (2 * pair, 2 * pair + 1);
        sent += (after[c].0 - before[c].0) + (after[r].0 - before[r].0);
        got += (after[r].1 - before[r].1) + (after[c].1 - before[c].1);
    }
    let loss_pct = if sent == 0 { 100.0 } else { (1.0 - got as f64 / sent as f64).max(0.0) * 100.0 };
    rt.block_on(async {
        for (c, r) in peers {
            c.drop_out().await;
            r.drop_out().await;
        }
    });
    // Open and close consultations at the first desk; memory before and after, each after a
    // settle.
    let (mut rss_before, mut rss_after) = (f64::NAN, f64::NAN);
    if o.cycles > 0 {
        let d = &desks[0];
        rt.block_on(post(&http, &base, paths::STAFF_DESK_DONE, &d.clerk, None))?;
        std::thread::sleep(Duration::from_secs(2));
        rss_before = cpu_and_rss(pid).1;
        rt.block_on(async {
            for i in 0..o.cycles {
                seat(&http, &base, d).await?;
                let (mut c, mut r) = consult(&http, &base, d, 10_000 + 2 * i as u64).await?;
                if !(c.connected(Duration::from_secs(10)).await && r.connected(Duration::from_secs(10)).await) {
                    bail!("cycle {i}: no media");
                }
                post(&http, &base, paths::STAFF_DESK_DONE, &d.clerk, None).await?;
                c.drop_out().await;
                r.drop_out().await;
            }
            anyhow::Ok(())
        })?;
        std::thread::sleep(Duration::from_secs(2));
        rss_after = cpu_and_rss(pid).1;
    }
    let round = |x: f64| (x * 100.0).round() / 100.0;
    Ok(json!({
        "bench": "consult",
        "pairs": o.pairs,
        "kbps": o.kbps,
        "seconds": o.seconds,
        "connect_from_to": "each participant's SDP offer to its first media packet from its partner (for the clerk, who joins first, this includes the resident joining just after)",
        "connect_excludes": "logins, tickets, desks and the clerk accepting before the offer; other pairs' joins",
        "connect_p50_ms": pct(&connects, 0.5),
        "connect_p95_ms": pct(&connects, 0.95),
        "ice_connected_p50_ms": pct(&ice, 0.5),
        "ice_connected_p95_ms": pct(&ice, 0.95),
        "loss_pct": round(loss_pct),
        "packets_sent": sent,
        "server_cpu_pct": round((cpu1 - cpu0) / wall * 100.0),
        "cpu_window_s": round(wall),
        "server_rss_mb": round(rss),
        "cycles": o.cycles,
        "malloc_arena_max": o.malloc_arena_max,
        "rss_before_cycles_mb": round(rss_before),
        "rss_after_cycles_mb": round(rss_after),
        "rss_growth_mb": round(rss_after - rss_before),
    }))
}
