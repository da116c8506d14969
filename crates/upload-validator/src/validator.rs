//! The validator: a payload kind's checks driven by the streaming engine.

use crate::engine::{CsvStream, Event, RecordRef};
use crate::kinds::{self, Checker, Layout};
use crate::report::{Finding, Findings, Report, Rule, Severity};
use crate::{Context, Error, PayloadKind, Record};

/// Limits that protect the browser and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Findings kept in the report; the rest are counted per rule.
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_file_bytes: 2 << 30, max_findings: 1000 }
    }
}

/// Validates one payload pushed in chunks of any size.
///
/// ```
/// use upload_validator::{Context, PayloadKind, Rule, Validator, Verdict};
///
/// let context = Context::from_json(PayloadKind::WeeklyActuals, r#"{"week_start": "2025-03-01", "store_ids": ["S001"]}"#)?;
/// let mut validator = Validator::new(PayloadKind::WeeklyActuals, context)?;
/// validator.push(b"date,store_id,quantity_sold\n2025-03-01,S001,14\n2025-03-02,S001,-3\n");
/// let report = validator.finish();
/// assert_eq!(report.verdict, Verdict::FixFirst);
/// let negative = report.findings.iter().find(|f| f.rule == Rule::NonNegativeInteger).unwrap();
/// assert_eq!((negative.line, negative.column, negative.byte_offset), (3, Some(3), 63));
/// // Two of seven days are covered: the week is incomplete.
/// assert!(report.findings.iter().any(|f| f.rule == Rule::Coverage));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Validator {
    engine: Box<dyn Engine>,
    /// The records' destination given to [`on_record`](Self::on_record), if any.
    sink: Option<Box<dyn FnMut(Record)>>,
}

/// An input engine: how a kind's bytes become findings and records (CSV records checked one
/// by one, a JSON document collected and checked whole). A kind's `open` function builds one.
pub(crate) trait Engine {
    /// Feeds the next chunk, handing each valid record it completes to `sink`.
    fn push(&mut self, chunk: &[u8], sink: Option<&mut (dyn FnMut(Record) + '_)>);
    /// Ends the input and reports.
    fn finish(self: Box<Self>, sink: Option<&mut (dyn FnMut(Record) + '_)>) -> Report;
    /// See [`Validator::resume_point`].
    #[cfg(feature = "resume")]
    fn resume_point(&self) -> Option<ResumePoint> {
        None
    }
    /// See [`Validator::resume`].
    #[cfg(feature = "resume")]
    fn resume(&mut self, _point: ResumePoint) -> bool {
        false
    }
}

/// Where a file read before can be read on from once it has grown (feature `resume`): the
/// start of its last data record (read again, so a record that was still being written is
/// read whole), its line, the data records before it, and where the first data record starts
/// (the header and anything before it are pushed again, for the delimiter and the columns).
#[cfg(feature = "resume")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// Offset of the first data record: the bytes before it are pushed again.
    pub header_end: u64,
    /// Line where the last data record read starts.
    pub line: u64,
    /// Its offset.
    pub byte_offset: u64,
    /// Data records before it.
    pub records: u64,
}

/// A CSV payload: the byte stream and everything else.
pub(crate) struct CsvInput {
    kind: PayloadKind,
    stream: CsvStream,
    state: State,
}

/// Everything but the byte stream, so the record callback can borrow it while the stream is
/// borrowed mutably.
struct State {
    checker: Box<dyn Checker>,
    findings: Findings,
    limits: Limits,
    header: Option<Vec<String>>,
    /// Where the kind's columns are; set once the header is accepted.
    layout: Option<Layout>,
    records: u64,
    stopped: bool,
    size_reported: bool,
    /// Where the first and the last data record started (see [`ResumePoint`]).
    #[cfg(feature = "resume")]
    resume: Option<ResumePoint>,
}

/// Keeps the finding `make` builds, or only counts it past the cap (so a file full of errors
/// builds no messages it would not show).
fn keep(findings: &mut Findings, severity: Severity, rule: Rule, make: impl FnOnce() -> Finding) {
    if findings.has_room() {
        findings.push(make());
    } else {
        findings.count_omitted(rule, severity);
    }
}

/// Where a finding placed with [`Out::at`] is.
#[cfg_attr(not(feature = "ib-flex"), allow(dead_code, reason = "only the XML engine places findings this way"))]
pub(crate) struct Place<'n> {
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) byte_offset: u64,
    /// 1-based data record (0: the file as a whole).
    pub(crate) record: u64,
    /// What is there (an attribute's name).
    pub(crate) name: Option<&'n str>,
}

/// Reports findings about one record; knows the header for column names.
pub struct Out<'a> {
    findings: &'a mut Findings,
    header: &'a [String],
    records: Option<&'a mut dyn FnMut(Record)>,
}

