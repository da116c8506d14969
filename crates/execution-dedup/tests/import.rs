//! Importing NinjaTrader exports against real SQLite and PostgreSQL databases: every
//! FORMATS.md variant, re-imports, growing files, deleted fills, invalid rows, the backfill
//! migration and the purge.

mod common;

use common::{Fill, export, import, ledger, migrate, query_strings, trade_ids, write_file};
use execution_dedup::{Error, ImportOptions, Outcome};
use migration_core::{Migrator, RollbackTarget};
use test_support::{TestDatabase, on_both_backends};

fn golden(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../upload-validator/tests/golden").join(name)
}

fn every_variant_imports_with_exact_counts(db: &TestDatabase) {
    migrate(db);
    let cases = [
        ("ninjatrader_executions.native_en_us.csv", 4),
        ("ninjatrader_executions.european.csv", 2),
        ("ninjatrader_executions.excel_resave.csv", 2),
        ("ninjatrader_executions.exporter_15_columns.csv", 2),
    ];
    for (file, rows) in cases {
        let summary = import(db, &golden(file), false);
        assert_eq!(summary.outcome, Outcome::Imported, "{file}: {summary:#?}");
        assert_eq!((summary.rows_read, summary.inserted, summary.rejected), (rows, rows, 0), "{file}");
    }
    assert_eq!(trade_ids(db).len(), 10);
    assert_eq!(ledger(db).len(), 10);
    // Exact values, whatever the locale wrote: decimal comma, "-$ 200,00", day-first 24-hour time,
    // "Account display name", Excel's "22092" and minute-only time, the 15th column.
    let row = |id: &str| {
        query_strings(
            db,
            &format!(
                "SELECT CAST(price_e8 AS TEXT) || '|' || CAST(commission_e8 AS TEXT) || '|' || CAST(executed_at AS TEXT) || '|' || account || '|' || connection || '|' || COALESCE(trade_validation, '-') || '|' || COALESCE(order_id, '-') AS value FROM trades WHERE execution_id = '{id}'"
            ),
        )
        .join("")
    };
    assert_eq!(
        row("b1b2c3d4e5f60718293a4b5c6d7e8f90"),
        "719025000000|-20000000000|2026-04-27 14:15:40|Sim101|Connexion|-|1a1b2c3d4e5f60718293a4b5c6d7e8f"
    );
    assert_eq!(row("158000000201"), "2209200000000|155000000|2025-06-16 21:08:00|ACCT0000000001|My Connection|-|-");
    assert_eq!(row("158000000301"), "640025000000|410000000|2025-08-01 10:00:01|ACCT0000000003|Rithmic|Valid|-");
    assert_eq!(row("303363433426_1"), "2102000000000|155000000|2025-02-03 12:05:00|ACCT0000000002|My Connection|-|-");
}

fn reimport_and_growing_file_add_only_new_fills(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    let morning: Vec<Fill> = (1..=3).map(Fill::new).collect();
    let path = write_file(&dir, "executions.csv", &export(&morning));
    let first = import(db, &path, false);
    assert_eq!((first.rows_read, first.inserted, first.already_imported), (3, 3, 0));
    // Unchanged: not read again; the counts are those of the import it is unchanged since.
    let again = import(db, &path, false);
    assert_eq!(again.outcome, Outcome::Unchanged);
    assert_eq!((again.rows_read, again.inserted, again.already_imported), (3, 3, 0));
    // The same export, later in the day: two more fills appended. Only the new part is read,
    // from the last fill imported (read again, in case it was still being written).
    let day: Vec<Fill> = (1..=5).map(Fill::new).collect();
    write_file(&dir, "executions.csv", &export(&day));
    let grown = import(db, &path, false);
    assert_eq!(grown.outcome, Outcome::Imported);
    assert_eq!(
        (grown.rows_read, grown.inserted, grown.already_imported, grown.duplicated_in_file, grown.unchanged_prefix),
        (5, 2, 1, 0, 2)
    );
    // A different file under the same name (the prefix changed) is read whole.
    let other: Vec<Fill> = (4..=6).map(Fill::new).collect();
    write_file(&dir, "executions.csv", &export(&other));
    let edited = import(db, &path, false);
    assert_eq!((edited.rows_read, edited.inserted, edited.already_imported, edited.unchanged_prefix), (3, 1, 2, 0));
    assert_eq!(trade_ids(db), (1..=6).map(Fill::id_of).collect::<Vec<_>>());
    assert!(ledger(db).iter().all(|(_, file)| file == "executions.csv"));
}

