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
    /// Median household income around the store, exact.
    pub median_income: Decimal,
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
        let mut valid = true;
        // What the stores table holds: store_id VARCHAR(50), store_name VARCHAR(100).
        for (column, limit) in [(0, 50), (1, 100)] {
            let chars = cell(column).chars().count();
            if chars == 0 {
                valid = false;
                out.cell(Rule::EmptyCell, record, number, layout.at(column), || {
                    format!("The {} cell is empty.", COLUMNS[column].name)
                });
            } else if chars > limit {
                valid = false;
                out.cell(Rule::TooLong, record, number, layout.at(column), || {
                    format!("The {} has {chars} characters; at most {limit} fit.", COLUMNS[column].name)
                });
            }
        }
        if !cell(0).is_empty() && !self.seen.insert(cell(0).to_owned()) {
            valid = false;
            out.cell(Rule::DuplicateKey, record, number, layout.at(0), || {
                format!("Store {} appears twice; keep one row per store.", cell(0))
            });
        }
        let mut amount = |column: usize| match Decimal::parse(cell(column), b'.') {
            Some(value) if !value.is_negative() => Some(value),
            _ => {
                valid = false;
                out.cell(Rule::Range, record, number, layout.at(column), || {
                    format!("\"{}\" is not an amount of 0 or more.", cell(column))
                });
                None
            }
        };
        let avg_weekly_sales_12mo = amount(2);
        // The table keeps both as INTEGER: whole numbers up to 2,147,483,647.
        let mut whole = |column: usize, unit: &str| {
            let value = non_negative_integer(cell(column)).filter(|&n| n <= MAX_INTEGER);
            if value.is_none() {
                valid = false;
                out.cell(Rule::NonNegativeInteger, record, number, layout.at(column), || {
                    format!("\"{}\" is not a whole number of {unit} (0 to {MAX_INTEGER}).", cell(column))
                });
            }
            value
        };
        let store_size_sqft = whole(3, "square feet");
        let median_income = whole(4, "dollars").map(|n| Decimal::parse(&n.to_string(), b'.').expect("digits"));
        let mut choice = |column: usize, allowed: &[(&'static str, &[&str])]| {
            let value = enumerated(cell(column), allowed);
            if value.is_none() {
                valid = false;
                let options = allowed.iter().map(|(canonical, _)| *canonical).collect::<Vec<_>>().join(", ");
                out.cell(Rule::Enumeration, record, number, layout.at(column), || {
                    format!("\"{}\" is not a {}; expected one of {options}.", cell(column), COLUMNS[column].name)
                });
            }
            value
        };
        let location_tier = choice(5, LOCATION_TIERS);
        let fashion_tier = choice(6, FASHION_TIERS);
        let store_format = choice(7, FORMATS);
        let region = choice(8, REGIONS);
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
