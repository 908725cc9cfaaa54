//! "What happens next", in the 3D client: the resident's applications (procedure, reference
//! number, status, the clerk's note, the documents to bring) in a panel opened from a button in
//! the corner. The list is the resident's own (`GET /api/v1/applications`, with the session
//! token); it is fetched when the world connects, when a consultation ends (the panel then opens
//! by itself: that is when there is news), when the panel is opened, and every 30 s while it
//! stays open. One request at a time.
//!
//! The procedure names and documents come from the office's catalog (`GET /api/v1/procedures`),
//! fetched once.
//!
//! May use: `connection`, `consultation`.

use crate::connection::{ConnState, ServerConfig, SessionToken};
use crate::consultation::ActiveConsultation;
use crate::frame::Step;
use crate::http::{Failed, Job};
use crate::i18n::I18n;
use bevy::prelude::*;
use fluent_bundle::FluentValue;
use madoguchi_shared::api::{self, ApplicationView as Application, Procedure};
use std::collections::HashMap;

/// How often an open panel asks again.
const REFRESH_SECS: f32 = 30.0;
/// At most this many applications are listed (the newest).
const SHOWN: usize = 6;

/// The resident's applications, as last fetched (newest first), and whether the panel is open.
#[derive(Resource, Default)]
pub struct MyApplications {
    pub list: Option<Vec<Application>>,
    pub procedures: HashMap<String, Procedure>,
    pub open: bool,
}

/// The panel's text: each application with its status, the clerk's note and, while it is not
/// finished, the documents to bring.
pub fn describe(list: &[Application], procedures: &HashMap<String, Procedure>, tr: &I18n) -> String {
    let mut out = tr.t("text-apps-heading");
    if list.is_empty() {
        out.push('\n');
        out.push_str(&tr.t("text-apps-none"));
        return out;
    }
    for a in list.iter().take(SHOWN) {
        let procedure = procedures.get(&a.procedure_id);
        let name = procedure.map(|p| tr.lang.name(&p.name).to_string()).unwrap_or_else(|| a.procedure_id.clone());
        let status_id = format!("app-status-{}", a.status.as_str());
        let status = if tr.has(&status_id) { tr.t(&status_id) } else { a.status.as_str().to_string() };
        out.push_str(&format!("\n\n{name} — {}\n", a.reference));
        out.push_str(&tr.ta("apps-status", &[("status", FluentValue::from(status))]));
        if let Some(note) = a.status_note.as_deref().filter(|n| !n.is_empty()) {
            out.push('\n');
            out.push_str(&tr.ta("apps-note", &[("note", FluentValue::from(note))]));
        }
        let documents: Vec<String> = procedure
            .filter(|_| !a.status.is_final())
            .map(|p| p.documents.iter().map(|d| tr.lang.name(d).into_owned()).collect())
            .unwrap_or_default();
        if !documents.is_empty() {
            out.push('\n');
            out.push_str(&tr.ta("apps-documents", &[("documents", FluentValue::from(documents.join(", ")))]));
        }
    }
    if list.len() > SHOWN {
        out.push_str("\n\n");
        out.push_str(&tr.ta("apps-more", &[("count", (list.len() - SHOWN).into())]));
    }
    out
}

type Answer = Job<Result<(Vec<Application>, Option<Vec<Procedure>>), Failed>>;

/// The request in flight, if any, and when the list was last asked for.
#[derive(Default)]
struct Fetcher {
    answer: Option<Answer>,
    asked_at: Option<f32>,
    /// The session the list belongs to (a new session starts over).
    token: Option<String>,
}

