//! Queues: tickets (番号札), desks, and calling the next number.
//!
//! The database arbitrates: ticket numbers come from a per-department, per-day counter row; a
//! partial unique index allows one active ticket per resident and department; "call next" is a
//! single `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)` on PostgreSQL (a write
//! transaction on SQLite), so two clerks calling at once never get the same ticket, and a
//! restart loses nothing. Desks (who staffs which counter) are presence, kept in memory.
//!
//! Every change is published: the world forwards each resident's ticket to their client, and
//! every change of a department's tickets is an office event ([`crate::events::OfficeEvent::Tickets`]),
//! as is every desk that opens or closes (`Desk`).
//!
//! Publishes `Tickets` and `Desk`; subscribes to `ResidentMerged` (the departments whose tickets changed
//! hands tell everyone again). Follows `identity::sessions::SessionEnds` too: a staff account's
//! ended sessions close its desk, and expired sessions leave tickets nobody can come for, which
//! `sweep_orphans` cancels.
//!
//! Files: `service` (the service value and its locks), `store` (the SQL), `desk_rules` (the desk
//! rules, unit-tested), `desks` (desk operations), `tickets` (a resident's tickets, transfers), `calling` (call
//! next, recall, no-show, done), `notices` (positions and waits sent out), `estimate` (the wait
//! estimate), `no_show` (the clock: the no-show timer, stale desks, old tickets), `requests`
//! (what the world asks, in bounded per-client lanes) and `model` (the vocabulary). The messages
//! it exchanges with the world are the world's (`world::link`).
//!
//! Uses `db`, `events`, `world::link` (the world's requests and notices), `records::audit` (the
//! actor of a ticket event), `identity` (the clerk; a staff account whose sessions end loses its
//! desk), `ratelimit` and `metrics`.
//!
//! May use: `identity`, `records`, `world`.

mod calling;
mod desk_rules;
mod desks;
mod estimate;
mod model;
mod no_show;
mod notices;
mod requests;
mod service;
mod settings;
mod store;
mod tickets;

pub use model::{DepartmentQueue, DeskView, QueueError, QueueSettings, StaffTicket, TicketBody, local_rfc3339};
pub use requests::REQUEST_QUEUE;
pub use service::Queues;
pub use settings::QueueFlags;
