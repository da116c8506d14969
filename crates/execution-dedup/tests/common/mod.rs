//! Fixtures for the import tests: generated NinjaTrader exports and database readers.
#![allow(dead_code, reason = "each test binary uses its own subset")]

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::Text;
use execution_dedup::{ImportOptions, ImportReport, Outcome};
use fixtures::ninjatrader::{self, Execution, Style};
use test_support::TestDatabase;
use upload_validator::Finding;

/// One fill as the en-US native export writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub id: String,
    pub quantity: u32,
    pub price: String,
    pub account: String,
    pub name: String,
    pub second: u32,
}

impl Fill {
    /// A valid fill whose id is [`Fill::id_of`]`(n)`.
    pub fn new(n: u32) -> Self {
        Fill {
            id: Self::id_of(n),
            quantity: 1,
            price: format!("{}.25", 21_000 + n),
            account: "Sim101".into(),
            name: "Entry".into(),
            second: n % 60,
        }
    }

    /// A 32-hex-digit simulated-fill id.
    pub fn id_of(n: u32) -> String {
        ninjatrader::id_of(n.into())
    }
}

/// A native en-US export: byte-order mark, CRLF, a trailing comma on every line.
pub fn export(fills: &[Fill]) -> String {
    export_styled(fills, Style::NATIVE_EN_US)
}

/// The same rows written in another style (another BOM and line ending).
pub fn export_styled(fills: &[Fill], style: Style) -> String {
    let rows = fills.iter().map(|fill| Execution {
        quantity: fill.quantity.into(),
        price: fill.price.clone(),
        time: format!("2/3/2025 9:31:{:02} AM", fill.second),
        id: fill.id.clone(),
        position: format!("{} L", fill.quantity),
        order_id: fill.id.clone(),
        name: fill.name.clone(),
        account: fill.account.clone(),
        ..Execution::sample(0)
    });
    ninjatrader::export(style, rows)
}

/// Writes `content` to `dir/name`, replacing it.
pub fn write_file(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

pub fn migrate(db: &TestDatabase) {
    migration_core::Migrator::new([&execution_dedup::MIGRATIONS]).unwrap().run(db.database(), None).unwrap();
}

/// An import's counts by name, read from its [`ImportReport`].
#[derive(Debug)]
pub struct Summary {
    pub outcome: Outcome,
    pub rows_read: u64,
    pub inserted: u64,
    pub already_imported: u64,
    pub duplicated_in_file: u64,
    pub rejected: u64,
    /// Rows of a grown file's part imported before, not read again.
    pub unchanged_prefix: u64,
    pub findings: Vec<Finding>,
}

impl From<ImportReport> for Summary {
    fn from(report: ImportReport) -> Self {
        let count = |name| report.count(name).unwrap_or_else(|| panic!("an executions report counts {name}"));
        Summary {
            outcome: report.outcome,
            rows_read: count("rows_read"),
            inserted: count("inserted"),
            already_imported: count("already_imported"),
            duplicated_in_file: count("duplicated_in_file"),
            rejected: count("rejected"),
            unchanged_prefix: count("unchanged_prefix"),
            findings: report.validation.as_ref().map(|v| v.findings.clone()).unwrap_or_default(),
        }
    }
}

pub fn import(db: &TestDatabase, path: &Path, skip_invalid: bool) -> Summary {
    execution_dedup::import_file(
        db.database(),
        path,
        ImportOptions { skip_invalid, ..ImportOptions::default() },
        &mut |_| {},
    )
    .unwrap_or_else(|error| panic!("import {}: {error}", path.display()))
    .into()
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

/// The single text column `value` of every row `sql` returns.
pub fn query_strings(db: &TestDatabase, sql: &str) -> Vec<String> {
    let mut connection = db.database().get().unwrap();
    let rows: Vec<Value> = migration_core::dispatch!(connection, conn => diesel::sql_query(sql).load(conn))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|row| row.value).collect()
}

/// Every column of every row of `trades` but the surrogate id, sorted by execution id.
pub fn trade_rows(db: &TestDatabase) -> Vec<String> {
    query_strings(
        db,
        "SELECT execution_id || '|' || account || '|' || instrument || '|' || action || '|' || CAST(quantity AS TEXT)
                || '|' || CAST(price_e8 AS TEXT) || '|' || CAST(executed_at AS TEXT) || '|' || entry_exit || '|' || position
                || '|' || coalesce(order_id, '') || '|' || name || '|' || CAST(commission_e8 AS TEXT) || '|' || connection AS value
         FROM trades ORDER BY execution_id",
    )
}

/// Execution ids in `trades`, sorted.
pub fn trade_ids(db: &TestDatabase) -> Vec<String> {
    query_strings(db, "SELECT execution_id AS value FROM trades WHERE execution_id IS NOT NULL ORDER BY execution_id")
}

/// `(execution_id, csv_filename)` of every ledger row, sorted.
pub fn ledger(db: &TestDatabase) -> Vec<(String, String)> {
    query_strings(
        db,
        "SELECT execution_id || '|' || csv_filename AS value FROM imported_executions ORDER BY execution_id",
    )
    .into_iter()
    .map(|row| {
        let (id, file) = row.split_once('|').unwrap();
        (id.to_owned(), file.to_owned())
    })
    .collect()
}
