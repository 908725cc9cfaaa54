//! The Madoguchi server: one process hosting one office.
//!
//! The world (rooms, avatars, chat) is a headless bevy app ticking at a fixed rate; it owns all
//! world state and never waits on I/O. HTTP runs on tokio beside it and reaches the world only
//! through channels drained once per tick. `main.rs` only parses arguments and calls [`run`];
//! `app/` builds the office from the features, one folder each:
//!
//! - `app/` — `Office::start` (every service and its background loops), its router and world;
//!   `serve`; the other subcommands; the flags (`config.rs`, gathering each feature's own);
//! - `http/` — routers, one per resource; the text mode; the browser client's files;
//! - `consult/` — consultations at the counter: signalling, the SFU, chat, applications;
//! - `world/` — avatars, movement, views, chat, counters in the world, the tick;
//! - `queue/` — tickets, desks, calling, notices, the no-show timer, the wait estimate;
//! - `net/` — admission, the UDP and WebSocket transports, client records, the outbox;
//! - `records/` — applications, the audit chain, the procedure catalog;
//! - `identity/` — sessions, staff accounts, world principals, sign-in and a guest's merge;
//! - `db.rs`, `events.rs` (office events: who publishes what, who subscribes),
//!   `metrics.rs`, `ratelimit.rs`, `assets.rs` beneath them all.
//!
//! Each folder's `mod.rs` says which features it may use (`May use:`) and opens only what it
//! re-exports; `scripts/check-modules` fails on an import cycle or a path past those doors.

pub mod app;
pub mod assets;
pub mod consult;
pub mod db;
pub mod events;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod net;
pub mod queue;
pub mod ratelimit;
pub mod records;
pub mod world;

/// Runs a command of the `madoguchi-server` binary.
pub fn run(cli: app::config::Cli) -> anyhow::Result<()> {
    app::commands::run(cli)
}
