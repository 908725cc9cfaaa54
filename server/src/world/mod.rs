//! The world: rooms, avatars and their movement, what each client sees, room chat, and the
//! counters as the world sees them (desk signs, clerks behind desks, tickets delivered to their
//! residents). A headless bevy app at a fixed tick that never waits on I/O.
//!
//! Owns its link to the services beside it (`link`: the requests it sends the queue, the
//! notices services send it). Subscribes to [`crate::events::OfficeEvent::Desk`] (a counter's sign,
//! the clerk behind it) and `Consultation` (the resident's clients open or close the
//! consultation panel); publishes nothing on the bus.
//!
//! Uses `net` (who is connected, and the outbox), `identity` (who a connection belongs to),
//! `events` and `metrics`. Nothing here touches the database, HTTP or another feature's service.
//!
//! May use: `identity`, `net`.

mod avatar;
mod bucket;
mod chat;
pub mod counters;
pub mod link;
mod movement;
mod receive;
pub mod settings;
pub mod tick;
mod view;

pub use settings::WorldFlags;

use bevy::prelude::*;

/// Every system of the world, in its named stages.
pub(crate) fn plugin(app: &mut App) {
    app.add_plugins((
        tick::plugin,
        bucket::plugin,
        receive::plugin,
        movement::plugin,
        chat::plugin,
        view::plugin,
        counters::plugin,
    ));
}
