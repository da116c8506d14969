//! The stage declaration, the migrated `trades` table and the validator's text limits say the
//! same thing on both backends: every staged column is a `trades` column of a matching type
//! and nullability, and every text limit the validator enforces is the column's width.

mod common;

use std::collections::BTreeMap;

use execution_dedup::Executions;
use import_core::{ColumnType, Importer};
use migration_core::Snapshot;
use migration_core::snapshot::Kind;
use test_support::{TestDatabase, on_both_backends};
use upload_validator::Execution;

/// `trades` column → its snapshot definition (`varchar(50) not null`).
fn trades_columns(db: &TestDatabase) -> BTreeMap<String, String> {
    let snapshot = Snapshot::read(&mut db.database().get().unwrap()).unwrap();
    snapshot
        .objects
        .into_iter()
        .filter(|object| object.kind == Kind::Column && object.table.as_deref() == Some("trades"))
        .map(|object| (object.name.trim_start_matches("trades.").to_owned(), object.definition))
        .collect()
}

fn the_stage_and_the_validator_match_the_trades_table(db: &TestDatabase) {
    common::migrate(db);
    let mut columns = trades_columns(db);
    columns.remove("id").expect("trades has an id");
    let stage = &<Executions as Importer>::STAGE;
    let staged: Vec<&str> = stage.columns.iter().map(|c| c.name).collect();
    assert_eq!(staged.len(), columns.len(), "the stage has every trades column but id: {staged:?} vs {columns:?}");
    for column in stage.columns {
        let definition = &columns[column.name];
        let ty = definition.split(' ').next().unwrap();
        let compatible = match column.ty {
            ColumnType::Text => ty.starts_with("varchar(") || ty == "text",
            ColumnType::BigInt => ty == "bigint",
            ColumnType::Timestamp => ty == "timestamp",
            ColumnType::Date => ty == "date",
        };
        assert!(compatible, "{}: staged as {:?}, stored as {definition}", column.name, column.ty);
        // A column the stage may leave NULL must accept NULL.
        assert!(!column.nullable || !definition.ends_with("not null"), "{}: {definition}", column.name);
    }
    let limits: BTreeMap<&str, usize> = Execution::max_chars().collect();
    for (name, definition) in &columns {
        let Some(width) = definition.strip_prefix("varchar(").and_then(|rest| rest.split(')').next()) else { continue };
        match limits.get(name.as_str()) {
            Some(limit) => {
                assert_eq!(limit.to_string(), width, "{name}: the validator allows {limit}, the column holds {width}")
            }
            // Enumerations: the validator accepts only values the CHECK constraint lists.
            None => assert!(
                ["action", "entry_exit", "trade_validation"].contains(&name.as_str()),
                "{name} ({definition}) has no text limit in the validator"
            ),
        }
    }
    assert!(limits.keys().all(|field| columns.contains_key(*field)), "{limits:?}");
}

on_both_backends!(the_stage_and_the_validator_match_the_trades_table);
