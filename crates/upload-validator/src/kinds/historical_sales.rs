//! Historical sales: `date,category,store_id,quantity_sold,revenue`, categories by display name.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use super::{Checker, Column, KnownIds, Layout, text, whole_number};
use crate::context::{ContextError, Fields, KindContext};
use crate::engine::RecordRef;
use crate::fields::{Decimal, iso_date};
use crate::report::Rule;
use crate::validator::Out;
use crate::validator::{CsvInput, Engine, Limits};
use crate::{Error, PayloadKind, Record};

const COLUMNS: &[Column] = &[
    Column { name: "date", aliases: &[], required: true },
    Column { name: "category", aliases: &["category_name"], required: true },
    Column { name: "store_id", aliases: &["store"], required: true },
    Column { name: "quantity_sold", aliases: &["quantity"], required: true },
    Column { name: "revenue", aliases: &[], required: true },
];

/// One valid row, its category mapped to the category id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoricalSale {
    /// The day.
    pub date: NaiveDate,
    /// Category id (e.g. `womens_dresses`).
    pub category_id: String,
    /// The store.
    pub store_id: String,
    /// Units sold.
    pub quantity_sold: u64,
    /// Revenue, exact.
    pub revenue: Decimal,
    /// 1-based line in the file.
    pub line: u64,
}

/// What a historical-sales file is checked against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoricalSalesContext {
    /// Known store ids.
    #[serde(default)]
    pub store_ids: Vec<String>,
    /// Category display name → category id.
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
}

impl KindContext for HistoricalSalesContext {
    fn from_json(text: &str) -> Result<Self, ContextError> {
        let mut fields = Fields::parse(text, &["store_ids", "categories"])?;
        Ok(HistoricalSalesContext {
            store_ids: fields.text_list("store_ids")?,
            categories: fields.text_map("categories")?,
        })
    }
}

/// The registry's engine for historical sales.
pub(crate) fn open(
    kind: PayloadKind,
    context: HistoricalSalesContext,
    limits: Limits,
) -> Result<Box<dyn Engine>, Error> {
    Ok(CsvInput::open(kind, HistoricalSales::new(context)?, limits))
}

/// Whether an amount fits NUMERIC(14,2): at most 12 whole digits and 2 decimals.
fn fits_cents(amount: &Decimal) -> bool {
    let digits = amount.as_str().trim_start_matches('-');
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    whole.trim_start_matches('0').len() <= 12 && fraction.trim_end_matches('0').len() <= 2
}

pub struct HistoricalSales {
    /// Display name → (index, id); the names come from the context, not the file.
    categories: FxHashMap<String, (u32, String)>,
    stores: KnownIds,
    /// The rows seen, by packed (day, category, store) key: for each run of 64 stores of a day
    /// and category, which have a row, a bit each. A dense file (every store every day) costs
    /// about a bit per row; a sparse one at most an entry per row.
    seen: FxHashMap<u64, u64>,
}

impl HistoricalSales {
    pub fn new(context: HistoricalSalesContext) -> Result<Self, Error> {
        if context.categories.is_empty() {
            return Err(Error::MissingContext { kind: "historical_sales", field: "categories" });
        }
        if context.store_ids.is_empty() {
            return Err(Error::MissingContext { kind: "historical_sales", field: "store_ids" });
        }
        Ok(HistoricalSales {
            categories: context
                .categories
                .into_iter()
                .enumerate()
                .map(|(i, (name, id))| (name, (i as u32, id)))
                .collect(),
            stores: KnownIds::new(context.store_ids),
            seen: FxHashMap::default(),
        })
    }
}

