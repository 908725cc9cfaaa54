//! Process metrics in Prometheus text format.
//!
//! The ECS writes plain atomics; the HTTP task reads them when scraped. Nothing locks, so a
//! scrape can never stall a tick.

use madoguchi_shared::ErrorCode;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the tick duration histogram buckets, seconds.
pub const TICK_BUCKETS: [f64; 16] =
    [0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25];

/// Why a client message was refused, for `madoguchi_refused_messages_total{reason}`.
pub fn refused_index(code: ErrorCode) -> usize {
    ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(0)
}

/// All counters and gauges of the process.
#[derive(Default)]
pub struct Metrics {
    tick_buckets: [AtomicU64; TICK_BUCKETS.len()],
    tick_count: AtomicU64,
    tick_sum_ns: AtomicU64,
    pub connected_clients: AtomicU64,
    pub joined_avatars: AtomicU64,
    pub udp_bytes_in: AtomicU64,
    pub udp_bytes_out: AtomicU64,
    pub udp_packets_in: AtomicU64,
    pub udp_packets_out: AtomicU64,
    pub connections_total: AtomicU64,
    pub disconnections_total: AtomicU64,
    pub tokens_issued_total: AtomicU64,
    pub chat_messages_total: AtomicU64,
    pub tickets_taken_total: AtomicU64,
    pub tickets_called_total: AtomicU64,
    pub tickets_no_show_total: AtomicU64,
    /// Wall-clock time of the last completed tick, ms since the Unix epoch (for /healthz).
    pub last_tick_ms: AtomicU64,
    refused: [AtomicU64; ErrorCode::ALL.len()],
}

impl Metrics {
    /// Records one world tick's duration.
    pub fn observe_tick(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = TICK_BUCKETS.iter().position(|b| s <= *b) {
            self.tick_buckets[i].fetch_add(1, Relaxed);
        }
        self.tick_count.fetch_add(1, Relaxed);
        self.tick_sum_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    /// Counts one refused client message.
    pub fn refuse(&self, code: ErrorCode) {
        self.refused[refused_index(code)].fetch_add(1, Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Relaxed);
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let _ = writeln!(
            out,
            "# HELP madoguchi_tick_duration_seconds Time spent in one world tick.\n# TYPE madoguchi_tick_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (b, c) in TICK_BUCKETS.iter().zip(&self.tick_buckets) {
            cumulative += c.load(Relaxed);
            let _ = writeln!(out, "madoguchi_tick_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.tick_count.load(Relaxed);
        let _ = writeln!(out, "madoguchi_tick_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "madoguchi_tick_duration_seconds_sum {}", self.tick_sum_ns.load(Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "madoguchi_tick_duration_seconds_count {count}");
        gauge(
            &mut out,
            "madoguchi_connected_clients",
            "Clients with an open world connection.",
            self.connected_clients.load(Relaxed),
        );
        gauge(
            &mut out,
            "madoguchi_avatars",
            "Avatars in the world (clients past the handshake).",
            self.joined_avatars.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_udp_bytes_received_total",
            "UDP bytes received by the world socket.",
            self.udp_bytes_in.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_udp_bytes_sent_total",
            "UDP bytes sent by the world socket.",
            self.udp_bytes_out.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_udp_packets_received_total",
            "UDP packets received by the world socket.",
            self.udp_packets_in.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_udp_packets_sent_total",
            "UDP packets sent by the world socket.",
            self.udp_packets_out.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_connections_total",
            "World connections opened.",
            self.connections_total.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_disconnections_total",
            "World connections closed, for any reason.",
            self.disconnections_total.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_connect_tokens_issued_total",
            "Connect tokens issued over HTTP.",
            self.tokens_issued_total.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_chat_messages_total",
            "Chat messages delivered to a room.",
            self.chat_messages_total.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_tickets_taken_total",
            "Queue tickets taken.",
            self.tickets_taken_total.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_tickets_called_total",
            "Tickets called to a desk.",
            self.tickets_called_total.load(Relaxed),
        );
        counter(
            &mut out,
            "madoguchi_tickets_no_show_total",
            "Called tickets whose resident did not come.",
            self.tickets_no_show_total.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP madoguchi_refused_messages_total Client messages refused, by reason.\n# TYPE madoguchi_refused_messages_total counter"
        );
        for (code, c) in ErrorCode::ALL.iter().zip(&self.refused) {
            let _ =
                writeln!(out, "madoguchi_refused_messages_total{{reason=\"{}\"}} {}", code.as_str(), c.load(Relaxed));
        }
        if let Some(rss) = resident_memory_bytes() {
            gauge(&mut out, "process_resident_memory_bytes", "Resident memory of this process.", rss);
        }
        out
    }
}

/// This process's resident set size, from /proc (Linux only).
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_everything() {
        let m = Metrics::default();
        m.observe_tick(Duration::from_micros(100));
        m.observe_tick(Duration::from_micros(900));
        m.observe_tick(Duration::from_secs(1));
        let text = m.render();
        assert!(text.contains("madoguchi_tick_duration_seconds_bucket{le=\"0.00025\"} 1\n"), "{text}");
        assert!(text.contains("madoguchi_tick_duration_seconds_bucket{le=\"0.001\"} 2\n"), "{text}");
        assert!(text.contains("madoguchi_tick_duration_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("madoguchi_tick_duration_seconds_count 3\n"), "{text}");
    }

    #[test]
    fn refusals_are_counted_by_reason() {
        let m = Metrics::default();
        m.refuse(ErrorCode::ChatTooLong);
        m.refuse(ErrorCode::ChatTooLong);
        assert!(m.render().contains("madoguchi_refused_messages_total{reason=\"chat_too_long\"} 2\n"));
    }
}