impl<'a> Out<'a> {
    pub(crate) fn new(findings: &'a mut Findings, header: &'a [String]) -> Self {
        Out { findings, header, records: None }
    }

    /// Also hands typed records to `records`.
    #[cfg_attr(not(feature = "ib-flex"), allow(dead_code, reason = "the CSV engine builds its Out directly"))]
    pub(crate) fn with_records(mut self, records: Option<&'a mut (dyn FnMut(Record) + '_)>) -> Self {
        self.records = records.map(|sink| sink as &mut dyn FnMut(Record));
        self
    }

    /// An error about cell `column` (0-based) of `record`.
    pub fn cell(
        &mut self,
        rule: Rule,
        record: &RecordRef<'_>,
        number: u64,
        column: usize,
        message: impl FnOnce() -> String,
    ) {
        self.cell_with(Severity::Error, rule, record, number, column, message);
    }

    /// A finding of any severity about one cell.
    pub fn cell_with(
        &mut self,
        severity: Severity,
        rule: Rule,
        record: &RecordRef<'_>,
        number: u64,
        column: usize,
        message: impl FnOnce() -> String,
    ) {
        keep(self.findings, severity, rule, || Finding {
            rule,
            severity,
            line: record.line,
            record: number,
            column: Some(column as u32 + 1),
            column_name: self.header.get(column).cloned(),
            byte_offset: record.field_offset(column),
            message: message(),
        });
    }

    /// An error about a whole line (or the whole file, with `record` 0).
    pub fn line(&mut self, rule: Rule, line: u64, number: u64, byte_offset: u64, message: impl FnOnce() -> String) {
        keep(self.findings, Severity::Error, rule, || Finding {
            rule,
            severity: Severity::Error,
            line,
            record: number,
            column: None,
            column_name: None,
            byte_offset,
            message: message(),
        });
    }

    /// A finding at any place of the file: `column` is 1-based, in characters; `column_name`
    /// names what is there (an XML attribute). For engines whose records are not CSV rows.
    #[cfg_attr(not(feature = "ib-flex"), allow(dead_code, reason = "only the XML engine places findings this way"))]
    pub(crate) fn at(&mut self, severity: Severity, rule: Rule, place: Place<'_>, message: impl FnOnce() -> String) {
        keep(self.findings, severity, rule, || Finding {
            rule,
            severity,
            line: place.line,
            record: place.record,
            column: Some(u32::try_from(place.column).unwrap_or(u32::MAX)),
            column_name: place.name.map(str::to_owned),
            byte_offset: place.byte_offset,
            message: message(),
        });
    }

    /// Hands a typed record to the caller (server-side importers), if one asked for them.
    pub fn record(&mut self, record: impl FnOnce() -> Record) {
        if let Some(sink) = self.records.as_mut() {
            sink(record());
        }
    }

    /// Whether typed records are wanted (lets checkers skip building them).
    pub fn wants_records(&self) -> bool {
        self.records.is_some()
    }
}

impl Validator {
    /// A validator for `kind`; fails when `context` is not the kind's or lacks what it needs.
    pub fn new(kind: PayloadKind, context: Context) -> Result<Self, Error> {
        Self::with_limits(kind, context, Limits::default())
    }

    /// A validator with explicit limits.
    pub fn with_limits(kind: PayloadKind, context: Context, limits: Limits) -> Result<Self, Error> {
        Ok(Validator { engine: kind.open(context, limits)?, sink: None })
    }

