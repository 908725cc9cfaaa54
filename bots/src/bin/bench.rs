//! `madoguchi-bench`: load benchmarks that print their figures as one JSON line (the last line).

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use madoguchi_bots::server_process::ServerProcess;
use madoguchi_bots::{Bot, fetch_credentials};
use madoguchi_shared::api::{self, paths};
use madoguchi_shared::quant::Point;
use rand::Rng;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "madoguchi-bench",
    about = "Load benchmarks for Madoguchi; the last line printed is a JSON object of figures"
)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// N bots walking and chatting in one room: tick time, bandwidth, disconnects, server memory.
    World {
        /// Number of bots.
        #[arg(long, default_value_t = 200)]
        bots: usize,
        /// Measured seconds (after every bot has joined and a short warm-up).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// HTTP base URL of a running server (e.g. http://127.0.0.1:8080). Default: start one.
        #[arg(long)]
        server: Option<String>,
        /// Its operations listener's base URL, for /metrics (default http://127.0.0.1:9090).
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        ops: String,
        /// Threads that drive the bots.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Mean seconds between two chat lines of one bot.
        #[arg(long, default_value_t = 30.0)]
        chat_every: f64,
        /// Garbage datagrams a second sent at the server's UDP port in a second window of the
        /// same length after the quiet one (0: no flood). Figures of both windows are printed.
        #[arg(long, default_value_t = 0)]
        flood_pps: u64,
    },
    /// Residents drafting and submitting applications over HTTP as fast as the server acknowledges.
    Records {
        /// sqlite (a fresh file) or postgres (a fresh database on MADOGUCHI_TEST_POSTGRES_URL).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Residents submitting at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// The browser client in headless Chromium on loopback: bytes fetched (compressed) and the
    /// time to the first rendered frames. Needs `scripts/build-web` and `scripts/test-deps`.
    Web,
    /// Residents in the world taking tickets over HTTP, clerks at desks calling and finishing
    /// them as fast as they can: tickets served per second, call latency, and how long a called
    /// resident's client takes to hear of it.
    Queue {
        /// Residents, each connected to the world and holding at most one ticket at a time.
        #[arg(long, default_value_t = 100)]
        residents: usize,
        /// Clerks, one per desk (at most 6: the counters of the default office).
        #[arg(long, default_value_t = 4)]
        clerks: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// sqlite (a fresh file) or postgres (a fresh database on MADOGUCHI_TEST_POSTGRES_URL).
        #[arg(long, default_value = "sqlite")]
        backend: String,
    },
    /// Resident/clerk pairs of webrtc-crate peers in consultations through the server, sending
    /// RTP both ways: connection time (accept to first media), loss, server CPU and memory, and
    /// memory growth over consultations opened and closed.
    Consult {
        #[arg(long, default_value_t = 25)]
        pairs: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Each participant sends this many kbit/s (audio and video together).
        #[arg(long, default_value_t = 500)]
        kbps: u32,
        /// Consultations opened and closed after the media window (0: none).
        #[arg(long, default_value_t = 200)]
        cycles: usize,
        /// MALLOC_ARENA_MAX for the server, as scripts/run sets it (0: glibc's default, one
        /// arena per thread up to 8 per core, which holds on to more memory).
        #[arg(long, default_value_t = 2)]
        malloc_arena_max: u32,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    match Cli::parse().bench {
        Bench::World { bots, seconds, server, ops, threads, chat_every, flood_pps } => {
            world(bots, seconds, server.map(|s| (s, ops)), threads, chat_every, flood_pps)
        }
        Bench::Records { backend, seconds, concurrency } => records(&backend, seconds, concurrency),
        Bench::Queue { residents, clerks, seconds, backend } => queue(residents, clerks, seconds, &backend),
        Bench::Web => web(),
        Bench::Consult { pairs, seconds, kbps, cycles, malloc_arena_max } => {
            let figures = madoguchi_bots::consult_bench::run(&madoguchi_bots::consult_bench::Options {
                pairs,
                seconds,
                kbps,
                cycles,
                malloc_arena_max,
            })?;
            println!("{figures}");
            Ok(())
        }
    }
}

/// A cumulative histogram read from /metrics: (upper bound seconds, count).
fn histogram(metrics: &str, name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|l| {
            let (le, rest) = l.split_once("\"}")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, rest.trim().parse().ok()?))
        })
        .collect()
}

fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A quantile read from a histogram: within a bucket (interpolated), or beyond the last finite
/// bound, where the histogram says only "more than this".
#[derive(Debug, Clone, Copy, PartialEq)]
enum Quantile {
    Within(f64),
    Above(f64),
}

