//! The migration core shared by every intake domain: per-domain SQL migrations on PostgreSQL
//! and SQLite, with run, status, rollback, redo and scaffolding, and the proofs around them:
//! canonical schema [`snapshot`]s, `plan`, `verify`, drift `check`, [`lint`] and audited
//! `rebless`.
//!
//! Each domain crate embeds its own `migrations/<domain>/{postgres,sqlite}/` folders (with
//! `migration_embed::embed` in its `build.rs`) as a [`Domain`]; a binary hands the domains it
//! links to a [`Migrator`]. One URL picks the backend ([`DatabaseUrl`]); [`Database`] is an
//! r2d2 pool that fails fast with the driver's own message.
//!
//! What it guarantees:
//! - a migration runs in one transaction together with its bookkeeping row, so it is applied
//!   completely or not at all; a failure names the file, the statement, its line and the
//!   database's message;
//! - an applied migration cannot be edited silently: the checksum of its `up.sql` is stored and
//!   `run` refuses to continue when it changes;
//! - one migrator at a time: a session advisory lock on PostgreSQL, a file lock on SQLite,
//!   both released by the system when the holder dies; waiters say who holds it and give up
//!   after [`Policy::lock_timeout`];
//! - strict history: a migration applied but missing here, a pending one older than the
//!   newest applied, or two with one version are refused unless the [`Policy`] allows them;
//! - each applied migration records its checksum with the algorithm's id, its duration and
//!   its `down.sql`, so it can be reverted after its files are gone.
//!
//! What it does not do: it knows no domain and no table but its own `intake_schema_migrations`,
//! and it never prints; the CLI renders its results.
//!
//! ```
//! use migration_core::{Database, Domain, MigrationFiles, Migrator, Scripts};
//!
//! static DEMO: Domain = Domain::new("demo", &[MigrationFiles {
//!     version: "1",
//!     name: "create_notes",
//!     postgres: Scripts { up: "CREATE TABLE notes (id BIGSERIAL PRIMARY KEY)", down: "DROP TABLE notes", metadata: "" },
//!     sqlite: Scripts { up: "CREATE TABLE notes (id INTEGER PRIMARY KEY)", down: "DROP TABLE notes", metadata: "" },
//! }]);
//!
//! let db = Database::connect(":memory:")?;
//! let migrator = Migrator::new([&DEMO])?;
//! assert_eq!(migrator.run(&db, None)?.len(), 1);
//! assert!(migrator.run(&db, None)?.is_empty(), "a second run applies nothing");
//! # Ok::<(), migration_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bookkeeping;
mod checksum;
mod database;
mod domain;
pub mod lint;
mod lock;
pub mod locks;
mod runner;
mod scaffold;
mod scratch;
pub mod snapshot;
pub mod sql;
mod url;

use std::path::PathBuf;

pub use bookkeeping::{AppliedRow, AuditRow, MigrationConnection, Shape};
pub use checksum::ChecksumAlgorithm;
pub use database::{
    CONNECT_TIMEOUT, Database, DbConnection, PgPooled, PragmaGuard, SQLITE_BUSY_TIMEOUT_MS, Seeded, SqlitePooled,
    is_disk_failure, is_lost_connection,
};
pub use domain::{Direction, Domain, MigrationFiles, Scripts};
pub use lock::{DEFAULT_LOCK_TIMEOUT, MigrationLock};
pub use locks::AdvisoryLock;
pub use runner::{
    CheckReport, MigrationStatus, Migrator, Plan, PlannedMigration, Policy, RollbackTarget, State, Step, Verification,
    VerifyFailure,
};
pub use scaffold::scaffold;
pub use snapshot::Snapshot;
pub use url::{Backend, DatabaseUrl};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and why a migration failed, and the state it left the database in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "migration {migration} failed\n  {file}, statement {statement} (line {line}): {message}\n  statement: {sql}\n{outcome}"
)]
pub struct MigrationFailure {
    /// `domain/version_name`.
    pub migration: String,
    /// The script, relative to the workspace root.
    pub file: String,
    /// 1-based index of the statement in the script.
    pub statement: usize,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// The statement, shortened to one line.
    pub sql: String,
    /// The database's message.
    pub message: String,
    /// What state the database is in now.
    pub outcome: String,
}

