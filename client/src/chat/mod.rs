//! The room's chat: the lines the server relays (`Chat`), the last few on screen, and our own
//! line — typed in the window after Enter (keys and the system's IME) or, in the browser, in the
//! page's chat box.
//!
//! May use: `connection`, `avatars`.

use crate::avatars::WorldView;
use crate::connection::{FromServer, ToServer};
use crate::frame::Step;
use crate::i18n::I18n;
use crate::screen::{ChatEntryText, ChatText};
use crate::touch::TouchFirst;
use crate::typing::{Edit, Typing, edit_line, push_limited};
use bevy::input::ButtonState;
use bevy::input::keyboard::KeyboardInput;
use bevy::prelude::*;
use bevy::window::Ime;
use madoguchi_shared::limits::CHAT_MAX_CHARS;
use madoguchi_shared::protocol::{ClientMessage, ServerMessage};

/// Chat lines of the room: (name, text), newest last; at most 50 kept.
#[derive(Resource, Debug, Default)]
pub struct ChatLog(pub Vec<(String, String)>);

impl ChatLog {
    /// The last few lines, as shown.
    pub fn last_lines(&self) -> Vec<String> {
        self.0.iter().rev().take(5).rev().map(|(n, m)| format!("{n}: {m}")).collect()
    }
}

/// The chat line being typed, while the chat entry is open.
#[derive(Resource, Debug, Default, Clone)]
pub struct ChatEntry {
    pub open: bool,
    pub text: String,
}

fn apply_server_messages(mut inbox: MessageReader<FromServer>, mut chat: ResMut<ChatLog>) {
    for FromServer(msg) in inbox.read() {
        if let ServerMessage::Chat { name, text, .. } = msg {
            chat.0.push((name.clone(), text.clone()));
            let excess = chat.0.len().saturating_sub(50);
            chat.0.drain(..excess);
        }
    }
}

/// Enter opens the chat entry, where typed text (and IME commits) collect until Enter sends it
/// or Escape drops it. A quick tap can press and release within one frame, so key events are
/// read, not key state.
fn chat_keys(
    mut events: MessageReader<KeyboardInput>,
    mut ime: MessageReader<Ime>,
    view: Res<WorldView>,
    mut entry: ResMut<ChatEntry>,
    mut typing: ResMut<Typing>,
    mut windows: Query<&mut Window>,
    mut out: MessageWriter<ToServer>,
) {
    let was_open = entry.open;
    let mut took_keys = false;
    for e in events.read() {
        if e.state != ButtonState::Pressed {
            continue;
        }
        took_keys |= entry.open;
        if !entry.open {
            // The browser page has its own chat box (with the system's IME); else type here.
            if matches!(e.key_code, KeyCode::Enter | KeyCode::NumpadEnter)
                && !e.repeat
                && view.me.is_some()
                && !crate::platform::focus_page_chat()
            {
                entry.open = true;
                entry.text.clear();
            }
            continue;
        }
        match edit_line(&mut entry.text, e, CHAT_MAX_CHARS) {
            Edit::Typing => {}
            Edit::Submit => {
                let text = entry.text.trim().to_string();
                if !text.is_empty() {
                    out.write(ToServer(ClientMessage::Chat { text }));
                }
                entry.open = false;
            }
            Edit::Cancel => entry.open = false,
        }
    }
    for e in ime.read() {
        if let Ime::Commit { value, .. } = e
            && entry.open
        {
            push_limited(&mut entry.text, value, CHAT_MAX_CHARS);
        }
    }
    let now = Typing { open: entry.open, took_keys };
    if *typing != now {
        *typing = now;
    }
    if entry.open != was_open {
        // The system's input method (kana to kanji) composes only while a text entry is open.
        for mut w in &mut windows {
            w.ime_enabled = entry.open;
        }
    }
}

/// Chat lines typed into the browser page's chat box.
fn page_chat(mut out: MessageWriter<ToServer>) {
    for text in crate::platform::take_page_chat() {
        let text: String = text.trim().chars().take(CHAT_MAX_CHARS).collect();
        if !text.is_empty() {
            out.write(ToServer(ClientMessage::Chat { text }));
        }
    }
}

/// The last chat lines (or how to chat), and the line being typed.
fn show(
    tr: Res<I18n>,
    chat: Res<ChatLog>,
    entry: Res<ChatEntry>,
    touch: Res<TouchFirst>,
    mut lines: Query<&mut Text, (With<ChatText>, Without<ChatEntryText>)>,
    mut typed: Query<(&mut Text, &mut Visibility), With<ChatEntryText>>,
) {
    if (chat.is_changed() || tr.is_changed() || touch.is_changed())
        && let Ok(mut t) = lines.single_mut()
    {
        let mut shown = chat.last_lines();
        if shown.is_empty() {
            // On a touch screen, no key is named.
            shown.push(tr.t(if touch.0 { "chat-hint-touch" } else { "chat-hint" }));
        }
        t.0 = shown.join("\n");
    }
    if (entry.is_changed() || tr.is_changed())
        && let Ok((mut t, mut vis)) = typed.single_mut()
    {
        t.0 = tr.ta("chat-prompt", &[("text", format!("{}|", entry.text).into())]);
        *vis = if entry.open { Visibility::Inherited } else { Visibility::Hidden };
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ChatLog>()
        .init_resource::<ChatEntry>()
        .add_message::<Ime>()
        .add_systems(Update, apply_server_messages.in_set(Step::Receive))
        .add_systems(Update, chat_keys.in_set(Step::Type))
        .add_systems(Update, page_chat.in_set(Step::Intend))
        .add_systems(Update, show.in_set(Step::Show));
}
