//! One checker per CSV payload kind (each module's `open` is its registry entry's engine), and
//! the header resolution they share.

pub(crate) mod historical_sales;
#[cfg(feature = "ib-flex")]
pub(crate) mod ib_flex;
pub(crate) mod ninjatrader;
pub(crate) mod store_attributes;
pub(crate) mod weekly_actuals;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

pub use historical_sales::{HistoricalSale, HistoricalSalesContext};
#[cfg(feature = "ib-flex")]
pub use ib_flex::{FlexRow, FlexSection};
pub use ninjatrader::{Action, EntryExit, Execution, Locale};
pub use store_attributes::StoreAttributes;
pub use weekly_actuals::{DailyActual, WeeklyActualsContext};

use crate::engine::{self, RecordRef};
use crate::fields::non_negative_integer;
use crate::report::{Rule, Severity};
use crate::validator::Out;

/// What each payload kind implements.
pub trait Checker {
    /// Picks the delimiter from the first line.
    fn sniff(&self) -> fn(&[u8]) -> u8 {
        engine::comma
    }
    /// The columns this kind expects; the validator resolves the header against them.
    fn columns(&self) -> &'static [Column];
    /// Added to the column-count message (e.g. why a row may have one cell too many).
    fn width_hint(&self) -> &'static str {
        ""
    }
    /// Kind-specific checks of the header before its columns are resolved (e.g. recognising
    /// a different export); `false` stops validation.
    fn recognise(&mut self, _header: &RecordRef<'_>, _out: &mut Out<'_>) -> bool {
        true
    }
    /// Checks one data record (1-based `number`) whose cell count matches the header.
    fn record(&mut self, record: &RecordRef<'_>, layout: &Layout, number: u64, out: &mut Out<'_>);
    /// File-level checks once every record is in.
    fn finish(&mut self, _out: &mut Out<'_>, _records: u64) {}
    /// What was recognised about the file, given its resolved header (if it had one).
    fn detected(&self, _layout: Option<&Layout>) -> BTreeMap<&'static str, String> {
        BTreeMap::new()
    }
}

/// IB Flex reports need the streaming XML engine, which the browser package for retail
/// uploads leaves out (its size budget): without the `ib-flex` feature the kind is known but
/// refused.
#[cfg(not(feature = "ib-flex"))]
pub(crate) mod ib_flex {
    /// The registry's entry without the engine.
    pub(crate) fn open(
        kind: crate::PayloadKind,
        _: crate::NoContext,
        _: crate::Limits,
    ) -> Result<Box<dyn crate::validator::Engine>, crate::Error> {
        Err(crate::Error::NotInThisBuild { kind: kind.name(), feature: "ib-flex" })
    }
}

/// The registry's engine for a CSV kind whose checker needs no context.
pub(crate) fn without_context<C: Checker + Default + 'static>(
    kind: crate::PayloadKind,
    _: crate::NoContext,
    limits: crate::Limits,
) -> Result<Box<dyn crate::validator::Engine>, crate::Error> {
    Ok(crate::validator::CsvInput::open(kind, C::default(), limits))
}

/// An expected column: its name and the other spellings real files use.
pub struct Column {
    /// The canonical name.
    pub name: &'static str,
    /// Other accepted spellings (compared case-insensitively).
    pub aliases: &'static [&'static str],
    /// Whether the file is refused without it.
    pub required: bool,
}

/// Resolved header: where each expected column is, and how many cells every row must have.
pub struct Layout {
    /// Position of each expected column, in the order given.
    pub positions: Vec<Option<usize>>,
    /// Cells per row (the header's own count, trailing empty cell included).
    pub width: usize,
}

impl Layout {
    /// Position of expected column `index` (a required column always has one).
    #[inline(always)]
    pub fn at(&self, index: usize) -> usize {
        self.positions[index].expect("required columns are resolved")
    }
}

