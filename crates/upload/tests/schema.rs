//! Seed 003's testing steps on both backends: the tables exist, a weekly actual is inserted
//! and read back, the unique key refuses a second row for one workflow, week and store, and
//! deleting a workflow deletes its weekly actuals and forecasts (the seed's CASCADE), while a
//! store with forecasts cannot be deleted; `stats` counts every table.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable};
use migration_core::Migrator;
use test_support::{TestDatabase, on_both_backends};

const PARENTS: &str = "
    INSERT INTO store_clusters (cluster_id, cluster_name) VALUES ('C1', 'Coastal');
    INSERT INTO categories (category_id, category_name) VALUES ('womens_dresses', 'Women''s Dresses');
    INSERT INTO stores (store_id, store_name, cluster_id, store_size_sqft, location_tier, median_income, store_format, region, avg_weekly_sales_12mo)
        VALUES ('S001', 'Harbor Point', 'C1', 25000, 'A', 125000, 'MALL', 'NORTHEAST', 50000.0),
               ('S002', 'Elm Street', NULL, 18000, 'B', 90000, 'STRIP', 'SOUTH', 32000.0);
    INSERT INTO workflows (workflow_id, category_id, season_start) VALUES ('test_workflow', 'womens_dresses', '2025-01-01');
    INSERT INTO workflow_forecasts (workflow_id, week_number, store_id, forecast_units_sold) VALUES ('test_workflow', 1, 'S001', 140);
";

const ACTUAL: &str = "INSERT INTO weekly_actuals (workflow_id, week_number, week_start_date, week_end_date, store_id, category_id, actual_units_sold, forecast_units_sold, variance_pct)
    VALUES ('test_workflow', 1, '2025-01-01', '2025-01-07', 'S001', 'womens_dresses', 150, 140, 0.0714)";

fn migrated(db: &TestDatabase) {
    Migrator::new([&upload::MIGRATIONS]).unwrap().run(db.database(), None).unwrap();
    db.database().get().unwrap().batch_execute(PARENTS).unwrap();
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Actual {
    #[diesel(sql_type = BigInt)]
    actual_units_sold: i64,
    #[diesel(sql_type = Nullable<Double>)]
    variance_pct: Option<f64>,
}

fn a_weekly_actual_is_stored_once_per_workflow_week_and_store(db: &TestDatabase) {
    migrated(db);
    let mut connection = db.database().get().unwrap();
    connection.batch_execute(ACTUAL).unwrap();
    let read: Vec<Actual> = migration_core::dispatch!(connection, conn => diesel::sql_query(
        "SELECT CAST(actual_units_sold AS BIGINT) AS actual_units_sold, variance_pct FROM weekly_actuals WHERE workflow_id = 'test_workflow'"
    ).load(conn))
    .unwrap();
    assert_eq!(read, [Actual { actual_units_sold: 150, variance_pct: Some(0.0714) }]);
    let twice = connection.batch_execute(ACTUAL).expect_err("unique_workflow_week_store").to_string();
    assert!(twice.to_lowercase().contains("unique"), "{twice}");
    let unknown_store = connection.batch_execute(&ACTUAL.replace("'S001'", "'S999'")).expect_err("a foreign key");
    assert!(unknown_store.to_string().to_lowercase().contains("foreign key"), "{unknown_store}");
}

fn deleting_a_workflow_cascades_and_a_planned_store_is_kept(db: &TestDatabase) {
    migrated(db);
    let mut connection = db.database().get().unwrap();
    connection.batch_execute(ACTUAL).unwrap();
    let refused =
        connection.batch_execute("DELETE FROM stores WHERE store_id = 'S001'").expect_err("forecasts refer to it");
    assert!(refused.to_string().to_lowercase().contains("foreign key"), "{refused}");
    drop(connection);
    let before: Vec<(&str, i64)> = upload::stats(db.database()).unwrap();
    assert_eq!(
        before,
        [
            ("store_clusters", 1),
            ("categories", 1),
            ("stores", 2),
            ("workflows", 1),
            ("workflow_forecasts", 1),
            ("historical_sales", 0),
            ("weekly_actuals", 1)
        ]
    );
    db.database().get().unwrap().batch_execute("DELETE FROM workflows WHERE workflow_id = 'test_workflow'").unwrap();
    let after = upload::stats(db.database()).unwrap();
    assert_eq!((after[3], after[4], after[6]), (("workflows", 0), ("workflow_forecasts", 0), ("weekly_actuals", 0)));
    // With no forecast left, the store can go, and its weekly actuals with it (CASCADE).
    db.database().get().unwrap().batch_execute("DELETE FROM stores WHERE store_id = 'S002'").unwrap();
}

on_both_backends!(
    a_weekly_actual_is_stored_once_per_workflow_week_and_store,
    deleting_a_workflow_cascades_and_a_planned_store_is_kept
);
