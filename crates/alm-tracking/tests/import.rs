//! The append-mode import against real SQLite and PostgreSQL databases: every FORMATS.md §2
//! quirk with exact counts and stored values, re-imports, a grown month-to-date file, an
//! identical file skipped by its hash, corrupted files, the timeout, the configuration, two
//! importers at once, gaps and NAV continuity, and the archive.

mod common;

use alm_tracking::{ImportType, Outcome, Run, RunOptions};
use common::{day, days, events, execute, flex, golden, migrate, run, strings};
use test_support::{TestDatabase, on_both_backends};

const GOLDEN: [&str; 5] = [
    "Cash_Transactions_(1257703)_LBD.xml",
    "Exercises_and_Expiries_(1257675)_MTD.xml",
    "Interest_Accruals_(1257700)_MTD.xml",
    "NAV_(1244257)_MTD.xml",
    "Trades_(1257686)_MTD.xml",
];

fn golden_files() -> Vec<std::path::PathBuf> {
    GOLDEN.iter().map(|name| golden(name)).collect()
}

fn counts(report: &alm_tracking::ImportReport) -> Vec<(&'static str, u64)> {
    report.counts.named().collect()
}

fn every_quirk_imports_with_exact_counts_and_values(db: &TestDatabase) {
    migrate(db);
    let (results, summary) = run(db, "2025-07-03", &golden_files());
    let expected: [&[u64]; 5] = [
        // rows_read, inserted, already_imported, updated, duplicated_in_file, merged_into_day, summary_rows, rejected
        &[2, 2, 0, 0, 0, 0, 0, 0],
        &[3, 3, 0, 0, 0, 0, 0, 0],
        &[2, 1, 0, 0, 0, 0, 1, 0],
        &[7, 5, 0, 0, 0, 2, 0, 0],
        &[4, 4, 0, 0, 0, 0, 0, 0],
    ];
    for ((name, result), expected) in GOLDEN.iter().zip(&results).zip(expected) {
        let report = result.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.outcome, Outcome::Imported, "{name}");
        let values: Vec<u64> = counts(report).into_iter().map(|(_, n)| n).collect();
        assert_eq!(values, expected, "{name}: {:?}", counts(report));
    }
    assert_eq!(
        events(db),
        [
            "U0000001|TRADE|3001|-310",
            "U0000001|TRADE|3002|1234567.50",
            "U0000001|TRADE|3003|0",
            "U0000001|CASH|5001|-1500.00",
            "U0000001|CASH|5002|12.34",
            "U0000001|EXERCISE_EXPIRY|derived:07d1fdd10d291549505d240a18f3ac0a:1|0",
            "U0000001|EXERCISE_EXPIRY|derived:07d1fdd10d291549505d240a18f3ac0a:2|0",
            "U0000001|INTEREST_ACCRUAL|derived:514489af7ce42bede1eb4afca83af2eb:1|3.10",
            "U0000001|EXERCISE_EXPIRY|derived:70043526dc42e5a66e3c7cee3e23fbee:1|54000",
            "U0000002|TRADE|3001|5000",
        ]
    );
    // Times with and without a zone, OCC symbols with their spaces, BookTrade expirations,
    // thousands separators, every date style.
    let trades = strings(
        db,
        "SELECT CAST(event_time AS TEXT) || '|' || coalesce(event_zone, '∅') || '|' || symbol || '|' || coalesce(transaction_type, '∅')
                || '|' || coalesce(CAST(expiry AS TEXT), '∅') || '|' || CAST(quantity AS TEXT) || '|' || CAST(price AS TEXT)
                || '|' || coalesce(CAST(commission AS TEXT), '∅') || '|' || coalesce(CAST(net_cash AS TEXT), '∅') AS value
         FROM alm_reporting.chronological_events WHERE event_type = 'TRADE' ORDER BY account_id, event_time",
    );
    assert_eq!(
        trades,
        [
            "2025-07-01 09:30:01|EDT|SPY   250701P00615000|ExchTrade|2025-07-01|-2|1.55|-2.10|307.90",
            "2025-07-01 12:14:17|∅|AAPL|∅|∅|1000|1234.5675|0|-1234567.50",
            "2025-07-01 16:20:00|EDT|SPY   250701P00615000|BookTrade|2025-07-01|2|0|0|0",
            "2025-07-02 10:00:00|∅|MSFT|∅|∅|10|500|-1|-5001",
        ]
    );
    // Unknown components (dividends, fxTranslation, brandNewComponent) add up in other_changes;
    // N/A, -- and - are null.
    assert_eq!(
        days(db),
        [
            "U0000001|2025-07-01|81426.89|80048.64|80064.57",
            "U0000001|2025-07-02|80048.64|80100.00|80116.93",
            "U0000001|2025-07-03|80100|80000|∅",
            "U0000002|2025-07-01|1000000|1002500.50|∅",
            "U0000002|2025-07-02|1002600.50|1002000|∅",
        ]
    );
    assert_eq!(
        strings(
            db,
            "SELECT CAST(other_changes AS TEXT) || '|' || coalesce(CAST(commissions AS TEXT), '∅') || '|' || coalesce(CAST(twr AS TEXT), '∅') AS value
             FROM alm_reporting.daily_summary WHERE account_id = 'U0000001' ORDER BY summary_date"
        ),
        ["0|-11.83|0.15", "11.36|∅|0.06", "0|∅|∅"]
    );
    // The deliberate break in U0000002's NAV.
    assert_eq!(summary.continuity.len(), 1, "{:#?}", summary.continuity);
    let warning = &summary.continuity[0];
    assert_eq!((warning.account_id.as_str(), warning.date), ("U0000002", day("2025-07-02")));
    assert_eq!((warning.expected.as_str(), warning.found.as_str()), ("1002500.5", "1002600.5"));
    // processed_files, import_history and processing_status follow.
    assert_eq!(
        strings(
            db,
            "SELECT file_name || '|' || file_type || '|' || CAST(records_count AS TEXT) || '|' || processing_status || '|'
                    || CAST(length(file_hash) AS TEXT) || '|' || CAST(process_date AS TEXT) AS value
             FROM alm_reporting.processed_files ORDER BY file_name"
        ),
        [
            "Cash_Transactions_(1257703)_LBD.xml|Cash_Transactions|2|SUCCESS|64|2025-07-03",
            "Exercises_and_Expiries_(1257675)_MTD.xml|Exercises_and_Expiries|3|SUCCESS|64|2025-07-03",
            "Interest_Accruals_(1257700)_MTD.xml|Interest_Accruals|2|SUCCESS|64|2025-07-03",
            "NAV_(1244257)_MTD.xml|NAV|7|SUCCESS|64|2025-07-03",
            "Trades_(1257686)_MTD.xml|Trades|4|SUCCESS|64|2025-07-03",
        ]
    );
    let history = &summary.history;
    assert_eq!((history.status.as_str(), history.records_imported, history.files().len()), ("SUCCESS", Some(15), 5));
    assert!(history.completed_at >= history.started_at && history.error_message.is_none());
    let status = alm_tracking::status(db.database()).unwrap();
    assert_eq!(status.current_state, "READY");
    assert_eq!((status.last_run_date, status.last_success_date), (Some(day("2025-07-03")), Some(day("2025-07-03"))));
    assert_eq!((status.events, status.days, status.files, status.error_count), (10, 5, 5, 0));
}

