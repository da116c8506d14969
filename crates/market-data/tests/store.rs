//! The crate's read and write API after seed 001, on both backends: no read returns a
//! soft-deleted row unless asked, restore brings it back, purge removes only what was
//! soft-deleted before its date, a parent with rows is not deleted, prices serialise with
//! exactly 4 decimals.

mod common;

use chrono::{NaiveDateTime, TimeDelta, Utc};
use market_data::{Deleted, Error, Table};
use migration_core::Migrator;
use test_support::{TestDatabase, on_both_backends};

fn ready(db: &TestDatabase) {
    Migrator::new([&market_data::MIGRATIONS]).unwrap().run(db.database(), None).unwrap();
    common::populate(db);
}

fn time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn no_read_returns_a_soft_deleted_row_unless_asked(db: &TestDatabase) {
    ready(db);
    let database = db.database();
    let (from, to) = (time("2025-09-01 00:00:00"), time("2025-09-02 00:00:00"));
    let all = market_data::ticks(database, 1, from, to, Deleted::Exclude).unwrap();
    let latest_before = market_data::latest(database, Deleted::Exclude).unwrap();
    let newest = latest_before.iter().find(|t| t.instrument_id == 1).unwrap().clone();
    let hidden = [all[0].id, all[1].id, newest.id];
    assert_eq!(market_data::soft_delete(database, Table::MarketData, &hidden).unwrap(), 3);
    assert_eq!(market_data::soft_delete(database, Table::MarketData, &hidden).unwrap(), 0, "already deleted");
    // Every read path, by default and when asked.
    let live = market_data::ticks(database, 1, from, to, Deleted::Exclude).unwrap();
    assert_eq!(live.len(), all.len() - 3);
    assert!(live.iter().all(|t| !hidden.contains(&t.id) && t.deleted_at.is_none()));
    let everything = market_data::ticks(database, 1, from, to, Deleted::Include).unwrap();
    assert_eq!(everything.len(), all.len());
    assert_eq!(everything.iter().filter(|t| t.deleted_at.is_some()).count(), 3);
    let latest = market_data::latest(database, Deleted::Exclude).unwrap();
    let one = latest.iter().find(|t| t.instrument_id == 1).unwrap();
    assert!(one.id != newest.id && one.timestamp < newest.timestamp, "the newest live tick, not the deleted one");
    let latest_all = market_data::latest(database, Deleted::Include).unwrap();
    assert_eq!(latest_all.iter().find(|t| t.instrument_id == 1).unwrap().id, newest.id);
    // Restored, it is read again.
    assert_eq!(market_data::restore(database, Table::MarketData, &hidden).unwrap(), 3);
    assert_eq!(market_data::ticks(database, 1, from, to, Deleted::Exclude).unwrap(), all);
}

fn purge_removes_only_what_was_deleted_before_its_date(db: &TestDatabase) {
    ready(db);
    let database = db.database();
    assert_eq!(market_data::soft_delete(database, Table::MarketData, &[1, 2, 3]).unwrap(), 3);
    assert_eq!(market_data::soft_delete(database, Table::AlertLogs, &[1]).unwrap(), 1);
    let yesterday = Utc::now().naive_utc() - TimeDelta::days(1);
    let summary = market_data::purge(database, yesterday, false).unwrap();
    assert_eq!(summary.removed, [(Table::AlertLogs, 0), (Table::MarketData, 0)], "deleted today, not before yesterday");
    let tomorrow = Utc::now().naive_utc() + TimeDelta::days(1);
    let dry = market_data::purge(database, tomorrow, true).unwrap();
    assert_eq!(dry.removed, [(Table::AlertLogs, 1), (Table::MarketData, 3)]);
    let (from, to) = (time("2025-01-01 00:00:00"), time("2026-01-01 00:00:00"));
    assert_eq!(
        market_data::ticks(database, 1, from, to, Deleted::Include).unwrap().len(),
        134,
        "a dry run removes nothing"
    );
    let done = market_data::purge(database, tomorrow, false).unwrap();
    assert_eq!(done.removed, [(Table::AlertLogs, 1), (Table::MarketData, 3)]);
    let left: usize = (1..=3).map(|i| market_data::ticks(database, i, from, to, Deleted::Include).unwrap().len()).sum();
    assert_eq!(left, 397);
}

fn a_parent_with_rows_is_not_deleted(db: &TestDatabase) {
    ready(db);
    let database = db.database();
    let error = market_data::delete_instrument(database, 1).unwrap_err();
    assert!(
        matches!(&error, Error::HasDependents { dependents, .. } if dependents == &[("market_data", 134), ("alert_logs", 25)]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "cannot delete instrument 1: 134 rows in market_data and 25 rows in alert_logs refer to it; soft-delete or purge them first"
    );
    let rule = market_data::delete_alert_rule(database, 2).unwrap_err().to_string();
    assert_eq!(rule, "cannot delete alert rule 2: 25 rows in alert_logs refer to it; soft-delete or purge them first");
    let (from, to) = (time("2025-01-01 00:00:00"), time("2026-01-01 00:00:00"));
    assert_eq!(market_data::ticks(database, 1, from, to, Deleted::Include).unwrap().len(), 134, "nothing deleted");
    // Soft-deleted rows still refer to it: only a purge frees it.
    assert!(matches!(market_data::delete_instrument(database, 9), Err(Error::NotFound { .. })));
    let id = market_data::instrument_id(database, "CL").unwrap();
    assert_eq!(id, 3);
}

fn prices_serialise_with_four_decimals(db: &TestDatabase) {
    ready(db);
    let (from, to) = (time("2025-01-01 00:00:00"), time("2026-01-01 00:00:00"));
    let ticks = market_data::ticks(db.database(), 2, from, to, Deleted::Exclude).unwrap();
    let json = serde_json::to_value(&ticks[0]).unwrap();
    assert_eq!(json["price"], "99999999.9999", "{json}");
    assert_eq!(json["bid"], "100.0001");
    assert!(json["ask"].is_null());
    let prices: Vec<String> =
        ticks.iter().map(|t| serde_json::to_value(t).unwrap()["price"].as_str().unwrap().to_owned()).collect();
    assert!(prices.iter().all(|p| p.split('.').nth(1).is_some_and(|d| d.len() == 4)), "{prices:?}");
}

on_both_backends!(
    no_read_returns_a_soft_deleted_row_unless_asked,
    purge_removes_only_what_was_deleted_before_its_date,
    a_parent_with_rows_is_not_deleted,
    prices_serialise_with_four_decimals,
);
