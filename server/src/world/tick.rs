//! The tick: its named stages, its counter, and its own bookkeeping (how long it took, that
//! it is alive, and when to stop).

use crate::metrics::{WorldMetrics, thread_cpu_time};
use bevy::prelude::*;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::UnboundedReceiver;

/// Named stages of a tick, in order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TickSet {
    /// Client messages are read and applied.
    Receive,
    /// Avatars move.
    Simulate,
    /// Each client is told what changed in its view.
    Publish,
}

/// The world tick counter, advanced at the start of every tick.
#[derive(Resource, Default, Debug, Clone, Copy)]
pub struct TickCount(pub u32);

/// When the current tick started, by the wall clock and by the world thread's CPU clock. The
/// server's bevy has no `multi_threaded` feature: every system of a tick runs on this one
/// thread, so its CPU clock measures the whole tick's own work.
#[derive(Resource)]
struct TickStart(Instant, Option<Duration>);

/// A line to print on stdout once the first tick has completed: then the world is really up.
#[derive(Resource)]
pub struct ReadyLine(pub Option<String>);

/// Prints [`ReadyLine`] after the first tick, for scripts and tests that start the server on
/// ephemeral ports and must know when it answers.
fn announce_ready(mut line: ResMut<ReadyLine>) {
    if let Some(text) = line.0.take() {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Fires when the process is asked to stop (SIGINT, SIGTERM).
#[derive(Resource)]
pub struct Shutdown(pub UnboundedReceiver<()>);

fn start_tick(mut start: ResMut<TickStart>, mut count: ResMut<TickCount>) {
    start.0 = Instant::now();
    start.1 = thread_cpu_time();
    count.0 = count.0.wrapping_add(1);
}

/// Records the tick's duration in the histogram and marks the world alive for /healthz.
fn end_tick(start: Res<TickStart>, metrics: Res<WorldMetrics>) {
    let cpu = thread_cpu_time().zip(start.1).map(|(end, begin)| end.saturating_sub(begin));
    metrics.observe_tick(start.0.elapsed(), cpu);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    metrics.last_tick_ms.store(now_ms, std::sync::atomic::Ordering::Relaxed);
}

/// Ends the app when a stop signal arrives; the transport then says goodbye to every client.
fn handle_shutdown(shutdown: Option<ResMut<Shutdown>>, mut exit: MessageWriter<AppExit>) {
    if let Some(mut s) = shutdown
        && s.0.try_recv().is_ok()
    {
        tracing::info!("stopping");
        exit.write(AppExit::Success);
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.insert_resource(TickStart(Instant::now(), None))
        .init_resource::<TickCount>()
        .configure_sets(Update, (TickSet::Receive, TickSet::Simulate, TickSet::Publish).chain())
        .add_systems(First, (start_tick, handle_shutdown))
        .add_systems(Last, (end_tick, announce_ready.run_if(resource_exists::<ReadyLine>)).chain());
}
