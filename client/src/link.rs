//! What a transport is, for the connection code (`net`) and the platform code that provides
//! one (`platform`: netcode over UDP on the desktop, a WebSocket in the browser).

use renet::RenetClient;
use std::time::Duration;

/// A link state as a transport sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    Connecting,
    Open,
    Closed(String),
}

/// Moves renet packets between the client and the server.
pub trait Transport {
    /// Feeds what arrived into `renet`, and sends what `renet` has queued.
    fn pump(&mut self, renet: &mut RenetClient, dt: Duration);
    fn state(&self) -> LinkState;
    /// Closes the link (politely, if it can).
    fn close(&mut self);
}

/// What an HTTP round trip produced: a ready transport factory argument.
#[derive(Debug, Clone)]
pub enum Grant {
    /// A netcode connect token (desktop).
    Netcode { token: Vec<u8> },
    /// A WebSocket URL with its single-use ticket (browser).
    WebSocket { url: String },
}
