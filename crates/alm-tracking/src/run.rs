//! One import run: the files of an import date, each in its own transaction, with
//! `import_history`, `processing_status` and `processed_files` kept true.
//!
//! 1. [`Run::start`] checks the migrations, reads the configuration, and moves the date's
//!    `import_history` row PENDING → PROCESSING (creating it) and `processing_status` to
//!    PROCESSING.
//! 2. [`Run::import`] per file: a file whose name, size and SHA-256 are in `processed_files`
//!    is not read (outcome unchanged); any other is imported (a grown month-to-date file
//!    again, whole: its known rows are skipped by key). A transient database error is retried
//!    `retry_attempts` times; past `timeout_seconds` from the start the file's import is
//!    rolled back.
//! 3. [`Run::finish`] marks the date SUCCESS (every file imported or unchanged) or FAILED
//!    (with the first failure: file, line, column, rule), updates `processing_status`, archives
//!    the imported files if asked, and checks the NAV's continuity over the days imported.

use std::cell::RefCell;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text, Timestamp};
use import_core::{Counts, ImportOptions, ImportReport, Outcome, Session};
use migration_core::{Database, MigrationConnection as _, dispatch};
use sha2::{Digest as _, Sha256};

use crate::flex::{FileFacts, FlexImporter};
use crate::sql::Dialect;
use crate::tracking::{self, Configuration, ContinuityWarning, HISTORY_COLUMNS, HistoryRow, PROCESS_NAME};
use crate::{Error, Result, query_error};

/// `import_history.import_type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImportType {
    /// The daily automation.
    #[default]
    Daily,
    /// Loading past dates.
    Backfill,
    /// Run by hand.
    Manual,
}

impl ImportType {
    /// As the column holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportType::Daily => "DAILY",
            ImportType::Backfill => "BACKFILL",
            ImportType::Manual => "MANUAL",
        }
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The import date (`import_history.import_date`, `processed_files.process_date`).
    pub date: NaiveDate,
    /// What kind of run this is.
    pub import_type: ImportType,
    /// Move each imported file into `<archive>/<file type>/<date>_<file name>` and keep the
    /// newest `max_files_to_keep` there per type. Only files this archive holds under that
    /// name pattern are ever deleted: every one of them was imported. `None`: files stay
    /// where they are and nothing is deleted.
    pub archive: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunSummary {
    /// The date's `import_history` row as the run left it.
    pub history: HistoryRow,
    /// Rows this run wrote.
    pub records_imported: u64,
    /// NAV continuity breaks among the days the run's files hold (and the day before).
    pub continuity: Vec<ContinuityWarning>,
    /// Files moved into the archive, and files the archive no longer keeps.
    pub archived: Vec<String>,
    /// Archived files deleted past `max_files_to_keep`.
    pub pruned: Vec<String>,
    /// The run of the date this one took over, left PROCESSING by a run that never finished.
    pub took_over: Option<TakenOver>,
}

/// A run of the same date left PROCESSING (its process was killed, or lost its database
/// before it could record the outcome), taken over by the next run: the files it committed
/// are kept (`processed_files` knows them), the others are imported now. Runs of one date
/// are expected one at a time; a run still going would be taken over too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TakenOver {
    /// When the interrupted run started.
    pub started_at: Option<NaiveDateTime>,
}

/// An import run for one date (see the module docs).
pub struct Run<'db> {
    db: &'db Database,
    session: Session<'db, FlexImporter>,
    options: RunOptions,
    configuration: Configuration,
    deadline: Instant,
    /// Each file imported, refused or unchanged so far.
    done: RefCell<Vec<Done>>,
    /// The run's first failure.
    failure: RefCell<Option<String>>,
    took_over: Option<TakenOver>,
}

/// A file the run has been through.
struct Done {
    path: PathBuf,
    outcome: Outcome,
    /// Rows written.
    inserted: u64,
    /// Its report type, the archive's folder.
    file_type: Option<String>,
}

