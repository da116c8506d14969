//! The migration core against real SQLite and PostgreSQL databases.

mod common;

use std::time::{Duration, Instant};

use common::{BROKEN, DEMO, DEMO_EDITED, DEMO_OLDER, NO_TRANSACTION, OTHER, expected_demo_schema, live_schema};
use migration_core::{Database, Error, Migrator, RollbackTarget, State};
use test_support::{TestDatabase, on_both_backends};

fn versions(steps: &[migration_core::Step]) -> Vec<String> {
    steps.iter().map(|s| format!("{}/{}:{}", s.domain, s.version, s.direction)).collect()
}

fn states(migrator: &Migrator, db: &Database) -> Vec<(String, State)> {
    migrator.status(db, None).unwrap().into_iter().map(|s| (format!("{}/{}", s.domain, s.version), s.state)).collect()
}

fn run_applies_everything_once(db: &TestDatabase) {
    let migrator = Migrator::new([&DEMO]).unwrap();
    let first = migrator.run(db.database(), None).unwrap();
    assert_eq!(versions(&first), ["demo/1:up", "demo/2:up", "demo/3:up", "demo/4:up", "demo/5:up"]);
    assert!(migrator.run(db.database(), None).unwrap().is_empty(), "second run applies nothing");
    assert_eq!(live_schema(&mut db.database().get().unwrap()), expected_demo_schema(5));
    let status = migrator.status(db.database(), None).unwrap();
    assert!(status.iter().all(|s| s.state == State::Applied && s.applied_at.is_some()), "{status:#?}");
}

fn status_before_run_reports_pending_and_writes_nothing(db: &TestDatabase) {
    let migrator = Migrator::new([&DEMO, &OTHER]).unwrap();
    let status = migrator.status(db.database(), None).unwrap();
    assert_eq!(status.len(), 6);
    assert!(status.iter().all(|s| s.state == State::Pending && s.applied_at.is_none()));
    let mut connection = db.database().get().unwrap();
    assert!(live_schema(&mut connection).is_empty());
    let bookkeeping_exists = match &mut connection {
        migration_core::DbConnection::Postgres(conn) => {
            <diesel::PgConnection as migration_core::MigrationConnection>::bookkeeping_exists(conn)
        }
        migration_core::DbConnection::Sqlite(conn) => {
            <diesel::SqliteConnection as migration_core::MigrationConnection>::bookkeeping_exists(conn)
        }
    };
    assert!(!bookkeeping_exists.unwrap(), "status must not create the bookkeeping table");
}

fn rollback_by_steps_and_to_a_version(db: &TestDatabase) {
    let migrator = Migrator::new([&DEMO]).unwrap();
    migrator.run(db.database(), None).unwrap();
    let reverted = migrator.rollback(db.database(), None, &RollbackTarget::Steps(2)).unwrap();
    assert_eq!(versions(&reverted), ["demo/5:down", "demo/4:down"]);
    assert_eq!(live_schema(&mut db.database().get().unwrap()), expected_demo_schema(3));
    let reverted = migrator.rollback(db.database(), Some("demo"), &RollbackTarget::To("1".into())).unwrap();
    assert_eq!(versions(&reverted), ["demo/3:down", "demo/2:down"]);
    assert_eq!(live_schema(&mut db.database().get().unwrap()), expected_demo_schema(1));
    let reverted = migrator.rollback(db.database(), None, &RollbackTarget::To("0".into())).unwrap();
    assert_eq!(versions(&reverted), ["demo/1:down"]);
    assert!(live_schema(&mut db.database().get().unwrap()).is_empty());
    assert!(states(&migrator, db.database()).iter().all(|(_, s)| *s == State::Pending));
}

fn rollback_refuses_impossible_targets_and_reverts_nothing(db: &TestDatabase) {
    let migrator = Migrator::new([&DEMO]).unwrap();
    migrator.run(db.database(), None).unwrap();
    let error = migrator.rollback(db.database(), None, &RollbackTarget::Steps(9)).unwrap_err();
    assert!(matches!(error, Error::RollbackTooFar { requested: 9, applied: 5, .. }), "{error}");
    let error = migrator.rollback(db.database(), None, &RollbackTarget::To("42".into())).unwrap_err();
    assert!(matches!(error, Error::RollbackTargetNotApplied { .. }), "{error}");
    assert_eq!(live_schema(&mut db.database().get().unwrap()), expected_demo_schema(5));
}

fn rollback_needs_a_domain_when_there_are_several(db: &TestDatabase) {
    let migrator = Migrator::new([&DEMO, &OTHER]).unwrap();
    let error = migrator.rollback(db.database(), None, &RollbackTarget::Steps(1)).unwrap_err();
    assert!(error.to_string().contains("known domains: demo, other"), "{error}");
}

