//! Applications as records: the procedure catalog (forms, fields, validation), applications
//! with their reference numbers and statuses, and the append-only, hash-chained audit trail.
//!
//! Publishes [`crate::events::OfficeEvent::Application`] (through [`Records`], after every
//! change of an application); subscribes to nothing.
//!
//! Uses `db` and `events` only.
//!
//! May use: nothing.

pub mod applications;
pub mod audit;
pub mod catalog;
pub mod checkpoint;
mod service;
mod settings;

pub use service::Records;
pub use settings::RecordsFlags;
