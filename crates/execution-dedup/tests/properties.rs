//! Properties of importing, on both backends: for any set of exports and any import order,
//! repetition and growth (prefixes of a file, as an export grows during the day), the ledger
//! holds exactly the distinct ids imported and `trades` never holds an id twice.

mod common;

use std::collections::BTreeSet;

use common::{Fill, export, import, ledger, migrate, trade_ids, write_file};
use execution_dedup::Outcome;
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
    let mut inserted = 0;
    for &(file, rows) in steps {
        let prefix = &files[file][..rows.min(files[file].len())];
        let fills: Vec<Fill> = prefix.iter().map(|&n| Fill::new(n)).collect();
        let path = write_file(&dir, &format!("export-{file}.csv"), &export(&fills));
        let summary = import(&db, &path, false);
        assert_eq!(summary.outcome, Outcome::Imported, "{summary:#?}");
        assert_eq!(
            summary.rows_read,
            summary.inserted + summary.already_imported + summary.duplicated_in_file + summary.rejected,
            "{summary:#?}"
        );
        let new: BTreeSet<String> =
            prefix.iter().map(|&n| Fill::id_of(n)).filter(|id| !expected.contains(id)).collect();
        assert_eq!(summary.inserted, new.len() as u64, "inserted counts exactly the ids never seen");
        inserted += summary.inserted;
        expected.extend(new);
    }
    let expected: Vec<String> = expected.into_iter().collect();
    let recorded: Vec<String> = ledger(&db).into_iter().map(|(id, _)| id).collect();
    assert_eq!(recorded, expected, "the ledger is the set of distinct ids imported");
    assert_eq!(trade_ids(&db), expected, "trades holds each imported id exactly once");
    assert_eq!(inserted, expected.len() as u64);
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
}
