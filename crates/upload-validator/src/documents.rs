//! JSON documents for persistent storage (seed 002): connector profiles, client
//! configurations and service proposals. A document is small, so it is collected (up to
//! [`MAX_DOCUMENT_BYTES`]) and checked whole against its shape: required fields, types,
//! enumerations, dates; a field the shape does not know is reported as a warning (a typo such as
//! `licence_type` would otherwise be stored silently). Findings point at the field's line and
//! column in the text; `column_name` is the field's path (`credentials.username`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::report::{Finding, Findings, Report, Rule, Severity};
use crate::{PayloadKind, Record};

/// The largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// What a field holds.
enum Shape {
    Text,
    OneOf(&'static [&'static str]),
    /// A number ≥ 0.
    Amount,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339, e.g. `2025-12-21T06:20:48Z`.
    Timestamp,
    Object(&'static [Field]),
    /// An object whose members are free (preferences, breakdowns).
    AnyObject,
    /// A list of strings.
    TextList,
    /// A list of anything.
    AnyList,
}

struct Field {
    name: &'static str,
    required: bool,
    shape: Shape,
}

const fn field(name: &'static str, required: bool, shape: Shape) -> Field {
    Field { name, required, shape }
}

const CONNECTOR_PROFILE: &[Field] = &[
    field("id", false, Shape::Text),
    field("name", true, Shape::Text),
    field("type", true, Shape::OneOf(&["sql", "api", "excel"])),
    field("connection_string", false, Shape::Text),
    field(
        "credentials",
        false,
        Shape::Object(&[field("username", false, Shape::Text), field("password", false, Shape::Text)]),
    ),
    field(
        "schema_info",
        false,
        Shape::Object(&[field("tables", false, Shape::AnyList), field("columns", false, Shape::AnyObject)]),
    ),
    field("test_status", false, Shape::OneOf(&["success", "failed"])),
    field("last_tested", false, Shape::Timestamp),
];

const CLIENT_CONFIG: &[Field] = &[
    field("client_id", false, Shape::Text),
    field("client_name", true, Shape::Text),
    field("license_type", true, Shape::OneOf(&["basic", "professional", "enterprise"])),
    field("modules", false, Shape::TextList),
    field("preferences", false, Shape::AnyObject),
    field("custom_kpis", false, Shape::AnyList),
    field("data_sources", false, Shape::AnyList),
];

const SERVICE_PROPOSAL: &[Field] = &[
    field("proposal_id", false, Shape::Text),
    field("client_id", true, Shape::Text),
    field("proposal_type", true, Shape::OneOf(&["implementation", "consulting"])),
    field(
        "pricing",
        false,
        Shape::Object(&[field("total", false, Shape::Amount), field("breakdown", false, Shape::AnyObject)]),
    ),
    field(
        "timeline",
        false,
        Shape::Object(&[
            field("start_date", false, Shape::Date),
            field("end_date", false, Shape::Date),
            field("phases", false, Shape::AnyList),
        ]),
    ),
    field(
        "resources",
        false,
        Shape::Object(&[field("consultants", false, Shape::AnyList), field("hours", false, Shape::Amount)]),
    ),
    field("status", true, Shape::OneOf(&["draft", "sent", "accepted", "rejected"])),
];

/// The shape of a document kind, if `kind` is one.
fn shape_of(kind: PayloadKind) -> Option<&'static [Field]> {
    match kind {
        PayloadKind::ConnectorProfile => Some(CONNECTOR_PROFILE),
        PayloadKind::ClientConfig => Some(CLIENT_CONFIG),
        PayloadKind::ServiceProposal => Some(SERVICE_PROPOSAL),
        _ => None,
    }
}

/// A document being collected.
pub(crate) struct Document {
    kind: PayloadKind,
    fields: &'static [Field],
    text: Vec<u8>,
    bytes: u64,
    findings: Findings,
}

impl Document {
    /// A collector for `kind`, or `None` when `kind` is not a JSON document kind.
    pub(crate) fn new(kind: PayloadKind, max_findings: usize) -> Option<Self> {
        Some(Document {
            kind,
            fields: shape_of(kind)?,
            text: Vec::new(),
            bytes: 0,
            findings: Findings::new(max_findings),
        })
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        if self.bytes <= MAX_DOCUMENT_BYTES as u64 {
            self.text.extend_from_slice(chunk);
        }
    }

    pub(crate) fn finish(mut self, sink: Option<Box<dyn FnMut(Record)>>) -> Report {
        let mut detected = BTreeMap::new();
        detected.insert("format", "json".to_owned());
        let records = match self.check() {
            Some(value) => {
                if let Some(mut sink) = sink.filter(|_| self.findings.errors() == 0) {
                    sink(Record::Document(value));
                }
                1
            }
            None => 0,
        };
        let kind = self.kind.name();
        self.findings.into_report(kind, self.bytes, records, detected)
    }

