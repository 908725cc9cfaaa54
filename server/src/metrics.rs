//! Process metrics, exposed at `/metrics` in the OpenMetrics text format (which Prometheus
//! scrapes) by `prometheus-client`.
//!
//! Counters and gauges are atomics the ECS and the services bump directly; the tick histogram
//! and the family of refusal counters take a lock for the moment of one observation (a read
//! lock, for a refusal). A scrape encodes them on the HTTP side and holds each lock only while
//! it writes that one metric, so a tick never waits on a scrape for more than microseconds.

use bevy::prelude::{Deref, Resource};
use madoguchi_shared::ErrorCode;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The process metrics as a world resource, shared with the HTTP side.
#[derive(Resource, Clone, Deref)]
pub struct WorldMetrics(pub Arc<Metrics>);

/// Upper bounds of the tick duration histogram buckets, seconds.
pub const TICK_BUCKETS: [f64; 16] =
    [0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25];

/// The label of `madoguchi_refused_messages_total`.
type Reason = Vec<(&'static str, &'static str)>;

/// All metrics of the process, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    tick: Histogram,
    tick_cpu: Histogram,
    pub connected_clients: Gauge,
    pub joined_avatars: Gauge,
    pub udp_bytes_in: Counter,
    pub udp_bytes_out: Counter,
    pub udp_packets_in: Counter,
    pub udp_packets_out: Counter,
    /// Ticks that stopped reading the UDP socket at the read budget, leaving datagrams for the
    /// next tick (a flood, or more clients than the budget was made for).
    pub udp_read_budget_spent_total: Counter,
    pub connections_total: Counter,
    pub disconnections_total: Counter,
    pub tokens_issued_total: Counter,
    pub chat_messages_total: Counter,
    pub tickets_taken_total: Counter,
    pub tickets_called_total: Counter,
    pub tickets_no_show_total: Counter,
    pub consultations_started_total: Counter,
    pub consultations_ended_total: Counter,
    /// Consultations ended because their media failed (an error or a panic in its tasks).
    pub consult_media_failures_total: Counter,
    /// Consultations running, participants connected, media legs open, media ports leased.
    pub consultations_running: Gauge,
    pub consult_participants: Gauge,
    pub media_legs: Gauge,
    pub media_ports_in_use: Gauge,
    /// RTP packets the media engine forwarded to a participant.
    pub media_packets_forwarded_total: Counter,
    /// HTTP connections open.
    pub http_connections: Gauge,
    /// HTTP connections closed at once because their address had too many open.
    pub http_connections_refused_total: Counter,
    /// Requests from the world to the queue service taken and not yet finished.
    pub queue_requests_pending: Gauge,
    /// Requests from the world to the queue service dropped because its queue was full (the
    /// client was told `busy`).
    pub queue_requests_dropped_total: Counter,
    refused: Family<Reason, Counter>,
    resident_memory: Gauge,
    cpu_seconds: Counter<f64, AtomicU64>,
    /// Wall-clock time of the last completed tick, ms since the Unix epoch (for /healthz; not
    /// exported).
    pub last_tick_ms: AtomicU64,
}

/// Registers metrics under their names (a counter's samples are named with `_total` appended,
/// as OpenMetrics has it).
struct Register<'a>(&'a mut Registry);

