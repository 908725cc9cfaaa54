//! The desktop client's "go to a counter" list (the browser page has its own, in HTML): a button
//! in the lower right corner, over the sign-in row, opens a list of the counters with their
//! departments; choosing one walks the avatar there by the server's routes, through the door
//! when it is in the other room, and takes a ticket on arrival (a [`TakeAt`]).

use super::take::TakeAt;
use crate::avatars::WorldView;
use crate::frame::Step;
use crate::i18n::I18n;
use crate::office::OfficeRes;
use bevy::prelude::*;

/// The button that opens and closes the list.
#[derive(Component)]
pub struct GoToggle;
/// The list.
#[derive(Component)]
pub struct GoList;
/// A counter in the list.
#[derive(Component)]
pub struct GoCounter(pub String);
/// The whole corner (shown only in the office).
#[derive(Component)]
pub struct GoCorner;

fn spawn_go(office: Res<OfficeRes>, mut commands: Commands) {
    let text = || (Text::new(""), TextFont { font_size: FontSize::Px(16.0), ..default() }, TextColor(Color::WHITE));
    let blue = Color::srgb(0.04, 0.34, 0.64);
    commands
        .spawn((
            GoCorner,
            Visibility::Hidden,
            Node {
                position_type: PositionType::Absolute,
                right: Val::Px(10.0),
                bottom: Val::Px(64.0),
                flex_direction: FlexDirection::Column,
                align_items: AlignItems::FlexEnd,
                ..default()
            },
        ))
        .with_children(|corner| {
            corner
                .spawn((
                    GoList,
                    BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.95)),
                    Node {
                        display: Display::None,
                        flex_direction: FlexDirection::Column,
                        padding: UiRect::all(Val::Px(4.0)),
                        ..default()
                    },
                ))
                .with_children(|list| {
                    for (_, c) in office.counters() {
                        list.spawn((
                            Button,
                            BackgroundColor(blue),
                            crate::screen::button_node(),
                            GoCounter(c.id.clone()),
                        ))
                        .with_child(text());
                    }
                });
            corner.spawn((Button, BackgroundColor(blue), crate::screen::button_node(), GoToggle)).with_child(text());
        });
}

/// The words follow the language (chosen on the join screen after this was made).
fn go_texts(
    tr: Res<I18n>,
    office: Res<OfficeRes>,
    toggle: Query<&Children, With<GoToggle>>,
    counters: Query<(&GoCounter, &Children)>,
    mut texts: Query<&mut Text>,
) {
    if !tr.is_changed() && !office.is_changed() {
        return;
    }
    for children in &toggle {
        for c in children {
            if let Ok(mut t) = texts.get_mut(*c) {
                t.0 = tr.t("play-go");
            }
        }
    }
    for (counter, children) in &counters {
        let department = office
            .counter(&counter.0)
            .and_then(|(_, c)| office.department(&c.department))
            .map(|d| tr.lang.name(&d.name).into_owned())
            .unwrap_or_default();
        for c in children {
            if let Ok(mut t) = texts.get_mut(*c) {
                t.0 = format!("{} {department}", counter.0.to_uppercase());
            }
        }
    }
}

/// Opens and closes the list; a counter chosen starts the walk there, and closes the list.
#[allow(clippy::type_complexity)]
fn go_buttons(
    view: Res<WorldView>,
    toggle: Query<&Interaction, (Changed<Interaction>, With<GoToggle>)>,
    counters: Query<(&Interaction, &GoCounter), Changed<Interaction>>,
    mut corner: Query<&mut Visibility, With<GoCorner>>,
    mut list: Query<&mut Node, With<GoList>>,
    mut take: MessageWriter<TakeAt>,
) {
    for mut v in &mut corner {
        let want = if view.me.is_some() { Visibility::Inherited } else { Visibility::Hidden };
        if *v != want {
            *v = want;
        }
    }
    let Ok(mut list) = list.single_mut() else { return };
    if toggle.iter().any(|i| *i == Interaction::Pressed) {
        list.display = if list.display == Display::None { Display::Flex } else { Display::None };
    }
    for (i, c) in &counters {
        if *i == Interaction::Pressed {
            take.write(TakeAt(c.0.clone()));
            list.display = Display::None;
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_go)
        .add_systems(Update, go_buttons.in_set(Step::Intend))
        .add_systems(Update, go_texts.in_set(Step::Show));
}