    /// Checks the collected text; the parsed document if it is an object.
    fn check(&mut self) -> Option<Value> {
        if self.bytes > MAX_DOCUMENT_BYTES as u64 {
            self.error(
                Rule::FileTooLarge,
                1,
                None,
                None,
                0,
                format!(
                    "The document is larger than {} KB; a {} is a few KB at most. Check that you chose the right file.",
                    MAX_DOCUMENT_BYTES / 1024,
                    self.kind.name().replace('_', " ")
                ),
            );
            return None;
        }
        let bom = if self.text.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let text = match std::str::from_utf8(&self.text[bom..]) {
            Ok(text) => text.to_owned(),
            Err(error) => {
                let at = bom + error.valid_up_to();
                let (line, column) = position(&self.text[..at]);
                self.error(
                    Rule::Encoding,
                    line,
                    Some(column),
                    None,
                    at as u64,
                    "The document contains bytes that are not UTF-8 text. Save it again as UTF-8.".into(),
                );
                return None;
            }
        };
        if text.trim().is_empty() {
            self.error(Rule::EmptyFile, 1, None, None, 0, "The document is empty.".into());
            return None;
        }
        let value: Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(error) => {
                let offset = offset_of(&text, error.line(), error.column()) + bom;
                let message = format!("This is not valid JSON: {error}. Check for a missing comma, quote or brace.");
                self.error(Rule::Json, error.line() as u64, Some(error.column() as u32), None, offset as u64, message);
                return None;
            }
        };
        let locations = Locations::of(&text, bom);
        match &value {
            Value::Object(_) => self.object(&value, self.fields, "", &locations),
            _ => self.error(
                Rule::Type,
                1,
                Some(1),
                None,
                bom as u64,
                "The document must be a JSON object: { ... }.".into(),
            ),
        }
        value.is_object().then_some(value)
    }

    fn object(&mut self, value: &Value, fields: &'static [Field], path: &str, locations: &Locations) {
        let Value::Object(members) = value else { return };
        for field in fields {
            let here = join(path, field.name);
            match members.get(field.name) {
                None | Some(Value::Null) if field.required => {
                    let at = locations.get(path);
                    self.at(Rule::Required, Severity::Error, at, &here, format!("\"{}\" is required.", here));
                }
                None | Some(Value::Null) => {}
                Some(member) => self.member(member, field, &here, locations),
            }
        }
        for name in members.keys() {
            if !fields.iter().any(|f| f.name == name) {
                let here = join(path, name);
                let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                let message = format!(
                    "\"{here}\" is not a field of this document and will be ignored; known fields: {}.",
                    known.join(", ")
                );
                self.at(Rule::UnknownField, Severity::Warning, locations.get(&here), &here, message);
            }
        }
        if path == "timeline" {
            let date = |name| members.get(name).and_then(Value::as_str).and_then(crate::fields::iso_date);
            if let (Some(start), Some(end)) = (date("start_date"), date("end_date"))
                && end < start
            {
                let message = format!("The end date {end} is before the start date {start}.");
                self.at(Rule::Range, Severity::Error, locations.get("timeline.end_date"), "timeline.end_date", message);
            }
        }
    }

    fn member(&mut self, value: &Value, field: &Field, path: &str, locations: &Locations) {
        let at = locations.get(path);
        let wrong = |expected: &str| format!("\"{path}\" must be {expected}, not {}.", describe(value));
        match (&field.shape, value) {
            (Shape::Text, Value::String(_)) => {}
            (Shape::Text, _) => self.at(Rule::Type, Severity::Error, at, path, wrong("text")),
            (Shape::OneOf(allowed), Value::String(text)) if allowed.contains(&text.as_str()) => {}
            (Shape::OneOf(allowed), _) => {
                let message = format!("\"{path}\" is {}; expected one of {}.", describe(value), allowed.join(", "));
                self.at(Rule::Enumeration, Severity::Error, at, path, message);
            }
            (Shape::Amount, Value::Number(number)) if number.as_f64().is_some_and(|n| n >= 0.0) => {}
            (Shape::Amount, Value::Number(_)) => {
                self.at(Rule::Range, Severity::Error, at, path, format!("\"{path}\" cannot be negative."))
            }
            (Shape::Amount, _) => self.at(Rule::Type, Severity::Error, at, path, wrong("a number")),
            (Shape::Date, Value::String(text)) if crate::fields::iso_date(text).is_some() => {}
            (Shape::Date, _) => self.at(Rule::Date, Severity::Error, at, path, wrong("a date like 2026-01-31")),
            (Shape::Timestamp, Value::String(text)) if chrono::DateTime::parse_from_rfc3339(text).is_ok() => {}
            (Shape::Timestamp, _) => {
                self.at(Rule::Date, Severity::Error, at, path, wrong("a time like 2025-12-21T06:20:48Z"))
            }
            (Shape::Object(fields), Value::Object(_)) => self.object(value, fields, path, locations),
            (Shape::AnyObject, Value::Object(_)) => {}
            (Shape::Object(_) | Shape::AnyObject, _) => {
                self.at(Rule::Type, Severity::Error, at, path, wrong("an object { ... }"))
            }
            (Shape::TextList, Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        let here = format!("{path}[{index}]");
                        let message = format!("\"{here}\" must be text, not {}.", describe(item));
                        self.at(Rule::Type, Severity::Error, locations.get(&here), &here, message);
                    }
                }
            }
            (Shape::AnyList, Value::Array(_)) => {}
            (Shape::TextList | Shape::AnyList, _) => {
                self.at(Rule::Type, Severity::Error, at, path, wrong("a list [ ... ]"))
            }
        }
    }

    fn at(&mut self, rule: Rule, severity: Severity, at: Location, path: &str, message: String) {
        if !self.findings.has_room() {
            self.findings.count_omitted(rule, severity);
            return;
        }
        self.findings.push(Finding {
            rule,
            severity,
            line: at.line,
            record: 1,
            column: Some(at.column),
            column_name: Some(path.to_owned()),
            byte_offset: at.offset,
            message,
        });
    }

    fn error(&mut self, rule: Rule, line: u64, column: Option<u32>, path: Option<&str>, offset: u64, message: String) {
        self.findings.push(Finding {
            rule,
            severity: Severity::Error,
            line,
            record: 0,
            column,
            column_name: path.map(str::to_owned),
            byte_offset: offset,
            message,
        });
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// 1-based line and column (in characters) of the end of `before`.
fn position(before: &[u8]) -> (u64, u32) {
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() as u32 + 1;
    (line, column)
}

/// Byte offset of serde_json's 1-based (line, column).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let in_line = text[start..].chars().take(column.saturating_sub(1)).map(char::len_utf8).sum::<usize>();
    (start + in_line).min(text.len())
}

