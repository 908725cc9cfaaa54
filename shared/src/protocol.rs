//! Messages, channels and the protocol version.
//!
//! Every message is a postcard-encoded enum. `Hello` is variant 0 of [`ClientMessage`] and
//! starts with the protocol version, forever: that is what lets a server of any version read an
//! old or new client's version and refuse it with a message naming both.

use crate::limits::MAX_CLIENT_MESSAGE_BYTES;
use crate::quant::{QPos, QVel};
use renet::{ChannelConfig, ConnectionConfig, SendType};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Version of the world protocol. Bump on any change to a message's shape or meaning.
pub const PROTOCOL_VERSION: u16 = 5;

/// Netcode protocol id: fixed, so that any client reaches the handshake and is told about a
/// version mismatch in words instead of being silently ignored by netcode.
pub const NETCODE_PROTOCOL_ID: u64 = u64::from_be_bytes(*b"MADOGUCH");

/// An avatar's id on the wire, assigned by the server, unique for the server's lifetime.
pub type NetId = u32;

/// Renet channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Channel {
    /// Reliable, ordered: handshake, room changes, appearances, chat, errors.
    Events = 0,
    /// Unreliable: movement input (client to server) and snapshots (server to client).
    Movement = 1,
}

impl From<Channel> for u8 {
    fn from(c: Channel) -> u8 {
        c as u8
    }
}

/// The renet connection configuration both ends must use.
pub fn connection_config() -> ConnectionConfig {
    let resend_time = Duration::from_millis(200);
    ConnectionConfig {
        available_bytes_per_tick: 60_000,
        server_channels_config: vec![
            ChannelConfig {
                channel_id: Channel::Events.into(),
                max_memory_usage_bytes: 4 * 1024 * 1024,
                send_type: SendType::ReliableOrdered { resend_time },
            },
            ChannelConfig {
                channel_id: Channel::Movement.into(),
                max_memory_usage_bytes: 256 * 1024,
                send_type: SendType::Unreliable,
            },
        ],
        // Small on purpose: a client that floods the reliable channel is disconnected by renet
        // before it can make the server hold much of its data.
        client_channels_config: vec![
            ChannelConfig {
                channel_id: Channel::Events.into(),
                max_memory_usage_bytes: 64 * 1024,
                send_type: SendType::ReliableOrdered { resend_time },
            },
            ChannelConfig {
                channel_id: Channel::Movement.into(),
                max_memory_usage_bytes: 16 * 1024,
                send_type: SendType::Unreliable,
            },
        ],
    }
}

/// What a client may say. The server checks each against the connection phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// The first message on a connection. Must stay variant 0 with `protocol` first.
    Hello { protocol: u16, name: String, locale: String, look: Look },
    /// Desired velocity (cm/s); the server clamps it to the speed cap. Renew it at least every
    /// [`crate::limits::INPUT_TTL`]; a zero velocity stops. `seq` increases by one per input.
    Input { seq: u32, vel: QVel, run: bool },
    /// Walk in a straight line towards a point of the current room (click or tap to move).
    MoveTo { target: QPos, run: bool },
    /// A chat line to everyone in the same room.
    Chat { text: String },
    /// Residents: take a ticket (番号札) for the department of this counter; stand near it.
    TakeTicket { counter: String },
    /// Residents: give up one of your tickets.
    CancelTicket { ticket: i64 },
    /// Staff: open this counter of your department; your avatar goes behind the desk.
    TakeDesk { counter: String },
    /// Staff: close your desk now.
    LeaveDesk,
    /// Staff: call your department's longest-waiting ticket to your desk.
    CallNext,
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketStatus {
    /// In the queue.
    Waiting,
    /// Called to a desk: go there.
    Called,
    /// At the desk, being served.
    Serving,
    Served,
    /// Called, and did not come in time.
    NoShow,
    Cancelled,
    /// Left over from an earlier day.
    Expired,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 7] = [
        TicketStatus::Waiting,
        TicketStatus::Called,
        TicketStatus::Serving,
        TicketStatus::Served,
        TicketStatus::NoShow,
        TicketStatus::Cancelled,
        TicketStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Waiting => "waiting",
            TicketStatus::Called => "called",
            TicketStatus::Serving => "serving",
            TicketStatus::Served => "served",
            TicketStatus::NoShow => "no_show",
            TicketStatus::Cancelled => "cancelled",
            TicketStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<TicketStatus> {
        TicketStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Still in the queue or at a desk.
    pub fn is_active(self) -> bool {
        matches!(self, TicketStatus::Waiting | TicketStatus::Called | TicketStatus::Serving)
    }
}

/// A resident's ticket as they see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketInfo {
    pub id: i64,
    pub department: String,
    /// As printed on the ticket: `A-012`.
    pub label: String,
    pub status: TicketStatus,
    /// 1 = next. Only while waiting.
    pub position: Option<u32>,
    /// Estimated wait in seconds from recent service times; `None` = unknown (no data yet).
    pub wait_s: Option<u32>,
    /// The counter it is called to, once called.
    pub counter: Option<String>,
    /// How many times it has been called again.
    pub recalls: u32,
}

