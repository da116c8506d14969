//! Importing files for one domain: [`Importer`] is what a domain provides, [`Session`] runs
//! the same steps for every domain (see the crate docs).

use std::cell::RefCell;
use std::fs::File;
use std::io::{ErrorKind, Read as _, Seek as _, SeekFrom};
use std::marker::PhantomData;
use std::path::Path;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::pg::CopyTarget;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use migration_core::{
    AdvisoryLock, Backend, Database, DbConnection, Domain, MigrationConnection, Migrator, PragmaGuard, State,
};
use upload_validator::{Record, Report, ResumePoint, Validator};

use crate::history::{self, FileState, History};
use crate::report::{ImportReport, Merged, Tally, Timings, UNCHANGED_PREFIX};
use crate::stage::{self, SqliteInsert, Stage, StageRow};
use crate::{Error, Result, query_error};

/// Bytes read from the file per step.
const CHUNK_BYTES: usize = 256 * 1024;
/// A header longer than this is not read again for a resume (the file is read whole).
const MAX_HEADER_BYTES: usize = 1 << 20;
/// COPY data is sent to PostgreSQL in pieces of about this size.
const COPY_FLUSH_BYTES: usize = 256 * 1024;
/// Bind parameters per SQLite insert statement: rows per batch are as many as fit.
const SQLITE_MAX_PARAMETERS: usize = 2048;
/// How long an SQLite import waits for another writer's lock by default
/// ([`Session::with_lock_wait`]).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(300);

/// How to treat invalid rows, and how long an import may take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the valid rows of a file that has invalid ones (which are listed and skipped).
    /// Without it a file with any invalid row imports nothing.
    pub skip_invalid: bool,
    /// Give up at this instant: the import fails with [`Error::TimedOut`] and writes nothing.
    /// Checked after each chunk read and before the merge commits; on PostgreSQL the merge's
    /// statements also run under a `statement_timeout` of the time left.
    pub deadline: Option<Instant>,
}

impl ImportOptions {
    /// Whether the deadline has passed.
    fn expired(&self) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Milliseconds left before the deadline (at least 1), if there is one.
    fn millis_left(&self) -> Option<u64> {
        let left = self.deadline?.saturating_duration_since(Instant::now());
        Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1))
    }
}

/// A value a validated record holds that its table cannot store exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unstorable {
    /// 1-based line of the record.
    pub line: u64,
    /// Which value (`"price"`).
    pub what: &'static str,
}

/// What a domain provides to import its files.
pub trait Importer {
    /// The stage's row.
    type Row: StageRow;
    /// The stage its rows are loaded into.
    const STAGE: Stage;
    /// Why valid rows may not be written, in the order reports show them (see [`Merged`]).
    const SKIPPED: &'static [&'static str];
    /// Where what was imported of each file is kept, so a re-import costs only what is new
    /// (see [`history`](crate::history)); `None`: every file is read whole.
    const HISTORY: Option<History> = None;
    /// SQLite's page cache of the main and of the temporary database during an import (each),
    /// in KiB; it also bounds each sort's memory before it spills to disk. The default suits a
    /// merge that fills large indexes (peak memory under 100 MB on a million-row executions
    /// file); a domain with a lower memory budget sets less.
    const SQLITE_CACHE_KIB: u32 = 32 * 1024;

    /// The domain whose migrations must be applied and whose write lock the merge holds.
    fn domain(&self) -> &'static Domain;

    /// A validator for one file.
    fn validator(&self) -> Result<Validator, upload_validator::Error>;

    /// The stage row of a record the validator accepted, or `None` if this importer does not
    /// store such records.
    fn row(&self, record: Record) -> Result<Option<Self::Row>, Unstorable>;

    /// Refuses a file name that cannot be recorded (a name reserved by a migration); `Err`
    /// says why and what to do.
    fn check_name(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }

    /// Merges the stage into the domain's tables on PostgreSQL; runs inside the write
    /// transaction. `staged` rows are in the stage.
    fn merge_postgres(&self, conn: &mut PgConnection, file_name: &str, staged: u64) -> Result<Merged>;

    /// The same on SQLite.
    fn merge_sqlite(&self, conn: &mut SqliteConnection, file_name: &str, staged: u64) -> Result<Merged>;
}

