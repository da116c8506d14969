//! The low-lock path to seed 001's DECIMAL → double precision conversion on PostgreSQL.
//!
//! `convert_decimal_to_float` changes eight columns by `ALTER COLUMN ... TYPE`, which rewrites
//! `market_data` and `alert_logs` under an ACCESS EXCLUSIVE lock: no read or write of either
//! table runs until it is done (about 2.5 s per million ticks here, `cargo xtask bench
//! market-data`). [`convert_online`] reaches the same schema while writers keep writing:
//!
//! 1. each column gets a `<column>__float` twin, and a `BEFORE INSERT OR UPDATE` trigger copies
//!    every written value into it (one short transaction per table);
//! 2. the rows written before the trigger are copied in batches by id, each batch its own
//!    transaction holding only the locks of its rows;
//! 3. `ix_market_data_instrument_price` is built again on the twin `CONCURRENTLY`, and each
//!    NOT NULL column's twin gets a `CHECK (... IS NOT NULL)` that is validated without blocking
//!    writes;
//! 4. one short transaction per table swaps them: the trigger and the old columns go, the
//!    twins take their names, SET NOT NULL is proved by the validated check instead of a scan,
//!    and the index takes its old name.
//!
//! Afterwards `intake migrate` applies `convert_decimal_to_float` as usual: its `ALTER TYPE` to
//! the type the column already has neither rewrites the table nor rebuilds an index (a few
//! milliseconds), so the bookkeeping, `check` and `verify` stay exactly as for the plain path.
//! The values are the same as the rewrite's: a `numeric` is cast to `double precision` the same
//! way by the trigger, the batches and `ALTER TYPE`. Every step can be run again: a run stopped
//! anywhere (a crash, a cancelled batch) is finished by the next, which also drops an index a
//! crashed `CREATE INDEX CONCURRENTLY` left invalid. The migrator lock is held throughout, so no
//! migration runs meanwhile. SQLite has no such lock to avoid: its tables are rebuilt by the
//! migration itself.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use migration_core::{Database, DbConnection, MigrationLock};

use crate::Error;

/// The columns the conversion changes, per table, with whether each is NOT NULL.
const COLUMNS: &[(&str, &[(&str, bool)])] = &[
    (
        "market_data",
        &[
            ("price", true),
            ("bid", false),
            ("ask", false),
            ("open_price", false),
            ("high_price", false),
            ("low_price", false),
        ],
    ),
    ("alert_logs", &[("trigger_value", true), ("threshold_value", true)]),
];

/// The one index on a converted column after the seed's index migrations; rebuilt on the twin.
const PRICE_INDEX: (&str, &str, &str) =
    ("market_data", "ix_market_data_instrument_price", "(instrument_id, price__float)");

/// How [`convert_online`] works.
#[derive(Debug, Clone, Copy)]
pub struct OnlineOptions {
    /// Rows per batch of the copy (each batch is one transaction).
    pub batch_rows: i64,
    /// How long to wait for the migrator lock, and for each swap's ACCESS EXCLUSIVE lock
    /// (`lock_timeout`), before giving up; a swap that gives up changes nothing and the
    /// next run retries it.
    pub lock_timeout: Duration,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions { batch_rows: 50_000, lock_timeout: Duration::from_secs(10) }
    }
}

/// How far a conversion is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnlineProgress {
    /// Copying `table`: `done` of `total` ids covered.
    Copying {
        /// The table.
        table: &'static str,
        /// Ids covered so far.
        done: u64,
        /// Ids to cover (the span of ids when the copy started).
        total: u64,
    },
    /// Building the index on the twin column, without blocking writes.
    Indexing,
    /// Swapping `table`'s columns.
    Swapping {
        /// The table.
        table: &'static str,
    },
}

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct OnlineReport {
    /// Tables converted by this run (empty when both were already double precision).
    pub converted: Vec<&'static str>,
    /// Rows copied by the batches.
    pub rows_copied: u64,
    /// Batches run.
    pub batches: u64,
    /// The longest batch, in seconds (it held only its rows' locks).
    pub longest_batch_seconds: f64,
    /// The longest swap, in seconds: the only time a table was locked ACCESS EXCLUSIVE.
    pub longest_swap_seconds: f64,
    /// The whole run, in seconds.
    pub total_seconds: f64,
}