/// The q-quantile of the ticks between two scrapes.
fn quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Quantile {
    let diff: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, c)| (*le, c - before.iter().find(|(l, _)| l == le).map(|(_, c)| *c).unwrap_or(0)))
        .collect();
    let total = diff.last().map(|d| d.1).unwrap_or(0);
    if total == 0 {
        return Quantile::Within(f64::NAN);
    }
    let rank = q * total as f64;
    let mut prev_le = 0.0;
    let mut prev_c = 0u64;
    for (le, c) in diff {
        if c as f64 >= rank {
            if le.is_infinite() {
                return Quantile::Above(prev_le);
            }
            let in_bucket = (c - prev_c) as f64;
            let frac = if in_bucket > 0.0 { (rank - prev_c as f64) / in_bucket } else { 1.0 };
            return Quantile::Within(prev_le + (le - prev_le) * frac);
        }
        prev_le = le;
        prev_c = c;
    }
    Quantile::Above(prev_le)
}

/// Ticks between two scrapes that took longer than the histogram's last finite bound, and that
/// bound (seconds).
fn beyond_last_bucket(before: &[(f64, u64)], after: &[(f64, u64)]) -> (u64, f64) {
    let count = |h: &[(f64, u64)]| {
        let inf = h.iter().find(|(le, _)| le.is_infinite()).map(|(_, c)| *c).unwrap_or(0);
        let last = h.iter().rfind(|(le, _)| le.is_finite()).copied().unwrap_or((0.0, inf));
        (inf - last.1, last.0)
    };
    let ((a, bound), (b, _)) = (count(after), count(before));
    (a.saturating_sub(b), bound)
}

fn world(
    n: usize,
    seconds: u64,
    server: Option<(String, String)>,
    threads: usize,
    chat_every: f64,
    flood_pps: u64,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let max_clients = (n + 16).min(1024).to_string();
    let (process, base, ops) = match server {
        Some(_) if flood_pps > 0 => bail!("--flood-pps needs the server the bench starts (no --server)"),
        Some((url, ops)) => (None, url.trim_end_matches('/').to_string(), ops.trim_end_matches('/').to_string()),
        None => {
            // Every bot connects from loopback: one address, so its cap is the client limit.
            let p = ServerProcess::start(&[
                "--max-clients",
                &max_clients,
                "--max-clients-per-address",
                &max_clients,
                "--sessions-per-minute",
                "0",
            ])
            .map_err(anyhow::Error::msg)?;
            let (base, ops) = (p.http_base(), p.ops_base());
            (Some(p), base, ops)
        }
    };
    let http = madoguchi_bots::server_process::http_client();
    eprintln!("bench world: {n} bots against {base}");
    let creds = rt.block_on(async {
        let mut out = Vec::with_capacity(n);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            if set.len() >= 32
                && let Some(r) = set.join_next().await
            {
                out.push(r??);
            }
            let (http, base) = (http.clone(), base.clone());
            set.spawn(async move { fetch_credentials(&http, &base).await });
        }
        while let Some(r) = set.join_next().await {
            out.push(r??);
        }
        anyhow::Ok(out)
    })?;
    let threads = threads.max(1);
    let per = n.div_ceil(threads);
    let start_at = Instant::now() + Duration::from_secs(1);
    // Arrivals are spread out (5 ms apart), as real ones are; measuring starts 3 s after the last.
    let stagger = Duration::from_millis(5);
    let warmup = stagger * n as u32 + Duration::from_secs(3);
    let measure = Duration::from_secs(seconds);
    // One measured window, or two of the same length when flooding: quiet, then flooded.
    let windows = if flood_pps > 0 { 2 } else { 1 };
    let bounds: Vec<Instant> = (0..=windows).map(|w| start_at + warmup + measure * w).collect();
    let mut groups: Vec<Vec<_>> = Vec::new();
    let mut creds = creds.into_iter();
    for _ in 0..threads {
        groups.push(creds.by_ref().take(per).collect());
    }
    let scrape = |http: &reqwest::Client| -> anyhow::Result<String> {
        rt.block_on(async { Ok(http.get(format!("{ops}/metrics")).send().await?.error_for_status()?.text().await?) })
    };
    let handles: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(t, group)| {
            let first = t * per;
            let bounds = bounds.clone();
            std::thread::spawn(move || drive(t, group, first, stagger, start_at, &bounds, chat_every))
        })
        .collect();
    let flooder = process.as_ref().filter(|_| flood_pps > 0).map(|p| {
        let target = p.ready.udp;
        let (from, until) = (bounds[1], bounds[2]);
        std::thread::spawn(move || flood(target, flood_pps, from, until))
    });
    // Scrape at each window's bounds.
    let mut scrapes = Vec::new();
    for b in &bounds {
        std::thread::sleep(b.saturating_duration_since(Instant::now()));
        scrapes.push(scrape(&http)?);
    }
    let mut totals = vec![WindowCount::default(); windows as usize];
    for h in handles {
        let r = h.join().map_err(|_| anyhow::anyhow!("a bot thread panicked"))??;
        for (total, w) in totals.iter_mut().zip(r) {
            total.add(&w);
        }
    }
    let flood_sent = flooder.map(|f| f.join().unwrap_or(0));
    let mut figures = Vec::new();
    for (w, count) in totals.iter().enumerate() {
        figures.push(window_figures(&scrapes[w], &scrapes[w + 1], measure, count)?);
    }
    let mut result = serde_json::json!({
        "bench": "world",
        "bots": n,
        "seconds": seconds,
        "server_rss_mb": gauge(&scrapes[windows as usize], "process_resident_memory_bytes")
            .map(|b| (b / 1048576.0 * 10.0).round() / 10.0),
    });
    let obj = result.as_object_mut().expect("an object");
    for (k, v) in figures.remove(0) {
        obj.insert(k, v);
    }
    if let (Some(sent), Some(flooded)) = (flood_sent, figures.pop()) {
        let mut flooded = flooded;
        flooded.insert("pps_sent".into(), ((sent as f64 / measure.as_secs_f64()).round()).into());
        obj.insert("flood".into(), serde_json::Value::Object(flooded));
    }
    println!("{result}");
    Ok(())
}

