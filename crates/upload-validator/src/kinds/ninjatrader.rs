//! NinjaTrader 8 "Executions" grid exports, in every shape met in the wild: en-US (`,`,
//! decimal point, `M/d/yyyy h:mm:ss AM/PM`), European Windows (`;`, decimal comma,
//! `dd/MM/yyyy H:mm:ss`, `0,62 $`), Excel re-saves (`M/d/yyyy H:mm`, no trailing comma), the
//! 15-column exporter (`TradeValidation`), with or without a byte-order mark. A "Trades"
//! grid export is recognised and refused with a hint.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::{Checker, Column, Layout, text};
use crate::Record;
use crate::engine::{self, RecordRef};
use crate::fields::{Decimal, ScaleError, non_negative_integer};
use crate::report::Rule;
use crate::validator::Out;

const INSTRUMENT: usize = 0;
const ACTION: usize = 1;
const QUANTITY: usize = 2;
const PRICE: usize = 3;
const TIME: usize = 4;
const ID: usize = 5;
const ENTRY_EXIT: usize = 6;
const POSITION: usize = 7;
const ORDER_ID: usize = 8;
const NAME: usize = 9;
const COMMISSION: usize = 10;
const RATE: usize = 11;
const ACCOUNT: usize = 12;
const CONNECTION: usize = 13;
const TRADE_VALIDATION: usize = 14;

const COLUMNS: &[Column] = &[
    Column { name: "instrument", aliases: &[], required: true },
    Column { name: "action", aliases: &[], required: true },
    Column { name: "quantity", aliases: &["qty"], required: true },
    Column { name: "price", aliases: &[], required: true },
    Column { name: "time", aliases: &[], required: true },
    Column { name: "id", aliases: &["execution id"], required: true },
    Column { name: "e/x", aliases: &[], required: true },
    Column { name: "position", aliases: &[], required: true },
    Column { name: "order id", aliases: &[], required: true },
    Column { name: "name", aliases: &[], required: true },
    Column { name: "commission", aliases: &[], required: true },
    Column { name: "rate", aliases: &[], required: true },
    Column { name: "account", aliases: &["account display name"], required: true },
    Column { name: "connection", aliases: &[], required: true },
    Column { name: "tradevalidation", aliases: &["trade validation"], required: false },
];

/// The longest text each column of the trades table holds, in characters: the file's column,
/// the [`Execution`] field (and `trades` column) it fills, its name in messages, the limit.
const MAX_CHARS: &[(usize, &str, &str, usize)] = &[
    (INSTRUMENT, "instrument", "instrument", 50),
    (ID, "execution_id", "execution ID", 255),
    (POSITION, "position", "position", 20),
    (ORDER_ID, "order_id", "order ID", 255),
    (NAME, "name", "order name", 255),
    (ACCOUNT, "account", "account", 50),
    (CONNECTION, "connection", "connection", 255),
];

const SPLIT_DECIMAL_HINT: &str = " A number written with a decimal comma (21539,50) in a comma-separated file splits into two cells: export again from NinjaTrader, or fix that number.";

/// Side of a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    /// `Buy`.
    Buy,
    /// `Sell`.
    Sell,
    /// `BuyToCover`.
    BuyToCover,
    /// `SellShort`.
    SellShort,
}

/// Whether a fill opened or closed a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EntryExit {
    /// `Entry`.
    Entry,
    /// `Exit`.
    Exit,
}

/// Which regional settings wrote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Locale {
    /// `,` delimiter, decimal point, month-first dates.
    #[default]
    EnUs,
    /// `;` delimiter, decimal comma, day-first 24-hour dates.
    European,
}

/// One fill, typed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Execution {
    /// Instrument, e.g. `MNQ MAR25`.
    pub instrument: String,
    /// Side.
    pub action: Action,
    /// Contracts or shares (> 0).
    pub quantity: u64,
    /// Fill price, exact.
    pub price: Decimal,
    /// Local exchange-session time, as exported (no time zone in the file).
    pub time: NaiveDateTime,
    /// NinjaTrader's execution id: the de-duplication key.
    pub execution_id: String,
    /// Entry or exit.
    pub entry_exit: EntryExit,
    /// Position after the fill: `3 L`, `1 S` or `-`.
    pub position: String,
    /// Order id (empty for live broker fills).
    pub order_id: Option<String>,
    /// Order name (`Entry`, `Target1`, ...).
    pub name: String,
    /// Commission, exact, currency sign removed.
    pub commission: Decimal,
    /// Currency conversion rate.
    pub rate: Decimal,
    /// Account.
    pub account: String,
    /// Connection, trimmed.
    pub connection: String,
    /// `Valid` / `Invalid` from the 15-column exporter, if present and not empty.
    pub trade_validation: Option<String>,
    /// 1-based line in the file.
    pub line: u64,
}