impl Checker for HistoricalSales {
    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn record(&mut self, record: &RecordRef<'_>, layout: &Layout, number: u64, out: &mut Out<'_>) {
        let mut empty = false;
        for (column, spec) in COLUMNS.iter().enumerate() {
            if text(record, layout.at(column)).is_empty() {
                empty = true;
                out.cell(Rule::EmptyCell, record, number, layout.at(column), || {
                    format!("The {} cell is empty; every cell needs a value.", spec.name)
                });
            }
        }
        if empty {
            return;
        }
        let cell = |column: usize| text(record, layout.at(column));
        // One message type for these findings keeps the browser package small.
        let fail = |out: &mut Out<'_>, column: usize, rule: Rule, message: String| {
            out.cell(rule, record, number, layout.at(column), || message);
        };
        let date = iso_date(cell(0));
        if date.is_none() {
            fail(out, 0, Rule::Date, format!("\"{}\" is not a date in the form YYYY-MM-DD.", cell(0)));
        }
        let category = self.categories.get(cell(1));
        if category.is_none() {
            fail(out, 1, Rule::UnknownId, format!("\"{}\" is not a known category.", cell(1)));
        }
        let store = self.stores.find(cell(2));
        if store.is_none() {
            fail(out, 2, Rule::UnknownId, format!("\"{}\" is not a known store id.", cell(2)));
        }
        // units_sold is an INTEGER column, revenue a NUMERIC(14,2) one.
        let quantity = whole_number(record, number, layout.at(3), "units", out);
        let revenue = Decimal::parse(cell(4), b'.');
        let wrong = match &revenue {
            None => Some(Rule::Number),
            Some(revenue) if revenue.is_negative() => Some(Rule::Range),
            Some(revenue) if !fits_cents(revenue) => Some(Rule::Precision),
            Some(_) => None,
        };
        if let Some(rule) = wrong {
            out.cell(rule, record, number, layout.at(4), || {
                format!("\"{}\" is not a revenue: write an amount of 0 or more in cents, like 2400.00.", cell(4))
            });
        }
        let revenue = revenue.filter(|_| wrong.is_none());
        let (Some(date), Some((category_index, category_id)), Some(store)) = (date, category, store) else { return };
        let day = date.signed_duration_since(NaiveDate::MIN).num_days() as u64;
        let key = (day << 40) | (u64::from(*category_index) << 24) | u64::from(store);
        let stores = self.seen.entry(key >> 6).or_insert(0);
        let bit = 1 << (key & 63);
        let repeated = *stores & bit != 0;
        *stores |= bit;
        if repeated {
            out.cell(Rule::DuplicateKey, record, number, layout.at(0), || {
                format!(
                    "Another row already has {} / {} / {}; keep one row per day, category and store.",
                    cell(0),
                    cell(1),
                    cell(2)
                )
            });
            return;
        }
        if let (Some(quantity_sold), Some(revenue)) = (quantity, revenue) {
            out.record(|| {
                Record::HistoricalSale(HistoricalSale {
                    date,
                    category_id: category_id.clone(),
                    store_id: cell(2).to_owned(),
                    quantity_sold,
                    revenue,
                    line: record.line,
                })
            });
        }
    }

    fn finish(&mut self, out: &mut Out<'_>, records: u64) {
        if records == 0 {
            out.line(Rule::EmptyFile, 1, 0, 0, || "The file has a header but no rows.".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, HistoricalSalesContext, PayloadKind, Validator};

    /// Stores 64 apart share a word of the duplicate check but not a bit; the same day,
    /// category and store twice is found however many rows lie between.
    #[test]
    fn duplicates_are_found_by_their_own_bit() {
        let stores: Vec<String> = (1..=130).map(|i| format!("S{i:03}")).collect();
        let context = HistoricalSalesContext {
            store_ids: stores.clone(),
            categories: [("Hats".to_owned(), "hats".to_owned()), ("Caps".to_owned(), "caps".to_owned())].into(),
        };
        let mut text = String::from("date,category,store_id,quantity_sold,revenue\n");
        for store in &stores {
            text.push_str(&format!("2024-02-29,Hats,{store},1,1.00\n2024-02-29,Caps,{store},1,1.00\n"));
        }
        text.push_str("2024-03-01,Hats,S065,1,1.00\n2024-02-29,Caps,S129,2,2.00\n");
        let mut validator = Validator::new(PayloadKind::HistoricalSales, Context::of(context)).unwrap();
        validator.push(text.as_bytes());
        let report = validator.finish();
        let duplicates: Vec<u64> =
            report.findings.iter().filter(|f| f.rule.code() == "duplicate-key").map(|f| f.line).collect();
        assert_eq!(duplicates, [2 + 2 * 130 + 1], "{}", report.to_json());
    }
}
