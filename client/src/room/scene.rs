//! Drawing the office: the current room from the layout (floor, walls, counters, doors), the
//! avatars, name labels, and a camera that follows the player. Click or tap on the floor to
//! walk there. Only in the windowed app: the headless tests run everything else.

use super::desks::Desks;
use crate::avatars::{Avatar, Me, RoomChanged, TouchStick, WorldView, from_world, to_world};
use crate::connection::ToServer;
use crate::decor::{self, Block, DESK_HEIGHT, department_color};
use crate::i18n::{I18n, Lang};
use crate::office::OfficeRes;
use crate::tickets::{PendingTake, TakeAt};
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use madoguchi_shared::layout::{Names, Office, WallKind};
use madoguchi_shared::limits::AVATAR_RADIUS;
use madoguchi_shared::protocol::ClientMessage;
use madoguchi_shared::quant::{Point, QPos};

/// Everything that belongs to the room on screen; despawned when the room changes.
#[derive(Component)]
pub struct RoomPiece;

/// The camera that follows the player.
#[derive(Component)]
pub struct FollowCamera;

/// A label that floats over a point of the world (a name, a desk sign). Drawn under the HUD.
#[derive(Component)]
#[require(GlobalZIndex = GlobalZIndex(-1))]
pub struct WorldLabel {
    pub anchor: Vec3,
    pub follow: Option<Entity>,
}

/// A counter's sign, updated from the desk signs. Tapping it walks to the counter (and takes a
/// ticket there once in reach).
#[derive(Component)]
pub struct CounterSign(pub String);

/// A counter's queue display: the ticket called to it or served at it now.
#[derive(Component)]
pub struct QueueDisplay(pub String);

const WALL_HEIGHT: f32 = 2.4;