#[derive(QueryableByName)]
struct ColumnType {
    #[diesel(sql_type = Text)]
    data_type: String,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

#[derive(QueryableByName)]
struct Bounds {
    #[diesel(sql_type = BigInt)]
    low: i64,
    #[diesel(sql_type = BigInt)]
    high: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Converts the DECIMAL(12,4) columns of `market_data` and `alert_logs` to double precision
/// without locking either table for longer than a swap (see the module docs); then
/// `intake migrate` applies `convert_decimal_to_float` without a rewrite. PostgreSQL only.
/// A table whose columns are already double precision is left alone.
pub fn convert_online(
    db: &Database,
    options: OnlineOptions,
    progress: &mut dyn FnMut(OnlineProgress),
) -> Result<OnlineReport, Error> {
    let started = Instant::now();
    let DbConnection::Postgres(mut conn) = db.get()? else {
        return Err(Error::Unsupported {
            what: "the online conversion".into(),
            why: "it is for PostgreSQL, where the type change locks the tables; on SQLite `intake migrate` rebuilds them in one transaction".into(),
        });
    };
    let conn: &mut PgConnection = &mut conn;
    let _lock = MigrationLock::acquire(db, options.lock_timeout)?;
    let mut report = OnlineReport::default();
    for (table, columns) in COLUMNS {
        let (column, _) = columns[0];
        let Some(data_type) = column_type(conn, table, column)? else {
            return Err(Error::Unsupported {
                what: format!("the online conversion of {table}"),
                why: format!(
                    "{table}.{column} does not exist: run `intake migrate --domain market_data` up to 20250901000200 first"
                ),
            });
        };
        if data_type == "double precision" {
            continue;
        }
        prepare(conn, table, columns)?;
        copy_rows(conn, table, columns, options.batch_rows, &mut report, progress)?;
        if *table == PRICE_INDEX.0 {
            progress(OnlineProgress::Indexing);
            build_twin_index(conn)?;
        }
        for (column, _) in columns.iter().filter(|(_, not_null)| *not_null) {
            prove_not_null(conn, table, column)?;
        }
        progress(OnlineProgress::Swapping { table });
        let swap = Instant::now();
        swap_columns(conn, table, columns, options.lock_timeout)?;
        report.longest_swap_seconds = report.longest_swap_seconds.max(swap.elapsed().as_secs_f64());
        report.converted.push(table);
    }
    report.total_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn run(conn: &mut PgConnection, context: &str, sql: &str) -> Result<(), Error> {
    conn.batch_execute(sql).map_err(|source| Error::Query { context: context.to_owned(), source })
}

fn column_type(conn: &mut PgConnection, table: &str, column: &str) -> Result<Option<String>, Error> {
    let rows: Vec<ColumnType> = diesel::sql_query(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
    )
    .bind::<Text, _>(table)
    .bind::<Text, _>(column)
    .load(conn)
    .map_err(|source| Error::Query { context: format!("reading the type of {table}.{column}"), source })?;
    Ok(rows.into_iter().next().map(|r| r.data_type))
}

fn trigger_names(table: &str) -> (String, String) {
    (format!("{table}_sync_float"), format!("{table}_sync_float()"))
}

/// Step 1: the twin columns and the trigger that keeps them equal to what is written.
fn prepare(conn: &mut PgConnection, table: &str, columns: &[(&str, bool)]) -> Result<(), Error> {
    let (trigger, function) = trigger_names(table);
    let add: Vec<String> =
        columns.iter().map(|(c, _)| format!("ADD COLUMN IF NOT EXISTS {c}__float DOUBLE PRECISION")).collect();
    let copy: Vec<String> = columns.iter().map(|(c, _)| format!("NEW.{c}__float := NEW.{c};")).collect();
    run(
        conn,
        &format!("adding the double precision twins of {table}'s columns"),
        &format!(
            "BEGIN;
             ALTER TABLE {table} {add};
             CREATE OR REPLACE FUNCTION {function} RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN {copy} RETURN NEW; END $$;
             DROP TRIGGER IF EXISTS {trigger} ON {table};
             CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function};
             COMMIT;",
            add = add.join(", "),
            copy = copy.join(" "),
        ),
    )
}

/// Step 2: every row written before the trigger, in batches by id, each its own transaction.
/// Rows written since have their twins set by the trigger; setting them again is harmless.
fn copy_rows(
    conn: &mut PgConnection,
    table: &'static str,
    columns: &[(&str, bool)],
    batch_rows: i64,
    report: &mut OnlineReport,
    progress: &mut dyn FnMut(OnlineProgress),
) -> Result<(), Error> {
    let bounds: Bounds =
        diesel::sql_query(format!("SELECT coalesce(min(id), 0) AS low, coalesce(max(id), -1) AS high FROM {table}"))
            .get_result(conn)
            .map_err(|source| Error::Query { context: format!("reading {table}'s ids"), source })?;
    let set: Vec<String> = columns.iter().map(|(c, _)| format!("{c}__float = {c}")).collect();
    let changed: Vec<String> =
        columns.iter().map(|(c, _)| format!("{c}__float IS DISTINCT FROM {c}::float8")).collect();
    let total = u64::try_from(bounds.high - bounds.low + 1).unwrap_or(0);
    let batch_rows = batch_rows.max(1);
    let mut from = bounds.low;
    while from <= bounds.high {
        let to = from.saturating_add(batch_rows - 1);
        let batch = Instant::now();
        // Only rows whose twins differ: a second run after a crash copies what is left.
        let copied = diesel::sql_query(format!(
            "UPDATE {table} SET {} WHERE id BETWEEN $1 AND $2 AND ({})",
            set.join(", "),
            changed.join(" OR ")
        ))
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .execute(conn)
        .map_err(|source| Error::Query { context: format!("copying {table} ids {from} to {to}"), source })?;
        report.rows_copied += copied as u64;
        report.batches += 1;
        report.longest_batch_seconds = report.longest_batch_seconds.max(batch.elapsed().as_secs_f64());
        progress(OnlineProgress::Copying {
            table,
            done: u64::try_from(to.min(bounds.high) - bounds.low + 1).unwrap_or(0),
            total,
        });
        from = to.saturating_add(1);
    }
    Ok(())
}

/// Step 3a: the price index again, on the twin, built without blocking writes. An invalid one
/// left by a crashed build is dropped first.
fn build_twin_index(conn: &mut PgConnection) -> Result<(), Error> {
    let (table, index, columns) = PRICE_INDEX;
    let twin = format!("{index}__float");
    let invalid: Vec<Flag> = diesel::sql_query(
        "SELECT NOT i.indisvalid AS flag FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace",
    )
    .bind::<Text, _>(&twin)
    .load(conn)
    .map_err(|source| Error::Query { context: format!("looking for index {twin}"), source })?;
    if invalid.first().is_some_and(|f| f.flag) {
        run(conn, &format!("dropping the invalid index {twin}"), &format!("DROP INDEX CONCURRENTLY {twin}"))?;
    }
    run(
        conn,
        &format!("building {twin}"),
        &format!("CREATE INDEX CONCURRENTLY IF NOT EXISTS {twin} ON {table} {columns}"),
    )
}

/// Step 3b: `CHECK (twin IS NOT NULL)`, added NOT VALID and validated under a lock that lets
/// writes through, so the swap's SET NOT NULL needs no scan.
fn prove_not_null(conn: &mut PgConnection, table: &str, column: &str) -> Result<(), Error> {
    let constraint = format!("{table}_{column}__float_not_null");
    let exists: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_constraint WHERE conname = $1 AND connamespace = current_schema()::regnamespace",
    )
    .bind::<Text, _>(&constraint)
    .get_result(conn)
    .map_err(|source| Error::Query { context: format!("looking for {constraint}"), source })?;
    if exists.n == 0 {
        run(
            conn,
            &format!("adding {constraint}"),
            &format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({column}__float IS NOT NULL) NOT VALID"),
        )?;
    }
    run(conn, &format!("validating {constraint}"), &format!("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}"))
}

/// Step 4: one short ACCESS EXCLUSIVE transaction: the old columns go (and the old price
/// index with them), the twins take their names and NOT NULL, the index its name.
fn swap_columns(
    conn: &mut PgConnection,
    table: &str,
    columns: &[(&str, bool)],
    lock_timeout: Duration,
) -> Result<(), Error> {
    let (trigger, function) = trigger_names(table);
    let mut sql = format!(
        "BEGIN;
         SET LOCAL lock_timeout = '{}ms';
         LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;
         DROP TRIGGER {trigger} ON {table};
         DROP FUNCTION {function};\n",
        lock_timeout.as_millis()
    );
    for (column, not_null) in columns {
        sql.push_str(&format!(
            "ALTER TABLE {table} DROP COLUMN {column};
             ALTER TABLE {table} RENAME COLUMN {column}__float TO {column};\n"
        ));
        if *not_null {
            sql.push_str(&format!(
                "ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;
                 ALTER TABLE {table} DROP CONSTRAINT {table}_{column}__float_not_null;\n"
            ));
        }
    }
    if table == PRICE_INDEX.0 {
        sql.push_str(&format!("ALTER INDEX {0}__float RENAME TO {0};\n", PRICE_INDEX.1));
    }
    sql.push_str("COMMIT;");
    let result = run(conn, &format!("swapping {table}'s columns"), &sql);
    if result.is_err() {
        // A failed statement leaves the transaction aborted on this connection.
        let _ = conn.batch_execute("ROLLBACK");
    }
    result
}
