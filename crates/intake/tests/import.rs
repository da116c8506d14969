//! `intake executions import` and `intake executions purge` end to end, against real databases,
//! including two importer processes racing on overlapping files.

mod common;

use common::{intake, stdout};
use std::path::PathBuf;
use std::process::{Command, Output};

use fixtures::ninjatrader::{self, Execution, Style};
use test_support::{TestDatabase, on_both_backends};

/// An en-US export of fills `ids` (32-hex-digit ids), optionally with a broken price on one.
fn export(dir: &tempfile::TempDir, name: &str, ids: impl IntoIterator<Item = u32>, broken: Option<u32>) -> PathBuf {
    let rows = ids.into_iter().map(|id| Execution {
        instrument: "NQ MAR25".into(),
        action: "Sell".into(),
        quantity: 2,
        price: if broken == Some(id) { "21,012.25".to_owned() } else { format!("{}.5", 20_000 + id % 1000) },
        time: format!("2/3/2025 1:{:02}:{:02} PM", id / 60 % 60, id % 60),
        id: ninjatrader::id_of(id.into()),
        entry_exit: "Exit".into(),
        position: "-".into(),
        order_id: String::new(),
        name: "Target1".into(),
        commission: "$1.24".into(),
        account: "Sim101".into(),
        connection: "Rithmic".into(),
        ..Execution::sample(0)
    });
    let path = dir.path().join(name);
    std::fs::write(&path, ninjatrader::export(Style::PLAIN, rows)).unwrap();
    path
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn count(db: &TestDatabase, table: &str) -> u64 {
    let sql = format!("SELECT count(*) AS n, count(DISTINCT execution_id) AS d FROM {table}");
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        d: i64,
    }
    let mut connection = db.database().get().unwrap();
    let counts: Counts = migration_core::dispatch!(connection, conn => {
        use diesel::RunQueryDsl as _;
        diesel::sql_query(&sql).get_result(conn)
    })
    .unwrap();
    assert_eq!(counts.n, counts.d, "{table} holds an execution id twice");
    counts.n as u64
}

fn import_prints_a_summary_json_and_refuses_invalid_files(db: &TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let good = export(&dir, "good.csv", 1..=5, None);
    let unmigrated = intake(db.url(), &["executions", "import", good.to_str().unwrap()]);
    assert_eq!(unmigrated.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unmigrated.stderr);
    assert!(
        stderr.contains("migrations not applied") && stderr.contains("hint: run `intake migrate` first"),
        "{stderr}"
    );

    stdout(&intake(db.url(), &["migrate"]));
    let table = stdout(&intake(db.url(), &["executions", "import", good.to_str().unwrap()]));
    assert!(table.contains("Already imported") && table.contains("imported"), "{table}");

    // The same file again is recognised by its hash and not read: the counts are the earlier
    // import's, and it is not a failure.
    let again = intake(db.url(), &["--json", "executions", "import", good.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    let report = json(&again);
    assert_eq!(report[0]["outcome"], "unchanged");
    assert!(report[0]["unchanged_since"].is_string(), "{report}");
    assert_eq!((report[0]["rows_read"].as_u64(), report[0]["inserted"].as_u64()), (Some(5), Some(5)));
    let table = stdout(&intake(db.url(), &["executions", "import", good.to_str().unwrap()]));
    assert!(table.contains("good.csv: unchanged since its import at ") && table.contains("not read again"), "{table}");

    let bad = export(&dir, "bad.csv", 10..=12, Some(11));
    let refused = intake(db.url(), &["executions", "import", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(stdout.contains("4 (Price)") && stdout.contains("number"), "{stdout}");
    assert!(stdout.contains("--skip-invalid to import the 2 valid rows"), "{stdout}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("1 of 1 files not imported"));
    assert_eq!(count(db, "trades"), 5);

    let skipped = json(&intake(db.url(), &["--json", "executions", "import", "--skip-invalid", bad.to_str().unwrap()]));
    assert_eq!((skipped[0]["inserted"].as_u64(), skipped[0]["rejected"].as_u64()), (Some(2), Some(1)));
    assert_eq!(skipped[0]["validation"]["findings"][0]["line"], 3);
    assert_eq!(count(db, "trades"), 7);

    let missing = intake(db.url(), &["executions", "import", "no-such-file.csv", good.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read no-such-file.csv"));
}

fn concurrent_importers_write_each_fill_once(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    let dir = tempfile::tempdir().unwrap();
    // Two overlapping exports, imported by two processes at once, in opposite orders.
    let morning = export(&dir, "morning.csv", 0..6_000, None);
    let day = export(&dir, "day.csv", 3_000..9_000, None);
    let spawn = |files: [&PathBuf; 2]| {
        Command::new(env!("CARGO_BIN_EXE_intake"))
            .args(["--json", "executions", "import"])
            .args(files)
            .env("DATABASE_URL", db.url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn([&morning, &day]);
    let second = spawn([&day, &morning]);
    let outputs = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let mut inserted = 0;
    for output in &outputs {
        for file in json(output).as_array().unwrap() {
            // A file the other process had imported already is unchanged: its counts are that
            // import's, not new rows.
            match file["outcome"].as_str() {
                Some("imported") => inserted += file["inserted"].as_u64().unwrap(),
                Some("unchanged") => {}
                _ => panic!("{file}"),
            }
        }
    }
    assert_eq!(inserted, 9_000, "every fill inserted by exactly one importer");
    assert_eq!(count(db, "trades"), 9_000);
    assert_eq!(count(db, "imported_executions"), 9_000);
}

fn purge_needs_an_explicit_age_and_explains_the_consequence(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    let no_age = intake(db.url(), &["executions", "purge"]);
    assert_eq!(no_age.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_age.stderr).contains("--older-than <DAYS>"));
    assert_eq!(intake(db.url(), &["executions", "purge", "--older-than", "0"]).status.code(), Some(2));
    let help = stdout(&intake(db.url(), &["executions", "purge", "--help"]));
    assert!(help.contains("bring back any of its fills"), "{help}");

    let dir = tempfile::tempdir().unwrap();
    stdout(&intake(db.url(), &["executions", "import", export(&dir, "a.csv", 1..=3, None).to_str().unwrap()]));
    let dry = json(&intake(db.url(), &["--json", "executions", "purge", "--older-than", "1", "--dry-run"]));
    assert_eq!((dry["removed"].as_u64(), dry["dry_run"].as_bool()), (Some(0), Some(true)), "today's imports are kept");
    let purged = stdout(&intake(db.url(), &["executions", "purge", "--older-than", "30"]));
    assert!(purged.starts_with("Removed 0 imported_executions rows imported before"), "{purged}");
    assert_eq!(count(db, "imported_executions"), 3);
}

on_both_backends!(
    import_prints_a_summary_json_and_refuses_invalid_files,
    concurrent_importers_write_each_fill_once,
    purge_needs_an_explicit_age_and_explains_the_consequence,
);
