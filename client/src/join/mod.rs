//! Joining the office: the join screen (name, language and look, when the app was started
//! without them: the desktop, or a page address without `?name=`; again after a session ended,
//! saying so) and, on the desktop, signing in with the office's providers in the system browser
//! ([`signin`]).
//!
//! May use: `connection`.

#[cfg(not(target_arch = "wasm32"))]
pub mod signin;

use crate::connection::{JoinRequest, SessionEndedNotice};
use crate::frame::Step;
use crate::i18n::{I18n, Lang};
use crate::typing::{Edit, edit_line, push_limited};
use bevy::input::ButtonState;
use bevy::input::keyboard::KeyboardInput;
use bevy::prelude::*;
use bevy::window::Ime;
use madoguchi_shared::limits::NAME_MAX_CHARS;
use madoguchi_shared::protocol::Look;

/// What the join screen holds so far.
#[derive(Resource, Debug, Clone, Default)]
pub struct JoinForm {
    pub name: String,
    pub lang: Lang,
    /// Enter was pressed with no name.
    pub need_name: bool,
    /// The colour and shape picked, if any (else one follows from the name).
    pub look: Option<Look>,
}

impl JoinForm {
    /// The join request, if the form is complete.
    pub fn submit(&mut self) -> Option<JoinRequest> {
        let name = self.name.trim();
        self.need_name = name.is_empty();
        (!self.need_name).then(|| JoinRequest {
            name: name.to_string(),
            locale: self.lang.code().to_string(),
            look: self.look,
        })
    }
}

/// The join screen's panel (the desktop client adds its sign-in buttons to it).
#[derive(Component)]
pub(crate) struct JoinPanel;
#[derive(Component)]
struct JoinText;
#[derive(Component)]
struct LangButton(Lang);
#[derive(Component)]
struct EnterButton;
/// A body colour to pick.
#[derive(Component)]
struct ColorButton(u8);
/// A shape to pick.
#[derive(Component)]
struct ShapeButton(u8);

fn spawn_join(mut commands: Commands, tr: Res<I18n>, join: Option<Res<JoinRequest>>, mut windows: Query<&mut Window>) {
    if join.is_some() {
        return;
    }
    commands.insert_resource(JoinForm { lang: tr.lang, ..default() });
    for mut w in &mut windows {
        w.ime_enabled = true;
    }
    let button = |color: Color| (Button, BackgroundColor(color), crate::screen::button_node());
    commands
        .spawn((
            JoinPanel,
            BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.96)),
            Node {
                position_type: PositionType::Absolute,
                left: Val::Percent(25.0),
                top: Val::Percent(20.0),
                width: Val::Percent(50.0),
                flex_direction: FlexDirection::Column,
                padding: UiRect::all(Val::Px(18.0)),
                row_gap: Val::Px(8.0),
                ..default()
            },
        ))
        .with_children(|p| {
            p.spawn((
                Text::new(""),
                TextFont { font_size: FontSize::Px(18.0), ..default() },
                TextColor(Color::srgb(0.05, 0.05, 0.1)),
                JoinText,
            ));
            p.spawn(Node { flex_direction: FlexDirection::Row, flex_wrap: FlexWrap::Wrap, ..default() }).with_children(
                |row| {
                    for lang in Lang::ALL {
                        row.spawn((button(Color::srgb(0.45, 0.5, 0.6)), LangButton(lang))).with_child((
                            Text::new(lang.endonym()),
                            TextFont { font_size: FontSize::Px(16.0), ..default() },
                            TextColor(Color::WHITE),
                        ));
                    }
                },
            );
            // The look: a row of colours, a row of shapes (their words follow the language).
            p.spawn(Node { flex_direction: FlexDirection::Row, flex_wrap: FlexWrap::Wrap, ..default() }).with_children(
                |row| {
                    for c in 0..Look::COLORS {
                        row.spawn((
                            Button,
                            BackgroundColor(crate::decor::look_color(c)),
                            BorderColor::all(Color::WHITE),
                            Node {
                                width: Val::Px(44.0),
                                height: Val::Px(44.0),
                                margin: UiRect::all(Val::Px(3.0)),
                                border: UiRect::all(Val::Px(3.0)),
                                ..default()
                            },
                            ColorButton(c),
                        ));
                    }
                },
            );
            p.spawn(Node { flex_direction: FlexDirection::Row, flex_wrap: FlexWrap::Wrap, ..default() }).with_children(
                |row| {
                    for shape in 0..Look::SHAPES {
                        row.spawn((button(Color::srgb(0.45, 0.5, 0.6)), ShapeButton(shape))).with_child((
                            Text::new(""),
                            TextFont { font_size: FontSize::Px(16.0), ..default() },
                            TextColor(Color::WHITE),
                        ));
                    }
                },
            );
            p.spawn((button(Color::srgb(0.1, 0.35, 0.7)), EnterButton)).with_child((
                Text::new(""),
                TextFont { font_size: FontSize::Px(18.0), ..default() },
                TextColor(Color::WHITE),
            ));
        });
}

/// Typing the name (keys and IME), Tab to change language, Enter to join.
fn join_keys(
    mut keys: MessageReader<KeyboardInput>,
    mut ime: MessageReader<Ime>,
    mut form: ResMut<JoinForm>,
    mut submit: MessageWriter<SubmitJoin>,
) {
    for e in keys.read() {
        if e.state != ButtonState::Pressed {
            continue;
        }
        if e.key_code == KeyCode::Tab {
            let i = Lang::ALL.iter().position(|l| *l == form.lang).unwrap_or(0);
            form.lang = Lang::ALL[(i + 1) % Lang::ALL.len()];
            continue;
        }
        if edit_line(&mut form.name, e, NAME_MAX_CHARS) == Edit::Submit {
            submit.write(SubmitJoin);
        }
    }
    for e in ime.read() {
        if let Ime::Commit { value, .. } = e {
            push_limited(&mut form.name, value, NAME_MAX_CHARS);
        }
    }
}