/// Where a finding points.
#[derive(Debug, Clone, Copy)]
struct Location {
    line: u64,
    column: u32,
    offset: u64,
}

/// Where each member's key (and each list item) starts, by path (`a.b`, `a[0]`); the document
/// itself is the empty path. serde_json keeps no positions, so the (already valid) text is
/// scanned once.
struct Locations(BTreeMap<String, Location>);

impl Locations {
    fn of(text: &str, bom: usize) -> Self {
        let bytes = text.as_bytes();
        let mut map = BTreeMap::new();
        let mut line = 1u64;
        let mut line_start = 0usize;
        // Per open container: its path, whether it is a list, and the next item index.
        let mut stack: Vec<(String, bool, usize)> = Vec::new();
        let mut pending_key: Option<String> = None;
        let mut i = 0;
        let locate = |i: usize, line: u64, line_start: usize| Location {
            line,
            column: text[line_start..i].chars().count() as u32 + 1,
            offset: (bom + i) as u64,
        };
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    line += 1;
                    line_start = i + 1;
                }
                b'"' => {
                    let start = i;
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    let is_key = stack.last().is_some_and(|(_, list, _)| !list)
                        && bytes[i + 1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':');
                    if is_key {
                        let name: String = serde_json::from_str(&text[start..=i]).unwrap_or_default();
                        let path = join(&stack.last().map(|(p, _, _)| p.clone()).unwrap_or_default(), &name);
                        map.insert(path.clone(), locate(start, line, line_start));
                        pending_key = Some(path);
                    } else if pending_key.take().is_none() {
                        Self::item(&mut stack, &mut map, locate(start, line, line_start));
                    }
                }
                b'{' | b'[' => {
                    let location = locate(i, line, line_start);
                    let path = match pending_key.take() {
                        Some(path) => path,
                        None => Self::item(&mut stack, &mut map, location).unwrap_or_default(),
                    };
                    if stack.is_empty() {
                        map.insert(String::new(), location);
                    }
                    stack.push((path, bytes[i] == b'[', 0));
                }
                b'}' | b']' => {
                    stack.pop();
                }
                b',' | b':' => {}
                byte if !byte.is_ascii_whitespace() => {
                    // A number or literal: an item if inside a list; consume it.
                    if pending_key.take().is_none() {
                        Self::item(&mut stack, &mut map, locate(i, line, line_start));
                    }
                    while i + 1 < bytes.len()
                        && !matches!(bytes[i + 1], b',' | b'}' | b']' | b'\n')
                        && !bytes[i + 1].is_ascii_whitespace()
                    {
                        i += 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Locations(map)
    }

    /// Records the next item of the innermost list, if the innermost container is a list.
    fn item(stack: &mut [(String, bool, usize)], map: &mut BTreeMap<String, Location>, at: Location) -> Option<String> {
        let (path, list, next) = stack.last_mut()?;
        if !*list {
            return None;
        }
        let item = format!("{path}[{next}]");
        *next += 1;
        map.insert(item.clone(), at);
        Some(item)
    }

    fn get(&self, path: &str) -> Location {
        self.0.get(path).copied().unwrap_or(Location { line: 1, column: 1, offset: 0 })
    }
}
