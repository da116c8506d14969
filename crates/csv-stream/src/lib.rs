//! The streaming CSV engine: bytes in, located records out.
//!
//! Bytes arrive in chunks of any size. The engine buffers only the first line (to strip a
//! byte-order mark and pick the delimiter) and the record in progress, so memory does not grow
//! with the file. Each record comes out with its 1-based line, its byte offset, and, on demand,
//! the exact byte offset of any cell (quotes and embedded newlines included).
//!
//! csv-core reads every record that has a quote in it, or that spans chunks. A record with no
//! quote that ends inside the chunk (nearly every row of a real export) is split in place
//! instead: the same cells, with no state machine step and no copy per byte. Both paths give
//! identical records; the tests and the fuzz target compare them (a file pushed whole takes
//! the fast path, the same file pushed byte by byte never does).

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// A record longer than this cannot be a row of any payload we accept.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Longer records are left to csv-core, which enforces [`MAX_RECORD_BYTES`].
const MAX_IN_PLACE_BYTES: usize = 64 * 1024;
/// The first line is buffered at most this far to find the delimiter.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One parsed record, borrowed from the engine.
pub struct RecordRef<'a> {
    /// The cells: csv-core's unquoted output, one cell after the other, or (read in place)
    /// the line itself, one delimiter between cells.
    output: &'a [u8],
    /// `output` as text, when every cell is UTF-8 (checked once per record).
    text: Option<&'a str>,
    /// Where each cell ends in `output`.
    ends: &'a [usize],
    /// Bytes between one cell's end and the next one's start: 0 or 1 (the delimiter).
    gap: usize,
    raw: &'a [u8],
    delimiter: u8,
    /// 1-based line where the record starts.
    pub line: u64,
    /// Byte offset of the record's first byte in the file.
    pub byte_offset: u64,
}

impl<'a> RecordRef<'a> {
    /// The delimiter this record was split on.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the record has no cells (never true for a record the engine emits).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The cell at 0-based `index`, unquoted, as raw bytes.
    #[inline(always)]
    pub fn field(&self, index: usize) -> &'a [u8] {
        &self.output[self.span(index)]
    }

    /// The cell at 0-based `index` as text, or `None` when it is not UTF-8.
    #[inline(always)]
    pub fn text(&self, index: usize) -> Option<&'a str> {
        match self.text {
            Some(text) => text.get(self.span(index)),
            None => std::str::from_utf8(self.field(index)).ok(),
        }
    }

    /// The first cell that is not UTF-8: its index and how many of its bytes are valid.
    pub fn first_invalid_utf8(&self) -> Option<(usize, usize)> {
        // Every cell is UTF-8 exactly when the record's cells together are and each cell
        // starts on a character boundary: one check instead of one per cell.
        // (Read in place, the cells are split at ASCII delimiters: always character boundaries.)
        if let Some(text) = self.text
            && (self.gap == 1 || self.ends.iter().all(|&end| text.is_char_boundary(end)))
        {
            return None;
        }
        (0..self.len()).find_map(|i| std::str::from_utf8(self.field(i)).err().map(|e| (i, e.valid_up_to())))
    }

    #[inline(always)]
    fn span(&self, index: usize) -> std::ops::Range<usize> {
        let start = if index == 0 { 0 } else { self.ends[index - 1] + self.gap };
        start..self.ends[index]
    }

    /// Byte offset in the file of the cell at 0-based `index` (or of the record's end when the
    /// record has fewer cells). Computed by rescanning the raw record, so only call it for
    /// findings.
    pub fn field_offset(&self, index: usize) -> u64 {
        let mut in_quotes = false;
        let mut field = 0;
        for (position, &byte) in self.raw.iter().enumerate() {
            if field == index {
                return self.byte_offset + position as u64;
            }
            match byte {
                b'"' => in_quotes = !in_quotes,
                b if b == self.delimiter && !in_quotes => field += 1,
                _ => {}
            }
        }
        self.byte_offset + self.raw.len() as u64
    }
}

/// What the engine reports besides records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A record exceeded [`MAX_RECORD_BYTES`]; the rest of the input is ignored.
    RecordTooLong {
        /// Line where the record starts.
        line: u64,
        /// Its byte offset.
        byte_offset: u64,
    },
}

/// Streaming CSV reader with position tracking.
pub struct CsvStream {
    sniff: fn(&[u8]) -> u8,
    reader: Option<Reader>,
    delimiter: u8,
    head: Vec<u8>,
    bom: bool,
    output: Vec<u8>,
    output_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    raw: Vec<u8>,
    /// File offset of `raw[0]`.
    raw_offset: u64,
    /// Line number at `raw[0]`.
    raw_line: u64,
    bytes: u64,
    stopped: Option<Event>,
    /// Whether records may be read in place: only once csv-core has read one (it strips a
    /// byte-order mark from its very first input, which the in-place path must not skip).
    in_place: bool,
}

