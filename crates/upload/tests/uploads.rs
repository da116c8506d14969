//! The three uploads on both backends, through the library API the CLI and the upload service
//! call: what is stored, what is refused (with file, line, column and rule), that a refused or
//! failed upload leaves every table as it was, and the week's rules (its dates from the
//! workflow, sums per store, forecasts and variance, a second upload refused unless replacing).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use fixtures::retail::{self, Day};
use import_core::{ImportReport, Outcome};
use migration_core::{Database, Migrator, dispatch};
use proptest::prelude::*;
use test_support::{TestDatabase, on_both_backends};
use upload::{Classification, Error, Upload, UploadOptions};

const PLANNING: &str = "
    INSERT INTO categories (category_id, category_name) VALUES ('womens_dresses', 'Women''s Dresses'), ('mens_shirts', 'Men''s Shirts');
    INSERT INTO workflows (workflow_id, category_id, season_start) VALUES ('spring', 'womens_dresses', '2025-03-01');
";

fn migrated(db: &TestDatabase, stores: usize) -> Vec<String> {
    Migrator::new([&upload::MIGRATIONS]).unwrap().run(db.database(), None).unwrap();
    db.database().get().unwrap().batch_execute(PLANNING).unwrap();
    let ids = retail::store_ids(stores);
    let report = send(db.database(), &Upload::StoreAttributes, &retail::store_attributes(&ids), false).unwrap();
    assert_eq!(report.outcome, Outcome::Imported, "{report:?}");
    ids
}

fn send(db: &Database, upload: &Upload, text: &str, replace: bool) -> Result<ImportReport, Error> {
    let options = UploadOptions { replace, ..UploadOptions::default() };
    upload::upload_stream(db, upload, "upload.csv", &mut text.as_bytes(), options, &mut |_| {})
}

fn week(n: u32) -> Upload {
    Upload::WeeklyActuals { workflow_id: "spring".into(), week_number: n }
}

/// Every row of every upload table, as text, to compare states.
fn contents(db: &Database) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let mut connection = db.get().unwrap();
    let mut all = Vec::new();
    for (table, key) in [
        ("stores", "store_id"),
        ("historical_sales", "sale_id"),
        ("weekly_actuals", "workflow_id, week_number, store_id"),
        ("workflow_forecasts", "workflow_id, week_number, store_id"),
    ] {
        let columns = match table {
            "stores" => "store_id || '|' || store_name || '|' || coalesce(fashion_tier, '-') || '|' || store_format",
            "historical_sales" => "sale_id || '|' || CAST(units_sold AS TEXT) || '|' || CAST(revenue AS TEXT)",
            "weekly_actuals" => {
                "store_id || '|' || CAST(week_number AS TEXT) || '|' || CAST(actual_units_sold AS TEXT) || '|' || coalesce(CAST(forecast_units_sold AS TEXT), '-')"
            }
            _ => "store_id || '|' || CAST(forecast_units_sold AS TEXT)",
        };
        let sql = format!("SELECT '{table}:' || {columns} AS line FROM {table} ORDER BY {key}");
        let lines: Vec<Line> = dispatch!(connection, conn => diesel::sql_query(&sql).load(conn)).unwrap();
        all.extend(lines.into_iter().map(|l| l.line));
    }
    all
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Weekly {
    #[diesel(sql_type = Text)]
    store_id: String,
    #[diesel(sql_type = Text)]
    category_id: String,
    #[diesel(sql_type = Text)]
    week_start_date: String,
    #[diesel(sql_type = Text)]
    week_end_date: String,
    #[diesel(sql_type = BigInt)]
    actual_units_sold: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    forecast_units_sold: Option<i64>,
    #[diesel(sql_type = Nullable<Double>)]
    variance_pct: Option<f64>,
}

fn weekly_rows(db: &Database, week_number: u32) -> Vec<Weekly> {
    let sql = format!(
        "SELECT store_id, category_id, CAST(week_start_date AS TEXT) AS week_start_date, CAST(week_end_date AS TEXT) AS week_end_date,
                CAST(actual_units_sold AS BIGINT) AS actual_units_sold, CAST(forecast_units_sold AS BIGINT) AS forecast_units_sold, variance_pct
         FROM weekly_actuals WHERE workflow_id = 'spring' AND week_number = {week_number} ORDER BY store_id"
    );
    let mut connection = db.get().unwrap();
    dispatch!(connection, conn => diesel::sql_query(&sql).load(conn)).unwrap()
}

