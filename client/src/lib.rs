//! The Madoguchi client: one bevy app for the Linux desktop (netcode over UDP) and the browser
//! (wasm32, WebGL2, renet over a WebSocket). Everything but drawing also runs headless, which is
//! how the tests drive it.

pub mod hud;
pub mod input;
pub mod net;
pub mod platform;
pub mod scene;
pub mod world;

use bevy::prelude::*;
use madoguchi_shared::layout::Office;
use std::sync::Arc;

/// The office layout the client draws: the same files the server loads, built in.
pub fn embedded_office() -> Office {
    let office = ("office.toml", include_str!("../../assets/office.toml"));
    let rooms = [
        ("layouts/counters.toml", include_str!("../../assets/layouts/counters.toml")),
        ("layouts/lobby.toml", include_str!("../../assets/layouts/lobby.toml")),
    ];
    let rooms: Vec<(String, String)> = rooms.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    // The build checks these files with the server's own validation (see the tests); a bad
    // layout fails the build's tests, not a resident's browser.
    Office::parse(office, &rooms).unwrap_or_else(|e| panic!("built-in layout: {e}"))
}

/// The logic of the client (connection, world, input) without a window: for tests.
pub fn headless_app(office: Office) -> App {
    let mut app = App::new();
    // Keys are pressed by hand in tests; nothing clears them between updates.
    app.add_plugins(MinimalPlugins)
        .init_resource::<ButtonInput<KeyCode>>()
        .add_message::<bevy::input::keyboard::KeyboardInput>()
        .insert_resource(input::OfficeRes(Arc::new(office)))
        .insert_resource(net::ServerConfig { http_base: "http://127.0.0.1:0".into() })
        .add_plugins((net::plugin, world::plugin, input::plugin));
    app
}

/// The windowed client.
pub fn windowed_app(server: net::ServerConfig, join: Option<net::JoinRequest>, lang: hud::UiLang) -> App {
    let mut app = App::new();
    let window = Window {
        title: "まどぐち区役所 — Madoguchi".into(),
        // In the browser: draw into the page's canvas, sized by the page.
        canvas: Some("#madoguchi".into()),
        fit_canvas_to_parent: true,
        prevent_default_event_handling: true,
        ..default()
    };
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin { primary_window: Some(window), ..default() })
            .set(AssetPlugin { meta_check: bevy::asset::AssetMetaCheck::Never, ..default() }),
    )
    .insert_resource(input::OfficeRes(Arc::new(embedded_office())))
    .insert_resource(server)
    .insert_resource(lang)
    .insert_resource(net::SessionToken(platform::stored_session()))
    .add_plugins((net::plugin, world::plugin, input::plugin, scene::plugin, hud::plugin));
    if let Some(join) = join {
        app.insert_resource(join);
    }
    #[cfg(target_arch = "wasm32")]
    app.add_systems(Last, mark_first_frame);
    app
}

