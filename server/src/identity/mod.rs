//! Who is who: resident and staff sessions, staff accounts (argon2id passwords, lockout,
//! roles, what admins change on accounts), residents signing in with OpenID Connect (`oidc`),
//! the principal a world connection belongs to, and moving a guest's records to the resident
//! they sign in as (`merge`).
//!
//! Publishes [`crate::events::OfficeEvent::ResidentMerged`] (after a merge commits) and the
//! ends of sessions (`sessions::SessionEnds`); subscribes to nothing.
//!
//! Uses `db`, `events`, and `records::audit` (a moved application's audit event).
//!
//! May use: `records`.

pub mod accounts;
mod merge;
pub mod oidc;
pub mod principal;
pub mod sessions;
pub mod settings;
pub mod staff;

pub use principal::Clerk;
pub use settings::IdentityFlags;
