//! The ICE servers handed to participants: STUN as configured, and TURN with credentials that
//! expire (the TURN REST API scheme that coturn checks with `use-auth-secret`:
//! `username = "<expiry unix seconds>:<label>"`, `credential = base64(HMAC-SHA1(secret,
//! username))`). Such a credential cannot be revoked, so it is short-lived (`--turn-ttl-secs`,
//! minutes) and made for one participant of one consultation (the label names both, for the
//! TURN server's log); the signalling connection hands out fresh ones while the consultation
//! runs, and nothing after. The shared secret never leaves the server.

use super::model::IceSettings;
use base64::Engine;
use hmac::{Hmac, Mac};
use madoguchi_shared::consult::IceServer;

/// Whether TURN is configured (so credentials need renewing).
pub fn has_turn(s: &IceSettings) -> bool {
    !s.turn_urls.is_empty() && s.turn_secret.is_some()
}

/// The ICE servers for a participant at `now_s` (Unix seconds); `label` goes into the TURN
/// username (`madoguchi-c12-resident`, say).
pub fn ice_servers(s: &IceSettings, now_s: i64, label: &str) -> Vec<IceServer> {
    let mut out = Vec::new();
    if !s.stun_urls.is_empty() {
        out.push(IceServer { urls: s.stun_urls.clone(), username: None, credential: None });
    }
    if let (false, Some(secret)) = (s.turn_urls.is_empty(), &s.turn_secret) {
        let expiry = now_s + s.turn_ttl.as_secs() as i64;
        let username = format!("{expiry}:{label}");
        out.push(IceServer {
            urls: s.turn_urls.clone(),
            credential: Some(turn_credential(secret, &username)),
            username: Some(username),
        });
    }
    out
}

/// base64(HMAC-SHA1(secret, username)).
pub fn turn_credential(secret: &str, username: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_credential_is_coturns() {
        // As `printf 1234567890:madoguchi | openssl dgst -sha1 -hmac north -binary | base64`.
        assert_eq!(turn_credential("north", "1234567890:madoguchi"), "Xin3dK44aGasEhmvq2xTDsWtImo=");
    }

    #[test]
    fn stun_alone_and_turn_with_an_expiry() {
        let mut s = IceSettings { stun_urls: vec!["stun:stun.example.jp:3478".into()], ..Default::default() };
        assert_eq!(ice_servers(&s, 0, "madoguchi").len(), 1);
        assert!(ice_servers(&s, 0, "madoguchi")[0].username.is_none());
        s.turn_urls = vec!["turn:turn.example.jp:3478?transport=udp".into()];
        assert_eq!(ice_servers(&s, 0, "madoguchi").len(), 1, "TURN without a secret is left out");
        s.turn_secret = Some("north".into());
        s.turn_ttl = Duration::from_secs(600);
        let servers = ice_servers(&s, 1_000, "madoguchi-c7-resident");
        assert_eq!(servers[1].username.as_deref(), Some("1600:madoguchi-c7-resident"));
        assert_eq!(servers[1].credential.as_deref().map(str::len), Some(28));
    }
}
