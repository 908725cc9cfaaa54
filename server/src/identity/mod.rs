//! Who is who: resident and staff sessions, staff accounts (argon2id passwords, lockout,
//! roles, what admins change on accounts), and the principal a world connection belongs to.
//!
//! Uses `db` only.

pub mod accounts;
pub mod principal;
pub mod sessions;
pub mod staff;
