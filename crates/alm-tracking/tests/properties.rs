//! The append-mode invariant, on both backends: for generated statements split into any
//! overlapping files (each generated at its own time) imported in any order,
//! `chronological_events` holds each transaction once (rows without a `transactionID` too),
//! and `daily_summary` holds each account's day once, with the values of the latest statement
//! that covered it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{days, events, flex, migrate, run};
use migration_core::Backend;
use proptest::prelude::*;
use test_support::TestDatabase;

/// Accounts and days the statements cover.
const ACCOUNTS: [&str; 2] = ["U1", "U2"];
const DAYS: u32 = 5;

/// One file: the days it covers (first, last) and its accounts.
#[derive(Debug, Clone)]
struct File {
    first: u32,
    last: u32,
    accounts: Vec<&'static str>,
}

/// Files in the order they were generated, and the order they are imported in.
fn files() -> impl Strategy<Value = (Vec<File>, Vec<usize>)> {
    let file = (0..DAYS, 0..DAYS, prop::sample::subsequence(ACCOUNTS.to_vec(), 1..=2))
        .prop_map(|(a, b, accounts)| File { first: a.min(b), last: a.max(b), accounts });
    prop::collection::vec(file, 1..5).prop_flat_map(|files| {
        let order: Vec<usize> = (0..files.len()).collect();
        (Just(files), Just(order).prop_shuffle())
    })
}

/// Trades per account and day: how many (fixed, so every file agrees on them).
fn trades_on(account: &str, day: u32) -> u32 {
    (day + u32::from(account == "U2")) % 3
}

fn date(day: u32) -> String {
    format!("202508{:02}", day + 1)
}

/// A file's statements: the day's trades, one expiry row without a transactionID (twice on
/// even days: two identical rows), and the NAV, whose values depend on when the file was
/// generated (`generation`).
fn text(file: &File, generation: usize) -> String {
    let generated = format!("20250901;{:02}0000", generation);
    let mut statements = Vec::new();
    for day in file.first..=file.last {
        for account in &file.accounts {
            let mut rows = String::new();
            for n in 0..trades_on(account, day) {
                rows.push_str(&format!(
                    "<Trade accountId=\"{account}\" symbol=\"ES\" transactionID=\"{day}{n}\" quantity=\"1\" tradePrice=\"1\" tradeMoney=\"1\" dateTime=\"{};100000\" />\n",
                    date(day)
                ));
            }
            for _ in 0..(1 + u32::from(day % 2 == 0)) {
                rows.push_str(&format!(
                    "<OptionEAE accountId=\"{account}\" symbol=\"SPY\" transactionType=\"Expiration\" quantity=\"1\" date=\"{}\" />\n",
                    date(day)
                ));
            }
            rows.push_str(&format!(
                "<ChangeInNAV accountId=\"{account}\" startingValue=\"{generation}\" endingValue=\"{generation}.5\" />\n"
            ));
            statements.push((*account, date(day), generated.clone(), rows));
        }
    }
    let statements: Vec<(&str, &str, &str, String)> =
        statements.iter().map(|(a, d, g, r)| (*a, d.as_str(), g.as_str(), r.clone())).collect();
    flex(&statements)
}

fn check(db: &TestDatabase, files: &[File], order: &[usize]) {
    common::execute(
        db,
        "DELETE FROM alm_reporting.chronological_events; DELETE FROM alm_reporting.daily_summary;
         DELETE FROM alm_reporting.processed_files; DELETE FROM alm_reporting.import_history;",
    );
    let dir = tempfile::tempdir().unwrap();
    // A file's generation is its place in `files`; the later, the newer.
    let paths: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(generation, file)| {
            let path = dir.path().join(format!("Mixed_({generation})_MTD.xml"));
            std::fs::write(&path, text(file, generation + 1)).unwrap();
            path
        })
        .collect();
    // Imported in the drawn order, then each again (unchanged: skipped).
    let mut imports: Vec<_> = order.iter().map(|&i| paths[i].clone()).collect();
    imports.extend(paths.iter().cloned());
    let (results, summary) = run(db, "2025-09-01", &imports);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(summary.history.status, "SUCCESS");

    let mut expected_events = BTreeSet::new();
    let mut expected_days: BTreeMap<(&str, u32), usize> = BTreeMap::new();
    for (generation, file) in files.iter().enumerate() {
        for day in file.first..=file.last {
            for account in &file.accounts {
                for n in 0..trades_on(account, day) {
                    expected_events.insert(format!("{account}|TRADE|{day}{n}"));
                }
                for copy in 1..=(1 + u32::from(day % 2 == 0)) {
                    expected_events.insert(format!("{account}|EAE|{day}|{copy}"));
                }
                let latest = expected_days.entry((account, day)).or_default();
                *latest = (*latest).max(generation + 1);
            }
        }
    }
    let found = events(db);
    assert_eq!(found.len(), expected_events.len(), "each transaction once: {found:#?}");
    let trades: BTreeSet<String> =
        found.iter().filter(|e| e.contains("|TRADE|")).map(|e| e.rsplit_once('|').unwrap().0.to_owned()).collect();
    let expected_trades: BTreeSet<String> = expected_events.iter().filter(|e| e.contains("|TRADE|")).cloned().collect();
    assert_eq!(trades, expected_trades);
    let expected: Vec<String> = expected_days
        .iter()
        .map(|((account, day), generation)| {
            let iso = format!("2025-08-{:02}", day + 1);
            format!("{account}|{iso}|{generation}|{generation}.5|∅")
        })
        .collect();
    assert_eq!(days(db), expected, "each day once, from its latest statement");
}

fn database(backend: Backend) -> TestDatabase {
    let db = TestDatabase::new(backend);
    migrate(&db);
    db
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sqlite_overlapping_files_in_any_order_hold_each_row_once((files, order) in files()) {
        thread_local!(static DB: TestDatabase = database(Backend::Sqlite));
        DB.with(|db| check(db, &files, &order));
    }

    #[test]
    fn postgres_overlapping_files_in_any_order_hold_each_row_once((files, order) in files()) {
        thread_local!(static DB: TestDatabase = database(Backend::Postgres));
        DB.with(|db| check(db, &files, &order));
    }
}