fn store_attributes_insert_update_and_keep(db: &TestDatabase) {
    let ids = migrated(db, 3);
    let database = db.database();
    assert!(contents(database).contains(&"stores:S002|Store S002|Mainstream|SHOPPING_CENTER".to_owned()));
    // The same file again changes nothing; a changed row is updated, a new one added.
    let again = send(database, &Upload::StoreAttributes, &retail::store_attributes(&ids), false).unwrap();
    assert_eq!(
        (again.count("inserted"), again.count("unchanged"), again.count("new_stores")),
        (Some(0), Some(3), Some(0))
    );
    let mut more = retail::store_attributes(&retail::store_ids(4));
    more = more.replace("Store S001", "Harbor Point");
    let report = send(database, &Upload::StoreAttributes, &more, false).unwrap();
    assert_eq!(
        report.counts.named().collect::<Vec<_>>(),
        [
            ("rows_read", 4),
            ("inserted", 2),
            ("unchanged", 2),
            ("rejected", 0),
            ("new_stores", 1),
            ("updated_stores", 1)
        ]
    );
    let stores = contents(database);
    assert!(stores.contains(&"stores:S001|Harbor Point|Premium|MALL".to_owned()), "{stores:?}");
    assert_eq!(upload::store_ids(database).unwrap(), retail::store_ids(4));
}

fn a_bad_store_file_writes_nothing_and_names_line_column_and_rule(db: &TestDatabase) {
    let _ = migrated(db, 2);
    let database = db.database();
    let before = contents(database);
    let text = format!(
        "{}\nS009,New,1,2,3,A,Premium,MALL,NORTHEAST\nS010,Bad,1,2,3,Z,Premium,MALL,NORTHEAST\n",
        retail::STORE_HEADER
    );
    let report = send(database, &Upload::StoreAttributes, &text, false).unwrap();
    assert_eq!(report.outcome, Outcome::Refused);
    let finding = &report.validation.as_ref().unwrap().findings[0];
    assert_eq!((finding.line, finding.column, finding.rule.code()), (3, Some(6), "enumeration"), "{finding:?}");
    assert!(finding.message.contains("expected one of A, B, C"), "{}", finding.message);
    assert_eq!(contents(database), before, "nothing was written");
}

