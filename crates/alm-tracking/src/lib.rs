//! ALM import tracking (seed 000): the `alm_reporting` tracking schema, and the append-mode
//! daily import of Interactive Brokers Flex reports it exists for (the seed's "Module 2").
//!
//! - [`MIGRATIONS`]: the two tables the seed alters (`chronological_events`,
//!   `daily_summary`), then the seed's four scripts as written (`import_history`,
//!   `processing_status`, the duplicate-prevention `ALTER`s with `last_updated` and its
//!   triggers, `processed_files`), then the keys by account that real files need. On SQLite
//!   `alm_reporting.<table>` is `alm_reporting_<table>`.
//! - [`Run`]: one import run for an import date. Each file is read through the validator's
//!   `ib_flex` kind (the parser the browser runs) and merged in its own transaction by the
//!   import layer: new events appended, each day upserted, the file recorded in
//!   `processed_files`. A file already imported with the same SHA-256 is not read again.
//!   `import_history` and `processing_status` follow the run.
//! - [`status`], [`history`], [`gaps`], [`set_config`]: what the operator commands show and
//!   change.
//!
//! ```
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&alm_tracking::MIGRATIONS])?.run(&db, None)?;
//! # Ok::<(), migration_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;

pub mod amount;
mod flex;
mod run;
mod sql;
mod tracking;

pub use flex::IDENTITY;
pub use import_core::{ImportReport, Outcome};
pub use run::{ImportType, Run, RunOptions, RunSummary, TakenOver, files_in};
pub use tracking::{
    CONFIG_KEYS, Configuration, ContinuityWarning, Gap, GapReport, HistoryRow, PROCESS_NAME, Status, gaps, history,
    set_config, status,
};

/// The lock every write of the domain takes (the import layer's merges take it too): on
/// SQLite `BEGIN IMMEDIATE`, so a transaction that reads, then writes, waits its turn instead
/// of failing with "database is locked" when another run writes first.
const WRITE_LOCK: migration_core::AdvisoryLock<'static> = migration_core::AdvisoryLock::DomainWrite("alm_tracking");

/// The `alm_tracking` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a command could not run. A file that cannot be imported is not an error of the run:
/// the run records it as FAILED and goes on (see [`Run::import`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Importing a file failed.
    #[error(transparent)]
    Import(#[from] import_core::Error),
    /// Connecting, or the migration state, failed.
    #[error(transparent)]
    Database(#[from] migration_core::Error),
    /// A statement failed; nothing it was part of was written.
    #[error("{context}: {source}")]
    Query {
        /// What was being done.
        context: String,
        /// The driver's error.
        source: diesel::result::Error,
    },
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A folder holds no Flex report (`*.xml`).
    #[error("{} holds no .xml file; give the Flex reports themselves or the folder they are in", path.display())]
    NoFiles {
        /// The folder.
        path: PathBuf,
    },
    /// `ALM_DAILY_AUTOMATION`'s configuration cannot take this setting.
    #[error("configuration {key}: {reason}")]
    Config {
        /// The key.
        key: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The archive could not be kept.
    #[error("archive {}: {source}", path.display())]
    Archive {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<diesel::result::Error> for Error {
    fn from(source: diesel::result::Error) -> Self {
        Error::Query { context: "ALM tracking".into(), source }
    }
}

/// Maps a driver error to [`Error::Query`] saying what was being done.
fn query_error(context: &str) -> impl FnOnce(diesel::result::Error) -> Error + '_ {
    move |source| Error::Query { context: context.to_owned(), source }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
