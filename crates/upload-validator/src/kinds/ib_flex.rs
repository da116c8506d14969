//! Interactive Brokers Flex Query reports (FORMATS.md §2): NAV, Trades, Cash Transactions,
//! Exercises and Expiries and Interest Accruals, read with the streaming XML engine.
//!
//! Only detail rows become records: `Trade` (with `levelOfDetail="EXECUTION"` where the
//! attribute is present), `CashTransaction`, `OptionEAE`, `InterestAccrualsCurrency`,
//! `ChangeInNAV` and `EquitySummaryByReportDateInBase`; summary rows (`accountId="-"`) and the
//! other elements (`AssetSummary`, `SymbolSummary`, `Order`, `Lot`, the section containers)
//! are skipped. Attributes may come in any order or be missing; `""`, `-`, `--` and `N/A` are
//! null; amounts may carry thousands separators; dates are `yyyyMMdd`, `yyyy-MM-dd` or
//! `MM/dd/yyyy`, times `yyyyMMdd;HHmmss` with or without a zone name. An attribute this kind
//! does not know is kept as written, never an error (IB keeps adding them).

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use xml_stream::{Element, Position};

use crate::context::NoContext;
use crate::fields::{Decimal, iso_date};
use crate::report::{Rule, Severity};
use crate::validator::{Engine, Limits, Out, Place};
use crate::xml::{XmlChecker, XmlInput};
use crate::{Error, PayloadKind, Record};

/// What a detail row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlexSection {
    /// `Trade`: an execution (expirations are `Trade` rows too, `transactionType="BookTrade"`).
    Trade,
    /// `CashTransaction`: deposits, withdrawals, dividends, fees, interest.
    CashTransaction,
    /// `OptionEAE`: an exercise, assignment or expiry.
    OptionEae,
    /// `InterestAccrualsCurrency`: a period's interest accruals in one currency.
    InterestAccrual,
    /// `ChangeInNAV`: a day's NAV and its change components.
    ChangeInNav,
    /// `EquitySummaryByReportDateInBase`: a day's equity summary in the base currency.
    EquitySummary,
}

impl FlexSection {
    /// Every section, with its element name.
    pub const ALL: [(FlexSection, &'static str); 6] = [
        (FlexSection::Trade, "Trade"),
        (FlexSection::CashTransaction, "CashTransaction"),
        (FlexSection::OptionEae, "OptionEAE"),
        (FlexSection::InterestAccrual, "InterestAccrualsCurrency"),
        (FlexSection::ChangeInNav, "ChangeInNAV"),
        (FlexSection::EquitySummary, "EquitySummaryByReportDateInBase"),
    ];

    /// The element's name in the file.
    pub fn element(self) -> &'static str {
        FlexSection::ALL.iter().find(|(section, _)| *section == self).map_or("", |(_, name)| name)
    }

    fn of(element: &str) -> Option<FlexSection> {
        FlexSection::ALL.iter().find(|(_, name)| *name == element).map(|(section, _)| *section)
    }
}

/// One valid detail row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlexRow {
    /// What it is.
    pub section: FlexSection,
    /// Its account (the row's `accountId`, else its statement's).
    pub account_id: String,
    /// The enclosing `FlexStatement`'s `fromDate` and `toDate`.
    pub statement_period: Option<(NaiveDate, NaiveDate)>,
    /// The enclosing `FlexStatement`'s `whenGenerated`, without its zone name: of two reports
    /// of the same day, the one generated later is the newer.
    pub statement_generated: Option<NaiveDateTime>,
    /// 1-based number of its statement in the file.
    pub statement: u32,
    /// Every non-null attribute, in file order: amounts without thousands separators, dates
    /// as `YYYY-MM-DD`, times as `YYYY-MM-DD HH:MM:SS` plus the zone name if the file gave
    /// one, other values as written. The names this kind knows are not copied.
    pub attributes: Vec<(Cow<'static, str>, String)>,
    /// 1-based line of the element.
    pub line: u64,
}

impl FlexRow {
    /// The value of attribute `name`, if the row has it (and it is not null).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes.iter().rev().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
    }

    /// An amount attribute, exact.
    pub fn decimal(&self, name: &str) -> Option<Decimal> {
        Decimal::parse(self.get(name)?, b'.')
    }

    /// A date attribute.
    pub fn date(&self, name: &str) -> Option<NaiveDate> {
        iso_date(self.get(name)?)
    }

    /// A time attribute, without its zone name (IB writes the exchange's or the account's
    /// local time).
    pub fn date_time(&self, name: &str) -> Option<NaiveDateTime> {
        let value = self.get(name)?;
        NaiveDateTime::parse_from_str(value.get(..19)?, "%Y-%m-%d %H:%M:%S").ok()
    }
}

