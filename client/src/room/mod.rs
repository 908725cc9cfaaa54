//! The room on screen: built from the layout when we arrive in one, its counters' signs and
//! queue displays following the desks the server reports (`Desk`), the avatars' bodies and
//! name labels, the camera behind our avatar, and clicks or taps on the floor (walk there) or
//! on a desk or sign (a ticket there). On the desktop, `--screenshot` saves a picture of it.
//!
//! May use: `connection`, `avatars`, `tickets`.

mod desks;
mod scene;
#[cfg(not(target_arch = "wasm32"))]
mod shot;

use crate::frame::Step;
use bevy::prelude::*;

pub use desks::Desks;

/// The desks, for every app (the headless tests too).
pub(crate) fn desks(app: &mut App) {
    desks::plugin(app);
}

pub use scene::{CounterSign, FollowCamera, QueueDisplay, RoomPiece, WorldLabel, counter_at, framing, sign_lines};
#[cfg(not(target_arch = "wasm32"))]
pub use shot::{ScreenshotPlan, png_rgb, room_drawn};

/// The room drawn (the windowed app).
pub(crate) fn plugin(app: &mut App) {
    use scene::*;
    desks::plugin(app);
    app.add_systems(Startup, setup).add_systems(Update, (click_to_move, tap_sign).in_set(Step::Intend)).add_systems(
        Update,
        ((build_room, update_signs).chain(), dress_avatars, (follow, place_labels).chain()).in_set(Step::View),
    );
    #[cfg(not(target_arch = "wasm32"))]
    shot::plugin(app);
}