/// What the bots of one thread counted in one measured window.
#[derive(Clone, Default)]
struct WindowCount {
    bytes_in: u64,
    bytes_out: u64,
    packets_in: u64,
    packets_out: u64,
    /// Bots connected and welcomed at the window's end.
    connected: usize,
    /// Bots not connected at the window's end.
    disconnects: usize,
}

impl WindowCount {
    fn add(&mut self, o: &WindowCount) {
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.packets_in += o.packets_in;
        self.packets_out += o.packets_out;
        self.connected += o.connected;
        self.disconnects += o.disconnects;
    }
}

/// IPv4 and UDP headers: what each datagram costs on the wire beyond its payload.
const IP_UDP_HEADER_BYTES: u64 = 28;

/// The figures of one window from the scrapes at its bounds and the bots' counts: wall-clock
/// tick times, the world thread's CPU time per tick, the server's CPU share (cores busy), and
/// the wire rate per connected bot (payload plus IP/UDP headers).
fn window_figures(
    before: &str,
    after: &str,
    measure: Duration,
    count: &WindowCount,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let (hb, ha) =
        (histogram(before, "madoguchi_tick_duration_seconds"), histogram(after, "madoguchi_tick_duration_seconds"));
    if ha.is_empty() {
        bail!("no tick histogram in /metrics");
    }
    let (cb, ca) = (histogram(before, "madoguchi_tick_cpu_seconds"), histogram(after, "madoguchi_tick_cpu_seconds"));
    let secs = measure.as_secs_f64();
    let delta = |name: &str| Some(gauge(after, name)? - gauge(before, name)?);
    let ticks = delta("madoguchi_tick_cpu_seconds_count").unwrap_or(0.0);
    let cpu_mean = delta("madoguchi_tick_cpu_seconds_sum").filter(|_| ticks > 0.0).map(|s| s / ticks);
    let per_bot_kbps = |bytes: u64, packets: u64| {
        let wire = bytes + packets * IP_UDP_HEADER_BYTES;
        wire as f64 * 8.0 / 1000.0 / secs / count.connected.max(1) as f64
    };
    let round = |v: f64, k: f64| (v * k).round() / k;
    let mut m = serde_json::Map::new();
    // A quantile beyond the histogram's last bucket is not a number: `…_ms` is null and
    // `…_above_ms` says what it exceeds.
    let mut put = |name: &str, q: Quantile| match q {
        Quantile::Within(s) => {
            m.insert(format!("{name}_ms"), round(s * 1000.0, 1000.0).into());
        }
        Quantile::Above(s) => {
            m.insert(format!("{name}_ms"), serde_json::Value::Null);
            m.insert(format!("{name}_above_ms"), round(s * 1000.0, 1000.0).into());
        }
    };
    put("tick_p50", quantile(&hb, &ha, 0.50));
    put("tick_p99", quantile(&hb, &ha, 0.99));
    put("tick_cpu_p99", quantile(&cb, &ca, 0.99));
    let (over, bound) = beyond_last_bucket(&hb, &ha);
    m.insert("ticks_over_last_bucket".into(), over.into());
    m.insert("last_bucket_ms".into(), round(bound * 1000.0, 1000.0).into());
    m.insert("tick_cpu_mean_ms".into(), cpu_mean.map(|s| round(s * 1000.0, 1000.0)).into());
    m.insert("server_cpu_cores".into(), delta("process_cpu_seconds_total").map(|c| round(c / secs, 1000.0)).into());
    m.insert("down_kbps_per_bot".into(), round(per_bot_kbps(count.bytes_in, count.packets_in), 10.0).into());
    m.insert("up_kbps_per_bot".into(), round(per_bot_kbps(count.bytes_out, count.packets_out), 10.0).into());
    m.insert("bots_connected".into(), count.connected.into());
    m.insert("disconnects".into(), count.disconnects.into());
    m.insert(
        "udp_read_budget_spent_ticks".into(),
        delta("madoguchi_udp_read_budget_spent_total").unwrap_or(0.0).into(),
    );
    Ok(m)
}