/// Imports files of one domain into one database.
pub struct Session<'db, I> {
    db: &'db Database,
    importer: I,
    lock_wait: Duration,
}

impl<'db, I: Importer> Session<'db, I> {
    /// A session; fails with [`Error::NotMigrated`] unless the domain's migrations are all
    /// applied (checked here, once, not per file).
    pub fn open(db: &'db Database, importer: I) -> Result<Self> {
        let domain = importer.domain();
        let missing: Vec<String> = Migrator::new([domain])?
            .status(db, None)?
            .into_iter()
            .filter(|m| m.state != State::Applied)
            .map(|m| format!("{}_{} ({})", m.version, m.name, m.state.label()))
            .collect();
        if !missing.is_empty() {
            return Err(Error::NotMigrated { domain: domain.name(), missing: missing.join(", ") });
        }
        Ok(Session { db, importer, lock_wait: DEFAULT_LOCK_WAIT })
    }

    /// How long an import waits for another writer's lock on SQLite before it gives up with
    /// [`Error::Locked`] (default [`DEFAULT_LOCK_WAIT`]; PostgreSQL imports queue on the
    /// domain's lock instead).
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Imports one file: its valid rows are merged in one transaction, or, if it has errors,
    /// nothing is written and the report says why. `progress` is called with the bytes read
    /// so far.
    pub fn import(&self, path: &Path, options: ImportOptions, progress: &mut dyn FnMut(u64)) -> Result<ImportReport> {
        let file_name = self.recorded_name(path)?;
        // Opened before anything is written, so a missing file is a plain error.
        let file = File::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        self.run(path, &file_name, Input::File(file), options, progress)
    }

    /// Imports a stream (an HTTP request's body) as a file called `name`, read once, as it
    /// arrives: the same steps as [`import`](Session::import), but a stream is always read
    /// whole (no history is consulted or kept). A read error of the stream fails the import
    /// and writes nothing.
    pub fn import_stream(
        &self,
        name: &str,
        stream: &mut dyn std::io::Read,
        options: ImportOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportReport> {
        let path = Path::new(name);
        let file_name = self.recorded_name(path)?;
        self.run(path, &file_name, Input::Stream(stream), options, progress)
    }

    fn run<'a>(
        &self,
        path: &'a Path,
        file_name: &str,
        input: Input<'a>,
        options: ImportOptions,
        progress: &'a mut dyn FnMut(u64),
    ) -> Result<ImportReport> {
        let job = Job { importer: &self.importer, path, file_name, options, lock_wait: self.lock_wait };
        let source = Source { input, path, progress, reading: Reading::Whole };
        let report = match &mut self.db.get()? {
            DbConnection::Postgres(conn) => job.run(&mut **conn, source),
            DbConnection::Sqlite(conn) => {
                // The connection goes back to the pool afterwards: the guard puts its settings
                // back, even when the import fails.
                let (busy, cache) = (self.lock_wait.as_millis().to_string(), format!("-{}", I::SQLITE_CACHE_KIB));
                let settings = [("busy_timeout", busy.as_str()), ("cache_size", &cache), ("temp.cache_size", &cache)];
                let mut tuned =
                    PragmaGuard::set(conn, &settings).map_err(query_error("tune the connection for the import"))?;
                job.run(&mut *tuned, source)
            }
        }?;
        tracing::debug!(file = %path.display(), outcome = ?report.outcome, counts = ?report.counts, "imported");
        Ok(report)
    }

    /// The importer (a domain's run reads what it kept of the last file).
    pub fn importer(&self) -> &I {
        &self.importer
    }