pub(super) fn setup(mut commands: Commands) {
    commands.spawn((
        Camera3d::default(),
        Tonemapping::None,
        Transform::from_xyz(12.0, 10.0, 6.0).looking_at(Vec3::new(12.0, 0.0, -2.0), Vec3::Y),
        FollowCamera,
    ));
    commands.spawn((
        DirectionalLight { illuminance: 5_000.0, shadow_maps_enabled: false, ..default() },
        Transform::from_xyz(5.0, 20.0, 10.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.insert_resource(GlobalAmbientLight { brightness: 350.0, ..default() });
    commands.insert_resource(ClearColor(Color::srgb(0.86, 0.89, 0.93)));
}

fn cuboid_between(rect: [f32; 4], y0: f32, y1: f32) -> (Cuboid, Vec3) {
    let [x0, z0, x1, z1] = rect;
    let size = Vec3::new(x1 - x0, y1 - y0, z1 - z0);
    let center = to_world(Point::new((x0 + x1) / 2.0, (z0 + z1) / 2.0), (y0 + y1) / 2.0);
    (Cuboid::new(size.x, size.y, size.z), center)
}

/// A sign's lines: the player's language first, then Japanese and English if not already shown
/// (signs in the office carry both, as real ones do).
pub fn sign_lines(lang: Lang, n: &Names) -> String {
    let mut lines = vec![lang.name(n)];
    for l in [Lang::Ja, Lang::En] {
        if !lines.contains(&l.name(n)) {
            lines.push(l.name(n));
        }
    }
    lines.join("\n")
}

/// A counter sign's head: the ticket prefix and the department's names.
fn counter_head(office: &Office, lang: Lang, department: &str) -> String {
    office
        .department(department)
        .map(|d| format!("{} {}", d.ticket_prefix, sign_lines(lang, &d.name)))
        .unwrap_or_default()
}

/// One box of the room, in `mat`.
fn spawn_block(
    commands: &mut Commands,
    meshes: &mut Assets<Mesh>,
    mat: &Handle<StandardMaterial>,
    (rect, y0, y1): Block,
) {
    let (m, c) = cuboid_between(rect, y0, y1);
    commands.spawn((Mesh3d(meshes.add(m)), MeshMaterial3d(mat.clone()), Transform::from_translation(c), RoomPiece));
}

/// The materials a room is built of.
struct Palette {
    wall: Handle<StandardMaterial>,
    door: Handle<StandardMaterial>,
    wood: Handle<StandardMaterial>,
    pillar: Handle<StandardMaterial>,
    partition: Handle<StandardMaterial>,
    seat: Handle<StandardMaterial>,
    chair: Handle<StandardMaterial>,
    board: Handle<StandardMaterial>,
    guide: Handle<StandardMaterial>,
}

impl Palette {
    fn new(materials: &mut Assets<StandardMaterial>) -> Palette {
        let mut paint = |color: Color| materials.add(StandardMaterial { base_color: color, ..default() });
        Palette {
            wall: paint(Color::srgb(0.72, 0.74, 0.78)),
            door: paint(Color::srgb(0.35, 0.62, 0.40)),
            wood: paint(Color::srgb(0.80, 0.68, 0.50)),
            pillar: paint(Color::srgb(0.88, 0.88, 0.86)),
            partition: paint(Color::srgb(0.84, 0.82, 0.78)),
            seat: paint(Color::srgb(0.25, 0.42, 0.60)),
            chair: paint(Color::srgb(0.22, 0.23, 0.26)),
            board: paint(Color::srgb(0.12, 0.13, 0.15)),
            guide: paint(Color::srgb(0.20, 0.36, 0.30)),
        }
    }
}

/// What a room's parts are built with.
struct Build<'a, 'w, 's> {
    commands: &'a mut Commands<'w, 's>,
    meshes: &'a mut Assets<Mesh>,
    materials: &'a mut Assets<StandardMaterial>,
    p: Palette,
}

/// Rebuilds the room's geometry when we arrive in a room.
pub(super) fn build_room(
    mut changed: MessageReader<RoomChanged>,
    office: Res<OfficeRes>,
    tr: Res<I18n>,
    pieces: Query<Entity, With<RoomPiece>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut commands: Commands,
) {
    let Some(RoomChanged(index)) = changed.read().last().copied() else { return };
    for e in &pieces {
        commands.entity(e).despawn();
    }
    let Some(room) = office.room(index) else { return };
    let (w, d) = (room.size.x, room.size.y);
    let floor = materials.add(StandardMaterial {
        base_color: Color::srgb(0.78, 0.76, 0.70),
        perceptual_roughness: 0.9,
        ..default()
    });
    let p = Palette::new(&mut materials);
    let (m, c) = cuboid_between([0.0, 0.0, w, d], -0.05, 0.0);
    commands.spawn((Mesh3d(meshes.add(m)), MeshMaterial3d(floor), Transform::from_translation(c), RoomPiece));
    // The room's edges are walls (low, so the camera sees in).
    for rect in [[-0.2, -0.2, w + 0.2, 0.0], [-0.2, d, w + 0.2, d + 0.2], [-0.2, 0.0, 0.0, d], [w, 0.0, w + 0.2, d]] {
        spawn_block(&mut commands, &mut meshes, &p.wall, (rect, 0.0, WALL_HEIGHT * 0.5));
    }
    let mut b = Build { commands: &mut commands, meshes: &mut meshes, materials: &mut materials, p };
    b.walls(&office, room, &tr);
    b.doors(room, &tr);
    b.floor_lines(&office, room);
    b.counters(&office, room, &tr);
}

impl Build<'_, '_, '_> {
    /// Walls, partitions, pillars, benches, desks and the guide board, with their labels.
    fn walls(&mut self, office: &Office, room: &madoguchi_shared::layout::Room, tr: &I18n) {
        let (commands, p) = (&mut *self.commands, &self.p);
        let mut block = |mat: &Handle<StandardMaterial>, b: Block| spawn_block(commands, self.meshes, mat, b);
        let mut labels = Vec::new();
        for wl in &room.file.walls {
            let [x0, y0, x1, y1] = wl.rect;
            let middle = Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            match wl.kind {
                WallKind::Wall => block(&p.wall, (wl.rect, 0.0, WALL_HEIGHT)),
                WallKind::Partition => block(&p.partition, (wl.rect, 0.0, 1.3)),
                WallKind::Pillar => block(&p.pillar, (wl.rect, 0.0, WALL_HEIGHT + 0.6)),
                WallKind::Bench => {
                    // A seat, and a back along its far (north) side.
                    block(&p.seat, (wl.rect, 0.0, 0.45));
                    block(&p.seat, ([x0, y1 - 0.12, x1, y1], 0.45, 0.85));
                }
                WallKind::Desk => {
                    block(&p.wood, (wl.rect, 0.0, DESK_HEIGHT - 0.06));
                    block(&p.wall, ([x0 - 0.05, y0 - 0.05, x1 + 0.05, y1 + 0.05], DESK_HEIGHT - 0.06, DESK_HEIGHT));
                }
                WallKind::Guide => block(&p.guide, (wl.rect, 0.0, 2.0)),
            }
            let text = match (wl.kind, &wl.label) {
                (WallKind::Guide, _) => {
                    let mut lines = vec![tr.t("guide-title")];
                    lines.extend(decor::guide_lines(office, tr.lang));
                    Some((lines.join("\n"), 1.9))
                }
                (_, Some(label)) => Some((sign_lines(tr.lang, label), DESK_HEIGHT + 1.0)),
                (_, None) => None,
            };
            if let Some((text, height)) = text {
                labels.push((text, to_world(middle, height), wl.kind == WallKind::Guide));
            }
        }
        for (text, at, is_guide) in labels {
            let (fg, bg) = if is_guide {
                (Color::WHITE, Color::srgba(0.12, 0.30, 0.24, 0.92))
            } else {
                (Color::srgb(0.05, 0.05, 0.1), Color::srgba(1.0, 0.97, 0.88, 0.92))
            };
            commands.spawn((
                Text::new(text),
                TextFont { font_size: FontSize::Px(if is_guide { 12.0 } else { 15.0 }), ..default() },
                TextColor(fg),
                BackgroundColor(bg),
                Node { position_type: PositionType::Absolute, padding: UiRect::all(Val::Px(4.0)), ..default() },
                WorldLabel { anchor: at, follow: None },
                RoomPiece,
            ));
        }
    }

    /// The doors: a green patch on the floor and where it leads.
    fn doors(&mut self, room: &madoguchi_shared::layout::Room, tr: &I18n) {
        let (commands, meshes, p) = (&mut *self.commands, &mut *self.meshes, &self.p);
        for dr in &room.file.doors {
            let (m, c) = cuboid_between(dr.rect, 0.0, 0.02);
            commands.spawn((
                Mesh3d(meshes.add(m)),
                MeshMaterial3d(p.door.clone()),
                Transform::from_translation(c),
                RoomPiece,
            ));
            let [x0, y0, x1, y1] = dr.rect;
            let at = to_world(Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0), 1.2);
            commands.spawn((
                Text::new(sign_lines(tr.lang, &dr.label)),
                TextFont { font_size: FontSize::Px(14.0), ..default() },
                TextColor(Color::srgb(0.1, 0.3, 0.1)),
                Node { position_type: PositionType::Absolute, ..default() },
                WorldLabel { anchor: at, follow: None },
                RoomPiece,
            ));
        }
    }

    /// Coloured lines on the floor from where one arrives to each department, side by side.
    fn floor_lines(&mut self, office: &Office, room: &madoguchi_shared::layout::Room) {
        let (commands, meshes, materials) = (&mut *self.commands, &mut *self.meshes, &mut *self.materials);
        let lines = decor::floor_lines(office, room);
        let n = lines.len() as f32;
        for (i, line) in lines.iter().enumerate() {
            let mat = materials.add(StandardMaterial {
                base_color: department_color(&line.prefix),
                unlit: true,
                ..default()
            });
            let side = (i as f32 - (n - 1.0) / 2.0) * 0.16;
            for pair in line.points.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let (dx, dy) = (b.x - a.x, b.y - a.y);
                let len = dx.hypot(dy);
                if len < 0.05 {
                    continue;
                }
                let (nx, ny) = (-dy / len * side, dx / len * side);
                let mid = to_world(Point::new((a.x + b.x) / 2.0 + nx, (a.y + b.y) / 2.0 + ny), 0.004);
                // The strip runs along local x; layout y is world −z, so the angle is atan2(dy, dx).
                let turn = Quat::from_rotation_y(dy.atan2(dx));
                commands.spawn((
                    Mesh3d(meshes.add(Cuboid::new(len + 0.12, 0.008, 0.1))),
                    MeshMaterial3d(mat.clone()),
                    Transform::from_translation(mid).with_rotation(turn),
                    RoomPiece,
                ));
            }
        }
    }

    /// Each counter: its body in the department's colour, the clerk's chair, the sign with the
    /// department and the counter, the number display, and the square where residents wait.
    fn counters(&mut self, office: &Office, room: &madoguchi_shared::layout::Room, tr: &I18n) {
        let (commands, meshes, materials, p) = (&mut *self.commands, &mut *self.meshes, &mut *self.materials, &self.p);
        for ct in &room.file.counters {
            let prefix = office.department(&ct.department).map(|d| d.ticket_prefix.clone()).unwrap_or_default();
            let color = department_color(&prefix);
            let mat = materials.add(StandardMaterial { base_color: color, ..default() });
            let parts = decor::counter_parts(ct);
            let mut block = |mat: &Handle<StandardMaterial>, b: Block| spawn_block(commands, meshes, mat, b);
            block(&mat, parts.body);
            block(&p.wood, parts.top);
            for piece in parts.chair {
                block(&p.chair, piece);
            }
            block(&mat, parts.sign);
            block(&p.board, parts.display);
            let [sx, sy] = ct.resident_spot;
            let pad = materials.add(StandardMaterial { base_color: color.with_alpha(0.9), unlit: true, ..default() });
            block(&pad, ([sx - 0.35, sy - 0.35, sx + 0.35, sy + 0.35], 0.0, 0.006));
            let [x0, y0, x1, y1] = ct.desk;
            let middle = Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            commands.spawn((
                Text::new(format!("{}\n{}", counter_head(office, tr.lang, &ct.department), ct.id.to_uppercase())),
                TextFont { font_size: FontSize::Px(14.0), ..default() },
                TextColor(Color::WHITE),
                BackgroundColor(color.darker(0.18).with_alpha(0.95)),
                Node { position_type: PositionType::Absolute, padding: UiRect::all(Val::Px(4.0)), ..default() },
                Button,
                WorldLabel { anchor: to_world(middle, (decor::SIGN_SPAN.0 + decor::SIGN_SPAN.1) / 2.0), follow: None },
                CounterSign(ct.id.clone()),
                RoomPiece,
            ));
            commands.spawn((
                Text::new(String::new()),
                TextFont { font_size: FontSize::Px(15.0), ..default() },
                TextColor(Color::srgb(1.0, 0.75, 0.2)),
                BackgroundColor(Color::srgba(0.08, 0.08, 0.1, 0.92)),
                Node {
                    position_type: PositionType::Absolute,
                    padding: UiRect::axes(Val::Px(6.0), Val::Px(2.0)),
                    ..default()
                },
                WorldLabel { anchor: to_world(middle, decor::DISPLAY_SPAN.1 + 0.25), follow: None },
                QueueDisplay(ct.id.clone()),
                Visibility::Hidden,
                RoomPiece,
            ));
        }
    }
}

