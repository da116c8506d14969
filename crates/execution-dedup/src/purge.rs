//! The seed's cleanup: forgetting ledger rows older than an age.

use chrono::{NaiveDateTime, TimeDelta, Timelike as _, Utc};
use diesel::prelude::*;
use migration_core::Database;

use crate::Error;
use crate::schema::imported_executions::dsl;

/// What a purge removed (or, dry, would remove).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PurgeSummary {
    /// Rows imported before this instant (UTC) were removed.
    pub cutoff: NaiveDateTime,
    /// How many rows.
    pub removed: u64,
    /// Whether this was only a count.
    pub dry_run: bool,
}

/// Removes `imported_executions` rows older than `days` days (by `import_timestamp`, UTC;
/// backfilled rows carry their fill's time). `trades` is not touched.
///
/// Afterwards the ledger no longer remembers those ids: re-importing an old file brings back
/// any of its fills that were deleted from `trades` (fills still there are not duplicated).
/// When rows are removed, the import history (`imported_files`) is cleared too, so every file
/// is read whole on its next import.
pub fn purge(db: &Database, days: u32, dry_run: bool) -> Result<PurgeSummary, Error> {
    let cutoff =
        (Utc::now().naive_utc() - TimeDelta::days(i64::from(days))).with_nanosecond(0).expect("0 ns is a valid time");
    let old = dsl::imported_executions.filter(dsl::import_timestamp.lt(cutoff));
    let mut connection = db.get()?;
    let removed = migration_core::dispatch!(connection, conn => {
        if dry_run {
            old.count().get_result::<i64>(conn).map(|n| n as usize)
        } else {
            conn.transaction(|conn| {
                let removed = diesel::delete(old).execute(conn)?;
                // Files whose rows the ledger no longer remembers must be read whole again:
                // the import history is forgotten with them (see import-core's history).
                if removed > 0 {
                    diesel::sql_query("DELETE FROM imported_files").execute(conn)?;
                }
                Ok(removed)
            })
        }
    })
    .map_err(|source| Error::Query { context: "remove old imported_executions rows".into(), source })?;
    Ok(PurgeSummary { cutoff, removed: removed as u64, dry_run })
}