fn redo_reverts_and_reapplies(db: &TestDatabase) {
    let migrator = Migrator::new([&DEMO]).unwrap();
    migrator.run(db.database(), None).unwrap();
    let steps = migrator.redo(db.database(), None, 2).unwrap();
    assert_eq!(versions(&steps), ["demo/5:down", "demo/4:down", "demo/4:up", "demo/5:up"]);
    assert_eq!(live_schema(&mut db.database().get().unwrap()), expected_demo_schema(5));
}

fn a_failing_migration_leaves_the_database_as_it_was(db: &TestDatabase) {
    let migrator = Migrator::new([&BROKEN]).unwrap();
    let error = migrator.run(db.database(), None).unwrap_err();
    let Error::MigrationFailed(ref failure) = error else { panic!("{error}") };
    let backend = db.backend().folder();
    assert_eq!(failure.file, format!("migrations/broken/{backend}/2_fails_halfway/up.sql"));
    assert_eq!((failure.statement, failure.line), (2, 4));
    assert!(failure.message.contains("no_such_table"), "the database's own message: {}", failure.message);
    assert!(error.to_string().contains("rolled back"), "{error}");
    // The first migration stays applied; nothing of the second survives, not even its first table.
    let schema = live_schema(&mut db.database().get().unwrap());
    assert_eq!(schema, ["table fine"]);
    assert_eq!(
        states(&migrator, db.database()),
        [("broken/1".into(), State::Applied), ("broken/2".into(), State::Pending)]
    );
}

fn domain_option_touches_only_that_domain(db: &TestDatabase) {
    let migrator = Migrator::new([&DEMO, &OTHER]).unwrap();
    let steps = migrator.run(db.database(), Some("other")).unwrap();
    assert_eq!(versions(&steps), ["other/1:up"]);
    assert_eq!(live_schema(&mut db.database().get().unwrap()), ["table widgets"]);
    assert!(migrator.status(db.database(), Some("demo")).unwrap().iter().all(|s| s.state == State::Pending));
    migrator.run(db.database(), None).unwrap();
    migrator.rollback(db.database(), Some("other"), &RollbackTarget::Steps(1)).unwrap();
    assert_eq!(live_schema(&mut db.database().get().unwrap()), expected_demo_schema(5));
    let error = migrator.run(db.database(), Some("nope")).unwrap_err();
    assert!(error.to_string().contains("unknown domain \"nope\"; known domains: demo, other"), "{error}");
}

fn migrations_can_opt_out_of_the_transaction(db: &TestDatabase) {
    let migrator = Migrator::new([&NO_TRANSACTION]).unwrap();
    assert_eq!(migrator.run(db.database(), None).unwrap().len(), 2);
    assert!(live_schema(&mut db.database().get().unwrap()).contains(&"index events_at_idx".to_owned()));
    assert_eq!(migrator.redo(db.database(), None, 1).unwrap().len(), 2);
}

/// A non-transactional script records that it started and that it finished, so a run killed
/// in between is known: `check` lists it as interrupted and the next run finishes it.
fn an_interrupted_non_transactional_migration_is_known_and_finished(db: &TestDatabase) {
    let migrator = Migrator::new([&NO_TRANSACTION]).unwrap();
    migrator.run(db.database(), None).unwrap();
    assert!(migrator.check(db.database(), None).unwrap().interrupted.is_empty());
    migrator.rollback(db.database(), None, &RollbackTarget::Steps(1)).unwrap();
    // As a run killed after its "started" row: the migration not recorded.
    let started = migration_core::AuditRow {
        domain: "no_transaction".into(),
        version: "2".into(),
        name: "index_events_concurrently".into(),
        action: "up started".into(),
        old_checksum: "x".into(),
        new_checksum: "x".into(),
        checksum_algorithm: "sha256".into(),
        at: chrono::Utc::now().naive_utc(),
        os_user: "test".into(),
        reason: "killed".into(),
    };
    let mut connection = db.database().get().unwrap();
    migration_core::dispatch!(connection, conn => migration_core::MigrationConnection::audit(conn, &started)).unwrap();
    drop(connection);
    let report = migrator.check(db.database(), None).unwrap();
    assert_eq!(report.interrupted.len(), 1, "{:?}", report.interrupted);
    assert!(
        report.interrupted[0].starts_with("no_transaction/2_index_events_concurrently (up started at ")
            && report.interrupted[0].ends_with(" UTC, not finished)"),
        "{:?}",
        report.interrupted
    );
    assert_eq!(migrator.run(db.database(), None).unwrap().len(), 1, "the next run finishes it");
    assert!(migrator.check(db.database(), None).unwrap().interrupted.is_empty());
}

