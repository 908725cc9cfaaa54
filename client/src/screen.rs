//! Where each feature's words sit on the screen, laid out together so that they never cover
//! each other, on a phone in portrait as on a desktop: top left, one column (the status line,
//! the ticket panel, the call banner); at the bottom, the chat lines and the chat entry; above
//! them, at a counter, which counter it is and the take button. The features fill them in.

use bevy::prelude::*;

/// Where you are, the connection, the last refusal (`status`).
#[derive(Component)]
pub struct StatusText;
/// Your tickets (`tickets`).
#[derive(Component)]
pub struct TicketText;
/// The room's last chat lines (`chat`).
#[derive(Component)]
pub struct ChatText;
/// The call banner (`tickets`).
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

/// A button's box (the join screen's, the sign-in buttons, the counters list): at least 44 px
/// each way, its label centred.
pub fn button_node() -> Node {
    Node {
        min_height: Val::Px(44.0),
        min_width: Val::Px(44.0),
        padding: UiRect::axes(Val::Px(14.0), Val::Px(8.0)),
        margin: UiRect::all(Val::Px(4.0)),
        align_items: AlignItems::Center,
        ..default()
    }
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

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Startup, setup).add_systems(Update, fit_banner);
}
