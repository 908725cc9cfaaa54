//! Limits the server enforces and clients respect. Changing one is a protocol change only when
//! it makes a previously valid message invalid; bump [`crate::PROTOCOL_VERSION`] then.

use std::time::Duration;

/// Walking speed cap, metres per second.
pub const WALK_SPEED: f32 = 1.6;
/// Running speed cap, metres per second (input with `run` set).
pub const RUN_SPEED: f32 = 4.0;
/// Half the side of the square an avatar occupies for collision, metres.
pub const AVATAR_RADIUS: f32 = 0.3;
/// An input not renewed within this time stops the avatar, so a client that stalls or goes away
/// does not walk it on. Long enough that a device drawing one frame a second (its inputs go out
/// once a frame) walks smoothly; clients send a stop three times, so losing one costs nothing.
pub const INPUT_TTL: Duration = Duration::from_millis(1000);

/// How near a counter's resident spot a resident must stand to take a ticket there, metres.
pub const TAKE_RANGE: f32 = 3.0;

/// Longest display name, in characters after trimming.
pub const NAME_MAX_CHARS: usize = 32;
/// Longest locale tag (BCP 47), in bytes.
pub const LOCALE_MAX_BYTES: usize = 16;
/// Longest chat message, in characters after control characters are stripped.
pub const CHAT_MAX_CHARS: usize = 200;
/// Chat rate limit: a bucket of this many messages...
pub const CHAT_BURST: u32 = 5;
/// ...refilled by one message every this long.
pub const CHAT_REFILL: Duration = Duration::from_secs(2);

/// Counter requests (take or cancel a ticket, take or leave a desk, call the next number: each
/// touches the database): a bucket of this many per avatar...
pub const COUNTER_BURST: u32 = 10;
/// ...refilled by one request every this long. A refusal counts as a strike.
pub const COUNTER_REFILL: Duration = Duration::from_millis(500);

/// Largest encoded client message the server decodes; anything larger is refused unread.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 1024;
/// A client that sends this many refused or malformed messages in a row is disconnected.
pub const MAX_STRIKES: u32 = 20;
/// A client must say `Hello` within this time after its connection opens.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
