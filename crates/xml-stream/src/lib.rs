//! Streaming XML for the upload validator: bytes pushed in chunks of any size come out as
//! elements with their attributes, each with its line, column and byte offset, in memory that
//! does not grow with the file (the element in progress and the names of the open elements).
//!
//! quick-xml's reader does the parsing; this crate makes it push-driven. Each push parses the
//! complete part of what has arrived with a slice reader, and keeps an element cut by the end
//! of the chunk for the next push (quick-xml reports such an input as one of its "unclosed"
//! syntax errors, which are exactly the errors an input cut short can cause). The open
//! elements are tracked here, so an end tag is checked against its start whichever chunk each
//! came in.
//!
//! Made for data files whose values are in attributes (IB Flex reports): text between
//! elements is skipped, comments, processing instructions and the XML declaration too; a
//! byte-order mark is removed.
//!
//! ```
//! use xml_stream::{Event, XmlStream};
//!
//! let mut stream = XmlStream::new();
//! let mut seen = Vec::new();
//! let mut on_event = |event: Event<'_>| {
//!     if let Event::Element(element) = event {
//!         let attributes: Vec<String> = element.attributes().map(|a| a.unwrap().name.to_owned()).collect();
//!         seen.push(format!("{} {}:{} {attributes:?}", element.name, element.position.line, element.position.column));
//!     }
//! };
//! stream.push(b"<Trades>\n  <Trade transactionID=\"1\" sym", &mut on_event);
//! stream.push(b"bol=\"NQ\" />\n</Trades>\n", &mut on_event);
//! stream.finish(&mut on_event);
//! assert_eq!(seen, ["Trades 1:1 []", "Trade 2:3 [\"transactionID\", \"symbol\"]"]);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::borrow::Cow;

use quick_xml::errors::{Error as QuickError, IllFormedError};
use quick_xml::events::{BytesStart, Event as QuickEvent};

/// The longest element accepted (its `<...>` tag), in bytes: longer means this is not a data
/// file of the expected kind, and reading stops instead of buffering it.
pub const MAX_ELEMENT_BYTES: usize = 1 << 20;
/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 256;

/// Where something is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// Bytes from the start of the file (a byte-order mark included).
    pub byte_offset: u64,
}

impl Position {
    const START: Position = Position { line: 1, column: 1, byte_offset: 0 };

    /// The position after `bytes`, which start here.
    fn advance(mut self, bytes: &[u8]) -> Position {
        // Characters of a line part: bytes that are not UTF-8 continuation bytes (all of them,
        // for ASCII, checked in one vectorised pass).
        let characters = |part: &[u8]| -> u64 {
            if part.is_ascii() { part.len() as u64 } else { part.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64 }
        };
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                self.column = 1 + characters(&bytes[last + 1..]);
            }
            None => self.column += characters(bytes),
        }
        self.byte_offset += bytes.len() as u64;
        self
    }
}

/// What the stream hands over.
#[derive(Debug)]
pub enum Event<'a> {
    /// A start tag or an empty element (`<Trade ... />`).
    Element(Element<'a>),
    /// An end tag, or the end of an empty element.
    End {
        /// The element's name.
        name: &'a str,
        /// Where its end tag starts (for an empty element, where the element starts).
        position: Position,
    },
}

/// A start tag or empty element.
#[derive(Debug)]
pub struct Element<'a> {
    /// Its name (with any prefix).
    pub name: &'a str,
    /// Where its `<` is.
    pub position: Position,
    /// How many elements enclose it (0 for the root).
    pub depth: usize,
    tag: BytesStart<'a>,
    /// The raw bytes from `<` to `>`, for attribute positions.
    raw: &'a [u8],
}

/// One attribute, its value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its value, entities replaced.
    pub value: Cow<'a, str>,
    /// Where its name starts.
    pub position: Position,
}

impl<'a> Element<'a> {
    /// Its attributes, in file order; an attribute that is not well-formed is an error with
    /// its position (and the rest are not read).
    pub fn attributes(&self) -> impl Iterator<Item = Result<Attribute<'_>, XmlError>> + '_ {
        let mut failed = false;
        // Attributes come in file order: each position is found from the one before, so an
        // element's positions cost one pass over its tag.
        let mut last = (0, self.position);
        self.tag.attributes().map_while(move |attribute| {
            if failed {
                return None;
            }
            let attribute = attribute.map_err(|error| {
                failed = true;
                let at = self.offset_in_tag(error_offset(&error));
                XmlError { position: self.position_of(at), problem: attribute_problem(&error).into() }
            });
            Some(attribute.and_then(|attribute| self.attribute(attribute, &mut last)).inspect_err(|_| failed = true))
        })
    }

