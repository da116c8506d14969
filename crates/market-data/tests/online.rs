//! The low-lock conversion on PostgreSQL (`market_data::online`): with a writer inserting
//! throughout, it ends at the very schema `intake migrate` gives, with every value the rewrite
//! would give, after which the conversion migration rewrites nothing; a run stopped in the
//! middle, or a crashed index build, is finished by the next run; SQLite refuses it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use market_data::online::{OnlineOptions, OnlineProgress, convert_online};
use market_data::price;
use migration_core::{Database, Domain, Migrator};
use test_support::TestDatabase;

mod common;
use common::populate;

/// The migrator that knows the first `k` market data migrations.
fn first(k: usize) -> Migrator<'static> {
    let all = market_data::MIGRATIONS.migrations();
    Migrator::new([&*Box::leak(Box::new(Domain::new("market_data", &all[..k])))]).unwrap()
}

/// Up to `optimize_alert_log_indexes`: the conversion is next.
fn before_conversion() -> TestDatabase {
    let db = TestDatabase::postgres();
    first(3).run(db.database(), None).unwrap();
    populate(&db);
    db
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    values: String,
}

/// Every row of both tables with each converted column as 4-decimal text (NUMERIC's own
/// text before the conversion, the double written by `price::to_text` after).
fn contents(db: &Database) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Values {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Double)]
        a: f64,
        #[diesel(sql_type = Nullable<Double>)]
        b: Option<f64>,
    }
    let mut connection = db.get().unwrap();
    migration_core::dispatch!(connection, conn => {
        let mut out = Vec::new();
        for (table, a, b) in [("market_data", "price", "bid"), ("alert_logs", "trigger_value", "threshold_value")] {
            let rows: Vec<Values> = diesel::sql_query(format!(
                "SELECT id, CAST({a} AS DOUBLE PRECISION) AS a, CAST({b} AS DOUBLE PRECISION) AS b FROM {table} ORDER BY id"
            ))
            .load(conn)
            .unwrap();
            out.extend(rows.into_iter().map(|r| {
                let b = r.b.map_or_else(|| "-".to_owned(), |b| price::to_text(b).unwrap());
                format!("{table} {}|{}|{b}", r.id, price::to_text(r.a).unwrap())
            }));
        }
        out
    })
}

fn filenode(db: &Database, table: &str) -> String {
    let mut connection = db.get().unwrap();
    let row: Row = migration_core::dispatch!(connection, conn => diesel::sql_query(format!(
        "SELECT 0::bigint AS id, pg_relation_filenode('{table}')::text AS values"
    ))
    .get_result(conn))
    .unwrap();
    row.values
}

/// Inserts ticks one statement at a time until told to stop; how many.
fn writer(db: Database, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut written = 0;
        while !stop.load(Ordering::Relaxed) {
            db.get()
                .unwrap()
                .batch_execute(
                    "INSERT INTO market_data (instrument_id, \"timestamp\", price, bid, volume) VALUES (3, '2025-09-02 00:00:00', 4321.0987, NULL, 1)",
                )
                .unwrap();
            written += 1;
        }
        written
    })
}