    /// The name recorded with the rows: the file's own name, without its folder.
    fn recorded_name(&self, path: &Path) -> Result<String> {
        let name_error = |reason: String| Error::FileName { path: path.to_path_buf(), reason };
        let name = path
            .file_name()
            .ok_or_else(|| name_error("this is not a file name".into()))?
            .to_str()
            .ok_or_else(|| name_error("the file name is not valid UTF-8; rename the file".into()))?;
        if name.chars().count() > 255 {
            return Err(name_error("the file name is longer than 255 characters; rename the file".into()));
        }
        self.importer.check_name(name).map_err(name_error)?;
        Ok(name.to_owned())
    }
}

/// One file's import.
struct Job<'a, I> {
    importer: &'a I,
    path: &'a Path,
    file_name: &'a str,
    options: ImportOptions,
    lock_wait: Duration,
}

/// An opened file or a stream, its path (for messages) and who to tell how far it is read.
struct Source<'a> {
    input: Input<'a>,
    path: &'a Path,
    progress: &'a mut dyn FnMut(u64),
    reading: Reading,
}

/// What is read: a file (which a re-import may hash and seek in) or a stream (read once).
enum Input<'a> {
    File(File),
    Stream(&'a mut dyn std::io::Read),
}

impl Input<'_> {
    /// The file, for what only a file allows (its length, seeking).
    fn file(&mut self) -> std::io::Result<&mut File> {
        match self {
            Input::File(file) => Ok(file),
            Input::Stream(_) => Err(std::io::Error::new(ErrorKind::Unsupported, "a stream cannot be read again")),
        }
    }
}

impl std::io::Read for Input<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Input::File(file) => file.read(buffer),
            Input::Stream(stream) => stream.read(buffer),
        }
    }
}

/// How much of the file to read (see [`history`](crate::history)).
enum Reading {
    /// From the start.
    Whole,
    /// A grown file: its header again, then from the last record imported; `hasher` has
    /// taken the first `hashed` bytes (the part imported before).
    Resume { point: ResumePoint, hasher: Box<blake3::Hasher>, hashed: u64 },
}

/// The validator's report, how many valid rows were staged, and what the history records.
struct Parsed {
    report: Report,
    tally: Tally,
    /// Bytes read in all, their hash, and where a later read may go on from.
    read: (u64, blake3::Hash, Option<ResumePoint>),
}

