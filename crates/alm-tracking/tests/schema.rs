//! Seed 000's testing steps and checklist, on both backends: the tables exist, the unique
//! constraints are listed, an import_history row inserts and a duplicate date is refused,
//! the triggers keep last_updated current, and the rollback leaves the database as it was.

mod common;

use common::{execute, migrate, strings, try_execute};
use migration_core::{Backend, Migrator, RollbackTarget, Snapshot};
use test_support::{TestDatabase, on_both_backends};

fn snapshot(db: &TestDatabase) -> Snapshot {
    Snapshot::read(&mut db.database().get().unwrap()).unwrap()
}

/// Test 1: the seed's three tables, and the two it alters.
fn the_tables_exist(db: &TestDatabase) {
    migrate(db);
    let query = match db.backend() {
        Backend::Postgres => {
            "SELECT table_name AS value FROM information_schema.tables WHERE table_schema = 'alm_reporting' ORDER BY table_name"
        }
        Backend::Sqlite => {
            "SELECT substr(name, 15) AS value FROM sqlite_master WHERE type = 'table' AND name LIKE 'alm\\_reporting\\_%' ESCAPE '\\' ORDER BY name"
        }
    };
    assert_eq!(
        strings(db, query),
        ["chronological_events", "daily_summary", "import_history", "processed_files", "processing_status"]
    );
    // The seed's default automation row.
    assert_eq!(
        strings(db, "SELECT process_name || ' ' || current_state AS value FROM alm_reporting.processing_status"),
        ["ALM_DAILY_AUTOMATION READY"]
    );
}

/// Test 2: the unique constraints, by name on PostgreSQL (as the seed's query lists them),
/// and by columns in the snapshot on both (SQLite keeps the names only in the table's SQL).
fn the_unique_constraints_are_listed(db: &TestDatabase) {
    migrate(db);
    if db.backend() == Backend::Postgres {
        let names = strings(
            db,
            "SELECT conname || ' ' || conrelid::regclass::text AS value FROM pg_constraint
             WHERE connamespace = 'alm_reporting'::regnamespace AND contype = 'u' ORDER BY conname",
        );
        assert_eq!(
            names,
            [
                "import_history_import_date_key alm_reporting.import_history",
                "uk_chronological_events_account_transaction alm_reporting.chronological_events",
                "uk_daily_summary_account_date alm_reporting.daily_summary",
                "uk_processed_files_name_hash alm_reporting.processed_files",
            ]
        );
    } else {
        let sql =
            strings(db, "SELECT sql AS value FROM sqlite_master WHERE name LIKE 'alm\\_reporting\\_%' ESCAPE '\\'");
        for name in [
            "uk_chronological_events_account_transaction",
            "uk_daily_summary_account_date",
            "uk_processed_files_name_hash",
        ] {
            assert!(sql.iter().any(|s| s.contains(&format!("CONSTRAINT {name} UNIQUE"))), "{name}: {sql:#?}");
        }
    }
    let snapshot = snapshot(db);
    let prefix = if db.backend() == Backend::Postgres { "alm_reporting." } else { "alm_reporting_" };
    let unique: Vec<String> = snapshot
        .objects
        .iter()
        .filter(|o| o.kind == migration_core::snapshot::Kind::Unique)
        .map(|o| o.name.replacen(prefix, "", 1))
        .collect();
    for expected in [
        "chronological_events (account_id, source_transaction_id)",
        "daily_summary (account_id, summary_date)",
        "import_history (import_date)",
        "processed_files (file_name, file_hash)",
    ] {
        assert!(unique.iter().any(|u| u == expected), "{expected} in {unique:#?}");
    }
}

/// Test 3: an import_history row inserts; a second one for the same date is refused.
fn a_duplicate_import_date_is_refused(db: &TestDatabase) {
    migrate(db);
    execute(
        db,
        "INSERT INTO alm_reporting.import_history (import_date, status, files_processed, records_imported)
         VALUES ('2025-07-19', 'SUCCESS', CAST('[\"NAV_MTD.xml\", \"Trades_MTD.xml\"]' AS JSONB_TYPE), 150)"
            .replace("JSONB_TYPE", if db.backend() == Backend::Postgres { "JSONB" } else { "TEXT" })
            .as_str(),
    );
    assert_eq!(
        strings(
            db,
            "SELECT status || ' ' || CAST(records_imported AS TEXT) || ' ' || import_type AS value
             FROM alm_reporting.import_history WHERE import_date = '2025-07-19'"
        ),
        ["SUCCESS 150 DAILY"]
    );
    let duplicate = try_execute(
        db,
        "INSERT INTO alm_reporting.import_history (import_date, status) VALUES ('2025-07-19', 'SUCCESS')",
    );
    let error = duplicate.expect_err("a second row for the date");
    assert!(error.contains("unique") || error.contains("UNIQUE"), "{error}");
    // SQLite's stand-in for JSONB refuses what is not JSON.
    let not_json = try_execute(
        db,
        "INSERT INTO alm_reporting.import_history (import_date, status, files_processed) VALUES ('2025-07-20', 'SUCCESS', 'not json')",
    );
    assert!(not_json.is_err(), "JSONB (or its check) refuses text that is not JSON");
}