#[test]
fn with_a_writer_running_it_ends_at_the_migrations_schema_with_every_value() {
    let db = before_conversion();
    let before = contents(db.database());
    let stop = Arc::new(AtomicBool::new(false));
    let inserting = writer(Database::connect(db.url()).unwrap(), stop.clone());
    let mut seen = Vec::new();
    let options = OnlineOptions { batch_rows: 37, ..OnlineOptions::default() };
    let report = convert_online(db.database(), options, &mut |p| seen.push(p)).unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = inserting.join().unwrap();
    assert_eq!(report.converted, ["market_data", "alert_logs"]);
    // The 400 ticks and 50 alert logs, and the writer's ticks from before the trigger existed.
    assert!((450..=450 + written).contains(&report.rows_copied), "{written} written: {report:?}");
    assert!(
        seen.contains(&OnlineProgress::Indexing) && seen.contains(&OnlineProgress::Swapping { table: "alert_logs" })
    );

    // The migration now finds the columns converted: it rewrites neither table.
    let nodes = (filenode(db.database(), "market_data"), filenode(db.database(), "alert_logs"));
    let migrator = Migrator::new([&market_data::MIGRATIONS]).unwrap();
    migrator.run(db.database(), None).unwrap();
    assert_eq!((filenode(db.database(), "market_data"), filenode(db.database(), "alert_logs")), nodes);

    let after = contents(db.database());
    assert_eq!(after[..400], before[..400], "every tick written before");
    assert_eq!(after[400 + written as usize..], before[400..], "every alert log");
    let ticks_written = &after[400..400 + written as usize];
    assert!(ticks_written.iter().all(|row| row.ends_with("|4321.0987|-")), "{ticks_written:?}");
    let check = migrator.check(db.database(), None).unwrap();
    assert!(check.drift.is_empty(), "the same schema as the plain migration: {:#?}", check.drift_lines);
    // Nothing of the path is left, and running it again has nothing to do.
    let again = convert_online(db.database(), OnlineOptions::default(), &mut |_| {}).unwrap();
    assert!(again.converted.is_empty() && again.rows_copied == 0, "{again:?}");
}

#[test]
fn a_run_stopped_while_copying_is_finished_by_the_next() {
    let db = before_conversion();
    let before = contents(db.database());
    let options = OnlineOptions { batch_rows: 100, ..OnlineOptions::default() };
    let stopped = catch_unwind(AssertUnwindSafe(|| {
        convert_online(db.database(), options, &mut |p| {
            if matches!(p, OnlineProgress::Copying { done: 200.., .. }) {
                panic!("stopped after two batches");
            }
        })
    }));
    assert!(stopped.is_err());
    // The table still works for writers meanwhile, with the trigger filling the twin.
    db.database().get().unwrap().batch_execute("UPDATE market_data SET price = 1.2345 WHERE id = 350").unwrap();
    let report = convert_online(db.database(), options, &mut |_| {}).unwrap();
    assert_eq!(report.rows_copied, 450 - 200 - 1, "only what the first run and the trigger left: {report:?}");
    Migrator::new([&market_data::MIGRATIONS]).unwrap().run(db.database(), None).unwrap();
    let mut expected = before;
    expected[349] = expected[349].replacen(&expected[349].split('|').nth(1).unwrap().to_owned(), "1.2345", 1);
    assert_eq!(contents(db.database()), expected);
}

#[test]
fn an_index_a_crashed_build_left_invalid_is_built_again() {
    let db = before_conversion();
    let mut connection = db.database().get().unwrap();
    connection.batch_execute("ALTER TABLE market_data ADD COLUMN price__float DOUBLE PRECISION").unwrap();
    // A concurrent build that fails leaves its index behind, marked invalid.
    let failed = connection.batch_execute(
        "CREATE UNIQUE INDEX CONCURRENTLY ix_market_data_instrument_price__float ON market_data (instrument_id)",
    );
    assert!(failed.is_err());
    drop(connection);
    convert_online(db.database(), OnlineOptions::default(), &mut |_| {}).unwrap();
    let migrator = Migrator::new([&market_data::MIGRATIONS]).unwrap();
    migrator.run(db.database(), None).unwrap();
    let check = migrator.check(db.database(), None).unwrap();
    assert!(check.drift.is_empty(), "{:#?}", check.drift_lines);
}

#[test]
fn sqlite_refuses_it_and_changes_nothing() {
    let db = TestDatabase::sqlite();
    first(3).run(db.database(), None).unwrap();
    let error = convert_online(db.database(), OnlineOptions::default(), &mut |_| {}).unwrap_err().to_string();
    assert!(error.starts_with("the online conversion cannot run here: it is for PostgreSQL"), "{error}");
}
