//! The order of a frame, declared once: each feature puts its systems in one of these steps.

use bevy::prelude::*;

/// The steps of a frame, in order. A system that depends on another feature's work of the same
/// frame is put in the step after it (none names another feature's systems); one that depends
/// on nothing of the frame (building a panel, a screen's layout) may stay outside them.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// (PreUpdate) The connection: grants, the transport, the server's messages in.
    Connect,
    /// (PreUpdate, after bevy's input and the UI's focus) A finger on the screen becomes the
    /// touch stick.
    Touch,
    /// Each feature applies the server's messages to its own state.
    Receive,
    /// A line being typed (the chat line, the join screen's name) takes its keys first.
    Type,
    /// The player's intents: keys, touches, clicks and buttons.
    Intend,
    /// Intents become requests: legs of a walk, tickets, the world's HTTP calls (the
    /// consultation's link, the applications).
    Send,
    /// Avatars move along their interpolation.
    Animate,
    /// The room and the camera follow.
    View,
    /// The screen's words and panels.
    Show,
}

/// Declares the order of the [`Step`]s.
pub fn steps(app: &mut App) {
    app.configure_sets(PreUpdate, Step::Connect)
        .configure_sets(PreUpdate, Step::Touch.after(bevy::input::InputSystems).after(bevy::ui::UiSystems::Focus))
        .configure_sets(
            Update,
            (Step::Receive, Step::Type, Step::Intend, Step::Send, Step::Animate, Step::View, Step::Show).chain(),
        )
        .init_resource::<crate::typing::Typing>()
        .init_resource::<crate::touch::TouchFirst>()
        .add_systems(Update, crate::touch::detect_touch.in_set(Step::Intend));
}
