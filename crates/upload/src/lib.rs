//! Upload infrastructure (seed 003): the retail planning tables as they stood before the
//! seed's phase (`store_clusters`, `categories`, `stores`, `workflows`, `historical_sales`),
//! the seed's `weekly_actuals` with its unique key, cascading foreign keys and indexes, each
//! workflow's forecasts per week and store, and the table statistics of the seed's script
//! ([`stats`]).
//!
//! The uploads themselves (store attributes, historical sales, weekly actuals, validated by
//! `upload-validator` and written in one transaction) build on these tables; the schema is
//! checked by `intake migrate check --domain upload`, which names any missing or differing
//! table, column, index or foreign key.
//!
//! ```
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&upload::MIGRATIONS])?.run(&db, None)?;
//! assert!(upload::stats(&db)?.iter().all(|(_, rows)| *rows == 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use migration_core::{Database, dispatch};

/// The `upload` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The domain's tables, parents first.
pub const TABLES: [&str; 7] =
    ["store_clusters", "categories", "stores", "workflows", "workflow_forecasts", "historical_sales", "weekly_actuals"];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The row count of each table (the seed's "table statistics"), in [`TABLES`] order, read in
/// one statement so the counts are of one moment.
pub fn stats(db: &Database) -> Result<Vec<(&'static str, i64)>, migration_core::Error> {
    let mut connection = db.get()?;
    let sql: Vec<String> =
        TABLES.iter().map(|t| format!("SELECT CAST('{t}' AS TEXT) AS name, count(*) AS n FROM {t}")).collect();
    let counts: Vec<Count> =
        dispatch!(connection, conn => diesel::sql_query(sql.join(" UNION ALL ")).load(conn)).map_err(|source| {
            migration_core::Error::Query { context: "counting the upload tables' rows".into(), source }
        })?;
    Ok(TABLES.iter().map(|table| (*table, counts.iter().find(|c| c.name == *table).map_or(0, |c| c.n))).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
