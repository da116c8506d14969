//! Market data integrity (seed 001): the market data schema as it stood before the seed's
//! phase, then its four migrations: lean indexes on `market_data` and `alert_logs`,
//! DECIMAL(12,4) → double precision (exact to 4 decimals, see [`price`]), soft delete
//! (`deleted_at`) and RESTRICT instead of CASCADE. On SQLite the type and foreign-key changes
//! use SQLite's documented table rebuild inside the migration's transaction.
//!
//! Reads ([`ticks`], [`latest`]) leave soft-deleted rows out unless given
//! [`Deleted::Include`]; [`soft_delete`] and [`restore`] mark rows, [`purge`] removes for good
//! the rows soft-deleted before a date; [`delete_instrument`] and [`delete_alert_rule`] refuse
//! a parent that rows refer to, naming each table and its count. [`Tick`] serialises prices
//! with exactly 4 decimals. On PostgreSQL, [`online::convert_online`] is the low-lock path to
//! the DECIMAL → double precision conversion for tables too large to lock while it rewrites.
//!
//! ```
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&market_data::MIGRATIONS])?.run(&db, None)?;
//! # Ok::<(), migration_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod online;
pub mod price;
mod store;

pub use store::{
    Deleted, Error, PurgeSummary, Table, Tick, delete_alert_rule, delete_instrument, instrument_id, latest, purge,
    restore, soft_delete, ticks,
};

/// The `market_data` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