/// Expands folders into the `.xml` files they hold (sorted by name), keeping files as given.
pub fn files_in(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let read = |source| Error::Read { path: path.clone(), source };
        let mut found: Vec<PathBuf> = fs::read_dir(path)
            .map_err(read)?
            .map(|entry| entry.map(|e| e.path()).map_err(read))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")))
            .collect();
        if found.is_empty() {
            return Err(Error::NoFiles { path: path.clone() });
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

#[derive(QueryableByName)]
struct KnownFile {
    #[diesel(sql_type = Text)]
    file_type: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    file_size: Option<i64>,
    #[diesel(sql_type = Date)]
    process_date: NaiveDate,
    #[diesel(sql_type = Nullable<Integer>)]
    records_count: Option<i32>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    created_at: Option<NaiveDateTime>,
}

/// The `{Type}` of IB's `{Type}_({queryId})_{MTD|LBD}.xml`.
fn type_from_name(name: &str) -> Option<String> {
    let (kind, rest) = name.split_once("_(")?;
    let (query, rest) = rest.split_once(")_")?;
    let period = rest.strip_suffix(".xml").or_else(|| rest.strip_suffix(".XML"))?;
    (query.bytes().all(|b| b.is_ascii_digit()) && !kind.is_empty() && !period.is_empty()).then(|| kind.to_owned())
}

/// Whether retrying may succeed: a deadlock, a serialization failure, a lost connection, a
/// busy SQLite file, or no connection from the pool.
fn transient(error: &import_core::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error as Diesel};
    let diesel_error = match error {
        import_core::Error::Query { source, .. } => source,
        import_core::Error::Database(migration_core::Error::Query { source, .. }) => source,
        import_core::Error::Database(migration_core::Error::Pool { .. }) => return true,
        _ => return false,
    };
    match diesel_error {
        Diesel::DatabaseError(DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::ClosedConnection, _) => true,
        Diesel::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("deadlock detected") || message.contains("database is locked")
        }
        _ => false,
    }
}