/// The join screen's buttons.
#[allow(clippy::type_complexity)]
fn join_buttons(
    langs: Query<(&Interaction, &LangButton), Changed<Interaction>>,
    colors: Query<(&Interaction, &ColorButton), Changed<Interaction>>,
    shapes: Query<(&Interaction, &ShapeButton), Changed<Interaction>>,
    enter: Query<&Interaction, (Changed<Interaction>, With<EnterButton>)>,
    mut form: ResMut<JoinForm>,
    mut submit: MessageWriter<SubmitJoin>,
) {
    for (i, b) in &langs {
        if *i == Interaction::Pressed {
            form.lang = b.0;
        }
    }
    let picked = form.look.unwrap_or_else(|| Look::for_name(form.name.trim()));
    for (i, b) in &colors {
        if *i == Interaction::Pressed {
            form.look = Some(Look { color: b.0, ..picked });
        }
    }
    for (i, b) in &shapes {
        if *i == Interaction::Pressed {
            form.look = Some(Look { shape: b.0, ..picked });
        }
    }
    if enter.iter().any(|i| *i == Interaction::Pressed) {
        submit.write(SubmitJoin);
    }
}

#[derive(Message)]
struct SubmitJoin;

#[allow(clippy::too_many_arguments)]
fn join_submit(
    mut submit: MessageReader<SubmitJoin>,
    mut form: ResMut<JoinForm>,
    mut tr: ResMut<I18n>,
    panel: Query<Entity, With<JoinPanel>>,
    mut windows: Query<&mut Window>,
    mut commands: Commands,
) {
    if submit.read().count() == 0 {
        return;
    }
    let Some(join) = form.submit() else { return };
    tr.lang = form.lang;
    commands.insert_resource(join);
    close_join(&panel, &mut windows, &mut commands);
}

fn close_join(panel: &Query<Entity, With<JoinPanel>>, windows: &mut Query<&mut Window>, commands: &mut Commands) {
    commands.remove_resource::<SessionEndedNotice>();
    for e in panel {
        commands.entity(e).despawn();
    }
    for mut w in windows {
        w.ime_enabled = false;
    }
    commands.remove_resource::<JoinForm>();
}

/// Joined another way (the desktop client's sign-in): the join screen goes.
fn joined_elsewhere(panel: Query<Entity, With<JoinPanel>>, mut windows: Query<&mut Window>, mut commands: Commands) {
    close_join(&panel, &mut windows, &mut commands);
}

/// The join screen's words follow the language picked on it.
#[allow(clippy::type_complexity)]
fn join_texts(
    form: Res<JoinForm>,
    ended: Option<Res<SessionEndedNotice>>,
    mut tr: ResMut<I18n>,
    mut text: Query<&mut Text, With<JoinText>>,
    enter: Query<&Children, With<EnterButton>>,
    mut labels: Query<&mut Text, Without<JoinText>>,
    mut langs: Query<(&LangButton, &mut BackgroundColor), Without<ShapeButton>>,
    mut colors: Query<(&ColorButton, &mut BorderColor)>,
    mut shapes: Query<(&ShapeButton, &Children, &mut BackgroundColor), Without<LangButton>>,
) {
    if !form.is_changed() {
        return;
    }
    tr.lang = form.lang;
    if let Ok(mut t) = text.single_mut() {
        let mut lines = vec![tr.t("join-title")];
        if ended.is_some() {
            lines.push(tr.t("join-session-ended"));
        }
        lines.push(tr.ta("join-name", &[("name", format!("{}|", form.name).into())]));
        lines.push(if form.need_name { tr.t("join-need-name") } else { tr.t("join-name-hint") });
        lines.push(tr.t("join-lang"));
        lines.push(tr.t("join-look"));
        t.0 = lines.join("\n");
    }
    let look = form.look.unwrap_or_else(|| Look::for_name(form.name.trim()));
    for (b, mut border) in &mut colors {
        *border = BorderColor::all(if b.0 == look.color { Color::srgb(0.05, 0.05, 0.1) } else { Color::WHITE });
    }
    for (b, children, mut bg) in &mut shapes {
        bg.0 = if b.0 == look.shape { Color::srgb(0.1, 0.35, 0.7) } else { Color::srgb(0.45, 0.5, 0.6) };
        for c in children {
            if let Ok(mut t) = labels.get_mut(*c) {
                t.0 = tr.t(Look::SHAPE_WORDS[usize::from(b.0)]);
            }
        }
    }
    for children in &enter {
        for c in children {
            if let Ok(mut t) = labels.get_mut(*c) {
                t.0 = tr.t("join-enter");
            }
        }
    }
    for (b, mut bg) in &mut langs {
        bg.0 = if b.0 == form.lang { Color::srgb(0.1, 0.35, 0.7) } else { Color::srgb(0.45, 0.5, 0.6) };
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.add_message::<SubmitJoin>()
        // At start without a name, and again whenever the join request goes (a session ended).
        .add_systems(
            Update,
            spawn_join.run_if(not(resource_exists::<JoinRequest>).and_then(not(resource_exists::<JoinForm>))),
        )
        .add_systems(
            Update,
            // Each system checks on its own: the form is gone once submitted.
            (join_keys, join_buttons, join_submit, join_texts)
                .chain()
                .distributive_run_if(resource_exists::<JoinForm>)
                .in_set(Step::Type),
        )
        .add_systems(
            Update,
            joined_elsewhere.run_if(resource_exists::<JoinRequest>.and_then(resource_exists::<JoinForm>)),
        );
}
