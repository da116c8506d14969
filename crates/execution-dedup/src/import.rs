//! Importing NinjaTrader execution exports: each file in one transaction, each execution id
//! at most once, ever.
//!
//! The import layer (`import-core`) reads a file through the upload validator's NinjaTrader
//! parser (the one the browser runs) into the stage declared here; the merge then takes the
//! first row of each execution id the ledger lacks, records those ids in
//! `imported_executions` and writes exactly those fills to `trades`, in execution-id order so
//! the indexes are filled in order.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use import_core::{
    Column, ColumnType, History, ImportOptions, ImportReport, Importer, Merged, Session, Stage, StageRow, Unstorable,
    Values, query_error,
};
use migration_core::{Database, Domain};
use upload_validator::{Action, Context, EntryExit, Execution, PayloadKind, Record, Validator};

use crate::Result;

/// `csv_filename` value the backfill migration owns.
const BACKFILL: &str = "BACKFILL";

/// The stage: one row per valid fill, named as the `trades` columns it is written to.
pub(crate) const STAGE: Stage = {
    use ColumnType::{BigInt, Text, Timestamp};
    Stage {
        table: "execution_stage",
        columns: &[
            Column::required("execution_id", Text),
            Column::required("account", Text),
            Column::required("instrument", Text),
            Column::required("action", Text),
            Column::required("quantity", BigInt),
            Column::required("price_e8", BigInt),
            Column::required("executed_at", Timestamp),
            Column::required("entry_exit", Text),
            Column::required("position", Text),
            Column::optional("order_id", Text),
            Column::required("name", Text),
            Column::required("commission_e8", BigInt),
            Column::required("rate_e8", BigInt),
            Column::required("connection", Text),
            Column::optional("trade_validation", Text),
        ],
    }
};

/// The NinjaTrader executions importer (see [`import_file`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Executions;

/// Imports one NinjaTrader executions export (any variant FORMATS.md §1 lists).
///
/// The file's new fills are written to `trades` and their ids to `imported_executions`, with
/// the file's name, in one transaction: a failure leaves the database as it was. Ids already in
/// `imported_executions` are skipped, so re-importing a file, or a longer version of it, adds
/// only the new fills, and a fill deleted from `trades` does not come back. `progress` is
/// called with the bytes read so far. To import several files, open one [`Session`] with
/// [`Executions`] and import each through it (the migrations are then checked once).
pub fn import_file(
    db: &Database,
    path: &std::path::Path,
    options: ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    Session::open(db, Executions)?.import(path, options, progress)
}

/// One valid fill in the form the tables store it.
#[derive(Debug)]
pub struct Fill {
    line: i64,
    execution_id: String,
    account: String,
    instrument: String,
    action: &'static str,
    quantity: i64,
    price_e8: i64,
    executed_at: NaiveDateTime,
    entry_exit: &'static str,
    position: String,
    order_id: Option<String>,
    name: String,
    commission_e8: i64,
    rate_e8: i64,
    connection: String,
    trade_validation: Option<String>,
}

impl Fill {
    fn new(fill: Execution) -> Result<Self, Unstorable> {
        // The validator refuses amounts and quantities the tables cannot hold exactly; this is
        // only a second line of defence.
        let unstorable = |what: &'static str| Unstorable { line: fill.line, what };
        Ok(Fill {
            line: i64::try_from(fill.line).map_err(|_| unstorable("line number"))?,
            quantity: i64::try_from(fill.quantity).map_err(|_| unstorable("quantity"))?,
            price_e8: fill.price.e8().map_err(|_| unstorable("price"))?,
            commission_e8: fill.commission.e8().map_err(|_| unstorable("commission"))?,
            rate_e8: fill.rate.e8().map_err(|_| unstorable("rate"))?,
            action: match fill.action {
                Action::Buy => "Buy",
                Action::Sell => "Sell",
                Action::BuyToCover => "BuyToCover",
                Action::SellShort => "SellShort",
            },
            entry_exit: match fill.entry_exit {
                EntryExit::Entry => "Entry",
                EntryExit::Exit => "Exit",
            },
            executed_at: fill.time,
            execution_id: fill.execution_id,
            account: fill.account,
            instrument: fill.instrument,
            position: fill.position,
            order_id: fill.order_id,
            name: fill.name,
            connection: fill.connection,
            trade_validation: fill.trade_validation,
        })
    }
}