/// Matches the header against `columns` (trimmed, case-insensitive, aliases), reporting
/// missing required columns (error), repeated columns (error) and unknown ones (warning).
pub fn resolve(header: &RecordRef<'_>, columns: &[Column], out: &mut Out<'_>) -> Option<Layout> {
    let names: Vec<String> =
        (0..header.len()).map(|i| header.text(i).unwrap_or_default().trim().to_ascii_lowercase()).collect();
    let expected = columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
    let mut positions = Vec::with_capacity(columns.len());
    let mut ok = true;
    for column in columns {
        let matches =
            |name: &String| name == column.name || column.aliases.iter().any(|a| a.eq_ignore_ascii_case(name));
        let found: Vec<usize> = names.iter().enumerate().filter(|(_, n)| matches(n)).map(|(i, _)| i).collect();
        if found.len() > 1 {
            ok = false;
            out.cell(Rule::Header, header, 0, found[1], || {
                format!("The column \"{}\" appears twice in the header; keep one.", column.name)
            });
        }
        if found.is_empty() && column.required {
            ok = false;
            out.line(Rule::Header, header.line, 0, header.byte_offset, || {
                format!(
                    "The header has no \"{}\" column. The first line must name the columns: {expected}.",
                    column.name
                )
            });
        }
        positions.push(found.first().copied());
    }
    for (i, name) in names.iter().enumerate() {
        if !name.is_empty() && !positions.contains(&Some(i)) {
            out.cell_with(Severity::Warning, Rule::Header, header, 0, i, || {
                format!("The column \"{name}\" is not one we use; it will be ignored.")
            });
        }
    }
    ok.then_some(Layout { positions, width: names.len() })
}

/// Checks the cell count; `false` means the row is not checked further. `hint` is asked for
/// only when the count is wrong.
#[inline(always)]
pub fn check_width(
    layout: &Layout,
    record: &RecordRef<'_>,
    number: u64,
    out: &mut Out<'_>,
    hint: impl FnOnce() -> &'static str,
) -> bool {
    if record.len() == layout.width {
        return true;
    }
    let column = record.len().min(layout.width);
    out.cell(Rule::ColumnCount, record, number, column, || {
        format!("This row has {} cells but the header has {}.{}", record.len(), layout.width, hint())
    });
    false
}

/// The cell at `position` as text (cells were checked to be UTF-8 before any checker runs).
/// Surrounding white space is ignored.
#[inline(always)]
pub fn text<'a>(record: &RecordRef<'a>, position: usize) -> &'a str {
    let cell = record.text(position).unwrap_or_default();
    // Most cells start and end with a printable ASCII character: nothing to trim, and no need
    // to decode characters from both ends (slow in WebAssembly).
    let printable = |byte: Option<&u8>| byte.is_some_and(|&b| b.is_ascii_graphic());
    if printable(cell.as_bytes().first()) && printable(cell.as_bytes().last()) { cell } else { cell.trim() }
}

/// The whole number of `unit` in the cell at `position`, if it fits an SQL INTEGER column
/// (0 to 2147483647); otherwise a finding says so.
pub(crate) fn whole_number(
    record: &RecordRef<'_>,
    number: u64,
    position: usize,
    unit: &str,
    out: &mut Out<'_>,
) -> Option<u64> {
    let cell = text(record, position);
    let value = non_negative_integer(cell).filter(|&n| n <= i32::MAX as u64);
    if value.is_none() {
        out.cell(Rule::NonNegativeInteger, record, number, position, || {
            format!("\"{cell}\" is not a whole number of {unit} (0 to 2147483647).")
        });
    }
    value
}

/// Known ids from the context (stores, categories), each with a dense index.
///
/// Uploads list their rows in some consistent order (day by day, the stores in the same order
/// each day), so the lookup remembers which id followed each one and tries that first: a
/// comparison with memory close by, instead of hashing into a table that may be far larger
/// than the CPU's caches. Any order works; a repeated order is fast from its second pass.
pub struct KnownIds {
    /// Id → index. Fx hashing: these keys come from the server's context, never from the
    /// file (an id in the file is only looked up), and Fx hashes a short id several times
    /// faster than SipHash, which loading a context of many stores feels in the browser.
    index: FxHashMap<String, u32>,
    /// The distinct ids, by index.
    ids: Vec<String>,
    /// For each index, the index found right after it last time (at first: the next one).
    next: Vec<u32>,
    /// The index found last.
    last: Option<usize>,
}

