//! Reading client messages: each is decoded and checked against its client's phase; `Hello`
//! (the handshake) puts an avatar in the world and answers `Welcome`; inputs steer avatars;
//! chat lines and counter requests go on to [`super::chat`] and [`super::counters`] (counter
//! requests within the avatar's [`CounterBucket`]). Bad input gets an error back and a strike
//! (see `net::clients`).

use super::avatar::{Avatar, Intent, NetIds, Position, Who};
use super::bucket::CounterBucket;
use super::settings::{OfficeLayout, WorldSettings};
use super::tick::TickSet;
use crate::identity::principal::WorldPrincipal;
use crate::metrics::WorldMetrics;
use crate::net::clients::{Client, Clients, Phase, protocol_mismatch, strike};
use crate::net::outbox::send_to;
use bevy::prelude::*;
use bevy_renet::RenetServer;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::limits::{LOCALE_MAX_BYTES, NAME_MAX_CHARS};
use madoguchi_shared::movement::clamp_velocity;
use madoguchi_shared::protocol::{
    Channel, ClientMessage, DecodeError, Look, NetId, PROTOCOL_VERSION, ServerMessage, decode_client, encode,
    peek_hello_version,
};
use madoguchi_shared::quant::{Point, QPos};
use madoguchi_shared::text::clean_text;

/// A chat line from a joined client, for [`super::chat`].
#[derive(Message, Debug, Clone)]
pub struct ChatRequest {
    pub avatar: Entity,
    pub text: String,
}

/// A counter or queue message from a joined client, for [`super::counters`].
#[derive(Message, Debug, Clone)]
pub struct CounterRequest {
    pub avatar: Entity,
    pub msg: ClientMessage,
}

/// Why a name or locale from `Hello` is refused.
fn check_hello(name: &str, locale: &str, look: Look) -> Result<String, (ErrorCode, String)> {
    let name = clean_text(name);
    let n = name.chars().count();
    if n == 0 || n > NAME_MAX_CHARS {
        return Err((ErrorCode::NameInvalid, format!("a display name needs 1 to {NAME_MAX_CHARS} characters")));
    }
    let locale_ok = (2..=LOCALE_MAX_BYTES).contains(&locale.len())
        && locale.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !locale_ok {
        return Err((ErrorCode::LocaleInvalid, "locale must be a language tag such as ja, en or ja-Hira".into()));
    }
    if !look.is_valid() {
        return Err((
            ErrorCode::LookInvalid,
            format!("a look is a colour below {} and a shape below {}", Look::COLORS, Look::SHAPES),
        ));
    }
    Ok(name)
}