async fn get<T: serde::de::DeserializeOwned>(url: String, token: Option<&str>) -> Result<T, Failed> {
    let mut req = reqwest::Client::new().get(&url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    crate::http::json(req, "applications").await
}

/// Whether the client should ask again now.
fn due(
    fetcher: &Fetcher,
    apps: &MyApplications,
    now: f32,
    consultation_ended: bool,
    opened: bool,
    token_changed: bool,
) -> bool {
    if fetcher.answer.is_some() {
        return false;
    }
    token_changed
        || consultation_ended
        || opened
        || apps.list.is_none()
        || (apps.open && fetcher.asked_at.is_some_and(|t| now - t >= REFRESH_SECS))
}

#[allow(clippy::too_many_arguments)]
fn fetch(
    state: Res<ConnState>,
    session: Res<SessionToken>,
    config: Res<ServerConfig>,
    consultation: Res<ActiveConsultation>,
    time: Res<Time<Real>>,
    mut apps: ResMut<MyApplications>,
    mut fetcher: Local<Fetcher>,
    mut was_consulting: Local<bool>,
    mut was_open: Local<bool>,
) {
    let now = time.elapsed_secs();
    let ended = *was_consulting && consultation.0.is_none();
    *was_consulting = consultation.0.is_some();
    let opened = apps.open && !*was_open;
    *was_open = apps.open;
    if ended {
        // The news of a consultation: show it.
        apps.open = true;
        *was_open = true;
    }
    // An answer that came back.
    let answer = fetcher.answer.as_ref().and_then(Job::answer);
    if let Some(answer) = answer {
        fetcher.answer = None;
        match answer {
            Ok((list, procedures)) => {
                if let Some(procedures) = procedures {
                    apps.procedures = procedures.into_iter().map(|p| (p.id.clone(), p)).collect();
                }
                apps.list = Some(list);
            }
            Err(e) => warn!("{e}"),
        }
    }
    let Some(token) = session.0.clone() else { return };
    if *state != ConnState::Connected {
        return;
    }
    let token_changed = fetcher.token.as_ref() != Some(&token);
    if token_changed && fetcher.answer.is_none() {
        apps.list = None;
    }
    if !due(&fetcher, &apps, now, ended, opened, token_changed) {
        return;
    }
    // A failed request is not retried at once: the next reason, or the refresh, will.
    if apps.list.is_none() && !token_changed && fetcher.asked_at.is_some_and(|t| now - t < REFRESH_SECS) {
        return;
    }
    fetcher.token = Some(token.clone());
    fetcher.asked_at = Some(now);
    let base = config.http_base.clone();
    let need_catalog = apps.procedures.is_empty();
    fetcher.answer = Some(Job::start(async move {
        let list = get::<Vec<Application>>(format!("{base}{}", api::paths::APPLICATIONS), Some(&token)).await?;
        let procedures = match need_catalog {
            true => Some(get::<Vec<Procedure>>(format!("{base}{}", api::paths::PROCEDURES), None).await?),
            false => None,
        };
        Ok((list, procedures))
    }));
}

/// The button that opens and closes the panel.
#[derive(Component)]
struct AppsButton;
/// The panel.
#[derive(Component)]
pub struct AppsPanel;

fn setup(mut commands: Commands) {
    commands
        .spawn((
            Button,
            BackgroundColor(Color::srgb(0.1, 0.35, 0.7)),
            Node {
                position_type: PositionType::Absolute,
                right: Val::Px(10.0),
                top: Val::Px(8.0),
                min_height: Val::Px(44.0),
                min_width: Val::Px(44.0),
                padding: UiRect::axes(Val::Px(14.0), Val::Px(8.0)),
                align_items: AlignItems::Center,
                ..default()
            },
            // Over the room's signs (UI nodes placed where the signs are).
            GlobalZIndex(10),
            AppsButton,
        ))
        .with_child((Text::new(""), TextFont { font_size: FontSize::Px(16.0), ..default() }, TextColor(Color::WHITE)));
    commands.spawn((
        Text::new(""),
        TextFont { font_size: FontSize::Px(15.0), ..default() },
        TextColor(Color::srgb(0.05, 0.05, 0.1)),
        BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.92)),
        Node {
            position_type: PositionType::Absolute,
            right: Val::Px(10.0),
            top: Val::Px(60.0),
            max_width: Val::Px(420.0),
            padding: UiRect::all(Val::Px(10.0)),
            ..default()
        },
        Visibility::Hidden,
        GlobalZIndex(10),
        AppsPanel,
    ));
}