    /// `attribute` with its position, found from `last` (an offset in the tag and its position),
    /// which it moves to this attribute.
    fn attribute<'t>(
        &self,
        attribute: quick_xml::events::attributes::Attribute<'t>,
        last: &mut (usize, Position),
    ) -> Result<Attribute<'t>, XmlError> {
        let name = attribute.key.0;
        let offset = self.offset_of(name.as_bytes());
        let position = match offset.checked_sub(last.0) {
            Some(_) => last.1.advance(&self.raw[last.0..offset]),
            None => self.position_of(offset),
        };
        *last = (offset, position);
        let value = match quick_xml::escape::unescape(&attribute.value) {
            Ok(Cow::Borrowed(_)) => attribute.value,
            Ok(Cow::Owned(unescaped)) => Cow::Owned(unescaped),
            Err(error) => return Err(XmlError { position, problem: format!("the value of {name}: {error}") }),
        };
        Ok(Attribute { name, value, position })
    }

    /// Offset within the raw tag of a slice that points into it.
    fn offset_of(&self, part: &[u8]) -> usize {
        (part.as_ptr() as usize).saturating_sub(self.raw.as_ptr() as usize).min(self.raw.len())
    }

    /// quick-xml counts attribute error offsets from the start of the tag's content (after `<`).
    fn offset_in_tag(&self, offset: usize) -> usize {
        (offset + 1).min(self.raw.len())
    }

    fn position_of(&self, offset: usize) -> Position {
        self.position.advance(&self.raw[..offset])
    }
}

fn attribute_problem(error: &quick_xml::events::attributes::AttrError) -> &'static str {
    use quick_xml::events::attributes::AttrError;
    match error {
        AttrError::ExpectedEq(_) => "an attribute without `=` and a value",
        AttrError::ExpectedValue(_) => "an attribute without a value",
        AttrError::UnquotedValue(_) => "an attribute value without quotes",
        AttrError::ExpectedQuote(..) => "an attribute value whose closing quote is missing",
        AttrError::Duplicated(..) => "an attribute given twice in one element",
    }
}

fn error_offset(error: &quick_xml::events::attributes::AttrError) -> usize {
    use quick_xml::events::attributes::AttrError;
    match *error {
        AttrError::ExpectedEq(at)
        | AttrError::ExpectedValue(at)
        | AttrError::UnquotedValue(at)
        | AttrError::ExpectedQuote(at, _)
        | AttrError::Duplicated(at, _) => at,
    }
}

/// Why reading stopped: the file is not well-formed XML (or exceeds a limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    /// Where.
    pub position: Position,
    /// What, in words (`"an end tag </Trades> where </FlexStatement> was expected"`).
    pub problem: String,
}

/// A push-driven XML reader.
#[derive(Debug, Default)]
pub struct XmlStream {
    /// Bytes received and not yet parsed: at most one element cut by a chunk's end, then the
    /// chunk being parsed.
    pending: Vec<u8>,
    /// Where `pending` starts.
    at: Position,
    /// Names of the open elements, outermost first.
    open: Vec<String>,
    /// Bytes pushed so far.
    bytes: u64,
    started: bool,
    had_bom: bool,
    /// Set when reading stopped.
    error: Option<XmlError>,
    /// Whether a root element was seen.
    had_root: bool,
}

impl XmlStream {
    /// A reader at the start of a file.
    pub fn new() -> Self {
        XmlStream { at: Position::START, ..XmlStream::default() }
    }

    /// Bytes pushed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether the file started with a byte-order mark.
    pub fn had_bom(&self) -> bool {
        self.had_bom
    }

    /// Bytes held for the next push: an element cut by a chunk's end (at most
    /// [`MAX_ELEMENT_BYTES`]), never the file.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Why reading stopped, if it did (the rest of the input is then skipped).
    pub fn error(&self) -> Option<&XmlError> {
        self.error.as_ref()
    }

    /// Counts `bytes` more of the file without reading them (the caller has stopped reading).
    pub fn skip(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }

    /// Feeds the next chunk; every element it completes goes to `on_event`.
    pub fn push(&mut self, chunk: &[u8], on_event: &mut dyn FnMut(Event<'_>)) {
        self.bytes += chunk.len() as u64;
        if self.error.is_some() {
            return;
        }
        self.pending.extend_from_slice(chunk);
        if !self.started {
            if self.pending.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.pending) {
                return;
            }
            self.started = true;
            if self.pending.starts_with(b"\xEF\xBB\xBF") {
                self.had_bom = true;
                self.pending.drain(..3);
                self.at.byte_offset = 3;
            }
        }
        self.parse(false, on_event);
    }

