//! The import layer every domain builds on: a file read through the shared validator, its
//! valid rows loaded in bulk into a stage table, merged into the domain's tables under the
//! domain's write lock in one transaction, and one report of what happened.
//!
//! A domain implements [`Importer`]: its validator, its [`Stage`] (declared once; the DDL, the
//! PostgreSQL `COPY` rows, SQLite's multi-row insert and the merge's column lists all come
//! from it), how a validated record becomes a stage row, and its merge SQL for each backend.
//! [`Session`] does the rest, the same way for every domain:
//!
//! 1. checks once, when it is opened, that the domain's migrations are all applied;
//! 2. per file: creates the stage, streams the file through the validator (records come out
//!    through a callback, no channel) into `COPY` on PostgreSQL or cached multi-row inserts on
//!    SQLite (with import settings that a guard puts back afterwards);
//! 3. refuses the file if it has errors (unless `skip_invalid`, and never when the validator
//!    stopped early), writing nothing;
//! 4. otherwise merges in one transaction holding [`AdvisoryLock::DomainWrite`] (SQLite:
//!    `BEGIN IMMEDIATE`), so concurrent imports of a domain take turns while their parsing
//!    and loading still overlap;
//! 5. drops the stage and returns an [`ImportReport`].
//!
//! A failure at any step leaves the domain's tables as they were.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;

pub mod history;
mod report;
mod session;
pub mod stage;

pub use history::History;
pub use report::{Counts, ImportReport, Merged, Outcome, Tally, Timings, UNCHANGED_PREFIX};
pub use session::{DEFAULT_LOCK_WAIT, ImportOptions, Importer, Session, Unstorable};
pub use stage::{Column, ColumnType, Stage, StageRow, Values};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an import could not run. A file with invalid rows is not an error: it is an
/// [`ImportReport`] with [`Outcome::Refused`].
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
    /// The file's name cannot be recorded with its rows.
    #[error("{}: {reason}", path.display())]
    FileName {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A row the validator accepted does not fit the tables exactly (a bug: the validator
    /// checks the same limits).
    #[error("{}, line {line}: the {what} cannot be stored exactly; nothing was written", path.display())]
    Unstorable {
        /// The file.
        path: PathBuf,
        /// 1-based line of the row.
        line: u64,
        /// Which value.
        what: &'static str,
    },
    /// The import passed its deadline ([`ImportOptions::deadline`]); nothing was written.
    #[error("{}: the import took longer than allowed and was stopped; nothing was written", path.display())]
    TimedOut {
        /// The file.
        path: PathBuf,
    },
    /// Another writer held the database's write lock (SQLite) for the whole wait; nothing was
    /// written.
    #[error(
        "{}: gave up after {} waiting for the database's write lock: another writer (an import, a migration) held it all that time; nothing was written: import the file again once that writer is done",
        path.display(),
        seconds(*waited)
    )]
    Locked {
        /// The file.
        path: PathBuf,
        /// How long the import waited.
        waited: std::time::Duration,
    },
    /// A rule of the domain refuses the file as a whole (a week uploaded before, without
    /// asking to replace it); nothing was written.
    #[error("{}: {message}; nothing was written", path.display())]
    Conflict {
        /// The file.
        path: PathBuf,
        /// The rule, in the validator's report style (`week-already-uploaded`).
        rule: &'static str,
        /// What is in the way and what to do.
        message: String,
    },
    /// The domain's migrations are not all applied.
    #[error("the database is not ready for {domain} imports: migrations not applied: {missing}; apply them first")]
    NotMigrated {
        /// The domain.
        domain: &'static str,
        /// Versions, names and states of the migrations not applied.
        missing: String,
    },
    /// The validator could not start (its context lacks what the kind needs).
    #[error("cannot validate the file: {0}")]
    Validator(#[from] upload_validator::Error),
    /// Connecting or reading the migration state failed.
    #[error(transparent)]
    Database(#[from] migration_core::Error),
    /// A statement failed; nothing was written.
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

/// Maps a driver error to [`Error::Query`] saying what was being done.
pub fn query_error(context: &str) -> impl FnOnce(diesel::result::Error) -> Error + '_ {
    move |source| Error::Query { context: context.to_owned(), source }
}

/// A wait as people say it: `300 s`, `0.3 s`.
fn seconds(wait: std::time::Duration) -> String {
    if wait.subsec_millis() == 0 { format!("{} s", wait.as_secs()) } else { format!("{:.1} s", wait.as_secs_f64()) }
}
