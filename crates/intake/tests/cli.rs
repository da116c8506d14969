//! The `intake` binary end to end, against real databases.

mod common;

use common::{intake, stdout};
use std::process::Command;
use std::time::{Duration, Instant};

use test_support::{TestDatabase, on_both_backends};

fn migrate_applies_everything_then_nothing(db: &TestDatabase) {
    let first = stdout(&intake(db.url(), &["migrate"]));
    assert!(first.contains("up   ┆ execution_dedup"), "{first}");
    let second = stdout(&intake(db.url(), &["migrate"]));
    assert!(second.contains("Nothing to do"), "{second}");
    assert!(!second.contains("pending"), "{second}");
}

fn status_json_reports_every_migration(db: &TestDatabase) {
    let before: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["migrate", "status", "--json"]))).unwrap();
    assert!(before["migrations"].as_array().unwrap().iter().all(|m| m["state"] == "pending"));
    assert!(before.get("steps").is_none());
    stdout(&intake(db.url(), &["migrate", "--domain", "execution_dedup"]));
    let after: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["--json", "migrate", "status"]))).unwrap();
    // Only the domain named is applied.
    for migration in after["migrations"].as_array().unwrap() {
        if migration["domain"] == "execution_dedup" {
            assert!(migration["state"] == "applied" && migration["applied_at"].is_string(), "{migration}");
        } else {
            assert_eq!(migration["state"], "pending", "{migration}");
        }
    }
    assert_eq!(after["backend"], db.backend().folder());
}

fn rollback_and_redo_round_trip(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    let redo: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["migrate", "redo", "--domain", "alm_tracking", "--json"])))
            .unwrap();
    let directions: Vec<_> =
        redo["steps"].as_array().unwrap().iter().map(|s| s["direction"].as_str().unwrap()).collect();
    assert_eq!(directions, ["down", "up"]);
    let rollback = stdout(&intake(db.url(), &["migrate", "rollback", "--domain", "alm_tracking", "--to", "0"]));
    assert!(rollback.contains("pending"), "{rollback}");
    let too_far = intake(db.url(), &["migrate", "rollback", "--domain", "alm_tracking", "--steps", "1"]);
    assert_eq!(too_far.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&too_far.stderr).contains("only 0 applied; nothing was reverted"));
}

on_both_backends!(
    migrate_applies_everything_then_nothing,
    status_json_reports_every_migration,
    rollback_and_redo_round_trip
);

#[test]
fn the_default_database_is_an_sqlite_file_under_data() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_intake"))
        .arg("migrate")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(stdout(&output).contains("Database: sqlite://data/intake.db (SQLite)"));
    assert!(dir.path().join("data/intake.db").exists());
}

#[test]
fn a_refused_connection_fails_within_five_seconds_with_the_servers_message() {
    let started = Instant::now();
    let output = intake("postgres://postgres@127.0.0.1:1/postgres", &["migrate", "status"]);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to postgres://postgres@127.0.0.1:1/postgres")
            && stderr.contains("Connection refused"),
        "{stderr}"
    );
}

#[test]
fn an_unsupported_url_names_the_supported_schemes() {
    let output = intake("mysql://root@localhost/db", &["migrate"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("intake speaks postgres:// and sqlite://"));
}

#[test]
fn new_scaffolds_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    let output = intake(
        ":memory:",
        &["migrate", "new", "execution_dedup", "add_things", "--dir", migrations.to_str().unwrap(), "--json"],
    );
    let created: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(created["created"].as_array().unwrap().len(), 4);
    for backend in ["postgres", "sqlite"] {
        let folders: Vec<_> = std::fs::read_dir(migrations.join("execution_dedup").join(backend))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(folders.len() == 1 && folders[0].ends_with("_add_things"), "{folders:?}");
    }
}