fn reimports_add_only_what_is_new(db: &TestDatabase) {
    migrate(db);
    run(db, "2025-07-03", &golden_files());
    let (before_events, before_days) = (events(db), days(db));
    // The same files again: skipped by their SHA-256, not read.
    let (results, summary) = run(db, "2025-07-03", &golden_files());
    for result in &results {
        let report = result.as_ref().unwrap();
        assert_eq!(report.outcome, Outcome::Unchanged, "{}", report.file);
        assert!(report.validation.is_none() && report.unchanged_since.is_some());
    }
    assert_eq!(results[3].as_ref().unwrap().counts.rows_read, 7, "the earlier import's records count");
    assert_eq!((events(db), days(db)), (before_events.clone(), before_days.clone()));
    assert_eq!((summary.history.status.as_str(), summary.history.records_imported), ("SUCCESS", Some(15)));
    assert_eq!(summary.history.files().len(), 5, "the date's files once each");

    // The same trades under another name (yesterday's LBD file): every row already imported.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("Trades_(1257686)_LBD.xml");
    std::fs::copy(golden("Trades_(1257686)_MTD.xml"), &copy).unwrap();
    let (results, _) = run(db, "2025-07-04", std::slice::from_ref(&copy));
    let report = results[0].as_ref().unwrap();
    assert_eq!(
        (report.outcome, report.counts.inserted, report.count("already_imported")),
        (Outcome::Imported, 0, Some(4))
    );

    // A month-to-date file that grew: same name, more days, generated later.
    let trade = |id: u32, day: &str| {
        format!(
            "<Trade accountId=\"U9\" symbol=\"ES\" transactionID=\"{id}\" quantity=\"1\" tradePrice=\"5000\" tradeMoney=\"5000\" dateTime=\"{day};100000\" />\n"
        )
    };
    let nav = |day: &str, start: &str, end: &str| {
        format!(
            "<ChangeInNAV accountId=\"U9\" toDate=\"{day}\" startingValue=\"{start}\" mtm=\"0\" endingValue=\"{end}\" />\n"
        )
    };
    let mtd = dir.path().join("Mixed_(7)_MTD.xml");
    let write = |days: &[(&str, &str, &str, u32)], generated: &str| {
        let statements: Vec<(&str, &str, &str, String)> =
            days.iter().map(|&(d, start, end, id)| ("U9", d, generated, trade(id, d) + &nav(d, start, end))).collect();
        std::fs::write(&mtd, flex(&statements)).unwrap();
    };
    write(&[("20250801", "100", "100", 1), ("20250804", "100", "100", 2)], "20250804;200000");
    let (results, _) = run(db, "2025-08-04", std::slice::from_ref(&mtd));
    assert_eq!(results[0].as_ref().unwrap().counts.inserted, 4);
    write(
        &[("20250801", "100", "100", 1), ("20250804", "100", "100", 2), ("20250805", "100", "100", 3)],
        "20250805;200000",
    );
    let (results, summary) = run(db, "2025-08-05", std::slice::from_ref(&mtd));
    let report = results[0].as_ref().unwrap();
    assert_eq!(report.outcome, Outcome::Imported);
    // One new trade and one new day; two trades known; two days replaced by the newer statement.
    assert_eq!(
        (report.counts.inserted, report.count("already_imported"), report.count("updated")),
        (2, Some(2), Some(2)),
        "{:?}",
        counts(report)
    );
    assert_eq!(summary.history.records_imported, Some(2));
    assert_eq!(events(db).iter().filter(|e| e.starts_with("U9|")).count(), 3);
    // One processed_files row per version of the file.
    assert_eq!(
        strings(
            db,
            "SELECT CAST(count(*) AS TEXT) AS value FROM alm_reporting.processed_files WHERE file_name = 'Mixed_(7)_MTD.xml'"
        ),
        ["2"]
    );
    // Each version stays recognised: the first one again is not read.
    write(&[("20250801", "100", "100", 1), ("20250804", "100", "100", 2)], "20250804;200000");
    let (results, _) = run(db, "2025-08-06", std::slice::from_ref(&mtd));
    assert_eq!(results[0].as_ref().unwrap().outcome, Outcome::Unchanged);
}