/// Sends garbage datagrams at `target`, `pps` a second, from `from` until `until`: random
/// lengths and bytes, a third with plausible packet-type bytes, a quarter the size of a
/// connection request (which netcode must try to open). Returns how many were sent.
fn flood(target: std::net::SocketAddr, pps: u64, from: Instant, until: Instant) -> u64 {
    let Ok(socket) = std::net::UdpSocket::bind("127.0.0.1:0") else { return 0 };
    let mut rng = rand::rng();
    let garbage: Vec<Vec<u8>> = (0..512)
        .map(|i| {
            let len = match i % 4 {
                0 => rng.random_range(1..20),
                1 => rng.random_range(20..200),
                2 => 1078,
                _ => rng.random_range(200..1200),
            };
            let mut b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if i % 3 == 0 {
                b[0] = (i % 7) as u8;
            }
            b
        })
        .collect();
    std::thread::sleep(from.saturating_duration_since(Instant::now()));
    let mut sent = 0u64;
    let step = Duration::from_millis(2);
    let per_step = (pps / 500).max(1);
    let mut next = Instant::now();
    while Instant::now() < until {
        for _ in 0..per_step {
            if socket.send_to(&garbage[sent as usize % garbage.len()], target).is_ok() {
                sent += 1;
            }
        }
        next += step;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    sent
}

/// Drives one group of bots: join, then walk about (staying in the room) and chat now and then.
/// Counts bytes and connected bots in each window between `bounds`.
fn drive(
    t: usize,
    creds: Vec<madoguchi_bots::Credentials>,
    first: usize,
    stagger: Duration,
    start_at: Instant,
    bounds: &[Instant],
    chat_every: f64,
) -> anyhow::Result<Vec<WindowCount>> {
    let mut rng = rand::rng();
    let mut bots = Vec::with_capacity(creds.len());
    std::thread::sleep(start_at.saturating_duration_since(Instant::now()));
    for (i, c) in creds.into_iter().enumerate() {
        let mut b = Bot::connect(c.connect_token).context("bot connect")?;
        b.record = false;
        b.flush_interval = Duration::from_millis(95);
        bots.push((b, format!("bot-{t}-{i}"), false, Point::ZERO));
    }
    let tick = Duration::from_millis(50);
    let totals = |bots: &[(Bot, String, bool, Point)]| {
        let mut c = WindowCount::default();
        for (b, ..) in bots {
            c.bytes_in += b.bytes_in;
            c.bytes_out += b.bytes_out;
            c.packets_in += b.packets_in;
            c.packets_out += b.packets_out;
            if b.is_connected() && b.me.is_some() {
                c.connected += 1;
            } else {
                c.disconnects += 1;
            }
        }
        c
    };
    // Counts at each bound passed so far.
    let mut marks: Vec<WindowCount> = Vec::new();
    let mut next = Instant::now();
    let p_turn = 0.05; // ~ one direction change per second
    let p_chat = if chat_every > 0.0 { tick.as_secs_f64() / chat_every } else { 0.0 };
    loop {
        let now = Instant::now();
        while marks.len() < bounds.len() && now >= bounds[marks.len()] {
            marks.push(totals(&bots));
        }
        if marks.len() == bounds.len() {
            break;
        }
        for (i, (bot, name, hello_sent, dir)) in bots.iter_mut().enumerate() {
            if now < start_at + stagger * (first + i) as u32 {
                continue;
            }
            bot.pump();
            if bot.is_connected() && !*hello_sent {
                bot.hello(name, "ja");
                *hello_sent = true;
            }
            if bot.me.is_some() {
                if rng.random_bool(p_turn) || *dir == Point::ZERO {
                    let a: f32 = rng.random_range(0.0..std::f32::consts::TAU);
                    *dir = Point::new(a.cos(), a.sin()) * 1.4;
                }
                // Stay clear of the lobby's door to the counters (y > 15.2).
                if bot.pos.is_some_and(|p| p.y > 12.0) && dir.y > 0.0 {
                    dir.y = -dir.y;
                }
                bot.walk(*dir, false);
                if rng.random_bool(p_chat) {
                    bot.chat("こんにちは、窓口はどこですか?");
                }
            }
        }
        next += tick;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        } else {
            next = Instant::now();
        }
    }
    for (i, (bot, ..)) in bots.iter().enumerate() {
        if !bot.is_connected() || bot.me.is_none() {
            eprintln!(
                "bot {t}/{i}: connected={} welcomed={} netcode={:?} refused={:?}",
                bot.is_connected(),
                bot.me.is_some(),
                bot.disconnect_reason(),
                bot.refused
            );
        }
    }
    for (bot, ..) in bots.iter_mut() {
        bot.disconnect();
    }
    // Each window: traffic between its bounds, connections at its end.
    Ok(marks
        .windows(2)
        .map(|w| WindowCount {
            bytes_in: w[1].bytes_in - w[0].bytes_in,
            bytes_out: w[1].bytes_out - w[0].bytes_out,
            packets_in: w[1].packets_in - w[0].packets_in,
            packets_out: w[1].packets_out - w[0].packets_out,
            connected: w[1].connected,
            disconnects: w[1].disconnects,
        })
        .collect())
}

