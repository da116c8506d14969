//! `intake market-data` end to end on both backends: prices with exactly 4 decimals, a
//! soft-deleted tick left out until asked for, purge only with an explicit date and saying how
//! many, an instrument with rows not deleted.

mod common;

use common::{intake, stdout};
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

on_both_backends!(soft_delete_purge_and_restrict_through_the_cli);
