//! The text on screen: where you are and the connection state, your tickets (number,
//! position, wait, and a banner when called, with where to go), chat, and the last refusal.
//! The right side is left free for the consultation panel (video) of a later issue.

use crate::input::OfficeRes;
use crate::net::ConnState;
use crate::world::{Called, ChatLog, LastError, Tickets, WorldView};
use bevy::prelude::*;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};

#[derive(Component)]
pub struct StatusText;
#[derive(Component)]
pub struct TicketText;
#[derive(Component)]
pub struct ChatText;
#[derive(Component)]
pub struct Banner;

/// Whether the UI speaks Japanese or English.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UiLang {
    #[default]
    Ja,
    En,
}

impl UiLang {
    pub fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        if self == UiLang::Ja { ja } else { en }
    }
}

/// How a connection state reads to a person.
pub fn describe_state(s: &ConnState, lang: UiLang) -> String {
    match s {
        ConnState::Idle => lang.pick("待機中", "Not connected").into(),
        ConnState::Requesting => lang.pick("接続しています…", "Connecting…").into(),
        ConnState::Handshaking => lang.pick("入館しています…", "Entering the office…").into(),
        ConnState::Connected => lang.pick("接続中", "Connected").into(),
        ConnState::Reconnecting { reason, .. } => {
            format!("{} ({reason})", lang.pick("接続が切れました。再接続します…", "Connection lost; reconnecting…"))
        }
        ConnState::Failed(why) => format!("{}: {why}", lang.pick("接続できません", "Cannot connect")),
    }
}

/// One ticket as a line of text.
pub fn describe_ticket(t: &TicketInfo, lang: UiLang) -> String {
    match t.status {
        TicketStatus::Waiting => {
            let wait = match t.wait_s {
                Some(s) => format!("{}{}", s.div_ceil(60).max(1), lang.pick("分", " min")),
                None => lang.pick("不明", "unknown").into(),
            };
            match lang {
                UiLang::Ja => format!("{}  {}番目  待ち時間の目安 {wait}", t.label, t.position.unwrap_or(0)),
                UiLang::En => format!("{}  position {}  wait {wait}", t.label, t.position.unwrap_or(0)),
            }
        }
        TicketStatus::Called => {
            let c = t.counter.clone().unwrap_or_default().to_uppercase();
            match lang {
                UiLang::Ja => format!("{}  呼び出し中: {c} 番窓口へ", t.label),
                UiLang::En => format!("{}  called: go to counter {c}", t.label),
            }
        }
        TicketStatus::Serving => format!("{}  {}", t.label, lang.pick("対応中", "being served")),
        _ => String::new(),
    }
}