/// How an attribute's value is checked and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A number: checked, stored without thousands separators.
    Amount,
    /// A date: checked, stored as `YYYY-MM-DD`.
    Date,
    /// A time: checked, stored as `YYYY-MM-DD HH:MM:SS[ ZONE]`.
    Time,
    /// Anything else: stored as written.
    Text,
}

/// Declares [`known`] from a list of `"name" => Class`: a `match`, so finding a name costs a
/// length dispatch and a comparison or two, not a scan of the list.
macro_rules! known_attributes {
    ($($name:literal => $class:ident,)*) => {
        /// The attribute's class and its name as a static string, if this kind knows it: the
        /// attributes it checks, and the other names it stores without a copy.
        fn known(name: &str) -> Option<(Class, &'static str)> {
            match name {
                $($name => Some((Class::$class, $name)),)*
                _ => None,
            }
        }
    };
}

known_attributes! {
    "quantity" => Amount,
    "tradePrice" => Amount,
    "tradeMoney" => Amount,
    "proceeds" => Amount,
    "ibCommission" => Amount,
    "netCash" => Amount,
    "amount" => Amount,
    "strike" => Amount,
    "multiplier" => Amount,
    "closePrice" => Amount,
    "cost" => Amount,
    "fifoPnlRealized" => Amount,
    "mtmPnl" => Amount,
    "fxRateToBase" => Amount,
    "taxes" => Amount,
    "accruedInt" => Amount,
    "startingValue" => Amount,
    "mtm" => Amount,
    "realized" => Amount,
    "depositsWithdrawals" => Amount,
    "interest" => Amount,
    "changeInInterestAccruals" => Amount,
    "brokerFees" => Amount,
    "commissions" => Amount,
    "changeInUnrealized" => Amount,
    "endingValue" => Amount,
    "twr" => Amount,
    "cash" => Amount,
    "total" => Amount,
    "stock" => Amount,
    "options" => Amount,
    "startingAccrualBalance" => Amount,
    "interestAccrued" => Amount,
    "accrualReversal" => Amount,
    "endingAccrualBalance" => Amount,
    "fxTranslation" => Amount,
    "dividends" => Amount,
    "withholdingTax" => Amount,
    "otherFees" => Amount,
    "reportDate" => Date,
    "fromDate" => Date,
    "toDate" => Date,
    "tradeDate" => Date,
    "settleDateTarget" => Date,
    "settleDate" => Date,
    "expiry" => Date,
    "date" => Date,
    "dateTime" => Time,
    "whenGenerated" => Time,
    "openDateTime" => Time,
    "orderTime" => Time,
    "accountId" => Text,
    "currency" => Text,
    "assetCategory" => Text,
    "symbol" => Text,
    "description" => Text,
    "conid" => Text,
    "underlyingConid" => Text,
    "underlyingSymbol" => Text,
    "putCall" => Text,
    "tradeID" => Text,
    "transactionID" => Text,
    "transactionType" => Text,
    "exchange" => Text,
    "buySell" => Text,
    "levelOfDetail" => Text,
    "ibCommissionCurrency" => Text,
    "type" => Text,
    "code" => Text,
    "ibOrderID" => Text,
    "openCloseIndicator" => Text,
}

/// `""`, `-`, `--`, `N/A`: no value.
fn is_null(value: &str) -> bool {
    matches!(value.trim(), "" | "-" | "--" | "N/A")
}

/// `1,234.50` → `1234.50`; `None` for anything else than a number with optional grouping.
fn amount(value: &str) -> Option<Decimal> {
    let value = value.trim();
    let (sign, digits) = value.strip_prefix('-').map_or(("", value), |rest| ("-", rest));
    let (whole, fraction) = digits.split_once('.').map_or((digits, None), |(w, f)| (w, Some(f)));
    let mut groups = whole.split(',');
    let first = groups.next()?;
    let mut plain = String::with_capacity(value.len());
    plain.push_str(sign);
    plain.push_str(first);
    if whole.contains(',') {
        if first.is_empty() || first.len() > 3 {
            return None;
        }
        for group in groups {
            if group.len() != 3 {
                return None;
            }
            plain.push_str(group);
        }
    }
    if let Some(fraction) = fraction {
        plain.push('.');
        plain.push_str(fraction);
    }
    Decimal::parse(&plain, b'.')
}

