//! Importing NinjaTrader execution exports: each file in one transaction, each execution id
//! at most once, ever.
//!
//! A file is streamed through the upload validator (the parser the browser runs) into a
//! temporary stage table on the import's own connection, then merged by set-based SQL:
//!
//! - PostgreSQL: `COPY` into the stage, then one statement takes the first row of each id,
//!   records the ids not yet in `imported_executions` (`ON CONFLICT DO NOTHING ... RETURNING`)
//!   and writes exactly those fills to `trades`. A transaction-scoped advisory lock makes
//!   concurrent merges take turns (their parsing and `COPY` still overlap).
//! - SQLite: prepared multi-row inserts append to the stage, one `GROUP BY` picks the first row
//!   of each id, then, under `BEGIN IMMEDIATE`, two `INSERT ... SELECT`s write the new fills
//!   and record the ids.
//!
//! Either way the stage is read in execution-id order, so the indexes are filled in order,
//! and nothing but one chunk of the file and one batch of rows is ever in memory.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Read as _};
use std::path::Path;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use migration_core::{Database, DbConnection, Migrator, PragmaGuard, State};
use upload_validator::{Action, Context, EntryExit, Execution, Finding, PayloadKind, Record, Report, Validator};

use crate::Error;
use crate::schema::execution_stage;

/// Bytes read from the file per step.
const CHUNK_BYTES: usize = 256 * 1024;
/// Rows per SQLite insert statement (16 columns each: 2 048 parameters).
const SQLITE_BATCH: usize = 128;
/// COPY data is sent to PostgreSQL in pieces of about this size.
const COPY_FLUSH_BYTES: usize = 256 * 1024;
/// Serialises the merge step of concurrent PostgreSQL imports ("intake" + seed 4).
const IMPORT_LOCK_KEY: i64 = 0x0069_6e74_616b_6504;
/// How long an SQLite import waits for another import's merge to commit.
const SQLITE_IMPORT_BUSY_TIMEOUT_MS: u32 = 300_000;
/// Page cache of the main and the temporary database during an import (each), in KiB: the
/// merge fills large indexes; peak memory stays under 100 MB on a million-row file.
const SQLITE_IMPORT_CACHE_KIB: u32 = 32 * 1024;
/// `csv_filename` value the backfill migration owns.
const BACKFILL: &str = "BACKFILL";

/// How to treat invalid rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the valid rows of a file that has invalid ones (which are listed and skipped).
    /// Without it a file with any invalid row imports nothing.
    pub skip_invalid: bool,
}

/// Whether a file's fills were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The file's new fills were written (possibly none, if all were known).
    Imported,
    /// Nothing was written: the file has errors (see the findings).
    Refused,
}

/// What importing one file did.
///
/// When [`Outcome::Imported`]: `rows_read = inserted + already_imported + duplicated_in_file +
/// rejected`. When refused, nothing was written and only `rows_read` and `rejected` count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileSummary {
    /// The file as given.
    pub file: String,
    /// Written or refused.
    pub outcome: Outcome,
    /// Data rows in the file.
    pub rows_read: u64,
    /// New fills written to `trades`.
    pub inserted: u64,
    /// Rows whose execution id was imported before (by an earlier file or the backfill), every
    /// such row counted, plus new ids whose fill is still in `trades` after a purge.
    pub already_imported: u64,
    /// Rows repeating a new execution id that appeared earlier in this file.
    pub duplicated_in_file: u64,
    /// Rows with errors (skipped with `--skip-invalid`, otherwise the reason nothing was written).
    pub rejected: u64,
    /// What the validator recognised: locale, variant, delimiter.
    pub detected: BTreeMap<&'static str, String>,
    /// Errors and warnings with line, column, rule and message (the first 1 000).
    pub findings: Vec<Finding>,
    /// Per rule, findings left out past the cap.
    pub omitted: BTreeMap<&'static str, u64>,
}

impl FileSummary {
    fn refused(file: String, parsed: Parsed) -> Self {
        let Parsed { report, valid } = parsed;
        FileSummary {
            file,
            outcome: Outcome::Refused,
            rows_read: report.records,
            inserted: 0,
            already_imported: 0,
            duplicated_in_file: 0,
            rejected: report.records - valid,
            detected: report.detected,
            findings: report.findings,
            omitted: report.omitted,
        }
    }

