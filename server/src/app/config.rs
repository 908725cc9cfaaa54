//! Process configuration: the subcommands and the flags; every flag has an environment
//! variable, and `--help` lists both. Each feature declares its own flags (`NetFlags`, `HttpFlags`,
//! …); this file gathers them.

use crate::consult::ConsultFlags;
use crate::http::HttpFlags;
use crate::identity::IdentityFlags;
use crate::net::NetFlags;
use crate::queue::QueueFlags;
use crate::records::RecordsFlags;
use crate::world::WorldFlags;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The Madoguchi ward office server: the authoritative world (rooms, avatars, chat) over
/// netcode/UDP, and HTTP (health, metrics, connect tokens) in the same process.
#[derive(Debug, Clone, Parser)]
#[command(name = "madoguchi-server", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeConfig,
    #[command(flatten)]
    pub db: DbConfig,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the office (the default when no command is given).
    Serve,
    /// Load and validate the office layouts and procedure catalog, print a summary, and exit.
    CheckAssets,
    /// Apply database migrations and load the departments, then exit.
    Migrate,
    /// Manage staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Check the records' audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member. The password is read from standard input (one line, 12+ characters).
    Add {
        /// Login name: 3-64 of a-z, 0-9, '.', '_' and '-'.
        #[arg(long)]
        login: String,
        /// Department id from office.toml, e.g. resident_registration.
        #[arg(long)]
        department: String,
        /// clerk, supervisor or admin; repeat for several.
        #[arg(long = "role", default_value = "clerk")]
        roles: Vec<String>,
        /// Name shown to residents (default: the login).
        #[arg(long, default_value = "")]
        display_name: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Walk the office-wide chain and every application's chain, checking every event; exit 1
    /// and name the first broken link if any.
    Verify {
        /// Also check a file of signed checkpoints (see --audit-key-file): every signature, and
        /// that nothing up to the newest checkpoint changed.
        #[arg(long)]
        since_checkpoint: Option<PathBuf>,
        /// The checkpoints' public key, 64 hex digits (`audit keygen` prints it). Default: the
        /// public half of --audit-key-file.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Make a new checkpoint signing key in a new file (owner-only); prints its public key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where records are kept.
#[derive(Debug, Clone, clap::Args)]
pub struct DbConfig {
    /// Database URL: postgres://user:pass@host/db for PostgreSQL, or sqlite://path. Default: a
    /// SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the default SQLite database.
    #[arg(long, env = "MADOGUCHI_DATA_DIR", global = true, default_value = "data")]
    pub data_dir: PathBuf,
}

/// How to run the office: where its assets are, and each feature's flags (grouped under their
/// own heading in `--help`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Directory holding office.toml and layouts/*.toml.
    #[arg(long, env = "MADOGUCHI_ASSETS", global = true, default_value = "assets")]
    pub assets: PathBuf,

    #[command(flatten)]
    pub net: NetFlags,
    #[command(flatten)]
    pub http: HttpFlags,
    #[command(flatten)]
    pub world: WorldFlags,
    #[command(flatten)]
    pub identity: IdentityFlags,
    #[command(flatten)]
    pub queue: QueueFlags,
    #[command(flatten)]
    pub records: RecordsFlags,
    #[command(flatten)]
    pub consult: ConsultFlags,
}
