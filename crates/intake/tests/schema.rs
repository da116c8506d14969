//! The schema intake ships, through `intake migrate`: both backends agree, every migration
//! reverses, the live schema is checked for drift, and the lint sees what it must.

mod common;

use common::{intake, stdout};
use migration_core::Backend;
use migration_core::Snapshot;
use test_support::{TestDatabase, on_both_backends};

fn snapshot(db: &TestDatabase) -> Snapshot {
    serde_json::from_str(&stdout(&intake(db.url(), &["migrate", "snapshot", "--json"]))).unwrap()
}

/// Every domain's migrations give the same tables, columns, keys, indexes and foreign-key
/// actions on PostgreSQL and SQLite, up to the documented type mapping.
#[test]
fn postgres_and_sqlite_schemas_agree_for_every_domain() {
    let postgres = TestDatabase::postgres();
    let sqlite = TestDatabase::sqlite();
    for db in [&postgres, &sqlite] {
        stdout(&intake(db.url(), &["migrate"]));
    }
    let (postgres, sqlite) = (snapshot(&postgres), snapshot(&sqlite));
    assert!(postgres.objects.len() > 20, "{postgres:#?}");
    let problems = migration_core::snapshot::parity(&postgres, &sqlite);
    assert!(problems.is_empty(), "{problems:#?}");
}

fn verify_proves_every_migration_reverses(db: &TestDatabase) {
    let output = stdout(&intake(db.url(), &["migrate", "verify"]));
    assert!(output.contains("ok  execution_dedup/20251003000000_create_imported_executions"), "{output}");
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["migrate", "verify", "--json"]))).unwrap();
    assert!(report["failure"].is_null(), "{report}");
    let all = execution_dedup::MIGRATIONS.migrations().len()
        + alm_tracking::MIGRATIONS.migrations().len()
        + market_data::MIGRATIONS.migrations().len()
        + persistent_storage::MIGRATIONS.migrations().len()
        + upload::MIGRATIONS.migrations().len();
    assert_eq!(report["verified"].as_array().unwrap().len(), all);
}

fn check_exits_one_on_drift_and_status_says_so(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    let clean = stdout(&intake(db.url(), &["migrate", "check"]));
    assert!(clean.contains("no drift"), "{clean}");
    assert!(
        stdout(&intake(db.url(), &["migrate", "status"]))
            .contains("\nno drift: the schema is what its 27 applied migration(s) produce")
    );
    db.database()
        .get()
        .unwrap()
        .batch_execute("ALTER TABLE trades ADD COLUMN note TEXT; DROP INDEX idx_imported_executions_csv_file;")
        .unwrap();
    let drifted = intake(db.url(), &["migrate", "check"]);
    assert_eq!(drifted.status.code(), Some(1));
    let out = String::from_utf8_lossy(&drifted.stdout);
    assert!(out.contains("drift: column trades.note not in migrations"), "{out}");
    assert!(out.contains("drift: index idx_imported_executions_csv_file missing"), "{out}");
    assert!(String::from_utf8_lossy(&drifted.stderr).contains("the database differs from its migrations"));
    let status = stdout(&intake(db.url(), &["migrate", "status"]));
    assert!(status.contains("\ndrift: 2 differences from the applied migrations"), "{status}");
}

/// Seed 004's second index on `execution_id` duplicates its UNIQUE constraint's index: the
/// lint flags it with the file and line that created it, until the migration that drops it.
fn the_lint_flags_seed_004s_redundant_index(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    stdout(&intake(db.url(), &["migrate", "rollback", "--domain", "execution_dedup", "--to", "20251003000200"]));
    let output = stdout(&intake(db.url(), &["migrate", "check"]));
    let expected = format!(
        "migrations/execution_dedup/{}/20251003000000_create_imported_executions/up.sql:15: warning[redundant-index]: index idx_imported_executions_exec_id (execution_id) is redundant with unique imported_executions (execution_id)",
        db.backend().folder()
    );
    assert!(output.contains(&expected), "{output}");
    stdout(&intake(db.url(), &["migrate"]));
    let output = stdout(&intake(db.url(), &["migrate", "check"]));
    assert!(!output.contains("redundant-index"), "dropped by 20251201000000: {output}");
}