fn corrupted_files_write_nothing_and_say_where(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(golden("Trades_(1257686)_MTD.xml")).unwrap();
    let truncated = dir.path().join("Trades_(1)_MTD.xml");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let bad_value = dir.path().join("Trades_(2)_MTD.xml");
    std::fs::write(&bad_value, good.replace("tradePrice=\"1.55\"", "tradePrice=\"1.5.5\"")).unwrap();
    let (results, summary) = run(db, "2025-07-03", &[truncated.clone(), bad_value.clone()]);
    for result in &results {
        let report = result.as_ref().unwrap();
        assert_eq!((report.outcome, report.counts.inserted), (Outcome::Refused, 0), "{}", report.file);
    }
    let finding = &results[1].as_ref().unwrap().validation.as_ref().unwrap().findings[0];
    assert_eq!((finding.line, finding.rule.code(), finding.column_name.as_deref()), (9, "number", Some("tradePrice")));
    assert!(finding.column.is_some(), "{finding:?}");
    assert!(events(db).is_empty() && days(db).is_empty(), "nothing written");
    assert_eq!(strings(db, "SELECT CAST(count(*) AS TEXT) AS value FROM alm_reporting.processed_files"), ["0"]);
    let history = &summary.history;
    assert_eq!(history.status, "FAILED");
    let message = history.error_message.as_deref().unwrap();
    assert!(message.contains("Trades_(1)_MTD.xml") && message.contains("line "), "{message}");
    let status = alm_tracking::status(db.database()).unwrap();
    assert_eq!((status.current_state.as_str(), status.error_count), ("FAILED", 1));
    // Fixed, the next run succeeds and resets the count.
    std::fs::write(&bad_value, &good).unwrap();
    let (_, summary) = run(db, "2025-07-03", std::slice::from_ref(&bad_value));
    assert_eq!(summary.history.status, "SUCCESS");
    let status = alm_tracking::status(db.database()).unwrap();
    assert_eq!((status.current_state.as_str(), status.error_count), ("READY", 0));
}

