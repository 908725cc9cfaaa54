//! The Madoguchi client: one bevy app for the Linux desktop (netcode over UDP) and the browser
//! (wasm32, WebGL2, renet over a WebSocket). Everything but drawing also runs headless, which is
//! how the tests drive it.
//!
//! One folder per feature, each a plugin that reads the server's messages it cares about
//! ([`connection::FromServer`]) and keeps its own state: `connection` (session, transport,
//! reconnects), `join` (the join screen, the desktop's sign-in), `avatars` (who is where, our
//! walking), `room` (the room drawn, desks, the camera, clicks), `tickets` (tickets, the call,
//! taking one), `chat`, `status` (the status line), `consultation`, `applications`,
//! `performance` (frame pacing) and, in the browser, `page` (the page's mirrors of the game).
//! The files beside them are beneath every feature: the layout, words, the platform, HTTP off
//! the frame loop ([`http`]), where things sit on the screen ([`screen`]), lines being typed.
//! The order of a frame is declared once, as [`Step`]s ([`frame`]).

pub mod applications;
pub mod avatars;
pub mod chat;
pub mod connection;
pub mod consultation;
pub mod decor;
pub mod frame;
pub mod http;
pub mod i18n;
pub mod join;
pub mod office;
#[cfg(target_arch = "wasm32")]
mod page;
pub mod performance;
pub mod platform;
pub mod room;
pub mod screen;
pub mod status;
pub mod tickets;
pub mod touch;
pub mod typing;

use bevy::prelude::*;
use madoguchi_shared::layout::Office;
use std::sync::Arc;

pub use frame::Step;
pub use office::embedded_office;

/// The logic of the client without a window (the connection, avatars and walking, tickets,
/// chat, desks, the last refusal, the running consultation): for tests.
pub fn headless_app(office: Office) -> App {
    let mut app = App::new();
    // Keys are pressed by hand in tests; nothing clears them between updates.
    app.add_plugins(MinimalPlugins)
        .init_resource::<ButtonInput<KeyCode>>()
        .init_resource::<Touches>()
        .add_message::<bevy::input::keyboard::KeyboardInput>()
        .insert_resource(i18n::I18n::new(i18n::Lang::En))
        .insert_resource(office::OfficeRes(Arc::new(office)))
        .insert_resource(connection::ServerConfig { http_base: "http://127.0.0.1:0".into() })
        .add_plugins((frame::steps, connection::plugin, avatars::plugin, tickets::plugin, chat::plugin, room::desks))
        .add_plugins((status::state, consultation::state));
    app
}

/// The font every text is drawn in: a subset of Noto Sans CJK JP (assets/fonts, SIL OFL 1.1),
/// with kana, the common kanji and Latin. bevy's own font has no Japanese.
pub const FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansCJK-Madoguchi.otf");

