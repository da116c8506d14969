//! `intake market-data` end to end on both backends: prices with exactly 4 decimals, a
//! soft-deleted tick left out until asked for, purge only with an explicit date and saying how
//! many, an instrument with rows not deleted; the online conversion on PostgreSQL, after
//! which `migrate` finishes and `check` finds the schema exact, refused on SQLite.

mod common;

use common::{intake, stdout};
use migration_core::Backend;
use test_support::{TestDatabase, on_both_backends};

fn soft_delete_purge_and_restrict_through_the_cli(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    db.database()
        .get()
        .unwrap()
        .batch_execute(
            "INSERT INTO instruments (id, symbol, name) VALUES (1, 'ES', 'E-mini S&P'), (2, 'NQ', 'E-mini Nasdaq');
             INSERT INTO market_data (instrument_id, \"timestamp\", price, bid, volume) VALUES
                 (1, '2025-09-01 10:00:00', 21012.25, 21012, 3), (1, '2025-09-01 10:00:01', 99999999.9999, NULL, 1);",
        )
        .unwrap();
    let ticks = |extra: &[&str]| -> serde_json::Value {
        let mut args =
            vec!["--json", "market-data", "ticks", "--symbol", "ES", "--from", "2025-09-01", "--to", "2025-09-02"];
        args.extend(extra);
        serde_json::from_str(&stdout(&intake(db.url(), &args))).unwrap()
    };
    let all = ticks(&[]);
    assert_eq!(all[0]["price"], "21012.2500");
    assert_eq!(all[0]["bid"], "21012.0000");
    assert_eq!(all[1]["price"], "99999999.9999");
    let id = all[1]["id"].to_string();
    assert!(
        stdout(&intake(db.url(), &["market-data", "soft-delete", "--table", "market_data", &id]))
            .starts_with("1 of 1 rows soft-deleted")
    );
    assert_eq!(ticks(&[]).as_array().unwrap().len(), 1, "a soft-deleted tick is left out");
    assert_eq!(ticks(&["--include-deleted"]).as_array().unwrap().len(), 2);
    let latest = stdout(&intake(db.url(), &["market-data", "latest"]));
    assert!(latest.contains("21012.2500") && !latest.contains("99999999.9999"), "{latest}");

    let no_date = intake(db.url(), &["market-data", "purge"]);
    assert_eq!(no_date.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_date.stderr).contains("--deleted-before"));
    let purged = stdout(&intake(db.url(), &["market-data", "purge", "--deleted-before", "2999-01-01"]));
    assert!(purged.contains("Removed 1 market_data rows soft-deleted before 2999-01-01 00:00:00 UTC."), "{purged}");
    assert_eq!(ticks(&["--include-deleted"]).as_array().unwrap().len(), 1);

    let refused = intake(db.url(), &["market-data", "delete-instrument", "ES"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("cannot delete instrument 1: 1 rows in market_data refer to it; soft-delete or purge them first")
    );
    assert!(stdout(&intake(db.url(), &["market-data", "delete-instrument", "NQ"])).contains("Deleted instrument NQ"));
}

fn convert_online_then_migrate(db: &TestDatabase) {
    stdout(&intake(db.url(), &["migrate"]));
    stdout(&intake(db.url(), &["migrate", "rollback", "--domain", "market_data", "--to", "20250901000200"]));
    db.database()
        .get()
        .unwrap()
        .batch_execute(
            "INSERT INTO instruments (id, symbol, name) VALUES (1, 'ES', 'E-mini S&P');
             INSERT INTO market_data (instrument_id, \"timestamp\", price, volume)
                 SELECT 1, '2025-09-01 10:00:00'::timestamp + g * interval '1 second', 5000.0001 * g, g FROM generate_series(1, 30) g;",
        )
        .unwrap_or_else(|_| assert_eq!(db.backend(), Backend::Sqlite, "only SQLite lacks generate_series"));
    let converted = intake(db.url(), &["market-data", "convert-online", "--batch-rows", "7"]);
    if db.backend() == Backend::Sqlite {
        assert_eq!(converted.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&converted.stderr);
        assert!(stderr.contains("the online conversion cannot run here: it is for PostgreSQL"), "{stderr}");
        return;
    }
    let output = stdout(&converted);
    assert!(output.starts_with("Converted market_data and alert_logs in "), "{output}");
    assert!(output.contains(": 30 rows copied in 5 batches"), "{output}");
    stdout(&intake(db.url(), &["migrate"]));
    stdout(&intake(db.url(), &["migrate", "check", "--domain", "market_data"]));
    let ticks = stdout(&intake(db.url(), &["--json", "market-data", "latest"]));
    assert!(ticks.contains("\"price\": \"150000.0030\""), "{ticks}");
    let again = stdout(&intake(db.url(), &["market-data", "convert-online"]));
    assert_eq!(again.trim(), "Nothing to convert: the prices are double precision already.");
}

on_both_backends!(soft_delete_purge_and_restrict_through_the_cli, convert_online_then_migrate);
