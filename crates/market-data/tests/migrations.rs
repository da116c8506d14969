//! Seed 001's migrations on a populated database, on both backends: every row and value
//! survives each step up and back down (prices exact to 4 decimals through the double), no
//! CASCADE fires during SQLite's table rebuilds, and afterwards deleting a parent that has
//! rows fails.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable};
use market_data::price;
use migration_core::{Migrator, RollbackTarget};
use test_support::{TestDatabase, on_both_backends};

mod common;
use common::populate;

const BASELINE: &str = "20250901000000";

#[derive(QueryableByName, Debug, PartialEq)]
struct Tick {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Double)]
    price: f64,
    #[diesel(sql_type = Nullable<Double>)]
    bid: Option<f64>,
}

/// Every market_data row as `id|price|bid` with 4 decimals, and the alert log count.
fn contents(db: &TestDatabase) -> (Vec<String>, i64) {
    let mut connection = db.database().get().unwrap();
    migration_core::dispatch!(connection, conn => {
        let ticks: Vec<Tick> = diesel::sql_query(
            "SELECT id, CAST(price AS DOUBLE PRECISION) AS price, CAST(bid AS DOUBLE PRECISION) AS bid FROM market_data ORDER BY id",
        )
        .load(conn)
        .unwrap();
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let logs = diesel::sql_query("SELECT count(*) AS n FROM alert_logs").get_result::<Count>(conn).unwrap().n;
        let rows = ticks
            .iter()
            .map(|t| {
                let bid = t.bid.map_or_else(|| "-".to_owned(), |b| price::to_text(b).unwrap());
                format!("{}|{}|{bid}", t.id, price::to_text(t.price).unwrap())
            })
            .collect();
        (rows, logs)
    })
}

fn every_step_keeps_every_row_and_value(db: &TestDatabase) {
    let migrator = Migrator::new([&market_data::MIGRATIONS]).unwrap();
    migrator.run(db.database(), None).unwrap();
    migrator.rollback(db.database(), Some("market_data"), &RollbackTarget::To(BASELINE.into())).unwrap();
    populate(db);
    let before = contents(db);
    assert_eq!((before.0.len(), before.1), (400, 50));
    assert!(before.0.contains(&"2|99999999.9999|100.0001".to_owned()), "{:?}", &before.0[..3]);
    // Up one migration at a time (a migrator that knows the first k), then down one at a time:
    // the same rows and values each time.
    let all = market_data::MIGRATIONS.migrations();
    for k in 2..=all.len() {
        let first_k: &'static migration_core::Domain =
            Box::leak(Box::new(migration_core::Domain::new("market_data", &all[..k])));
        Migrator::new([first_k]).unwrap().run(db.database(), None).unwrap();
        assert_eq!(contents(db), before, "after applying {}", all[k - 1].version);
    }
    let versions: Vec<&str> = all.iter().map(|m| m.version).skip(1).collect();
    for version in versions.iter().rev().skip(1).chain(std::iter::once(&BASELINE)) {
        migrator.rollback(db.database(), Some("market_data"), &RollbackTarget::To((*version).into())).unwrap();
        assert_eq!(contents(db), before, "after rolling back to {version}");
    }
}

fn restrict_refuses_to_delete_a_parent_with_rows(db: &TestDatabase) {
    let migrator = Migrator::new([&market_data::MIGRATIONS]).unwrap();
    migrator.run(db.database(), None).unwrap();
    populate(db);
    let mut connection = db.database().get().unwrap();
    for statement in ["DELETE FROM instruments WHERE id = 1", "DELETE FROM alert_rules WHERE id = 1"] {
        let error = connection.batch_execute(statement).expect_err(statement).to_string();
        assert!(error.to_lowercase().contains("foreign key"), "{statement}: {error}");
    }
    drop(connection);
    assert_eq!(contents(db).0.len(), 400, "nothing was deleted");
    // An instrument without rows can go.
    db.database().get().unwrap().batch_execute("INSERT INTO instruments (id, symbol, name) VALUES (9, 'ZZ', 'unused'); DELETE FROM instruments WHERE id = 9").unwrap();
}

on_both_backends!(every_step_keeps_every_row_and_value, restrict_refuses_to_delete_a_parent_with_rows);