/// The windowed client. Without `join`, it opens on the join screen.
pub fn windowed_app(server: connection::ServerConfig, join: Option<connection::JoinRequest>, lang: i18n::Lang) -> App {
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
    .insert_resource(office::OfficeRes(Arc::new(embedded_office())))
    .insert_resource(server)
    .insert_resource(i18n::I18n::new(lang))
    .insert_resource(connection::SessionToken(platform::stored_session()))
    .add_plugins((frame::steps, connection::plugin, join::plugin, avatars::plugin, room::plugin, tickets::plugin))
    .add_plugins((screen::plugin, chat::plugin, status::plugin, consultation::plugin, applications::plugin))
    .add_plugins(performance::plugin);
    // The default font handle draws every text: make it ours.
    let font = bevy::text::Font::from_bytes(FONT.to_vec());
    if let Err(e) = app.world_mut().resource_mut::<Assets<bevy::text::Font>>().insert(AssetId::default(), font) {
        warn!("font: {e:?}");
    }
    #[cfg(not(target_arch = "wasm32"))]
    app.add_plugins((join::signin::plugin, tickets::counters_list));
    #[cfg(target_arch = "wasm32")]
    app.add_plugins(page::plugin);
    if let Some(join) = join {
        app.insert_resource(join);
    }
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use avatars::{Avatar, Me, RoomChanged};
    use connection::{FromServer, ToServer};
    use madoguchi_shared::protocol::{AvatarInfo, AvatarPos, ClientMessage, ServerMessage, TicketInfo, TicketStatus};
    use madoguchi_shared::quant::{Point, QPos};

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

    /// The click-to-move targets among messages sent.
    fn moves(m: &[ClientMessage]) -> Vec<Point> {
        m.iter()
            .filter_map(|m| match m {
                ClientMessage::MoveTo { target, .. } => Some(target.to_point()),
                _ => None,
            })
            .collect()
    }

    /// A counter chosen from the counters list (or clicked from afar) in the other room: the
    /// avatar is sent to the door first, then, in the counter's room, to the counter, where the
    /// ticket is taken on arrival; steering by hand ends the walk.
    #[test]
    fn going_to_a_counter_in_another_room_walks_through_the_door_then_takes_a_ticket() {
        let mut app = app();
        let office = embedded_office();
        let lobby = office.room_index("lobby").unwrap();
        say(&mut app, welcome());
        say(&mut app, ServerMessage::EnteredRoom { room: lobby, pos: QPos::from_point(Point::new(12.0, 2.0)) });
        sent(&mut app);
        app.world_mut().resource_mut::<tickets::PendingTake>().0 = Some("a1".into());
        app.update();
        let door = moves(&sent(&mut app));
        assert_eq!(door.len(), 1, "{door:?}");
        let d = &office.room(lobby).unwrap().file.doors[0];
        assert!(
            door[0].distance(Point::new((d.rect[0] + d.rect[2]) / 2.0, (d.rect[1] + d.rect[3]) / 2.0)) < 0.05,
            "{door:?} {d:?}"
        );
        // Nothing more while walking that leg.
        app.update();
        assert!(moves(&sent(&mut app)).is_empty());
        let counters = office.room_index("counters").unwrap();
        say(&mut app, ServerMessage::EnteredRoom { room: counters, pos: QPos::from_point(Point::new(12.0, 1.0)) });
        let spot = moves(&sent(&mut app));
        assert_eq!(spot.len(), 1, "{spot:?}");
        assert!(spot[0].distance(Point::new(4.0, 15.0)) < 0.05, "{spot:?}");
        // In reach of the counter: the ticket is asked for, once.
        let you = AvatarPos { id: 7, pos: QPos::from_point(Point::new(4.0, 15.0)) };
        say(&mut app, ServerMessage::Snapshot { tick: 1, ack: 0, avatars: vec![you] });
        let took: Vec<ClientMessage> = sent(&mut app);
        assert!(took.iter().any(|m| matches!(m, ClientMessage::TakeTicket { counter } if counter == "a1")), "{took:?}");
        assert!(app.world().resource::<tickets::PendingTake>().0.is_none());
        // An unknown counter goes nowhere.
        assert_eq!(tickets::next_leg(&office, lobby, "zz9"), None);
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
        assert_eq!(me[0].translation, avatars::to_world(Point::new(12.0, 2.0), 0.0));

        let other = AvatarInfo {
            id: 9,
            name: "花子".into(),
            pos: QPos::from_point(Point::new(10.0, 5.0)),
            staff: true,
            look: Default::default(),
        };
        say(&mut app, ServerMessage::Appeared { avatars: vec![other] });
        let mut q = app.world_mut().query::<(&Avatar, &Transform)>();
        let (a, tf) = q.iter(app.world()).find(|(a, _)| a.id == 9).map(|(a, t)| (a.clone(), *t)).unwrap();
        assert!(a.staff && a.name == "花子");
        assert_eq!(tf.translation, avatars::to_world(Point::new(10.0, 5.0), 0.0));

        // A snapshot moves it there over one snapshot interval, not in a jump.
        let to = Point::new(11.0, 5.0);
        say(
            &mut app,
            ServerMessage::Snapshot { tick: 1, ack: 0, avatars: vec![AvatarPos { id: 9, pos: QPos::from_point(to) }] },
        );
        let interp = *app
            .world_mut()
            .query::<(&Avatar, &avatars::Interp)>()
            .iter(app.world())
            .find(|(a, _)| a.id == 9)
            .unwrap()
            .1;
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
                avatars: vec![AvatarInfo {
                    id: 10,
                    name: "x".into(),
                    pos: QPos::default(),
                    staff: false,
                    look: Default::default(),
                }],
            },
        );
        say(&mut app, ServerMessage::EnteredRoom { room: 1, pos: QPos::from_point(Point::new(20.0, 2.5)) });
        assert_eq!(app.world_mut().query::<&Avatar>().iter(app.world()).count(), 1);
        assert_eq!(app.world().resource::<avatars::WorldView>().room, Some(1));
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
        let calls = |app: &mut App| app.world_mut().resource_mut::<Messages<tickets::Called>>().drain().count();
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 0);
        let o = embedded_office();
        let en = i18n::I18n::new(i18n::Lang::En);
        let ja = i18n::I18n::new(i18n::Lang::Ja);
        assert_eq!(tickets::describe_ticket(&t, &o, &en), "D-001  position 2  wait unknown");
        t.status = TicketStatus::Called;
        t.counter = Some("d1".into());
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 1);
        assert_eq!(tickets::describe_ticket(&t, &o, &ja), "D-001  呼び出し中: D1 番窓口 (福祉課) へ");
        assert_eq!(
            tickets::describe_call(&t, &o, &en),
            "Ticket D-001: please come to counter D1 (Welfare) in Service Counters"
        );
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 0, "a repeat of the same call is not a new call");
        t.recalls = 1;
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 1, "a recall is");
        t.status = TicketStatus::Serving;
        say(&mut app, ServerMessage::Ticket(t.clone()));
        assert_eq!(calls(&mut app), 0, "arriving is not a call");
        // Straight from waiting to served (already standing at the desk) is a call.
        let mut u = TicketInfo { id: 2, label: "D-002".into(), status: TicketStatus::Waiting, ..t };
        say(&mut app, ServerMessage::Ticket(u.clone()));
        u.status = TicketStatus::Serving;
        say(&mut app, ServerMessage::Ticket(u));
        assert_eq!(calls(&mut app), 1);
    }

    #[test]
    fn keys_walk_and_release_stops_with_two_repeats() {
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
        // Inputs travel unreliably: the stop goes twice more, 50 ms apart, then nothing.
        let mut repeats = Vec::new();
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(60));
            app.update();
            repeats.extend(sent(&mut app));
        }
        assert_eq!(repeats.len(), 2, "{repeats:?}");
        assert!(repeats.iter().all(|m| matches!(m, ClientMessage::Input { vel, .. } if vel.to_point() == Point::ZERO)));
        assert!(sent(&mut app).is_empty(), "standing still sends nothing");
    }

    /// A walk to a counter on which the avatar stops short (the server ended its route) is asked
    /// for again after a while, three times at most; while the avatar moves, nothing is resent.
    #[test]
    fn a_walk_to_a_counter_that_stops_short_is_asked_for_again_a_few_times() {
        let mut app = app();
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(std::time::Duration::from_millis(200)));
        let office = embedded_office();
        let counters = office.room_index("counters").unwrap();
        say(&mut app, welcome());
        say(&mut app, ServerMessage::EnteredRoom { room: counters, pos: QPos::from_point(Point::new(20.0, 2.5)) });
        sent(&mut app);
        app.world_mut().resource_mut::<tickets::PendingTake>().0 = Some("a1".into());
        app.update();
        assert_eq!(moves(&sent(&mut app)).len(), 1, "the leg to the counter");
        // Walking (5 s): nothing more.
        let mut again = Vec::new();
        for i in 0..25 {
            let at = Point::new(20.0 - 0.3 * i as f32, 2.5 + 0.2 * i as f32);
            app.world_mut().resource_mut::<avatars::WorldView>().my_pos = Some(at);
            app.update();
            again.extend(moves(&sent(&mut app)));
        }
        assert!(again.is_empty(), "nothing resent while the avatar moves: {again:?}");
        // Standing still short of the counter for 20 s: asked for again three times.
        for _ in 0..100 {
            app.update();
            again.extend(moves(&sent(&mut app)));
        }
        assert_eq!(again.len(), 3, "{again:?}");
        assert!(again.iter().all(|p| p.distance(Point::new(4.0, 15.0)) < 0.05), "{again:?}");
        assert_eq!(app.world().resource::<tickets::PendingTake>().0.as_deref(), Some("a1"), "still on its way");
    }

    #[test]
    fn the_desktop_counters_list_walks_to_a_counter_in_the_other_room() {
        let o = embedded_office();
        let mut app = headless_app(o.clone());
        app.add_plugins(tickets::counters_list);
        app.update();
        let corner_shown = |app: &mut App| {
            let mut q = app.world_mut().query_filtered::<&Visibility, With<tickets::GoCorner>>();
            q.iter(app.world()).any(|v| *v == Visibility::Inherited)
        };
        assert!(!corner_shown(&mut app), "not in the office: no list");
        let lobby = o.room_index("lobby").unwrap();
        say(&mut app, ServerMessage::EnteredRoom { room: lobby, pos: QPos::from_point(Point::new(12.0, 2.0)) });
        app.world_mut().resource_mut::<avatars::WorldView>().me = Some(1);
        app.update();
        assert!(corner_shown(&mut app), "in the office: the button shows");
        let find = |app: &mut App, id: &str| {
            let mut q = app.world_mut().query::<(Entity, &tickets::GoCounter)>();
            q.iter(app.world()).find(|(_, c)| c.0 == id).map(|(e, _)| e).expect("the counter's button")
        };
        let toggle = {
            let mut q = app.world_mut().query_filtered::<Entity, With<tickets::GoToggle>>();
            q.single(app.world()).unwrap()
        };
        app.world_mut().entity_mut(toggle).insert(Interaction::Pressed);
        app.update();
        let open = {
            let mut q = app.world_mut().query_filtered::<&Node, With<tickets::GoList>>();
            q.single(app.world()).unwrap().display
        };
        assert_eq!(open, Display::Flex, "the button opens the list");
        sent(&mut app);
        let c1 = find(&mut app, "c1");
        app.world_mut().entity_mut(c1).insert(Interaction::Pressed);
        app.update();
        assert_eq!(app.world().resource::<tickets::PendingTake>().0.as_deref(), Some("c1"));
        let out = sent(&mut app);
        let door = tickets::next_leg(&o, lobby, "c1").unwrap();
        assert!(
            out.iter().any(|m| matches!(m, ClientMessage::MoveTo { target, .. } if target.to_point().x == door.x)),
            "first to the door: {out:?}"
        );
    }

    #[test]
    fn e_at_a_counter_takes_a_ticket_there() {
        let o = embedded_office();
        let counters = o.room_index("counters").unwrap();
        assert_eq!(tickets::counter_in_reach(&o, counters, Point::new(20.5, 14.5)).as_deref(), Some("c1"));
        assert_eq!(tickets::counter_in_reach(&o, counters, Point::new(20.5, 5.0)), None);
        let mut app = app();
        say(&mut app, ServerMessage::EnteredRoom { room: counters, pos: QPos::from_point(Point::new(15.0, 14.8)) });
        app.world_mut().resource_mut::<avatars::WorldView>().me = Some(1);
        key(&mut app, KeyCode::KeyE, "e");
        app.update();
        let out = sent(&mut app);
        assert!(out.iter().any(|m| matches!(m, ClientMessage::TakeTicket { counter } if counter == "b1")), "{out:?}");
        // An "e" typed into the chat line is a letter, even when the line is sent in the same
        // frame: no ticket.
        key(&mut app, KeyCode::Enter, "");
        app.update();
        key(&mut app, KeyCode::KeyE, "e");
        key(&mut app, KeyCode::Enter, "");
        app.update();
        let out = sent(&mut app);
        assert!(out.iter().any(|m| matches!(m, ClientMessage::Chat { text } if text == "e")), "{out:?}");
        assert!(out.iter().all(|m| !matches!(m, ClientMessage::TakeTicket { .. })), "{out:?}");
        // A click on a desk from afar walks to it and takes the ticket on arrival.
        assert_eq!(room::counter_at(&o, counters, Point::new(20.5, 16.0)).as_deref(), Some("c1"));
        app.world_mut().resource_mut::<tickets::PendingTake>().0 = Some("c1".into());
        app.update();
        assert!(sent(&mut app).iter().all(|m| !matches!(m, ClientMessage::TakeTicket { .. })), "not there yet");
        app.world_mut().resource_mut::<avatars::WorldView>().my_pos = Some(Point::new(20.5, 14.5));
        app.update();
        let out = sent(&mut app);
        assert!(out.iter().any(|m| matches!(m, ClientMessage::TakeTicket { counter } if counter == "c1")), "{out:?}");
        assert!(app.world().resource::<tickets::PendingTake>().0.is_none());
    }

    /// One key press (and release) as the window reports it.
    fn key(app: &mut App, code: KeyCode, text: &str) {
        use bevy::input::ButtonState;
        use bevy::input::keyboard::{Key, KeyboardInput};
        for state in [ButtonState::Pressed, ButtonState::Released] {
            app.world_mut().write_message(KeyboardInput {
                key_code: code,
                logical_key: Key::Character(text.into()),
                state,
                text: (!text.is_empty() && state == ButtonState::Pressed).then(|| text.into()),
                repeat: false,
                window: Entity::PLACEHOLDER,
            });
        }
    }

    #[test]
    fn enter_opens_the_chat_typing_does_not_walk_and_enter_sends() {
        let mut app = app();
        say(&mut app, welcome());
        sent(&mut app);
        key(&mut app, KeyCode::Enter, "");
        app.update();
        assert!(app.world().resource::<chat::ChatEntry>().open);
        // W is a letter now, not a step; the IME's commit arrives as its own event.
        app.world_mut().resource_mut::<ButtonInput<KeyCode>>().press(KeyCode::KeyW);
        key(&mut app, KeyCode::KeyW, "w");
        app.update();
        app.world_mut()
            .write_message(bevy::window::Ime::Commit { window: Entity::PLACEHOLDER, value: "窓口".into() });
        app.update();
        key(&mut app, KeyCode::Space, " ");
        key(&mut app, KeyCode::KeyX, "x");
        key(&mut app, KeyCode::Backspace, "");
        app.update();
        assert_eq!(app.world().resource::<chat::ChatEntry>().text, "w窓口 ");
        let out = sent(&mut app);
        assert!(out.iter().all(|m| !matches!(m, ClientMessage::Input { .. })), "typing is not walking: {out:?}");
        key(&mut app, KeyCode::Enter, "");
        app.update();
        let out = sent(&mut app);
        assert!(out.iter().any(|m| matches!(m, ClientMessage::Chat { text } if text == "w窓口")), "{out:?}");
        assert!(!app.world().resource::<chat::ChatEntry>().open);
        // Escape drops a line; a long paste is cut at the limit.
        key(&mut app, KeyCode::Enter, "");
        app.update();
        let long = "あ".repeat(500);
        app.world_mut().write_message(bevy::window::Ime::Commit { window: Entity::PLACEHOLDER, value: long });
        app.update();
        let typed = app.world().resource::<chat::ChatEntry>().text.chars().count();
        assert_eq!(typed, madoguchi_shared::limits::CHAT_MAX_CHARS);
        key(&mut app, KeyCode::Escape, "");
        app.update();
        let out = sent(&mut app);
        assert!(out.iter().all(|m| !matches!(m, ClientMessage::Chat { .. })), "{out:?}");
    }

    #[test]
    fn the_touch_stick_walks_and_reconnects_back_off_with_jitter() {
        let mut app = app();
        say(&mut app, welcome());
        sent(&mut app);
        assert_eq!(avatars::stick_direction(Vec2::new(100.0, 100.0), Vec2::new(105.0, 100.0)), Point::ZERO, "a tap");
        let d = avatars::stick_direction(Vec2::new(100.0, 100.0), Vec2::new(100.0, 10.0));
        assert!((d.y - 1.0).abs() < 1e-5 && d.x == 0.0, "dragging up walks north at full speed: {d:?}");
        app.world_mut().resource_mut::<avatars::StickDir>().0 = d;
        app.update();
        let out = sent(&mut app);
        assert!(matches!(out.last(), Some(ClientMessage::Input { vel, .. }) if vel.to_point().y > 1.5), "{out:?}");
        use std::time::Duration;
        assert_eq!(connection::retry_delay(1, 0.5), Duration::from_secs(1));
        assert_eq!(connection::retry_delay(3, 0.5), Duration::from_secs(4));
        assert_eq!(connection::retry_delay(40, 0.5), Duration::from_secs(30), "capped");
        assert_eq!(connection::retry_delay(1, 0.0), Duration::from_millis(750));
        assert_eq!(connection::retry_delay(1, 0.999_999), Duration::from_secs_f32(1.25 * 0.999_999_6));
    }

    #[test]
    fn the_join_screen_takes_a_name_and_a_language_then_goes_away() {
        let mut app = headless_app(embedded_office());
        app.add_plugins(join::plugin);
        app.update();
        assert!(app.world().get_resource::<join::JoinForm>().is_some(), "no name given: the join screen opens");
        key(&mut app, KeyCode::Enter, "");
        app.update();
        assert!(app.world().resource::<join::JoinForm>().need_name, "Enter without a name asks for one");
        assert!(app.world().get_resource::<connection::JoinRequest>().is_none());
        app.world_mut()
            .write_message(bevy::window::Ime::Commit { window: Entity::PLACEHOLDER, value: "花子".into() });
        app.update();
        key(&mut app, KeyCode::Tab, "");
        app.update();
        assert_eq!(app.world().resource::<join::JoinForm>().lang, i18n::Lang::ZhHans, "Tab cycles English → 简体中文");
        // → 한국어 → Tiếng Việt → 日本語 → やさしい にほんご
        for _ in 0..4 {
            key(&mut app, KeyCode::Tab, "");
        }
        key(&mut app, KeyCode::Enter, "");
        app.update();
        app.update();
        let join = app.world().get_resource::<connection::JoinRequest>().cloned().expect("joined");
        assert_eq!((join.name.as_str(), join.locale.as_str()), ("花子", "ja-easy"));
        assert!(app.world().get_resource::<join::JoinForm>().is_none(), "the join screen is gone");
        assert_eq!(app.world().resource::<i18n::I18n>().lang, i18n::Lang::JaEasy);
        // Typing afterwards neither edits a name nor breaks anything.
        key(&mut app, KeyCode::KeyA, "a");
        app.update();
    }

    #[test]
    fn the_join_form_needs_a_name_and_sends_the_language_and_look() {
        let mut f = join::JoinForm { name: "  ".into(), lang: i18n::Lang::JaEasy, need_name: false, look: None };
        assert!(f.submit().is_none() && f.need_name);
        f.name = " 花子 ".into();
        let j = f.submit().unwrap();
        assert_eq!((j.name.as_str(), j.locale.as_str()), ("花子", "ja-easy"));
        assert_eq!(j.look(), madoguchi_shared::protocol::Look::for_name("花子"), "no pick: the name's look");
        f.look = Some(madoguchi_shared::protocol::Look { color: 6, shape: 1 });
        assert_eq!(f.submit().unwrap().look(), madoguchi_shared::protocol::Look { color: 6, shape: 1 });
    }

    /// The characters of a font's `cmap` (formats 4 and 12) that map to a real glyph.
    fn font_chars(font: &[u8]) -> std::collections::HashSet<u32> {
        let u16_at = |o: usize| u16::from_be_bytes([font[o], font[o + 1]]) as usize;
        let u32_at = |o: usize| u32::from_be_bytes([font[o], font[o + 1], font[o + 2], font[o + 3]]) as usize;
        let tables = u16_at(4);
        let cmap = (0..tables).map(|i| 12 + 16 * i).find(|&r| &font[r..r + 4] == b"cmap").map(|r| u32_at(r + 8));
        let cmap = cmap.expect("the font has a cmap");
        let mut out = std::collections::HashSet::new();
        for i in 0..u16_at(cmap + 2) {
            let sub = cmap + u32_at(cmap + 4 + 8 * i + 4);
            match u16_at(sub) {
                4 => {
                    let segs = u16_at(sub + 6) / 2;
                    let (ends, starts) = (sub + 14, sub + 16 + 2 * segs);
                    let (deltas, ranges) = (starts + 2 * segs, starts + 4 * segs);
                    for s in 0..segs {
                        let (start, end) = (u16_at(starts + 2 * s), u16_at(ends + 2 * s));
                        let (delta, range) = (u16_at(deltas + 2 * s), u16_at(ranges + 2 * s));
                        for c in start..=end.min(0xFFFE) {
                            let g = if range == 0 {
                                (c + delta) & 0xFFFF
                            } else {
                                match u16_at(ranges + 2 * s + range + 2 * (c - start)) {
                                    0 => 0,
                                    g => (g + delta) & 0xFFFF,
                                }
                            };
                            if g != 0 {
                                out.insert(c as u32);
                            }
                        }
                    }
                }
                12 => {
                    for g in 0..u32_at(sub + 12) {
                        let at = sub + 16 + 12 * g;
                        out.extend(u32_at(at) as u32..=u32_at(at + 4) as u32);
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn the_font_has_every_character_the_client_can_show() {
        let have = font_chars(FONT);
        assert!(have.len() > 3000, "{}", have.len());
        let mut texts: Vec<String> = [
            include_str!("../../assets/i18n/ja.ftl"),
            include_str!("../../assets/i18n/ja-easy.ftl"),
            include_str!("../../assets/i18n/en.ftl"),
            include_str!("../../assets/i18n/zh-Hans.ftl"),
            include_str!("../../assets/i18n/ko.ftl"),
            include_str!("../../assets/i18n/vi.ftl"),
            include_str!("../../assets/office.toml"),
            include_str!("../../assets/layouts/lobby.toml"),
            include_str!("../../assets/layouts/counters.toml"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.extend(i18n::Lang::ALL.iter().map(|l| l.endonym().to_string()));
        // Everyday names: level-1 kanji, kana, Latin with accents, Chinese (GB 2312 level 1),
        // Hangul (KS X 1001) and Vietnamese.
        texts.push("山田花子 佐藤 鈴木一郎 たなか タナカ José Zoë |".into());
        texts.push(
            "王晓明 张伟 刘洋 陈静 李娜 김민준 이서연 박지훈 최유진 Nguyễn Thị Hương Trần Văn Đức Lê Hoàng Yến".into(),
        );
        let missing: std::collections::BTreeSet<char> =
            texts.iter().flat_map(|t| t.chars()).filter(|c| !c.is_control() && !have.contains(&(*c as u32))).collect();
        assert!(missing.is_empty(), "not in the font (run scripts/make-font): {missing:?}");
    }
}
