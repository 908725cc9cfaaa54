//! The browser page's mirrors of the game (browser only): the canvas says nothing to a screen
//! reader, and tests cannot read it, so what it shows is also written into the page — the
//! status, tickets and call into `#hud-live` (role=status), chat into `#chat-live` (role=log),
//! the applications panel into `#apps-live` — and the game's state into `<body data-…>`
//! attributes: where we are (`data-room`, `data-pos`), our look (`data-look`), the first frames
//! and the office's (`data-first-frame`, `data-office-frame`, ms since navigation), how the
//! on-screen controls fit (`data-hud-overflow`, `data-hud-small`, `data-frames`), the quality
//! level (`data-quality`, absent at full quality), and whether the page is hidden or the game
//! paused behind a consultation (`data-hidden`, `data-paused`).
//!
//! May use: `avatars`, `room`, `chat`, `applications`, `performance`.

use crate::applications::AppsPanel;
use crate::avatars::{Avatar, Me, WorldView};
use crate::chat::ChatLog;
use crate::office::OfficeRes;
use crate::performance::{DrawingPaused, Pacer, PageHidden};
use crate::room::{RoomPiece, WorldLabel};
use crate::screen::{Banner, StatusText, TicketText};
use bevy::prelude::*;

/// Sets an attribute of the page's `<body>`.
fn mark(name: &str, value: &str) {
    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
        let _ = body.set_attribute(name, value);
    }
}

/// An element of the page by id.
fn element(id: &str) -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// Milliseconds since the page's navigation began.
fn since_navigation() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or_default()
}

/// In the browser, the canvas says nothing to a screen reader: the status and ticket lines are
/// mirrored into the page's `#hud-live` region (role=status), which also lets tests read them.
fn mirror_hud(
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    status: Query<&Text, (With<StatusText>, Changed<Text>)>,
    tickets: Query<&Text, (With<TicketText>, Changed<Text>)>,
    all_status: Query<&Text, With<StatusText>>,
    all_tickets: Query<&Text, With<TicketText>>,
    banner: Query<(&Text, &Visibility), With<Banner>>,
    banner_changed: Query<(), (With<Banner>, Changed<Visibility>)>,
) {
    // Where we are, for tests that walk: <body data-room="lobby" data-pos="12.0,2.0">.
    if view.is_changed()
        && let Some(p) = view.my_pos
    {
        let room = view.room.and_then(|r| office.room(r)).map(|r| r.id().to_string()).unwrap_or_default();
        mark("data-room", &room);
        mark("data-pos", &format!("{:.2},{:.2}", p.x, p.y));
    }
    if status.is_empty() && tickets.is_empty() && banner_changed.is_empty() {
        return;
    }
    let s = all_status.single().map(|t| t.0.clone()).unwrap_or_default();
    let t = all_tickets.single().map(|t| t.0.clone()).unwrap_or_default();
    // A call is said first.
    let b = banner.single().ok().filter(|(_, v)| **v != Visibility::Hidden).map(|(b, _)| format!("{}\n", b.0));
    if let Some(el) = element("hud-live") {
        el.set_text_content(Some(&format!("{}{s}\n{t}", b.unwrap_or_default())));
    }
}

/// In the browser, how the on-screen controls fit, for the phone tests: `<body
/// data-hud-overflow="…" data-hud-small="…">` list the shown UI nodes that reach past the
/// window's edges and the shown buttons under 44 × 44 px (empty when all is well), once a
/// second. Labels that float over the room (names, signs) follow the 3D view and are left out.
/// `data-frames` counts the frames drawn so far (a paused game adds about one a second).
#[allow(clippy::type_complexity)]
fn report_layout(
    time: Res<Time<Real>>,
    frames: Res<bevy::diagnostic::FrameCount>,
    windows: Query<&Window>,
    ui_scale: Res<UiScale>,
    nodes: Query<
        (Entity, &ComputedNode, &bevy::ui::UiGlobalTransform, &InheritedVisibility, Has<Button>, Option<&Text>),
        Without<WorldLabel>,
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
    mark("data-hud-overflow", &over.join(" | "));
    mark("data-hud-small", &small.join(" | "));
    mark("data-frames", &frames.0.to_string());
}

/// Chat lines go to the page's `#chat-live` log (role=log), so a screen reader reads them out.
fn mirror_chat(chat: Res<ChatLog>) {
    if chat.is_changed()
        && let Some(el) = element("chat-live")
    {
        el.set_text_content(Some(&chat.last_lines().join("\n")));
    }
}

/// The applications panel's text goes to the page's `#apps-live` region, for screen readers
/// (and the tests): `data-open` says whether it is shown.
#[allow(clippy::type_complexity)]
fn mirror_apps(panel: Query<(&Text, &Visibility), (With<AppsPanel>, Or<(Changed<Text>, Changed<Visibility>)>)>) {
    let Ok((text, vis)) = panel.single() else { return };
    if let Some(el) = element("apps-live") {
        let open = *vis != Visibility::Hidden;
        el.set_text_content(Some(if open { text.0.as_str() } else { "" }));
        let _ = el.set_attribute("data-open", if open { "true" } else { "false" });
    }
}

/// The look we are drawn in, for the browser tests: `<body data-look="5,2">`.
fn mirror_look(me: Query<&Avatar, Added<Me>>) {
    for a in &me {
        mark("data-look", &format!("{},{}", a.look.color, a.look.shape));
    }
}

/// The quality level (absent until it first steps), the page hidden, the game paused behind a
/// consultation: each written when it changes.
fn mirror_pacing(
    pacer: Res<Pacer>,
    hidden: Res<PageHidden>,
    paused: Res<DrawingPaused>,
    mut level: Local<u8>,
    mut was_hidden: Local<bool>,
    mut was_paused: Local<bool>,
) {
    if pacer.level != *level {
        *level = pacer.level;
        mark("data-quality", &level.to_string());
    }
    if hidden.0 != *was_hidden {
        *was_hidden = hidden.0;
        mark("data-hidden", if hidden.0 { "true" } else { "false" });
    }
    if paused.0 != *was_paused {
        *was_paused = paused.0;
        mark("data-paused", if paused.0 { "true" } else { "false" });
    }
}

/// When the first frames are out — the loading screen gives way then, to the join screen or
/// the connecting office: `<body data-first-frame>`.
fn mark_first_frame(mut frames: Local<u32>) {
    *frames += 1;
    if *frames == 3 {
        mark("data-first-frame", &format!("{:.0}", since_navigation()));
    }
}

/// When the office is first on screen: the second frame in which the room's pieces exist (they
/// are built on entering, and drawn the frame after they are spawned): `<body
/// data-office-frame>`.
fn mark_office_frame(pieces: Query<(), With<RoomPiece>>, mut frames_with_room: Local<u32>) {
    if *frames_with_room >= 2 || pieces.is_empty() {
        return;
    }
    *frames_with_room += 1;
    if *frames_with_room == 2 {
        mark("data-office-frame", &format!("{:.0}", since_navigation()));
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(
        PostUpdate,
        (mirror_hud, mirror_chat, mirror_apps, mirror_look, report_layout.after(bevy::ui::UiSystems::Layout)),
    )
    .add_systems(Last, (mirror_pacing, mark_first_frame, mark_office_frame));
}
