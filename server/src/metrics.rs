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
    pub connected_clients: Gauge,
    pub joined_avatars: Gauge,
    pub udp_bytes_in: Counter,
    pub udp_bytes_out: Counter,
    pub udp_packets_in: Counter,
    pub udp_packets_out: Counter,
    pub connections_total: Counter,
    pub disconnections_total: Counter,
    pub tokens_issued_total: Counter,
    pub chat_messages_total: Counter,
    pub tickets_taken_total: Counter,
    pub tickets_called_total: Counter,
    pub tickets_no_show_total: Counter,
    /// Requests from the world to the queue service taken and not yet finished.
    pub queue_requests_pending: Gauge,
    /// Requests from the world to the queue service dropped because its queue was full (the
    /// client was told `busy`).
    pub queue_requests_dropped_total: Counter,
    refused: Family<Reason, Counter>,
    resident_memory: Gauge,
    /// Wall-clock time of the last completed tick, ms since the Unix epoch (for /healthz; not
    /// exported).
    pub last_tick_ms: AtomicU64,
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
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        // Counters' samples are named with `_total` appended (OpenMetrics).
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let refused = Family::<Reason, Counter>::default();
        for code in ErrorCode::ALL {
            drop(refused.get_or_create(&vec![("reason", code.as_str())]));
        }
        let m = Metrics {
            connected_clients: gauge(
                &mut registry,
                "madoguchi_connected_clients",
                "Clients with an open world connection",
            ),
            joined_avatars: gauge(
                &mut registry,
                "madoguchi_avatars",
                "Avatars in the world (clients past the handshake)",
            ),
            udp_bytes_in: counter(
                &mut registry,
                "madoguchi_udp_bytes_received",
                "UDP bytes received by the world socket",
            ),
            udp_bytes_out: counter(&mut registry, "madoguchi_udp_bytes_sent", "UDP bytes sent by the world socket"),
            udp_packets_in: counter(
                &mut registry,
                "madoguchi_udp_packets_received",
                "UDP packets received by the world socket",
            ),
            udp_packets_out: counter(
                &mut registry,
                "madoguchi_udp_packets_sent",
                "UDP packets sent by the world socket",
            ),
            connections_total: counter(&mut registry, "madoguchi_connections", "World connections opened"),
            disconnections_total: counter(
                &mut registry,
                "madoguchi_disconnections",
                "World connections closed, for any reason",
            ),
            tokens_issued_total: counter(
                &mut registry,
                "madoguchi_connect_tokens_issued",
                "Connect tokens issued over HTTP",
            ),
            chat_messages_total: counter(&mut registry, "madoguchi_chat_messages", "Chat messages delivered to a room"),
            tickets_taken_total: counter(&mut registry, "madoguchi_tickets_taken", "Queue tickets taken"),
            tickets_called_total: counter(&mut registry, "madoguchi_tickets_called", "Tickets called to a desk"),
            tickets_no_show_total: counter(
                &mut registry,
                "madoguchi_tickets_no_show",
                "Called tickets whose resident did not come",
            ),
            queue_requests_pending: gauge(
                &mut registry,
                "madoguchi_queue_requests_pending",
                "Requests from the world waiting for or in the queue service",
            ),
            queue_requests_dropped_total: counter(
                &mut registry,
                "madoguchi_queue_requests_dropped",
                "Requests from the world dropped because the queue service's queue was full",
            ),
            resident_memory: gauge(&mut registry, "process_resident_memory_bytes", "Resident memory of this process"),
            refused,
            tick,
            registry,
            last_tick_ms: AtomicU64::new(0),
        };
        let mut m = m;
        m.registry.register("madoguchi_refused_messages", "Client messages refused, by reason", m.refused.clone());
        m
    }

    /// Records one world tick's duration.
    pub fn observe_tick(&self, d: Duration) {
        self.tick.observe(d.as_secs_f64());
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
