//! Findings and the report: what is wrong, where, and what to do.

use std::collections::BTreeMap;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file cannot be uploaded until this is fixed.
    Error,
    /// Worth a look; the file can still be uploaded.
    Warning,
}

/// Every rule a payload is checked against. The code (kebab-case) is stable: tests, the
/// browser and the server key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The file is not UTF-8.
    Encoding,
    /// The file is larger than allowed.
    FileTooLarge,
    /// The file has no header or no data.
    EmptyFile,
    /// The header lacks a required column or has one twice.
    Header,
    /// This is a different kind of file than expected (e.g. a NinjaTrader Trades export).
    WrongFileType,
    /// A row has more or fewer cells than the header.
    ColumnCount,
    /// A row is longer than any real row could be.
    RecordTooLong,
    /// A required cell is empty.
    EmptyCell,
    /// A date that is not `YYYY-MM-DD` (or the format this file kind uses).
    Date,
    /// A count that is not a whole number ≥ 0.
    NonNegativeInteger,
    /// A number that does not parse.
    Number,
    /// A number outside its allowed range.
    Range,
    /// A number with more decimal places than can be stored exactly.
    Precision,
    /// A text longer than the database column that stores it.
    TooLong,
    /// A value outside its list of allowed values.
    Enumeration,
    /// A date outside the expected week or range.
    DateOutsideRange,
    /// The expected week or range is not fully covered.
    Coverage,
    /// Two rows share a key that must be unique.
    DuplicateKey,
    /// An id the system does not know (store, category).
    UnknownId,
    /// A JSON document that does not parse.
    Json,
    /// A JSON value of the wrong type.
    Type,
    /// A required JSON field is missing.
    Required,
    /// A JSON field the document's shape does not know.
    UnknownField,
    /// XML that is not well-formed, or cut short (reading stops there).
    Xml,
}

impl Rule {
    /// Every rule, in declaration order (`rule as usize` is its position).
    pub const ALL: [Rule; 24] = [
        Rule::Encoding,
        Rule::FileTooLarge,
        Rule::EmptyFile,
        Rule::Header,
        Rule::WrongFileType,
        Rule::ColumnCount,
        Rule::RecordTooLong,
        Rule::EmptyCell,
        Rule::Date,
        Rule::NonNegativeInteger,
        Rule::Number,
        Rule::Range,
        Rule::Precision,
        Rule::TooLong,
        Rule::Enumeration,
        Rule::DateOutsideRange,
        Rule::Coverage,
        Rule::DuplicateKey,
        Rule::UnknownId,
        Rule::Json,
        Rule::Type,
        Rule::Required,
        Rule::UnknownField,
        Rule::Xml,
    ];

    // (A rule missing from ALL would index past the counters: refuse to compile instead.)
    const _COMPLETE: () = assert!(Rule::Xml as usize + 1 == Rule::ALL.len());

    /// The stable kebab-case code.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Encoding => "encoding",
            Rule::FileTooLarge => "file-too-large",
            Rule::EmptyFile => "empty-file",
            Rule::Header => "header",
            Rule::WrongFileType => "wrong-file-type",
            Rule::ColumnCount => "column-count",
            Rule::RecordTooLong => "record-too-long",
            Rule::EmptyCell => "empty-cell",
            Rule::Date => "date",
            Rule::NonNegativeInteger => "non-negative-integer",
            Rule::Number => "number",
            Rule::Range => "range",
            Rule::Precision => "precision",
            Rule::TooLong => "too-long",
            Rule::Enumeration => "enumeration",
            Rule::DateOutsideRange => "date-outside-range",
            Rule::Coverage => "coverage",
            Rule::DuplicateKey => "duplicate-key",
            Rule::UnknownId => "unknown-id",
            Rule::Json => "json",
            Rule::Type => "type",
            Rule::Required => "required",
            Rule::UnknownField => "unknown-field",
            Rule::Xml => "xml",
        }
    }
}

/// One problem, located precisely.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Which rule.
    pub rule: Rule,
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line in the file (the header is line 1), as a spreadsheet shows it.
    pub line: u64,
    /// 1-based data record (0 for the header or the whole file).
    pub record: u64,
    /// 1-based column index, when the finding is about one cell.
    pub column: Option<u32>,
    /// The column's name from the header.
    pub column_name: Option<String>,
    /// Byte offset of the cell (or line) in the file, from 0, counting a byte-order mark.
    pub byte_offset: u64,
    /// What is wrong and what to do, for a person who is not a programmer.
    pub message: String,
}