/// The number the ASCII digits `digits` spell (at most 9 of them).
fn digits(digits: &str) -> Option<u32> {
    (!digits.is_empty() && digits.len() <= 9 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
}

/// `20250701`, `2025-07-01` or `07/01/2025`.
fn date(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    let ymd =
        |y: &str, m: &str, d: &str| NaiveDate::from_ymd_opt(i32::try_from(digits(y)?).ok()?, digits(m)?, digits(d)?);
    match value.len() {
        8 => ymd(value.get(..4)?, value.get(4..6)?, value.get(6..)?),
        10 if value.as_bytes()[4] == b'-' => iso_date(value),
        10 if value.as_bytes()[2] == b'/' && value.as_bytes()[5] == b'/' => {
            ymd(value.get(6..)?, value.get(..2)?, value.get(3..5)?)
        }
        _ => None,
    }
}

/// `HHmmss` or `HH:mm:ss`.
fn time_of_day(value: &str) -> Option<NaiveTime> {
    let (h, m, s) = match value.len() {
        6 => (value.get(..2)?, value.get(2..4)?, value.get(4..)?),
        8 if value.as_bytes()[2] == b':' && value.as_bytes()[5] == b':' => {
            (value.get(..2)?, value.get(3..5)?, value.get(6..)?)
        }
        _ => return None,
    };
    NaiveTime::from_hms_opt(digits(h)?, digits(m)?, digits(s)?)
}

/// `YYYY-MM-DD`, written without chrono's formatting machinery (it is on every row).
fn push_date(out: &mut String, day: NaiveDate) {
    use chrono::Datelike as _;
    use std::fmt::Write as _;
    let _ = write!(out, "{:04}-{:02}-{:02}", day.year(), day.month(), day.day());
}

/// `YYYY-MM-DD HH:MM:SS`.
fn push_date_time(out: &mut String, time: NaiveDateTime) {
    use chrono::Timelike as _;
    use std::fmt::Write as _;
    push_date(out, time.date());
    let _ = write!(out, " {:02}:{:02}:{:02}", time.hour(), time.minute(), time.second());
}

/// `20250701;121417 EDT`, `20250701;121417`, `2025-07-01;12:14:17`, `20250701 121417`, or a
/// date alone (midnight): the time and the zone name, if any.
fn date_time(value: &str) -> Option<(NaiveDateTime, Option<&str>)> {
    let value = value.trim();
    let (day, rest) = value.split_once([';', ' ', ',']).unwrap_or((value, ""));
    let day = date(day)?;
    let rest = rest.trim_start();
    let (time, zone) = rest.split_once(' ').map_or((rest, None), |(t, z)| (t, Some(z.trim())));
    let time = match time {
        "" => NaiveTime::MIN,
        t => time_of_day(t)?,
    };
    let zone = zone.filter(|z| !z.is_empty());
    if zone.is_some_and(|z| !z.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-:/_".contains(&b))) {
        return None;
    }
    Some((day.and_time(time), zone))
}

/// The registry's engine for IB Flex reports.
pub(crate) fn open(kind: PayloadKind, _: NoContext, limits: Limits) -> Result<Box<dyn Engine>, Error> {
    Ok(XmlInput::open(kind, Flex::default(), limits))
}

/// The `FlexStatement` being read.
#[derive(Clone)]
struct OpenStatement {
    account: String,
    period: Option<(NaiveDate, NaiveDate)>,
    generated: Option<NaiveDateTime>,
}

/// The checker's state: where in the report it is.
#[derive(Default)]
struct Flex {
    /// The root was checked and is a `FlexQueryResponse`.
    root: bool,
    query_name: Option<String>,
    query_type: Option<String>,
    /// `FlexStatements@count` and the line of that element.
    declared: Option<(u64, u64)>,
    statements: u32,
    /// The open statement: its account, period and when it was generated.
    statement: Option<OpenStatement>,
    records: u64,
}

fn place<'n>(position: Position, record: u64, name: Option<&'n str>) -> Place<'n> {
    Place { line: position.line, column: position.column, byte_offset: position.byte_offset, record, name }
}

/// The element's well-formed attributes; one that is not is reported (rule `xml`) and ends
/// the list. `false` with them when one was malformed.
fn attributes<'e>(element: &'e Element<'_>, record: u64, out: &mut Out<'_>) -> (Vec<xml_stream::Attribute<'e>>, bool) {
    let mut list = Vec::new();
    for attribute in element.attributes() {
        match attribute {
            Ok(attribute) => list.push(attribute),
            Err(error) => {
                report_malformed(&error, record, out);
                return (list, false);
            }
        }
    }
    (list, true)
}

