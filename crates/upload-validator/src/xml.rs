//! The streaming XML engine: `xml-stream`'s elements handed to a kind's [`XmlChecker`], in
//! constant memory whatever the file size (no whole-document cap), each finding placed at its
//! line, column and byte offset. The file stops being read at the first place that is not
//! well-formed (rule `xml`).

use std::collections::BTreeMap;

use xml_stream::{Element, Event, Position, XmlStream};

use crate::report::{Findings, Report, Rule, Severity};
use crate::validator::{Engine, Limits, Out, Place};
use crate::{PayloadKind, Record};

/// What an XML payload kind implements.
pub(crate) trait XmlChecker {
    /// Checks one start tag or empty element; `false` stops reading (not this kind of file).
    fn element(&mut self, element: &Element<'_>, out: &mut Out<'_>) -> bool;
    /// An end tag (also sent right after an empty element).
    fn end(&mut self, name: &str, position: Position, out: &mut Out<'_>);
    /// File-level checks once the whole file is read (not called when reading stopped).
    fn finish(&mut self, _out: &mut Out<'_>) {}
    /// Detail records read so far.
    fn records(&self) -> u64;
    /// What was recognised about the file.
    fn detected(&self) -> BTreeMap<&'static str, String>;
}

/// An XML payload being validated.
pub(crate) struct XmlInput<C> {
    kind: PayloadKind,
    stream: XmlStream,
    checker: C,
    findings: Findings,
    limits: Limits,
    /// Reading stopped: not this kind, not well-formed, or too large.
    stopped: bool,
}

impl<C: XmlChecker + 'static> XmlInput<C> {
    /// The engine for an XML kind checked by `checker`.
    pub(crate) fn open(kind: PayloadKind, checker: C, limits: Limits) -> Box<dyn Engine> {
        let findings = Findings::new(limits.max_findings);
        Box::new(XmlInput { kind, stream: XmlStream::new(), checker, findings, limits, stopped: false })
    }
}

impl<C: XmlChecker> XmlInput<C> {
    fn feed(&mut self, chunk: Option<&[u8]>, mut sink: Option<&mut (dyn FnMut(Record) + '_)>) {
        let XmlInput { stream, checker, findings, stopped, .. } = self;
        let mut on_event = |event: Event<'_>| {
            if *stopped {
                return;
            }
            let mut out = Out::new(findings, &[]).with_records(sink.as_deref_mut());
            match event {
                Event::Element(element) => *stopped = !checker.element(&element, &mut out),
                Event::End { name, position } => checker.end(name, position, &mut out),
            }
        };
        let error = match chunk {
            Some(chunk) => {
                stream.push(chunk, &mut on_event);
                stream.error().cloned()
            }
            None => stream.finish(&mut on_event).cloned(),
        };
        if let Some(error) = error.filter(|_| !*stopped) {
            *stopped = true;
            let place = Place {
                line: error.position.line,
                column: error.position.column,
                byte_offset: error.position.byte_offset,
                record: checker.records(),
                name: None,
            };
            let mut out = Out::new(findings, &[]);
            out.at(Severity::Error, Rule::Xml, place, || {
                format!("The file is not well-formed XML here: {}. Nothing after this point was read.", error.problem)
            });
        }
    }
}

impl<C: XmlChecker> Engine for XmlInput<C> {
    fn push(&mut self, chunk: &[u8], sink: Option<&mut (dyn FnMut(Record) + '_)>) {
        if self.stopped {
            self.stream.skip(chunk.len());
            return;
        }
        if self.stream.bytes() + chunk.len() as u64 > self.limits.max_file_bytes {
            self.stopped = true;
            self.stream.skip(chunk.len());
            let limit = self.limits.max_file_bytes;
            let place = Place { line: 1, column: 1, byte_offset: limit, record: 0, name: None };
            Out::new(&mut self.findings, &[]).at(Severity::Error, Rule::FileTooLarge, place, || {
                format!("The file is larger than the limit of {} MB; split it into smaller files.", limit / 1_000_000)
            });
            return;
        }
        self.feed(Some(chunk), sink);
    }

    fn finish(mut self: Box<Self>, sink: Option<&mut (dyn FnMut(Record) + '_)>) -> Report {
        if !self.stopped {
            self.feed(None, sink);
            if !self.stopped {
                self.checker.finish(&mut Out::new(&mut self.findings, &[]));
            }
        }
        let mut detected = self.checker.detected();
        detected.insert("format", "xml".to_owned());
        detected.insert("byte_order_mark", self.stream.had_bom().to_string());
        let XmlInput { kind, stream, checker, findings, .. } = *self;
        findings.into_report(kind.name(), stream.bytes(), checker.records(), detected)
    }
}
