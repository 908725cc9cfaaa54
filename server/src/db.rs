//! The records database: a SQLite file by default, PostgreSQL when `DATABASE_URL` says so.
//!
//! One `AnyPool` serves both; SQL is written once in the dialect both accept (`$1` parameters,
//! `RETURNING`, `ON CONFLICT`), and the few differences live here: how a write transaction
//! starts ([`Db::begin_write`]) and row locks ([`Dialects`], written with [`for_update!`] and
//! [`skip_locked!`]). Every statement is a constant (one per operation); none is assembled at run
//! time. Migrations are embedded per backend and applied at start.

use sqlx::SqlStr;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Transaction};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Why the database could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported DATABASE_URL scheme in \"{0}\" (use sqlite:// or postgres://)")]
    Scheme(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The pool and what it is connected to.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// The migration files of both backends, compiled in: version, description and file name, as
/// `sqlx migrate` reads them from the file names (so its ledger, `_sqlx_migrations`, holds the
/// same versions and checksums). Listed by hand instead of with `sqlx::migrate!`, whose macro
/// crate compiles a second copy of sqlx and SQLite for the build machine; a test checks that
/// the list matches the directories.
macro_rules! migrations {
    ($(($version:literal, $description:literal, $file:literal)),* $(,)?) => {
        const SQLITE_MIGRATIONS: MigrationFiles =
            &[$(($version, $description, include_str!(concat!("../migrations/sqlite/", $file)))),*];
        const POSTGRES_MIGRATIONS: MigrationFiles =
            &[$(($version, $description, include_str!(concat!("../migrations/postgres/", $file)))),*];
    };
}
type MigrationFiles = &'static [(i64, &'static str, &'static str)];
// Both backends have the same files, each in its dialect.
migrations!(
    (1, "records", "0001_records.sql"),
    (2, "status note", "0002_status_note.sql"),
    (3, "login attempts", "0003_login_attempts.sql"),
    (4, "state hash", "0004_state_hash.sql"),
    (5, "queues", "0005_queues.sql"),
    (6, "login network", "0006_login_network.sql"),
    (7, "service time", "0007_service_time.sql"),
    (8, "audit log", "0008_audit_log.sql"),
    (9, "consultations", "0009_consultations.sql"),
    (10, "staff admin", "0010_staff_admin.sql"),
    (11, "resident identities", "0011_resident_identities.sql"),
    (12, "session rights", "0012_session_rights.sql"),
);

/// The migrator of one backend's files.
fn migrator(files: MigrationFiles) -> Migrator {
    Migrator::with_migrations(
        files
            .iter()
            .map(|&(version, description, sql)| {
                let no_tx = sql.starts_with("-- no-transaction");
                Migration::new(version, description.into(), MigrationType::Simple, SqlStr::from_static(sql), no_tx)
            })
            .collect(),
    )
}

/// Milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64
}

/// The database URL to use: `DATABASE_URL` if given, else a SQLite file in `data_dir`.
pub fn database_url(explicit: Option<&str>, data_dir: &Path) -> Result<String, DbError> {
    match explicit {
        Some(url) if !url.trim().is_empty() => Ok(url.trim().to_string()),
        _ => {
            std::fs::create_dir_all(data_dir)
                .map_err(|source| DbError::DataDir { path: data_dir.display().to_string(), source })?;
            Ok(format!("sqlite://{}?mode=rwc", data_dir.join("madoguchi.sqlite3").display()))
        }
    }
}

impl Db {
    /// Connects, configures each connection, and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::Scheme(url.split(':').next().unwrap_or_default().to_string()));
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    // SQLite has one writer at a time; more connections only queue on its lock.
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers proceed while one writer commits. sqlx does not set it.
                            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                            // FULL: every commit is fsynced before it is acknowledged, so an
                            // acknowledged submission survives a power cut, not only a crash of
                            // this process (NORMAL would survive the crash but may lose the last
                            // commits on power loss). Records are what a city relies on; the
                            // benchmark shows FULL still meets the throughput target.
                            sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(url).await?,
        };
        let db = Db { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.backend {
            Backend::Sqlite => migrator(SQLITE_MIGRATIONS).run(&self.pool).await?,
            Backend::Postgres => migrator(POSTGRES_MIGRATIONS).run(&self.pool).await?,
        }
        Ok(())
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of failing when a read turns into a write.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// The text of `q` for this database.
    pub fn pick(&self, q: Dialects) -> &'static str {
        match self.backend {
            Backend::Sqlite => q.sqlite,
            Backend::Postgres => q.postgres,
        }
    }
}

