//! The ticket panel (number, position, wait; where to go when called), the call banner with its
//! chime, and at a counter, which counter it is and the take button.

use super::state::{Called, Tickets};
use super::take::{TakeAt, counter_in_reach};
use crate::avatars::WorldView;
use crate::frame::Step;
use crate::i18n::I18n;
use crate::office::OfficeRes;
use crate::screen::{Banner, NearText, TakeButton, TicketText};
use crate::touch::TouchFirst;
use bevy::prelude::*;
use fluent_bundle::FluentValue;
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};

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

/// The ticket panel: each active ticket, or how to take one.
fn ticket_text(
    tr: Res<I18n>,
    office: Res<OfficeRes>,
    tickets: Res<Tickets>,
    touch: Res<TouchFirst>,
    mut text: Query<&mut Text, With<TicketText>>,
) {
    let lines: Vec<String> =
        tickets.0.values().filter(|t| t.status.is_active()).map(|t| describe_ticket(t, &office, &tr)).collect();
    // On a touch screen, no key is named.
    let none = if touch.0 { "ticket-none-touch" } else { "ticket-none" };
    let ticket_text = if lines.is_empty() { tr.t(none) } else { lines.join("\n") };
    if let Ok(mut t) = text.single_mut()
        && t.0 != ticket_text
    {
        t.0 = ticket_text;
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
    mut take: MessageWriter<TakeAt>,
) {
    if !pressed.iter().any(|i| *i == Interaction::Pressed) {
        return;
    }
    let (Some(room), Some(at)) = (view.room, view.my_pos) else { return };
    if let Some(counter) = counter_in_reach(&office, room, at) {
        take.write(TakeAt(counter));
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

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, take_button.in_set(Step::Intend))
        .add_systems(Update, (ticket_text, near_counter, banner).in_set(Step::Show));
}
