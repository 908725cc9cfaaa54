//! One-time codes that carry a session from one place to another without the token appearing in
//! a URL: a random code, valid once for a minute.
//! - Page links open the consultation page in a browser for a session the caller already has
//!   (the 3D browser client shows the page over its canvas, the desktop client opens it in the
//!   system browser): opening one sets the text mode's session cookie.
//! - Sign-in handoffs give the 3D office's page the session a sign-in just opened: the callback
//!   sends the browser to `/play#signed-in=<code>`, and the page's script trades the code for
//!   the token (`POST /api/v1/sessions/handoff`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a link works.
pub const LINK_TTL: Duration = Duration::from_secs(60);
/// Links waiting to be opened, office-wide; the oldest goes when full.
const MAX_LINKS: usize = 4096;

/// The codes not yet used.
#[derive(Default)]
pub struct OneTimeCodes(Mutex<HashMap<String, (String, Instant)>>);

impl OneTimeCodes {
    /// A new code for `session_token`.
    pub fn issue(&self, session_token: &str) -> String {
        let code = hex::encode(rand::random::<[u8; 24]>());
        let now = Instant::now();
        let mut links = self.0.lock().unwrap_or_else(|e| e.into_inner());
        links.retain(|_, (_, until)| *until > now);
        if links.len() >= MAX_LINKS
            && let Some(oldest) = links.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| k.clone())
        {
            links.remove(&oldest);
        }
        links.insert(code.clone(), (session_token.to_string(), now + LINK_TTL));
        code
    }

    /// The session of a code, once.
    pub fn redeem(&self, code: &str) -> Option<String> {
        let mut links = self.0.lock().unwrap_or_else(|e| e.into_inner());
        links.remove(code).filter(|(_, until)| *until > Instant::now()).map(|(token, _)| token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_once() {
        let links = OneTimeCodes::default();
        let code = links.issue("token-a");
        assert_eq!(code.len(), 48);
        assert_eq!(links.redeem("nonsense"), None);
        assert_eq!(links.redeem(&code).as_deref(), Some("token-a"));
        assert_eq!(links.redeem(&code), None, "a second opening finds nothing");
    }
}
