//! The join screen (name and language, when the app was started without them: the desktop, or
//! a page address without `?name=`) and the touch stick for phones.

use crate::i18n::{I18n, Lang};
use crate::input::{Edit, StickDir, edit_line, push_limited};
use crate::net::{JoinRequest, SessionEndedNotice};
use bevy::input::ButtonState;
use bevy::input::keyboard::KeyboardInput;
use bevy::input::touch::Touch;
use bevy::prelude::*;
use bevy::window::Ime;
use madoguchi_shared::limits::NAME_MAX_CHARS;
use madoguchi_shared::protocol::Look;
use madoguchi_shared::quant::Point;

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

/// A button's box on the join screen (and the desktop client's sign-in buttons): at least 44 px
/// each way, its label centred.
pub(crate) fn button_node() -> Node {
    Node {
        min_height: Val::Px(44.0),
        min_width: Val::Px(44.0),
        padding: UiRect::axes(Val::Px(14.0), Val::Px(8.0)),
        margin: UiRect::all(Val::Px(4.0)),
        align_items: AlignItems::Center,
        ..default()
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
    let button = |color: Color| (Button, BackgroundColor(color), button_node());
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

/// The touch stick: a finger dragged more than a few pixels from where it went down walks in
/// that direction (farther = faster, up to a walk), until it lifts. A short touch that does not
/// drag is a tap, which the scene turns into a walk target.
#[derive(Resource, Debug, Default)]
pub struct TouchStick {
    /// The finger steering, and where it went down.
    pub finger: Option<(u64, Vec2)>,
    pub dragging: bool,
    /// The finger went down on a button: it is the button's, neither a stick nor a tap.
    pub on_ui: bool,
}

/// Pixels a finger must move before a touch is a drag, and the drag length of full speed.
pub const DRAG_START_PX: f32 = 18.0;
pub const DRAG_FULL_PX: f32 = 90.0;

/// The stick direction for a drag from `start` to `now` (screen pixels, y down) in layout axes:
/// the camera looks north, so screen up is +y and screen right is +x.
pub fn stick_direction(start: Vec2, now: Vec2) -> Point {
    let d = now - start;
    if d.length() < DRAG_START_PX {
        return Point::ZERO;
    }
    let k = (d.length() / DRAG_FULL_PX).min(1.0) / d.length();
    Point::new(d.x * k, -d.y * k)
}

fn touch_stick(
    touches: Res<Touches>,
    buttons: Query<&Interaction>,
    ui_scale: Option<Res<UiScale>>,
    mut stick: ResMut<TouchStick>,
    mut dir: ResMut<StickDir>,
) {
    // Touches come in the window's pixels; the drag lengths are the screen's (at a lowered
    // resolution, see `pacing`, the window has fewer pixels than the screen).
    let per_screen_px = ui_scale.map_or(1.0, |u| u.0);
    let at = |t: &Touch| t.position() / per_screen_px;
    if stick.finger.is_none()
        && let Some(t) = touches.iter_just_pressed().next()
    {
        stick.finger = Some((t.id(), at(t)));
        stick.dragging = false;
        stick.on_ui = buttons.iter().any(|i| *i != Interaction::None);
    }
    let Some((id, start)) = stick.finger else { return };
    if stick.on_ui {
        if touches.get_pressed(id).is_none() {
            stick.finger = None;
        }
        return;
    }
    match touches.get_pressed(id).map(at) {
        Some(now) => {
            let d = stick_direction(start, now);
            if d != Point::ZERO {
                stick.dragging = true;
            }
            dir.0 = if stick.dragging { d } else { Point::ZERO };
        }
        None => {
            stick.finger = None;
            dir.0 = Point::ZERO;
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<TouchStick>()
        .add_message::<SubmitJoin>()
        // At start without a name, and again whenever the join request goes (a session ended).
        .add_systems(
            Update,
            spawn_join.run_if(not(resource_exists::<JoinRequest>).and_then(not(resource_exists::<JoinForm>))),
        )
        .add_systems(
            Update,
            // Each system checks on its own: the form is gone once submitted.
            (join_keys, join_buttons, join_submit, join_texts).chain().distributive_run_if(resource_exists::<JoinForm>),
        )
        .add_systems(
            Update,
            joined_elsewhere.run_if(resource_exists::<JoinRequest>.and_then(resource_exists::<JoinForm>)),
        )
        .add_systems(PreUpdate, touch_stick.after(bevy::input::InputSystems).after(bevy::ui::UiSystems::Focus));
}