impl StageRow for Fill {
    fn write<'b>(&'b self, values: &mut dyn Values<'b>) {
        values.bigint(&self.line);
        values.text(&self.execution_id);
        values.text(&self.account);
        values.text(&self.instrument);
        values.text(self.action);
        values.bigint(&self.quantity);
        values.bigint(&self.price_e8);
        values.timestamp(&self.executed_at);
        values.text(self.entry_exit);
        values.text(&self.position);
        values.nullable_text(&self.order_id);
        values.text(&self.name);
        values.bigint(&self.commission_e8);
        values.bigint(&self.rate_e8);
        values.text(&self.connection);
        values.nullable_text(&self.trade_validation);
    }
}

impl Importer for Executions {
    type Row = Fill;
    const STAGE: Stage = STAGE;
    const SKIPPED: &'static [&'static str] = &["already_imported", "duplicated_in_file"];
    const HISTORY: Option<History> = Some(History { table: "imported_files" });

    fn domain(&self) -> &'static Domain {
        &crate::MIGRATIONS
    }

    fn validator(&self) -> Result<Validator, upload_validator::Error> {
        Validator::new(PayloadKind::NinjaTraderExecutions, Context::default())
    }

    fn row(&self, record: Record) -> Result<Option<Fill>, Unstorable> {
        match record {
            Record::Execution(fill) => Fill::new(fill).map(Some),
            _ => Ok(None),
        }
    }

    fn check_name(&self, name: &str) -> Result<(), String> {
        if name == BACKFILL {
            return Err(format!("{BACKFILL:?} is reserved for the backfill migration; rename the file"));
        }
        Ok(())
    }

    fn merge_postgres(&self, conn: &mut PgConnection, file_name: &str, staged: u64) -> Result<Merged> {
        // Sorting a million ids in memory instead of on disk; reset at commit.
        conn.batch_execute("SET LOCAL work_mem = '64MB'").map_err(query_error("size the merge's sort"))?;
        let counts = diesel::sql_query(&*PG_MERGE)
            .bind::<Text, _>(file_name)
            .get_result::<MergeCounts>(conn)
            .map_err(query_error("merge the file into trades and imported_executions"))?;
        Ok(counts.merged(staged))
    }

    fn merge_sqlite(&self, conn: &mut SqliteConnection, file_name: &str, staged: u64) -> Result<Merged> {
        conn.batch_execute(&SQLITE_PICK_FIRSTS).map_err(query_error("pick the first row of each new execution id"))?;
        let mut counts = diesel::sql_query(SQLITE_COUNT_FIRSTS)
            .get_result::<MergeCounts>(conn)
            .map_err(query_error("count the new execution ids"))?;
        counts.inserted = diesel::sql_query(&*SQLITE_WRITE_TRADES)
            .execute(conn)
            .map_err(query_error("write the new fills to trades"))? as i64;
        diesel::sql_query(SQLITE_RECORD_IDS)
            .bind::<Text, _>(file_name)
            .execute(conn)
            .map_err(query_error("record the ids in imported_executions"))?;
        conn.batch_execute("DROP TABLE temp.execution_firsts").map_err(query_error("drop the merge's table"))?;
        Ok(counts.merged(staged))
    }
}

/// What a merge found and wrote.
#[derive(Debug, QueryableByName)]
struct MergeCounts {
    /// Valid rows whose id the ledger lacked.
    #[diesel(sql_type = BigInt)]
    new_rows: i64,
    /// Distinct ids among them (each recorded in the ledger).
    #[diesel(sql_type = BigInt)]
    new_ids: i64,
    /// Fills written to `trades` (fewer than `new_ids` when purged ids come back).
    #[diesel(sql_type = BigInt)]
    inserted: i64,
}

