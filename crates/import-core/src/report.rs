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
}

/// How many rows went where.
///
/// When [`Outcome::Imported`]: `rows_read = inserted + Σ skipped + rejected`. When refused,
/// nothing was written and only `rows_read` and `rejected` count.
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
}

impl Counts {
    /// Every count with its name, in the order reports show them.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [("rows_read", self.rows_read), ("inserted", self.inserted)]
            .into_iter()
            .chain(self.skipped.iter().copied())
            .chain([("rejected", self.rejected)])
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
    /// message, and the counts of those left out past the cap.
    pub validation: Report,
}

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
    /// A file that was not written: `staged` of its rows were valid.
    pub fn refused(file: String, validation: Report, staged: u64, skipped: &[&'static str]) -> Self {
        let counts = Counts {
            rows_read: validation.records,
            inserted: 0,
            skipped: skipped.iter().map(|&name| (name, 0)).collect(),
            rejected: validation.records - staged,
        };
        ImportReport { file, outcome: Outcome::Refused, counts, validation }
    }

    /// A file whose `staged` valid rows were merged: `inserted` written, the rest `skipped`.
    pub fn imported(file: String, validation: Report, staged: u64, merged: Merged) -> Self {
        let counts = Counts {
            rows_read: validation.records,
            inserted: merged.inserted,
            skipped: merged.skipped,
            rejected: validation.records - staged,
        };
        debug_assert_eq!(
            counts.inserted + counts.skipped.iter().map(|(_, n)| n).sum::<u64>(),
            staged,
            "every staged row is written or skipped"
        );
        ImportReport { file, outcome: Outcome::Imported, counts, validation }
    }

    /// The count called `name` (see [`Counts::get`]).
    pub fn count(&self, name: &str) -> Option<u64> {
        self.counts.get(name)
    }
}

/// What a merge wrote and why it left the other staged rows out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Rows written.
    pub inserted: u64,
    /// Staged rows not written, per reason (the importer's [`SKIPPED`](crate::Importer::SKIPPED) names).
    pub skipped: Vec<(&'static str, u64)>,
}