fn moving_in_form() -> serde_json::Value {
    serde_json::json!({
        "full_name": "山田 花子", "full_name_kana": "ヤマダ ハナコ", "birth_date": "1990-04-01",
        "move_date": "2026-11-20", "previous_address": "大阪府大阪市北区1-1-1", "postal_code": "150-0001",
        "new_address": "東京都まどぐち区1-2-3", "household_role": "head"
    })
}

/// Drafts and submits applications from `concurrency` residents for `seconds`; reports what
/// was acknowledged inside the window only: submissions per second, and commits per second
/// (each draft and each submission is one transaction, its audit event included), with the
/// submit latency.
fn records(backend: &str, seconds: u64, concurrency: usize) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (server, pg) = start_on(&rt, backend, &["--sessions-per-minute", "0", "--resident-writes-per-minute", "0"])?;
    let base = server.http_base();
    eprintln!("bench records: {concurrency} residents against {base} ({backend})");
    let http = madoguchi_bots::server_process::http_client();
    let (mut latencies, drafts) = rt.block_on(async {
        let mut tokens = Vec::new();
        for i in 0..concurrency {
            let v: api::SessionBody = http
                .post(format!("{base}{}", paths::GUEST_SESSION))
                .json(&api::GuestRequest { display_name: Some(format!("bench {i}")), locale: None })
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            tokens.push(v.session_token);
        }
        let end = Instant::now() + Duration::from_secs(seconds);
        let mut set = tokio::task::JoinSet::new();
        for token in tokens {
            let (http, base) = (http.clone(), base.clone());
            set.spawn(async move {
                // Submit latencies and drafts acknowledged before `end`.
                let mut lat = Vec::new();
                let mut drafts = 0usize;
                while Instant::now() < end {
                    let created: serde_json::Value = http
                        .post(format!("{base}{}", paths::APPLICATIONS))
                        .bearer_auth(&token)
                        .json(&api::CreateRequest {
                            procedure_id: "moving_in".into(),
                            form_data: moving_in_form(),
                            resident_id: None,
                        })
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    if Instant::now() > end {
                        break;
                    }
                    drafts += 1;
                    let reference = created["reference"].as_str().unwrap_or_default().to_string();
                    let t = Instant::now();
                    http.post(format!("{base}{}", paths::application_submit(&reference)))
                        .bearer_auth(&token)
                        .send()
                        .await?
                        .error_for_status()?;
                    if Instant::now() <= end {
                        lat.push(t.elapsed());
                    }
                }
                anyhow::Ok((lat, drafts))
            });
        }
        let (mut all, mut drafts) = (Vec::new(), 0usize);
        while let Some(r) = set.join_next().await {
            let (lat, d) = r??;
            all.extend(lat);
            drafts += d;
        }
        anyhow::Ok((all, drafts))
    })?;
    drop(server);
    drop_pg(&rt, pg);
    latencies.sort();
    let pct = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(i).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN)
    };
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let result = serde_json::json!({
        "bench": "records",
        "backend": backend,
        "concurrency": concurrency,
        "seconds": seconds,
        "submissions": latencies.len(),
        "submissions_per_s": round(latencies.len() as f64 / seconds as f64),
        "commits_per_s": round((latencies.len() + drafts) as f64 / seconds as f64),
        "p50_ms": round(pct(0.5)),
        "p99_ms": round(pct(0.99)),
    });
    println!("{result}");
    Ok(())
}

