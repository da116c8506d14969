//! What was imported of each file, so a re-import costs only what is new.
//!
//! An importer that declares a [`History`] keeps, in a table of its own (its migrations create
//! it with the columns below), one row per file name: how many bytes were imported and their
//! BLAKE3 hash (a cryptographic hash, several GB/s on one core), where the file's last data
//! record starts and how many came before it ([`ResumePoint`]), whether rows were rejected,
//! when, and the report's counts. The row is written in the merge's transaction, so it is
//! never ahead of the data. On the next import of that name:
//!
//! - the same length and hash: the file is **unchanged** and is not parsed; the report says
//!   since when, with the counts of that import;
//! - longer, and its first `bytes` hash the same: it **grew**; the validator is given the
//!   header again and goes on at the last data record imported (read again, in case it was
//!   still being written), so only the rest is parsed;
//! - anything else (shorter, the prefix edited, re-exported in another locale): read **whole**.
//!
//! Resuming never changes the outcome: a prefix that hashes the same is the same bytes, whose
//! rows the ledger already settled. It is not used when the earlier import skipped rejected
//! rows and this one would refuse them (a whole read would refuse the file), and a domain
//! whose maintenance can un-settle rows (a purge of the ledger) clears its history.
//!
//! ```sql
//! CREATE TABLE <table> (
//!     file_name      VARCHAR(255) PRIMARY KEY,
//!     bytes          BIGINT    NOT NULL,  -- length imported
//!     blake3         CHAR(64)  NOT NULL,  -- hex BLAKE3 of those bytes
//!     header_end     BIGINT,              -- the ResumePoint; NULL: read whole next time
//!     resume_line    BIGINT,
//!     resume_offset  BIGINT,
//!     resume_records BIGINT,
//!     rejected_rows  BOOLEAN   NOT NULL,
//!     imported_at    TIMESTAMP NOT NULL,  -- UTC
//!     counts         TEXT      NOT NULL   -- the report's counts, a JSON object
//! );
//! ```

use std::fs::File;
use std::io::{ErrorKind, Read as _};
use std::path::Path;

use chrono::NaiveDateTime;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use upload_validator::ResumePoint;

use crate::report::Counts;
use crate::{Error, Result};

/// The table an importer keeps its files' history in.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// Its name (created by the domain's migrations, with the columns in the module docs).
    pub table: &'static str,
}

/// One file's row.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub(crate) struct FileState {
    #[diesel(sql_type = BigInt)]
    pub(crate) bytes: i64,
    #[diesel(sql_type = Text)]
    pub(crate) blake3: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) header_end: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) resume_line: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) resume_offset: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) resume_records: Option<i64>,
    #[diesel(sql_type = Bool)]
    pub(crate) rejected_rows: bool,
    #[diesel(sql_type = Timestamp)]
    pub(crate) imported_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    pub(crate) counts: String,
}

impl FileState {
    /// The row for an import of `bytes` bytes hashing to `hash`.
    pub(crate) fn new(bytes: u64, hash: blake3::Hash, point: Option<ResumePoint>, counts: &Counts) -> Self {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        FileState {
            bytes: int(bytes),
            blake3: hash.to_hex().to_string(),
            header_end: point.map(|p| int(p.header_end)),
            resume_line: point.map(|p| int(p.line)),
            resume_offset: point.map(|p| int(p.byte_offset)),
            resume_records: point.map(|p| int(p.records)),
            rejected_rows: counts.rejected > 0,
            imported_at: chrono::Utc::now().naive_utc(),
            counts: serde_json::to_string(counts).expect("counts serialise"),
        }
    }

    /// Where a grown file can be read on from.
    pub(crate) fn resume_point(&self) -> Option<ResumePoint> {
        let u = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
        Some(ResumePoint {
            header_end: u(self.header_end)?,
            line: u(self.resume_line)?,
            byte_offset: u(self.resume_offset)?,
            records: u(self.resume_records)?,
        })
    }

    /// The recorded counts, by name.
    pub(crate) fn counts(&self, skipped: &[&'static str]) -> Counts {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&self.counts).unwrap_or_default();
        let get = |name: &str| map.get(name).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Counts {
            rows_read: get("rows_read"),
            inserted: get("inserted"),
            skipped: skipped.iter().map(|&name| (name, get(name))).collect(),
            rejected: get("rejected"),
            details: Vec::new(),
        }
    }
}

/// The first `length` bytes of `file`, hashed (read in 1 MiB pieces).
pub(crate) fn hash_prefix(file: &mut File, path: &Path, length: u64) -> Result<blake3::Hasher> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0; 1 << 20];
    let mut left = length;
    while left > 0 {
        let want = usize::try_from(left.min(buffer.len() as u64)).expect("at most 1 MiB");
        let n = match file.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(source) => return Err(Error::Read { path: path.to_path_buf(), source }),
        };
        hasher.update(&buffer[..n]);
        left -= n as u64;
    }
    Ok(hasher)
}

/// `SELECT` of a file's row, with the backend's placeholder for its name.
pub(crate) fn select_sql(table: &str, placeholder: &str) -> String {
    format!(
        "SELECT bytes, blake3, header_end, resume_line, resume_offset, resume_records, rejected_rows, imported_at, counts
         FROM {table} WHERE file_name = {placeholder}"
    )
}

/// The upsert that records a file's row (both backends accept `ON CONFLICT ... DO UPDATE`),
/// with the backend's ten placeholders.
pub(crate) fn upsert_sql(table: &str, placeholders: [&str; 10]) -> String {
    let [p1, p2, p3, p4, p5, p6, p7, p8, p9, p10] = placeholders;
    format!(
        "INSERT INTO {table} (file_name, bytes, blake3, header_end, resume_line, resume_offset, resume_records, rejected_rows, imported_at, counts)
         VALUES ({p1}, {p2}, {p3}, {p4}, {p5}, {p6}, {p7}, {p8}, {p9}, {p10})
         ON CONFLICT (file_name) DO UPDATE SET bytes = excluded.bytes, blake3 = excluded.blake3,
             header_end = excluded.header_end, resume_line = excluded.resume_line,
             resume_offset = excluded.resume_offset, resume_records = excluded.resume_records,
             rejected_rows = excluded.rejected_rows, imported_at = excluded.imported_at, counts = excluded.counts"
    )
}