/// The sign above a counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskSign {
    pub counter: String,
    pub open: bool,
    /// The clerk's display name while open.
    pub clerk: Option<String>,
    /// While open: the ticket called to this counter or being served at it (its label,
    /// `A-012`), for the queue display over the counter.
    pub serving: Option<String>,
}

/// How a resident's avatar looks, chosen on the join screen: one of [`Look::COLORS`] body
/// colours and one of [`Look::SHAPES`] shapes. Staff are drawn in the staff's own look whatever
/// they send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Look {
    pub color: u8,
    pub shape: u8,
}

impl Look {
    /// How many body colours there are.
    pub const COLORS: u8 = 8;
    /// How many shapes there are.
    pub const SHAPES: u8 = 3;
    /// The catalog's words for each shape: round, square, pointed.
    pub const SHAPE_WORDS: [&'static str; Look::SHAPES as usize] = ["look-round", "look-square", "look-pointed"];
    /// The body colours, sRGB (the join screens and the client draw them alike): red, orange,
    /// yellow, green, teal, blue, purple, pink.
    pub const PALETTE: [[u8; 3]; Look::COLORS as usize] = [
        [230, 92, 64],
        [245, 158, 46],
        [240, 222, 60],
        [89, 179, 89],
        [51, 166, 166],
        [115, 166, 242],
        [153, 115, 204],
        [230, 128, 179],
    ];

    /// Whether the server accepts it.
    pub fn is_valid(self) -> bool {
        self.color < Look::COLORS && self.shape < Look::SHAPES
    }

    /// A look for someone who chose none, stable for a name (so that two residents who skip the
    /// choice still look different, most of the time).
    pub fn for_name(name: &str) -> Look {
        let h = name.bytes().fold(2_166_136_261_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
        Look { color: (h % u32::from(Look::COLORS)) as u8, shape: ((h >> 8) % u32::from(Look::SHAPES)) as u8 }
    }
}

/// An avatar as first seen by a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvatarInfo {
    pub id: NetId,
    pub name: String,
    pub pos: QPos,
    /// A member of staff (the name is their account's display name).
    pub staff: bool,
    pub look: Look,
}

/// An avatar's position in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AvatarPos {
    pub id: NetId,
    pub pos: QPos,
}

/// What the server says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The handshake succeeded: this is you, here.
    Welcome { protocol: u16, you: NetId, room: u16, pos: QPos, tick_hz: u16, snapshot_hz: u16 },
    /// The connection is refused and will be closed. Nothing else follows.
    Refused { code: ErrorCode, message: String },
    /// One message was refused; the connection stays open.
    Error { code: ErrorCode, message: String },
    /// You are now in another room (through a door). Everything you saw is gone.
    EnteredRoom { room: u16, pos: QPos },
    /// Avatars that came into view.
    Appeared { avatars: Vec<AvatarInfo> },
    /// Avatars that left view (or left the office).
    Vanished { ids: Vec<NetId> },
    /// Positions that changed since the last snapshot; `ack` is the last input `seq` applied.
    Snapshot { tick: u32, ack: u32, avatars: Vec<AvatarPos> },
    /// A chat line in your room.
    Chat { from: NetId, name: String, text: String },
    /// One of your tickets changed (taken, moved up, called, recalled, ended), or you joined
    /// while holding it.
    Ticket(TicketInfo),
    /// A counter's sign changed; every sign is sent once after `Welcome`.
    Desk(DeskSign),
    /// The resident's consultation at the counter started (its id: join it over
    /// `/api/v1/consultations/{id}/join`) or ended (`None`). Sent to each of their clients
    /// connected then; a client that connects later asks `/api/v1/consultations/current`.
    Consultation { id: Option<i64> },
}