/// Gives new avatars a body in their look (staff: navy with a white cap), ours a ring on the
/// floor, and the others a name label.
pub(super) fn dress_avatars(
    new: Query<(Entity, &Avatar, Has<Me>), Added<Avatar>>,
    tr: Res<I18n>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut commands: Commands,
) {
    const TALL: f32 = 1.7;
    for (e, a, me) in &new {
        let color = if a.staff {
            let (r, g, b) = decor::STAFF_COLOR;
            Color::srgb(r, g, b)
        } else {
            decor::look_color(a.look.color)
        };
        let body: Mesh = match (a.staff, a.look.shape) {
            (false, 1) => Cuboid::new(0.55, TALL, 0.45).into(),
            (false, 2) => Cone { radius: AVATAR_RADIUS + 0.08, height: TALL }.into(),
            _ => Capsule3d::new(AVATAR_RADIUS, TALL - 2.0 * AVATAR_RADIUS).into(),
        };
        let mat = materials.add(StandardMaterial { base_color: color, ..default() });
        commands.entity(e).insert(Visibility::default()).with_children(|c| {
            c.spawn((Mesh3d(meshes.add(body)), MeshMaterial3d(mat), Transform::from_xyz(0.0, TALL / 2.0, 0.0)));
            if a.staff {
                let cap = materials.add(StandardMaterial { base_color: Color::WHITE, ..default() });
                c.spawn((
                    Mesh3d(meshes.add(Cylinder::new(AVATAR_RADIUS + 0.04, 0.14))),
                    MeshMaterial3d(cap),
                    Transform::from_xyz(0.0, TALL - 0.05, 0.0),
                ));
            }
            if me {
                let ring = materials.add(StandardMaterial {
                    base_color: Color::srgb(1.0, 0.85, 0.2),
                    unlit: true,
                    ..default()
                });
                c.spawn((
                    Mesh3d(meshes.add(Annulus::new(AVATAR_RADIUS + 0.12, AVATAR_RADIUS + 0.22))),
                    MeshMaterial3d(ring),
                    Transform::from_xyz(0.0, 0.01, 0.0)
                        .with_rotation(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2)),
                ));
            }
        });
        if !me {
            let label = if a.staff { format!("{} ({})", a.name, tr.t("staff-mark")) } else { a.name.clone() };
            commands.spawn((
                Text::new(label),
                TextFont { font_size: FontSize::Px(13.0), ..default() },
                TextColor(Color::srgb(0.1, 0.1, 0.1)),
                Node { position_type: PositionType::Absolute, ..default() },
                WorldLabel { anchor: Vec3::new(0.0, TALL + 0.3, 0.0), follow: Some(e) },
            ));
        }
    }
}