    fn imported(file: String, parsed: Parsed, counts: &MergeCounts) -> Self {
        let Parsed { report, valid } = parsed;
        let count = |n: i64| u64::try_from(n).expect("counts are not negative");
        let duplicated_in_file = count(counts.new_rows - counts.new_ids);
        let inserted = count(counts.inserted);
        FileSummary {
            file,
            outcome: Outcome::Imported,
            rows_read: report.records,
            inserted,
            already_imported: valid - inserted - duplicated_in_file,
            duplicated_in_file,
            rejected: report.records - valid,
            detected: report.detected,
            findings: report.findings,
            omitted: report.omitted,
        }
    }
}

/// Imports one NinjaTrader executions export (any variant FORMATS.md §1 lists).
///
/// The file's new fills are written to `trades` and their ids to `imported_executions`, with
/// the file's name, in one transaction: a failure leaves the database as it was. Ids already in
/// `imported_executions` are skipped, so re-importing a file, or a longer version of it, adds
/// only the new fills, and a fill deleted from `trades` does not come back. `progress` is
/// called with the bytes read so far.
pub fn import_file(
    db: &Database,
    path: &Path,
    options: ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<FileSummary, Error> {
    let file_name = recorded_name(path)?;
    // Opened before any transaction starts, so a missing file is a plain error on both backends.
    let file = File::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    ensure_migrated(db)?;
    let mut connection = db.get()?;
    let summary = match &mut connection {
        DbConnection::Postgres(conn) => import_postgres(conn, Source { file, path }, &file_name, options, progress),
        DbConnection::Sqlite(conn) => import_sqlite(conn, Source { file, path }, &file_name, options, progress),
    }?;
    tracing::debug!(file = %path.display(), inserted = summary.inserted, outcome = ?summary.outcome, "imported");
    Ok(summary)
}

/// The name recorded in `csv_filename`: the file's own name, without its folder.
fn recorded_name(path: &Path) -> Result<String, Error> {
    let name_error = |reason: String| Error::FileName { path: path.to_path_buf(), reason };
    let name = path
        .file_name()
        .ok_or_else(|| name_error("this is not a file name".into()))?
        .to_str()
        .ok_or_else(|| name_error("the file name is not valid UTF-8; rename the file".into()))?;
    if name == BACKFILL {
        return Err(name_error(format!("{BACKFILL:?} is reserved for the backfill migration; rename the file")));
    }
    if name.chars().count() > 255 {
        return Err(name_error("the file name is longer than 255 characters; rename the file".into()));
    }
    Ok(name.to_owned())
}

fn ensure_migrated(db: &Database) -> Result<(), Error> {
    let missing: Vec<String> = Migrator::new([&crate::MIGRATIONS])?
        .status(db, None)?
        .into_iter()
        .filter(|m| m.state != State::Applied)
        .map(|m| format!("{}_{} ({})", m.version, m.name, m.state.label()))
        .collect();
    if missing.is_empty() { Ok(()) } else { Err(Error::NotMigrated { missing: missing.join(", ") }) }
}

/// The validator's report and how many valid fills it handed over.
struct Parsed {
    report: Report,
    valid: u64,
}

impl Parsed {
    /// Whether the fills handed over may be written.
    fn may_import(&self, options: ImportOptions) -> bool {
        if self.report.errors == 0 {
            return true;
        }
        // Skipping invalid rows of a file the validator stopped reading would silently drop the rest.
        options.skip_invalid && !self.report.stopped_early()
    }
}

/// An opened export and its path (for messages).
struct Source<'p> {
    file: File,
    path: &'p Path,
}

/// Streams the file through the NinjaTrader validator, handing each valid fill to `sink`.
fn stream(
    source: Source<'_>,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(StagedFill) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    let Source { mut file, path } = source;
    let read_error = |source| Error::Read { path: path.to_path_buf(), source };
    let mut validator = Validator::new(PayloadKind::NinjaTraderExecutions, Context::default())
        .expect("NinjaTrader exports need no context");
    let mut valid = 0;
    // The first error staging a fill; later records are not staged (the import fails).
    let mut failed: Option<Error> = None;
    let mut on_record = |record: Record| {
        if let (Record::Execution(fill), None) = (record, &failed) {
            valid += 1;
            if let Err(error) = StagedFill::new(fill, path).and_then(&mut *sink) {
                failed = Some(error);
            }
        }
    };
    let mut buffer = vec![0; CHUNK_BYTES];
    let mut bytes = 0;
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        validator.push_each(&buffer[..n], &mut on_record);
        bytes += n as u64;
        progress(bytes);
    }
    let report = validator.finish_each(&mut on_record);
    match failed {
        Some(error) => Err(error),
        None => Ok(Parsed { report, valid }),
    }
}