impl Execution {
    /// The longest text each field may hold, in characters, by field name: the widths of the
    /// `trades` columns they are stored in (a test compares them with the migrated table).
    pub fn max_chars() -> impl Iterator<Item = (&'static str, usize)> {
        MAX_CHARS.iter().map(|&(_, field, _, max)| (field, max))
    }
}

#[derive(Default)]
pub struct Executions {
    locale: Locale,
    excel_times: bool,
}

impl Checker for Executions {
    fn sniff(&self) -> fn(&[u8]) -> u8 {
        engine::comma_or_semicolon
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn width_hint(&self) -> &'static str {
        SPLIT_DECIMAL_HINT
    }

    fn recognise(&mut self, header: &RecordRef<'_>, out: &mut Out<'_>) -> bool {
        let first = header.text(0).unwrap_or_default().trim().to_ascii_lowercase();
        if first == "trade number" || (0..header.len()).any(|i| header.field(i).eq_ignore_ascii_case(b"Market pos.")) {
            out.line(Rule::WrongFileType, header.line, 0, header.byte_offset, || {
                "This is a NinjaTrader \"Trades\" (trade performance) export, not an executions export. In NinjaTrader open the Executions tab of the Account Data window, right-click, and choose Export.".into()
            });
            return false;
        }
        self.locale = if header.delimiter() == b';' { Locale::European } else { Locale::EnUs };
        true
    }

    fn record(&mut self, record: &RecordRef<'_>, layout: &Layout, number: u64, out: &mut Out<'_>) {
        let separator = if self.locale == Locale::European { b',' } else { b'.' };
        let cell = |column: usize| text(record, layout.at(column));
        let mut valid = true;
        let mut fail = |out: &mut Out<'_>, column: usize, rule: Rule, message: String| {
            valid = false;
            out.cell(rule, record, number, layout.at(column), || message);
        };

