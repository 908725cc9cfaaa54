//! The text on screen: where you are and the connection state, your tickets (number,
//! position, wait, and a banner when called, with where to go), chat, and the last refusal.
//! The consultation itself is not drawn here: it opens as the office's consultation page (see
//! `consult`), over the canvas in the browser or in the system browser on the desktop.

use crate::i18n::I18n;
use crate::input::{ChatEntry, OfficeRes, TouchFirst, counter_in_reach};
use crate::net::{ConnState, ToServer};
use crate::world::{Called, ChatLog, LastError, Tickets, WorldView};
use bevy::prelude::*;
use fluent_bundle::FluentValue;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::{ClientMessage, TicketInfo, TicketStatus};
use std::time::Duration;

#[derive(Component)]
pub struct StatusText;
#[derive(Component)]
pub struct TicketText;
#[derive(Component)]
pub struct ChatText;
#[derive(Component)]
pub struct Banner;
/// The line that says which counter you stand at, over the take button.
#[derive(Component)]
pub struct NearText;
/// The on-screen "take a ticket" button (for mouse and touch), shown at a counter.
#[derive(Component)]
pub struct TakeButton;
/// The chat line being typed.
#[derive(Component)]
pub struct ChatEntryText;

/// How a connection state reads to a person. `now` is the app's elapsed real time.
pub fn describe_state(s: &ConnState, tr: &I18n, now: Duration) -> String {
    match s {
        ConnState::Idle => tr.t("state-idle"),
        ConnState::Requesting => tr.t("state-requesting"),
        ConnState::Handshaking => tr.t("state-handshaking"),
        ConnState::Connected => tr.t("state-connected"),
        // Held for a sign-in in the system browser (see `net::SignInUnderWay`).
        ConnState::Reconnecting { retry_at, .. } if *retry_at == Duration::MAX => tr.t("signin-in-browser"),
        ConnState::Reconnecting { reason, retry_at } => {
            let seconds = retry_at.saturating_sub(now).as_secs_f32().ceil() as u32;
            tr.ta("state-reconnecting", &[("seconds", seconds.into()), ("reason", reason.as_str().into())])
        }
        ConnState::Failed(why) => tr.ta("state-failed", &[("why", why.as_str().into())]),
        ConnState::SessionEnded => tr.t("state-session-ended"),
    }
}

/// A department's name in the player's language (empty for an unknown id).
fn department_name(office: &Office, tr: &I18n, department: &str) -> String {
    office.department(department).map(|d| tr.lang.name(&d.name).to_string()).unwrap_or_default()
}

/// The counter's id as signs print it, and its department's name.
fn counter_words(office: &Office, tr: &I18n, t: &TicketInfo) -> (String, String) {
    (t.counter.clone().unwrap_or_default().to_uppercase(), department_name(office, tr, &t.department))
}

/// One ticket as a line of text.
pub fn describe_ticket(t: &TicketInfo, office: &Office, tr: &I18n) -> String {
    let label = FluentValue::from(t.label.as_str());
    match t.status {
        TicketStatus::Waiting => {
            let wait = match t.wait_s {
                Some(s) => tr.ta("wait-minutes", &[("minutes", s.div_ceil(60).max(1).into())]),
                None => tr.t("wait-unknown"),
            };
            let position = t.position.unwrap_or(0);
            tr.ta("ticket-waiting", &[("label", label), ("position", position.into()), ("wait", wait.into())])
        }
        TicketStatus::Called => {
            let (counter, dept) = counter_words(office, tr, t);
            tr.ta("ticket-called", &[("label", label), ("counter", counter.into()), ("department", dept.into())])
        }
        TicketStatus::Serving => tr.ta("ticket-serving", &[("label", label)]),
        _ => String::new(),
    }
}

