//! Helpers for the ALM tests: the hand-made Flex files, runs, and readers that work on both
//! backends.
#![allow(dead_code, reason = "each test binary uses its own subset")]

use std::path::{Path, PathBuf};

use alm_tracking::{ImportReport, ImportType, Run, RunOptions, RunSummary};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::Text;
use migration_core::{Backend, Migrator};
use test_support::TestDatabase;

/// `tests/flex/<name>`.
pub fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flex").join(name)
}

/// Applies the alm_tracking migrations.
pub fn migrate(db: &TestDatabase) {
    Migrator::new([&alm_tracking::MIGRATIONS]).unwrap().run(db.database(), None).unwrap();
}

pub fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// One run for `date` over `files`: each file's result, then the summary.
pub fn run(db: &TestDatabase, date: &str, files: &[PathBuf]) -> (Vec<Result<ImportReport, String>>, RunSummary) {
    let options = RunOptions { date: day(date), import_type: ImportType::Daily, archive: None };
    let run = Run::start(db.database(), options).unwrap();
    let results = files.iter().map(|f| run.import(f, &mut |_| {}).map_err(|e| e.to_string())).collect();
    (results, run.finish().unwrap())
}

/// `statement` with `alm_reporting.` spelled for the backend.
pub fn sql(db: &TestDatabase, statement: &str) -> String {
    match db.backend() {
        Backend::Postgres => statement.to_owned(),
        Backend::Sqlite => statement.replace("alm_reporting.", "alm_reporting_"),
    }
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    value: Option<String>,
}

/// The one text column `value` of each row (NULL as `∅`).
pub fn strings(db: &TestDatabase, statement: &str) -> Vec<String> {
    let statement = sql(db, statement);
    let mut connection = db.database().get().unwrap();
    let rows: Vec<Value> = migration_core::dispatch!(connection, conn => diesel::sql_query(&statement).load(conn))
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    rows.into_iter().map(|r| r.value.unwrap_or_else(|| "∅".into())).collect()
}

/// Runs statements, panicking on failure.
pub fn execute(db: &TestDatabase, statements: &str) {
    db.database().get().unwrap().batch_execute(&sql(db, statements)).unwrap();
}

/// Runs one statement; the driver's error as text.
pub fn try_execute(db: &TestDatabase, statement: &str) -> Result<(), String> {
    db.database().get().unwrap().batch_execute(&sql(db, statement)).map_err(|e| e.to_string())
}

/// The events as `account|type|key|amount`, in key order.
pub fn events(db: &TestDatabase) -> Vec<String> {
    strings(
        db,
        "SELECT account_id || '|' || event_type || '|' || source_transaction_id || '|' || coalesce(CAST(amount AS TEXT), '∅') AS value
         FROM alm_reporting.chronological_events ORDER BY account_id, source_transaction_id",
    )
}

/// The days as `account|date|start|end|cash`.
pub fn days(db: &TestDatabase) -> Vec<String> {
    strings(
        db,
        "SELECT account_id || '|' || CAST(summary_date AS TEXT) || '|' || coalesce(CAST(starting_value AS TEXT), '∅')
                || '|' || coalesce(CAST(ending_value AS TEXT), '∅') || '|' || coalesce(CAST(cash AS TEXT), '∅') AS value
         FROM alm_reporting.daily_summary ORDER BY account_id, summary_date",
    )
}

/// A Flex file with one statement per `(account, day, generated, rows)`.
pub fn flex(statements: &[(&str, &str, &str, String)]) -> String {
    let mut xml = format!(
        "<FlexQueryResponse queryName=\"test\" type=\"AF\">\n<FlexStatements count=\"{}\">\n",
        statements.len()
    );
    for (account, day, generated, rows) in statements {
        xml.push_str(&format!(
            "<FlexStatement accountId=\"{account}\" fromDate=\"{day}\" toDate=\"{day}\" period=\"MonthToDate\" whenGenerated=\"{generated}\">\n{rows}</FlexStatement>\n"
        ));
    }
    xml.push_str("</FlexStatements>\n</FlexQueryResponse>\n");
    xml
}