/// Keeps labels over their anchors; drops labels whose avatar left.
pub(super) fn place_labels(
    camera: Query<(&Camera, &GlobalTransform), With<FollowCamera>>,
    followed: Query<&GlobalTransform, With<Avatar>>,
    mut labels: Query<(Entity, &WorldLabel, &mut Node, &mut Visibility)>,
    ui_scale: Res<UiScale>,
    mut commands: Commands,
) {
    let Ok((cam, cam_tf)) = camera.single() else { return };
    for (e, label, mut node, mut vis) in &mut labels {
        let world = match label.follow {
            Some(target) => match followed.get(target) {
                Ok(tf) => tf.translation() + label.anchor,
                Err(_) => {
                    commands.entity(e).despawn();
                    continue;
                }
            },
            None => label.anchor,
        };
        match cam.world_to_viewport(cam_tf, world) {
            Ok(p) => {
                // The viewport is in the window's pixels, a node's place in UI pixels (they
                // differ when the resolution is lowered, see `performance`).
                node.left = Val::Px(p.x / ui_scale.0 - 30.0);
                node.top = Val::Px(p.y / ui_scale.0 - 10.0);
                *vis = Visibility::Inherited;
            }
            Err(_) => *vis = Visibility::Hidden,
        }
    }
}

/// Counter signs say whether the desk is open and who staffs it; the queue display over an open
/// counter shows the ticket called to it or served at it (dark when closed).
pub(super) fn update_signs(
    desks: Res<Desks>,
    office: Res<OfficeRes>,
    tr: Res<I18n>,
    new: Query<(), Added<CounterSign>>,
    mut signs: Query<(&CounterSign, &mut Text), Without<QueueDisplay>>,
    mut displays: Query<(&QueueDisplay, &mut Text, &mut BackgroundColor), Without<CounterSign>>,
) {
    if !desks.is_changed() && new.is_empty() {
        return;
    }
    for (sign, mut text) in &mut signs {
        let Some((_, c)) = office.counter(&sign.0) else { continue };
        let head = counter_head(&office, tr.lang, &c.department);
        let counter = sign.0.to_uppercase();
        let state = match desks.0.get(&sign.0) {
            Some(d) if d.open => tr
                .ta("sign-open", &[("counter", counter.into()), ("clerk", d.clerk.clone().unwrap_or_default().into())]),
            _ => tr.ta("sign-closed", &[("counter", counter.into())]),
        };
        text.0 = format!("{head}\n{state}");
    }
    for (display, mut text, mut bg) in &mut displays {
        let (words, alpha) = match desks.0.get(&display.0) {
            Some(d) if d.open => {
                let ticket = d.serving.clone().unwrap_or_else(|| "—".into());
                (tr.ta("sign-serving", &[("ticket", ticket.into())]), 0.92)
            }
            _ => (String::new(), 0.0),
        };
        text.0 = words;
        bg.0.set_alpha(alpha);
    }
}

