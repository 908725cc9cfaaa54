//! The consultation at the counter, from the 3D client: when the server says the resident's
//! consultation has started, the client asks for a one-time link to the office's consultation
//! page (`POST /api/v1/consultations/page-link`) and shows it — over the canvas in the browser
//! (the page uses the browser's own camera, microphone and WebRTC), or in the system browser on
//! the desktop (the desktop build links no camera, microphone or WebRTC stack; one page tested in
//! real browsers serves all three ways in). When the consultation ends, the browser overlay
//! closes.
//!
//! In the browser the overlay covers the whole game, so the game stops drawing behind it: it
//! updates once a second (enough to keep its world connection alive and to see the
//! consultation end) and gives the processor to the video. It draws again when the overlay goes.
//!
//! May use: `connection`, `performance`.

use crate::connection::{FromServer, ServerConfig, SessionToken};
use crate::frame::Step;
use crate::http::{Failed, Job};
use crate::performance::DrawingPaused;
use bevy::prelude::*;
use madoguchi_shared::api;
use madoguchi_shared::protocol::ServerMessage;

/// The resident's running consultation at the counter, if any (its id), as the server says.
#[derive(Resource, Debug, Default)]
pub struct ActiveConsultation(pub Option<i64>);

fn apply_server_messages(mut inbox: MessageReader<FromServer>, mut consultation: ResMut<ActiveConsultation>) {
    for FromServer(msg) in inbox.read() {
        if let ServerMessage::Consultation { id } = msg {
            consultation.0 = *id;
        }
    }
}

/// A link request on its way: for which consultation, and its answer when it comes.
#[derive(Default)]
struct Asked {
    id: Option<i64>,
    answer: Option<Job<Result<String, Failed>>>,
    shown: bool,
}

async fn ask(http_base: String, token: String) -> Result<String, Failed> {
    let req = reqwest::Client::new().post(format!("{http_base}{}", api::paths::PAGE_LINK)).bearer_auth(token);
    let link: api::PageLink = crate::http::json(req, "consultation link").await?;
    Ok(format!("{http_base}{}", link.url))
}

/// How often the browser game updates while the consultation covers it.
#[cfg(target_arch = "wasm32")]
const PAUSED_UPDATE: std::time::Duration = std::time::Duration::from_secs(1);

/// Pauses drawing (the browser overlay covers the game) or resumes it.
#[cfg_attr(not(target_arch = "wasm32"), allow(unused_variables))]
fn pause_drawing(winit: Option<&mut bevy::winit::WinitSettings>, drawing: &mut DrawingPaused, paused: bool) {
    // Frame pacing judges the device by the frames it draws, not by the paused ones.
    drawing.0 = paused;
    #[cfg(target_arch = "wasm32")]
    if let Some(w) = winit {
        *w = if paused {
            let slow = bevy::winit::UpdateMode::reactive_low_power(PAUSED_UPDATE);
            bevy::winit::WinitSettings { focused_mode: slow, unfocused_mode: slow }
        } else {
            bevy::winit::WinitSettings::game()
        };
    }
}

fn follow(
    consultation: Res<ActiveConsultation>,
    session: Res<SessionToken>,
    config: Res<ServerConfig>,
    mut winit: Option<ResMut<bevy::winit::WinitSettings>>,
    mut drawing: ResMut<DrawingPaused>,
    mut asked: Local<Asked>,
) {
    match (consultation.0, asked.id) {
        (Some(id), current) if current != Some(id) => {
            let Some(token) = session.0.clone() else { return };
            asked.id = Some(id);
            asked.shown = false;
            asked.answer = Some(Job::start(ask(config.http_base.clone(), token)));
        }
        (None, Some(_)) => {
            asked.id = None;
            if asked.shown {
                crate::platform::close_consultation();
                pause_drawing(winit.as_deref_mut(), &mut drawing, false);
            }
            asked.shown = false;
        }
        _ => {}
    }
    if asked.id.is_some() && !asked.shown {
        let answer = asked.answer.as_ref().and_then(Job::answer);
        match answer {
            Some(Ok(url)) => {
                crate::platform::open_consultation(&url);
                pause_drawing(winit.as_deref_mut(), &mut drawing, true);
                asked.shown = true;
            }
            Some(Err(e)) => {
                warn!("{e}");
                // Try again when the server next says so.
                asked.id = None;
            }
            None => {}
        }
    }
}

/// The running consultation, for every app (the headless tests too).
pub(crate) fn state(app: &mut App) {
    app.init_resource::<ActiveConsultation>().add_systems(Update, apply_server_messages.in_set(Step::Receive));
}

/// The consultation page shown (the windowed app).
pub(crate) fn plugin(app: &mut App) {
    state(app);
    app.init_resource::<DrawingPaused>().add_systems(Update, follow.in_set(Step::Send));
}
