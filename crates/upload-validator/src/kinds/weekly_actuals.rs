//! Weekly actuals: daily rows `date,store_id,quantity_sold` for one workflow week.

use chrono::{Days, NaiveDate};

use super::{Checker, Column, KnownIds, Layout, text, whole_number};
use crate::context::{ContextError, Fields, KindContext};
use crate::engine::RecordRef;
use crate::fields::iso_date;
use crate::report::Rule;
use crate::validator::Out;
use crate::validator::{CsvInput, Engine, Limits};
use crate::{Error, PayloadKind, Record};

const COLUMNS: &[Column] = &[
    Column { name: "date", aliases: &["day", "sale_date"], required: true },
    Column { name: "store_id", aliases: &["store", "store id"], required: true },
    Column { name: "quantity_sold", aliases: &["quantity", "qty", "units", "quantity sold"], required: true },
];

/// One valid daily row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DailyActual {
    /// The day.
    pub date: NaiveDate,
    /// The store.
    pub store_id: String,
    /// Units sold that day.
    pub quantity_sold: u64,
    /// 1-based line in the file.
    pub line: u64,
}

/// What a weekly-actuals file is checked against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyActualsContext {
    /// First day of the workflow week.
    pub week_start: NaiveDate,
    /// Known store ids.
    #[serde(default)]
    pub store_ids: Vec<String>,
}

impl KindContext for WeeklyActualsContext {
    fn from_json(text: &str) -> Result<Self, ContextError> {
        let mut fields = Fields::parse(text, &["week_start", "store_ids"])?;
        let week = fields.text("week_start")?;
        let week_start = iso_date(&week).ok_or(ContextError::Invalid { field: "week_start", value: week })?;
        Ok(WeeklyActualsContext { week_start, store_ids: fields.text_list("store_ids")? })
    }
}

/// The registry's engine for weekly actuals.
pub(crate) fn open(kind: PayloadKind, context: WeeklyActualsContext, limits: Limits) -> Result<Box<dyn Engine>, Error> {
    Ok(CsvInput::open(kind, WeeklyActuals::new(context)?, limits))
}

pub struct WeeklyActuals {
    week_start: NaiveDate,
    week_end: NaiveDate,
    /// The week's seven days as `YYYY-MM-DD`, packed by [`date_key`]: a cell equal to one of
    /// them is a valid date in the week without parsing it.
    days: [u128; 7],
    /// The same seven days as dates.
    dates: [NaiveDate; 7],
    stores: KnownIds,
    /// Line of the first row for each (day, store), at `day × stores + store`; 0 for none.
    /// Sized by the context (7 × known stores), never by the file.
    first_lines: Vec<u64>,
    days_present: [bool; 7],
}

impl WeeklyActuals {
    pub fn new(context: WeeklyActualsContext) -> Result<Self, Error> {
        let week_start = context.week_start;
        if context.store_ids.is_empty() {
            return Err(Error::MissingContext { kind: "weekly_actuals", field: "store_ids" });
        }
        let mut days = [0; 7];
        let mut dates = [week_start; 7];
        for ((day, date), text) in days.iter_mut().zip(&mut dates).zip(week_start.iter_days()) {
            *date = text;
            // (A day past year 9999 prints longer and stays unmatched: it is parsed instead.)
            if let Some(key) = date_key(&text.to_string()) {
                *day = key;
            }
        }
        let stores = KnownIds::new(context.store_ids);
        Ok(WeeklyActuals {
            week_start,
            week_end: week_start + Days::new(6),
            days,
            dates,
            first_lines: vec![0; 7 * stores.len()],
            stores,
            days_present: [false; 7],
        })
    }
}

impl Checker for WeeklyActuals {
    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn record(&mut self, record: &RecordRef<'_>, layout: &Layout, number: u64, out: &mut Out<'_>) {
        let (date_at, store_at, quantity_at) = (layout.at(0), layout.at(1), layout.at(2));
        let date_text = text(record, date_at);
        // A day of the week as written in the file, or else parsed (a finding either way).
        let day = date_key(date_text)
            .and_then(|key| self.days.iter().position(|&day| day == key))
            .map(|day| (day, self.dates[day]));
        let day = match day.ok_or_else(|| iso_date(date_text)) {
            Ok(day) => Some(day),
            Err(None) => {
                out.cell(Rule::Date, record, number, date_at, || {
                    format!("\"{date_text}\" is not a date in the form YYYY-MM-DD (for example 2025-03-01).")
                });
                None
            }
            Err(Some(date)) => {
                out.cell(Rule::DateOutsideRange, record, number, date_at, || {
                    format!("{date} is outside the week of this upload ({} to {}).", self.week_start, self.week_end)
                });
                None
            }
        };
        let store_text = text(record, store_at);
        let store = if store_text.is_empty() {
            out.cell(Rule::EmptyCell, record, number, store_at, || "The store id is empty.".into());
            None
        } else if let Some(index) = self.stores.find(store_text) {
            Some(index)
        } else {
            out.cell(Rule::UnknownId, record, number, store_at, || {
                format!("\"{store_text}\" is not a known store id; check the spelling or add the store first.")
            });
            None
        };

        // actual_units_sold is an INTEGER column: a day's units up to its largest value.
        let quantity = whole_number(record, number, quantity_at, "units", out);
        if let (Some((day, date)), Some(store)) = (day, store) {
            self.days_present[day] = true;
            let first_line = &mut self.first_lines[day * self.stores.len() + store as usize];
            if *first_line != 0 {
                let first = *first_line;
                out.cell(Rule::DuplicateKey, record, number, store_at, || {
                    format!("Store {store_text} already has a row for {date} on line {first}; keep one row per store and day.")
                });
                return;
            }
            *first_line = record.line;
            if let Some(quantity) = quantity {
                out.record(|| {
                    Record::DailyActual(DailyActual {
                        date,
                        store_id: store_text.to_owned(),
                        quantity_sold: quantity,
                        line: record.line,
                    })
                });
            }
        }
    }

    fn finish(&mut self, out: &mut Out<'_>, records: u64) {
        if records == 0 {
            out.line(Rule::EmptyFile, 1, 0, 0, || "The file has a header but no rows.".into());
            return;
        }
        let missing: Vec<String> = (0..7u64)
            .filter(|&day| !self.days_present[day as usize])
            .map(|day| (self.week_start + Days::new(day)).to_string())
            .collect();
        if !missing.is_empty() {
            out.line(Rule::Coverage, 0, 0, 0, || {
                format!(
                    "The week {} to {} must be covered, but there are no rows for {}.",
                    self.week_start,
                    self.week_end,
                    missing.join(", ")
                )
            });
        }
    }
}

/// A ten-byte cell as one number (two integer comparisons instead of a byte comparison).
#[inline(always)]
fn date_key(cell: &str) -> Option<u128> {
    // (Destructured rather than copied: no memcpy call in the size-optimized browser build.)
    let &[b0, b1, b2, b3, b4, b5, b6, b7, b8, b9] = <&[u8; 10]>::try_from(cell.as_bytes()).ok()?;
    let head = u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]);
    let tail = u16::from_le_bytes([b8, b9]);
    Some(u128::from(head) | u128::from(tail) << 64)
}
