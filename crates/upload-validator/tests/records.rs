//! Typed records handed to a callback per push (`push_each`/`finish_each`) are exactly those
//! the stored sink (`on_record`) receives, and the report says when reading stopped early.

use std::cell::RefCell;
use std::rc::Rc;

use upload_validator::{Context, Limits, PayloadKind, Record, Validator};

fn export(rows: usize) -> Vec<u8> {
    let mut text = String::from(
        "\u{feff}Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,Commission,Rate,Account,Connection,\r\n",
    );
    for n in 0..rows {
        text.push_str(&format!(
            "MNQ MAR25,Buy,1,21000.25,2/3/2025 9:31:{:02} AM,{n:032x},Entry,1 L,,Entry,$0.62,1,Sim101,My Connection,\r\n",
            n % 60
        ));
    }
    text.into_bytes()
}

fn ids(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|record| match record {
            Record::Execution(fill) => fill.execution_id.clone(),
            other => panic!("not an execution: {other:?}"),
        })
        .collect()
}

#[test]
fn push_each_hands_over_the_same_records_as_on_record() {
    let bytes = export(500);
    let stored = Rc::new(RefCell::new(Vec::new()));
    let mut sink_validator = {
        let stored = Rc::clone(&stored);
        Validator::new(PayloadKind::NinjaTraderExecutions, Context::default())
            .unwrap()
            .on_record(move |record| stored.borrow_mut().push(record))
    };
    let mut each_validator = Validator::new(PayloadKind::NinjaTraderExecutions, Context::default()).unwrap();
    let mut handed = Vec::new();
    for chunk in bytes.chunks(777) {
        sink_validator.push(chunk);
        each_validator.push_each(chunk, &mut |record| handed.push(record));
    }
    let sink_report = sink_validator.finish();
    let each_report = each_validator.finish_each(&mut |record| handed.push(record));
    assert_eq!(sink_report, each_report);
    assert_eq!(ids(&handed).len(), 500);
    assert_eq!(ids(&handed), ids(&stored.borrow()));
}

#[test]
fn the_report_says_when_reading_stopped_early() {
    let clean = Validator::new(PayloadKind::NinjaTraderExecutions, Context::default()).unwrap();
    let mut clean = clean;
    clean.push(&export(3));
    assert!(!clean.finish().stopped_early());

    let limits = Limits { max_file_bytes: 1_000, ..Limits::default() };
    let mut capped = Validator::with_limits(PayloadKind::NinjaTraderExecutions, Context::default(), limits).unwrap();
    for chunk in export(100).chunks(300) {
        capped.push(chunk);
    }
    assert!(capped.finish().stopped_early(), "the size limit stops reading");

    let mut long = export(1);
    long.extend(std::iter::repeat_n(b'x', 2 << 20));
    let mut too_long = Validator::new(PayloadKind::NinjaTraderExecutions, Context::default()).unwrap();
    too_long.push(&long);
    assert!(too_long.finish().stopped_early(), "a record over 1 MiB stops reading");

    let mut invalid_rows = Validator::new(PayloadKind::NinjaTraderExecutions, Context::default()).unwrap();
    invalid_rows.push(&export(3));
    invalid_rows
        .push(b"MNQ MAR25,Buy,one,21000.25,2/3/2025 9:31:00 AM,x,Entry,1 L,,Entry,$0.62,1,Sim101,My Connection,\r\n");
    let report = invalid_rows.finish();
    assert!(report.errors > 0 && !report.stopped_early(), "an invalid row does not stop reading");
}

/// A grown file read on from where an earlier read of its first part ended gives the
/// findings, lines and records a whole read gives for the rest.
#[cfg(feature = "resume")]
#[test]
fn a_resumed_read_matches_a_whole_read_of_the_rest() {
    let file = export(40);
    let cut = file.len();
    let mut grown = export(80);
    // A bad quantity on the 61st fill, after the part read first.
    let line = String::from_utf8(grown.clone()).unwrap();
    let broken = line.replacen(
        ",Buy,1,21000.25,2/3/2025 9:31:00 AM,0000000000000000000000000000003c",
        ",Buy,x,21000.25,2/3/2025 9:31:00 AM,0000000000000000000000000000003c",
        1,
    );
    assert_ne!(broken, line, "the row to break exists");
    grown = broken.into_bytes();
    assert_eq!(&grown[..cut], &file[..], "the first part is unchanged");

    let mut first = Validator::new(PayloadKind::NinjaTraderExecutions, Context::none()).unwrap();
    first.push(&file[..]);
    let point = first.resume_point().expect("data records were read");
    assert_eq!((point.line, point.records), (41, 39), "the last data record read: {point:?}");

    let whole = {
        let mut validator = Validator::new(PayloadKind::NinjaTraderExecutions, Context::none()).unwrap();
        let mut records = Vec::new();
        validator.push_each(&grown, &mut |r| records.push(r));
        (validator.finish_each(&mut |r| records.push(r)), records)
    };
    let resumed = {
        let mut validator = Validator::new(PayloadKind::NinjaTraderExecutions, Context::none()).unwrap();
        let mut records = Vec::new();
        validator.push_each(&grown[..point.header_end as usize], &mut |r| records.push(r));
        assert!(validator.resume(point));
        validator.push_each(&grown[point.byte_offset as usize..], &mut |r| records.push(r));
        (validator.finish_each(&mut |r| records.push(r)), records)
    };
    assert_eq!(resumed.0.findings, whole.0.findings, "the same findings at the same lines and offsets");
    assert_eq!((resumed.0.records, resumed.0.bytes), (whole.0.records, whole.0.bytes));
    assert_eq!(resumed.1[..], whole.1[39..], "the records from the last one read before");
    assert_eq!(whole.0.findings.len(), 1, "{}", whole.0.to_json());
}