/// Tapping (or clicking) a counter's sign: a ticket there (walking up to it first if needed).
pub(super) fn tap_sign(
    signs: Query<(&Interaction, &CounterSign), Changed<Interaction>>,
    mut take: MessageWriter<TakeAt>,
) {
    for (interaction, sign) in &signs {
        if *interaction == Interaction::Pressed {
            take.write(TakeAt(sign.0.clone()));
        }
    }
}

/// The camera follows our avatar from behind and above.
pub(super) fn follow(
    me: Query<&Transform, (With<Me>, Without<FollowCamera>)>,
    mut cam: Query<&mut Transform, With<FollowCamera>>,
    windows: Query<&Window>,
) {
    let (Ok(me), Ok(mut cam)) = (me.single(), cam.single_mut()) else { return };
    let (offset, ahead) = framing(windows.single().map(|w| w.width() / w.height().max(1.0)).unwrap_or(1.6));
    let target = me.translation;
    cam.translation = cam.translation.lerp(target + offset, 0.15);
    cam.look_at(target + ahead, Vec3::Y);
}

/// Where the camera sits relative to the avatar, and the point ahead of the avatar it looks at,
/// for a screen of this width/height. A landscape screen looks down at the avatar from behind;
/// the taller the screen (a phone in portrait), the higher the camera and the farther ahead it
/// looks (north, −z), so that the room ahead fills the screen rather than the floor at the
/// avatar's feet.
pub fn framing(aspect: f32) -> (Vec3, Vec3) {
    let portrait = ((1.0 - aspect) * 2.0).clamp(0.0, 1.0);
    (Vec3::new(0.0, 9.0 + 3.0 * portrait, 7.5 + 1.0 * portrait), Vec3::new(0.0, 0.0, -3.5 * portrait))
}