impl<I: Importer> Job<'_, I> {
    /// Decides from the history what to read, then creates the stage, loads it, merges it if
    /// the file may be imported, and drops it.
    fn run<C: StageBackend>(&self, conn: &mut C, mut source: Source<'_>) -> Result<ImportReport> {
        if let Some(history) = I::HISTORY {
            let started = Instant::now();
            let previous = C::read_history(conn, history.table, self.file_name)?;
            if let Some(mut unchanged) = self.consult(previous, &mut source)? {
                unchanged.timings.read_ms = millis(started);
                return Ok(unchanged);
            }
        }
        C::with_stage(conn, &I::STAGE, |conn| self.load_and_merge(conn, source))
    }

    /// The report of an unchanged file, or (in `source.reading`) how to read a grown one.
    fn consult(&self, previous: Option<FileState>, source: &mut Source<'_>) -> Result<Option<ImportReport>> {
        let Some(previous) = previous else { return Ok(None) };
        // A stream is read whole, once.
        let Input::File(file) = &mut source.input else { return Ok(None) };
        let length = file.metadata().map_err(|e| Error::Read { path: self.path.to_path_buf(), source: e })?.len();
        let Ok(imported) = u64::try_from(previous.bytes) else { return Ok(None) };
        if length < imported {
            return Ok(None);
        }
        let hasher = history::hash_prefix(file, self.path, imported)?;
        if hasher.finalize().to_hex().as_str() != previous.blake3 {
            return self.rewind(source).map(|()| None);
        }
        if length == imported {
            let mut skipped = I::SKIPPED.to_vec();
            skipped.push(UNCHANGED_PREFIX);
            let counts = previous.counts(&skipped);
            return Ok(Some(ImportReport::unchanged(self.path.display().to_string(), previous.imported_at, counts)));
        }
        // Rows the earlier import skipped as invalid would refuse a whole read now.
        let refused_before = previous.rejected_rows && !self.options.skip_invalid;
        match previous.resume_point().filter(|_| !refused_before) {
            Some(point) => source.reading = Reading::Resume { point, hasher: Box::new(hasher), hashed: imported },
            None => self.rewind(source)?,
        }
        Ok(None)
    }

    fn rewind(&self, source: &mut Source<'_>) -> Result<()> {
        source
            .input
            .file()
            .and_then(|file| file.seek(SeekFrom::Start(0)))
            .map(drop)
            .map_err(|e| Error::Read { path: self.path.to_path_buf(), source: e })
    }

    fn load_and_merge<C: StageBackend>(&self, conn: &mut C, source: Source<'_>) -> Result<ImportReport> {
        let started = Instant::now();
        let Parsed { report, tally, read } = C::load(conn, self, source)?;
        let read_ms = millis(started);
        tracing::debug!(elapsed = ?started.elapsed(), rows = report.records, ?tally, "staged");
        let display = self.path.display().to_string();
        // Skipping invalid rows of a file the validator stopped reading would silently drop the
        // rest.
        let may_skip = self.options.skip_invalid && !report.stopped_early();
        if report.errors > 0 && !may_skip {
            let mut refused = ImportReport::refused(display, report, tally, I::SKIPPED);
            refused.timings.read_ms = read_ms;
            return Ok(refused);
        }
        let started = Instant::now();
        let lock = AdvisoryLock::DomainWrite(self.importer.domain().name());
        let timed_out = || Error::TimedOut { path: self.path.to_path_buf() };
        if self.options.expired() {
            return Err(timed_out());
        }
        let waited = C::write_lock_held(conn, self.lock_wait);
        if waited {
            tracing::warn!(
                "{}: waiting for the database's write lock: another writer (an import, a migration) holds it; waiting up to {} s",
                self.path.display(),
                self.lock_wait.as_secs()
            );
        }
        let report = conn.write_transaction(lock, |conn| {
            if let Some(left) = self.options.millis_left() {
                C::limit_statements(conn, left)?;
            }
            let merged = C::merge(conn, self.importer, self.file_name, tally.staged)?;
            let report = ImportReport::imported(display, report, tally, merged);
            if let Some(history) = I::HISTORY {
                let (bytes, hash, point) = read;
                let state = FileState::new(bytes, hash, point, &report.counts);
                C::record_history(conn, history.table, self.file_name, &state)?;
            }
            // Past the deadline nothing is committed, however far the merge got.
            if self.options.expired() {
                return Err(timed_out());
            }
            Ok::<_, Error>(report)
        });
        // A statement PostgreSQL cancelled at the deadline is the timeout too.
        let report = report.map_err(|error| match error {
            _ if self.options.expired() => timed_out(),
            Error::Query { source, .. } if is_busy(&source) => {
                Error::Locked { path: self.path.to_path_buf(), waited: self.lock_wait }
            }
            error => error,
        })?;
        tracing::debug!(elapsed = ?started.elapsed(), counts = ?report.counts, "merged");
        let mut report = report;
        report.timings = Timings { read_ms, merge_ms: millis(started) };
        Ok(report)
    }

    /// Streams the file through the validator, handing each valid row to `sink`.
    fn stream(&self, source: Source<'_>, sink: &mut dyn FnMut(I::Row) -> Result<()>) -> Result<Parsed> {
        let Source { input: mut file, path, progress, reading } = source;
        let read_error = |source| Error::Read { path: path.to_path_buf(), source };
        let mut validator = self.importer.validator()?;
        let mut staged = 0;
        // The first error staging a row; later records are not staged (the import fails).
        let mut failed: Option<Error> = None;
        let mut on_record = |record: Record| {
            if failed.is_some() {
                return;
            }
            match self.importer.row(record) {
                Ok(Some(row)) => {
                    staged += 1;
                    failed = sink(row).err();
                }
                Ok(None) => {}
                Err(Unstorable { line, what }) => {
                    failed = Some(Error::Unstorable { path: path.to_path_buf(), line, what });
                }
            }
        };
        let mut buffer = vec![0; CHUNK_BYTES];
        // Where reading starts, the hash of the bytes before `hashed`, and the rows not read again.
        let (mut position, mut hasher, mut hashed, prefix) = match reading {
            Reading::Whole => (0, blake3::Hasher::new(), 0, 0),
            Reading::Resume { point, hasher, hashed } => {
                let header_end = usize::try_from(point.header_end).unwrap_or(usize::MAX);
                let mut header = vec![0; header_end.min(MAX_HEADER_BYTES)];
                let seekable = file.file().map_err(read_error)?;
                seekable.seek(SeekFrom::Start(0)).map_err(read_error)?;
                seekable.read_exact(&mut header).map_err(read_error)?;
                validator.push_each(&header, &mut on_record);
                if header.len() == header_end && validator.resume(point) {
                    seekable.seek(SeekFrom::Start(point.byte_offset)).map_err(read_error)?;
                    (point.byte_offset, *hasher, hashed, point.records)
                } else {
                    // (Not expected: the same header was accepted before.) Read it all.
                    validator = self.importer.validator()?;
                    seekable.seek(SeekFrom::Start(0)).map_err(read_error)?;
                    (0, blake3::Hasher::new(), 0, 0)
                }
            }
        };
        loop {
            let n = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(source) => return Err(read_error(source)),
            };
            let end = position + n as u64;
            if end > hashed {
                let from = usize::try_from(hashed.saturating_sub(position)).expect("within the chunk");
                hasher.update(&buffer[from..n]);
                hashed = end;
            }
            validator.push_each(&buffer[..n], &mut on_record);
            position = end;
            progress(position);
            if self.options.expired() {
                return Err(Error::TimedOut { path: path.to_path_buf() });
            }
        }
        let point = validator.resume_point();
        let report = validator.finish_each(&mut on_record);
        let tally = Tally { staged, prefix, history: I::HISTORY.is_some() };
        match failed {
            Some(error) => Err(error),
            None => Ok(Parsed { report, tally, read: (hashed, hasher.finalize(), point) }),
        }
    }
}