        let instrument = cell(INSTRUMENT);
        if instrument.is_empty() {
            fail(out, INSTRUMENT, Rule::EmptyCell, "The instrument is empty.".into());
        }
        let action = match cell(ACTION) {
            "Buy" => Some(Action::Buy),
            "Sell" => Some(Action::Sell),
            "BuyToCover" => Some(Action::BuyToCover),
            "SellShort" => Some(Action::SellShort),
            other => {
                fail(
                    out,
                    ACTION,
                    Rule::Enumeration,
                    format!("\"{other}\" is not an action; expected Buy, Sell, BuyToCover or SellShort."),
                );
                None
            }
        };
        let quantity = match non_negative_integer(cell(QUANTITY)) {
            Some(0) => {
                fail(out, QUANTITY, Rule::Range, "The quantity is 0; a fill has at least 1 contract.".into());
                None
            }
            Some(quantity) if i64::try_from(quantity).is_err() => {
                fail(out, QUANTITY, Rule::Range, format!("{quantity} contracts is more than any fill can have."));
                None
            }
            Some(quantity) => Some(quantity),
            None => {
                fail(
                    out,
                    QUANTITY,
                    Rule::NonNegativeInteger,
                    format!("\"{}\" is not a whole number of contracts.", cell(QUANTITY)),
                );
                None
            }
        };
        let price = amount(Decimal::parse(cell(PRICE), separator), "price", || {
            format!("\"{}\" is not a price{}.", cell(PRICE), separator_hint(separator))
        });
        let price = price.map_err(|(rule, message)| fail(out, PRICE, rule, message)).ok();
        let time = parse_time(cell(TIME), self.locale);
        match time {
            Some((_, excel)) => self.excel_times |= excel,
            None => fail(
                out,
                TIME,
                Rule::Date,
                format!("\"{}\" is not a time like {}.", cell(TIME), time_example(self.locale)),
            ),
        }
        let execution_id = cell(ID);
        if execution_id.is_empty() {
            fail(
                out,
                ID,
                Rule::EmptyCell,
                "The execution ID is empty; without it the fill cannot be imported exactly once.".into(),
            );
        }
        let entry_exit = match cell(ENTRY_EXIT) {
            "Entry" => Some(EntryExit::Entry),
            "Exit" => Some(EntryExit::Exit),
            other => {
                fail(out, ENTRY_EXIT, Rule::Enumeration, format!("\"{other}\" is not Entry or Exit."));
                None
            }
        };
        let position = cell(POSITION);
        if !valid_position(position) {
            fail(
                out,
                POSITION,
                Rule::Enumeration,
                format!("\"{position}\" is not a position like \"3 L\", \"1 S\" or \"-\"."),
            );
        }
        let commission = amount(parse_money(cell(COMMISSION), separator), "commission", || {
            format!("\"{}\" is not an amount like {}.", cell(COMMISSION), money_example(self.locale))
        });
        let commission = commission.map_err(|(rule, message)| fail(out, COMMISSION, rule, message)).ok();
        let rate = amount(Decimal::parse(cell(RATE), separator), "conversion rate", || {
            format!("\"{}\" is not a conversion rate{}.", cell(RATE), separator_hint(separator))
        });
        let rate = rate.map_err(|(rule, message)| fail(out, RATE, rule, message)).ok();
        let account = cell(ACCOUNT);
        if account.is_empty() {
            fail(out, ACCOUNT, Rule::EmptyCell, "The account is empty.".into());
        }
        let trade_validation = layout.positions[TRADE_VALIDATION].map(|at| text(record, at)).filter(|v| !v.is_empty());
        if let Some(value) = trade_validation.filter(|v| *v != "Valid" && *v != "Invalid") {
            fail(out, TRADE_VALIDATION, Rule::Enumeration, format!("\"{value}\" is not Valid or Invalid."));
        }
        for &(column, _, name, max) in MAX_CHARS {
            let length = cell(column).chars().count();
            if length > max {
                fail(
                    out,
                    column,
                    Rule::TooLong,
                    format!(
                        "The {name} is {length} characters long; the trades table holds at most {max}. Shorten it in the file."
                    ),
                );
            }
        }
        if !valid || !out.wants_records() {
            return;
        }
        if let (
            Some(action),
            Some(quantity),
            Some(price),
            Some((time, _)),
            Some(entry_exit),
            Some(commission),
            Some(rate),
        ) = (action, quantity, price, time, entry_exit, commission, rate)
        {
            let order_id = cell(ORDER_ID);
            out.record(|| {
                Record::Execution(Execution {
                    instrument: instrument.to_owned(),
                    action,
                    quantity,
                    price,
                    time,
                    execution_id: execution_id.to_owned(),
                    entry_exit,
                    position: position.to_owned(),
                    order_id: (!order_id.is_empty()).then(|| order_id.to_owned()),
                    name: cell(NAME).to_owned(),
                    commission,
                    rate,
                    account: account.to_owned(),
                    connection: cell(CONNECTION).to_owned(),
                    trade_validation: trade_validation.map(str::to_owned),
                    line: record.line,
                })
            });
        }
    }

    fn finish(&mut self, out: &mut Out<'_>, records: u64) {
        if records == 0 {
            out.line(Rule::EmptyFile, 1, 0, 0, || "The export has a header but no executions.".into());
        }
    }

    fn detected(&self, layout: Option<&Layout>) -> BTreeMap<&'static str, String> {
        let mut detected = BTreeMap::new();
        detected.insert("locale", if self.locale == Locale::European { "european" } else { "en-us" }.to_owned());
        if let Some(layout) = layout {
            detected.insert("columns", layout.width.to_string());
            let variant = if self.excel_times {
                "excel-resave"
            } else if layout.positions[TRADE_VALIDATION].is_some() {
                "exporter-15-column"
            } else {
                "native"
            };
            detected.insert("variant", variant.to_owned());
        }
        detected
    }
}

/// A parsed amount that the trades table can hold exactly (10^-8 integers), or the rule it
/// breaks and the message: `unparsable` words a cell that is not a number at all.
fn amount(parsed: Option<Decimal>, what: &str, unparsable: impl FnOnce() -> String) -> Result<Decimal, (Rule, String)> {
    let amount = parsed.ok_or_else(|| (Rule::Number, unparsable()))?;
    match amount.e8() {
        Ok(_) => Ok(amount),
        Err(ScaleError::TooPrecise) => Err((
            Rule::Precision,
            format!(
                "The {what} {} has more than {} decimal places; amounts are stored exactly to {} places. Round it in the file.",
                amount.as_str(),
                Decimal::E8_PLACES,
                Decimal::E8_PLACES
            ),
        )),
        Err(ScaleError::TooLarge) => {
            Err((Rule::Range, format!("The {what} {} is too large to store (at most 92 billion).", amount.as_str())))
        }
    }
}