impl CsvStream {
    /// A stream whose delimiter `sniff` picks from the first line (BOM removed).
    pub fn new(sniff: fn(&[u8]) -> u8) -> Self {
        CsvStream {
            sniff,
            reader: None,
            delimiter: b',',
            head: Vec::new(),
            bom: false,
            output: vec![0; 4096],
            output_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            raw: Vec::with_capacity(4096),
            raw_offset: 0,
            raw_line: 1,
            bytes: 0,
            stopped: None,
            in_place: false,
        }
    }

    /// Bytes pushed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Counts `len` bytes the caller chose not to parse (after validation stopped).
    pub fn skip(&mut self, len: usize) {
        self.bytes += len as u64;
    }

    /// Whether the file started with a UTF-8 byte-order mark.
    pub fn had_bom(&self) -> bool {
        self.bom
    }

    /// The delimiter in use (known once the first line is complete).
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Set when the engine stopped reading (see [`Event`]).
    pub fn stopped(&self) -> Option<&Event> {
        self.stopped.as_ref()
    }

    /// Feeds `chunk`, calling `on_record` for every complete record.
    pub fn push(&mut self, chunk: &[u8], on_record: &mut dyn FnMut(RecordRef<'_>)) {
        self.bytes += chunk.len() as u64;
        // csv-core reads an empty input as the end of the data: never pass one before finish.
        if self.stopped.is_some() || chunk.is_empty() {
            return;
        }
        if self.reader.is_some() {
            self.feed(chunk, on_record);
            return;
        }
        self.head.extend_from_slice(chunk);
        let complete_line = self.head.contains(&b'\n') || self.head.len() >= MAX_HEAD_BYTES;
        // Wait for three bytes at least, so a BOM split across chunks is still recognised.
        if complete_line && self.head.len() >= UTF8_BOM.len() {
            self.start(on_record);
        }
    }

    /// Goes on as if the file's bytes up to `byte_offset`, where line `line` starts, had been
    /// read: for a file whose earlier part was read before (only its header was pushed again).
    /// Only between records, after the header; `false` (and nothing changed) otherwise. Blank
    /// lines pushed since the last record are dropped: `byte_offset` is past them.
    pub fn jump(&mut self, line: u64, byte_offset: u64) -> bool {
        let between_records = self.reader.is_some()
            && self.stopped.is_none()
            && self.output_len == 0
            && self.ends_len == 0
            && self.raw.iter().all(|&b| matches!(b, b'\r' | b'\n'));
        if !between_records || byte_offset < self.bytes {
            return false;
        }
        self.raw.clear();
        (self.raw_line, self.raw_offset, self.bytes) = (line, byte_offset, byte_offset);
        true
    }

    /// Ends the input, flushing the last record (which may lack a line terminator).
    pub fn finish(&mut self, on_record: &mut dyn FnMut(RecordRef<'_>)) {
        if self.stopped.is_some() {
            return;
        }
        if self.reader.is_none() {
            self.start(on_record);
        }
        // An empty input tells csv-core the data has ended.
        self.feed(&[], on_record);
    }

    fn start(&mut self, on_record: &mut dyn FnMut(RecordRef<'_>)) {
        let mut head = std::mem::take(&mut self.head);
        if head.starts_with(UTF8_BOM) {
            self.bom = true;
            head.drain(..UTF8_BOM.len());
            self.raw_offset = UTF8_BOM.len() as u64;
        }
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
        self.delimiter = (self.sniff)(first_line);
        self.reader = Some(ReaderBuilder::new().delimiter(self.delimiter).build());
        if !head.is_empty() {
            self.feed(&head, on_record);
        }
    }

    /// Parses `chunk` (empty: the end of the input). A record that lies inside the chunk is
    /// read in place; only one that spans chunks is carried over in `raw`.
    fn feed(&mut self, chunk: &[u8], on_record: &mut dyn FnMut(RecordRef<'_>)) {
        let at_end = chunk.is_empty();
        let mut at = 0;
        // Where the record in progress starts in `chunk` (its earlier bytes are in `raw`).
        let mut record_start = 0;
        loop {
            // Between records (nothing carried over, nothing half-read by csv-core): try the
            // record in place.
            if self.in_place
                && !at_end
                && self.raw.is_empty()
                && self.output_len == 0
                && self.ends_len == 0
                && let Some(used) = self.in_place_record(&chunk[at..], on_record)
            {
                at += used;
                record_start = at;
                if at == chunk.len() {
                    return;
                }
                continue;
            }
            let reader = self.reader.as_mut().expect("started before feeding");
            let (result, read, written, ended) =
                reader.read_record(&chunk[at..], &mut self.output[self.output_len..], &mut self.ends[self.ends_len..]);
            at += read;
            self.output_len += written;
            self.ends_len += ended;
            match result {
                ReadRecordResult::InputEmpty => {
                    if !at_end {
                        self.raw.extend_from_slice(&chunk[record_start..]);
                        return;
                    }
                }
                ReadRecordResult::OutputFull => {
                    if self.output.len() >= MAX_RECORD_BYTES {
                        self.raw.extend_from_slice(&chunk[record_start..at]);
                        let (line, byte_offset) = self.start_after(&self.raw[..leading_blank_lines(&self.raw)]);
                        self.stopped = Some(Event::RecordTooLong { line, byte_offset });
                        return;
                    }
                    let doubled = self.output.len() * 2;
                    self.output.resize(doubled, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let doubled = self.ends.len() * 2;
                    self.ends.resize(doubled, 0);
                }
                ReadRecordResult::Record => {
                    self.in_place = true;
                    if self.raw.is_empty() {
                        self.emit(&chunk[record_start..at], on_record);
                    } else {
                        let mut raw = std::mem::take(&mut self.raw);
                        raw.extend_from_slice(&chunk[record_start..at]);
                        self.emit(&raw, on_record);
                        raw.clear();
                        self.raw = raw;
                    }
                    record_start = at;
                    if at == chunk.len() && !at_end {
                        return;
                    }
                }
                ReadRecordResult::End => return,
            }
        }
    }

    /// Hands the completed record (`raw`: its bytes as read, leading blank lines included) to
    /// `on_record`, then moves the position past it.
    fn emit(&mut self, raw: &[u8], on_record: &mut dyn FnMut(RecordRef<'_>)) {
        let lead = leading_blank_lines(raw);
        let (line, byte_offset) = self.start_after(&raw[..lead]);
        let output = &self.output[..self.output_len];
        let record = RecordRef {
            output,
            text: std::str::from_utf8(output).ok(),
            ends: &self.ends[..self.ends_len],
            gap: 0,
            raw: &raw[lead..],
            delimiter: self.delimiter,
            line,
            byte_offset,
        };
        // A blank line is not a record.
        let blank =
            record.len() == 1 && record.field(0).is_empty() && record.raw.iter().all(|b| matches!(b, b'\r' | b'\n'));
        if !blank {
            on_record(record);
        }
        self.advance(raw);
        self.output_len = 0;
        self.ends_len = 0;
    }

    /// Reads the record at the start of `rest` in place when it has no quote and its line
    /// ends inside `rest`, handing it to `on_record`; returns the bytes it used (leading blank
    /// lines and the first terminator byte included, as csv-core consumes them). `None`
    /// leaves the record to csv-core, untouched.
    #[inline(always)]
    fn in_place_record(&mut self, rest: &[u8], on_record: &mut dyn FnMut(RecordRef<'_>)) -> Option<usize> {
        let lead = leading_blank_lines(rest);
        let (line, byte_offset) = self.start_after(&rest[..lead]);
        let (delimiter, ends) = (self.delimiter, self.ends.as_mut_slice());
        let mut cells = 0;
        let mut at = lead;
        loop {
            let byte = *rest.get(at)?;
            if byte == delimiter || byte == b'\n' || byte == b'\r' {
                *ends.get_mut(cells)? = at - lead;
                cells += 1;
                if byte != delimiter {
                    break;
                }
            } else if byte == b'"' || at - lead >= MAX_IN_PLACE_BYTES {
                return None;
            }
            at += 1;
        }
        // `at` is the terminator: `\n`, or `\r` (a `\n` after it is the next record's blank lead).
        let content = &rest[lead..at];
        let record = RecordRef {
            output: content,
            text: std::str::from_utf8(content).ok(),
            ends: &ends[..cells],
            gap: 1,
            raw: &rest[lead..=at],
            delimiter,
            line,
            byte_offset,
        };
        on_record(record);
        self.advance(&rest[..=at]);
        Some(at + 1)
    }

    /// Line and byte offset of a record that starts after `blank` (the blank lines before it)
    /// at the current position.
    #[inline(always)]
    fn start_after(&self, blank: &[u8]) -> (u64, u64) {
        (self.raw_line + count_newlines(blank), self.raw_offset + blank.len() as u64)
    }

    /// Moves the current position past `consumed`.
    #[inline(always)]
    fn advance(&mut self, consumed: &[u8]) {
        self.raw_line += count_newlines(consumed);
        self.raw_offset += consumed.len() as u64;
    }
}

#[inline(always)]
fn leading_blank_lines(raw: &[u8]) -> usize {
    let mut lead = 0;
    while lead < raw.len() && matches!(raw[lead], b'\n' | b'\r') {
        lead += 1;
    }
    lead
}

#[inline(always)]
fn count_newlines(bytes: &[u8]) -> u64 {
    // (A plain loop: the iterator form is not inlined in the size-optimized browser build.)
    let mut newlines = 0;
    for &byte in bytes {
        newlines += u64::from(byte == b'\n');
    }
    newlines
}

/// Picks `;` when the first line has more semicolons than commas (European Windows locale).
pub fn comma_or_semicolon(first_line: &[u8]) -> u8 {
    let count = |d: u8| first_line.iter().filter(|&&b| b == d).count();
    if count(b';') > count(b',') { b';' } else { b',' }
}

/// Always `,`.
pub fn comma(_: &[u8]) -> u8 {
    b','
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, offset, fields) of every record, feeding `input` in chunks of `chunk` bytes.
    fn records(input: &[u8], chunk: usize) -> Vec<(u64, u64, Vec<String>)> {
        let mut stream = CsvStream::new(comma_or_semicolon);
        let mut out = Vec::new();
        let mut collect = |r: RecordRef<'_>| {
            let fields = (0..r.len()).map(|i| String::from_utf8_lossy(r.field(i)).into_owned()).collect();
            out.push((r.line, r.byte_offset, fields));
        };
        for piece in input.chunks(chunk.max(1)) {
            stream.push(piece, &mut collect);
        }
        stream.finish(&mut collect);
        out
    }

    #[test]
    fn records_read_in_place_equal_csv_core_s() {
        let long = format!("a,{}\n", "x".repeat(MAX_IN_PLACE_BYTES + 1));
        let inputs: [&[u8]; 11] = [
            b"h1,h2\n1,2\n3,4\n",
            b"h1,h2\r\n1,2\r\n\r\n3,4\r\n",
            b"h1,h2\r1,2\r3,4",
            b"h1,h2\n\n\n1,\n,\n,,\n \n",
            b"h1,h2\n1,\"a,b\"\na\"b,c\n\"q\"\"x\",y\n",
            b"\xEF\xBB\xBF\xEF\xBB\xBFh1,h2\n1,2\n",
            b"h1;h2\n1;2,5\n3;4\n",
            b"h1,h2\n\xE9t\xE9,2\n\xC3\xA9t\xC3\xA9,3\n",
            b"h1,h2\n1,2\n3,\"4\n5\"\n6,7",
            long.as_bytes(),
            b"h\n1\n\n",
        ];
        for input in inputs {
            let whole = records(input, input.len());
            assert_eq!(whole, records(input, 1), "{}", String::from_utf8_lossy(input));
        }
        // And the in-place path is the one taken for plain rows pushed whole.
        let mut stream = CsvStream::new(comma);
        let mut gaps = Vec::new();
        stream.push(b"h1,h2\n1,2\n\"3\",4\n5,6\n", &mut |r| gaps.push(r.gap));
        stream.finish(&mut |r| gaps.push(r.gap));
        assert_eq!(gaps, [0, 1, 0, 1]);
    }

    #[test]
    fn locates_records_across_blank_lines_quotes_and_crlf() {
        let input = b"a,b\r\n1,\"x\ny\"\r\n\r\n2,z";
        let expected = vec![
            (1, 0, vec!["a".to_string(), "b".into()]),
            (2, 5, vec!["1".into(), "x\ny".into()]),
            (5, 16, vec!["2".into(), "z".into()]),
        ];
        for chunk in [1, 2, 3, 7, 100] {
            assert_eq!(records(input, chunk), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn strips_a_bom_even_when_split_across_chunks_and_counts_it_in_offsets() {
        let input = b"\xEF\xBB\xBFa;b\n1;2\n";
        for chunk in [1, 2, 4, 64] {
            let got = records(input, chunk);
            assert_eq!(got[0], (1, 3, vec!["a".to_string(), "b".into()]), "chunk {chunk}");
            assert_eq!(got[1].1, 7);
        }
    }

    #[test]
    fn field_offsets_account_for_quotes() {
        let mut stream = CsvStream::new(comma);
        let mut offsets = Vec::new();
        stream.push(b"h1,h2,h3\n\"a,b\",c,d\n", &mut |r| {
            offsets.push((0..3).map(|i| r.field_offset(i)).collect::<Vec<_>>())
        });
        stream.finish(&mut |_| {});
        assert_eq!(offsets[1], [9, 15, 17]);
    }

    #[test]
    fn stops_on_a_record_longer_than_the_limit() {
        let mut stream = CsvStream::new(comma);
        stream.push(b"a\n", &mut |_| {});
        let long = vec![b'x'; MAX_RECORD_BYTES + 10];
        stream.push(&long, &mut |_| {});
        assert_eq!(stream.stopped(), Some(&Event::RecordTooLong { line: 2, byte_offset: 2 }));
    }
}