/// SQLite's "database is locked": another connection held the write lock past the wait.
fn is_busy(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info) if info.message().contains("database is locked"))
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// How each backend loads a stage and calls the domain's merge.
trait StageBackend: MigrationConnection {
    /// Runs `work` with `stage` created, empty, and drops it afterwards.
    fn with_stage<T>(conn: &mut Self, stage: &Stage, work: impl FnOnce(&mut Self) -> Result<T>) -> Result<T>;
    fn load<I: Importer>(conn: &mut Self, job: &Job<'_, I>, source: Source<'_>) -> Result<Parsed>;
    fn merge<I: Importer>(conn: &mut Self, importer: &I, file_name: &str, staged: u64) -> Result<Merged>;
    fn read_history(conn: &mut Self, table: &str, file_name: &str) -> Result<Option<FileState>>;
    /// Cancels any statement of the current transaction that runs longer than `millis`.
    fn limit_statements(conn: &mut Self, millis: u64) -> Result<()>;
    /// Whether another writer holds the write lock the merge is about to wait for (asked
    /// without waiting), so the wait can be announced.
    fn write_lock_held(conn: &mut Self, wait: Duration) -> bool;
    fn record_history(conn: &mut Self, table: &str, file_name: &str, state: &FileState) -> Result<()>;
}