/// Stable error codes. Clients switch on these; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    ProtocolMismatch,
    Malformed,
    TooLarge,
    NotJoined,
    AlreadyJoined,
    NameInvalid,
    LocaleInvalid,
    ChatEmpty,
    ChatTooLong,
    ChatRateLimited,
    TokenReused,
    HelloTimeout,
    TooManyErrors,
    TargetInvalid,
    /// A staff message from a resident.
    StaffOnly,
    /// A resident message from staff.
    ResidentOnly,
    CounterUnknown,
    NotNearCounter,
    /// The department is closed; the message gives the next opening time.
    QueueClosed,
    /// You already hold an active ticket for that department.
    TicketExists,
    RateLimited,
    /// Another clerk holds that desk.
    DeskTaken,
    WrongDepartment,
    /// You hold no desk.
    NoDesk,
    NoTicket,
    /// The queue service could not be reached; try again.
    Unavailable,
    /// The office has more requests waiting than it takes at once; try again in a moment.
    Busy,
    /// Your session ended (signed out, or past its age limit): your waiting tickets were
    /// cancelled. Start again to take a new one.
    SessionEnded,
    /// The same session connected again (another tab or device): this older connection is
    /// closed. Do not reconnect by yourself.
    Replaced,
    /// Too many connections from your network address.
    ConnectionLimit,
    /// A look outside [`Look::COLORS`] and [`Look::SHAPES`].
    LookInvalid,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 31] = [
        ErrorCode::ProtocolMismatch,
        ErrorCode::Malformed,
        ErrorCode::TooLarge,
        ErrorCode::NotJoined,
        ErrorCode::AlreadyJoined,
        ErrorCode::NameInvalid,
        ErrorCode::LocaleInvalid,
        ErrorCode::ChatEmpty,
        ErrorCode::ChatTooLong,
        ErrorCode::ChatRateLimited,
        ErrorCode::TokenReused,
        ErrorCode::HelloTimeout,
        ErrorCode::TooManyErrors,
        ErrorCode::TargetInvalid,
        ErrorCode::StaffOnly,
        ErrorCode::ResidentOnly,
        ErrorCode::CounterUnknown,
        ErrorCode::NotNearCounter,
        ErrorCode::QueueClosed,
        ErrorCode::TicketExists,
        ErrorCode::RateLimited,
        ErrorCode::DeskTaken,
        ErrorCode::WrongDepartment,
        ErrorCode::NoDesk,
        ErrorCode::NoTicket,
        ErrorCode::Unavailable,
        ErrorCode::Busy,
        ErrorCode::SessionEnded,
        ErrorCode::Replaced,
        ErrorCode::ConnectionLimit,
        ErrorCode::LookInvalid,
    ];

    /// The code as a `snake_case` string, for logs, metrics and HTTP bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ProtocolMismatch => "protocol_mismatch",
            ErrorCode::Malformed => "malformed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::NameInvalid => "name_invalid",
            ErrorCode::LocaleInvalid => "locale_invalid",
            ErrorCode::ChatEmpty => "chat_empty",
            ErrorCode::ChatTooLong => "chat_too_long",
            ErrorCode::ChatRateLimited => "chat_rate_limited",
            ErrorCode::TokenReused => "token_reused",
            ErrorCode::HelloTimeout => "hello_timeout",
            ErrorCode::TooManyErrors => "too_many_errors",
            ErrorCode::TargetInvalid => "target_invalid",
            ErrorCode::StaffOnly => "staff_only",
            ErrorCode::ResidentOnly => "resident_only",
            ErrorCode::CounterUnknown => "counter_unknown",
            ErrorCode::NotNearCounter => "not_near_counter",
            ErrorCode::QueueClosed => "queue_closed",
            ErrorCode::TicketExists => "ticket_exists",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::DeskTaken => "desk_taken",
            ErrorCode::WrongDepartment => "wrong_department",
            ErrorCode::NoDesk => "no_desk",
            ErrorCode::NoTicket => "no_ticket",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::Replaced => "replaced",
            ErrorCode::ConnectionLimit => "connection_limit",
            ErrorCode::LookInvalid => "look_invalid",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes could not be read as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {0} bytes exceeds the limit of {MAX_CLIENT_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Encodes any protocol message.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serializing these plain enums into a Vec cannot fail.
    postcard::to_allocvec(msg).unwrap_or_default()
}

/// Decodes a client message, refusing oversized input before reading it.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMessage, DecodeError> {
    if bytes.len() > MAX_CLIENT_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let (msg, rest) = postcard::take_from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(format!("{} trailing bytes", rest.len())));
    }
    Ok(msg)
}

/// Decodes a server message.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMessage, DecodeError> {
    postcard::from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// If `bytes` start like a `Hello` of any protocol version, that version.
