//! The status line: the room you are in, the connection's state, and the server's last
//! refusal (`Error`, `Refused`) in your language.
//!
//! May use: `connection`, `avatars`.

use crate::avatars::WorldView;
use crate::connection::{ConnState, FromServer};
use crate::frame::Step;
use crate::i18n::I18n;
use crate::office::OfficeRes;
use crate::screen::StatusText;
use bevy::prelude::*;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::ServerMessage;
use std::time::Duration;

/// The last refusal, for the status line.
#[derive(Resource, Debug, Default)]
pub struct LastError(pub Option<(ErrorCode, String)>);

/// How a connection state reads to a person. `now` is the app's elapsed real time.
pub fn describe_state(s: &ConnState, tr: &I18n, now: Duration) -> String {
    match s {
        ConnState::Idle => tr.t("state-idle"),
        ConnState::Requesting => tr.t("state-requesting"),
        ConnState::Handshaking => tr.t("state-handshaking"),
        ConnState::Connected => tr.t("state-connected"),
        // Held for a sign-in in the system browser (see `connection::SignInUnderWay`).
        ConnState::Reconnecting { retry_at, .. } if *retry_at == Duration::MAX => tr.t("signin-in-browser"),
        ConnState::Reconnecting { reason, retry_at } => {
            let seconds = retry_at.saturating_sub(now).as_secs_f32().ceil() as u32;
            tr.ta("state-reconnecting", &[("seconds", seconds.into()), ("reason", reason.as_str().into())])
        }
        ConnState::Failed(why) => tr.ta("state-failed", &[("why", why.as_str().into())]),
        ConnState::SessionEnded => tr.t("state-session-ended"),
    }
}

/// A refusal from the server in the player's language, when we have words for it.
pub fn describe_error(code: ErrorCode, message: &str, tr: &I18n) -> String {
    let id = format!("error-{}", code.as_str());
    if !tr.has(&id) {
        return message.to_string();
    }
    let words = tr.t(&id);
    // The closed-counter refusal carries the next opening time.
    if code == ErrorCode::QueueClosed && !message.is_empty() { format!("{words} ({message})") } else { words }
}

fn apply_server_messages(mut inbox: MessageReader<FromServer>, mut last_error: ResMut<LastError>) {
    for FromServer(msg) in inbox.read() {
        if let ServerMessage::Error { code, message } | ServerMessage::Refused { code, message } = msg {
            last_error.0 = Some((*code, message.clone()));
        }
    }
}

fn status_line(
    tr: Res<I18n>,
    state: Res<ConnState>,
    time: Res<Time<Real>>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    error: Res<LastError>,
    mut text: Query<&mut Text, With<StatusText>>,
) {
    let room = view.room.and_then(|r| office.room(r)).map(|r| tr.lang.name(&r.file.name).to_string());
    let mut status = format!("{}  |  {}", room.unwrap_or_default(), describe_state(&state, &tr, time.elapsed()));
    if let Some((code, msg)) = &error.0 {
        status.push('\n');
        status.push_str(&describe_error(*code, msg, &tr));
    }
    if let Ok(mut t) = text.single_mut()
        && t.0 != status
    {
        t.0 = status;
    }
}

/// The last refusal, for every app (the headless tests too).
pub(crate) fn state(app: &mut App) {
    app.init_resource::<LastError>().add_systems(Update, apply_server_messages.in_set(Step::Receive));
}

/// The status line (the windowed app).
pub(crate) fn plugin(app: &mut App) {
    state(app);
    app.add_systems(Update, status_line.in_set(Step::Show));
}
