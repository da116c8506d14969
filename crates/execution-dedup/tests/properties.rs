//! Properties of importing, on both backends.
//!
//! - For any exports and any import order, repetition and growth, the ledger holds exactly the
//!   distinct ids imported and `trades` never holds an id twice.
//! - Re-imports that read only what is new (an unchanged file skipped, a grown one read on
//!   from its last imported record) never change the outcome: for any history of one export
//!   (grown, edited inside the part imported, truncated, re-exported in another style, or
//!   unchanged), the tables end up exactly as when every version is read whole.

mod common;

use std::collections::BTreeSet;

use common::{Fill, export, export_styled, import, ledger, migrate, trade_ids, trade_rows, write_file};
use execution_dedup::Outcome;
use fixtures::ninjatrader::Style;
use migration_core::Backend;
use proptest::prelude::*;
use test_support::TestDatabase;

/// Up to four exports, each up to 12 rows drawn from 10 ids (so files overlap and repeat ids).
fn exports() -> impl Strategy<Value = Vec<Vec<u32>>> {
    prop::collection::vec(prop::collection::vec(0u32..10, 1..12), 1..4)
}

/// Import steps: (which export, how many of its rows had been written when it was imported).
fn steps(files: usize) -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0..files, 1usize..12), 1..8)
}

fn check(backend: Backend, files: &[Vec<u32>], steps: &[(usize, usize)]) {
    let db = TestDatabase::new(backend);
    migrate(&db);
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeSet::new();
    for &(file, rows) in steps {
        let prefix = &files[file][..rows.min(files[file].len())];
        let fills: Vec<Fill> = prefix.iter().map(|&n| Fill::new(n)).collect();
        let path = write_file(&dir, &format!("export-{file}.csv"), &export(&fills));
        let summary = import(&db, &path, false);
        assert_ne!(summary.outcome, Outcome::Refused, "{summary:#?}");
        if summary.outcome == Outcome::Imported {
            assert_eq!(
                summary.rows_read,
                summary.inserted
                    + summary.already_imported
                    + summary.duplicated_in_file
                    + summary.rejected
                    + summary.unchanged_prefix,
                "{summary:#?}"
            );
            let new: BTreeSet<String> =
                prefix.iter().map(|&n| Fill::id_of(n)).filter(|id| !expected.contains(id)).collect();
            assert_eq!(summary.inserted, new.len() as u64, "inserted counts exactly the ids never seen");
            expected.extend(new);
        }
    }
    let expected: Vec<String> = expected.into_iter().collect();
    let recorded: Vec<String> = ledger(&db).into_iter().map(|(id, _)| id).collect();
    assert_eq!(recorded, expected, "the ledger is the set of distinct ids imported");
    assert_eq!(trade_ids(&db), expected, "trades holds each imported id exactly once");
}

/// What happens to the export between two imports.
#[derive(Debug, Clone)]
enum Change {
    /// Rows appended (ids, quantities).
    Grow(Vec<(u32, u32)>),
    /// A row already there gets another quantity.
    Edit(usize, u32),
    /// Rows cut from the end (at least one stays).
    Truncate(usize),
    /// Written again in another style (BOM and line endings).
    Reexport,
    /// Nothing.
    Same,
}

fn rows(count: std::ops::Range<usize>) -> impl Strategy<Value = Vec<(u32, u32)>> {
    prop::collection::vec((0u32..14, 1u32..5), count)
}

fn changes() -> impl Strategy<Value = Vec<Change>> {
    let change = prop_oneof![
        3 => rows(1..5).prop_map(Change::Grow),
        1 => (any::<usize>(), 1u32..5).prop_map(|(at, quantity)| Change::Edit(at, quantity)),
        1 => (1usize..4).prop_map(Change::Truncate),
        1 => Just(Change::Reexport),
        1 => Just(Change::Same),
    ];
    prop::collection::vec(change, 1..7)
}

const STYLES: [Style; 3] = [Style::NATIVE_EN_US, Style::PLAIN, Style::BOM_LF];

fn text(rows: &[(u32, u32)], style: usize) -> String {
    let fills: Vec<Fill> = rows
        .iter()
        .map(|&(id, quantity)| {
            let mut fill = Fill::new(id);
            fill.quantity = quantity;
            fill
        })
        .collect();
    export_styled(&fills, STYLES[style % STYLES.len()])
}

/// Imports each version of one export under its own name into one database (the history
/// decides what is read) and under a new name each time into another (always read whole):
/// both end the same.
fn same_as_whole_reads(backend: Backend, first: Vec<(u32, u32)>, changes: &[Change]) {
    let (tracked, whole) = (TestDatabase::new(backend), TestDatabase::new(backend));
    migrate(&tracked);
    migrate(&whole);
    let dir = tempfile::tempdir().unwrap();
    let (mut rows, mut style) = (first, 0);
    for (step, change) in std::iter::once(&Change::Same).chain(changes).enumerate() {
        match change {
            Change::Grow(more) => rows.extend(more),
            Change::Edit(at, quantity) => {
                let at = at % rows.len();
                rows[at].1 = *quantity;
            }
            Change::Truncate(cut) => rows.truncate(rows.len().saturating_sub(*cut).max(1)),
            Change::Reexport => style += 1,
            Change::Same => {}
        }
        let content = text(&rows, style);
        let summary = import(&tracked, &write_file(&dir, "executions.csv", &content), false);
        assert_ne!(summary.outcome, Outcome::Refused, "{summary:#?}");
        assert_eq!(summary.rejected, 0, "every row is valid: {summary:#?}");
        let read_whole = import(&whole, &write_file(&dir, &format!("version-{step}.csv"), &content), false);
        assert_eq!(read_whole.unchanged_prefix, 0);
        let ids = |db: &TestDatabase| ledger(db).into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(&tracked), ids(&whole), "step {step} ({change:?}): the ledgers differ");
        assert_eq!(trade_rows(&tracked), trade_rows(&whole), "step {step} ({change:?}): trades differ");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sqlite_imports_each_id_once((files, steps) in exports().prop_flat_map(|f| { let n = f.len(); (Just(f), steps(n)) })) {
        check(Backend::Sqlite, &files, &steps);
    }

    #[test]
    fn postgres_imports_each_id_once((files, steps) in exports().prop_flat_map(|f| { let n = f.len(); (Just(f), steps(n)) })) {
        check(Backend::Postgres, &files, &steps);
    }

    #[test]
    fn sqlite_reimports_end_as_whole_reads(first in rows(1..8), changes in changes()) {
        same_as_whole_reads(Backend::Sqlite, first, &changes);
    }

    #[test]
    fn postgres_reimports_end_as_whole_reads(first in rows(1..8), changes in changes()) {
        same_as_whole_reads(Backend::Postgres, first, &changes);
    }
}
