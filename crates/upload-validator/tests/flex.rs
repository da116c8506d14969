//! IB Flex reports (FORMATS.md §2) through the streaming XML kind: which rows become records
//! and the values they carry, from the golden files. Needs the `ib-flex` feature.
#![cfg(feature = "ib-flex")]

use std::path::Path;

use upload_validator::{Context, FlexRow, FlexSection, PayloadKind, Record, Validator};

fn rows(file: &str) -> Vec<FlexRow> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(file);
    let mut validator = Validator::new(PayloadKind::IbFlex, Context::none()).unwrap();
    let mut rows = Vec::new();
    let mut keep = |record: Record| match record {
        Record::Flex(row) => rows.push(row),
        other => panic!("not a Flex row: {other:?}"),
    };
    for chunk in std::fs::read(&path).unwrap().chunks(7) {
        validator.push_each(chunk, &mut keep);
    }
    let report = validator.finish_each(&mut keep);
    assert_eq!(report.errors, 0, "{}", report.to_json());
    rows
}

fn get<'r>(row: &'r FlexRow, name: &str) -> Option<&'r str> {
    row.get(name)
}

#[test]
fn nav_rows_carry_amounts_without_separators_and_drop_nulls() {
    let rows = rows("ib_flex.nav_mtd.xml");
    let sections: Vec<FlexSection> = rows.iter().map(|r| r.section).collect();
    use FlexSection::{ChangeInNav, EquitySummary};
    assert_eq!(sections, [EquitySummary, ChangeInNav, EquitySummary, ChangeInNav]);
    let first = &rows[1];
    assert_eq!(first.decimal("startingValue").unwrap().as_str(), "81426.89");
    assert_eq!(first.decimal("endingValue").unwrap().as_str(), "80048.64");
    assert_eq!(first.date("fromDate"), chrono::NaiveDate::from_ymd_opt(2025, 7, 1));
    assert_eq!((first.account_id.as_str(), first.statement, first.line), ("U0000001", 1, 7));
    let second = &rows[3];
    for null in ["realized", "depositsWithdrawals", "interest", "changeInInterestAccruals"] {
        assert_eq!(get(second, null), None, "{null} is null");
    }
    assert_eq!(get(second, "newAttributeIbAddedLater"), Some("x"), "unknown attributes are kept, not refused");
    assert_eq!(second.statement, 2);
}

#[test]
fn only_execution_trades_of_real_accounts_become_records() {
    let rows = rows("ib_flex.trades.xml");
    let ids: Vec<&str> = rows.iter().map(|r| get(r, "transactionID").unwrap()).collect();
    assert_eq!(
        ids,
        ["3001", "3002", "3003"],
        "no AssetSummary, SymbolSummary, Order, Lot, ORDER level or accountId=\"-\""
    );
    assert!(rows.iter().all(|r| r.section == FlexSection::Trade));
    let option = &rows[0];
    assert_eq!(get(option, "symbol"), Some("SPY   250701P00615000"), "OCC symbols keep their spaces");
    assert_eq!(get(option, "dateTime"), Some("2025-07-01 09:30:01 EDT"));
    assert_eq!(option.date_time("dateTime").unwrap().to_string(), "2025-07-01 09:30:01");
    let shares = &rows[1];
    assert_eq!(get(shares, "quantity"), Some("1000"));
    assert_eq!(get(shares, "netCash"), Some("-1234567.50"));
    assert_eq!(get(shares, "dateTime"), Some("2025-07-01 12:14:17"), "no zone given");
    let expiry = &rows[2];
    assert_eq!((get(expiry, "transactionType"), get(expiry, "exchange")), (Some("BookTrade"), None), "`--` is null");
    assert_eq!(get(expiry, "expiry"), Some("2025-07-01"));
}

#[test]
fn cash_exercises_and_accruals_take_their_statement_account_when_they_have_none() {
    let rows = rows("ib_flex.cash_and_eae.xml");
    let sections: Vec<FlexSection> = rows.iter().map(|r| r.section).collect();
    use FlexSection::{CashTransaction as Cash, InterestAccrual, OptionEae};
    assert_eq!(sections, [Cash, Cash, OptionEae, OptionEae, InterestAccrual, Cash]);
    assert_eq!(get(&rows[0], "description"), Some("DISBURSEMENT & FEE"));
    assert_eq!(get(&rows[0], "amount"), Some("-1500"));
    assert_eq!(get(&rows[0], "dateTime"), Some("2025-07-01 00:00:00"), "a date alone is midnight");
    assert_eq!(rows[2], rows[3].clone().with_line(rows[2].line), "two identical OptionEAE rows stay two rows");
    let period = rows[0].statement_period.unwrap();
    assert_eq!((period.0.to_string(), period.1.to_string()), ("2025-07-01".into(), "2025-07-31".into()));
    assert_eq!((rows[5].account_id.as_str(), rows[5].statement), ("U0000002", 2));
}

trait WithLine {
    fn with_line(self, line: u64) -> Self;
}

impl WithLine for FlexRow {
    fn with_line(mut self, line: u64) -> Self {
        self.line = line;
        self
    }
}