/// The counter whose desk (with a little margin) covers a floor point in `room`.
pub fn counter_at(office: &Office, room: u16, p: Point) -> Option<String> {
    let r = office.room(room)?;
    r.file.counters.iter().find_map(|c| {
        let [x0, y0, x1, y1] = c.desk;
        let m = 0.4;
        (p.x > x0 - m && p.x < x1 + m && p.y > y0 - m && p.y < y1 + m).then(|| c.id.clone())
    })
}

/// Click (or tap without dragging) on the floor: walk there, around walls (the server plans the
/// route). On a counter's desk: take a ticket there, walking up to it first if needed.
#[allow(clippy::too_many_arguments)]
pub(super) fn click_to_move(
    mouse: Res<ButtonInput<MouseButton>>,
    touches: Res<Touches>,
    stick: Res<TouchStick>,
    buttons: Query<&Interaction>,
    windows: Query<&Window>,
    camera: Query<(&Camera, &GlobalTransform), With<FollowCamera>>,
    view: Res<WorldView>,
    office: Res<OfficeRes>,
    mut pending: ResMut<PendingTake>,
    mut take: MessageWriter<TakeAt>,
    mut out: MessageWriter<ToServer>,
) {
    let Ok(window) = windows.single() else { return };
    // A click on a button is the button's.
    if buttons.iter().any(|i| *i != Interaction::None) {
        return;
    }
    let screen = if mouse.just_pressed(MouseButton::Left) {
        window.cursor_position()
    } else {
        touches.iter_just_released().next().filter(|_| !stick.dragging && !stick.on_ui).map(|t| t.position())
    };
    let (Some(screen), Ok((cam, cam_tf)), Some(_), Some(room)) = (screen, camera.single(), view.me, view.room) else {
        return;
    };
    let Ok(ray) = cam.viewport_to_world(cam_tf, screen) else { return };
    let Some(dist) = ray.intersect_plane(Vec3::ZERO, InfinitePlane3d::new(Vec3::Y)) else { return };
    let target = from_world(ray.get_point(dist));
    if let Some(id) = counter_at(&office, room, target) {
        take.write(TakeAt(id));
        return;
    }
    pending.0 = None;
    out.write(ToServer(ClientMessage::MoveTo { target: QPos::from_point(target), run: false }));
}
