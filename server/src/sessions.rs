//! Resident guest sessions, held in memory on the HTTP side.
//!
//! A session token is 128 random bits from the OS CSPRNG, shown to the client once and stored
//! only as its SHA-256. Sessions expire when idle and at an absolute age. (The records issue
//! moves these into the database; the token format and the API stay.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tokens::SessionId;

/// Idle time after which a session ends.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(30 * 60);
/// Age at which a session ends however active it is.
pub const ABSOLUTE_EXPIRY: Duration = Duration::from_secs(12 * 60 * 60);
/// Most live sessions kept; beyond this the oldest idle ones are dropped first.
const MAX_SESSIONS: usize = 100_000;

#[derive(Debug, Clone)]
struct Session {
    id: SessionId,
    created: Instant,
    last_seen: Instant,
}

/// The guest sessions of this process.
#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Starts a session; returns its id and the token to give the client.
    pub fn create(&self) -> (SessionId, String) {
        let secret: [u8; 16] = rand::random();
        let token = URL_SAFE_NO_PAD.encode(secret);
        let id: SessionId = rand::random();
        let now = Instant::now();
        let mut map = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| {
                now.duration_since(s.last_seen) < IDLE_EXPIRY && now.duration_since(s.created) < ABSOLUTE_EXPIRY
            });
        }
        map.insert(hash(&token), Session { id, created: now, last_seen: now });
        (id, token)
    }

    /// The session a token belongs to, if it is live; touching it extends its idle expiry.
    pub fn resume(&self, token: &str) -> Option<SessionId> {
        let now = Instant::now();
        let key = hash(token);
        let mut map = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.get_mut(&key)?;
        if now.duration_since(s.last_seen) >= IDLE_EXPIRY || now.duration_since(s.created) >= ABSOLUTE_EXPIRY {
            map.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some(s.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_resumes_its_session_and_nothing_else_does() {
        let s = Sessions::default();
        let (id, token) = s.create();
        assert_eq!(s.resume(&token), Some(id));
        assert_eq!(s.resume("not-a-token"), None);
        let (id2, token2) = s.create();
        assert_ne!(id, id2);
        assert_ne!(token, token2);
        assert!(token.len() >= 22, "128 bits in base64 is 22 characters");
    }
}
