//! Who is who: resident and staff sessions, staff accounts (argon2id passwords, lockout,
//! roles, what admins change on accounts), residents signing in with OpenID Connect (`oidc`),
//! and the principal a world connection belongs to.
//!
//! Uses `db` only.

pub mod accounts;
pub mod oidc;
pub mod principal;
pub mod sessions;
pub mod staff;