/// Whether the file can go to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No errors.
    ReadyToUpload,
    /// At least one error.
    FixFirst,
}

/// The result of validating one payload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The payload kind.
    pub kind: &'static str,
    /// Ready to upload, or fix first.
    pub verdict: Verdict,
    /// Bytes read.
    pub bytes: u64,
    /// Data records read (header excluded).
    pub records: u64,
    /// Errors in total, including those past the cap.
    pub errors: u64,
    /// Warnings in total, including those past the cap.
    pub warnings: u64,
    /// What was recognised about the file (delimiter, locale, variant).
    pub detected: BTreeMap<&'static str, String>,
    /// The first findings, in file order, up to the cap.
    pub findings: Vec<Finding>,
    /// Per rule, how many findings were left out past the cap.
    pub omitted: BTreeMap<&'static str, u64>,
}

impl Report {
    /// Whether the validator stopped reading before the end of the payload (a record over
    /// 1 MiB, a file over the size limit, XML that is not well-formed): the rows after that
    /// point were never read, so an importer must not treat the valid rows it got as the
    /// whole file.
    pub fn stopped_early(&self) -> bool {
        const STOPPING: [Rule; 3] = [Rule::RecordTooLong, Rule::FileTooLarge, Rule::Xml];
        STOPPING.iter().any(|rule| {
            self.findings.iter().any(|finding| finding.rule == *rule) || self.omitted.contains_key(rule.code())
        })
    }

    /// The report as JSON (two-space indented, fields in declaration order, as
    /// `serde_json::to_string_pretty` writes it): the exact bytes compared natively, under Node
    /// and in the browser. Written by hand so the browser package carries no JSON serializer.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512 + self.findings.len() * 256);
        out.push_str("{\n");
        member(&mut out, 1, "kind", |out| string(out, self.kind));
        member(&mut out, 1, "verdict", |out| {
            string(out, if self.verdict == Verdict::ReadyToUpload { "ready_to_upload" } else { "fix_first" })
        });
        for (key, value) in
            [("bytes", self.bytes), ("records", self.records), ("errors", self.errors), ("warnings", self.warnings)]
        {
            member(&mut out, 1, key, |out| out.push_str(&value.to_string()));
        }
        member(&mut out, 1, "detected", |out| map(out, self.detected.iter(), |out, value| string(out, value)));
        member(&mut out, 1, "findings", |out| {
            if self.findings.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, finding) in self.findings.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, 2);
                finding.write_json(out);
            }
            out.push('\n');
            indent(out, 1);
            out.push(']');
        });
        member(&mut out, 1, "omitted", |out| map(out, self.omitted.iter(), |out, n| out.push_str(&n.to_string())));
        // (No comma after the last member.)
        out.truncate(out.len() - 2);
        out.push_str("\n}");
        out
    }
}

impl Finding {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\n");
        member(out, 3, "rule", |out| string(out, self.rule.code()));
        member(out, 3, "severity", |out| {
            string(out, if self.severity == Severity::Error { "error" } else { "warning" })
        });
        member(out, 3, "line", |out| out.push_str(&self.line.to_string()));
        member(out, 3, "record", |out| out.push_str(&self.record.to_string()));
        member(out, 3, "column", |out| match self.column {
            Some(column) => out.push_str(&column.to_string()),
            None => out.push_str("null"),
        });
        member(out, 3, "column_name", |out| match &self.column_name {
            Some(name) => string(out, name),
            None => out.push_str("null"),
        });
        member(out, 3, "byte_offset", |out| out.push_str(&self.byte_offset.to_string()));
        member(out, 3, "message", |out| string(out, &self.message));
        out.truncate(out.len() - 2);
        out.push('\n');
        indent(out, 2);
        out.push('}');
    }
}

/// `"key": value,\n` at `depth`.
fn member(out: &mut String, depth: usize, key: &str, value: impl FnOnce(&mut String)) {
    indent(out, depth);
    string(out, key);
    out.push_str(": ");
    value(out);
    out.push_str(",\n");
}

