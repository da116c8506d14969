//! JSON documents for persistent storage (seed 002): connector profiles, client
//! configurations and service proposals. A document is small, so it is collected (up to
//! [`MAX_DOCUMENT_BYTES`]) and checked whole against its shape: required fields, types,
//! enumerations, dates; a field the shape does not know is reported as a warning (a typo such as
//! `licence_type` would otherwise be stored silently). Findings point at the field's line and
//! column in the text; `column_name` is the field's path (`credentials.username`).
//!
//! The JSON is read by a small parser of its own (`json` below) that keeps each value's byte
//! offset: serde_json keeps no positions, and its deserializer would more than double the
//! browser package.

use std::collections::BTreeMap;

use json::{Node, Value};

use crate::report::{Finding, Findings, Report, Rule, Severity};
use crate::validator::{Engine, Limits};
use crate::{Error, NoContext, PayloadKind, Record};

/// The largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// What a field holds.
enum Shape {
    Text,
    /// Text that is a secret (a password, a connection string): a finding about it never
    /// quotes it, only names its type; `null` (remove it) is accepted.
    Secret,
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
    field("connection_string", false, Shape::Secret),
    field(
        "credentials",
        false,
        Shape::Object(&[field("username", false, Shape::Text), field("password", false, Shape::Secret)]),
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

/// The registry's engines for the three document kinds.
pub(crate) fn connector_profile(kind: PayloadKind, _: NoContext, limits: Limits) -> Result<Box<dyn Engine>, Error> {
    Ok(Document::open(kind, CONNECTOR_PROFILE, limits))
}

/// See [`connector_profile`].
pub(crate) fn client_config(kind: PayloadKind, _: NoContext, limits: Limits) -> Result<Box<dyn Engine>, Error> {
    Ok(Document::open(kind, CLIENT_CONFIG, limits))
}

/// See [`connector_profile`].
pub(crate) fn service_proposal(kind: PayloadKind, _: NoContext, limits: Limits) -> Result<Box<dyn Engine>, Error> {
    Ok(Document::open(kind, SERVICE_PROPOSAL, limits))
}

/// A document being collected.
pub(crate) struct Document {
    kind: PayloadKind,
    fields: &'static [Field],
    text: Vec<u8>,
    bytes: u64,
    /// 3 when the text starts with a byte-order mark.
    bom: usize,
    findings: Findings,
}

impl Document {
    /// A collector for a document of this shape.
    fn open(kind: PayloadKind, fields: &'static [Field], limits: Limits) -> Box<dyn Engine> {
        Box::new(Document {
            kind,
            fields,
            text: Vec::new(),
            bytes: 0,
            bom: 0,
            findings: Findings::new(limits.max_findings),
        })
    }
}

impl Engine for Document {
    fn push(&mut self, chunk: &[u8], _: Option<&mut (dyn FnMut(Record) + '_)>) {
        self.bytes += chunk.len() as u64;
        if self.bytes <= MAX_DOCUMENT_BYTES as u64 {
            self.text.extend_from_slice(chunk);
        }
    }

    fn finish(mut self: Box<Self>, sink: Option<&mut (dyn FnMut(Record) + '_)>) -> Report {
        let mut detected = BTreeMap::new();
        detected.insert("format", "json".to_owned());
        let records = match self.check() {
            Some(text) => {
                if let Some(sink) = sink.filter(|_| self.findings.errors() == 0) {
                    sink(Record::Document(text));
                }
                1
            }
            None => 0,
        };
        let Document { kind, bytes, findings, .. } = *self;
        findings.into_report(kind.name(), bytes, records, detected)
    }
}

impl Document {
    /// Checks the collected text; the document's text (BOM removed) if it is an object.
    fn check(&mut self) -> Option<String> {
        if self.bytes > MAX_DOCUMENT_BYTES as u64 {
            let message = format!(
                "The document is larger than {} KB; a {} is a few KB at most. Check that you chose the right file.",
                MAX_DOCUMENT_BYTES / 1024,
                self.kind.name().replace('_', " ")
            );
            self.error(Rule::FileTooLarge, 0, message);
            return None;
        }
        let bom = if self.text.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let text = match std::str::from_utf8(&self.text[bom..]) {
            Ok(text) => text.to_owned(),
            Err(error) => {
                let at = bom + error.valid_up_to();
                self.error(
                    Rule::Encoding,
                    at,
                    "The document contains bytes that are not UTF-8 text. Save it again as UTF-8.".into(),
                );
                return None;
            }
        };
        if text.trim().is_empty() {
            self.error(Rule::EmptyFile, 0, "The document is empty.".into());
            return None;
        }
        let root = match json::parse(&text) {
            Ok(root) => root,
            Err(json::SyntaxError { offset, problem }) => {
                self.error(Rule::Json, bom + offset, format!("This is not valid JSON: {problem}."));
                return None;
            }
        };
        self.bom = bom;
        match &root.value {
            Value::Object(_) => self.object(&root, &text, self.fields, ""),
            _ => {
                self.error(Rule::Type, bom + root.offset, "The document must be a JSON object: { ... }.".into());
                return None;
            }
        }
        Some(text)
    }

    fn object(&mut self, node: &Node, text: &str, fields: &'static [Field], path: &str) {
        let Value::Object(members) = &node.value else { return };
        let get = |name: &str| members.iter().find(|(key, _, _)| key == name);
        for field in fields {
            let here = join(path, field.name);
            match get(field.name) {
                None | Some((_, _, Node { value: Value::Null, .. })) if field.required => {
                    self.at(
                        Rule::Required,
                        Severity::Error,
                        text,
                        node.offset,
                        &here,
                        format!("\"{here}\" is required."),
                    );
                }
                None | Some((_, _, Node { value: Value::Null, .. })) => {}
                Some((_, key_offset, member)) => self.member(member, *key_offset, text, field, &here),
            }
        }
        for (name, key_offset, _) in members {
            if !fields.iter().any(|f| f.name == name) {
                let here = join(path, name);
                let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                let message = format!(
                    "\"{here}\" is not a field of this document and will be ignored; known fields: {}.",
                    known.join(", ")
                );
                self.at(Rule::UnknownField, Severity::Warning, text, *key_offset, &here, message);
            }
        }
        if path == "timeline" {
            let date = |name| match get(name) {
                Some((_, _, Node { value: Value::String(text), .. })) => crate::fields::iso_date(text),
                _ => None,
            };
            if let (Some(start), Some(end), Some((_, offset, _))) =
                (date("start_date"), date("end_date"), get("end_date"))
                && end < start
            {
                let message = format!("The end date {end} is before the start date {start}.");
                self.at(Rule::Range, Severity::Error, text, *offset, "timeline.end_date", message);
            }
        }
    }

    /// Checks one member against its field; findings point at the member's key.
    fn member(&mut self, node: &Node, at: usize, text: &str, field: &Field, path: &str) {
        let wrong = |expected: &str| format!("\"{path}\" must be {expected}, not {}.", node.value.describe());
        match (&field.shape, &node.value) {
            (Shape::Text, Value::String(_)) => {}
            (Shape::Text, _) => self.at(Rule::Type, Severity::Error, text, at, path, wrong("text")),
            (Shape::Secret, Value::String(_) | Value::Null) => {}
            (Shape::Secret, _) => {
                let message = format!("\"{path}\" is a secret and must be text, not {}.", node.value.describe_type());
                self.at(Rule::Type, Severity::Error, text, at, path, message)
            }
            (Shape::OneOf(allowed), Value::String(value)) if allowed.contains(&value.as_str()) => {}
            (Shape::OneOf(allowed), _) => {
                let message =
                    format!("\"{path}\" is {}; expected one of {}.", node.value.describe(), allowed.join(", "));
                self.at(Rule::Enumeration, Severity::Error, text, at, path, message);
            }
            (Shape::Amount, Value::Number(number)) if !json::is_negative(number) => {}
            (Shape::Amount, Value::Number(_)) => {
                self.at(Rule::Range, Severity::Error, text, at, path, format!("\"{path}\" cannot be negative."))
            }
            (Shape::Amount, _) => self.at(Rule::Type, Severity::Error, text, at, path, wrong("a number")),
            (Shape::Date, Value::String(value)) if crate::fields::iso_date(value).is_some() => {}
            (Shape::Date, _) => self.at(Rule::Date, Severity::Error, text, at, path, wrong("a date like 2026-01-31")),
            (Shape::Timestamp, Value::String(value)) if is_rfc3339(value) => {}
            (Shape::Timestamp, _) => {
                self.at(Rule::Date, Severity::Error, text, at, path, wrong("a time like 2025-12-21T06:20:48Z"))
            }
            (Shape::Object(fields), Value::Object(_)) => self.object(node, text, fields, path),
            (Shape::AnyObject, Value::Object(_)) => {}
            (Shape::Object(_) | Shape::AnyObject, _) => {
                self.at(Rule::Type, Severity::Error, text, at, path, wrong("an object { ... }"))
            }
            (Shape::TextList, Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    if !matches!(item.value, Value::String(_)) {
                        let here = format!("{path}[{index}]");
                        let message = format!("\"{here}\" must be text, not {}.", item.value.describe());
                        self.at(Rule::Type, Severity::Error, text, item.offset, &here, message);
                    }
                }
            }
            (Shape::AnyList, Value::Array(_)) => {}
            (Shape::TextList | Shape::AnyList, _) => {
                self.at(Rule::Type, Severity::Error, text, at, path, wrong("a list [ ... ]"))
            }
        }
    }

    /// A finding about the value at `offset` in `text` (BOM excluded).
    fn at(&mut self, rule: Rule, severity: Severity, text: &str, offset: usize, path: &str, message: String) {
        if !self.findings.has_room() {
            self.findings.count_omitted(rule, severity);
            return;
        }
        let (line, column) = position(&text.as_bytes()[..offset]);
        self.findings.push(Finding {
            rule,
            severity,
            line,
            record: 1,
            column: Some(column),
            column_name: Some(path.to_owned()),
            byte_offset: (self.bom + offset) as u64,
            message,
        });
    }

    /// An error about the document as a whole, at byte `offset` of the file.
    fn error(&mut self, rule: Rule, offset: usize, message: String) {
        let (line, column) = position(&self.text[..offset.min(self.text.len())]);
        self.findings.push(Finding {
            rule,
            severity: Severity::Error,
            line,
            record: 0,
            column: (offset > 0).then_some(column),
            column_name: None,
            byte_offset: offset as u64,
            message,
        });
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, a real date and time (RFC 3339).
fn is_rfc3339(text: &str) -> bool {
    let (Some(date), Some(rest)) = (text.get(..10), text.get(10..)) else { return false };
    let Some(rest) = rest.strip_prefix(['T', 't', ' ']) else { return false };
    // (Bytes, not text: no slicing inside a character.)
    let two = |s: &[u8], max: u8| match *s {
        [tens @ b'0'..=b'9', ones @ b'0'..=b'9'] => (tens - b'0') * 10 + (ones - b'0') <= max,
        _ => false,
    };
    let (Some(clock), zone) = (rest.get(..8), rest.get(8..).unwrap_or("")) else { return false };
    let clock = clock.as_bytes();
    let clock_ok =
        clock[2] == b':' && clock[5] == b':' && two(&clock[..2], 23) && two(&clock[3..5], 59) && two(&clock[6..], 60);
    let zone = match zone.strip_prefix('.') {
        Some(fraction) => fraction.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => zone,
    };
    let zone = zone.as_bytes();
    let zone_ok = matches!(zone, b"Z" | b"z")
        || (zone.len() == 6
            && matches!(zone[0], b'+' | b'-')
            && zone[3] == b':'
            && two(&zone[1..3], 23)
            && two(&zone[4..], 59));
    crate::fields::iso_date(date).is_some() && clock_ok && zone_ok
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// 1-based line and column (in characters) of the end of `before`; a leading BOM counts
/// as no column.
fn position(before: &[u8]) -> (u64, u32) {
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut before = &before[start..];
    while let Some(rest) = before.strip_prefix("\u{feff}".as_bytes()) {
        before = rest;
    }
    // Characters: every byte that does not continue a UTF-8 sequence starts one (the text
    // before an offset is valid UTF-8).
    let column = before.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u32 + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_reader_is_strict_and_keeps_offsets() {
        let root =
            json::parse(r#" {"a": [1, -0.5e3, "x\u00e9\ud83d\ude00\n"], "b": {"c": null, "d": true}} "#).ok().unwrap();
        let Value::Object(members) = &root.value else { panic!("an object") };
        assert_eq!((root.offset, members[0].0.as_str(), members[0].1), (1, "a", 2));
        let Value::Array(items) = &members[0].2.value else { panic!("a list") };
        assert!(matches!(&items[1].value, Value::Number(n) if n == "-0.5e3"));
        assert!(matches!(&items[2].value, Value::String(s) if s == "xé😀\n"));
        assert_eq!(items[2].offset, 19);
        for (bad, offset) in [
            ("{\"a\": 1,}", 8),
            ("[1 2]", 3),
            ("{\"a\" 1}", 5),
            ("01", 0),
            ("\"tab\there\"", 4),
            ("{} x", 3),
            ("[", 1),
            ("nul", 0),
            ("\"\\q\"", 2),
        ] {
            let error = json::parse(bad).err().unwrap_or_else(|| panic!("{bad:?} parsed"));
            assert_eq!(error.offset, offset, "{bad:?}: {}", error.problem);
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(json::parse(&deep).err().map(|e| e.problem), Some("the document nests too deeply"));
        assert!(json::is_negative("-0.5") && !json::is_negative("-0.0e5") && !json::is_negative("3"));
    }

    #[test]
    fn a_finding_about_a_secret_names_its_type_never_its_value() {
        for body in [
            r#"{"name": "n", "type": "sql", "connection_string": 987654321}"#,
            r#"{"name": "n", "type": "sql", "credentials": {"password": [987654321]}}"#,
        ] {
            let mut validator = crate::Validator::new(PayloadKind::ConnectorProfile, crate::Context::none()).unwrap();
            validator.push(body.as_bytes());
            let report = validator.finish();
            assert_eq!(report.errors, 1, "{}", report.to_json());
            assert!(report.findings[0].message.contains("is a secret and must be text, not a"), "{}", report.to_json());
            assert!(!report.to_json().contains("987654321"), "{}", report.to_json());
        }
    }

    #[test]
    fn rfc3339_times_are_checked_for_real() {
        for good in ["2025-12-21T06:20:48Z", "2025-12-21T06:20:48.123+01:00", "2025-12-21 06:20:48-05:30"] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "2025-12-21",
            "21/12/2025 06:20",
            "2025-02-30T06:20:48Z",
            "2025-12-21T24:00:00Z",
            "2025-12-21T06:20:48",
            "2025-12-21T06:20:48+1:00",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}

/// A JSON reader that keeps where each value starts. Strict RFC 8259: no comments, no trailing
/// commas; nesting is limited so a hostile document cannot exhaust the stack.
pub(crate) mod json {
    /// How deep objects and lists may nest.
    const MAX_DEPTH: usize = 64;

    /// A value and the byte offset where it starts.
    pub(crate) struct Node {
        pub offset: usize,
        pub value: Value,
    }

    pub(crate) enum Value {
        Null,
        Bool(bool),
        /// The number's text, as written.
        Number(String),
        String(String),
        Array(Vec<Node>),
        /// Members in order: key, the key's offset, value.
        Object(Vec<(String, usize, Node)>),
    }

    impl Value {
        /// The value's type in words, never the value (for secrets).
        pub fn describe_type(&self) -> &'static str {
            match self {
                Value::Null => "null",
                Value::Bool(_) => "true or false",
                Value::Number(_) => "a number",
                Value::String(_) => "text",
                Value::Array(_) => "a list",
                Value::Object(_) => "an object",
            }
        }

        /// The value in words, for messages.
        pub fn describe(&self) -> String {
            match self {
                Value::Null => "null".into(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.clone(),
                Value::String(s) => format!("\"{s}\""),
                Value::Array(_) => "a list".into(),
                Value::Object(_) => "an object".into(),
            }
        }
    }

    /// Whether a number's text is below zero (`-0` is not).
    pub(crate) fn is_negative(number: &str) -> bool {
        number.starts_with('-')
            && number.bytes().take_while(|b| *b != b'e' && *b != b'E').any(|b| (b'1'..=b'9').contains(&b))
    }

    /// Where the text stops being JSON, and why, in words.
    pub(crate) struct SyntaxError {
        pub offset: usize,
        pub problem: &'static str,
    }

    pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
        let mut parser = Parser { bytes: text.as_bytes(), at: 0 };
        let node = parser.value(0)?;
        parser.space();
        if parser.at < parser.bytes.len() {
            return Err(parser.fail("there is more text after the end of the document"));
        }
        Ok(node)
    }

    struct Parser<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl Parser<'_> {
        fn fail(&self, problem: &'static str) -> SyntaxError {
            SyntaxError { offset: self.at, problem }
        }

        fn space(&mut self) {
            while self.bytes.get(self.at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
                self.at += 1;
            }
        }

        fn eat(&mut self, byte: u8) -> bool {
            self.space();
            let found = self.bytes.get(self.at) == Some(&byte);
            self.at += usize::from(found);
            found
        }

        fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
            self.space();
            let offset = self.at;
            let value = match self.bytes.get(self.at) {
                None => return Err(self.fail("the document ends too early (a brace or bracket is not closed)")),
                Some(b'{') | Some(b'[') if depth >= MAX_DEPTH => return Err(self.fail("the document nests too deeply")),
                Some(b'{') => {
                    self.at += 1;
                    let mut members = Vec::new();
                    if !self.eat(b'}') {
                        loop {
                            self.space();
                            let key_offset = self.at;
                            if self.bytes.get(self.at) != Some(&b'"') {
                                return Err(self.fail("a field name in double quotes is expected here"));
                            }
                            let key = self.string()?;
                            if !self.eat(b':') {
                                return Err(self.fail("a colon is expected after the field name"));
                            }
                            members.push((key, key_offset, self.value(depth + 1)?));
                            if self.eat(b'}') {
                                break;
                            }
                            if !self.eat(b',') {
                                return Err(self.fail("a comma or a closing brace is expected here"));
                            }
                        }
                    }
                    Value::Object(members)
                }
                Some(b'[') => {
                    self.at += 1;
                    let mut items = Vec::new();
                    if !self.eat(b']') {
                        loop {
                            items.push(self.value(depth + 1)?);
                            if self.eat(b']') {
                                break;
                            }
                            if !self.eat(b',') {
                                return Err(self.fail("a comma or a closing bracket is expected here"));
                            }
                        }
                    }
                    Value::Array(items)
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
                Some(_) => {
                    return Err(self.fail(
                        "a value (text in double quotes, a number, true, false, null, { or [) is expected here",
                    ));
                }
            };
            Ok(Node { offset, value })
        }

        fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, SyntaxError> {
            if self.bytes[self.at..].starts_with(word.as_bytes()) {
                self.at += word.len();
                Ok(value)
            } else {
                Err(self.fail("a value (text in double quotes, a number, true, false, null, { or [) is expected here"))
            }
        }

        fn number(&mut self) -> Result<String, SyntaxError> {
            let start = self.at;
            let digits = |p: &mut Self| {
                let from = p.at;
                while p.bytes.get(p.at).is_some_and(u8::is_ascii_digit) {
                    p.at += 1;
                }
                p.at > from
            };
            self.at += usize::from(self.bytes[self.at] == b'-');
            let leading_zero = self.bytes.get(self.at) == Some(&b'0');
            if !digits(self) || (leading_zero && self.at - start > 1 + usize::from(self.bytes[start] == b'-')) {
                return Err(SyntaxError {
                    offset: start,
                    problem: "this number is not written the JSON way (e.g. 12, 0.5, -3)",
                });
            }
            if self.bytes.get(self.at) == Some(&b'.') {
                self.at += 1;
                if !digits(self) {
                    return Err(self.fail("digits are expected after the decimal point"));
                }
            }
            if self.bytes.get(self.at).is_some_and(|b| *b == b'e' || *b == b'E') {
                self.at += 1;
                if self.bytes.get(self.at).is_some_and(|b| *b == b'+' || *b == b'-') {
                    self.at += 1;
                }
                if !digits(self) {
                    return Err(self.fail("digits are expected in the exponent"));
                }
            }
            // (ASCII digits, signs and dots only.)
            Ok(std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default().to_owned())
        }

        /// A string starting at the opening quote; escapes decoded.
        fn string(&mut self) -> Result<String, SyntaxError> {
            self.at += 1;
            let mut out = String::new();
            loop {
                let start = self.at;
                while self.bytes.get(self.at).is_some_and(|b| *b != b'"' && *b != b'\\' && *b >= 0x20) {
                    self.at += 1;
                }
                // The input is UTF-8 and the run stops only at ASCII bytes.
                out.push_str(std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default());
                match self.bytes.get(self.at) {
                    Some(b'"') => {
                        self.at += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        self.at += 1;
                        let escaped = match self.bytes.get(self.at) {
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            Some(b'/') => '/',
                            Some(b'b') => '\u{8}',
                            Some(b'f') => '\u{c}',
                            Some(b'n') => '\n',
                            Some(b'r') => '\r',
                            Some(b't') => '\t',
                            Some(b'u') => {
                                let unit = self.hex4()?;
                                let code = if (0xD800..0xDC00).contains(&unit)
                                    && self.bytes[self.at + 1..].starts_with(b"\\u")
                                {
                                    self.at += 2;
                                    let low = self.hex4()?;
                                    0x10000 + ((unit - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF)
                                } else {
                                    unit
                                };
                                char::from_u32(code).unwrap_or('\u{fffd}')
                            }
                            _ => return Err(self.fail("this backslash escape is not valid JSON")),
                        };
                        out.push(escaped);
                        self.at += 1;
                    }
                    Some(_) => {
                        return Err(
                            self.fail("text in quotes cannot contain a line break or control character; write \\n")
                        );
                    }
                    None => return Err(self.fail("a closing double quote is missing")),
                }
            }
        }

        /// The four hex digits after `\u` (leaves `at` on the last one).
        fn hex4(&mut self) -> Result<u32, SyntaxError> {
            let digits =
                self.bytes.get(self.at + 1..self.at + 5).ok_or_else(|| self.fail("\\u needs four hex digits"))?;
            let text = std::str::from_utf8(digits).map_err(|_| self.fail("\\u needs four hex digits"))?;
            let value = u32::from_str_radix(text, 16).map_err(|_| self.fail("\\u needs four hex digits"))?;
            self.at += 4;
            Ok(value)
        }
    }
}