fn historical_sales_map_categories_and_refuse_a_second_upload_unless_replacing(db: &TestDatabase) {
    let ids = migrated(db, 2);
    let database = db.database();
    let mut text = Vec::new();
    let rows = retail::historical_sales(Day::ymd(2022, 1, 1), 3, &["Women's Dresses", "Men's Shirts"], &ids, &mut text)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    let report = send(database, &Upload::HistoricalSales, &text, false).unwrap();
    assert_eq!((report.outcome, report.count("inserted")), (Outcome::Imported, Some(rows)), "{report:?}");
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Sale {
        #[diesel(sql_type = Text)]
        sale_id: String,
        #[diesel(sql_type = Text)]
        week_start_date: String,
        #[diesel(sql_type = Text)]
        revenue: String,
    }
    let first_line = text.lines().nth(1).unwrap();
    let revenue = first_line.rsplit(',').next().unwrap();
    let mut connection = database.get().unwrap();
    let sale: Vec<Sale> = dispatch!(connection, conn => diesel::sql_query(
        "SELECT sale_id, CAST(week_start_date AS TEXT) AS week_start_date, CAST(CAST(revenue AS NUMERIC(14,2)) AS TEXT) AS revenue
         FROM historical_sales WHERE sale_date = '2022-01-01' AND category_id = 'womens_dresses' AND store_id = 'S001'"
    ).load(conn))
    .unwrap();
    drop(connection);
    // 2022-01-01 is a Saturday: its ISO week starts on Monday 2021-12-27.
    assert_eq!(sale.len(), 1);
    assert_eq!(
        (sale[0].sale_id.as_str(), sale[0].week_start_date.as_str()),
        ("2022-01-01/womens_dresses/S001", "2021-12-27")
    );
    assert_eq!(sale[0].revenue.parse::<f64>().unwrap(), revenue.parse::<f64>().unwrap(), "{first_line}");

    let before = contents(database);
    let again = send(database, &Upload::HistoricalSales, &text, false).unwrap_err();
    match &again {
        Error::Import(import_core::Error::Conflict { rule, message, .. }) => {
            assert_eq!(*rule, "already-uploaded");
            assert!(message.contains(&format!("{rows} of its {rows} rows are stored already (the first on line 2: 2022-01-01 / womens_dresses / S001)")), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(again.to_string().contains("nothing was written"), "{again}");
    assert_eq!(contents(database), before);
    let replaced = send(
        database,
        &Upload::HistoricalSales,
        &text.replace(",Men's Shirts,S002,", ",Men's Shirts,S001,").replace("2022-01-03,", "2022-01-04,"),
        true,
    );
    // (The edit above makes duplicate rows: refused by the validator, nothing written.)
    assert_eq!(replaced.unwrap().outcome, Outcome::Refused);
    let replaced = send(database, &Upload::HistoricalSales, &text.replace("2022-01-03,", "2022-01-04,"), true).unwrap();
    assert_eq!(replaced.count("replaced"), Some(rows * 2 / 3));
    assert_eq!(upload::stats(database).unwrap()[5], ("historical_sales", (rows + rows / 3) as i64));
}

fn unknown_categories_and_stores_are_errors_with_line_numbers(db: &TestDatabase) {
    let _ = migrated(db, 2);
    let database = db.database();
    let text = "date,category,store_id,quantity_sold,revenue\n2022-01-01,Women's Dresses,S001,120,2400.00\n2022-01-01,Hats,S001,1,1.00\n2022-01-01,Men's Shirts,S404,1,1.00\n2022-01-02,Men's Shirts,S001,1,1.001\n";
    let report = send(database, &Upload::HistoricalSales, text, false).unwrap();
    assert_eq!(report.outcome, Outcome::Refused);
    let findings: Vec<(u64, Option<u32>, &str)> =
        report.validation.as_ref().unwrap().findings.iter().map(|f| (f.line, f.column, f.rule.code())).collect();
    assert_eq!(findings, [(3, Some(2), "unknown-id"), (4, Some(3), "unknown-id"), (5, Some(5), "precision")]);
    assert_eq!(upload::stats(database).unwrap()[5], ("historical_sales", 0));
}

fn a_week_is_summed_per_store_with_its_forecast_and_variance(db: &TestDatabase) {
    let ids = migrated(db, 4);
    let database = db.database();
    // Week 3 of a season starting Saturday 2025-03-01: 2025-03-15 to 2025-03-21.
    database
        .get()
        .unwrap()
        .batch_execute(
            "INSERT INTO workflow_forecasts (workflow_id, week_number, store_id, forecast_units_sold)
             VALUES ('spring', 3, 'S001', 100), ('spring', 3, 'S002', 80), ('spring', 3, 'S003', 0)",
        )
        .unwrap();
    let context: serde_json::Value = serde_json::from_str(&week(3).context(database).unwrap()).unwrap();
    assert_eq!(context["week_start"], "2025-03-15");
    // Per day: S001 15+day (sum 126), S002 10 (70), S003 5 (35), S004 1 (7).
    let text = retail::weekly_actuals(Day::ymd(2025, 3, 15), &ids, |day, store| match store {
        0 => 15 + day as u64,
        1 => 10,
        2 => 5,
        _ => 1,
    });
    let report = send(database, &week(3), &text, false).unwrap();
    assert_eq!(
        report.counts.named().collect::<Vec<_>>(),
        [
            ("rows_read", 28),
            ("inserted", 28),
            ("rejected", 0),
            ("weekly_rows", 4),
            ("replaced", 0),
            ("normal", 0),
            ("elevated", 1),
            ("high", 1),
            ("no_forecast", 2)
        ]
    );
    let rows = weekly_rows(database, 3);
    let expected = |store: &str, actual, forecast: Option<i64>, variance: Option<f64>| Weekly {
        store_id: store.into(),
        category_id: "womens_dresses".into(),
        week_start_date: "2025-03-15".into(),
        week_end_date: "2025-03-21".into(),
        actual_units_sold: actual,
        forecast_units_sold: forecast,
        variance_pct: variance,
    };
    assert_eq!(
        rows,
        [
            expected("S001", 126, Some(100), Some(0.26)),
            expected("S002", 70, Some(80), Some(-0.125)),
            expected("S003", 35, Some(0), None),
            expected("S004", 7, None, None),
        ]
    );
    assert_eq!(Classification::of(rows[0].variance_pct), Some(Classification::High));
    assert_eq!(Classification::of(rows[1].variance_pct), Some(Classification::Elevated));
}

fn a_week_uploaded_again_is_refused_unless_replaced_whole(db: &TestDatabase) {
    let ids = migrated(db, 3);
    let database = db.database();
    let first = retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids, |_, _| 2);
    send(database, &week(1), &first, false).unwrap();
    let before = contents(database);
    let error = send(database, &week(1), &first, false).unwrap_err();
    match &error {
        Error::Import(import_core::Error::Conflict { rule, message, .. }) => {
            assert_eq!(*rule, "week-already-uploaded");
            assert!(message.contains("week 1 of workflow spring (2025-03-01 to 2025-03-07) was uploaded before: 3 stores have weekly actuals; upload with replace"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(contents(database), before);
    // Replacing takes the whole week: S003, left out, has no row any more.
    let second = retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids[..2], |_, _| 3);
    let report = send(database, &week(1), &second, true).unwrap();
    assert_eq!((report.count("weekly_rows"), report.count("replaced")), (Some(2), Some(3)));
    let rows: Vec<(String, i64)> =
        weekly_rows(database, 1).into_iter().map(|r| (r.store_id, r.actual_units_sold)).collect();
    assert_eq!(rows, [("S001".to_owned(), 21), ("S002".to_owned(), 21)]);
}

fn a_week_file_is_checked_against_the_workflow_week(db: &TestDatabase) {
    let ids = migrated(db, 2);
    let database = db.database();
    // Week 2 is 2025-03-08 to 2025-03-14: a file for week 1 is outside it.
    let text = retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids, |_, _| 1);
    let report = send(database, &week(2), &text, false).unwrap();
    assert_eq!(report.outcome, Outcome::Refused);
    let validation = report.validation.unwrap();
    let outside = validation.findings.iter().find(|f| f.rule.code() == "date-outside-range").expect("a date outside");
    assert_eq!((outside.line, outside.column), (2, Some(1)));
    assert!(outside.message.contains("2025-03-08 to 2025-03-14"), "{outside:?}");
    assert!(
        matches!(send(database, &Upload::WeeklyActuals { workflow_id: "autumn".into(), week_number: 1 }, &text, false),
        Err(Error::UnknownWorkflow(id)) if id == "autumn")
    );
    let zero = send(database, &week(0), &text, false).unwrap_err();
    assert!(zero.to_string().contains("weeks count from 1"), "{zero}");
    assert_eq!(upload::stats(database).unwrap()[6], ("weekly_actuals", 0));
}

fn an_upload_over_the_limit_is_refused_whole(db: &TestDatabase) {
    let ids = migrated(db, 2);
    let database = db.database();
    let text = retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids, |_, _| 1);
    let options = UploadOptions { max_bytes: 100, ..UploadOptions::default() };
    let error =
        upload::upload_stream(database, &week(1), "big.csv", &mut text.as_bytes(), options, &mut |_| {}).unwrap_err();
    assert!(matches!(error, Error::TooLarge { limit: 100, .. }), "{error:?}");
    assert!(error.to_string().contains("big.csv is larger than the upload limit of 100 bytes; nothing was written"));
    assert_eq!(upload::stats(database).unwrap()[6], ("weekly_actuals", 0));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("week.csv");
    std::fs::write(&path, &text).unwrap();
    let from_file = upload::upload_file(database, &week(1), &path, options, &mut |_| {}).unwrap_err();
    assert!(matches!(from_file, Error::TooLarge { .. }), "{from_file:?}");
    let report = upload::upload_file(database, &week(1), &path, UploadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(report.count("weekly_rows"), Some(2));
}

on_both_backends!(
    store_attributes_insert_update_and_keep,
    a_bad_store_file_writes_nothing_and_names_line_column_and_rule,
    historical_sales_map_categories_and_refuse_a_second_upload_unless_replacing,
    unknown_categories_and_stores_are_errors_with_line_numbers,
    a_week_is_summed_per_store_with_its_forecast_and_variance,
    a_week_uploaded_again_is_refused_unless_replaced_whole,
    a_week_file_is_checked_against_the_workflow_week,
    an_upload_over_the_limit_is_refused_whole,
);

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// For any week of quantities and forecasts, the stored rows are the per-store sums and the
    /// variance formula; replacing the week with the same file leaves the same rows.
    #[test]
    fn a_week_stores_exactly_its_sums(
        quantities in proptest::collection::vec(0u64..1_000, 7 * 3),
        forecasts in proptest::collection::vec(proptest::option::of(0i64..3_000), 3),
    ) {
        let db = TestDatabase::sqlite();
        let ids = migrated(&db, 3);
        let database = db.database();
        let mut connection = database.get().unwrap();
        for (store, forecast) in ids.iter().zip(&forecasts) {
            if let Some(forecast) = forecast {
                connection.batch_execute(&format!(
                    "INSERT INTO workflow_forecasts (workflow_id, week_number, store_id, forecast_units_sold) VALUES ('spring', 1, '{store}', {forecast})"
                )).unwrap();
            }
        }
        drop(connection);
        let text = retail::weekly_actuals(Day::ymd(2025, 3, 1), &ids, |day, store| quantities[day * 3 + store]);
        send(database, &week(1), &text, false).unwrap();
        let rows = weekly_rows(database, 1);
        for (store, row) in rows.iter().enumerate() {
            let actual: u64 = (0..7).map(|day| quantities[day * 3 + store]).sum();
            prop_assert_eq!(row.actual_units_sold, actual as i64);
            prop_assert_eq!(row.forecast_units_sold, forecasts[store]);
            let expected = forecasts[store].filter(|&f| f > 0).map(|f| (actual as f64 - f as f64) / f as f64);
            prop_assert_eq!(row.variance_pct, expected);
        }
        send(database, &week(1), &text, true).unwrap();
        prop_assert_eq!(weekly_rows(database, 1), rows);
    }
}