impl KnownIds {
    /// The distinct ids of `ids` (a repeated id keeps its first index).
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        let mut index = FxHashMap::default();
        let mut distinct = Vec::new();
        for id in ids {
            if !index.contains_key(&id) {
                index.insert(id.clone(), distinct.len() as u32);
                distinct.push(id);
            }
        }
        KnownIds { index, next: (1..=distinct.len() as u32).collect(), ids: distinct, last: None }
    }

    /// How many distinct ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The index of `id`, if known.
    pub fn find(&mut self, id: &str) -> Option<u32> {
        // The remembered successor, or the one after it (a row was skipped or unknown).
        let guess = self.last.map_or(0, |last| self.next[last] as usize);
        // The one after the successor means a row was left out or unknown (not that the
        // order changed): the successor stays what it was.
        if let Some(found) = (guess..guess + 2).find(|&i| self.ids.get(i).is_some_and(|candidate| same(candidate, id)))
        {
            self.last = Some(found);
            return Some(found as u32);
        }
        let found = *self.index.get(id)?;
        if let Some(last) = self.last {
            self.next[last] = found;
        }
        self.last = Some(found as usize);
        Some(found)
    }
}

/// `a == b` for short strings, compared in place (the size-optimized browser build would
/// call `memcmp` for a few bytes).
#[inline(always)]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_are_found_in_any_order_and_repeats_share_an_index() {
        let mut ids = KnownIds::new(["S003", "S001", "S002", "S001"].map(String::from));
        assert_eq!(ids.len(), 3);
        // The context's order (the first guess), another order twice (learned), unknown ids.
        let lookups = ["S003", "S001", "S002", "S001", "S003", "S002", "S001", "S003", "S002", "S009", "", "S002"];
        let found: Vec<_> = lookups.into_iter().map(|id| ids.find(id)).collect();
        let expected: Vec<_> = [0, 1, 2, 1, 0, 2, 1, 0, 2].map(Some).into_iter().chain([None, None, Some(2)]).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn a_row_left_out_does_not_unlearn_the_order() {
        let mut ids = KnownIds::new(["A", "B", "C", "D"].map(String::from));
        // B left out on the first pass (found one further on), then a new order's turn: D → A.
        let found: Vec<_> = ["A", "C", "D", "A", "B", "C"].into_iter().map(|id| ids.find(id)).collect();
        assert_eq!(found, [0, 2, 3, 0, 1, 2].map(Some));
        assert_eq!(ids.next, [1, 2, 3, 0], "A is still followed by B; D has learned A");
    }

    #[test]
    fn cells_are_trimmed_of_any_white_space_and_only_of_it() {
        let mut stream = engine::CsvStream::new(engine::comma);
        let mut cells = Vec::new();
        let line = "S001,  S002 ,\u{a0}S003\u{2003},\tx y\t,é,,\"q \"\n";
        stream
            .push(line.as_bytes(), &mut |record| cells.extend((0..record.len()).map(|i| text(&record, i).to_owned())));
        stream.finish(&mut |_| {});
        assert_eq!(cells, ["S001", "S002", "S003", "x y", "é", "", "q"]);
    }

    #[test]
    fn a_context_with_repeated_store_ids_validates_every_day() {
        let context = WeeklyActualsContext {
            week_start: chrono::NaiveDate::from_ymd_opt(9999, 12, 25).unwrap(),
            store_ids: vec!["S1".into(), "S1".into(), "S2".into()],
        };
        let mut validator =
            crate::Validator::new(crate::PayloadKind::WeeklyActuals, crate::Context::of(context)).unwrap();
        let mut file = String::from("date,store_id,quantity_sold\n");
        for day in 25..=31 {
            file.push_str(&format!("9999-12-{day},S1,1\n9999-12-{day},S2,2\n9999-12-{day},S2,3\n"));
        }
        validator.push(file.as_bytes());
        let report = validator.finish();
        assert_eq!(report.errors, 7, "one repeated row a day: {}", report.to_json());
        assert!(report.findings.iter().all(|f| f.rule == Rule::DuplicateKey));
    }
}