/// The called banner: the number, the counter, its department and the room it is in.
pub fn describe_call(t: &TicketInfo, office: &Office, tr: &I18n) -> String {
    let (counter, dept) = counter_words(office, tr, t);
    let room = t
        .counter
        .as_deref()
        .and_then(|c| office.counter(c))
        .map(|(room, _)| tr.lang.name(&room.file.name).to_string())
        .unwrap_or_default();
    tr.ta(
        "banner-called",
        &[
            ("label", t.label.as_str().into()),
            ("counter", counter.into()),
            ("department", dept.into()),
            ("room", room.into()),
        ],
    )
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

fn setup(mut commands: Commands) {
    status_column(&mut commands);
    counter_prompt(&mut commands);
}

/// Top left, the status line, the ticket panel and the called banner; the chat lines above the
/// chat entry.
fn status_column(commands: &mut Commands) {
    // Top left, one column: where you are (kept clear of the applications button on the right,
    // at least its height), the ticket panel under it, and the called banner under that: they
    // never cover each other, however many lines each has.
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            left: Val::Px(10.0),
            right: Val::Px(10.0),
            top: Val::Px(8.0),
            flex_direction: FlexDirection::Column,
            align_items: AlignItems::FlexStart,
            row_gap: Val::Px(8.0),
            ..default()
        })
        .with_children(|col| {
            col.spawn((
                Text::new(""),
                TextFont { font_size: FontSize::Px(16.0), ..default() },
                TextColor(Color::srgb(0.05, 0.05, 0.1)),
                // On a light box, like the ticket panel: the room's signs pass under it.
                BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.85)),
                Node {
                    max_width: Val::Percent(55.0),
                    min_height: Val::Px(44.0),
                    padding: UiRect::axes(Val::Px(6.0), Val::Px(2.0)),
                    ..default()
                },
                StatusText,
            ));
            col.spawn((
                Text::new(""),
                TextFont { font_size: FontSize::Px(18.0), ..default() },
                TextColor(Color::srgb(0.05, 0.1, 0.3)),
                BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.85)),
                Node { max_width: Val::Percent(100.0), padding: UiRect::all(Val::Px(6.0)), ..default() },
                TicketText,
            ));
            col.spawn((
                Text::new(""),
                TextFont { font_size: FontSize::Px(24.0), ..default() },
                TextColor(Color::WHITE),
                BackgroundColor(Color::srgb(0.7, 0.1, 0.15)),
                Node {
                    align_self: AlignSelf::Stretch,
                    max_width: Val::Px(720.0),
                    padding: UiRect::all(Val::Px(12.0)),
                    ..default()
                },
                Visibility::Hidden,
                Banner,
            ));
        });
    commands.spawn((
        Text::new(""),
        TextFont { font_size: FontSize::Px(14.0), ..default() },
        TextColor(Color::srgb(0.1, 0.1, 0.1)),
        BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.7)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(10.0),
            bottom: Val::Px(52.0),
            max_width: Val::Percent(60.0),
            padding: UiRect::all(Val::Px(6.0)),
            ..default()
        },
        ChatText,
    ));
}