fn an_edited_migration_is_refused(db: &TestDatabase) {
    Migrator::new([&DEMO]).unwrap().run(db.database(), Some("demo")).unwrap();
    let edited = Migrator::new([&DEMO_EDITED]).unwrap();
    let error = edited.run(db.database(), None).unwrap_err();
    let expected =
        format!("migrations/demo/{}/1_create_accounts/up.sql was edited after it was applied", db.backend().folder());
    assert!(error.to_string().contains(&expected), "{error}");
    assert_eq!(states(&edited, db.database())[0], ("demo/1".into(), State::Modified));
}

fn a_database_newer_than_the_binary_is_refused(db: &TestDatabase) {
    Migrator::new([&DEMO]).unwrap().run(db.database(), None).unwrap();
    let older = Migrator::new([&DEMO_OLDER]).unwrap();
    let error = older.run(db.database(), None).unwrap_err();
    assert!(matches!(error, Error::UnknownAppliedMigration { ref version, .. } if version == "3"), "{error}");
    let unknown: Vec<_> = states(&older, db.database()).into_iter().filter(|(_, s)| *s == State::Unknown).collect();
    assert_eq!(unknown.len(), 3);
}

fn concurrent_migrators_apply_each_migration_once(db: &TestDatabase) {
    let url = db.url().to_owned();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let database = Database::connect(&url).unwrap();
                Migrator::new([&DEMO, &OTHER]).unwrap().run(&database, None).map(|steps| steps.len())
            })
        })
        .collect();
    let applied: usize = handles.into_iter().map(|h| h.join().unwrap().unwrap()).sum();
    assert_eq!(applied, 6, "every migration applied exactly once across the migrators");
    assert!(states(&Migrator::new([&DEMO, &OTHER]).unwrap(), db.database()).iter().all(|(_, s)| *s == State::Applied));
}

on_both_backends!(
    run_applies_everything_once,
    status_before_run_reports_pending_and_writes_nothing,
    rollback_by_steps_and_to_a_version,
    rollback_refuses_impossible_targets_and_reverts_nothing,
    rollback_needs_a_domain_when_there_are_several,
    redo_reverts_and_reapplies,
    a_failing_migration_leaves_the_database_as_it_was,
    domain_option_touches_only_that_domain,
    migrations_can_opt_out_of_the_transaction,
    an_interrupted_non_transactional_migration_is_known_and_finished,
    an_edited_migration_is_refused,
    a_database_newer_than_the_binary_is_refused,
    concurrent_migrators_apply_each_migration_once,
);

#[test]
fn a_refused_postgres_connection_fails_fast_with_the_servers_message() {
    let started = Instant::now();
    let error = Database::connect("postgres://postgres@127.0.0.1:1/postgres").err().expect("port 1 refuses");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let message = error.to_string();
    assert!(message.contains("Connection refused"), "{message}");
    assert!(message.contains("127.0.0.1:1"), "names the URL: {message}");
}

#[test]
fn a_missing_postgres_database_is_reported_by_name() {
    let admin =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let url = format!("{}/intake_no_such_database", admin.rsplit_once('/').unwrap().0);
    let message = Database::connect(&url).err().expect("no such database").to_string();
    assert!(message.contains("\"intake_no_such_database\" does not exist"), "{message}");
}

#[test]
fn an_sqlite_file_in_a_missing_folder_is_created_with_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/intake.db");
    Database::connect(&format!("sqlite://{}", path.display())).unwrap();
    assert!(path.exists());
}

#[test]
fn two_domains_with_one_name_are_rejected() {
    let error = Migrator::new([&DEMO, &DEMO_EDITED]).unwrap_err();
    assert!(matches!(error, Error::DuplicateDomain { .. }), "{error}");
}

/// A pooled connection whose server session died (a restart, an administrator) fails its next
/// statement as a lost connection and is retired on its return: the pool hands out a working
/// one next, without a `SELECT 1` at every check-out.
#[test]
fn a_lost_postgres_connection_is_retired_by_the_pool() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let db = TestDatabase::postgres();
    let pid = |connection: &mut migration_core::DbConnection| -> QueryResult<i32> {
        migration_core::dispatch!(*connection, conn => diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result::<Pid>(conn).map(|p| p.pid))
    };
    let mut pooled = db.database().get().unwrap();
    let victim = pid(&mut pooled).unwrap();
    drop(pooled);
    let mut admin = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({victim})")).execute(&mut admin).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut dead = db.database().get().unwrap();
    let error = pid(&mut dead).expect_err("its session was terminated");
    assert!(migration_core::is_lost_connection(&error), "{error:?}");
    drop(dead);
    let mut fresh = db.database().get().unwrap();
    let replacement = pid(&mut fresh).unwrap();
    assert_ne!(replacement, victim);
}