fn a_run_past_its_timeout_rolls_back(db: &TestDatabase) {
    migrate(db);
    // Below what `config set` accepts, so the deadline has passed when the first chunk is read.
    execute(
        db,
        "UPDATE alm_reporting.processing_status SET configuration = CAST('{\"timeout_seconds\": 0, \"retry_attempts\": 0}' AS JSONB_TYPE)"
            .replace("JSONB_TYPE", if db.backend() == migration_core::Backend::Postgres { "JSONB" } else { "TEXT" })
            .as_str(),
    );
    let (results, summary) = run(db, "2025-07-03", &golden_files()[..1]);
    let error = results[0].as_ref().expect_err("timed out");
    assert!(error.contains("took longer than allowed") && error.contains("nothing was written"), "{error}");
    assert!(events(db).is_empty());
    assert_eq!(summary.history.status, "FAILED");
    assert!(summary.history.error_message.as_deref().unwrap().contains("took longer than allowed"));
}

fn the_configuration_is_validated_and_kept(db: &TestDatabase) {
    migrate(db);
    let database = db.database();
    let set = alm_tracking::set_config(database, "retry_attempts", "5").unwrap();
    assert_eq!((set.retry_attempts, set.timeout_seconds, set.max_files_to_keep), (5, 300, 3));
    for (key, value, says) in [
        ("retries", "1", "unknown key; the keys are retry_attempts, timeout_seconds, max_files_to_keep"),
        ("timeout_seconds", "0", "\"0\" is not a whole number from 1 to 86400"),
        ("max_files_to_keep", "three", "\"three\" is not a whole number from 1 to 10000"),
    ] {
        let error = alm_tracking::set_config(database, key, value).unwrap_err().to_string();
        assert!(error.contains(says), "{error}");
    }
    assert_eq!(alm_tracking::status(database).unwrap().configuration.retry_attempts, 5);
}

fn two_importers_at_once_write_each_row_once(db: &TestDatabase) {
    migrate(db);
    let dir = tempfile::tempdir().unwrap();
    let trade = |account: &str, id: u32| {
        format!(
            "<Trade accountId=\"{account}\" symbol=\"ES\" transactionID=\"{id}\" quantity=\"1\" tradePrice=\"1\" dateTime=\"20250801;100000\" />\n"
        )
    };
    // Two overlapping files per importer (ids 1-300 and 151-450), four files in all.
    let file = |name: &str, ids: std::ops::RangeInclusive<u32>| {
        let rows: String = ids.map(|id| trade("U1", id)).collect();
        let path = dir.path().join(name);
        std::fs::write(&path, flex(&[("U1", "20250801", "20250801;200000", rows)])).unwrap();
        path
    };
    let a = [file("a1.xml", 1..=300), file("a2.xml", 151..=450)];
    let b = [file("b1.xml", 100..=400), file("b2.xml", 1..=450)];
    std::thread::scope(|scope| {
        for (files, date) in [(&a, "2025-08-01"), (&b, "2025-08-02")] {
            scope.spawn(move || {
                let options = RunOptions { date: day(date), import_type: ImportType::Daily, archive: None };
                let run = Run::start(db.database(), options).unwrap();
                for file in files {
                    run.import(file, &mut |_| {}).unwrap();
                }
                assert_eq!(run.finish().unwrap().history.status, "SUCCESS");
            });
        }
    });
    assert_eq!(events(db).len(), 450, "each transaction once");
    let written: Vec<String> = alm_tracking::history(db.database(), None, None)
        .unwrap()
        .iter()
        .map(|h| h.records_imported.unwrap().to_string())
        .collect();
    let total: u32 = written.iter().map(|n| n.parse::<u32>().unwrap()).sum();
    assert_eq!(total, 450, "the runs' counts add up to the rows: {written:?}");
}