/// Tells the page (and the browser test) when the first frames are out: `<body data-first-frame>`.
#[cfg(target_arch = "wasm32")]
fn mark_first_frame(mut frames: Local<u32>) {
    *frames += 1;
    if *frames == 3 {
        let now = web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or_default();
        if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
            let _ = body.set_attribute("data-first-frame", &format!("{now:.0}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_shared::protocol::{AvatarInfo, AvatarPos, ClientMessage, ServerMessage, TicketInfo, TicketStatus};
    use madoguchi_shared::quant::{Point, QPos};
    use net::{FromServer, ToServer};
    use world::{Avatar, Me, RoomChanged};

    fn app() -> App {
        let mut app = headless_app(embedded_office());
        app.update();
        app
    }

    fn say(app: &mut App, msg: ServerMessage) {
        app.world_mut().write_message(FromServer(msg));
        app.update();
    }

    fn welcome() -> ServerMessage {
        ServerMessage::Welcome {
            protocol: madoguchi_shared::PROTOCOL_VERSION,
            you: 7,
            room: 0,
            pos: QPos::from_point(Point::new(12.0, 2.0)),
            tick_hz: 20,
            snapshot_hz: 10,
        }
    }

    /// What the client has sent since the last call.
    fn sent(app: &mut App) -> Vec<ClientMessage> {
        app.world_mut().resource_mut::<Messages<ToServer>>().drain().map(|m| m.0).collect()
    }

    #[test]
    fn the_built_in_layout_is_the_servers_and_is_valid() {
        let o = embedded_office();
        assert!(o.counter("a1").is_some() && o.room_index("lobby").is_some());
    }

    #[test]
    fn welcome_places_me_and_others_come_and_go_smoothly() {
        let mut app = app();
        say(&mut app, welcome());
        let rooms = app.world().resource::<Messages<RoomChanged>>().len();
        assert!(rooms >= 1, "the scene is told to build the room");
        let me: Vec<Transform> =
            app.world_mut().query_filtered::<&Transform, With<Me>>().iter(app.world()).copied().collect();
        assert_eq!(me.len(), 1);
        assert_eq!(me[0].translation, world::to_world(Point::new(12.0, 2.0), 0.0));

        let other =
            AvatarInfo { id: 9, name: "花子".into(), pos: QPos::from_point(Point::new(10.0, 5.0)), staff: true };
        say(&mut app, ServerMessage::Appeared { avatars: vec![other] });
        let mut q = app.world_mut().query::<(&Avatar, &Transform)>();
        let (a, tf) = q.iter(app.world()).find(|(a, _)| a.id == 9).map(|(a, t)| (a.clone(), *t)).unwrap();
        assert!(a.staff && a.name == "花子");
        assert_eq!(tf.translation, world::to_world(Point::new(10.0, 5.0), 0.0));

        // A snapshot moves it there over one snapshot interval, not in a jump.
        let to = Point::new(11.0, 5.0);
        say(
            &mut app,
            ServerMessage::Snapshot { tick: 1, ack: 0, avatars: vec![AvatarPos { id: 9, pos: QPos::from_point(to) }] },
        );
        let interp =
            *app.world_mut().query::<(&Avatar, &world::Interp)>().iter(app.world()).find(|(a, _)| a.id == 9).unwrap().1;
        assert_eq!(interp.to, to);
        assert!((interp.span - 0.1).abs() < 1e-6);
        let mut half = interp;
        half.t = 0.05;
        assert!((half.current().x - 10.5).abs() < 1e-4);

        say(&mut app, ServerMessage::Vanished { ids: vec![9] });
        let left = app.world_mut().query::<&Avatar>().iter(app.world()).filter(|a| a.id == 9).count();
        assert_eq!(left, 0);
        // Entering another room leaves only me.
        say(
            &mut app,
            ServerMessage::Appeared {
                avatars: vec![AvatarInfo { id: 10, name: "x".into(), pos: QPos::default(), staff: false }],
            },
        );
        say(&mut app, ServerMessage::EnteredRoom { room: 1, pos: QPos::from_point(Point::new(20.0, 2.5)) });
        assert_eq!(app.world_mut().query::<&Avatar>().iter(app.world()).count(), 1);
        assert_eq!(app.world().resource::<world::WorldView>().room, Some(1));
    }

    #[test]
    fn a_call_raises_the_banner_once_and_again_on_recall() {
        let mut app = app();
        say(&mut app, welcome());
        let mut t = TicketInfo {
            id: 1,
            department: "welfare".into(),
            label: "D-001".into(),
            status: TicketStatus::Waiting,
            position: Some(2),
            wait_s: None,
            counter: None,
            recalls: 0,
        };
        let calls = |app: &mut App| app.world_mut().resource_mut::<Messages<world::Called>>().drain().count();
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 0);
        assert_eq!(hud::describe_ticket(&t, hud::UiLang::En), "D-001  position 2  wait unknown");
        t.status = TicketStatus::Called;
        t.counter = Some("d1".into());
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 1);
        assert_eq!(hud::describe_ticket(&t, hud::UiLang::Ja), "D-001  呼び出し中: D1 番窓口へ");
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 0, "a repeat of the same call is not a new call");
        t.recalls = 1;
        say(&mut app, ServerMessage::Ticket(t));
        assert_eq!(calls(&mut app), 1, "a recall is");
    }

    #[test]
    fn keys_walk_and_release_stops_once() {
        let mut app = app();
        say(&mut app, welcome());
        sent(&mut app);
        app.world_mut().resource_mut::<ButtonInput<KeyCode>>().press(KeyCode::KeyW);
        app.update();
        let out = sent(&mut app);
        let Some(ClientMessage::Input { vel, run, .. }) = out.last() else { panic!("no input: {out:?}") };
        assert!(vel.to_point().y > 1.5 && vel.to_point().x == 0.0 && !run, "{vel:?}");
        app.world_mut().resource_mut::<ButtonInput<KeyCode>>().release(KeyCode::KeyW);
        app.update();
        let out = sent(&mut app);
        assert!(
            matches!(out.last(), Some(ClientMessage::Input { vel, .. }) if vel.to_point() == Point::ZERO),
            "{out:?}"
        );
        app.update();
        app.update();
        assert!(sent(&mut app).is_empty(), "standing still sends nothing");
    }

    #[test]
    fn e_at_a_counter_takes_a_ticket_there() {
        let o = embedded_office();
        let counters = o.room_index("counters").unwrap();
        assert_eq!(input::counter_in_reach(&o, counters, Point::new(20.5, 14.5)).as_deref(), Some("c1"));
        assert_eq!(input::counter_in_reach(&o, counters, Point::new(20.5, 5.0)), None);
        let mut app = app();
        say(&mut app, ServerMessage::EnteredRoom { room: counters, pos: QPos::from_point(Point::new(15.0, 14.8)) });
        app.world_mut().resource_mut::<world::WorldView>().me = Some(1);
        app.world_mut().resource_mut::<ButtonInput<KeyCode>>().press(KeyCode::KeyE);
        app.update();
        let out = sent(&mut app);
        assert!(out.iter().any(|m| matches!(m, ClientMessage::TakeTicket { counter } if counter == "b1")), "{out:?}");
    }
}
