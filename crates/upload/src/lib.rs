//! Upload infrastructure (seed 003): the retail planning tables and their uploads.
//!
//! The tables: as they stood before the seed's phase (`store_clusters`, `categories`,
//! `stores`, `workflows`, `historical_sales`), the seed's `weekly_actuals` with its unique
//! key, cascading foreign keys and indexes, each workflow's forecasts per week and store, and
//! the columns the real files need (daily sales with revenue, the stores' fashion tier). The
//! schema is checked by `intake migrate check --domain upload`; [`stats`] is the seed's table
//! statistics.
//!
//! The uploads ([`Upload`]): store attributes, historical sales and weekly actuals. Each file
//! goes through the import layer (`import-core`): checked by the validator crate's kind for it
//! (the very code the browser runs) against what the tables know ([`Upload::context`]), then
//! written in one transaction, all rows or none. A file or an HTTP body is read once, as it
//! arrives ([`upload_stream`]), within a size limit ([`DEFAULT_MAX_BYTES`]).
//!
//! ```
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&upload::MIGRATIONS])?.run(&db, None)?;
//! let stores = "store_id,store_name,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,fashion_tier,store_format,region\n\
//!               S001,Harbor Point,50000,25000,125000,A,Premium,MALL,NORTHEAST\n";
//! let report = upload::upload_stream(&db, &upload::Upload::StoreAttributes, "stores.csv", &mut stores.as_bytes(),
//!     upload::UploadOptions::default(), &mut |_| {})?;
//! assert_eq!(report.count("new_stores"), Some(1));
//! assert!(upload::stats(&db)?.contains(&("stores", 1)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::Read;
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use import_core::{ImportOptions, ImportReport, Importer, Session};
use migration_core::{Database, dispatch};
use upload_validator::PayloadKind;

mod conn;
mod planning;
mod sales;
mod stores;
mod weekly;

pub use planning::{Week, historical_sales_context, store_ids};
pub use sales::{HistoricalSales, sale_id};
pub use stores::StoreAttributes;
pub use weekly::{Classification, WeeklyActuals};

/// The largest upload accepted unless told otherwise: 50 MB.
pub const DEFAULT_MAX_BYTES: u64 = 50 * 1000 * 1000;

/// Why an upload could not run. A file with invalid rows is not an error: its report says
/// why nothing was written ([`import_core::Outcome::Refused`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No workflow has this id.
    #[error("workflow {0:?} does not exist; check the id, or create the workflow first")]
    UnknownWorkflow(String),
    /// The week is not one of the workflow's.
    #[error("week {week_number} is not a week of workflow {workflow_id}: weeks count from 1, from the season's start")]
    BadWeek {
        /// The workflow.
        workflow_id: String,
        /// The week asked for.
        week_number: u32,
    },
    /// There are no stores to upload anything for.
    #[error("no stores are known yet; upload the store attributes first")]
    NoStores,
    /// There are no categories to map the file's category names to.
    #[error("no categories are known yet; add them to the categories table first")]
    NoCategories,
    /// The file is larger than the limit; nothing was written.
    #[error(
        "{name} is larger than the upload limit of {limit} bytes; nothing was written: split the file, or raise the limit"
    )]
    TooLarge {
        /// The file.
        name: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The import failed (a domain rule refused the file, a statement failed, the file could
    /// not be read); nothing was written.
    #[error(transparent)]
    Import(#[from] import_core::Error),
    /// Connecting failed.
    #[error(transparent)]
    Database(#[from] migration_core::Error),
}

impl Error {
    fn query(context: &str, source: diesel::result::Error) -> Error {
        Error::Import(import_core::Error::Query { context: context.to_owned(), source })
    }
}

/// What a file is uploaded as, and into what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    /// The store master: one row per store.
    StoreAttributes,
    /// Daily sales per category and store.
    HistoricalSales,
    /// The daily sales of one week of one workflow.
    WeeklyActuals {
        /// The workflow.
        workflow_id: String,
        /// The week of its season, from 1.
        week_number: u32,
    },
}

/// How an upload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOptions {
    /// Overwrite what was uploaded before (a week's rows, days of historical sales) instead
    /// of refusing the file.
    pub replace: bool,
    /// Refuse a file larger than this many bytes.
    pub max_bytes: u64,
    /// The import layer's options (a deadline; `skip_invalid`).
    pub import: ImportOptions,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions { replace: false, max_bytes: DEFAULT_MAX_BYTES, import: ImportOptions::default() }
    }
}

impl Upload {
    /// The validator's kind for the file.
    pub fn kind(&self) -> PayloadKind {
        match self {
            Upload::StoreAttributes => PayloadKind::StoreAttributes,
            Upload::HistoricalSales => PayloadKind::HistoricalSales,
            Upload::WeeklyActuals { .. } => PayloadKind::WeeklyActuals,
        }
    }