fn repeated_ids_in_a_file_keep_the_first_row(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    let mut fills = vec![Fill::new(1), Fill::new(2), Fill::new(1), Fill::new(3), Fill::new(1)];
    fills[2].quantity = 7;
    let summary = import(db, &write_file(&dir, "overlap.csv", &export(&fills)), false);
    assert_eq!(
        (summary.rows_read, summary.inserted, summary.duplicated_in_file, summary.already_imported),
        (5, 3, 2, 0)
    );
    assert_eq!(
        query_strings(
            db,
            &format!("SELECT CAST(quantity AS TEXT) AS value FROM trades WHERE execution_id = '{}'", Fill::id_of(1))
        ),
        ["1"]
    );
    // Copy trading: the same fill in two accounts has two ids, and both are kept.
    let mut copy = Fill::new(9);
    copy.account = "APEX-2".into();
    let copied = import(db, &write_file(&dir, "copy.csv", &export(&[Fill::new(8), copy])), false);
    assert_eq!(copied.inserted, 2);
}

fn a_deleted_fill_is_not_brought_back(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "day.csv", &export(&[Fill::new(1), Fill::new(2)]));
    import(db, &path, false);
    db.database()
        .get()
        .unwrap()
        .batch_execute(&format!("DELETE FROM trades WHERE execution_id = '{}'", Fill::id_of(1)))
        .unwrap();
    let again = import(db, &path, false);
    assert_eq!(again.outcome, Outcome::Unchanged);
    // The same rows under another name are read: the ledger keeps the deleted fill out.
    let copy = write_file(&dir, "day (1).csv", &export(&[Fill::new(1), Fill::new(2)]));
    let copied = import(db, &copy, false);
    assert_eq!((copied.inserted, copied.already_imported), (0, 2));
    assert_eq!(trade_ids(db), [Fill::id_of(2)]);
}

fn a_file_with_an_invalid_row_imports_nothing_unless_told(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    let mut bad = Fill::new(2);
    bad.price = "21O12.25".into();
    let path = write_file(&dir, "typo.csv", &export(&[Fill::new(1), bad, Fill::new(3)]));

    let refused = import(db, &path, false);
    assert_eq!(refused.outcome, Outcome::Refused);
    assert_eq!((refused.rows_read, refused.rejected, refused.inserted), (3, 1, 0));
    let finding = &refused.findings[0];
    assert_eq!((finding.line, finding.column, finding.column_name.as_deref()), (3, Some(4), Some("Price")));
    assert_eq!(finding.rule.code(), "number");
    assert!(trade_ids(db).is_empty() && ledger(db).is_empty(), "a refused file writes nothing");

    let skipped = import(db, &path, true);
    assert_eq!(skipped.outcome, Outcome::Imported);
    assert_eq!((skipped.rows_read, skipped.inserted, skipped.rejected), (3, 2, 1));
    assert_eq!(skipped.findings.len(), 1, "the skipped row is listed");
    assert_eq!(trade_ids(db), [Fill::id_of(1), Fill::id_of(3)]);
}

fn a_truncated_read_is_never_imported_even_when_skipping(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    // A row longer than any real one stops the validator; the rows after it were never seen,
    // so importing "the valid rows" would silently drop them.
    let mut huge = Fill::new(2);
    huge.name = "x".repeat(2 << 20);
    let path = write_file(&dir, "broken.csv", &export(&[Fill::new(1), huge, Fill::new(3)]));
    let summary = import(db, &path, true);
    assert_eq!(summary.outcome, Outcome::Refused);
    assert!(summary.findings.iter().any(|f| f.rule.code() == "record-too-long"), "{:#?}", summary.findings);
    assert!(trade_ids(db).is_empty());
}