impl Register<'_> {
    fn gauge(&mut self, name: &str, help: &str) -> Gauge {
        let g = Gauge::default();
        self.0.register(name, help, g.clone());
        g
    }

    fn counter(&mut self, name: &str, help: &str) -> Counter {
        let c = Counter::default();
        self.0.register(name, help, c.clone());
        c
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, registered under its name; each refusal reason starts at zero, so the
    /// exposition lists them all.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let tick = Histogram::new(TICK_BUCKETS);
        registry.register("madoguchi_tick_duration_seconds", "Time spent in one world tick", tick.clone());
        let tick_cpu = Histogram::new(TICK_BUCKETS);
        registry.register(
            "madoguchi_tick_cpu_seconds",
            "CPU time the world thread spent in one tick (its thread CPU clock)",
            tick_cpu.clone(),
        );
        let cpu_seconds = Counter::<f64, AtomicU64>::default();
        registry.register("process_cpu_seconds", "CPU time of this process, user and system", cpu_seconds.clone());
        let mut r = Register(&mut registry);
        let refused = Family::<Reason, Counter>::default();
        for code in ErrorCode::ALL {
            drop(refused.get_or_create(&vec![("reason", code.as_str())]));
        }
        let m = Metrics {
            connected_clients: r.gauge("madoguchi_connected_clients", "Clients with an open world connection"),
            joined_avatars: r.gauge("madoguchi_avatars", "Avatars in the world (clients past the handshake)"),
            udp_bytes_in: r.counter("madoguchi_udp_bytes_received", "UDP bytes received by the world socket"),
            udp_bytes_out: r.counter("madoguchi_udp_bytes_sent", "UDP bytes sent by the world socket"),
            udp_packets_in: r.counter("madoguchi_udp_packets_received", "UDP packets received by the world socket"),
            udp_packets_out: r.counter("madoguchi_udp_packets_sent", "UDP packets sent by the world socket"),
            udp_read_budget_spent_total: r.counter(
                "madoguchi_udp_read_budget_spent",
                "Ticks that left UDP datagrams unread for the next tick (read budget spent)",
            ),
            connections_total: r.counter("madoguchi_connections", "World connections opened"),
            disconnections_total: r.counter("madoguchi_disconnections", "World connections closed, for any reason"),
            tokens_issued_total: r.counter("madoguchi_connect_tokens_issued", "Connect tokens issued over HTTP"),
            chat_messages_total: r.counter("madoguchi_chat_messages", "Chat messages delivered to a room"),
            tickets_taken_total: r.counter("madoguchi_tickets_taken", "Queue tickets taken"),
            tickets_called_total: r.counter("madoguchi_tickets_called", "Tickets called to a desk"),
            tickets_no_show_total: r.counter("madoguchi_tickets_no_show", "Called tickets whose resident did not come"),
            consultations_started_total: r.counter("madoguchi_consultations_started", "Consultations a clerk started"),
            consultations_ended_total: r.counter("madoguchi_consultations_ended", "Consultations ended"),
            consult_media_failures_total: r
                .counter("madoguchi_consult_media_failures", "Consultations ended because their media failed"),
            consultations_running: r.gauge("madoguchi_consultations_running", "Consultations running"),
            consult_participants: r.gauge("madoguchi_consult_participants", "Participants connected to consultations"),
            media_legs: r.gauge("madoguchi_media_legs", "Media peer connections open"),
            media_ports_in_use: r.gauge("madoguchi_media_ports_in_use", "Media UDP ports leased"),
            media_packets_forwarded_total: r
                .counter("madoguchi_media_packets_forwarded", "RTP packets forwarded to a consultation participant"),
            http_connections: r.gauge("madoguchi_http_connections", "Connections open on the public HTTP listener"),
            http_connections_refused_total: r.counter(
                "madoguchi_http_connections_refused",
                "HTTP connections closed at once: their client address had too many open",
            ),
            queue_requests_pending: r.gauge(
                "madoguchi_queue_requests_pending",
                "Requests from the world waiting for or in the queue service",
            ),
            queue_requests_dropped_total: r.counter(
                "madoguchi_queue_requests_dropped",
                "Requests from the world dropped because the queue service's queue was full",
            ),
            resident_memory: r.gauge("process_resident_memory_bytes", "Resident memory of this process"),
            refused,
            tick,
            tick_cpu,
            cpu_seconds,
            registry,
            last_tick_ms: AtomicU64::new(0),
        };
        let mut m = m;
        m.registry.register("madoguchi_refused_messages", "Client messages refused, by reason", m.refused.clone());
        m
    }

    /// Records one world tick's wall-clock duration and the world thread's CPU time in it.
    pub fn observe_tick(&self, wall: Duration, cpu: Option<Duration>) {
        self.tick.observe(wall.as_secs_f64());
        if let Some(cpu) = cpu {
            self.tick_cpu.observe(cpu.as_secs_f64());
        }
    }

    /// Counts one refused client message.
    pub fn refuse(&self, code: ErrorCode) {
        self.refused.get_or_create(&vec![("reason", code.as_str())]).inc();
    }

    /// The OpenMetrics text exposition of everything.
    pub fn render(&self) -> String {
        if let Some(rss) = resident_memory_bytes() {
            self.resident_memory.set(rss as i64);
        }
        if let Some(cpu) = process_cpu_seconds() {
            // The counter only goes up: add what the process used since the last scrape.
            let seen = self.cpu_seconds.get();
            if cpu > seen {
                self.cpu_seconds.inc_by(cpu - seen);
            }
        }
        let mut out = String::with_capacity(8192);
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        out
    }
}

/// The media type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// This process's resident set size, from /proc (Linux only).
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU time (user + system) this process has used, from /proc (Linux only). /proc counts in
/// USER_HZ ticks, which Linux fixes at 100 a second for this interface.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11); // field 14 is utime
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// CPU time the calling thread has used (its thread CPU clock), for the tick's own cost apart
/// from the time other processes took the core from it.
pub fn thread_cpu_time() -> Option<Duration> {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(u64::try_from(ts.tv_sec).ok()?, u32::try_from(ts.tv_nsec).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_everything() {
        let m = Metrics::default();
        m.observe_tick(Duration::from_micros(100), Some(Duration::from_micros(90)));
        m.observe_tick(Duration::from_micros(900), None);
        m.observe_tick(Duration::from_secs(1), Some(Duration::from_micros(600)));
        let text = m.render();
        assert!(text.contains("madoguchi_tick_cpu_seconds_bucket{le=\"0.00025\"} 1\n"), "{text}");
        assert!(text.contains("madoguchi_tick_cpu_seconds_count 2\n"), "{text}");
        let cpu = text.lines().find_map(|l| l.strip_prefix("process_cpu_seconds_total ")).expect("process CPU");
        assert!(cpu.parse::<f64>().is_ok_and(|s| s >= 0.0), "{cpu}");
        assert!(process_cpu_seconds().is_some() && thread_cpu_time().is_some());
        assert!(text.contains("madoguchi_tick_duration_seconds_bucket{le=\"0.00025\"} 1\n"), "{text}");
        assert!(text.contains("madoguchi_tick_duration_seconds_bucket{le=\"0.001\"} 2\n"), "{text}");
        assert!(text.contains("madoguchi_tick_duration_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("madoguchi_tick_duration_seconds_count 3\n"), "{text}");
    }

    #[test]
    fn refusals_are_counted_by_reason_and_every_reason_is_listed() {
        let m = Metrics::default();
        m.refuse(ErrorCode::ChatTooLong);
        m.refuse(ErrorCode::ChatTooLong);
        m.connections_total.inc();
        let text = m.render();
        assert!(text.contains("madoguchi_refused_messages_total{reason=\"chat_too_long\"} 2\n"), "{text}");
        assert!(text.contains("madoguchi_refused_messages_total{reason=\"malformed\"} 0\n"), "{text}");
        assert!(text.contains("madoguchi_connections_total 1\n"), "{text}");
        assert!(text.contains("# TYPE madoguchi_avatars gauge\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