fn setup(mut commands: Commands) {
    commands.spawn((
        Text::new(""),
        TextFont { font_size: FontSize::Px(16.0), ..default() },
        TextColor(Color::srgb(0.05, 0.05, 0.1)),
        Node { position_type: PositionType::Absolute, left: Val::Px(10.0), top: Val::Px(8.0), ..default() },
        StatusText,
    ));
    commands.spawn((
        Text::new(""),
        TextFont { font_size: FontSize::Px(18.0), ..default() },
        TextColor(Color::srgb(0.05, 0.1, 0.3)),
        BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.85)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(10.0),
            top: Val::Px(40.0),
            padding: UiRect::all(Val::Px(6.0)),
            ..default()
        },
        TicketText,
    ));
    commands.spawn((
        Text::new(""),
        TextFont { font_size: FontSize::Px(14.0), ..default() },
        TextColor(Color::srgb(0.1, 0.1, 0.1)),
        BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.7)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(10.0),
            bottom: Val::Px(10.0),
            max_width: Val::Percent(45.0),
            padding: UiRect::all(Val::Px(6.0)),
            ..default()
        },
        ChatText,
    ));
    commands.spawn((
        Text::new(""),
        TextFont { font_size: FontSize::Px(26.0), ..default() },
        TextColor(Color::WHITE),
        BackgroundColor(Color::srgb(0.7, 0.1, 0.15)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Percent(20.0),
            top: Val::Px(60.0),
            padding: UiRect::all(Val::Px(12.0)),
            ..default()
        },
        Visibility::Hidden,
        Banner,
    ));
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn refresh(
    lang: Res<UiLang>,
    state: Res<ConnState>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    tickets: Res<Tickets>,
    chat: Res<ChatLog>,
    error: Res<LastError>,
    mut texts: ParamSet<(
        Query<&mut Text, With<StatusText>>,
        Query<&mut Text, With<TicketText>>,
        Query<&mut Text, With<ChatText>>,
    )>,
) {
    let l = *lang;
    let room = view.room.and_then(|r| office.room(r)).map(|r| l.pick(&r.file.name.ja, &r.file.name.en).to_string());
    let mut status = format!("{}  |  {}", room.unwrap_or_default(), describe_state(&state, l));
    if let Some((_, msg)) = &error.0 {
        status.push_str(&format!("\n{msg}"));
    }
    if let Ok(mut t) = texts.p0().single_mut() {
        t.0 = status;
    }
    let lines: Vec<String> =
        tickets.0.values().filter(|t| t.status.is_active()).map(|t| describe_ticket(t, l)).collect();
    if let Ok(mut t) = texts.p1().single_mut() {
        t.0 = if lines.is_empty() {
            l.pick("番号札なし: 窓口の前で E キー", "No ticket: press E at a counter").into()
        } else {
            lines.join("\n")
        };
    }
    if let Ok(mut t) = texts.p2().single_mut() {
        t.0 = chat.0.iter().rev().take(8).rev().map(|(n, m)| format!("{n}: {m}")).collect::<Vec<_>>().join("\n");
    }
}

/// Shows the called banner for eight seconds.
fn banner(
    mut calls: MessageReader<Called>,
    lang: Res<UiLang>,
    time: Res<Time>,
    mut shown_until: Local<f32>,
    mut q: Query<(&mut Text, &mut Visibility), With<Banner>>,
) {
    let Ok((mut text, mut vis)) = q.single_mut() else { return };
    if let Some(Called(t)) = calls.read().last() {
        text.0 = describe_ticket(t, *lang);
        *vis = Visibility::Inherited;
        *shown_until = time.elapsed_secs() + 8.0;
    } else if time.elapsed_secs() > *shown_until {
        *vis = Visibility::Hidden;
    }
}

/// In the browser, the canvas says nothing to a screen reader: the status and ticket lines are
/// mirrored into the page's `#hud-live` region (role=status), which also lets tests read them.
#[cfg(target_arch = "wasm32")]
fn mirror_to_page(
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    status: Query<&Text, (With<StatusText>, Changed<Text>)>,
    tickets: Query<&Text, (With<TicketText>, Changed<Text>)>,
    all_status: Query<&Text, With<StatusText>>,
    all_tickets: Query<&Text, With<TicketText>>,
) {
    let doc = web_sys::window().and_then(|w| w.document());
    // Where we are, for tests that walk: <body data-room="lobby" data-pos="12.0,2.0">.
    if view.is_changed()
        && let (Some(body), Some(p)) = (doc.as_ref().and_then(|d| d.body()), view.my_pos)
    {
        let room = view.room.and_then(|r| office.room(r)).map(|r| r.id().to_string()).unwrap_or_default();
        let _ = body.set_attribute("data-room", &room);
        let _ = body.set_attribute("data-pos", &format!("{:.2},{:.2}", p.x, p.y));
    }
    if status.is_empty() && tickets.is_empty() {
        return;
    }
    let s = all_status.single().map(|t| t.0.clone()).unwrap_or_default();
    let t = all_tickets.single().map(|t| t.0.clone()).unwrap_or_default();
    if let Some(el) = doc.and_then(|d| d.get_element_by_id("hud-live")) {
        el.set_text_content(Some(&format!("{s}\n{t}")));
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<UiLang>().add_systems(Startup, setup).add_systems(Update, (refresh, banner));
    #[cfg(target_arch = "wasm32")]
    app.add_systems(PostUpdate, mirror_to_page);
}