fn a_missing_file_or_unmigrated_database_fails_clearly(db: &TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "day.csv", &export(&[Fill::new(1)]));
    let error = execution_dedup::import_file(db.database(), &path, ImportOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(error, Error::NotMigrated { .. }), "{error}");
    assert!(
        error.to_string().contains(
            "execution_dedup imports: migrations not applied: 20251003000000_create_imported_executions (pending)"
        ),
        "{error}"
    );

    migrate(db);
    let missing = dir.path().join("nope.csv");
    let error =
        execution_dedup::import_file(db.database(), &missing, ImportOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(error, Error::Read { .. }) && error.to_string().contains("nope.csv"), "{error}");
    let reserved = write_file(&dir, "BACKFILL", &export(&[Fill::new(1)]));
    let error =
        execution_dedup::import_file(db.database(), &reserved, ImportOptions::default(), &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("reserved"), "{error}");
    assert!(trade_ids(db).is_empty());
}

fn backfill_records_existing_trades_and_its_down_removes_only_those(db: &TestDatabase) {
    let migrator = Migrator::new([&execution_dedup::MIGRATIONS]).unwrap();
    migrator.run(db.database(), None).unwrap();
    // Back to just before the backfill (and the migrations after it).
    let backfill = RollbackTarget::To("20251003000100".into());
    migrator.rollback(db.database(), None, &backfill).unwrap();
    // Trades from before imports were tracked, one of them also imported already.
    let dir = tempfile::tempdir().unwrap();
    db.database()
        .get()
        .unwrap()
        .batch_execute(
            "INSERT INTO imported_executions (execution_id, csv_filename) VALUES ('LIVE-2', 'old.csv');
             INSERT INTO trades (execution_id, account, instrument, action, quantity, price_e8, executed_at, entry_exit,
                                 position, name, commission_e8, rate_e8, connection)
             VALUES ('LIVE-1', 'A', 'NQ', 'Buy', 1, 1, '2024-01-02 09:30:00', 'Entry', '1 L', '', 0, 100000000, 'c'),
                    ('LIVE-2', 'A', 'NQ', 'Sell', 1, 1, '2024-01-02 09:31:00', 'Exit', '-', '', 0, 100000000, 'c'),
                    (NULL, 'A', 'NQ', 'Buy', 1, 1, '2024-01-02 09:32:00', 'Entry', '1 L', 'by hand', 0, 100000000, 'c');",
        )
        .unwrap();
    migrator.run(db.database(), None).unwrap();
    let expected = [("LIVE-1".to_owned(), "BACKFILL".to_owned()), ("LIVE-2".to_owned(), "old.csv".to_owned())];
    assert_eq!(ledger(db), expected);
    assert_eq!(
        query_strings(
            db,
            "SELECT CAST(import_timestamp AS TEXT) AS value FROM imported_executions WHERE csv_filename = 'BACKFILL'"
        ),
        ["2024-01-02 09:30:00"],
        "a backfilled id carries its fill's time"
    );
    // Down removes the backfilled row only; up again gives the same ledger (idempotent).
    migrator.rollback(db.database(), None, &backfill).unwrap();
    assert_eq!(ledger(db), [("LIVE-2".to_owned(), "old.csv".to_owned())]);
    migrator.run(db.database(), None).unwrap();
    assert_eq!(ledger(db), expected);
    // An export holding a backfilled fill does not write it again.
    let mut live = Fill::new(1);
    live.id = "LIVE-1".into();
    let summary = import(db, &write_file(&dir, "history.csv", &export(&[live])), false);
    assert_eq!((summary.inserted, summary.already_imported), (0, 1));
}