/// A malformed attribute (rule `xml`).
fn report_malformed(error: &xml_stream::XmlError, record: u64, out: &mut Out<'_>) {
    out.at(Severity::Error, Rule::Xml, place(error.position, record, None), || {
        format!("The file is not well-formed XML here: {}.", error.problem)
    });
}

impl Flex {
    fn statement(&mut self, element: &Element<'_>, out: &mut Out<'_>) {
        self.statements += 1;
        let (mut account, mut from, mut to, mut generated) = (None, None, None, None);
        for attribute in attributes(element, 0, out).0 {
            let bad_date = |out: &mut Out<'_>| {
                out.at(Severity::Error, Rule::Date, place(attribute.position, 0, Some(attribute.name)), || {
                    format!(
                        "The statement's {} \"{}\" is not a date (yyyyMMdd, yyyy-MM-dd or MM/dd/yyyy).",
                        attribute.name, attribute.value
                    )
                });
            };
            match attribute.name {
                "accountId" if !is_null(&attribute.value) => account = Some(attribute.value.to_string()),
                "whenGenerated" if !is_null(&attribute.value) => match date_time(&attribute.value) {
                    Some((time, _)) => generated = Some(time),
                    None => out.at(Severity::Error, Rule::Date, place(attribute.position, 0, Some("whenGenerated")), || {
                        format!(
                            "The statement's whenGenerated \"{}\" is not a time (yyyyMMdd;HHmmss with an optional zone).",
                            attribute.value
                        )
                    }),
                },
                "fromDate" | "toDate" => match date(&attribute.value) {
                    Some(day) if attribute.name == "fromDate" => from = Some(day),
                    Some(day) => to = Some(day),
                    None => bad_date(out),
                },
                _ => {}
            }
        }
        let account = account.unwrap_or_else(|| {
            out.at(Severity::Error, Rule::Required, place(element.position, 0, Some("accountId")), || {
                "This FlexStatement has no accountId; export the report again with the account selected.".into()
            });
            String::new()
        });
        self.statement = Some(OpenStatement { account, period: from.zip(to), generated });
    }

    fn row(&mut self, section: FlexSection, element: &Element<'_>, out: &mut Out<'_>) {
        let Some(OpenStatement { account: statement_account, period, generated }) = self.statement.clone() else {
            out.at(Severity::Error, Rule::Header, place(element.position, 0, None), || {
                format!(
                    "This <{}> is outside any <FlexStatement>; this is not a Flex report as IB writes it.",
                    element.name
                )
            });
            return;
        };
        let number = self.records + 1;
        let mut valid = true;
        let mut stored_attributes: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(32);
        let mut account = None;
        // Read as they come (no list of them first: this runs for every row).
        for attribute in element.attributes() {
            let attribute = match attribute {
                Ok(attribute) => attribute,
                Err(error) => {
                    report_malformed(&error, number, out);
                    valid = false;
                    break;
                }
            };
            let (name, value) = (attribute.name, attribute.value.as_ref());
            if name == "accountId" {
                if value.trim() == "-" {
                    // A summary row over all accounts.
                    return;
                }
                account = Some(value.trim().to_owned());
            }
            if section == FlexSection::Trade && name == "levelOfDetail" && value != "EXECUTION" {
                return;
            }
            if is_null(value) {
                continue;
            }
            let mut fail = |rule: Rule, what: &str| {
                valid = false;
                out.at(Severity::Error, rule, place(attribute.position, number, Some(name)), || {
                    format!("The {name} \"{value}\" is not {what}.")
                });
            };
            let known = known(name);
            let stored = match known.map_or(Class::Text, |(class, _)| class) {
                Class::Amount => match amount(value) {
                    Some(decimal) => decimal.as_str().to_owned(),
                    None => {
                        fail(Rule::Number, "a number (like -1,234.50)");
                        continue;
                    }
                },
                Class::Date => match date(value) {
                    Some(day) => {
                        let mut text = String::with_capacity(10);
                        push_date(&mut text, day);
                        text
                    }
                    None => {
                        fail(Rule::Date, "a date (yyyyMMdd, yyyy-MM-dd or MM/dd/yyyy)");
                        continue;
                    }
                },
                Class::Time => match date_time(value) {
                    Some((time, zone)) => {
                        let mut text = String::with_capacity(24);
                        push_date_time(&mut text, time);
                        if let Some(zone) = zone {
                            text.push(' ');
                            text.push_str(zone);
                        }
                        text
                    }
                    None => {
                        fail(Rule::Date, "a time (yyyyMMdd;HHmmss with an optional zone)");
                        continue;
                    }
                },
                Class::Text => value.to_owned(),
            };
            let name = known.map_or_else(|| Cow::Owned(name.to_owned()), |(_, name)| Cow::Borrowed(name));
            stored_attributes.push((name, stored));
        }
        self.records += 1;
        if valid && out.wants_records() {
            let account_id = account.filter(|a| !a.is_empty()).unwrap_or(statement_account);
            let row = FlexRow {
                section,
                account_id,
                statement_period: period,
                statement_generated: generated,
                statement: self.statements,
                attributes: stored_attributes,
                line: element.position.line,
            };
            out.record(|| Record::Flex(row));
        }
    }
}