/// One valid fill in the form the tables store it.
#[derive(Debug, Insertable)]
#[diesel(table_name = execution_stage, treat_none_as_default_value = false)]
struct StagedFill {
    line: i64,
    execution_id: String,
    account: String,
    instrument: String,
    action: &'static str,
    quantity: i64,
    price_e8: i64,
    executed_at: NaiveDateTime,
    entry_exit: &'static str,
    position: String,
    order_id: Option<String>,
    name: String,
    commission_e8: i64,
    rate_e8: i64,
    connection: String,
    trade_validation: Option<String>,
}

impl StagedFill {
    fn new(fill: Execution, path: &Path) -> Result<Self, Error> {
        // The validator refuses amounts and quantities the tables cannot hold exactly; this is
        // only a second line of defence.
        let unstorable = |what: &'static str| Error::Unstorable { path: path.to_path_buf(), line: fill.line, what };
        Ok(StagedFill {
            line: i64::try_from(fill.line).map_err(|_| unstorable("line number"))?,
            quantity: i64::try_from(fill.quantity).map_err(|_| unstorable("quantity"))?,
            price_e8: fill.price.e8().map_err(|_| unstorable("price"))?,
            commission_e8: fill.commission.e8().map_err(|_| unstorable("commission"))?,
            rate_e8: fill.rate.e8().map_err(|_| unstorable("rate"))?,
            action: match fill.action {
                Action::Buy => "Buy",
                Action::Sell => "Sell",
                Action::BuyToCover => "BuyToCover",
                Action::SellShort => "SellShort",
            },
            entry_exit: match fill.entry_exit {
                EntryExit::Entry => "Entry",
                EntryExit::Exit => "Exit",
            },
            executed_at: fill.time,
            execution_id: fill.execution_id,
            account: fill.account,
            instrument: fill.instrument,
            position: fill.position,
            order_id: fill.order_id,
            name: fill.name,
            connection: fill.connection,
            trade_validation: fill.trade_validation,
        })
    }

    /// Appends the row in COPY's text format (tab-separated, `\N` for NULL).
    fn write_copy_row(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{}\t", self.line);
        for text in [&self.execution_id, &self.account, &self.instrument] {
            copy_text(out, text);
        }
        let _ = write!(
            out,
            "{}\t{}\t{}\t{}\t{}\t",
            self.action, self.quantity, self.price_e8, self.executed_at, self.entry_exit
        );
        copy_text(out, &self.position);
        copy_nullable(out, self.order_id.as_deref());
        copy_text(out, &self.name);
        let _ = write!(out, "{}\t{}\t", self.commission_e8, self.rate_e8);
        copy_text(out, &self.connection);
        copy_nullable(out, self.trade_validation.as_deref());
        // Every field wrote a trailing tab; the last one ends the row instead.
        *out.last_mut().expect("a row has fields") = b'\n';
    }
}

fn copy_text(out: &mut Vec<u8>, text: &str) {
    for &byte in text.as_bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(byte),
        }
    }
    out.push(b'\t');
}

fn copy_nullable(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => copy_text(out, text),
        None => out.extend_from_slice(b"\\N\t"),
    }
}

/// What a merge found and wrote.
#[derive(Debug, QueryableByName)]
struct MergeCounts {
    /// Valid rows whose id the ledger lacked.
    #[diesel(sql_type = BigInt)]
    new_rows: i64,
    /// Distinct ids among them.
    #[diesel(sql_type = BigInt)]
    new_ids: i64,
    /// Ids added to the ledger (equal to `new_ids`).
    #[diesel(sql_type = BigInt)]
    recorded: i64,
    /// Fills written to `trades` (fewer than `new_ids` when purged ids come back).
    #[diesel(sql_type = BigInt)]
    inserted: i64,
}