/// The history's two statements on `$conn`, with the backend's placeholders.
macro_rules! history_statements {
    ($select:expr, $upsert:expr) => {
        fn read_history(conn: &mut Self, table: &str, file_name: &str) -> Result<Option<FileState>> {
            diesel::sql_query(history::select_sql(table, $select))
                .bind::<Text, _>(file_name)
                .get_result::<FileState>(conn)
                .optional()
                .map_err(query_error("read what was imported of the file before"))
        }

        fn record_history(conn: &mut Self, table: &str, file_name: &str, state: &FileState) -> Result<()> {
            diesel::sql_query(history::upsert_sql(table, $upsert))
                .bind::<Text, _>(file_name)
                .bind::<BigInt, _>(state.bytes)
                .bind::<Text, _>(&state.blake3)
                .bind::<Nullable<BigInt>, _>(state.header_end)
                .bind::<Nullable<BigInt>, _>(state.resume_line)
                .bind::<Nullable<BigInt>, _>(state.resume_offset)
                .bind::<Nullable<BigInt>, _>(state.resume_records)
                .bind::<Bool, _>(state.rejected_rows)
                .bind::<Timestamp, _>(state.imported_at)
                .bind::<Text, _>(&state.counts)
                .execute(conn)
                .map(drop)
                .map_err(query_error("record what was imported of the file"))
        }
    };
}

impl StageBackend for PgConnection {
    /// The whole import is one transaction: the stage is created `ON COMMIT DROP`, loaded,
    /// and merged under the domain's lock, which is taken only then (an advisory lock can be
    /// taken mid-transaction), so concurrent imports still load side by side. One commit, one
    /// flush of the log, instead of one each for creating, loading, merging and dropping.
    fn with_stage<T>(conn: &mut Self, stage: &Stage, work: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        conn.transaction(|conn| {
            conn.batch_execute(&stage.create_sql(Backend::Postgres)).map_err(query_error("create the stage table"))?;
            work(conn)
        })
    }

    /// One `COPY`, fed as the file is read (its callback is `Fn`: what it changes lives in
    /// cells).
    fn load<I: Importer>(conn: &mut Self, job: &Job<'_, I>, source: Source<'_>) -> Result<Parsed> {
        let path = source.path;
        let source = RefCell::new(Some(source));
        let parsed = RefCell::new(None);
        // An error of the reading side, kept as it is: PostgreSQL only sends its text back.
        let failed = RefCell::new(None);
        let copied = diesel::copy_from(anchor::import_stage::table)
            .from_raw_data(StageTarget::<I>(PhantomData), |copy| {
                let mut pending = Vec::with_capacity(COPY_FLUSH_BYTES + 4096);
                let mut send = |pending: &mut Vec<u8>| {
                    let result = copy.write_all(pending);
                    pending.clear();
                    result.map_err(|source| Error::Read { path: path.to_path_buf(), source })
                };
                let source = source.borrow_mut().take().expect("COPY calls its callback once");
                let result = job
                    .stream(source, &mut |row| {
                        stage::copy_row(&row, &mut pending);
                        if pending.len() >= COPY_FLUSH_BYTES { send(&mut pending) } else { Ok(()) }
                    })
                    .and_then(|result| send(&mut pending).map(|()| result));
                match result {
                    Ok(result) => {
                        *parsed.borrow_mut() = Some(result);
                        Ok(())
                    }
                    Err(error) => {
                        let message = error.to_string();
                        *failed.borrow_mut() = Some(error);
                        Err(Error::Query { context: message, source: diesel::result::Error::RollbackTransaction })
                    }
                }
            })
            .execute(conn);
        if let Some(error) = failed.into_inner() {
            return Err(error);
        }
        copied?;
        Ok(parsed.into_inner().expect("the COPY callback ran to the end"))
    }

    fn merge<I: Importer>(conn: &mut Self, importer: &I, file_name: &str, staged: u64) -> Result<Merged> {
        importer.merge_postgres(conn, file_name, staged)
    }