/// A string-keyed map as an object one level deeper than its key.
fn map<'a, K: AsRef<str> + 'a, V: 'a>(
    out: &mut String,
    entries: impl ExactSizeIterator<Item = (&'a K, &'a V)>,
    value: impl Fn(&mut String, &V),
) {
    if entries.len() == 0 {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    for (i, (key, item)) in entries.enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        indent(out, 2);
        string(out, key.as_ref());
        out.push_str(": ");
        value(out, item);
    }
    out.push('\n');
    indent(out, 1);
    out.push('}');
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A JSON string, escaped as serde_json escapes it: quote, backslash and control characters
/// (the short forms where JSON has them); everything else as is.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c < ' ' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(c as u8 >> 4)] as char);
                out.push(HEX[usize::from(c as u8 & 0xf)] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Collects findings up to a cap, counting the rest per rule.
#[derive(Debug)]
pub(crate) struct Findings {
    cap: usize,
    kept: Vec<Finding>,
    /// Per rule (in [`Rule::ALL`] order), findings past the cap: an array, since a file full
    /// of errors counts one per row.
    omitted: [u64; Rule::ALL.len()],
    errors: u64,
    warnings: u64,
}

impl Findings {
    pub(crate) fn new(cap: usize) -> Self {
        Findings { cap, kept: Vec::new(), omitted: [0; Rule::ALL.len()], errors: 0, warnings: 0 }
    }

    /// Errors so far, including those past the cap.
    pub(crate) fn errors(&self) -> u64 {
        self.errors
    }

    /// Whether another finding would still be kept (lets callers skip building messages).
    pub(crate) fn has_room(&self) -> bool {
        self.kept.len() < self.cap
    }

    pub(crate) fn push(&mut self, finding: Finding) {
        self.count(finding.rule, finding.severity);
        if self.has_room() {
            // Kept in file order as they come: file-level findings arrive last but may belong
            // before others (coverage is line 0). A place found by search, not a sort.
            let key = (finding.line, finding.column);
            let at = self.kept.partition_point(|kept| (kept.line, kept.column) <= key);
            self.kept.insert(at, finding);
        } else {
            self.omitted[finding.rule as usize] += 1;
        }
    }

    /// Counts a finding without building it (past the cap).
    pub(crate) fn count_omitted(&mut self, rule: Rule, severity: Severity) {
        self.count(rule, severity);
        self.omitted[rule as usize] += 1;
    }

    fn count(&mut self, _rule: Rule, severity: Severity) {
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
    }

    pub(crate) fn into_report(
        self,
        kind: &'static str,
        bytes: u64,
        records: u64,
        detected: BTreeMap<&'static str, String>,
    ) -> Report {
        let mut omitted = BTreeMap::new();
        for (rule, &count) in Rule::ALL.iter().zip(&self.omitted) {
            if count > 0 {
                omitted.insert(rule.code(), count);
            }
        }
        Report {
            kind,
            verdict: if self.errors == 0 { Verdict::ReadyToUpload } else { Verdict::FixFirst },
            bytes,
            records,
            errors: self.errors,
            warnings: self.warnings,
            detected,
            findings: self.kept,
            omitted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(message: &str, column: Option<u32>, column_name: Option<&str>) -> Finding {
        Finding {
            rule: Rule::Date,
            severity: if column.is_some() { Severity::Error } else { Severity::Warning },
            line: 3,
            record: 2,
            column,
            column_name: column_name.map(String::from),
            byte_offset: 41,
            message: message.into(),
        }
    }

    #[test]
    fn the_json_is_exactly_what_serde_json_writes() {
        let tricky = "quote \" backslash \\ tab \t newline \n \r \u{8}\u{c}\u{1}\u{1f}\u{7f} é 🙂 </script>";
        let mut report = Report {
            kind: "weekly_actuals",
            verdict: Verdict::FixFirst,
            bytes: u64::MAX,
            records: 0,
            errors: 1,
            warnings: 2,
            detected: BTreeMap::new(),
            findings: Vec::new(),
            omitted: BTreeMap::new(),
        };
        let serde = |report: &Report| serde_json::to_string_pretty(report).unwrap();
        assert_eq!(report.to_json(), serde(&report), "empty maps and list");
        report.verdict = Verdict::ReadyToUpload;
        report.detected.insert("delimiter", tricky.into());
        report.detected.insert("byte_order_mark", "true".into());
        report.findings = vec![finding(tricky, Some(1), Some(tricky)), finding("", None, None)];
        report.omitted.insert("date", 7);
        report.omitted.insert("range", 0);
        assert_eq!(report.to_json(), serde(&report));
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn every_rule_is_listed_once_at_its_own_position() {
        for (position, rule) in Rule::ALL.iter().enumerate() {
            assert_eq!(*rule as usize, position, "{}", rule.code());
        }
        let mut codes: Vec<&str> = Rule::ALL.iter().map(|rule| rule.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Rule::ALL.len());
    }
}