///
/// Used when a message does not decode: a client of another version still gets told which
/// versions met, rather than "malformed".
pub fn peek_hello_version(bytes: &[u8]) -> Option<u16> {
    #[derive(Deserialize)]
    enum Head {
        Hello { protocol: u16 },
    }
    match postcard::take_from_bytes::<Head>(bytes) {
        Ok((Head::Hello { protocol }, _)) => Some(protocol),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_round_trip() {
        let msgs = [
            ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                name: "山田 花子".into(),
                locale: "ja".into(),
                look: Look { color: 3, shape: 2 },
            },
            ClientMessage::Input { seq: 7, vel: QVel { x: -160, y: 3 }, run: true },
            ClientMessage::MoveTo { target: QPos { x: 100, y: -5 }, run: false },
            ClientMessage::Chat { text: "こんにちは".into() },
            ClientMessage::TakeTicket { counter: "a1".into() },
            ClientMessage::CancelTicket { ticket: 42 },
            ClientMessage::TakeDesk { counter: "b1".into() },
            ClientMessage::LeaveDesk,
            ClientMessage::CallNext,
        ];
        for m in msgs {
            assert_eq!(decode_client(&encode(&m)).unwrap(), m);
        }
    }

    #[test]
    fn a_look_for_a_name_is_valid_and_names_mostly_differ() {
        let names = ["花子", "太郎", "Alex", "Minh", "지민", "李华", "次郎", "Ana"];
        let looks: std::collections::HashSet<Look> = names.iter().map(|n| Look::for_name(n)).collect();
        assert!(looks.iter().all(|l| l.is_valid()), "{looks:?}");
        assert!(looks.len() >= 5, "{looks:?}");
        assert_eq!(Look::for_name("花子"), Look::for_name("花子"));
        assert!(!Look { color: Look::COLORS, shape: 0 }.is_valid());
        assert!(!Look { color: 0, shape: Look::SHAPES }.is_valid());
    }

    #[test]
    fn hello_version_is_readable_whatever_follows() {
        let hello = encode(&ClientMessage::Hello {
            protocol: 999,
            name: "x".into(),
            locale: "en".into(),
            look: Look::default(),
        });
        assert_eq!(peek_hello_version(&hello), Some(999));
        // A future Hello with fields we do not know still yields its version.
        assert_eq!(peek_hello_version(&[0, 0xE7, 0x07, 0xFF, 0xFF]), Some(999));
        assert_eq!(peek_hello_version(&encode(&ClientMessage::Chat { text: "x".into() })), None);
    }

    #[test]
    fn garbage_and_oversize_are_errors_not_panics() {
        assert!(matches!(decode_client(&[0xFF; 3]), Err(DecodeError::Malformed(_))));
        assert!(matches!(decode_client(&[]), Err(DecodeError::Malformed(_))));
        assert!(matches!(decode_client(&vec![0; MAX_CLIENT_MESSAGE_BYTES + 1]), Err(DecodeError::TooLarge(_))));
        let mut chat = encode(&ClientMessage::Chat { text: "hello".into() });
        chat.truncate(chat.len() - 2);
        assert!(matches!(decode_client(&chat), Err(DecodeError::Malformed(_))));
        chat.extend_from_slice(&[b'l', b'o', 0]);
        assert!(matches!(decode_client(&chat), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn a_snapshot_entry_is_small() {
        let s = ServerMessage::Snapshot {
            tick: 1000,
            ack: 1000,
            avatars: vec![AvatarPos { id: 300, pos: QPos { x: 2500, y: -1200 } }; 10],
        };
        // 10 entries of id (2) + x (2) + y (2): well under 8 bytes each.
        assert!(encode(&s).len() <= 10 * 7 + 8, "{}", encode(&s).len());
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    /// A cheap deterministic fuzz: 20,000 pseudo-random messages of every length (past the size
    /// limit too) never panic the decoders, and whatever decodes survives a round trip.
    #[test]
    fn random_input_never_panics_the_decoder() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut decoded = 0;
        for i in 0..20_000 {
            let len = match i % 3 {
                0 => (next() % 10) as usize,
                1 => (next() % 64) as usize,
                _ => 300 + (next() % 900) as usize,
            };
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(b) = bytes.first_mut() {
                *b %= 10; // mostly valid variant tags, so decoding goes deep
            }
            if let Ok(msg) = decode_client(&bytes) {
                decoded += 1;
                assert_eq!(decode_client(&encode(&msg)), Ok(msg));
            }
            let _ = decode_server(&bytes);
            let _ = peek_hello_version(&bytes);
        }
        assert!(decoded > 0, "the fuzz reached valid messages too");
    }
}