fn gaps_list_missing_days_and_breaks(db: &TestDatabase) {
    migrate(db);
    run(db, "2025-07-03", &golden_files());
    let report = alm_tracking::gaps(db.database(), day("2025-07-01"), day("2025-07-06")).unwrap();
    let gaps: Vec<String> = report
        .gaps
        .iter()
        .map(|g| format!("{} {} {}", g.date, g.account_id.as_deref().unwrap_or("-"), g.problem))
        .collect();
    assert_eq!(
        gaps,
        [
            "2025-07-01 - no successful import",
            "2025-07-02 - no successful import",
            "2025-07-03 U0000002 missing from the NAV statements",
            "2025-07-04 - no successful import",
            "2025-07-04 U0000001 missing from the NAV statements",
            "2025-07-04 U0000002 missing from the NAV statements",
        ],
        "the weekend (5th, 6th) is not a business day"
    );
    assert_eq!(report.continuity.len(), 1);
    // A day whose components do not add up.
    execute(db, "UPDATE alm_reporting.daily_summary SET ending_value = 80000.02 WHERE summary_date = '2025-07-03'");
    let report = alm_tracking::gaps(db.database(), day("2025-07-01"), day("2025-07-03")).unwrap();
    let problems: Vec<&str> = report.continuity.iter().map(|w| w.problem.as_str()).collect();
    assert!(problems.contains(&"startingValue plus the changes is not endingValue (within 0.01)"), "{problems:?}");
    execute(db, "UPDATE alm_reporting.daily_summary SET ending_value = 80000.01 WHERE summary_date = '2025-07-03'");
    let report = alm_tracking::gaps(db.database(), day("2025-07-03"), day("2025-07-03")).unwrap();
    assert!(report.continuity.is_empty(), "0.01 is within the tolerance: {:?}", report.continuity);
}

fn the_archive_keeps_the_newest_imported_files(db: &TestDatabase) {
    migrate(db);
    alm_tracking::set_config(db.database(), "max_files_to_keep", "2").unwrap();
    let (inbox, archive) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let name = "NAV_(1)_MTD.xml";
    for (n, date) in ["2025-08-01", "2025-08-04", "2025-08-05"].into_iter().enumerate() {
        let rows = format!("<ChangeInNAV accountId=\"U1\" startingValue=\"{n}\" endingValue=\"{n}\" />\n");
        let path = inbox.path().join(name);
        std::fs::write(
            &path,
            flex(&[("U1", &date.replace('-', ""), &format!("{};010000", date.replace('-', "")), rows)]),
        )
        .unwrap();
        let options =
            RunOptions { date: day(date), import_type: ImportType::Daily, archive: Some(archive.path().to_path_buf()) };
        let run = Run::start(db.database(), options).unwrap();
        run.import(&path, &mut |_| {}).unwrap();
        let summary = run.finish().unwrap();
        assert!(!path.exists(), "moved into the archive");
        assert_eq!(summary.archived.len(), 1);
        assert_eq!(summary.pruned.len(), usize::from(n == 2), "{:?}", summary.pruned);
    }
    // A file that was not imported is never moved.
    let broken = inbox.path().join("NAV_(2)_MTD.xml");
    std::fs::write(&broken, "<FlexQueryResponse><FlexStatements count=\"1\">").unwrap();
    let options = RunOptions {
        date: day("2025-08-06"),
        import_type: ImportType::Daily,
        archive: Some(archive.path().to_path_buf()),
    };
    let run = Run::start(db.database(), options).unwrap();
    run.import(&broken, &mut |_| {}).unwrap();
    assert!(run.finish().unwrap().archived.is_empty());
    assert!(broken.exists());
    // A file someone put there by hand is never deleted.
    std::fs::write(archive.path().join("NAV").join("notes.xml"), "mine").unwrap();
    let mut kept: Vec<String> = std::fs::read_dir(archive.path().join("NAV"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["2025-08-04_NAV_(1)_MTD.xml", "2025-08-05_NAV_(1)_MTD.xml", "notes.xml"]);
}

on_both_backends!(
    every_quirk_imports_with_exact_counts_and_values,
    reimports_add_only_what_is_new,
    corrupted_files_write_nothing_and_say_where,
    a_run_past_its_timeout_rolls_back,
    the_configuration_is_validated_and_kept,
    two_importers_at_once_write_each_row_once,
    gaps_list_missing_days_and_breaks,
    the_archive_keeps_the_newest_imported_files,
);