    /// Also hands every valid data record to `sink`, typed. For a caller that owns the
    /// records' destination for the validator's whole life; an importer that borrows its
    /// destination passes it to [`push_each`](Self::push_each) instead.
    pub fn on_record(mut self, sink: impl FnMut(Record) + 'static) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// Feeds the next chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.engine.push(chunk, self.sink.as_deref_mut().map(|sink| sink as &mut dyn FnMut(Record)));
    }

    /// Feeds the next chunk and hands each valid data record it completes to `on_record`,
    /// typed, before returning: the server's importers use the validator as their parser this
    /// way, with no channel and no `'static` sink. Records of one file go to whichever
    /// callback is given when they complete, so pass the same one every time (and to
    /// [`finish_each`](Self::finish_each)).
    pub fn push_each(&mut self, chunk: &[u8], on_record: &mut dyn FnMut(Record)) {
        self.engine.push(chunk, Some(on_record));
    }

    /// Ends the input and returns the report.
    pub fn finish(mut self) -> Report {
        let mut sink = self.sink.take();
        self.engine.finish(sink.as_deref_mut().map(|sink| sink as &mut dyn FnMut(Record)))
    }

    /// Ends the input, handing the last records to `on_record` (see [`push_each`](Self::push_each)),
    /// and returns the report.
    pub fn finish_each(self, on_record: &mut dyn FnMut(Record)) -> Report {
        self.engine.finish(Some(on_record))
    }

    /// Where a later read of this file, grown, may go on from (CSV kinds, once a data record
    /// was read and reading did not stop early); call it before [`finish`](Self::finish).
    #[cfg(feature = "resume")]
    pub fn resume_point(&self) -> Option<ResumePoint> {
        self.engine.resume_point()
    }

    /// Goes on at `point` of a file read before, whose bytes up to `point.header_end` were
    /// pushed again; push the file from `point.byte_offset` next. Findings and records then
    /// carry the lines and numbers a whole read would give. `false` when this engine cannot
    /// (nothing changed: push the rest of the file from where the header ended instead).
    #[cfg(feature = "resume")]
    pub fn resume(&mut self, point: ResumePoint) -> bool {
        self.engine.resume(point)
    }
}

impl CsvInput {
    /// The engine for a CSV kind checked by `checker`.
    pub(crate) fn open(kind: PayloadKind, checker: impl Checker + 'static, limits: Limits) -> Box<dyn Engine> {
        Box::new(CsvInput {
            kind,
            stream: CsvStream::new(checker.sniff()),
            state: State {
                checker: Box::new(checker),
                findings: Findings::new(limits.max_findings),
                limits,
                header: None,
                layout: None,
                records: 0,
                stopped: false,
                size_reported: false,
                #[cfg(feature = "resume")]
                resume: None,
            },
        })
    }
}

impl Engine for CsvInput {
    #[cfg(feature = "resume")]
    fn resume_point(&self) -> Option<ResumePoint> {
        self.state.resume.filter(|_| !self.state.stopped && self.stream.stopped().is_none())
    }

    #[cfg(feature = "resume")]
    fn resume(&mut self, point: ResumePoint) -> bool {
        let state = &mut self.state;
        if state.stopped
            || state.layout.is_none()
            || state.records != 0
            || !self.stream.jump(point.line, point.byte_offset)
        {
            return false;
        }
        state.records = point.records;
        state.resume = Some(point);
        true
    }