/// At a counter: which one and the take-a-ticket button; the chat entry.
fn counter_prompt(commands: &mut Commands) {
    // At a counter: which one, and a button to take a ticket (the E key does the same), centred
    // above the chat.
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            left: Val::Px(10.0),
            right: Val::Px(10.0),
            bottom: Val::Percent(24.0),
            flex_direction: FlexDirection::Column,
            align_items: AlignItems::Center,
            row_gap: Val::Px(6.0),
            ..default()
        })
        .with_children(|col| {
            col.spawn((
                Text::new(""),
                TextFont { font_size: FontSize::Px(16.0), ..default() },
                TextColor(Color::srgb(0.05, 0.05, 0.1)),
                BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.85)),
                Node { padding: UiRect::all(Val::Px(6.0)), ..default() },
                Visibility::Hidden,
                NearText,
            ));
            col.spawn((
                Button,
                BackgroundColor(Color::srgb(0.1, 0.35, 0.7)),
                Node {
                    min_height: Val::Px(48.0),
                    min_width: Val::Px(48.0),
                    padding: UiRect::axes(Val::Px(18.0), Val::Px(10.0)),
                    align_items: AlignItems::Center,
                    ..default()
                },
                Visibility::Hidden,
                TakeButton,
            ))
            .with_child((
                Text::new(""),
                TextFont { font_size: FontSize::Px(20.0), ..default() },
                TextColor(Color::WHITE),
            ));
        });
    commands.spawn((
        Text::new(""),
        TextFont { font_size: FontSize::Px(16.0), ..default() },
        TextColor(Color::srgb(0.0, 0.0, 0.0)),
        BackgroundColor(Color::srgba(1.0, 1.0, 0.9, 0.95)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(10.0),
            bottom: Val::Px(10.0),
            min_width: Val::Percent(40.0),
            padding: UiRect::all(Val::Px(6.0)),
            ..default()
        },
        Visibility::Hidden,
        ChatEntryText,
    ));
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn refresh(
    tr: Res<I18n>,
    state: Res<ConnState>,
    time: Res<Time<Real>>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    tickets: Res<Tickets>,
    chat: Res<ChatLog>,
    entry: Res<ChatEntry>,
    error: Res<LastError>,
    touch: Res<TouchFirst>,
    mut texts: ParamSet<(
        Query<&mut Text, With<StatusText>>,
        Query<&mut Text, With<TicketText>>,
        Query<&mut Text, With<ChatText>>,
        Query<(&mut Text, &mut Visibility), With<ChatEntryText>>,
    )>,
) {
    let room = view.room.and_then(|r| office.room(r)).map(|r| tr.lang.name(&r.file.name).to_string());
    let mut status = format!("{}  |  {}", room.unwrap_or_default(), describe_state(&state, &tr, time.elapsed()));
    if let Some((code, msg)) = &error.0 {
        status.push('\n');
        status.push_str(&describe_error(*code, msg, &tr));
    }
    if let Ok(mut t) = texts.p0().single_mut()
        && t.0 != status
    {
        t.0 = status;
    }
    let lines: Vec<String> =
        tickets.0.values().filter(|t| t.status.is_active()).map(|t| describe_ticket(t, &office, &tr)).collect();
    // On a touch screen, no key is named.
    let (none, hint) = if touch.0 { ("ticket-none-touch", "chat-hint-touch") } else { ("ticket-none", "chat-hint") };
    let ticket_text = if lines.is_empty() { tr.t(none) } else { lines.join("\n") };
    if let Ok(mut t) = texts.p1().single_mut()
        && t.0 != ticket_text
    {
        t.0 = ticket_text;
    }
    if (chat.is_changed() || tr.is_changed() || touch.is_changed())
        && let Ok(mut t) = texts.p2().single_mut()
    {
        let mut lines: Vec<String> = chat.0.iter().rev().take(5).rev().map(|(n, m)| format!("{n}: {m}")).collect();
        if lines.is_empty() {
            lines.push(tr.t(hint));
        }
        t.0 = lines.join("\n");
    }
    if (entry.is_changed() || tr.is_changed())
        && let Ok((mut t, mut vis)) = texts.p3().single_mut()
    {
        t.0 = tr.ta("chat-prompt", &[("text", format!("{}|", entry.text).into())]);
        *vis = if entry.open { Visibility::Inherited } else { Visibility::Hidden };
    }
}

