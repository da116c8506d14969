//! Properties of the validator on generated weekly-actuals files: valid files pass, any split
//! into chunks gives the same report, and a single-rule mutation yields exactly that rule's
//! finding at the mutated line and column.

use proptest::prelude::*;
use upload_validator::{Context, PayloadKind, Rule, Validator, Verdict, WeeklyActualsContext};

const STORES: [&str; 3] = ["S001", "S002", "S003"];

fn context() -> Context {
    Context::of(WeeklyActualsContext {
        week_start: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        store_ids: STORES.iter().map(|s| s.to_string()).collect(),
    })
}

/// A valid week: every store, every day, random quantities, random row order.
fn valid_rows() -> impl Strategy<Value = Vec<[String; 3]>> {
    let all: Vec<(u32, &str)> = (1..=7).flat_map(|day| STORES.iter().map(move |s| (day, *s))).collect();
    (proptest::collection::vec(0u32..5000, all.len()), Just(all)).prop_flat_map(|(quantities, keys)| {
        let rows: Vec<[String; 3]> = keys
            .iter()
            .zip(quantities)
            .map(|((day, store), quantity)| [format!("2025-03-{day:02}"), store.to_string(), quantity.to_string()])
            .collect();
        Just(rows).prop_shuffle()
    })
}

fn render(rows: &[[String; 3]], crlf: bool) -> Vec<u8> {
    let newline = if crlf { "\r\n" } else { "\n" };
    let mut text = format!("date,store_id,quantity_sold{newline}");
    for row in rows {
        text.push_str(&row.join(","));
        text.push_str(newline);
    }
    text.into_bytes()
}

fn validate(bytes: &[u8], cuts: &[usize]) -> upload_validator::Report {
    let mut validator = Validator::new(PayloadKind::WeeklyActuals, context()).unwrap();
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.min(bytes.len()).max(start);
        validator.push(&bytes[start..cut]);
        start = cut;
    }
    validator.push(&bytes[start..]);
    validator.finish()
}

/// A mutation of one cell, and the rule it must trigger.
fn mutation() -> impl Strategy<Value = (usize, &'static str, Rule)> {
    prop_oneof![
        Just((0, "2025-3-1", Rule::Date)),
        Just((0, "2025-03-08", Rule::DateOutsideRange)),
        Just((1, "S404", Rule::UnknownId)),
        Just((1, "", Rule::EmptyCell)),
        Just((2, "-4", Rule::NonNegativeInteger)),
        Just((2, "1.5", Rule::NonNegativeInteger)),
    ]
}

proptest! {
    #[test]
    fn generated_valid_weeks_pass(rows in valid_rows(), crlf in any::<bool>()) {
        let report = validate(&render(&rows, crlf), &[]);
        prop_assert_eq!(report.verdict, Verdict::ReadyToUpload, "{}", report.to_json());
        prop_assert_eq!(report.records, rows.len() as u64);
    }

    #[test]
    fn any_chunking_gives_the_same_report(rows in valid_rows(), cuts in proptest::collection::vec(0usize..700, 0..20), bad_row in 0usize..21) {
        let mut rows = rows;
        rows[bad_row][2] = "x".into();
        let bytes = render(&rows, false);
        let mut cuts = cuts;
        cuts.sort();
        prop_assert_eq!(validate(&bytes, &cuts).to_json(), validate(&bytes, &[]).to_json());
    }

    #[test]
    fn a_single_mutation_yields_exactly_its_rule_at_its_cell(rows in valid_rows(), row in 0usize..21, (column, value, rule) in mutation()) {
        // A mutated date or store takes the row's key out of the week: append the original row
        // so the week stays covered. (A mutated quantity keeps the key; a copy would be a
        // genuine duplicate.)
        let mut rows = rows;
        let original = rows[row].clone();
        rows[row][column] = value.to_owned();
        if column != 2 {
            rows.push(original);
        }
        let bytes = render(&rows, false);
        let report = validate(&bytes, &[]);
        prop_assert_eq!(report.findings.len(), 1, "{}", report.to_json());
        let finding = &report.findings[0];
        prop_assert_eq!(finding.rule, rule);
        prop_assert_eq!(finding.line, row as u64 + 2);
        prop_assert_eq!(finding.column, Some(column as u32 + 1));
        let line_start = bytes.split(|&b| b == b'\n').take(row + 1).map(|l| l.len() + 1).sum::<usize>();
        let cell_start = line_start + rows[row][..column].iter().map(|c| c.len() + 1).sum::<usize>();
        prop_assert_eq!(finding.byte_offset, cell_start as u64);
    }
}