    fn push(&mut self, chunk: &[u8], mut sink: Option<&mut (dyn FnMut(Record) + '_)>) {
        let CsvInput { stream, state, .. } = self;
        if state.stopped {
            stream.skip(chunk.len());
            return;
        }
        if stream.bytes() + chunk.len() as u64 > state.limits.max_file_bytes && !state.size_reported {
            state.size_reported = true;
            state.stopped = true;
            stream.skip(chunk.len());
            let limit = state.limits.max_file_bytes;
            let mut out = state.out();
            out.line(Rule::FileTooLarge, 1, 0, limit, || {
                format!("The file is larger than the limit of {} MB; split it into smaller files.", limit / 1_000_000)
            });
            return;
        }
        stream.push(chunk, &mut |record| state.on_record(&record, sink.as_deref_mut()));
    }

    fn finish(self: Box<Self>, mut sink: Option<&mut (dyn FnMut(Record) + '_)>) -> Report {
        let CsvInput { kind, mut stream, mut state } = *self;
        let state = &mut state;
        if !state.stopped {
            stream.finish(&mut |record| state.on_record(&record, sink.as_deref_mut()));
        }
        if let Some(Event::RecordTooLong { line, byte_offset }) = stream.stopped().cloned() {
            let next_record = state.records + 1;
            state.out().line(Rule::RecordTooLong, line, next_record, byte_offset, || {
                "This row is longer than 1 MB, so the file is not a CSV export of this kind; check that you chose the right file.".into()
            });
        } else if !state.stopped {
            // (A stop was reported when it happened: size limit, rejected or unreadable header.)
            if state.header.is_none() {
                state.out().line(Rule::EmptyFile, 1, 0, 0, || {
                    "The file is empty: it needs a header line and at least one row.".into()
                });
            } else {
                let mut out = Out::new(&mut state.findings, state.header.as_deref().unwrap_or(&[]));
                state.checker.finish(&mut out, state.records);
            }
        }
        let mut detected = state.checker.detected(state.layout.as_ref());
        detected.insert("delimiter", (stream.delimiter() as char).to_string());
        detected.insert("byte_order_mark", stream.had_bom().to_string());
        let findings = std::mem::replace(&mut state.findings, Findings::new(0));
        findings.into_report(kind.name(), stream.bytes(), state.records, detected)
    }
}

impl State {
    fn out(&mut self) -> Out<'_> {
        Out::new(&mut self.findings, self.header.as_deref().unwrap_or(&[]))
    }

    fn on_record(&mut self, record: &RecordRef<'_>, sink: Option<&mut (dyn FnMut(Record) + '_)>) {
        if self.stopped {
            return;
        }
        // Every cell must be UTF-8; report the first bad one on the line and skip the row.
        if let Some((column, valid_up_to)) = record.first_invalid_utf8() {
            let bytes = record.field(column);
            let hint = if looks_like_windows_1252(bytes) {
                " It looks like Windows-1252 (the Excel default on Windows): save it again as \"CSV UTF-8\"."
            } else {
                " Save the file again as \"CSV UTF-8\"."
            };
            let number = if self.header.is_some() { self.records + 1 } else { 0 };
            let offset = record.field_offset(column) + valid_up_to as u64;
            self.findings.push(Finding {
                rule: Rule::Encoding,
                severity: Severity::Error,
                line: record.line,
                record: number,
                column: Some(column as u32 + 1),
                column_name: self.header.as_ref().and_then(|h| h.get(column).cloned()),
                byte_offset: offset,
                message: format!("This line contains bytes that are not UTF-8 text.{hint}"),
            });
            if self.header.is_some() {
                self.records += 1;
            } else {
                self.stopped = true;
            }
            return;
        }
        if self.header.is_none() {
            let names: Vec<String> =
                (0..record.len()).map(|i| record.text(i).unwrap_or_default().trim().to_owned()).collect();
            let mut out = Out { findings: &mut self.findings, header: &names, records: None };
            let accepted = self.checker.recognise(record, &mut out) && {
                self.layout = kinds::resolve(record, self.checker.columns(), &mut out);
                self.layout.is_some()
            };
            self.header = Some(names);
            self.stopped = !accepted;
            return;
        }
        self.records += 1;
        let number = self.records;
        #[cfg(feature = "resume")]
        {
            let header_end = self.resume.map_or(record.byte_offset, |point| point.header_end);
            self.resume = Some(ResumePoint {
                header_end,
                line: record.line,
                byte_offset: record.byte_offset,
                records: number - 1,
            });
        }
        let header = self.header.as_deref().unwrap_or(&[]);
        let mut out =
            Out { findings: &mut self.findings, header, records: sink.map(|sink| sink as &mut dyn FnMut(Record)) };
        let layout = self.layout.as_ref().expect("records follow an accepted header");
        if kinds::check_width(layout, record, number, &mut out, || self.checker.width_hint()) {
            self.checker.record(record, layout, number, &mut out);
        }
    }
}

/// Bytes 0x80–0xFF that do not form UTF-8 but are common Windows-1252 letters and signs.
fn looks_like_windows_1252(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b >= 0x80) && std::str::from_utf8(bytes).is_err()
}
