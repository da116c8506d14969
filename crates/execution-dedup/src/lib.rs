//! Execution de-duplication (seed 004): NinjaTrader execution exports imported any number of
//! times without a duplicate.
//!
//! - [`MIGRATIONS`]: `imported_executions` (the ledger of every execution id ever imported,
//!   exactly as the seed specifies), `trades` (the fills) and the seed's backfill.
//! - [`Executions`], the importer, and [`import_file`]: read an export through the upload
//!   validator's NinjaTrader parser (the parser the browser runs) and, in one transaction,
//!   write the fills not seen before (the import layer, `import-core`, does the rest).
//! - [`purge`]: the seed's cleanup of old ledger rows.
//!
//! ```
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&execution_dedup::MIGRATIONS])?.run(&db, None)?;
//! # Ok::<(), migration_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod import;
mod purge;
mod schema;

pub use import::{Executions, Fill, import_file};
pub use import_core::{ImportOptions, ImportReport, Outcome, Session};
pub use purge::{PurgeSummary, purge};

/// The `execution_dedup` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an import or a purge could not run: the import layer's error. A file with invalid
/// rows is not an error: it is an [`ImportReport`] with [`Outcome::Refused`].
pub use import_core::Error;

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