impl MergeCounts {
    fn merged(&self, staged: u64) -> Merged {
        let count = |n: i64| u64::try_from(n).expect("counts are not negative");
        let (inserted, duplicated_in_file) = (count(self.inserted), count(self.new_rows - self.new_ids));
        Merged {
            inserted,
            skipped: vec![
                ("already_imported", staged - inserted - duplicated_in_file),
                ("duplicated_in_file", duplicated_in_file),
            ],
            details: Vec::new(),
        }
    }
}

/// Rows whose id the ledger lacks, sorted once: the first row of each such id (with how many
/// rows carried it) is recorded in the ledger and written to `trades`. `ON CONFLICT` on `trades`
/// covers a fill still there whose ledger row was purged. The domain's write lock keeps other
/// importers out until commit, so the ledger cannot change under the statement.
static PG_MERGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH firsts AS (
    SELECT DISTINCT ON (execution_id) *, count(*) OVER (PARTITION BY execution_id) AS copies
    FROM pg_temp.{stage} s
    WHERE NOT EXISTS (SELECT 1 FROM imported_executions i WHERE i.execution_id = s.execution_id)
    ORDER BY execution_id, line
), recorded AS (
    INSERT INTO imported_executions (execution_id, csv_filename, account, instrument)
    SELECT execution_id, $1, account, instrument FROM firsts
    ON CONFLICT (execution_id) DO NOTHING
), written AS (
    INSERT INTO trades ({columns}) SELECT {columns} FROM firsts
    ON CONFLICT (execution_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT coalesce(sum(copies), 0) FROM firsts)::BIGINT AS new_rows,
       (SELECT count(*) FROM firsts) AS new_ids,
       (SELECT count(*) FROM written) AS inserted",
        stage = STAGE.table,
        columns = STAGE.columns(""),
    )
});

/// The first row of each id the ledger lacks and how many rows carried it, in id order, so
/// the writes below fill the indexes in order. With exactly one `min()`, SQLite takes the
/// other (bare) columns from the row holding the minimum.
static SQLITE_PICK_FIRSTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "CREATE TEMPORARY TABLE execution_firsts AS
SELECT min(line) AS line, {columns}, count(*) AS copies
FROM temp.{stage} s
WHERE NOT EXISTS (SELECT 1 FROM imported_executions i WHERE i.execution_id = s.execution_id)
GROUP BY execution_id ORDER BY execution_id",
        stage = STAGE.table,
        columns = STAGE.columns(""),
    )
});

const SQLITE_COUNT_FIRSTS: &str = "
SELECT coalesce(sum(copies), 0) AS new_rows, count(*) AS new_ids, 0 AS inserted FROM temp.execution_firsts";

/// The new fills. `ON CONFLICT` covers a fill still in `trades` whose ledger row was purged:
/// it is recorded again below, not written twice.
static SQLITE_WRITE_TRADES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO trades ({columns}) SELECT {columns} FROM temp.execution_firsts WHERE true
ON CONFLICT (execution_id) DO NOTHING",
        columns = STAGE.columns(""),
    )
});

const SQLITE_RECORD_IDS: &str = "
INSERT INTO imported_executions (execution_id, csv_filename, account, instrument)
SELECT execution_id, ?, account, instrument FROM temp.execution_firsts WHERE true
ON CONFLICT (execution_id) DO NOTHING";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_writes_the_declared_columns() {
        use fixtures::ninjatrader::{Execution, Style, export};
        let mut records = Vec::new();
        let mut validator = Executions.validator().unwrap();
        validator.push_each(export(Style::NATIVE_EN_US, [Execution::sample(1)]).as_bytes(), &mut |r| records.push(r));
        validator.finish_each(&mut |r| records.push(r));
        let fill = Executions.row(records.remove(0)).unwrap().expect("a fill");
        STAGE.check_row(&fill).unwrap();
    }
}
