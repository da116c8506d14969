//! Property: after any sequence of run / rollback N / redo N, the bookkeeping and the live
//! schema both match the applied prefix of the migrations, on both backends.

mod common;

use common::{DEMO, expected_demo_schema, live_schema};
use migration_core::{Migrator, RollbackTarget, State};
use proptest::prelude::*;
use test_support::TestDatabase;

#[derive(Debug, Clone)]
enum Operation {
    Run,
    Rollback(usize),
    RollbackTo(usize),
    Redo(usize),
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        Just(Operation::Run),
        (0..=6usize).prop_map(Operation::Rollback),
        (0..=5usize).prop_map(Operation::RollbackTo),
        (0..=6usize).prop_map(Operation::Redo),
    ]
}

/// Applies `operations` and checks the database against a model: the number of applied migrations.
fn check_sequence(db: &TestDatabase, operations: &[Operation]) -> Result<(), TestCaseError> {
    let migrator = Migrator::new([&DEMO]).unwrap();
    let total = DEMO.migrations().len();
    let mut applied = 0usize;
    for operation in operations {
        let outcome = match operation {
            Operation::Run => migrator.run(db.database(), None).map(|_| total),
            Operation::Rollback(steps) => {
                migrator.rollback(db.database(), None, &RollbackTarget::Steps(*steps)).map(|_| applied - steps)
            }
            Operation::RollbackTo(0) => {
                migrator.rollback(db.database(), None, &RollbackTarget::To("0".into())).map(|_| 0)
            }
            Operation::RollbackTo(version) => {
                migrator.rollback(db.database(), None, &RollbackTarget::To(version.to_string())).map(|_| *version)
            }
            Operation::Redo(steps) => migrator.redo(db.database(), None, *steps).map(|_| applied),
        };
        let legal = match operation {
            Operation::Run => true,
            Operation::Rollback(steps) | Operation::Redo(steps) => *steps <= applied,
            Operation::RollbackTo(version) => *version <= applied,
        };
        match outcome {
            Ok(now_applied) => {
                prop_assert!(legal, "{operation:?} with {applied} applied should have been refused");
                applied = now_applied;
            }
            Err(error) => prop_assert!(!legal, "{operation:?} with {applied} applied failed: {error}"),
        }
        let status = migrator.status(db.database(), None).unwrap();
        let applied_versions: Vec<_> =
            status.iter().filter(|s| s.state == State::Applied).map(|s| s.version.clone()).collect();
        let expected_versions: Vec<_> = DEMO.migrations()[..applied].iter().map(|m| m.version.to_owned()).collect();
        prop_assert_eq!(applied_versions, expected_versions, "bookkeeping after {:?}", operation);
        prop_assert_eq!(
            live_schema(&mut db.database().get().unwrap()),
            expected_demo_schema(applied),
            "schema after {:?}",
            operation
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_schema_always_matches_the_applied_prefix(operations in proptest::collection::vec(operation(), 1..12)) {
        check_sequence(&TestDatabase::sqlite(), &operations)?;
    }

    #[test]
    fn postgres_schema_always_matches_the_applied_prefix(operations in proptest::collection::vec(operation(), 1..12)) {
        check_sequence(&TestDatabase::postgres(), &operations)?;
    }
}
