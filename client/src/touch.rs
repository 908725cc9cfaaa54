//! Whether the player is on a touch screen: hints then speak of tapping, never of keys.

use bevy::input::ButtonState;
use bevy::input::keyboard::KeyboardInput;
use bevy::prelude::*;

/// Whether the player is on a touch screen. It starts from the device (`navigator.maxTouchPoints`
/// in the browser) and follows use: a touch makes it true, a key press false.
#[derive(Resource, Debug, Clone, Copy)]
pub struct TouchFirst(pub bool);

impl Default for TouchFirst {
    fn default() -> Self {
        TouchFirst(crate::platform::touch_screen())
    }
}

/// Follows the last kind of input used.
pub fn detect_touch(
    touches: Option<Res<Touches>>,
    mut keys: MessageReader<KeyboardInput>,
    mut touch: ResMut<TouchFirst>,
) {
    // Only the browser's page has the boxes and lists the touch hints speak of.
    let touched = cfg!(target_arch = "wasm32") && touches.is_some_and(|t| t.any_just_pressed());
    let typed = keys.read().filter(|k| k.state == ButtonState::Pressed).count() > 0;
    let now = if touched {
        true
    } else if typed {
        false
    } else {
        touch.0
    };
    if touch.0 != now {
        touch.0 = now;
    }
}
