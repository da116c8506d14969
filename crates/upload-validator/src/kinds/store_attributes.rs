//! Store attributes: one row per store, enumerations in either real-world spelling.

use std::collections::HashSet;

use super::{Checker, Column, Layout, text};
use crate::Record;
use crate::engine::RecordRef;
use crate::fields::{Decimal, non_negative_integer};
use crate::report::Rule;
use crate::validator::Out;

const COLUMNS: &[Column] = &[
    Column { name: "store_id", aliases: &[], required: true },
    Column { name: "store_name", aliases: &[], required: true },
    Column { name: "avg_weekly_sales_12mo", aliases: &[], required: true },
    Column { name: "store_size_sqft", aliases: &[], required: true },
    Column { name: "median_income", aliases: &[], required: true },
    Column { name: "location_tier", aliases: &[], required: true },
    Column { name: "fashion_tier", aliases: &[], required: true },
    Column { name: "store_format", aliases: &[], required: true },
    Column { name: "region", aliases: &[], required: true },
];

/// Canonical value and its accepted spellings, per enumerated column.
const LOCATION_TIERS: &[(&str, &[&str])] = &[("A", &["A"]), ("B", &["B"]), ("C", &["C"])];
const FASHION_TIERS: &[(&str, &[&str])] = &[
    ("Premium", &["Premium", "PREMIUM"]),
    ("Mainstream", &["Mainstream", "MAINSTREAM"]),
    ("Value", &["Value", "VALUE"]),
];
const FORMATS: &[(&str, &[&str])] = &[
    ("MALL", &["MALL", "Mall"]),
    ("SHOPPING_CENTER", &["SHOPPING_CENTER", "ShoppingCenter"]),
    ("STANDALONE", &["STANDALONE", "Standalone"]),
    ("OUTLET", &["OUTLET", "Outlet"]),
    ("STREET", &["STREET", "Street"]),
];
const REGIONS: &[(&str, &[&str])] = &[
    ("NORTHEAST", &["NORTHEAST", "Northeast"]),
    ("SOUTHEAST", &["SOUTHEAST", "Southeast"]),
    ("MIDWEST", &["MIDWEST", "Midwest"]),
    ("SOUTHWEST", &["SOUTHWEST", "Southwest"]),
    ("WEST", &["WEST", "West"]),
];

/// One valid store row, enumerations in their canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreAttributes {
    /// Store id.
    pub store_id: String,
    /// Display name.
    pub store_name: String,
    /// Average weekly sales over 12 months, exact.
    pub avg_weekly_sales_12mo: Decimal,
    /// Floor area.
    pub store_size_sqft: u64,
    /// Median household income around the store, in whole dollars.
    pub median_income: u64,
    /// A, B or C.
    pub location_tier: &'static str,
    /// Premium, Mainstream or Value.
    pub fashion_tier: &'static str,
    /// MALL, SHOPPING_CENTER, ...
    pub store_format: &'static str,
    /// NORTHEAST, ...
    pub region: &'static str,
    /// 1-based line in the file.
    pub line: u64,
}

/// The largest value of an SQL INTEGER column.
const MAX_INTEGER: u64 = i32::MAX as u64;

#[derive(Default)]
pub struct StoreAttributesChecker {
    seen: HashSet<String>,
}

fn enumerated(value: &str, allowed: &[(&'static str, &[&str])]) -> Option<&'static str> {
    allowed.iter().find(|(_, spellings)| spellings.contains(&value)).map(|(canonical, _)| *canonical)
}

impl Checker for StoreAttributesChecker {
    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn record(&mut self, record: &RecordRef<'_>, layout: &Layout, number: u64, out: &mut Out<'_>) {
        let cell = |column: usize| text(record, layout.at(column));
        // Every finding goes through here: one message type keeps the browser package small
        // (store files are short; their messages need not be built lazily).
        let mut valid = true;
        let mut fail = |out: &mut Out<'_>, column: usize, rule: Rule, message: String| {
            valid = false;
            out.cell(rule, record, number, layout.at(column), || message);
        };
        // What the stores table holds: store_id VARCHAR(50), store_name VARCHAR(100).
        for (column, limit) in [(0, 50), (1, 100)] {
            let name = COLUMNS[column].name;
            let chars = cell(column).chars().count();
            if chars == 0 {
                fail(out, column, Rule::EmptyCell, format!("The {name} cell is empty."));
            } else if chars > limit {
                fail(out, column, Rule::TooLong, format!("The {name} has {chars} characters; at most {limit} fit."));
            }
        }
        if !cell(0).is_empty() && !self.seen.insert(cell(0).to_owned()) {
            fail(out, 0, Rule::DuplicateKey, format!("Store {} appears twice; keep one row per store.", cell(0)));
        }
        let avg_weekly_sales_12mo = Decimal::parse(cell(2), b'.').filter(|value| !value.is_negative());
        if avg_weekly_sales_12mo.is_none() {
            fail(out, 2, Rule::Range, format!("\"{}\" is not an amount of 0 or more.", cell(2)));
        }
        // The table keeps both as INTEGER.
        let mut whole = |out: &mut Out<'_>, column: usize, unit: &str| {
            let value = non_negative_integer(cell(column)).filter(|&n| n <= MAX_INTEGER);
            if value.is_none() {
                let message = format!("\"{}\" is not a whole number of {unit} (0 to {MAX_INTEGER}).", cell(column));
                fail(out, column, Rule::NonNegativeInteger, message);
            }
            value
        };
        let store_size_sqft = whole(out, 3, "square feet");
        let median_income = whole(out, 4, "dollars");
        let mut choice = |out: &mut Out<'_>, column: usize, allowed: &[(&'static str, &[&str])]| {
            let value = enumerated(cell(column), allowed);
            if value.is_none() {
                let options = allowed.iter().map(|(canonical, _)| *canonical).collect::<Vec<_>>().join(", ");
                let message =
                    format!("\"{}\" is not a {}; expected one of {options}.", cell(column), COLUMNS[column].name);
                fail(out, column, Rule::Enumeration, message);
            }
            value
        };
        let location_tier = choice(out, 5, LOCATION_TIERS);
        let fashion_tier = choice(out, 6, FASHION_TIERS);
        let store_format = choice(out, 7, FORMATS);
        let region = choice(out, 8, REGIONS);
        if !valid {
            return;
        }
        if let (Some(avg), Some(size), Some(income), Some(location), Some(fashion), Some(format), Some(region)) =
            (avg_weekly_sales_12mo, store_size_sqft, median_income, location_tier, fashion_tier, store_format, region)
        {
            out.record(|| {
                Record::Store(StoreAttributes {
                    store_id: cell(0).to_owned(),
                    store_name: cell(1).to_owned(),
                    avg_weekly_sales_12mo: avg,
                    store_size_sqft: size,
                    median_income: income,
                    location_tier: location,
                    fashion_tier: fashion,
                    store_format: format,
                    region,
                    line: record.line,
                })
            });
        }
    }

    fn finish(&mut self, out: &mut Out<'_>, records: u64) {
        if records == 0 {
            out.line(Rule::EmptyFile, 1, 0, 0, || "The file has a header but no stores.".into());
        }
    }
}