/// Everything that can go wrong in the migration core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database URL could not be understood.
    #[error("database URL {url:?} is not usable: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The database refused or did not answer.
    #[error("cannot connect to {url}: {}; check that the server runs and accepts this user", .source.to_string().trim_end())]
    Connect {
        /// The URL (password hidden).
        url: DatabaseUrl,
        /// The driver's error.
        source: diesel::ConnectionError,
    },
    /// No pooled connection became free in time.
    #[error("no connection to {url} within the timeout: {message}")]
    Pool {
        /// The URL (password hidden).
        url: DatabaseUrl,
        /// r2d2's message, which carries the driver's last error.
        message: String,
    },
    /// The folder for an SQLite file could not be created.
    #[error("cannot create the folder {} for the SQLite database: {source}", path.display())]
    CreateDirectory {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A `metadata.toml` did not parse.
    #[error("{path}: {message}\nhint: the only setting is `run_in_transaction = false`")]
    InvalidMetadata {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// `--domain` named a domain this binary does not have.
    #[error("unknown domain {name:?}; known domains: {known}")]
    UnknownDomain {
        /// The name given.
        name: String,
        /// The names this binary knows.
        known: String,
    },
    /// An operation on one domain was asked for without naming it.
    #[error("this operation works on one domain: name it; known domains: {known}")]
    DomainRequired {
        /// The names this binary knows.
        known: String,
    },
    /// Two domains registered under one name.
    #[error("two domains are named {name:?}; domain names must be unique")]
    DuplicateDomain {
        /// The name.
        name: String,
    },
    /// A statement of a migration failed.
    #[error("{0}")]
    MigrationFailed(Box<MigrationFailure>),
    /// An applied migration's `up.sql` changed since it ran.
    #[error(
        "{path} was edited after it was applied to this database; restore the applied version and put the change in a new migration, or, if the edit changes nothing in effect, rebless it (which keeps an audit row)"
    )]
    ModifiedMigration {
        /// The edited script.
        path: String,
    },
    /// The database has a migration applied that this binary does not know.
    #[error(
        "the database has {domain}/{version}_{name} applied, which this build of intake does not have; use the intake build that applied it (or a newer one), roll it back (its recorded down.sql is used), or allow missing migrations to go on without it"
    )]
    UnknownAppliedMigration {
        /// Domain of the migration.
        domain: String,
        /// Its version.
        version: String,
        /// Its name as recorded.
        name: String,
    },
    /// `rollback --steps N` asked for more than is applied.
    #[error("cannot revert {requested} migration(s) of {domain}: only {applied} applied; nothing was reverted")]
    RollbackTooFar {
        /// The domain.
        domain: String,
        /// Steps asked for.
        requested: usize,
        /// Migrations applied.
        applied: usize,
    },
    /// `rollback --to VERSION` named a version that is not applied.
    #[error(
        "cannot roll back {domain} to {version}: that version is not applied (the status lists the applied ones; version 0 reverts everything); nothing was reverted"
    )]
    RollbackTargetNotApplied {
        /// The domain.
        domain: String,
        /// The version given.
        version: String,
    },
    /// A domain or migration name is not snake_case.
    #[error("{what} {value:?} is not valid: use lowercase letters, digits and `_`, starting with a letter")]
    InvalidName {
        /// Which name.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// Writing a scaffolded file failed.
    #[error("cannot write {}: {source}", path.display())]
    Scaffold {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A service was told not to apply migrations, and some it needs are not applied.
    #[error(
        "the database lacks migrations {pending}; apply them first (`intake migrate`), or let the service apply them"
    )]
    PendingMigrations {
        /// Each migration not applied, as `domain/version_name`.
        pending: String,
    },
    /// A pending migration is older than the newest applied one of its domain.
    #[error(
        "{domain}/{version}_{name} is pending but older than {newest}, the newest applied migration of {domain}: it arrived out of order (a late merge?); give it a newer version, or allow out-of-order migrations to apply it anyway"
    )]
    OutOfOrder {
        /// The domain.
        domain: String,
        /// The late migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The newest applied version.
        newest: String,
    },
    /// Two migrations of one domain share a version.
    #[error(
        "{domain} has two migrations with version {version} ({names}); rename one folder to a new version, or allow duplicate versions to accept both (applied in name order)"
    )]
    DuplicateVersion {
        /// The domain.
        domain: String,
        /// The shared version.
        version: String,
        /// The two names.
        names: String,
    },
    /// Another migrator held the lock for longer than the timeout.
    #[error(
        "gave up after {} s waiting for the migration lock, held by {holder}; wait for it to finish (or stop it) and run again, or wait longer",
        waited.as_secs()
    )]
    LockTimeout {
        /// How long this migrator waited.
        waited: std::time::Duration,
        /// Who holds the lock.
        holder: String,
    },
    /// The SQLite lock file could not be opened or locked.
    #[error("cannot use the lock file {}: {source}", path.display())]
    LockFile {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scratch database for verify, check or plan could not be made.
    #[error("{message}")]
    Scratch {
        /// What failed and what to do.
        message: String,
    },
    /// `single_transaction` was asked for, but a pending migration opts out of transactions.
    #[error(
        "{migration} runs outside a transaction (metadata.toml: run_in_transaction = false), so the pending migrations cannot run as one transaction; run them one transaction each"
    )]
    SingleTransactionImpossible {
        /// `domain/version_name` of the migration that opts out.
        migration: String,
    },
    /// A migration to revert has neither files in this build nor a recorded `down.sql`.
    #[error(
        "cannot revert {domain}/{version}_{name}: this build does not have it and the database recorded no down.sql for it (it was applied by the first intake release); revert it with the build that applied it; nothing was reverted"
    )]
    NoRecordedDown {
        /// The domain.
        domain: String,
        /// Its version.
        version: String,
        /// Its name.
        name: String,
    },
    /// `rebless` named a version that is not applied.
    #[error("{domain} has no applied migration with version {version}; only applied migrations can be reblessed")]
    NotApplied {
        /// The domain.
        domain: String,
        /// The version given.
        version: String,
    },
    /// `rebless` of a migration whose text matches its record.
    #[error("{path} is unchanged since it was applied; there is nothing to rebless")]
    NothingToRebless {
        /// The script.
        path: String,
    },
    /// `rebless` without a reason.
    #[error("say why the edited migration is acceptable: the reason is kept in the audit trail")]
    ReasonRequired,
    /// A query failed (bookkeeping, or a domain's own read); nothing was changed by it.
    #[error("{context}: {source}")]
    Query {
        /// What was being done.
        context: String,
        /// The database error.
        source: diesel::result::Error,
    },
    /// A transaction could not begin or commit.
    #[error("transaction failed: {0}")]
    Transaction(#[from] diesel::result::Error),
}