fn plan_lists_pending_migrations_and_changes_nothing(db: &TestDatabase) {
    let output = stdout(&intake(db.url(), &["migrate", "plan"]));
    assert!(output.contains("27 migration(s) would be applied"), "{output}");
    assert!(output.contains("== execution_dedup/20251003000000_create_imported_executions (in one transaction)"));
    assert!(output.contains("CREATE TABLE imported_executions"), "shows the exact SQL: {output}");
    // The redundant indexes seeds 004 and 000 create are dropped by later pending migrations,
    // so the plan flags none (the lint's own tests cover each rule). What it does flag is seed
    // 001's starting point, true of it until its own migrations change it: the CASCADEs, and
    // on PostgreSQL the DECIMAL → FLOAT rewrite and the deleted_at indexes built in place; and
    // that rolling that conversion back rounds what was written since (one per price column).
    assert!(output.contains("== execution_dedup/20251201000000_drop_redundant_execution_id_index"), "{output}");
    let warnings: Vec<&str> = output.lines().filter(|l| l.contains(": warning[")).collect();
    // Seed 003's weekly_actuals cascades from its three parents, and a workflow's forecasts
    // go with it: 4 cascade warnings; on PostgreSQL, rolling back the widened
    // historical_sales.sale_id fails on a longer id written since (1 lossy-down).
    let expected = match db.backend() {
        Backend::Postgres => 14 + 8 + 4 + 1,
        Backend::Sqlite => 7 + 8 + 4,
    };
    assert!(output.contains(&format!("\n{expected} lint warning(s)")), "{output}");
    for warning in &warnings {
        let seed_001 = warning.starts_with("migrations/market_data/")
            && ["[cascade]", "[type-rewrite]", "[index-not-concurrent]", "[lossy-down]"]
                .iter()
                .any(|r| warning.contains(r));
        let seed_003 = warning.starts_with("migrations/upload/")
            && (warning.contains("[cascade]") || warning.contains("historical_sales.sale_id from varchar(120)"));
        assert!(seed_001 || seed_003, "{warning}");
    }
    let lossy: Vec<&&str> =
        warnings.iter().filter(|w| w.contains("[lossy-down]") && w.starts_with("migrations/market_data/")).collect();
    assert_eq!(lossy.len(), 8, "{lossy:#?}");
    let down =
        format!("migrations/market_data/{}/20250901000300_convert_decimal_to_float/down.sql:", db.backend().folder());
    assert!(
        lossy.iter().any(|w| w.starts_with(&down)
            && w.ends_with("rolling back turns market_data.price from double back to numeric(12,4): a value written since with more than 4 decimals is rounded to 4, and one with more than 8 integer digits makes the rollback fail; roll back only while nothing of the kind was written, or keep a copy first")),
        "{lossy:#?}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["migrate", "status", "--json", "--no-drift"]))).unwrap();
    assert!(status["migrations"].as_array().unwrap().iter().all(|m| m["state"] == "pending"), "{status}");
}

/// A recorded checksum that no longer matches (as after an edit) stops `migrate` until the
/// edit is reblessed with a reason.
fn rebless_accepts_an_edited_migration_with_a_reason(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    db.database()
        .get()
        .unwrap()
        .batch_execute("UPDATE intake_schema_migrations SET checksum = 'edited' WHERE version = '20251003000100'")
        .unwrap();
    let refused = intake(db.url(), &["migrate"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("20251003000100_create_trades/up.sql was edited"), "{stderr}");
    assert!(
        stderr.contains("\nhint: `intake migrate new DOMAIN NAME` creates a new migration; `intake migrate rebless"),
        "{stderr}"
    );
    let status = stdout(&intake(db.url(), &["migrate", "status", "--no-drift"]));
    assert!(status.contains("MODIFIED"), "{status}");
    let without_reason = intake(db.url(), &["migrate", "rebless", "20251003000100", "--domain", "execution_dedup"]);
    assert_eq!(without_reason.status.code(), Some(2), "clap requires --reason");
    let blessed = stdout(&intake(
        db.url(),
        &["migrate", "rebless", "20251003000100", "--domain", "execution_dedup", "--reason", "comment reworded"],
    ));
    assert!(
        blessed.contains("Reblessed execution_dedup/20251003000100_create_trades: checksum edited → "),
        "{blessed}"
    );
    assert!(blessed.contains("because: comment reworded"), "{blessed}");
    assert!(stdout(&intake(db.url(), &["migrate"])).contains("Nothing to do"));
}

on_both_backends!(
    rebless_accepts_an_edited_migration_with_a_reason,
    verify_proves_every_migration_reverses,
    check_exits_one_on_drift_and_status_says_so,
    the_lint_flags_seed_004s_redundant_index,
    plan_lists_pending_migrations_and_changes_nothing,
);