    /// Ends the input: reports a file cut short or with elements left open.
    pub fn finish(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Option<&XmlError> {
        if self.error.is_none() {
            self.started = true;
            self.parse(true, on_event);
        }
        if self.error.is_none() {
            if let Some(name) = self.open.last() {
                let problem = format!("the file ends before </{name}>: it was cut short (download or export it again)");
                self.error = Some(XmlError { position: self.at, problem });
            } else if !self.had_root {
                self.error = Some(XmlError { position: self.at, problem: "the file has no XML element".into() });
            }
        }
        self.error.as_ref()
    }

    /// Parses `pending`; unless `last`, keeps an element cut by its end for the next push.
    fn parse(&mut self, last: bool, on_event: &mut dyn FnMut(Event<'_>)) {
        let pending = std::mem::take(&mut self.pending);
        // Only whole UTF-8 text goes to the parser: a character cut by the chunk's end waits
        // for the rest, and bytes that are not UTF-8 stop reading exactly where they are
        // (whatever the chunking).
        let (limit, invalid) = match std::str::from_utf8(&pending) {
            Ok(_) => (pending.len(), None),
            Err(error) if error.error_len().is_none() && !last => (error.valid_up_to(), None),
            Err(error) => (error.valid_up_to(), Some(error.valid_up_to())),
        };
        let last = last && invalid.is_none();
        // quick-xml drops a byte-order mark at the start of its input. Here one can only be
        // text between elements (U+FEFF: the file's own mark was removed on the first push),
        // so it is skipped by hand and the reader starts after it, its offsets shifted back.
        let mut base = 0;
        while pending[base..limit].starts_with(b"\xEF\xBB\xBF") {
            base += 3;
        }
        let mut reader = quick_xml::Reader::from_reader(&pending[base..limit]);
        let config = reader.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        // Events are contiguous: each starts where the one before ended, at `done`.
        let mut done = base;
        let mut position = self.at.advance(&pending[..base]);
        loop {
            let event = reader.read_event();
            let end = base + reader.buffer_position() as usize;
            let (tag, empty) = match event {
                Ok(QuickEvent::Eof) => break,
                // Cut by the chunk's end: wait for the rest.
                Err(QuickError::Syntax(_) | QuickError::IllFormed(IllFormedError::UnclosedReference)) if !last => break,
                Ok(QuickEvent::Text(_) | QuickEvent::GeneralRef(_)) if end == limit && !last => break,
                Err(error) => {
                    let at = (base + reader.error_position() as usize).clamp(done, limit);
                    return self.stop(position.advance(&pending[done..at]), describe(&error));
                }
                Ok(QuickEvent::Start(tag)) => (tag, false),
                Ok(QuickEvent::Empty(tag)) => (tag, true),
                Ok(QuickEvent::End(tag)) => {
                    let name = tag.name().as_ref().to_owned();
                    match self.open.pop() {
                        Some(open) if open == name => on_event(Event::End { name: &name, position }),
                        Some(open) => {
                            return self.stop(position, format!("an end tag </{name}> where </{open}> was expected"));
                        }
                        None => return self.stop(position, format!("an end tag </{name}> with no element open")),
                    }
                    position = position.advance(&pending[done..end]);
                    done = end;
                    continue;
                }
                // Text between elements, comments, the declaration, processing instructions.
                Ok(_) => {
                    position = position.advance(&pending[done..end]);
                    done = end;
                    continue;
                }
            };
            if self.open.len() >= MAX_DEPTH {
                return self.stop(position, format!("elements nested deeper than {MAX_DEPTH} levels"));
            }
            // The name, borrowed from the buffer right after `<`.
            let name_end = (done + 1 + tag.name().as_ref().len()).min(end);
            let Ok(name) = std::str::from_utf8(&pending[(done + 1).min(name_end)..name_end]) else {
                return self.stop(position, "an element name that is not UTF-8 text".into());
            };
            if self.open.is_empty() && self.had_root {
                return self
                    .stop(position, format!("a second root element <{name}>: the file holds more than one document"));
            }
            self.had_root = true;
            let depth = self.open.len();
            on_event(Event::Element(Element { name, position, depth, tag, raw: &pending[done..end] }));
            if empty {
                on_event(Event::End { name, position });
            } else {
                self.open.push(name.to_owned());
            }
            position = position.advance(&pending[done..end]);
            done = end;
        }
        if let Some(invalid) = invalid {
            let problem = "bytes that are not UTF-8 text (save the file again as UTF-8)".to_owned();
            return self.stop(position.advance(&pending[done..invalid]), problem);
        }
        if pending.len() - done > MAX_ELEMENT_BYTES {
            let limit = MAX_ELEMENT_BYTES / 1024;
            return self
                .stop(position, format!("an element longer than {limit} KB: this is not a data file of this kind"));
        }
        self.at = position;
        let mut pending = pending;
        pending.drain(..done);
        self.pending = pending;
    }

    fn stop(&mut self, position: Position, problem: String) {
        self.error = Some(XmlError { position, problem });
        self.pending = Vec::new();
    }
}

fn describe(error: &QuickError) -> String {
    match error {
        QuickError::Syntax(error) => format!("the file ends inside markup ({error}): it was cut short"),
        QuickError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
            format!("an end tag </{name}> with no element open")
        }
        other => format!("this is not well-formed XML: {other}"),
    }
}
