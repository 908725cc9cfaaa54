//! The Madoguchi protocol and the rules both ends must agree on.
//!
//! Server and clients link this crate, so a message, a limit, the movement rule or an HTTP API
//! body (`api`) exists once.
//! Nothing here depends on bevy, sockets or a clock: everything is a plain function or type that
//! builds for native and `wasm32-unknown-unknown` alike. The office's words (`i18n`) live here
//! too, so the client and the server's pages speak from one catalog.

pub mod api;
pub mod bucket;
#[cfg(feature = "media")]
pub mod codecs;
pub mod consult;
pub mod hours;
pub mod i18n;
#[cfg(feature = "media")]
pub mod keyframes;
pub mod layout;
pub mod limits;
pub mod movement;
pub mod path;
pub mod protocol;
pub mod quant;
pub mod text;

pub use protocol::{ClientMessage, ErrorCode, PROTOCOL_VERSION, ServerMessage};