type PgCleanup = Option<(String, String)>;

/// Starts a server with `args` on a fresh SQLite file or a fresh PostgreSQL database.
fn start_on(rt: &tokio::runtime::Runtime, backend: &str, args: &[&str]) -> anyhow::Result<(ServerProcess, PgCleanup)> {
    let data_dir = madoguchi_bots::server_process::fresh_data_dir();
    let (env, pg) = match backend {
        "sqlite" => (vec![], None),
        "postgres" => {
            let admin = std::env::var("MADOGUCHI_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://madoguchi:madoguchi@127.0.0.1:5432/postgres".into());
            let name = format!("madoguchi_bench_{:08x}", rand::random::<u32>());
            rt.block_on(async {
                sqlx::any::install_default_drivers();
                let pool =
                    sqlx::AnyPool::connect(&admin).await.context("PostgreSQL (start it with scripts/postgres-up)")?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await?;
                anyhow::Ok(())
            })?;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or_default();
            (vec![("DATABASE_URL".to_string(), format!("{base}/{name}"))], Some((admin, name)))
        }
        other => bail!("unknown backend {other} (sqlite or postgres)"),
    };
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = ServerProcess::start_with(args, &env_refs, data_dir, false).map_err(anyhow::Error::msg)?;
    Ok((server, pg))
}

fn drop_pg(rt: &tokio::runtime::Runtime, pg: PgCleanup) {
    if let Some((admin, name)) = pg {
        rt.block_on(async {
            if let Ok(pool) = sqlx::AnyPool::connect(&admin).await {
                let drop_db = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::query(sqlx::AssertSqlSafe(drop_db)).execute(&pool).await;
            }
        });
    }
}

fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
    sorted.get(i).map(|d| (d.as_secs_f64() * 100_000.0).round() / 100.0).unwrap_or(f64::NAN)
}

/// Sends `req` and reads its JSON answer; an error status is an error.
async fn json_of(req: reqwest::RequestBuilder) -> anyhow::Result<serde_json::Value> {
    Ok(req.send().await?.error_for_status()?.json().await?)
}

/// Counters of the default office and their departments.
const DESKS: [(&str, &str); 6] = [
    ("a1", "resident_registration"),
    ("b1", "insurance_pension"),
    ("c1", "children_families"),
    ("d1", "welfare"),
    ("e1", "taxation"),
    ("a2", "resident_registration"),
];