const PG_CREATE_STAGE: &str = "
CREATE TEMPORARY TABLE execution_stage (
    line BIGINT NOT NULL, execution_id TEXT NOT NULL, account TEXT NOT NULL, instrument TEXT NOT NULL,
    action TEXT NOT NULL, quantity BIGINT NOT NULL, price_e8 BIGINT NOT NULL, executed_at TIMESTAMP NOT NULL,
    entry_exit TEXT NOT NULL, position TEXT NOT NULL, order_id TEXT, name TEXT NOT NULL,
    commission_e8 BIGINT NOT NULL, rate_e8 BIGINT NOT NULL, connection TEXT NOT NULL, trade_validation TEXT
) ON COMMIT DROP";

/// Rows whose id the ledger lacks, sorted once: the first row of each such id (with how many
/// rows carried it) is recorded in the ledger and written to `trades`. `ON CONFLICT` on `trades`
/// covers a fill still there whose ledger row was purged. The import lock keeps other
/// importers out until commit, so the ledger cannot change under the statement.
const PG_MERGE: &str = "
WITH firsts AS (
    SELECT DISTINCT ON (execution_id) *, count(*) OVER (PARTITION BY execution_id) AS copies
    FROM execution_stage s
    WHERE NOT EXISTS (SELECT 1 FROM imported_executions i WHERE i.execution_id = s.execution_id)
    ORDER BY execution_id, line
), recorded AS (
    INSERT INTO imported_executions (execution_id, csv_filename, account, instrument)
    SELECT execution_id, $1, account, instrument FROM firsts
    ON CONFLICT (execution_id) DO NOTHING
    RETURNING 1
), written AS (
    INSERT INTO trades (execution_id, account, instrument, action, quantity, price_e8, executed_at, entry_exit,
                        position, order_id, name, commission_e8, rate_e8, connection, trade_validation)
    SELECT execution_id, account, instrument, action, quantity, price_e8, executed_at, entry_exit,
           position, order_id, name, commission_e8, rate_e8, connection, trade_validation
    FROM firsts
    ON CONFLICT (execution_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT coalesce(sum(copies), 0) FROM firsts)::BIGINT AS new_rows,
       (SELECT count(*) FROM firsts) AS new_ids,
       (SELECT count(*) FROM recorded) AS recorded,
       (SELECT count(*) FROM written) AS inserted";

/// Why a transaction ended early: a refused file (rolled back on purpose) or a failure.
enum Abort {
    Refused(Box<FileSummary>),
    Failed(Error),
}

impl From<diesel::result::Error> for Abort {
    fn from(source: diesel::result::Error) -> Self {
        Abort::Failed(Error::from(source))
    }
}

impl From<Error> for Abort {
    fn from(error: Error) -> Self {
        Abort::Failed(error)
    }
}

fn settle(result: Result<FileSummary, Abort>) -> Result<FileSummary, Error> {
    match result {
        Ok(summary) => Ok(summary),
        Err(Abort::Refused(summary)) => Ok(*summary),
        Err(Abort::Failed(error)) => Err(error),
    }
}

fn query_error(context: &str) -> impl FnOnce(diesel::result::Error) -> Error + '_ {
    move |source| Error::Query { context: context.to_owned(), source }
}