impl XmlChecker for Flex {
    fn element(&mut self, element: &Element<'_>, out: &mut Out<'_>) -> bool {
        if !self.root {
            if element.name != "FlexQueryResponse" {
                out.at(Severity::Error, Rule::WrongFileType, place(element.position, 0, None), || {
                    format!(
                        "This is not an IB Flex report: its first element is <{}>, not <FlexQueryResponse>. Check that you chose the right file.",
                        element.name
                    )
                });
                return false;
            }
            self.root = true;
            for attribute in attributes(element, 0, out).0 {
                match attribute.name {
                    "queryName" => self.query_name = Some(attribute.value.to_string()),
                    "type" => self.query_type = Some(attribute.value.to_string()),
                    _ => {}
                }
            }
            return true;
        }
        match element.name {
            "FlexStatements" => {
                let count = attributes(element, 0, out).0.into_iter().find(|a| a.name == "count");
                self.declared = count.and_then(|a| a.value.trim().parse().ok()).map(|n| (n, element.position.line));
            }
            "FlexStatement" => self.statement(element, out),
            name => {
                if let Some(section) = FlexSection::of(name) {
                    self.row(section, element, out);
                }
            }
        }
        true
    }

    fn end(&mut self, name: &str, position: Position, out: &mut Out<'_>) {
        match name {
            "FlexStatement" => self.statement = None,
            "FlexStatements" => {
                if let Some((declared, line)) = self.declared.take().filter(|(n, _)| *n != u64::from(self.statements)) {
                    let seen = self.statements;
                    out.at(Severity::Error, Rule::Coverage, place(position, 0, Some("count")), || {
                        format!(
                            "FlexStatements on line {line} says count=\"{declared}\" but the file holds {seen} FlexStatement elements: it was edited or cut; export it again."
                        )
                    });
                }
            }
            _ => {}
        }
    }

    fn records(&self) -> u64 {
        self.records
    }

    fn detected(&self) -> BTreeMap<&'static str, String> {
        let mut detected = BTreeMap::new();
        if self.root {
            detected.insert("statements", self.statements.to_string());
        }
        if let Some(name) = &self.query_name {
            detected.insert("query_name", name.clone());
        }
        if let Some(kind) = &self.query_type {
            detected.insert("query_type", kind.clone());
        }
        detected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_section_has_its_element_name_and_back() {
        for (section, name) in FlexSection::ALL {
            assert_eq!(section.element(), name);
            assert_eq!(FlexSection::of(name), Some(section));
        }
        assert_eq!(FlexSection::of("AssetSummary"), None, "summaries are not detail rows");
    }

    #[test]
    fn amounts_dates_and_times_in_every_style() {
        assert_eq!(amount("-1,234.50").unwrap().as_str(), "-1234.50");
        assert_eq!(amount("80064.57").unwrap().as_str(), "80064.57");
        assert_eq!(amount("1,000,000").unwrap().as_str(), "1000000");
        for bad in ["1,23.5", "12,3456", ",123", "1.2.3", "abc", "1e5", ""] {
            assert!(amount(bad).is_none(), "{bad}");
        }
        let day = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        for text in ["20250701", "2025-07-01", "07/01/2025"] {
            assert_eq!(date(text), Some(day), "{text}");
        }
        assert_eq!(date("20251301"), None);
        let noon = day.and_hms_opt(12, 14, 17).unwrap();
        assert_eq!(date_time("20250701;121417 EDT"), Some((noon, Some("EDT"))));
        assert_eq!(date_time("20250701;121417"), Some((noon, None)));
        assert_eq!(date_time("2025-07-01;12:14:17"), Some((noon, None)));
        assert_eq!(date_time("20250701"), Some((day.and_time(NaiveTime::MIN), None)));
        assert_eq!(date_time("20250701;1214"), None);
        assert!(["", "-", "--", "N/A", " "].iter().all(|v| is_null(v)));
    }
}