fn purge_forgets_old_ids_and_reimport_then_restores_only_deleted_fills(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    let old = write_file(&dir, "old.csv", &export(&[Fill::new(1), Fill::new(2)]));
    import(db, &old, false);
    let recent = write_file(&dir, "recent.csv", &export(&[Fill::new(3)]));
    import(db, &recent, false);
    let mut connection = db.database().get().unwrap();
    connection
        .batch_execute(&format!(
            "UPDATE imported_executions SET import_timestamp = '2020-01-01 00:00:00' WHERE csv_filename = 'old.csv';
             DELETE FROM trades WHERE execution_id = '{}';",
            Fill::id_of(1)
        ))
        .unwrap();
    drop(connection);

    let dry = execution_dedup::purge(db.database(), 30, true).unwrap();
    assert_eq!((dry.removed, dry.dry_run), (2, true));
    assert_eq!(ledger(db).len(), 3, "a dry run changes nothing");
    let purged = execution_dedup::purge(db.database(), 30, false).unwrap();
    assert_eq!(purged.removed, 2);
    assert_eq!(ledger(db), [(Fill::id_of(3), "recent.csv".to_owned())]);

    // Forgotten ids: the deleted fill comes back, the one still in trades is not duplicated.
    let again = import(db, &old, false);
    assert_eq!((again.inserted, again.already_imported), (1, 1));
    assert_eq!(trade_ids(db), [Fill::id_of(1), Fill::id_of(2), Fill::id_of(3)]);
    assert_eq!(ledger(db).len(), 3);
}

on_both_backends!(
    every_variant_imports_with_exact_counts,
    reimport_and_growing_file_add_only_new_fills,
    repeated_ids_in_a_file_keep_the_first_row,
    a_deleted_fill_is_not_brought_back,
    a_file_with_an_invalid_row_imports_nothing_unless_told,
    a_truncated_read_is_never_imported_even_when_skipping,
    a_missing_file_or_unmigrated_database_fails_clearly,
    backfill_records_existing_trades_and_its_down_removes_only_those,
    purge_forgets_old_ids_and_reimport_then_restores_only_deleted_fills,
);

/// An import raises SQLite's busy timeout and page caches on its connection; the pooled
/// connection must come back with the settings every other user expects.
#[test]
fn an_sqlite_import_leaves_its_pooled_connection_as_it_found_it() {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        value: i64,
    }
    // `:memory:` pools exactly one connection, so the import's connection is the one read here.
    let db = migration_core::Database::connect(":memory:").unwrap();
    Migrator::new([&execution_dedup::MIGRATIONS]).unwrap().run(&db, None).unwrap();
    let settings = || {
        let mut connection = db.get().unwrap();
        [
            "SELECT timeout AS value FROM pragma_busy_timeout",
            "SELECT cache_size AS value FROM pragma_cache_size",
            "SELECT cache_size AS value FROM pragma_cache_size WHERE schema = 'temp'",
        ]
        .map(|sql| {
            migration_core::dispatch!(connection, conn => {
                use diesel::RunQueryDsl as _;
                diesel::sql_query(sql).get_result::<Setting>(conn)
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .value
        })
    };
    let before = settings();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "day.csv", &export(&[Fill::new(1), Fill::new(2)]));
    let summary = execution_dedup::import_file(&db, &path, ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(summary.counts.inserted, 2);
    assert_eq!(settings(), before);
}

/// Another connection holds SQLite's write lock (PostgreSQL imports queue on the domain's
/// advisory lock instead): the import waits its lock wait, then gives up naming the lock,
/// writing nothing; once the lock is free the same import goes through.
#[test]
fn an_sqlite_import_that_cannot_get_the_write_lock_says_so_and_writes_nothing() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    let db = TestDatabase::sqlite();
    migrate(&db);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "day.csv", &export(&[Fill::new(1), Fill::new(2)]));
    let mut holder = diesel::SqliteConnection::establish(db.url().trim_start_matches("sqlite://")).unwrap();
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();
    let session = execution_dedup::Session::open(db.database(), execution_dedup::Executions)
        .unwrap()
        .with_lock_wait(std::time::Duration::from_millis(300));
    let error = session.import(&path, ImportOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(error, Error::Locked { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("day.csv: gave up after 0.3 s waiting for the database's write lock"), "{message}");
    assert!(message.contains("nothing was written"), "{message}");
    assert!(trade_ids(&db).is_empty());
    holder.batch_execute("COMMIT").unwrap();
    let report = session.import(&path, ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(report.counts.inserted, 2);
}
