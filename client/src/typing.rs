//! Lines being typed (the chat line, the join screen's name): how a key edits one, and whether
//! the chat line has the keys (then they are letters, not steps or a ticket).

use bevy::input::keyboard::KeyboardInput;
use bevy::prelude::*;

/// Whether the chat line has the keys (set by `chat`; the join screen is shown only outside the
/// office, where no key does anything else). The features that read keys for anything else
/// leave them alone while it says so.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Typing {
    /// The line is open now: held keys are not steps.
    pub open: bool,
    /// Some of this frame's key presses went to the line (it was open when they came): none of
    /// this frame's presses is anything else, even if the line closed after them.
    pub took_keys: bool,
}

/// What a key press did to a line being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Typing,
    Submit,
    Cancel,
}

/// Applies one key press to a line of text (the chat line, the join screen's name): characters
/// (and space) are added up to `max` characters, Backspace removes one, Enter submits, Escape
/// cancels.
pub fn edit_line(text: &mut String, e: &KeyboardInput, max: usize) -> Edit {
    match e.key_code {
        KeyCode::Enter | KeyCode::NumpadEnter => return Edit::Submit,
        KeyCode::Escape => return Edit::Cancel,
        KeyCode::Backspace => {
            text.pop();
        }
        // The text the key produced, as the system's keyboard layout says (none for keys an
        // IME is composing with: those arrive as `Ime::Commit`).
        _ => {
            if let Some(t) = &e.text {
                push_limited(text, t, max);
            }
        }
    }
    Edit::Typing
}

/// Appends `s` (control characters dropped) while the text stays within `max` characters.
pub fn push_limited(text: &mut String, s: &str, max: usize) {
    for c in s.chars().filter(|c| !c.is_control()) {
        if text.chars().count() >= max {
            return;
        }
        text.push(c);
    }
}
