//! `intake uploads stats` and `intake migrate check --domain upload` end to end on both
//! backends: the counts of every table, and a missing index or column named as the seed's
//! validation script would name it.

mod common;

use common::{intake, stdout};
use test_support::{TestDatabase, on_both_backends};

fn stats_and_check_name_what_is_there_and_what_is_missing(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    db.database()
        .get()
        .unwrap()
        .batch_execute(
            "INSERT INTO categories (category_id, category_name) VALUES ('womens_dresses', 'Women''s Dresses')",
        )
        .unwrap();
    let stats: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["--json", "uploads", "stats"]))).unwrap();
    assert_eq!(stats["categories"], 1);
    assert_eq!(stats["weekly_actuals"], 0);
    assert_eq!(stats.as_object().unwrap().len(), 7);
    let table = stdout(&intake(db.url(), &["uploads", "stats"]));
    assert!(table.contains("weekly_actuals") && table.contains("Rows"), "{table}");

    assert!(stdout(&intake(db.url(), &["migrate", "check", "--domain", "upload"])).contains("no drift"));
    db.database().get().unwrap().batch_execute("DROP INDEX idx_weekly_actuals_store").unwrap();
    let drifted = intake(db.url(), &["migrate", "check", "--domain", "upload"]);
    assert_eq!(drifted.status.code(), Some(1));
    let output = String::from_utf8_lossy(&drifted.stdout);
    assert!(output.contains("drift: index idx_weekly_actuals_store missing"), "{output}");
}

on_both_backends!(stats_and_check_name_what_is_there_and_what_is_missing);