/// The button opens and closes the panel.
fn toggle(pressed: Query<&Interaction, (Changed<Interaction>, With<AppsButton>)>, mut apps: ResMut<MyApplications>) {
    if pressed.iter().any(|i| *i == Interaction::Pressed) {
        apps.open = !apps.open;
    }
}

#[allow(clippy::type_complexity)]
fn show(
    tr: Res<I18n>,
    apps: Res<MyApplications>,
    button: Query<&Children, With<AppsButton>>,
    mut texts: Query<&mut Text, Without<AppsPanel>>,
    mut panel: Query<(&mut Text, &mut Visibility), With<AppsPanel>>,
) {
    if !apps.is_changed() && !tr.is_changed() {
        return;
    }
    let count = apps.list.as_ref().map_or(0, Vec::len);
    let label = tr.ta("apps-button", &[("count", count.into())]);
    for children in &button {
        for c in children {
            if let Ok(mut t) = texts.get_mut(*c)
                && t.0 != label
            {
                t.0 = label.clone();
            }
        }
    }
    if let Ok((mut text, mut vis)) = panel.single_mut() {
        let body = match &apps.list {
            Some(list) => describe(list, &apps.procedures, &tr),
            None => tr.t("apps-loading"),
        };
        if text.0 != body {
            text.0 = body;
        }
        let want = if apps.open { Visibility::Inherited } else { Visibility::Hidden };
        if *vis != want {
            *vis = want;
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<MyApplications>()
        .add_systems(Startup, setup)
        .add_systems(Update, toggle.in_set(Step::Intend))
        .add_systems(Update, fetch.in_set(Step::Send))
        .add_systems(Update, show.in_set(Step::Show));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn the_panel_says_status_note_and_documents_until_finished() {
        // As the server writes them (`GET /api/v1/procedures`, `GET /api/v1/applications`).
        let moving_in: Procedure = serde_json::from_value(serde_json::json!({
            "id": "moving_in", "department": "resident_registration", "identity_level": "guest",
            "name": {"ja": "転入届", "en": "Moving-in notice"},
            "documents": [{"ja": "転出証明書", "en": "Moving-out certificate"}],
            "field": [{"id": "name", "type": "text", "label": {"ja": "氏名", "en": "Name"}, "required": true}],
        }))
        .expect("a procedure as the server lists it");
        let procedures: HashMap<String, Procedure> = [("moving_in".to_string(), moving_in)].into();
        let app = |status: &str, note: Option<&str>| -> Application {
            let mut v = serde_json::json!({
                "reference": "MDG-2026-000001", "procedure_id": "moving_in",
                "department_id": "resident_registration", "status": status, "form_data": {"name": "花子"},
                "created_at": "2026-12-08T00:00:00Z", "updated_at": "2026-12-08T00:00:00Z",
            });
            if let Some(n) = note {
                v["status_note"] = n.into();
            }
            serde_json::from_value(v).expect("an application as the server lists it")
        };
        let ja = I18n::new(Lang::Ja);
        let text = describe(&[app("in_review", Some("原本をお持ちください"))], &procedures, &ja);
        assert!(text.contains("転入届 — MDG-2026-000001"), "{text}");
        assert!(text.contains("審査中") && text.contains("原本をお持ちください"), "{text}");
        assert!(text.contains("転出証明書"), "documents to bring while not finished: {text}");
        let en = I18n::new(Lang::En);
        let text = describe(&[app("approved", None)], &procedures, &en);
        assert!(text.contains("Moving-in notice") && text.contains("approved"), "{text}");
        assert!(!text.contains("Moving-out certificate"), "nothing to bring once finished: {text}");
        // An unknown procedure is named by its id; no applications says so.
        let other = Application { procedure_id: "unknown".into(), ..app("submitted", None) };
        assert!(describe(&[other], &procedures, &en).contains("unknown — MDG"));
        assert!(describe(&[], &procedures, &en).contains(&en.t("text-apps-none")));
        // Only the newest few, and how many more.
        let many: Vec<Application> = (0..9).map(|_| app("submitted", None)).collect();
        let text = describe(&many, &procedures, &en);
        assert_eq!(text.matches("MDG-2026-000001").count(), SHOWN, "{text}");
        assert!(text.contains('3'), "{text}");
    }
}
