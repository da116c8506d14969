//! `intake alm` end to end, the binary against real databases: import with its table and
//! run line, the unchanged re-run, status, history, gaps (exit 1 when something is missing),
//! configuration, and a corrupted file (exit 1, FAILED, where).

mod common;

use std::path::Path;

use common::{intake, stdout};
use test_support::{TestDatabase, on_both_backends};

fn flex_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../alm-tracking/tests/flex").display().to_string()
}

fn imports_and_reports(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    let first = stdout(&intake(db.url(), &["alm", "import", &flex_dir(), "--date", "2025-07-03"]));
    assert!(
        first.contains(
            "┆ Already imported ┆ Updated ┆ Duplicated in file ┆ Merged into day ┆ Summary rows ┆ Rejected │"
        ),
        "{first}"
    );
    assert!(
        first.contains("Import 2025-07-03 (DAILY): SUCCESS; 15 rows written by this run, 15 in all for the date."),
        "{first}"
    );
    assert!(
        first.contains("warning: U0000002 2025-07-02 (after 2025-07-01): startingValue is not the previous day's endingValue: expected 1002500.5, found 1002600.5"),
        "{first}"
    );
    let again = stdout(&intake(db.url(), &["alm", "import", &flex_dir(), "--date", "2025-07-03"]));
    assert!(again.contains("NAV_(1244257)_MTD.xml: unchanged since its import at "), "{again}");
    assert!(again.contains("0 rows written by this run, 15 in all for the date"), "{again}");

    let status = stdout(&intake(db.url(), &["alm", "status"]));
    assert!(status.contains("│ State             ┆ READY"), "{status}");
    assert!(status.contains("10 events, 5 days, 5 files"), "{status}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["--json", "alm", "status"]))).unwrap();
    assert_eq!(json["last_success_date"], "2025-07-03");
    assert_eq!(json["configuration"]["timeout_seconds"], 300);

    let history: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["--json", "alm", "history", "--from", "2025-07-01"])))
            .unwrap();
    assert_eq!(history[0]["status"], "SUCCESS");
    assert_eq!(history[0]["files_processed"].as_array().unwrap().len(), 5);

    let gaps = intake(db.url(), &["alm", "gaps", "--from", "2025-07-03", "--to", "2025-07-04"]);
    assert_eq!(gaps.status.code(), Some(1));
    let out = String::from_utf8_lossy(&gaps.stdout);
    assert!(out.contains("│ 2025-07-04 ┆ -        ┆ no successful import"), "{out}");
    assert!(
        String::from_utf8_lossy(&gaps.stderr)
            .contains("error: 4 gap(s) and 0 continuity break(s) from 2025-07-03 to 2025-07-04")
    );
}

fn configuration_and_failures_say_what_to_do(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    let set = stdout(&intake(db.url(), &["alm", "config", "set", "timeout_seconds", "60"]));
    assert!(set.contains("│ timeout_seconds   ┆ 60 "), "{set}");
    let refused = intake(db.url(), &["alm", "config", "set", "timeout", "60"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains(
        "configuration timeout: unknown key; the keys are retry_attempts, timeout_seconds, max_files_to_keep"
    ));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("Trades_(1)_MTD.xml");
    std::fs::write(&broken, "<FlexQueryResponse>\n<FlexStatements count=\"1\">\n<FlexStatement accountId=\"U1\">\n<Trade quantity=\"x\" transactionID=\"1\" />\n").unwrap();
    let failed = intake(db.url(), &["alm", "import", broken.to_str().unwrap(), "--date", "2025-07-03"]);
    assert_eq!(failed.status.code(), Some(1));
    let out = String::from_utf8_lossy(&failed.stdout);
    assert!(out.contains("│ 4    ┆ 8 (quantity) ┆ number"), "{out}");
    assert!(out.contains("Import 2025-07-03 (DAILY): FAILED"), "{out}");
    assert!(out.contains("First problem: ") && out.contains("line 4, column 8 (quantity), rule number"), "{out}");
    let status = stdout(&intake(db.url(), &["alm", "status"]));
    assert!(status.contains("FAILED") && status.contains("Failed runs since ┆ 1"), "{status}");
}

fn alm_needs_its_migrations(db: &TestDatabase) {
    let output = intake(db.url(), &["alm", "import", &flex_dir()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the database is not ready for alm_tracking imports"), "{stderr}");
    assert!(stderr.contains("hint: run `intake migrate` first"), "{stderr}");
}

/// A run killed before it recorded its outcome leaves the date PROCESSING; the next run
/// takes it over and says so, and ends SUCCESS. (The crash suite kills real runs.)
fn the_next_run_takes_over_one_left_processing(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    let table =
        if db.url().starts_with("sqlite") { "alm_reporting_import_history" } else { "alm_reporting.import_history" };
    let mut connection = db.database().get().unwrap();
    connection
        .batch_execute(&format!(
            "INSERT INTO {table} (import_date, import_type, status, started_at) VALUES ('2025-07-03', 'DAILY', 'PROCESSING', '2025-07-03 06:00:00')"
        ))
        .unwrap();
    drop(connection);
    let output = intake(db.url(), &["alm", "import", &flex_dir(), "--date", "2025-07-03"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("note: took over the run of 2025-07-03 left PROCESSING (started 2025-07-03 06:00:00 UTC): it was interrupted"),
        "{stderr}"
    );
    assert!(stdout(&output).contains("Import 2025-07-03 (DAILY): SUCCESS"));
    let again = intake(db.url(), &["alm", "import", &flex_dir(), "--date", "2025-07-03"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("took over"), "a finished run is not taken over");
}

on_both_backends!(
    imports_and_reports,
    configuration_and_failures_say_what_to_do,
    alm_needs_its_migrations,
    the_next_run_takes_over_one_left_processing
);
