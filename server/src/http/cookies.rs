//! The browser sessions' cookies and their CSRF tokens, for the pages (text mode, staff
//! console) and for the staff API called from the console's scripts.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// The staff console's session cookie.
pub const STAFF_COOKIE: &str = "madoguchi_staff";

/// The value of cookie `name`, if the request carries a plausible one.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name && !v.is_empty() && v.len() <= 128).then(|| v.to_string())
    })
}

/// The CSRF token of a session: derived from its token, so only its pages know it.
pub fn csrf_for(token: &str) -> String {
    hex::encode(&Sha256::digest(format!("madoguchi-csrf:{token}").as_bytes())[..16])
}

/// Whether `given` is the session's CSRF token, compared in constant time.
pub fn csrf_ok(token: &str, given: &str) -> bool {
    let expected = csrf_for(token);
    expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
}

/// The console's session token for an API call from its scripts: the cookie, vouched for by the
/// page's CSRF token in `x-csrf-token`.
pub fn staff_api_token(headers: &HeaderMap) -> Option<String> {
    let token = cookie(headers, STAFF_COOKIE)?;
    let given = headers.get("x-csrf-token")?.to_str().ok()?;
    csrf_ok(&token, given).then_some(token)
}