    fn limit_statements(conn: &mut Self, millis: u64) -> Result<()> {
        diesel::connection::SimpleConnection::batch_execute(conn, &format!("SET LOCAL statement_timeout = {millis}"))
            .map_err(query_error("limit the merge to the time left"))
    }

    /// The domain's advisory lock is taken inside the merge's transaction, and a waiter there
    /// shows in `pg_stat_activity`: not announced.
    fn write_lock_held(_: &mut Self, _: Duration) -> bool {
        false
    }

    history_statements!("$1", ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10"]);
}

impl StageBackend for SqliteConnection {
    /// The stage lives in the temporary database: created and loaded before the merge takes
    /// the write lock (`BEGIN IMMEDIATE`), dropped after it.
    fn with_stage<T>(conn: &mut Self, stage: &Stage, work: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        conn.batch_execute(&stage.create_sql(Backend::Sqlite)).map_err(query_error("create the stage table"))?;
        let result = work(conn);
        let dropped = conn.batch_execute(&stage.drop_sql(Backend::Sqlite)).map_err(query_error("drop the stage table"));
        let value = result?;
        dropped?;
        Ok(value)
    }

    /// Multi-row inserts of a fixed size (one prepared statement, reused), in one
    /// transaction; the stage is in the temporary database, so loading takes no lock on the
    /// main one and concurrent imports load side by side.
    fn load<I: Importer>(conn: &mut Self, job: &Job<'_, I>, source: Source<'_>) -> Result<Parsed> {
        let batch_rows = SQLITE_MAX_PARAMETERS / (I::STAGE.columns.len() + 1);
        let insert = |conn: &mut SqliteConnection, rows: &[I::Row]| {
            SqliteInsert { stage: &I::STAGE, rows }.run(conn).map_err(query_error("load the file into the stage table"))
        };
        conn.transaction(|conn| {
            let mut batch: Vec<I::Row> = Vec::with_capacity(batch_rows);
            let parsed = job.stream(source, &mut |row| {
                batch.push(row);
                if batch.len() == batch_rows {
                    insert(conn, &batch)?;
                    batch.clear();
                }
                Ok(())
            })?;
            insert(conn, &batch)?;
            Ok(parsed)
        })
    }

    fn merge<I: Importer>(conn: &mut Self, importer: &I, file_name: &str, staged: u64) -> Result<Merged> {
        importer.merge_sqlite(conn, file_name, staged)
    }

    /// SQLite cannot cancel a statement from here: the deadline is checked before the commit.
    fn limit_statements(_: &mut Self, _: u64) -> Result<()> {
        Ok(())
    }

    fn write_lock_held(conn: &mut Self, wait: Duration) -> bool {
        // BEGIN IMMEDIATE with no wait: refused only while another connection writes.
        let probe = conn.batch_execute("PRAGMA busy_timeout = 0; BEGIN IMMEDIATE; ROLLBACK;");
        let _ = conn.batch_execute(&format!("PRAGMA busy_timeout = {}", wait.as_millis()));
        probe.is_err()
    }

    history_statements!("?", ["?"; 10]);
}

mod anchor {
    diesel::table! {
        /// Only names a table type for `COPY`'s API; the statement names the importer's stage
        /// ([`StageTarget`](super::StageTarget)).
        import_stage (line) {
            line -> BigInt,
        }
    }
}

/// `COPY <stage> FROM STDIN` for importer `I`'s stage: every column, in the declared order
/// (the table was created from the same declaration).
struct StageTarget<I>(PhantomData<I>);

impl<I: Importer> CopyTarget for StageTarget<I> {
    type Table = anchor::import_stage::table;
    type SqlType = BigInt;

    fn walk_target(mut pass: diesel::query_builder::AstPass<'_, '_, diesel::pg::Pg>) -> QueryResult<()> {
        pass.push_identifier(I::STAGE.table)
    }
}