/// Residents connected to the world take tickets over HTTP; clerks call them, wait for the
/// resident to arrive (a resident says so, over HTTP, as soon as their client hears the call),
/// and finish them, as fast as the server answers. A service counts only when the resident
/// arrived; one who has not after 5 s is marked a no-show. A resident whose ticket ended takes
/// a new one.
fn queue(residents: usize, clerks: usize, seconds: u64, backend: &str) -> anyhow::Result<()> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    if clerks == 0 || clerks > DESKS.len() {
        bail!("--clerks must be 1 to {}", DESKS.len());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let max_clients = (residents + clerks + 16).min(1024).to_string();
    // Every client connects from loopback: one address, so its cap is the client limit.
    let args = [
        "--always-open",
        "--sessions-per-minute",
        "0",
        "--tickets-per-minute",
        "0",
        "--max-clients",
        &max_clients,
        "--max-clients-per-address",
        &max_clients,
    ];
    let (server, pg) = start_on(&rt, backend, &args)?;
    let base = server.http_base();
    eprintln!("bench queue: {residents} residents, {clerks} clerks against {base} ({backend})");
    let http = madoguchi_bots::server_process::http_client();
    let data_dir = server.data_dir.clone();
    // Clerk accounts through the CLI, then their sessions.
    let mut clerk_tokens = Vec::new();
    for (i, (counter, dept)) in DESKS.iter().take(clerks).enumerate() {
        let login = format!("bench.clerk{i}");
        let password = "bench-password-long-enough";
        let url = pg.as_ref().map(|(admin, name)| {
            let b = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or_default();
            format!("{b}/{name}")
        });
        madoguchi_bots::server_process::add_staff(
            &data_dir,
            &madoguchi_bots::server_process::assets_dir(),
            url.as_deref(),
            &login,
            dept,
            password,
        )
        .map_err(anyhow::Error::msg)?;
        let token = rt.block_on(async {
            let v: api::SessionBody = http
                .post(format!("{base}{}", paths::STAFF_LOGIN))
                .json(&api::LoginRequest { login: login.to_string(), password: password.to_string() })
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            http.post(format!("{base}{}", paths::staff_desk_take(counter)))
                .bearer_auth(&v.session_token)
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok(v.session_token)
        })?;
        clerk_tokens.push(token);
    }
    let depts: Vec<&str> =
        DESKS.iter().take(clerks).map(|(_, d)| *d).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    // Residents join the world.
    let mut bots = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..residents {
        let creds = rt.block_on(fetch_credentials(&http, &base))?;
        let mut bot = Bot::connect(creds.connect_token)?;
        bot.record = false;
        bot.hello("bench", "ja");
        sessions.push(creds.session_token);
        bots.push(bot);
    }
    let joined = {
        let mut refs: Vec<&mut Bot> = bots.iter_mut().collect();
        madoguchi_bots::pump_until(&mut refs, Duration::from_secs(30), |b| b.iter().all(|b| b.me.is_some()))
    };
    if !joined {
        bail!("not every resident joined the world");
    }
    // Ticket ids the clerks called, with when the call was sent.
    let calls: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let (take_tx, mut take_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let end = Instant::now() + Duration::from_secs(seconds);
    // Requests that did not succeed (an error status, or no answer), counted, not hidden: takes
    // and arrivals.
    let failed_takes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failed_arrivals = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failed = |n: &Arc<std::sync::atomic::AtomicU64>, r: Result<reqwest::Response, reqwest::Error>| {
        if !r.is_ok_and(|r| r.status().is_success()) {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    };
    // Takers: a ticket for resident i whenever asked.
    let takers = {
        let (http, base, sessions, depts) = (http.clone(), base.clone(), sessions.clone(), depts.clone());
        let failed_takes = failed_takes.clone();
        rt.spawn(async move {
            let mut n = 0usize;
            while let Some(i) = take_rx.recv().await {
                let (http, base) = (http.clone(), base.clone());
                let token = sessions[i].clone();
                let dept = depts[(i + n) % depts.len()].to_string();
                n += 1;
                let failed_takes = failed_takes.clone();
                tokio::spawn(async move {
                    let r = http
                        .post(format!("{base}{}", paths::TICKETS))
                        .bearer_auth(&token)
                        .json(&api::TakeRequest { department: dept })
                        .send()
                        .await;
                    failed(&failed_takes, r);
                });
            }
        })
    };
    for i in 0..residents {
        let _ = take_tx.send(i);
    }
    // Arrivals: resident i says they are at the desk for ticket id.
    let (arrive_tx, mut arrive_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, i64)>();
    let arrivals = {
        let (http, base, sessions) = (http.clone(), base.clone(), sessions.clone());
        let failed_arrivals = failed_arrivals.clone();
        rt.spawn(async move {
            while let Some((i, id)) = arrive_rx.recv().await {
                let (http, base, token) = (http.clone(), base.clone(), sessions[i].clone());
                let failed_arrivals = failed_arrivals.clone();
                tokio::spawn(async move {
                    let r = http.post(format!("{base}{}", paths::ticket_arrived(id))).bearer_auth(&token).send().await;
                    failed(&failed_arrivals, r);
                });
            }
        })
    };
    // Clerks: call next, wait for the resident, finish, again.
    let mut clerk_tasks = Vec::new();
    for (token, (counter, _)) in clerk_tokens.into_iter().zip(DESKS) {
        let (http, base, calls) = (http.clone(), base.clone(), calls.clone());
        clerk_tasks.push(rt.spawn(async move {
            let mut call_lat = Vec::new();
            let mut served = 0u64;
            let mut no_shows = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                let v =
                    json_of(http.post(format!("{base}{}", paths::STAFF_DESK_CALL_NEXT)).bearer_auth(&token)).await?;
                match v["called"]["id"].as_i64() {
                    Some(id) => {
                        call_lat.push(t.elapsed());
                        calls.lock().unwrap_or_else(|p| p.into_inner()).insert(id, t);
                        // Wait for the resident at the desk (the ticket turns `serving`).
                        let give_up = Instant::now() + Duration::from_secs(5);
                        let mut arrived = false;
                        while !arrived && Instant::now() < give_up && Instant::now() < end {
                            let desks =
                                json_of(http.get(format!("{base}{}", paths::STAFF_DESKS)).bearer_auth(&token)).await?;
                            arrived = desks.as_array().into_iter().flatten().any(|d| {
                                d["counter"] == counter && d["ticket"]["id"] == id && d["ticket"]["status"] == "serving"
                            });
                            if !arrived {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                        }
                        // Arrived: done. Not after 5 s: a no-show. The window closed first: leave it.
                        let action = if arrived {
                            paths::STAFF_DESK_DONE
                        } else if Instant::now() >= give_up {
                            paths::STAFF_DESK_NO_SHOW
                        } else {
                            continue;
                        };
                        let r = http.post(format!("{base}{action}")).bearer_auth(&token).send().await?;
                        // A resident arriving just as the clerk gives up: the no-show finds no
                        // called ticket (404), which is no error of the server's.
                        if !r.status().is_success() {
                            if action == "no-show" && r.status() == reqwest::StatusCode::NOT_FOUND {
                                continue;
                            }
                            r.error_for_status()?;
                        }
                        // Counted only if finished inside the window.
                        if arrived && Instant::now() <= end {
                            served += 1;
                        } else if !arrived {
                            no_shows += 1;
                        }
                    }
                    None => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
            anyhow::Ok((call_lat, served, no_shows))
        }));
    }
    // Residents: hear of the call, and take a new ticket once served.
    let mut notify = Vec::new();
    let mut seen_called: std::collections::HashSet<i64> = Default::default();
    let mut seen_done: std::collections::HashSet<i64> = Default::default();
    while Instant::now() < end {
        for (i, bot) in bots.iter_mut().enumerate() {
            bot.pump();
            for (id, at) in &bot.called {
                if !seen_called.contains(id)
                    && let Some(sent) = calls.lock().unwrap_or_else(|p| p.into_inner()).get(id)
                {
                    seen_called.insert(*id);
                    notify.push(at.saturating_duration_since(*sent));
                    let _ = arrive_tx.send((i, *id));
                }
            }
            for (t, _) in bot.tickets.values() {
                if !t.status.is_active() && seen_done.insert(t.id) {
                    let _ = take_tx.send(i);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(take_tx);
    drop(arrive_tx);
    let mut call_lat = Vec::new();
    let (mut served, mut no_shows) = (0, 0);
    for task in clerk_tasks {
        let (lat, n, ns) = rt.block_on(task)??;
        call_lat.extend(lat);
        served += n;
        no_shows += ns;
    }
    takers.abort();
    arrivals.abort();
    drop(server);
    drop_pg(&rt, pg);
    call_lat.sort();
    notify.sort();
    let result = serde_json::json!({
        "bench": "queue",
        "backend": backend,
        "residents": residents,
        "clerks": clerks,
        "seconds": seconds,
        "served": served,
        "no_shows": no_shows,
        "tickets_per_s": ((served as f64 / seconds as f64) * 100.0).round() / 100.0,
        "call_p50_ms": percentile_ms(&call_lat, 0.5),
        "call_p99_ms": percentile_ms(&call_lat, 0.99),
        "notified": notify.len(),
        "notify_p50_ms": percentile_ms(&notify, 0.5),
        "notify_p99_ms": percentile_ms(&notify, 0.99),
        "failed_takes": failed_takes.load(std::sync::atomic::Ordering::Relaxed),
        "failed_arrivals": failed_arrivals.load(std::sync::atomic::Ordering::Relaxed),
    });
    println!("{result}");
    Ok(())
}

/// Serves the built browser client and loads it in headless Chromium (tests/browser/client3d.mjs).
fn web() -> anyhow::Result<()> {
    let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let dist = root.join("client/dist");
    if !dist.join("madoguchi_bg.wasm").exists() {
        bail!("the browser client is not built: run scripts/build-web");
    }
    // Which build it is: the shipping one (`web`), or the tests' quick one (`web-test`), whose
    // size is not what residents download.
    let profile = std::fs::read_to_string(dist.join("PROFILE")).map(|p| p.trim().to_string()).unwrap_or_default();
    let dist_s = dist.display().to_string();
    let server = ServerProcess::start(&["--web-dir", &dist_s]).map_err(anyhow::Error::msg)?;
    let out = std::process::Command::new("node")
        .arg("client3d.mjs")
        .current_dir(root.join("tests/browser"))
        .env("MADOGUCHI_BASE", server.http_base())
        .output()
        .context("run node (scripts/test-deps installs what the browser needs)")?;
    drop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).context("the browser run printed no JSON")?;
    if !out.status.success() {
        bail!("the browser run failed: {line}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let result = serde_json::json!({
        "bench": "web",
        "profile": profile,
        "compressed_bytes": v["compressed_bytes"],
        "encoding": v["encoding"],
        "gzip_bytes": v["gzip_bytes"],
        "decoded_bytes": v["decoded_bytes"],
        "first_frame_ms": v["first_frame_ms"],
        "office_frame_ms": v["office_frame_ms"],
        "fps_at_start": v["fps_at_start"],
        "quality": v["quality"],
        "fps_paced": v["fps_paced"],
        "canvas": v["canvas"],
    });
    println!("{result}");
    Ok(())
}
