//! Who is where, built only from what the server says (`Welcome`, `EnteredRoom`, `Appeared`,
//! `Vanished`, `Snapshot`): our avatar and the others in the room, interpolated between
//! snapshots; and our own walking (keys, the touch stick).
//!
//! May use: `connection`.

mod state;
mod walk;

use crate::frame::Step;
use bevy::prelude::*;
pub use state::{Avatar, Interp, Me, RoomChanged, WorldView, from_world, to_world};
pub use walk::{DRAG_FULL_PX, DRAG_START_PX, InputState, StickDir, TouchStick, key_direction, stick_direction};

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<WorldView>()
        .add_message::<RoomChanged>()
        .add_systems(Update, state::apply_server_messages.in_set(Step::Receive))
        .add_systems(Update, state::interpolate.in_set(Step::Animate));
    walk::plugin(app);
}
