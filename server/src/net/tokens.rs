//! Admission by netcode connect token: issued over HTTP to an authenticated session,
//! short-lived and single-use.
//!
//! Netcode itself refuses expired tokens and tokens replayed from another address. Single use
//! is ours: each token carries a random nonce in its (encrypted) user data; the HTTP side tells
//! the world about every nonce it issues ([`TokenIssuer`]), and the world's [`TokenLedger`]
//! accepts each nonce once.

use crate::identity::principal::Entrant;
use crate::metrics::Metrics;
use bevy::prelude::*;
use bevy_renet::RenetReceive;
use madoguchi_shared::protocol::NETCODE_PROTOCOL_ID;
use renetcode::{ConnectToken, NETCODE_USER_DATA_BYTES};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Random bytes that make a token single-use.
pub type Nonce = [u8; 16];

/// What the world needs to know about an issued token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub nonce: Nonce,
    pub entrant: Entrant,
    pub expires_at: Instant,
}

/// A token handed to a client.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The serialized netcode connect token.
    pub bytes: Vec<u8>,
    pub client_id: u64,
    pub server_addr: SocketAddr,
    pub expires_in: Duration,
}

/// Reads the nonce back out of a connected client's user data.
pub fn parse_user_data(data: &[u8; NETCODE_USER_DATA_BYTES]) -> Nonce {
    let mut nonce = [0; 16];
    nonce.copy_from_slice(&data[..16]);
    nonce
}

/// Issues connect tokens; lives on the HTTP side.
pub struct TokenIssuer {
    private_key: [u8; 32],
    public_addr: SocketAddr,
    ttl: Duration,
    client_timeout_secs: i32,
    issued: UnboundedSender<IssuedToken>,
    metrics: Arc<Metrics>,
}

/// Why no token could be issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the world is not running")]
    WorldGone,
    #[error("token generation failed: {0}")]
    Generation(String),
}

impl TokenIssuer {
    pub fn new(
        private_key: [u8; 32],
        public_addr: SocketAddr,
        ttl: Duration,
        client_timeout_secs: i32,
        issued: UnboundedSender<IssuedToken>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { private_key, public_addr, ttl, client_timeout_secs, issued, metrics }
    }

    /// A fresh token for `entrant`. The world learns its nonce before the caller can use it.
    pub fn issue(&self, entrant: Entrant) -> Result<TokenGrant, TokenError> {
        let nonce: Nonce = rand::random();
        // Client ids are random so that one client cannot guess and collide with another's.
        // The top bit is left clear: WebSocket clients' ids have it set.
        let client_id: u64 = (rand::random::<u64>() & !(1 << 63)).max(1);
        let mut user_data = [0u8; NETCODE_USER_DATA_BYTES];
        user_data[..16].copy_from_slice(&nonce);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let token = ConnectToken::generate(
            now,
            NETCODE_PROTOCOL_ID,
            self.ttl.as_secs(),
            client_id,
            self.client_timeout_secs,
            vec![self.public_addr],
            Some(&user_data),
            &self.private_key,
        )
        .map_err(|e| TokenError::Generation(e.to_string()))?;
        let mut bytes = Vec::with_capacity(2048);
        token.write(&mut bytes).map_err(|e| TokenError::Generation(e.to_string()))?;
        self.issued
            .send(IssuedToken { nonce, entrant, expires_at: Instant::now() + self.ttl })
            .map_err(|_| TokenError::WorldGone)?;
        self.metrics.tokens_issued_total.inc();
        Ok(TokenGrant { bytes, client_id, server_addr: self.public_addr, expires_in: self.ttl })
    }
}

/// How long past its expiry a nonce is remembered (netcode refuses the token itself by then).
const NONCE_GRACE: Duration = Duration::from_secs(60);

/// Nonces of issued, not yet used connect tokens, fed by the HTTP side.
#[derive(Resource)]
pub struct TokenLedger {
    issued: UnboundedReceiver<IssuedToken>,
    live: HashMap<Nonce, IssuedToken>,
    next_sweep: Instant,
}

impl TokenLedger {
    pub fn new(issued: UnboundedReceiver<IssuedToken>) -> Self {
        Self { issued, live: HashMap::new(), next_sweep: Instant::now() }
    }

    /// Uses up a nonce. `None` if it was never issued here, already used, or long expired.
    pub fn consume(&mut self, nonce: &Nonce) -> Option<IssuedToken> {
        self.live.remove(nonce)
    }
}

/// Moves newly issued token nonces into the ledger; runs before the transport reads packets so a
/// token is always known by the time its connection completes.
fn admit_tokens(mut ledger: ResMut<TokenLedger>) {
    while let Ok(t) = ledger.issued.try_recv() {
        ledger.live.insert(t.nonce, t);
    }
    // Unused nonces are forgotten once netcode would refuse their tokens anyway; a sweep a
    // second keeps this off the tick (issuing is rate-limited per session on the HTTP side).
    let now = Instant::now();
    if now >= ledger.next_sweep {
        ledger.live.retain(|_, t| t.expires_at + NONCE_GRACE > now);
        ledger.next_sweep = now + Duration::from_secs(1);
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(PreUpdate, admit_tokens.before(RenetReceive));
}
