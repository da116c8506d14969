//! `intake uploads` end to end on both backends: each kind uploaded from a file, a second
//! upload of a week refused with the way out, `--replace`, `--max-bytes`, the context the page
//! checks a file against; `stats` and `intake migrate check --domain upload`: the counts of
//! every table, and a missing index or column named as the seed's validation script would
//! name it.

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

fn each_kind_is_uploaded_from_files(db: &TestDatabase) {
    use fixtures::retail::{self, Day};
    stdout(&intake(db.url(), &["migrate"]));
    db.database()
        .get()
        .unwrap()
        .batch_execute(
            "INSERT INTO categories (category_id, category_name) VALUES ('womens_dresses', 'Women''s Dresses');
             INSERT INTO workflows (workflow_id, category_id, season_start) VALUES ('spring', 'womens_dresses', '2025-03-01')",
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let ids = retail::store_ids(3);
    let stores = file("stores.csv", &retail::store_attributes(&ids));
    let table = stdout(&intake(db.url(), &["uploads", "store-attributes", &stores]));
    assert!(table.contains("New stores") && table.contains("imported"), "{table}");
    let context =
        stdout(&intake(db.url(), &["uploads", "context", "weekly-actuals", "--workflow", "spring", "--week", "2"]));
    assert_eq!(context.trim(), r#"{"store_ids":["S001","S002","S003"],"week_start":"2025-03-08"}"#);

    let week = file("week.csv", &retail::weekly_actuals(Day::ymd(2025, 3, 8), &ids, |day, _| day as u64));
    let args = ["--json", "uploads", "weekly-actuals", "--workflow", "spring", "--week", "2", week.as_str()];
    let report: serde_json::Value = serde_json::from_str(&stdout(&intake(db.url(), &args))).unwrap();
    assert_eq!(
        (report[0]["outcome"].as_str(), report[0]["weekly_rows"].as_u64()),
        (Some("imported"), Some(3)),
        "{report}"
    );
    let again = intake(db.url(), &args[1..]);
    assert_eq!(again.status.code(), Some(1));
    let error = String::from_utf8_lossy(&again.stderr);
    assert!(
        error.contains("was uploaded before: 3 stores have weekly actuals") && error.contains("nothing was written"),
        "{error}"
    );
    assert!(error.contains("hint: pass --replace"), "{error}");
    let mut replace = args.to_vec();
    replace.push("--replace");
    let report: serde_json::Value = serde_json::from_str(&stdout(&intake(db.url(), &replace))).unwrap();
    assert_eq!(report[0]["replaced"], 3, "{report}");

    let mut sales = Vec::new();
    retail::historical_sales(Day::ymd(2022, 1, 1), 2, &["Women's Dresses"], &ids, &mut sales).unwrap();
    let sales = file("sales.csv", std::str::from_utf8(&sales).unwrap());
    let small = intake(db.url(), &["uploads", "historical-sales", "--max-bytes", "64", &sales]);
    let error = String::from_utf8_lossy(&small.stderr);
    assert!(error.contains("is larger than the upload limit of 64 bytes") && error.contains("--max-bytes"), "{error}");
    let table = stdout(&intake(db.url(), &["uploads", "historical-sales", &sales]));
    assert!(table.contains("imported"), "{table}");
    let stats: serde_json::Value =
        serde_json::from_str(&stdout(&intake(db.url(), &["--json", "uploads", "stats"]))).unwrap();
    assert_eq!(
        (stats["stores"].as_u64(), stats["weekly_actuals"].as_u64(), stats["historical_sales"].as_u64()),
        (Some(3), Some(3), Some(6))
    );
}

on_both_backends!(stats_and_check_name_what_is_there_and_what_is_missing, each_kind_is_uploaded_from_files);