/// At a counter: its name, and the take button.
#[allow(clippy::type_complexity)]
fn near_counter(
    tr: Res<I18n>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut near: Query<(&mut Text, &mut Visibility), With<NearText>>,
    mut button: Query<(&mut Visibility, &Children), (With<TakeButton>, Without<NearText>)>,
    mut labels: Query<&mut Text, Without<NearText>>,
    mut shown: Local<Option<String>>,
) {
    let here = match (view.room, view.my_pos) {
        (Some(room), Some(at)) => counter_in_reach(&office, room, at),
        _ => None,
    };
    if *shown == here && !tr.is_changed() {
        return;
    }
    let vis = if here.is_some() { Visibility::Inherited } else { Visibility::Hidden };
    if let Ok((mut text, mut v)) = near.single_mut() {
        if let Some((_, c)) = here.as_deref().and_then(|id| office.counter(id)) {
            let dept = department_name(&office, &tr, &c.department);
            text.0 = tr.ta("near-counter", &[("counter", c.id.to_uppercase().into()), ("department", dept.into())]);
        }
        *v = vis;
    }
    if let Ok((mut v, children)) = button.single_mut() {
        *v = vis;
        for c in children {
            if let Ok(mut t) = labels.get_mut(*c) {
                t.0 = tr.t("button-take");
            }
        }
    }
    *shown = here;
}

/// The take button: a ticket at the counter you stand at.
fn take_button(
    pressed: Query<&Interaction, (Changed<Interaction>, With<TakeButton>)>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut out: MessageWriter<ToServer>,
) {
    if !pressed.iter().any(|i| *i == Interaction::Pressed) {
        return;
    }
    let (Some(room), Some(at)) = (view.room, view.my_pos) else { return };
    if let Some(counter) = counter_in_reach(&office, room, at) {
        out.write(ToServer(ClientMessage::TakeTicket { counter }));
    }
}

/// Shows the called banner for twelve seconds, with a chime.
fn banner(
    mut calls: MessageReader<Called>,
    tr: Res<I18n>,
    office: Res<OfficeRes>,
    // Wall-clock time: while a consultation covers the game it updates rarely, and the game's
    // own clock (which caps each step) would keep the banner up for minutes.
    time: Res<Time<Real>>,
    mut shown_until: Local<f32>,
    mut q: Query<(&mut Text, &mut Visibility), With<Banner>>,
) {
    let Ok((mut text, mut vis)) = q.single_mut() else { return };
    if let Some(Called(t)) = calls.read().last() {
        text.0 = describe_call(t, &office, &tr);
        *vis = Visibility::Inherited;
        *shown_until = time.elapsed_secs() + 12.0;
        crate::platform::chime();
    } else if time.elapsed_secs() > *shown_until && *vis != Visibility::Hidden {
        *vis = Visibility::Hidden;
    }
}