/// The checklist's "triggers update last_updated", without recursing on SQLite.
fn triggers_keep_last_updated_current(db: &TestDatabase) {
    migrate(db);
    execute(
        db,
        "INSERT INTO alm_reporting.daily_summary (account_id, summary_date, source_file, last_updated)
         VALUES ('U1', '2025-07-01', 'f.xml', '2000-01-01 00:00:00');
         INSERT INTO alm_reporting.chronological_events (account_id, event_type, event_time, source_transaction_id, source_file, last_updated)
         VALUES ('U1', 'CASH', '2025-07-01 00:00:00', '1', 'f.xml', '2000-01-01 00:00:00');",
    );
    let stamps = |db: &TestDatabase| {
        strings(
            db,
            "SELECT CAST(last_updated AS TEXT) AS value FROM alm_reporting.daily_summary
             UNION ALL SELECT CAST(last_updated AS TEXT) FROM alm_reporting.chronological_events",
        )
    };
    assert!(stamps(db).iter().all(|s| s.starts_with("2000-01-01")), "an insert keeps what it is given");
    execute(
        db,
        "UPDATE alm_reporting.daily_summary SET cash = 1; UPDATE alm_reporting.chronological_events SET amount = 1;",
    );
    let after = stamps(db);
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|s| !s.starts_with("2000") && s.as_str() > "2025"), "{after:?}");
    // An update that names last_updated is overridden, as PostgreSQL's trigger does.
    execute(db, "UPDATE alm_reporting.daily_summary SET last_updated = '2001-01-01 00:00:00'");
    assert!(!stamps(db)[0].starts_with("2001"), "{:?}", stamps(db));
}

/// The seed's rollback (each migration's down.sql) leaves the database as it was, data in the
/// other domains' tables untouched; applying again gives the same schema.
fn the_rollback_leaves_the_database_as_before(db: &TestDatabase) {
    let before = snapshot(db);
    migrate(db);
    let migrated = snapshot(db);
    execute(
        db,
        "INSERT INTO alm_reporting.daily_summary (account_id, summary_date, source_file) VALUES ('U1', '2025-07-01', 'f')",
    );
    let migrator = Migrator::new([&alm_tracking::MIGRATIONS]).unwrap();
    migrator.rollback(db.database(), Some("alm_tracking"), &RollbackTarget::To("0".into())).unwrap();
    let after = snapshot(db);
    assert_eq!(before.diff(&after), [], "the rollback restores the original schema");
    migrate(db);
    assert_eq!(migrated.diff(&snapshot(db)), []);
}

/// The seed's UNIQUE (summary_date) breaks with a second account; the later migration's key
/// takes both, and its down.sql puts the seed's key back when the data allows.
fn two_accounts_may_share_a_day(db: &TestDatabase) {
    migrate(db);
    execute(
        db,
        "INSERT INTO alm_reporting.daily_summary (account_id, summary_date, source_file) VALUES ('U1', '2025-07-01', 'f');
         INSERT INTO alm_reporting.daily_summary (account_id, summary_date, source_file) VALUES ('U2', '2025-07-01', 'f');",
    );
    let migrator = Migrator::new([&alm_tracking::MIGRATIONS]).unwrap();
    let back = migrator.rollback(db.database(), Some("alm_tracking"), &RollbackTarget::To("20250719000400".into()));
    assert!(back.is_err(), "the seed's key cannot hold two accounts on one day");
    assert_eq!(common::days(db).len(), 2, "the failed rollback changed nothing");
    execute(db, "DELETE FROM alm_reporting.daily_summary WHERE account_id = 'U2'");
    migrator.rollback(db.database(), Some("alm_tracking"), &RollbackTarget::To("20250719000400".into())).unwrap();
    assert!(try_execute(db, "INSERT INTO alm_reporting.daily_summary (account_id, summary_date, source_file) VALUES ('U2', '2025-07-01', 'f')").is_err());
}

on_both_backends!(
    the_tables_exist,
    the_unique_constraints_are_listed,
    a_duplicate_import_date_is_refused,
    triggers_keep_last_updated_current,
    the_rollback_leaves_the_database_as_before,
    two_accounts_may_share_a_day,
);
