//! Execution de-duplication (seed 004): NinjaTrader execution exports imported any number of
//! times without a duplicate.
//!
//! This crate owns the `execution_dedup` migration set: `imported_executions`, the ledger of
//! every execution id ever imported (exactly as the seed specifies). It knows nothing of other
//! domains; the migration core runs its migrations.
//!
//! ```
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&execution_dedup::MIGRATIONS])?.run(&db, None)?;
//! # Ok::<(), migration_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The `execution_dedup` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
