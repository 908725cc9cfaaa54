//! One-time codes that carry a session from one place to another without the token appearing in
//! a URL: a random code, valid once for a minute.
//! - Page links open the consultation page in a browser for a session the caller already has
//!   (the 3D browser client shows the page over its canvas, the desktop client opens it in the
//!   system browser): opening one sets the text mode's session cookie.
//! - Sign-in handoffs give the 3D office's page the session a sign-in just opened: the callback
//!   sends the browser to `/play#signed-in=<code>`, and the page's script trades the code for
//!   the token (`POST /api/v1/sessions/handoff`). For the desktop client the callback sends the
//!   browser to the app's loopback address instead (RFC 8252), and the code is bound to the
//!   app's challenge (S256, as PKCE): only the app that began the sign-in, which holds the
//!   verifier, can trade it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a link works.
pub const LINK_TTL: Duration = Duration::from_secs(60);
/// Links waiting to be opened, office-wide; the oldest goes when full.
const MAX_LINKS: usize = 4096;

/// A code's session, until when it works, and the challenge its trader must answer, if bound.
type Entry = (String, Instant, Option<String>);

/// The codes not yet used.
#[derive(Default)]
pub struct OneTimeCodes(Mutex<HashMap<String, Entry>>);

impl OneTimeCodes {
    /// A new code for `session_token`.
    pub fn issue(&self, session_token: &str) -> String {
        self.insert(session_token, None)
    }

    /// A new code for `session_token` that only the holder of `challenge`'s verifier can trade.
    pub fn issue_bound(&self, session_token: &str, challenge: &str) -> String {
        self.insert(session_token, Some(challenge.to_string()))
    }

    fn insert(&self, session_token: &str, challenge: Option<String>) -> String {
        let code = hex::encode(rand::random::<[u8; 24]>());
        let now = Instant::now();
        let mut links = self.0.lock().unwrap_or_else(|e| e.into_inner());
        links.retain(|_, (_, until, _)| *until > now);
        if links.len() >= MAX_LINKS
            && let Some(oldest) = links.iter().min_by_key(|(_, (_, until, _))| *until).map(|(k, _)| k.clone())
        {
            links.remove(&oldest);
        }
        links.insert(code.clone(), (session_token.to_string(), now + LINK_TTL, challenge));
        code
    }

    /// The session an unbound code would give, without using it up (to ask first whether to
    /// replace a browser's own session with it).
    pub fn peek(&self, code: &str) -> Option<String> {
        let links = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (token, until, challenge) = links.get(code)?;
        (challenge.is_none() && *until > Instant::now()).then(|| token.clone())
    }

    /// The session of an unbound code, once.
    pub fn redeem(&self, code: &str) -> Option<String> {
        self.redeem_with(code, None)
    }

    /// The session of a code, once: a bound code wants the verifier of its challenge
    /// (`BASE64URL(SHA-256(verifier)) == challenge`), an unbound one none. Any try uses the code
    /// up, so a verifier cannot be guessed at.
    pub fn redeem_with(&self, code: &str, verifier: Option<&str>) -> Option<String> {
        let mut links = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (token, until, challenge) = links.remove(code)?;
        let answered = match (challenge, verifier) {
            (None, None) => true,
            (Some(c), Some(v)) => s256(v) == c,
            _ => false,
        };
        (answered && until > Instant::now()).then_some(token)
    }
}

/// PKCE's S256: the unpadded base64url of the verifier's SHA-256.
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
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
        assert_eq!(links.peek(&code).as_deref(), Some("token-a"), "looking does not use it");
        assert_eq!(links.redeem(&code).as_deref(), Some("token-a"));
        assert_eq!(links.redeem(&code), None, "a second opening finds nothing");
    }

    #[test]
    fn a_bound_code_wants_its_verifier_and_one_try_uses_it_up() {
        let codes = OneTimeCodes::default();
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let code = codes.issue_bound("token-d", &s256(verifier));
        assert_eq!(codes.redeem(&code), None, "without the verifier: refused, and the code is gone");
        assert_eq!(codes.redeem_with(&code, Some(verifier)), None);
        let code = codes.issue_bound("token-d", &s256(verifier));
        assert_eq!(codes.redeem_with(&code, Some("wrong")), None);
        let code = codes.issue_bound("token-d", &s256(verifier));
        assert_eq!(codes.redeem_with(&code, Some(verifier)).as_deref(), Some("token-d"));
        let plain = codes.issue("token-e");
        assert_eq!(codes.redeem_with(&plain, Some(verifier)), None, "an unbound code wants no verifier");
    }
}