fn import_postgres(
    conn: &mut PgConnection,
    source: Source<'_>,
    file_name: &str,
    options: ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<FileSummary, Error> {
    let path = source.path;
    let display = path.display().to_string();
    let source = RefCell::new(Some(source));
    settle(conn.transaction(|conn| {
        let started = std::time::Instant::now();
        conn.batch_execute(PG_CREATE_STAGE).map_err(query_error("create the stage table"))?;
        // COPY's callback is `Fn`: what it changes lives in cells.
        let progress = RefCell::new(progress);
        let parsed = RefCell::new(None);
        diesel::copy_from(execution_stage::table)
            .from_raw_data(execution_stage::table, |copy| {
                let mut pending = Vec::with_capacity(COPY_FLUSH_BYTES + 4096);
                let mut send = |pending: &mut Vec<u8>| {
                    let result = copy.write_all(pending);
                    pending.clear();
                    result.map_err(|source| Error::Read { path: path.to_path_buf(), source })
                };
                let mut progress = progress.borrow_mut();
                let source = source.borrow_mut().take().expect("COPY calls its callback once");
                let result = stream(source, &mut **progress, &mut |fill| {
                    fill.write_copy_row(&mut pending);
                    if pending.len() >= COPY_FLUSH_BYTES { send(&mut pending) } else { Ok(()) }
                })?;
                send(&mut pending)?;
                *parsed.borrow_mut() = Some(result);
                Ok::<_, Error>(())
            })
            .execute(conn)?;
        let parsed = parsed.into_inner().expect("the COPY callback ran to the end");
        tracing::debug!(elapsed = ?started.elapsed(), rows = parsed.report.records, "staged");
        if !parsed.may_import(options) {
            return Err(Abort::Refused(Box::new(FileSummary::refused(display.clone(), parsed))));
        }
        // Sorting a million ids in memory instead of on disk; reset at commit.
        conn.batch_execute(&format!("SET LOCAL work_mem = '64MB'; SELECT pg_advisory_xact_lock({IMPORT_LOCK_KEY})"))
            .map_err(query_error("wait for other imports"))?;
        let started = std::time::Instant::now();
        let counts = diesel::sql_query(PG_MERGE)
            .bind::<Text, _>(file_name)
            .get_result::<MergeCounts>(conn)
            .map_err(query_error("merge the file into trades and imported_executions"))?;
        tracing::debug!(elapsed = ?started.elapsed(), ?counts, "merged");
        Ok(FileSummary::imported(display.clone(), parsed, &counts))
    }))
}

/// The stage is appended in file order (`line` is the rowid); under the write lock the first
/// row of each new id is then picked by one sort into `execution_firsts`, in id order, so the
/// merge fills the indexes in order. Both live in the temporary database: loading the stage
/// takes no lock on the main one, so concurrent imports parse side by side.
const SQLITE_CREATE_STAGE: &str = "
DROP TABLE IF EXISTS temp.execution_stage;
DROP TABLE IF EXISTS temp.execution_firsts;
CREATE TEMPORARY TABLE execution_stage (
    line INTEGER PRIMARY KEY, execution_id TEXT NOT NULL, account TEXT NOT NULL, instrument TEXT NOT NULL,
    action TEXT NOT NULL, quantity INTEGER NOT NULL, price_e8 INTEGER NOT NULL, executed_at TEXT NOT NULL,
    entry_exit TEXT NOT NULL, position TEXT NOT NULL, order_id TEXT, name TEXT NOT NULL,
    commission_e8 INTEGER NOT NULL, rate_e8 INTEGER NOT NULL, connection TEXT NOT NULL, trade_validation TEXT
);
CREATE TEMPORARY TABLE execution_firsts AS SELECT *, 0 AS copies FROM execution_stage WHERE false";

/// The first row of each id the ledger lacks, and how many rows carried it. With exactly one
/// `min()`, SQLite takes the other (bare) columns from the row holding the minimum.
const SQLITE_PICK_FIRSTS: &str = "
INSERT INTO temp.execution_firsts
SELECT min(line), execution_id, account, instrument, action, quantity, price_e8, executed_at, entry_exit,
       position, order_id, name, commission_e8, rate_e8, connection, trade_validation, count(*)
FROM temp.execution_stage s
WHERE NOT EXISTS (SELECT 1 FROM imported_executions i WHERE i.execution_id = s.execution_id)
GROUP BY execution_id ORDER BY execution_id";

const SQLITE_COUNT_FIRSTS: &str = "
SELECT coalesce(sum(copies), 0) AS new_rows, count(*) AS new_ids, 0 AS recorded, 0 AS inserted
FROM temp.execution_firsts";

/// The new fills. `ON CONFLICT` covers a fill still in `trades` whose ledger row was purged:
/// it is recorded again below, not written twice.
const SQLITE_WRITE_TRADES: &str = "
INSERT INTO trades (execution_id, account, instrument, action, quantity, price_e8, executed_at, entry_exit,
                    position, order_id, name, commission_e8, rate_e8, connection, trade_validation)
SELECT s.execution_id, s.account, s.instrument, s.action, s.quantity, s.price_e8, s.executed_at, s.entry_exit,
       s.position, s.order_id, s.name, s.commission_e8, s.rate_e8, s.connection, s.trade_validation
FROM temp.execution_firsts s WHERE true
ON CONFLICT (execution_id) DO NOTHING";

const SQLITE_RECORD_IDS: &str = "
INSERT INTO imported_executions (execution_id, csv_filename, account, instrument)
SELECT execution_id, ?, account, instrument FROM temp.execution_firsts WHERE true
ON CONFLICT (execution_id) DO NOTHING";

fn import_sqlite(
    conn: &mut SqliteConnection,
    source: Source<'_>,
    file_name: &str,
    options: ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<FileSummary, Error> {
    // The connection goes back to the pool afterwards: the guard puts its settings back, even
    // when the import fails.
    let (busy, cache) = (SQLITE_IMPORT_BUSY_TIMEOUT_MS.to_string(), format!("-{SQLITE_IMPORT_CACHE_KIB}"));
    let mut conn =
        PragmaGuard::set(conn, &[("busy_timeout", &busy), ("cache_size", &cache), ("temp.cache_size", &cache)])
            .map_err(query_error("tune the connection for the import"))?;
    conn.batch_execute(SQLITE_CREATE_STAGE).map_err(query_error("create the stage table"))?;
    let result = stage_and_merge_sqlite(&mut conn, source, file_name, options, progress);
    let dropped = conn
        .batch_execute("DROP TABLE IF EXISTS temp.execution_stage; DROP TABLE IF EXISTS temp.execution_firsts")
        .map_err(query_error("drop the stage table"));
    let summary = result?;
    dropped?;
    Ok(summary)
}

fn stage_and_merge_sqlite(
    conn: &mut SqliteConnection,
    source: Source<'_>,
    file_name: &str,
    options: ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<FileSummary, Error> {
    let display = source.path.display().to_string();
    let started = std::time::Instant::now();
    let parsed = conn.transaction(|conn| {
        let mut batch: Vec<StagedFill> = Vec::with_capacity(SQLITE_BATCH);
        let flush = |batch: &mut Vec<StagedFill>, conn: &mut SqliteConnection| -> Result<(), Error> {
            insert_stage_batch(conn, batch)?;
            batch.clear();
            Ok(())
        };
        let parsed = stream(source, progress, &mut |fill| {
            batch.push(fill);
            if batch.len() == SQLITE_BATCH { flush(&mut batch, conn) } else { Ok(()) }
        })?;
        flush(&mut batch, conn)?;
        Ok::<_, Error>(parsed)
    })?;
    tracing::debug!(elapsed = ?started.elapsed(), rows = parsed.report.records, "staged");
    if !parsed.may_import(options) {
        return Ok(FileSummary::refused(display, parsed));
    }
    let started = std::time::Instant::now();
    // From here on the ledger is read and written under the write lock.
    let counts = conn.immediate_transaction(|conn| {
        diesel::sql_query(SQLITE_PICK_FIRSTS)
            .execute(conn)
            .map_err(query_error("pick the first row of each new execution id"))?;
        let mut counts = diesel::sql_query(SQLITE_COUNT_FIRSTS)
            .get_result::<MergeCounts>(conn)
            .map_err(query_error("count the new execution ids"))?;
        counts.inserted = diesel::sql_query(SQLITE_WRITE_TRADES)
            .execute(conn)
            .map_err(query_error("write the new fills to trades"))? as i64;
        counts.recorded = diesel::sql_query(SQLITE_RECORD_IDS)
            .bind::<Text, _>(file_name)
            .execute(conn)
            .map_err(query_error("record the ids in imported_executions"))? as i64;
        Ok::<_, Error>(counts)
    })?;
    tracing::debug!(elapsed = ?started.elapsed(), ?counts, "merged");
    Ok(FileSummary::imported(display, parsed, &counts))
}

/// Appends a batch to the stage.
fn insert_stage_batch(conn: &mut SqliteConnection, batch: &[StagedFill]) -> Result<usize, Error> {
    let context = "load the file into the stage table";
    match <&[StagedFill; SQLITE_BATCH]>::try_from(batch) {
        // A full batch has a fixed shape: its prepared statement is cached and reused.
        Ok(full) => diesel::insert_into(execution_stage::table).values(full).execute(conn),
        Err(_) if batch.is_empty() => Ok(0),
        Err(_) => diesel::insert_into(execution_stage::table).values(batch).execute(conn),
    }
    .map_err(query_error(context))
}