fn separator_hint(separator: u8) -> &'static str {
    if separator == b',' { " (decimal comma, e.g. 7200,75)" } else { " (decimal point, e.g. 21012.25)" }
}

fn time_example(locale: Locale) -> &'static str {
    match locale {
        Locale::EnUs => "2/3/2025 9:31:07 AM",
        Locale::European => "27/04/2026 6:05:02",
    }
}

fn money_example(locale: Locale) -> &'static str {
    match locale {
        Locale::EnUs => "$1.55",
        Locale::European => "0,62 $",
    }
}

fn valid_position(position: &str) -> bool {
    if position == "-" {
        return true;
    }
    match position.split_once(' ') {
        Some((count, side)) => non_negative_integer(count).is_some_and(|n| n > 0) && (side == "L" || side == "S"),
        None => false,
    }
}

/// `$1.55`, `-$ 200,00`, `0,62 $`, `€0.50`: the currency sign and spaces go, the sign stays.
fn parse_money(cell: &str, separator: u8) -> Option<Decimal> {
    let cleaned: String = cell.chars().filter(|c| !matches!(c, '$' | '€' | '£' | ' ' | '\u{a0}')).collect();
    Decimal::parse(&cleaned, separator)
}

/// The time and whether it had the Excel re-save shape (24-hour, no seconds).
fn parse_time(cell: &str, locale: Locale) -> Option<(NaiveDateTime, bool)> {
    let (date, rest) = cell.split_once(' ')?;
    let mut parts = date.split('/');
    let (first, second, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 {
        return None;
    }
    let (month, day) = match locale {
        Locale::EnUs => (first, second),
        Locale::European => (second, first),
    };
    let date = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)?;
    let (clock, meridiem) = match rest.trim().rsplit_once(' ') {
        Some((clock, meridiem)) => (clock, Some(meridiem)),
        None => (rest.trim(), None),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (hour, minute, second, excel) = match fields.as_slice() {
        [h, m, s] => (number(h)?, number(m)?, number(s)?, false),
        [h, m] if meridiem.is_none() => (number(h)?, number(m)?, 0, true),
        _ => return None,
    };
    let hour = match meridiem {
        None => hour,
        Some("AM") if (1..=12).contains(&hour) => hour % 12,
        Some("PM") if (1..=12).contains(&hour) => hour % 12 + 12,
        Some(_) => return None,
    };
    Some((date.and_time(NaiveTime::from_hms_opt(hour, minute, second)?), excel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, s).unwrap()
    }

    #[test]
    fn parses_every_time_shape() {
        assert_eq!(parse_time("2/3/2025 9:31:07 AM", Locale::EnUs), Some((at(2025, 2, 3, 9, 31, 7), false)));
        assert_eq!(parse_time("2/3/2025 12:01:00 AM", Locale::EnUs), Some((at(2025, 2, 3, 0, 1, 0), false)));
        assert_eq!(parse_time("2/3/2025 12:01:00 PM", Locale::EnUs), Some((at(2025, 2, 3, 12, 1, 0), false)));
        assert_eq!(parse_time("6/16/2025 21:08", Locale::EnUs), Some((at(2025, 6, 16, 21, 8, 0), true)));
        assert_eq!(parse_time("27/04/2026 6:05:02", Locale::European), Some((at(2026, 4, 27, 6, 5, 2), false)));
        for bad in
            ["2/30/2025 9:31:07 AM", "2025-02-03 09:31:07", "2/3/2025 13:00:00 PM", "2/3/2025", "2/3/25 9:31:07 AM"]
        {
            assert_eq!(parse_time(bad, Locale::EnUs), None, "{bad}");
        }
    }

    #[test]
    fn parses_money_in_both_locales() {
        assert_eq!(parse_money("$1.55", b'.').unwrap().as_str(), "1.55");
        assert_eq!(parse_money("0,62 $", b',').unwrap().as_str(), "0.62");
        assert_eq!(parse_money("-$ 200,00", b',').unwrap().as_str(), "-200.00");
        assert_eq!(parse_money("$", b'.'), None);
    }

    #[test]
    fn positions_are_flat_or_count_and_side() {
        for good in ["-", "3 L", "12 S"] {
            assert!(valid_position(good), "{good}");
        }
        for bad in ["", "L", "0 L", "3 X", "3L"] {
            assert!(!valid_position(bad), "{bad}");
        }
    }
}
