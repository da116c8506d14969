//! The golden set: every payload file in `tests/golden/` with the exact report it must produce.
//! The same files and reports are checked under Node and in headless Chromium, so the verdict
//! is the same everywhere. After a deliberate change, regenerate with
//! `BLESS=1 cargo test -p upload-validator --test golden` and review the diff.

use std::path::{Path, PathBuf};

use upload_validator::{
    Context, ContextError, Error, HistoricalSalesContext, KindContext, NoContext, PayloadKind, Validator,
    WeeklyActualsContext,
};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn kind_of(file: &str) -> PayloadKind {
    let prefix = file.split('.').next().unwrap();
    PayloadKind::from_name(prefix).unwrap_or_else(|| panic!("{file}: unknown kind prefix"))
}

/// Payloads: `.csv` files, `.json` documents (not the reports and contexts beside them) and,
/// when this build has the kind, `.xml` Flex reports.
fn is_payload(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_str().unwrap();
    name.ends_with(".csv")
        || (name.ends_with(".json") && !name.ends_with(".report.json") && !name.ends_with(".context.json"))
        || (cfg!(feature = "ib-flex") && name.ends_with(".xml"))
}

/// `kind.variant.report.json` beside `kind.variant.csv` or `kind.variant.json`.
fn report_path(payload: &Path) -> PathBuf {
    payload.with_extension("report.json")
}

fn report_for(path: &Path, chunk: usize) -> String {
    let file = path.file_name().unwrap().to_str().unwrap();
    let kind = kind_of(file);
    let context_path = golden_dir().join(format!("{}.context.json", kind.name()));
    let context = std::fs::read_to_string(&context_path)
        .map(|text| Context::from_json(kind, &text).unwrap_or_else(|e| panic!("{}: {e}", context_path.display())))
        .unwrap_or_default();
    let mut validator = Validator::new(kind, context).unwrap();
    for piece in std::fs::read(path).unwrap().chunks(chunk) {
        validator.push(piece);
    }
    validator.finish().to_json() + "\n"
}

#[test]
fn every_golden_file_gives_its_expected_report_at_any_chunk_size() {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(golden_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| is_payload(p)).collect();
    files.sort();
    assert!(files.len() >= 10, "the golden set shrank");
    let bless = std::env::var_os("BLESS").is_some();
    let mut mismatches = Vec::new();
    for file in &files {
        let expected_path = report_path(file);
        let actual = report_for(file, usize::MAX);
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            mismatches.push(format!("{}:\n{actual}", file.display()));
        }
        for chunk in [1, 3, 64] {
            assert_eq!(report_for(file, chunk), actual, "{} in chunks of {chunk}", file.display());
        }
    }
    assert!(
        mismatches.is_empty(),
        "reports differ from the golden files (BLESS=1 to regenerate):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn each_context_reads_the_same_from_json_as_through_serde() {
    fn same<C: KindContext + PartialEq + std::fmt::Debug + serde::de::DeserializeOwned>(file: &str) {
        let text = std::fs::read_to_string(golden_dir().join(file)).unwrap();
        let through_serde: C = serde_json::from_str(&text).unwrap();
        assert_eq!(C::from_json(&text).unwrap(), through_serde, "{file}");
    }
    same::<WeeklyActualsContext>("weekly_actuals.context.json");
    same::<HistoricalSalesContext>("historical_sales.context.json");
    let unknown = WeeklyActualsContext::from_json(r#"{"week": "2025-03-01"}"#).unwrap_err();
    assert_eq!(unknown, ContextError::UnknownField { field: "week".into(), expected: "week_start, store_ids".into() });
    assert_eq!(
        WeeklyActualsContext::from_json(r#"{"week_start": "2025-03-01", "store_ids": [1]}"#).unwrap_err(),
        ContextError::WrongType { field: "store_ids", expected: "a list of text" }
    );
    assert_eq!(WeeklyActualsContext::from_json("{}").unwrap_err(), ContextError::Missing { field: "week_start" });
    assert_eq!(HistoricalSalesContext::from_json("[]").unwrap_err(), ContextError::NotAnObject);
    assert_eq!(NoContext::from_json("{}"), Ok(NoContext));
    assert!(matches!(NoContext::from_json(r#"{"store_ids": []}"#), Err(ContextError::UnknownField { .. })));
}

#[test]
fn a_kind_refuses_another_kinds_context() {
    let weekly = Context::from_json(PayloadKind::WeeklyActuals, r#"{"week_start": "2025-03-01", "store_ids": ["S1"]}"#);
    let error = Validator::new(PayloadKind::HistoricalSales, weekly.unwrap()).err().unwrap();
    assert_eq!(error, Error::WrongContext { kind: "historical_sales", expected: "HistoricalSalesContext" });
    assert!(Validator::new(PayloadKind::WeeklyActuals, Context::none()).is_err(), "weekly actuals need a week");
    assert!(Validator::new(PayloadKind::StoreAttributes, Context::none()).is_ok());
    let flex = Validator::new(PayloadKind::IbFlex, Context::none());
    if cfg!(feature = "ib-flex") {
        assert!(flex.is_ok());
    } else {
        assert_eq!(flex.err().unwrap(), Error::NotInThisBuild { kind: "ib_flex", feature: "ib-flex" });
    }
}
