//! The records' flags: how fast a resident may write, and the audit trail's signed checkpoints.

use std::path::PathBuf;

/// Applications and their audit trail.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Records")]
pub struct RecordsFlags {
    /// Writes one resident may make to their applications per minute (drafts, edits,
    /// submissions, withdrawals; also the burst). Every edit is kept in the audit trail for
    /// good, so this bounds how fast one session can grow the database. 0 turns it off.
    #[arg(long, env = "MADOGUCHI_RESIDENT_WRITES_PER_MINUTE", default_value_t = 30)]
    pub resident_writes_per_minute: u32,

    /// File holding the Ed25519 key (64 hex digits; `audit keygen` makes one) that signs audit
    /// checkpoints. Keep it outside the database and its backups. Without it, no checkpoints.
    #[arg(long, env = "MADOGUCHI_AUDIT_KEY_FILE", global = true)]
    pub audit_key_file: Option<PathBuf>,

    /// Where signed audit checkpoints are appended (one JSON line each). Default:
    /// audit-checkpoints.jsonl in the data directory. Ship it off the machine.
    #[arg(long, env = "MADOGUCHI_AUDIT_CHECKPOINT_FILE")]
    pub audit_checkpoint_file: Option<PathBuf>,

    /// Seconds between audit checkpoints (one is written only when the chain has grown).
    #[arg(long, env = "MADOGUCHI_AUDIT_CHECKPOINT_SECS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_checkpoint_secs: u32,
}
