//! Any bytes, as any payload kind, pushed whole and in small chunks: the validator must not
//! panic, must read every byte, must keep its findings under the cap, and must give the same
//! report (and the same typed records) however the bytes are split.
//!
//! Input: byte 0 picks the payload kind (unless `INTAKE_FUZZ_KIND` names one: then every input
//! is that kind, as `cargo xtask fuzz --all` runs each kind in turn), byte 1 the chunk size
//! (1–256), the rest is the file. Run with `cargo xtask fuzz`; the golden files are the seed
//! corpus.
#![no_main]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use upload_validator::{Context, PayloadKind, Record, Report, Validator};

fuzz_target!(|data: &[u8]| {
    let [kind, chunk, file @ ..] = data else { return };
    static FIXED: OnceLock<Option<PayloadKind>> = OnceLock::new();
    let fixed = FIXED.get_or_init(|| {
        let name = std::env::var("INTAKE_FUZZ_KIND").ok().filter(|name| !name.is_empty())?;
        Some(PayloadKind::from_name(&name).expect("INTAKE_FUZZ_KIND names a kind"))
    });
    let kind = fixed.unwrap_or(PayloadKind::ALL[usize::from(*kind) % PayloadKind::ALL.len()]);
    let (whole, whole_records) = validate(kind, file, file.len().max(1));
    let (chunked, chunked_records) = validate(kind, file, usize::from(*chunk) + 1);
    assert_eq!(whole, chunked, "the report depends on how the file was split");
    assert_eq!(whole_records, chunked_records, "the typed records depend on how the file was split");
    assert_eq!(whole.bytes, file.len() as u64, "every byte is counted");
    assert!(whole.findings.len() <= 1000, "findings are capped");
    let counted = whole.findings.len() as u64 + whole.omitted.values().sum::<u64>();
    assert_eq!(counted, whole.errors + whole.warnings, "every finding is kept or counted");
});

/// The report and the typed records for `file` pushed in chunks of `chunk` bytes.
fn validate(kind: PayloadKind, file: &[u8], chunk: usize) -> (Report, Vec<Record>) {
    let json = match kind {
        PayloadKind::WeeklyActuals => r#"{"week_start": "2025-03-01", "store_ids": ["S001", "S002", "S003"]}"#,
        PayloadKind::HistoricalSales => {
            r#"{"store_ids": ["S001", "S002", "S003"], "categories": {"Women's Dresses": "womens_dresses"}}"#
        }
        _ => "{}",
    };
    let context = Context::from_json(kind, json).expect("the fuzz contexts are valid");
    let records = Rc::new(RefCell::new(Vec::new()));
    let sink = records.clone();
    let mut validator = Validator::new(kind, context)
        .expect("the context has what every kind needs")
        .on_record(move |record| sink.borrow_mut().push(record));
    for piece in file.chunks(chunk) {
        validator.push(piece);
    }
    let report = validator.finish();
    let records = records.take();
    (report, records)
}
