//! What importing one file did: the report every importer returns and every front end (the
//! CLI's table and `--json`, the services' HTTP bodies) renders.

use serde::ser::{SerializeMap as _, Serializer};
use upload_validator::Report;

/// Whether a file's rows were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The file's new rows were written (possibly none, if all were known).
    Imported,
    /// Nothing was written: the file has errors (see the findings).
    Refused,
    /// Not read: the file is byte for byte the one imported before (see `unchanged_since`);
    /// the counts are that import's.
    Unchanged,
}

/// How many rows went where.
///
/// When [`Outcome::Imported`]: `rows_read = inserted + Σ skipped + rejected`. When refused,
/// nothing was written and only `rows_read`, `rejected` and an unchanged prefix count. When
/// unchanged, they are the counts of the import the file was unchanged since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Data rows in the file.
    pub rows_read: u64,
    /// Rows written.
    pub inserted: u64,
    /// Valid rows not written, per reason, in the importer's order (for executions:
    /// `already_imported`, `duplicated_in_file`).
    pub skipped: Vec<(&'static str, u64)>,
    /// Rows with errors (skipped with `skip_invalid`, otherwise the reason nothing was written).
    pub rejected: u64,
    /// What the written rows became, in the importer's words and order (weekly actuals: the
    /// `weekly_rows` their days were summed into, how many were `replaced`); not part of the
    /// sum above.
    pub details: Vec<(&'static str, u64)>,
}

impl Counts {
    /// Every count with its name, in the order reports show them.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [("rows_read", self.rows_read), ("inserted", self.inserted)]
            .into_iter()
            .chain(self.skipped.iter().copied())
            .chain([("rejected", self.rejected)])
            .chain(self.details.iter().copied())
    }

    /// The count called `name`, if the report has one.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.named().find(|&(n, _)| n == name).map(|(_, value)| value)
    }
}

/// What importing one file did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportReport {
    /// The file as given.
    pub file: String,
    /// Written or refused.
    pub outcome: Outcome,
    /// Rows read, written, skipped and rejected (flattened into the JSON object).
    #[serde(flatten)]
    pub counts: Counts,
    /// The validator's report: what it recognised, the findings with line, column, rule and
    /// message, and the counts of those left out past the cap; `None` for an unchanged file,
    /// which is not read.
    pub validation: Option<Report>,
    /// When an unchanged file was imported (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<chrono::NaiveDateTime>,
    /// Where the time went.
    pub timings: Timings,
}

/// How long the steps of one file's import took, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Timings {
    /// Reading the file (or hashing it), validating it and loading the stage: one streaming
    /// pass.
    pub read_ms: u64,
    /// Merging the stage into the domain's tables, the wait for the write lock and the
    /// commit included.
    pub merge_ms: u64,
}

/// How many of a file's rows were staged, and how many lay in the part imported before and
/// were not read again (0 on a whole read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Valid rows staged.
    pub staged: u64,
    /// Rows in the unchanged prefix of a grown file.
    pub prefix: u64,
    /// Whether the importer keeps a history (and so reports `unchanged_prefix`).
    pub history: bool,
}

/// The count of rows in an unchanged prefix, in reports of importers that keep a history.
pub const UNCHANGED_PREFIX: &str = "unchanged_prefix";

/// An object of the [named](Counts::named) counts, in their order.
impl serde::Serialize for Counts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.named() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

impl ImportReport {
    /// A file that was not written.
    pub fn refused(file: String, validation: Report, tally: Tally, skipped: &[&'static str]) -> Self {
        let mut skipped: Vec<(&'static str, u64)> = skipped.iter().map(|&name| (name, 0)).collect();
        if tally.history {
            skipped.push((UNCHANGED_PREFIX, tally.prefix));
        }
        let counts = Counts {
            rows_read: validation.records,
            inserted: 0,
            skipped,
            rejected: validation.records - tally.staged - tally.prefix,
            details: Vec::new(),
        };
        ImportReport {
            file,
            outcome: Outcome::Refused,
            counts,
            validation: Some(validation),
            unchanged_since: None,
            timings: Timings::default(),
        }
    }

    /// A file whose staged rows were merged: `inserted` written, the rest `skipped`.
    pub fn imported(file: String, validation: Report, tally: Tally, merged: Merged) -> Self {
        let mut skipped = merged.skipped;
        if tally.history {
            skipped.push((UNCHANGED_PREFIX, tally.prefix));
        }
        let counts = Counts {
            rows_read: validation.records,
            inserted: merged.inserted,
            skipped,
            rejected: validation.records - tally.staged - tally.prefix,
            details: merged.details,
        };
        debug_assert_eq!(
            counts.inserted + counts.skipped.iter().map(|(_, n)| n).sum::<u64>(),
            tally.staged + tally.prefix,
            "every staged row is written or skipped"
        );
        ImportReport {
            file,
            outcome: Outcome::Imported,
            counts,
            validation: Some(validation),
            unchanged_since: None,
            timings: Timings::default(),
        }
    }

    /// A file not read because it is the one imported at `since`, with that import's counts.
    pub fn unchanged(file: String, since: chrono::NaiveDateTime, counts: Counts) -> Self {
        ImportReport {
            file,
            outcome: Outcome::Unchanged,
            counts,
            validation: None,
            unchanged_since: Some(since),
            timings: Timings::default(),
        }
    }

    /// The count called `name` (see [`Counts::get`]).
    pub fn count(&self, name: &str) -> Option<u64> {
        self.counts.get(name)
    }
}

/// What a merge wrote and why it left the other staged rows out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// Rows written.
    pub inserted: u64,
    /// Staged rows not written, per reason (the importer's [`SKIPPED`](crate::Importer::SKIPPED) names).
    pub skipped: Vec<(&'static str, u64)>,
    /// What the written rows became (see [`Counts::details`]).
    pub details: Vec<(&'static str, u64)>,
}