/// On a short landscape screen (a phone on its side) the banner keeps to the left of the middle,
/// where the avatar is, in a smaller font; elsewhere it may span up to 720 px.
fn fit_banner(
    windows: Query<&Window, Changed<Window>>,
    ui_scale: Res<UiScale>,
    mut q: Query<(&mut Node, &mut TextFont), With<Banner>>,
) {
    let Ok(window) = windows.single() else { return };
    // The screen's size in UI pixels (at a lowered resolution the window is smaller).
    let (w, h) = (window.width() / ui_scale.0, window.height() / ui_scale.0);
    let short = w > h && h < 600.0;
    for (mut node, mut font) in &mut q {
        if short {
            node.width = Val::Px((w * 0.42).min(420.0));
            node.align_self = AlignSelf::FlexStart;
            font.font_size = FontSize::Px(18.0);
        } else {
            node.width = Val::Auto;
            node.align_self = AlignSelf::Stretch;
            font.font_size = FontSize::Px(24.0);
        }
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
    banner: Query<(&Text, &Visibility), With<Banner>>,
    banner_changed: Query<(), (With<Banner>, Changed<Visibility>)>,
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
    if status.is_empty() && tickets.is_empty() && banner_changed.is_empty() {
        return;
    }
    let s = all_status.single().map(|t| t.0.clone()).unwrap_or_default();
    let t = all_tickets.single().map(|t| t.0.clone()).unwrap_or_default();
    // A call is said first.
    let b = banner.single().ok().filter(|(_, v)| **v != Visibility::Hidden).map(|(b, _)| format!("{}\n", b.0));
    if let Some(el) = doc.and_then(|d| d.get_element_by_id("hud-live")) {
        el.set_text_content(Some(&format!("{}{s}\n{t}", b.unwrap_or_default())));
    }
}

/// In the browser, how the on-screen controls fit, for the phone tests: `<body
/// data-hud-overflow="…" data-hud-small="…">` list the shown UI nodes that reach past the
/// window's edges and the shown buttons under 44 × 44 px (empty when all is well), once a
/// second. Labels that float over the room (names, signs) follow the 3D view and are left out.
/// `data-frames` counts the frames drawn so far (a paused game adds about one a second).
#[cfg(target_arch = "wasm32")]
#[allow(clippy::type_complexity)]
fn report_layout(
    time: Res<Time<Real>>,
    frames: Res<bevy::diagnostic::FrameCount>,
    windows: Query<&Window>,
    ui_scale: Res<UiScale>,
    nodes: Query<
        (Entity, &ComputedNode, &bevy::ui::UiGlobalTransform, &InheritedVisibility, Has<Button>, Option<&Text>),
        Without<crate::scene::WorldLabel>,
    >,
    mut next: Local<f32>,
) {
    let now = time.elapsed_secs();
    if now < *next {
        return;
    }
    *next = now + 1.0;
    let Ok(window) = windows.single() else { return };
    // In UI pixels, as the nodes below (the same as the page's unless the resolution is lowered).
    let (w, h) = (window.width() / ui_scale.0, window.height() / ui_scale.0);
    // Just after a change of resolution the UI scale is new and the window's size not yet (it
    // follows the canvas a frame or two later): wait until both agree with what the page shows.
    let shown = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("madoguchi"))
        .map(|c| c.get_bounding_client_rect());
    if let Some(r) = shown
        && ((r.width() as f32 - w).abs() > 2.0 || (r.height() as f32 - h).abs() > 2.0)
    {
        return;
    }
    let (mut over, mut small) = (Vec::new(), Vec::new());
    for (e, node, at, visible, button, text) in &nodes {
        if !visible.get() || node.size.x <= 0.0 {
            continue;
        }
        let k = node.inverse_scale_factor;
        let (centre, size) = (at.translation * k, node.size * k);
        let (min, max) = (centre - size / 2.0, centre + size / 2.0);
        let name = || text.map(|t| t.0.chars().take(24).collect()).unwrap_or_else(|| format!("{e}"));
        if min.x < -1.0 || min.y < -1.0 || max.x > w + 1.0 || max.y > h + 1.0 {
            over.push(name());
        }
        if button && (size.x < 44.0 || size.y < 44.0) {
            small.push(format!("{} {:.0}x{:.0}", name(), size.x, size.y));
        }
    }
    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
        let _ = body.set_attribute("data-hud-overflow", &over.join(" | "));
        let _ = body.set_attribute("data-hud-small", &small.join(" | "));
        let _ = body.set_attribute("data-frames", &frames.0.to_string());
    }
}

/// Chat lines go to the page's `#chat-live` log (role=log), so a screen reader reads them out.
#[cfg(target_arch = "wasm32")]
fn mirror_chat(chat: Res<ChatLog>) {
    if !chat.is_changed() {
        return;
    }
    let lines: Vec<String> = chat.0.iter().rev().take(5).rev().map(|(n, m)| format!("{n}: {m}")).collect();
    let el = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("chat-live"));
    if let Some(el) = el {
        el.set_text_content(Some(&lines.join("\n")));
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Startup, setup).add_systems(Update, (refresh, near_counter, take_button, banner, fit_banner));
    #[cfg(target_arch = "wasm32")]
    app.add_systems(PostUpdate, (mirror_to_page, mirror_chat, report_layout.after(bevy::ui::UiSystems::Layout)));
}