/// Reads every client's messages, decodes them, and checks each against the client's phase
/// and bounds before applying it. Bad input gets an error back; repeated bad input, or a
/// protocol mismatch, closes that one connection.
pub(crate) fn receive_messages(
    time: Res<Time<Real>>,
    office: Res<OfficeLayout>,
    settings: Res<WorldSettings>,
    metrics: Res<WorldMetrics>,
    mut server: ResMut<RenetServer>,
    mut clients: ResMut<Clients>,
    mut ids: ResMut<NetIds>,
    mut intents: Query<(&Position, &mut Intent)>,
    mut counter_buckets: Query<&mut CounterBucket>,
    mut chat: MessageWriter<ChatRequest>,
    mut counter: MessageWriter<CounterRequest>,
    mut commands: Commands,
) {
    let now = time.elapsed();
    for (&client_id, client) in clients.iter_mut() {
        for channel in [Channel::Events, Channel::Movement] {
            while let Some(bytes) = server.receive_message(client_id, channel) {
                if matches!(client.phase, Phase::Closing { .. }) {
                    continue;
                }
                let msg = match decode_client(&bytes) {
                    Ok(m) => m,
                    Err(e) => {
                        if let (Phase::AwaitingHello { .. }, Some(v)) = (client.phase, peek_hello_version(&bytes)) {
                            protocol_mismatch(&mut server, &metrics, client, client_id, v, now);
                            continue;
                        }
                        let code = match e {
                            DecodeError::TooLarge(_) => ErrorCode::TooLarge,
                            DecodeError::Malformed(_) => ErrorCode::Malformed,
                        };
                        strike(&mut server, &metrics, client, client_id, code, e.to_string(), now);
                        continue;
                    }
                };
                let avatar = client.avatar.unwrap_or(Entity::PLACEHOLDER);
                let result = match (client.phase, msg) {
                    (Phase::AwaitingHello { .. }, ClientMessage::Hello { protocol, name, locale, look }) => {
                        if protocol != PROTOCOL_VERSION {
                            protocol_mismatch(&mut server, &metrics, client, client_id, protocol, now);
                            continue;
                        }
                        check_hello(&name, &locale, look).map(|name| {
                            let (net_id, name) =
                                spawn_avatar(&mut commands, &office, &mut ids, (client_id, client), name, look);
                            let welcome = ServerMessage::Welcome {
                                protocol: PROTOCOL_VERSION,
                                you: net_id,
                                room: office.entry_room,
                                pos: QPos::from_point(office.entry_point),
                                tick_hz: settings.tick_hz,
                                snapshot_hz: settings.snapshot_hz,
                            };
                            send_to(&mut server, client_id, encode(&welcome));
                            tracing::info!(client_id, net_id, %name, "joined");
                        })
                    }
                    (Phase::AwaitingHello { .. }, _) => Err((ErrorCode::NotJoined, "say Hello first".into())),
                    (Phase::Joined, ClientMessage::Hello { .. }) => {
                        Err((ErrorCode::AlreadyJoined, "already joined".into()))
                    }
                    (Phase::Joined, ClientMessage::Input { seq, vel, run }) => {
                        if let Ok((_, mut intent)) = intents.get_mut(avatar) {
                            // Unreliable inputs can arrive out of order: keep only newer ones.
                            if (seq.wrapping_sub(intent.last_seq) as i32) > 0 {
                                intent.set_velocity(clamp_velocity(vel.to_point(), run), run, seq, now);
                            }
                        }
                        Ok(())
                    }
                    (Phase::Joined, ClientMessage::MoveTo { target, run }) => match intents.get_mut(avatar) {
                        Ok((pos, mut intent)) => move_to(&office, pos, &mut intent, target.to_point(), run, now),
                        Err(_) => Ok(()),
                    },
                    (Phase::Joined, ClientMessage::Chat { text }) => {
                        chat.write(ChatRequest { avatar, text });
                        Ok(())
                    }
                    (
                        Phase::Joined,
                        msg @ (ClientMessage::TakeTicket { .. }
                        | ClientMessage::CancelTicket { .. }
                        | ClientMessage::TakeDesk { .. }
                        | ClientMessage::LeaveDesk
                        | ClientMessage::CallNext),
                    ) => {
                        // Each of these touches the database: a client gets a few at once, then
                        // a steady trickle; beyond that it is refused, and refusals are strikes.
                        let allowed = counter_buckets.get_mut(avatar).map(|mut b| (b.take(now), b.wait()));
                        if let Ok((false, wait)) = allowed {
                            Err((
                                ErrorCode::RateLimited,
                                format!("too many counter requests; wait {:.1} s", wait.as_secs_f32()),
                            ))
                        } else {
                            counter.write(CounterRequest { avatar, msg });
                            Ok(())
                        }
                    }
                    (Phase::Closing { .. }, _) => Ok(()),
                };
                match result {
                    Ok(()) => client.strikes = 0,
                    Err((code, message)) => strike(&mut server, &metrics, client, client_id, code, message, now),
                }
            }
        }
    }
}

/// A joining client's avatar at the office's entry point: staff appear under their account's
/// name, marked as staff. Returns its id and the name it goes by.
fn spawn_avatar(
    commands: &mut Commands,
    office: &OfficeLayout,
    ids: &mut NetIds,
    (client_id, client): (u64, &mut Client),
    name: String,
    look: Look,
) -> (NetId, String) {
    let net_id = ids.allocate();
    let (name, staff, look) = match &client.principal {
        Some(WorldPrincipal::Staff { name: account, .. }) => (account.clone(), true, Look::default()),
        _ => (name, false, look),
    };
    let avatar = commands
        .spawn((
            Avatar { net_id, client_id, name: name.clone(), staff, look },
            Position { room: office.entry_room, at: office.entry_point },
            Intent::default(),
        ))
        .id();
    if let Some(who) = client.principal.clone().map(Who) {
        commands.entity(avatar).insert(who);
    }
    client.phase = Phase::Joined;
    client.avatar = Some(avatar);
    (net_id, name)
}

/// A walk to a point of the avatar's room (a tap on the floor): refused outside the room.
fn move_to(
    office: &OfficeLayout,
    pos: &Position,
    intent: &mut Intent,
    target: Point,
    run: bool,
    now: std::time::Duration,
) -> Result<(), (ErrorCode, String)> {
    let size = office.room(pos.room).map(|r| r.size).unwrap_or(Point::ZERO);
    if target.x < 0.0 || target.y < 0.0 || target.x > size.x || target.y > size.y {
        return Err((ErrorCode::TargetInvalid, "target lies outside the room".into()));
    }
    intent.goal = Some(target);
    intent.goal_at = now;
    intent.route.clear();
    intent.run = run;
    Ok(())
}

pub(crate) fn plugin(app: &mut App) {
    app.add_message::<ChatRequest>()
        .add_message::<CounterRequest>()
        .add_systems(Update, receive_messages.in_set(TickSet::Receive));
}