    /// The validator's context for the file as JSON, for the browser to check the file
    /// against exactly what the server will (`{}` for store attributes).
    pub fn context(&self, db: &Database) -> Result<String, Error> {
        let json = match self {
            Upload::StoreAttributes => serde_json::json!({}),
            Upload::HistoricalSales => serde_json::to_value(historical_sales_context(db)?).expect("serializable"),
            Upload::WeeklyActuals { workflow_id, week_number } => {
                let week = Week::load(db, workflow_id, *week_number)?;
                serde_json::to_value(week.context(db)?).expect("serializable")
            }
        };
        Ok(json.to_string())
    }
}

/// Uploads the file at `path` (see [`upload_stream`]); a file over the limit is refused
/// before it is read.
pub fn upload_file(
    db: &Database,
    upload: &Upload,
    path: &Path,
    options: UploadOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, Error> {
    let name = path.display().to_string();
    let size =
        std::fs::metadata(path).map_err(|source| import_core::Error::Read { path: path.to_path_buf(), source })?.len();
    if size > options.max_bytes {
        return Err(Error::TooLarge { name, limit: options.max_bytes });
    }
    with_importer(db, upload, options, Input::File(path), progress)
}

/// Uploads `stream` as a file called `name`: validated as it is read, then written in one
/// transaction, all rows or none. A stream longer than `options.max_bytes` fails with
/// [`Error::TooLarge`] as soon as it passes the limit, and nothing is written.
pub fn upload_stream(
    db: &Database,
    upload: &Upload,
    name: &str,
    stream: &mut dyn Read,
    options: UploadOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, Error> {
    let mut limited = Limited { inner: stream, left: options.max_bytes, exceeded: false };
    let result = with_importer(db, upload, options, Input::Stream(name, &mut limited), progress);
    if limited.exceeded {
        return Err(Error::TooLarge { name: name.to_owned(), limit: options.max_bytes });
    }
    result
}

/// What an upload reads.
enum Input<'a> {
    File(&'a Path),
    Stream(&'a str, &'a mut dyn Read),
}

/// Opens a session with `upload`'s importer and imports `input` through it.
fn with_importer(
    db: &Database,
    upload: &Upload,
    options: UploadOptions,
    input: Input<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, Error> {
    fn import<I: Importer>(
        db: &Database,
        importer: I,
        input: Input<'_>,
        options: ImportOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportReport, Error> {
        let session = Session::open(db, importer)?;
        Ok(match input {
            Input::File(path) => session.import(path, options, progress)?,
            Input::Stream(name, stream) => session.import_stream(name, stream, options, progress)?,
        })
    }
    match upload {
        Upload::StoreAttributes => import(db, StoreAttributes, input, options.import, progress),
        Upload::HistoricalSales => {
            let importer = HistoricalSales { context: historical_sales_context(db)?, replace: options.replace };
            import(db, importer, input, options.import, progress)
        }
        Upload::WeeklyActuals { workflow_id, week_number } => {
            let week = Week::load(db, workflow_id, *week_number)?;
            let importer = WeeklyActuals { context: week.context(db)?, week, replace: options.replace };
            import(db, importer, input, options.import, progress)
        }
    }
}

/// A stream that fails once more than `left` bytes came through it.
struct Limited<'a> {
    inner: &'a mut dyn Read,
    left: u64,
    exceeded: bool,
}

impl Read for Limited<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => {
                self.exceeded = true;
                Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, "the upload is larger than its limit"))
            }
        }
    }
}

/// The `upload` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The domain's tables, parents first.
pub const TABLES: [&str; 7] =
    ["store_clusters", "categories", "stores", "workflows", "workflow_forecasts", "historical_sales", "weekly_actuals"];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The row count of each table (the seed's "table statistics"), in [`TABLES`] order, read in
/// one statement so the counts are of one moment.
pub fn stats(db: &Database) -> Result<Vec<(&'static str, i64)>, migration_core::Error> {
    let mut connection = db.get()?;
    let sql: Vec<String> =
        TABLES.iter().map(|t| format!("SELECT CAST('{t}' AS TEXT) AS name, count(*) AS n FROM {t}")).collect();
    let counts: Vec<Count> =
        dispatch!(connection, conn => diesel::sql_query(sql.join(" UNION ALL ")).load(conn)).map_err(|source| {
            migration_core::Error::Query { context: "counting the upload tables' rows".into(), source }
        })?;
    Ok(TABLES.iter().map(|table| (*table, counts.iter().find(|c| c.name == *table).map_or(0, |c| c.n))).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
