//! Execution de-duplication (seed 004): NinjaTrader execution exports imported any number of
//! times without a duplicate.
//!
//! - [`MIGRATIONS`]: `imported_executions` (the ledger of every execution id ever imported,
//!   exactly as the seed specifies), `trades` (the fills) and the seed's backfill.
//! - [`import_file`]: reads an export through the upload validator's NinjaTrader parser (the
//!   parser the browser runs) and, in one transaction, writes the fills not seen before.
//! - [`purge`]: the seed's cleanup of old ledger rows.
//!
//! ```
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&execution_dedup::MIGRATIONS])?.run(&db, None)?;
//! # Ok::<(), migration_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;

mod import;
mod purge;
mod schema;

pub use import::{FileSummary, ImportOptions, Outcome, import_file};
pub use purge::{PurgeSummary, purge};

/// The `execution_dedup` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an import or a purge could not run. A file with invalid rows is not an error: it is a
/// [`FileSummary`] with [`Outcome::Refused`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file's name cannot be recorded in `imported_executions.csv_filename`.
    #[error("{}: {reason}", path.display())]
    FileName {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A fill the validator accepted does not fit the tables exactly (a bug: the validator
    /// checks the same limits).
    #[error("{}, line {line}: the {what} cannot be stored exactly; nothing was written", path.display())]
    Unstorable {
        /// The file.
        path: PathBuf,
        /// 1-based line of the fill.
        line: u64,
        /// Which value.
        what: &'static str,
    },
    /// The execution_dedup migrations are not all applied.
    #[error(
        "the database is not ready for imports: execution_dedup migrations not applied: {missing}\nhint: run `intake migrate` first"
    )]
    NotMigrated {
        /// Versions and names of the missing migrations.
        missing: String,
    },
    /// Connecting or reading the migration state failed.
    #[error(transparent)]
    Database(#[from] migration_core::Error),
    /// A statement failed; the transaction was rolled back, so the database is as it was.
    #[error("{context}: {source}\nnothing was written: the transaction was rolled back")]
    Query {
        /// What was being done.
        context: String,
        /// The driver's error.
        source: diesel::result::Error,
    },
}

impl From<diesel::result::Error> for Error {
    fn from(source: diesel::result::Error) -> Self {
        Error::Query { context: "import".into(), source }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
