//! Applications as records: the procedure catalog (forms, fields, validation), applications
//! with their reference numbers and statuses, and the append-only, hash-chained audit trail.
//!
//! Uses `db` only.

pub mod applications;
pub mod audit;
pub mod catalog;
pub mod checkpoint;
