//! Our tickets: what the server says of them (`Ticket`), the call banner and its chime, and
//! taking one — at the counter we stand at (E, the take button), or at a counter chosen from
//! afar (a sign, a desk, the counters list), walking there first. Every way of taking a ticket
//! is a [`TakeAt`]; one system sends `TakeTicket`.
//!
//! May use: `connection`, `avatars`.

#[cfg(not(target_arch = "wasm32"))]
mod go;
mod panel;
mod state;
mod take;

use crate::connection::SessionEndedNotice;
use crate::frame::Step;
use bevy::prelude::*;

#[cfg(not(target_arch = "wasm32"))]
pub use go::{GoCorner, GoCounter, GoList, GoToggle};
pub use panel::{describe_call, describe_ticket};
pub use state::{Announced, Called, Tickets, is_new_call};
pub use take::{PendingTake, TakeAt, counter_in_reach, next_leg};

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Tickets>()
        .init_resource::<Announced>()
        .add_message::<Called>()
        .add_systems(Update, state::apply_server_messages.in_set(Step::Receive))
        .add_systems(Update, state::forget_tickets.run_if(resource_added::<SessionEndedNotice>).in_set(Step::Receive));
    take::plugin(app);
    panel::plugin(app);
}

/// The desktop's counters list (the browser page has its own, in HTML).
#[cfg(not(target_arch = "wasm32"))]
pub fn counters_list(app: &mut App) {
    go::plugin(app);
}