impl<'db> Run<'db> {
    /// Starts a run: the date's history row PENDING, then PROCESSING; `processing_status`
    /// PROCESSING.
    pub fn start(db: &'db Database, options: RunOptions) -> Result<Run<'db>> {
        let session = Session::open(db, FlexImporter::default())?;
        let configuration = tracking::configuration(db)?;
        let deadline = Instant::now() + Duration::from_secs(configuration.timeout_seconds);
        let dialect = Dialect(db.backend());
        let mut connection = db.get()?;
        let took_over = dispatch!(connection, conn => {
            diesel::sql_query(dialect.sql(
                "INSERT INTO alm_reporting.import_history (import_date, import_type, status, files_processed)
                 VALUES ($1, $2, 'PENDING', CAST('[]' AS JSONB)) ON CONFLICT (import_date) DO NOTHING",
            ))
            .bind::<Date, _>(options.date)
            .bind::<Text, _>(options.import_type.as_str())
            .execute(conn)
            .map_err(query_error("create the date's import_history row"))?;
            conn.write_transaction(crate::WRITE_LOCK, |conn| {
                let mark = |conn: &mut _| -> QueryResult<Option<TakenOver>> {
                #[derive(QueryableByName)]
                struct Previous {
                    #[diesel(sql_type = Text)]
                    status: String,
                    #[diesel(sql_type = Nullable<Timestamp>)]
                    started_at: Option<NaiveDateTime>,
                }
                let previous: Option<Previous> = diesel::sql_query(dialect.sql(
                    "SELECT status, started_at FROM alm_reporting.import_history WHERE import_date = $1",
                ))
                .bind::<Date, _>(options.date)
                .get_result(conn)
                .optional()?;
                let took_over = previous
                    .filter(|p| p.status == "PROCESSING")
                    .map(|p| TakenOver { started_at: p.started_at });
                diesel::sql_query(dialect.sql(
                    "UPDATE alm_reporting.import_history SET status = 'PROCESSING', import_type = $2,
                            started_at = CURRENT_TIMESTAMP, completed_at = NULL, error_message = NULL
                     WHERE import_date = $1",
                ))
                .bind::<Date, _>(options.date)
                .bind::<Text, _>(options.import_type.as_str())
                .execute(conn)?;
                diesel::sql_query(dialect.sql(
                    "UPDATE alm_reporting.processing_status SET current_state = 'PROCESSING', last_run_date = $1,
                            updated_at = CURRENT_TIMESTAMP WHERE process_name = $2",
                ))
                .bind::<Date, _>(options.date)
                .bind::<Text, _>(PROCESS_NAME)
                .execute(conn)?;
                Ok(took_over)
                };
                mark(conn).map_err(query_error("mark the run as processing"))
            })
        })?;
        if let Some(taken) = &took_over {
            tracing::warn!(date = %options.date, started_at = ?taken.started_at, "took over a run left PROCESSING");
        }
        Ok(Run {
            db,
            session,
            options,
            configuration,
            deadline,
            done: RefCell::new(Vec::new()),
            failure: RefCell::new(None),
            took_over,
        })
    }

    /// The configuration the run follows.
    pub fn configuration(&self) -> &Configuration {
        &self.configuration
    }

    /// The run of this date it took over, if one was left PROCESSING.
    pub fn took_over(&self) -> Option<&TakenOver> {
        self.took_over.as_ref()
    }

    /// The import date.
    pub fn date(&self) -> NaiveDate {
        self.options.date
    }

    /// Imports one file (see the module docs); a file that cannot be imported makes the run
    /// FAILED and leaves the database as it was.
    pub fn import(&self, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<ImportReport, import_core::Error> {
        let result = self.import_file(path, progress);
        let (result, file_type) = match result {
            Ok((report, file_type)) => (Ok(report), file_type),
            Err(error) => (Err(error), None),
        };
        let failure = match &result {
            Ok(report) if report.outcome == Outcome::Refused => Some(refusal(report)),
            Ok(_) => None,
            Err(error) => Some(error.to_string()),
        };
        if let Some(failure) = failure {
            self.failure.borrow_mut().get_or_insert(failure);
        }
        if let Ok(report) = &result {
            let done =
                Done { path: path.to_path_buf(), outcome: report.outcome, inserted: report.counts.inserted, file_type };
            self.done.borrow_mut().push(done);
        }
        result
    }

    /// The file's report and its type.
    fn import_file(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(ImportReport, Option<String>), import_core::Error> {
        let read_error = |source| import_core::Error::Read { path: path.to_path_buf(), source };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let size = fs::metadata(path).map_err(read_error)?.len();
        let sha256 = sha256_of(path).map_err(read_error)?;
        if let Some(known) = self.known(&name, &sha256)?
            && known.file_size == i64::try_from(size).ok()
        {
            let since = known.created_at.unwrap_or_else(|| known.process_date.and_time(chrono::NaiveTime::MIN));
            let counts = Counts {
                rows_read: known.records_count.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                inserted: 0,
                skipped: Vec::new(),
                rejected: 0,
                details: Vec::new(),
            };
            let report = ImportReport::unchanged(path.display().to_string(), since, counts);
            return Ok((report, Some(known.file_type)));
        }
        *self.session.importer().file.borrow_mut() = Some(FileFacts {
            name_type: type_from_name(&name),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            sha256,
            process_date: self.options.date,
        });
        let options = ImportOptions { skip_invalid: false, deadline: Some(self.deadline) };
        let mut attempt = 0;
        loop {
            match self.session.import(path, options, progress) {
                Err(error) if transient(&error) && attempt < self.configuration.retry_attempts => {
                    attempt += 1;
                    tracing::warn!(file = %path.display(), attempt, %error, "transient database error; trying again");
                    std::thread::sleep(Duration::from_millis(100 << attempt.min(6)));
                }
                result => {
                    let file_type = type_from_name(&name).unwrap_or_else(|| self.session.importer().file_type_of());
                    return result.map(|report| (report, Some(file_type)));
                }
            }
        }
    }

    /// The recorded import of this name and content, if any.
    fn known(&self, name: &str, sha256: &str) -> Result<Option<KnownFile>, import_core::Error> {
        let dialect = Dialect(self.db.backend());
        let mut connection = self.db.get()?;
        dispatch!(connection, conn => {
            diesel::sql_query(dialect.sql(
                "SELECT file_type, file_size, process_date, records_count, created_at
                 FROM alm_reporting.processed_files WHERE file_name = $1 AND file_hash = $2",
            ))
            .bind::<Text, _>(name)
            .bind::<Text, _>(sha256)
            .get_result::<KnownFile>(conn)
            .optional()
            .map_err(import_core::query_error("look the file up in processed_files"))
        })
    }

    /// Ends the run: the date's history row SUCCESS or FAILED, `processing_status` READY or
    /// FAILED, the archive kept, the NAV checked.
    pub fn finish(self) -> Result<RunSummary> {
        let done = self.done.take();
        let failure = self.failure.take();
        let records: u64 = done.iter().map(|file| file.inserted).sum();
        let files: Vec<String> = done
            .iter()
            .filter(|file| file.outcome != Outcome::Refused)
            .map(|file| file.path.display().to_string())
            .collect();
        let (archived, pruned) = match &self.options.archive {
            Some(archive) => self.archive(archive, &done)?,
            None => (Vec::new(), Vec::new()),
        };
        let dialect = Dialect(self.db.backend());
        let date = self.options.date;
        let mut connection = self.db.get()?;
        let history = dispatch!(connection, conn => {
            conn.write_transaction(crate::WRITE_LOCK, |conn| {
                let record = |conn: &mut _| -> QueryResult<HistoryRow> {
                let before = diesel::sql_query(dialect.sql(&format!(
                    "SELECT {HISTORY_COLUMNS} FROM alm_reporting.import_history WHERE import_date = $1"
                )))
                .bind::<Date, _>(date)
                .get_result::<HistoryRow>(conn)?;
                let mut all = before.files();
                for file in &files {
                    if !all.contains(file) {
                        all.push(file.clone());
                    }
                }
                let total = i64::from(before.records_imported.unwrap_or(0)) + i64::try_from(records).unwrap_or(i64::MAX);
                let status = if failure.is_some() { "FAILED" } else { "SUCCESS" };
                diesel::sql_query(dialect.sql(
                    "UPDATE alm_reporting.import_history SET status = $2, files_processed = CAST($3 AS JSONB),
                            records_imported = $4, completed_at = CURRENT_TIMESTAMP, error_message = $5
                     WHERE import_date = $1",
                ))
                .bind::<Date, _>(date)
                .bind::<Text, _>(status)
                .bind::<Text, _>(serde_json::to_string(&all).expect("strings serialise"))
                .bind::<Integer, _>(i32::try_from(total).unwrap_or(i32::MAX))
                .bind::<Nullable<Text>, _>(failure.as_deref())
                .execute(conn)?;
                let status_update = if failure.is_some() {
                    "UPDATE alm_reporting.processing_status SET current_state = 'FAILED',
                            error_count = coalesce(error_count, 0) + 1, updated_at = CURRENT_TIMESTAMP
                     WHERE process_name = $1"
                } else {
                    "UPDATE alm_reporting.processing_status SET current_state = 'READY', last_success_date = $2,
                            error_count = 0, updated_at = CURRENT_TIMESTAMP
                     WHERE process_name = $1"
                };
                let update = diesel::sql_query(dialect.sql(status_update)).bind::<Text, _>(PROCESS_NAME);
                if failure.is_some() {
                    update.execute(conn)?;
                } else {
                    update.bind::<Date, _>(date).execute(conn)?;
                }
                diesel::sql_query(dialect.sql(&format!(
                    "SELECT {HISTORY_COLUMNS} FROM alm_reporting.import_history WHERE import_date = $1"
                )))
                .bind::<Date, _>(date)
                .get_result::<HistoryRow>(conn)
                };
                record(conn).map_err(query_error("record the run's end in import_history and processing_status"))
            })
        })?;
        let continuity = match self.session.importer().days_seen() {
            Some((from, to)) => tracking::continuity_between(self.db, from, to)?,
            None => Vec::new(),
        };
        Ok(RunSummary {
            history,
            records_imported: records,
            continuity,
            archived,
            pruned,
            took_over: self.took_over.clone(),
        })
    }

    /// Moves the imported files into the archive and prunes each type's folder.
    fn archive(&self, archive: &Path, done: &[Done]) -> Result<(Vec<String>, Vec<String>)> {
        let error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Archive { path, source }
        };
        let (mut archived, mut pruned) = (Vec::new(), Vec::new());
        let mut folders = std::collections::BTreeSet::new();
        for Done { path, outcome, file_type, .. } in done {
            if *outcome == Outcome::Refused {
                continue;
            }
            let folder = archive.join(file_type.as_deref().unwrap_or("Other"));
            fs::create_dir_all(&folder).map_err(error(&folder))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let target = folder.join(format!("{}_{name}", self.options.date));
            if fs::rename(path, &target).is_err() {
                // Another file system: copy, then remove.
                fs::copy(path, &target).map_err(error(&target))?;
                fs::remove_file(path).map_err(error(path))?;
            }
            archived.push(target.display().to_string());
            folders.insert(folder);
        }
        let keep = usize::try_from(self.configuration.max_files_to_keep).unwrap_or(usize::MAX);
        for folder in folders {
            let mut kept: Vec<PathBuf> = fs::read_dir(&folder)
                .map_err(error(&folder))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(archived_name))
                .collect();
            // Newest first: the names start with the import date.
            kept.sort_by(|a, b| b.file_name().cmp(&a.file_name()));
            for old in kept.into_iter().skip(keep) {
                fs::remove_file(&old).map_err(error(&old))?;
                pruned.push(old.display().to_string());
            }
        }
        Ok((archived, pruned))
    }
}

/// `YYYY-MM-DD_<name>.xml`: a name only the archive writes.
fn archived_name(name: &str) -> bool {
    name.len() > 11
        && NaiveDate::parse_from_str(&name[..10], "%Y-%m-%d").is_ok()
        && name.as_bytes()[10] == b'_'
        && name.to_ascii_lowercase().ends_with(".xml")
}

/// The first error of a refused file: where and which rule.
fn refusal(report: &ImportReport) -> String {
    let first = report.validation.as_ref().and_then(|v| {
        v.findings.iter().find(|f| f.severity == upload_validator::Severity::Error).map(|f| {
            let column = f.column.map(|c| format!(", column {c}")).unwrap_or_default();
            let name = f.column_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            format!("line {}{column}{name}, rule {}: {}", f.line, f.rule.code(), f.message)
        })
    });
    format!("{}: not imported: {}", report.file, first.unwrap_or_else(|| "it has errors".into()))
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlocks_busy_files_and_lost_connections_are_retried_nothing_else() {
        use diesel::result::{DatabaseErrorKind, Error as Diesel};
        let query = |source: Diesel| import_core::Error::Query { context: "merge".into(), source };
        let database = |kind, message: &str| query(Diesel::DatabaseError(kind, Box::new(message.to_owned())));
        assert!(transient(&database(DatabaseErrorKind::SerializationFailure, "could not serialize access")));
        assert!(transient(&database(DatabaseErrorKind::ClosedConnection, "server closed the connection")));
        assert!(transient(&database(DatabaseErrorKind::Unknown, "deadlock detected")));
        assert!(transient(&database(DatabaseErrorKind::Unknown, "database is locked")));
        assert!(!transient(&database(DatabaseErrorKind::UniqueViolation, "duplicate key value")));
        assert!(!transient(&database(DatabaseErrorKind::Unknown, "syntax error")));
        assert!(!transient(&import_core::Error::TimedOut { path: "f.xml".into() }));
        assert!(!transient(&query(Diesel::NotFound)));
    }

    #[test]
    fn ib_names_give_the_report_type() {
        assert_eq!(type_from_name("NAV_(1244257)_MTD.xml").as_deref(), Some("NAV"));
        assert_eq!(type_from_name("Cash_Transactions_(1257703)_LBD.xml").as_deref(), Some("Cash_Transactions"));
        assert_eq!(
            type_from_name("Exercises_and_Expiries_(1257675)_MTD.xml").as_deref(),
            Some("Exercises_and_Expiries")
        );
        assert_eq!(type_from_name("trades.xml"), None);
        assert_eq!(type_from_name("NAV_(12x)_MTD.xml"), None);
        assert!(archived_name("2025-07-19_NAV_(1244257)_MTD.xml"));
        assert!(!archived_name("NAV_(1244257)_MTD.xml"));
    }
}