/// A statement whose text differs between the backends. Only row locks do: PostgreSQL locks
/// the rows a statement selects until the transaction ends (`FOR UPDATE`), and can pass over
/// rows another transaction holds (`SKIP LOCKED`); SQLite has no row locks, and its immediate
/// write transaction already holds the whole database. Written with [`for_update!`] and
/// [`skip_locked!`], so both texts are constants.
#[derive(Debug, Clone, Copy)]
pub struct Dialects {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Dialects {
    /// The statement without row locks, for either backend (SQLite's text has none).
    pub fn without_locks(self) -> &'static str {
        self.sqlite
    }
}

/// `for_update!("SELECT …")`: the statement, locking the rows it selects on PostgreSQL.
macro_rules! for_update {
    ($($sql:expr),+ $(,)?) => {
        $crate::db::Dialects { sqlite: concat!($($sql),+), postgres: concat!($($sql),+, " FOR UPDATE") }
    };
}

/// `skip_locked!(["… LIMIT 1"], [") …"])`: the statement with `FOR UPDATE SKIP LOCKED` between
/// its two parts on PostgreSQL, so that concurrent callers each take a different row.
macro_rules! skip_locked {
    ([$($a:expr),+ $(,)?], [$($b:expr),* $(,)?]) => {
        $crate::db::Dialects {
            sqlite: concat!($($a),+ $(, $b)*),
            postgres: concat!($($a),+, " FOR UPDATE SKIP LOCKED" $(, $b)*),
        }
    };
}
pub(crate) use {for_update, skip_locked};

#[cfg(test)]
mod tests {
    use super::*;

    /// What the README promises of the SQLite file: every connection of the pool writes ahead
    /// (WAL) and fsyncs each commit before acknowledging it (`synchronous = FULL`, 2), and checks
    /// foreign keys.
    #[tokio::test]
    async fn every_sqlite_connection_fsyncs_each_commit_in_wal_mode() {
        let dir = std::env::temp_dir().join(format!("madoguchi-db-pragmas-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::connect(&database_url(None, &dir).unwrap()).await.expect("the database");
        // Hold every connection of the pool at once, so each is asked.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(db.pool.acquire().await.expect("a connection"));
        }
        for conn in &mut held {
            let read = |pragma: &'static str| sqlx::query_scalar::<_, String>(pragma);
            let mode: String = read("PRAGMA journal_mode").fetch_one(&mut **conn).await.unwrap();
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut **conn).await.unwrap();
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut **conn).await.unwrap();
            assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
        }
        drop(held);
        db.pool.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Every file of a migrations directory is listed, in order, with the version and the
    /// description `sqlx migrate` derives from its name.
    #[test]
    fn the_compiled_in_migrations_are_the_files() {
        for (dir, files) in [("sqlite", SQLITE_MIGRATIONS), ("postgres", POSTGRES_MIGRATIONS)] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let mut names: Vec<String> = std::fs::read_dir(&path)
                .expect("migrations directory")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            names.sort();
            assert_eq!(names.len(), files.len(), "{dir}: {names:?}");
            for (name, &(version, description, sql)) in names.iter().zip(files) {
                let (number, rest) = name.split_once('_').expect("NNNN_description.sql");
                assert_eq!(number.parse::<i64>().unwrap(), version, "{dir}/{name}");
                assert_eq!(rest.trim_end_matches(".sql").replace('_', " "), description, "{dir}/{name}");
                assert_eq!(std::fs::read_to_string(path.join(name)).unwrap(), sql, "{dir}/{name}");
            }
            assert_eq!(migrator(files).iter().count(), files.len());
        }
    }
}
