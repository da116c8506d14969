//! What the tracking tables say: the automation's status and configuration
//! (`processing_status`), the import history, and the gaps and NAV breaks in the data.

use std::collections::BTreeMap;

use chrono::{Datelike as _, NaiveDate, NaiveDateTime, Weekday};
use diesel::prelude::*;
use diesel::sql_types::{Date, Integer, Nullable, Text, Timestamp};
use migration_core::{Database, MigrationConnection as _, dispatch};

use crate::amount::Amount;
use crate::flex::COMPONENTS;
use crate::sql::Dialect;
use crate::{Error, Result, query_error};

/// The `processing_status` row the import keeps (the seed's default row).
pub const PROCESS_NAME: &str = "ALM_DAILY_AUTOMATION";

/// The configuration keys `intake alm config set` accepts, with their ranges and meaning.
pub const CONFIG_KEYS: &[(&str, u64, u64, &str)] = &[
    ("retry_attempts", 0, 10, "times a file is tried again after a transient database error"),
    ("timeout_seconds", 1, 86_400, "seconds a run may take; a file still importing then is rolled back"),
    ("max_files_to_keep", 1, 10_000, "imported files kept per report type in the archive folder"),
];

/// `ALM_DAILY_AUTOMATION`'s configuration, with the seed's defaults for missing keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Configuration {
    /// Retries after a transient database error (deadlock, serialization failure, lost
    /// connection, busy SQLite file).
    pub retry_attempts: u32,
    /// How long a run may take.
    pub timeout_seconds: u64,
    /// Files kept per report type in the archive (see [`RunOptions::archive`](crate::RunOptions)).
    pub max_files_to_keep: u64,
}

impl Default for Configuration {
    fn default() -> Self {
        Configuration { retry_attempts: 3, timeout_seconds: 300, max_files_to_keep: 3 }
    }
}

impl Configuration {
    fn from_json(text: Option<&str>) -> Configuration {
        let value: serde_json::Value = text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        let get = |key: &str| value.get(key).and_then(serde_json::Value::as_u64);
        let defaults = Configuration::default();
        Configuration {
            retry_attempts: get("retry_attempts")
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(defaults.retry_attempts),
            timeout_seconds: get("timeout_seconds").unwrap_or(defaults.timeout_seconds),
            max_files_to_keep: get("max_files_to_keep").unwrap_or(defaults.max_files_to_keep),
        }
    }
}

/// The automation's state: the `processing_status` row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    /// `READY`, `PROCESSING`, or `FAILED` after a failed run.
    pub current_state: String,
    /// The import date of the last run.
    pub last_run_date: Option<NaiveDate>,
    /// The import date of the last successful run.
    pub last_success_date: Option<NaiveDate>,
    /// Failed runs since the last successful one.
    pub error_count: i32,
    /// When the row last changed (UTC).
    pub updated_at: Option<NaiveDateTime>,
    /// Its configuration.
    pub configuration: Configuration,
    /// Rows in the data tables and files recorded.
    pub events: i64,
    /// Days in `daily_summary`.
    pub days: i64,
    /// Files in `processed_files`.
    pub files: i64,
    /// The last import date in `import_history`, with its status.
    pub last_import: Option<HistoryRow>,
}

#[derive(QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = Text)]
    current_state: String,
    #[diesel(sql_type = Nullable<Date>)]
    last_run_date: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    last_success_date: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Integer>)]
    error_count: Option<i32>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    updated_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    configuration: Option<String>,
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// One `import_history` row.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, serde::Serialize)]
pub struct HistoryRow {
    /// The import date (one row each).
    #[diesel(sql_type = Date)]
    pub import_date: NaiveDate,
    /// `DAILY`, `BACKFILL` or `MANUAL`.
    #[diesel(sql_type = Nullable<Text>)]
    pub import_type: Option<String>,
    /// `PENDING`, `PROCESSING`, `SUCCESS` or `FAILED`.
    #[diesel(sql_type = Text)]
    pub status: String,
    /// The files of the date's runs (JSON array text).
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(serialize_with = "as_json")]
    pub files_processed: Option<String>,
    /// Rows the date's runs wrote.
    #[diesel(sql_type = Nullable<Integer>)]
    pub records_imported: Option<i32>,
    /// When the last run started (UTC).
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub started_at: Option<NaiveDateTime>,
    /// When it ended (UTC).
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub completed_at: Option<NaiveDateTime>,
    /// Why it failed.
    #[diesel(sql_type = Nullable<Text>)]
    pub error_message: Option<String>,
}

impl HistoryRow {
    /// The files as a list.
    pub fn files(&self) -> Vec<String> {
        self.files_processed.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
    }
}

fn as_json<S: serde::Serializer>(text: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize as _;
    let value: Option<serde_json::Value> = text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    value.serialize(serializer)
}

/// The automation's `processing_status` row (`$1`: its name).
const STATUS_ROW: &str = "SELECT current_state, last_run_date, last_success_date, error_count, updated_at,
        CAST(configuration AS TEXT) AS configuration
 FROM alm_reporting.processing_status WHERE process_name = $1";

pub(crate) const HISTORY_COLUMNS: &str = "import_date, import_type, status, CAST(files_processed AS TEXT) AS files_processed, records_imported, started_at, completed_at, error_message";

/// The `ALM_DAILY_AUTOMATION` row; an error if a migration's default row is gone.
fn status_row(db: &Database) -> Result<StatusRow> {
    let mut connection = db.get()?;
    let dialect = Dialect(db.backend());
    let row = dispatch!(connection, conn => diesel::sql_query(dialect.sql(STATUS_ROW))
        .bind::<Text, _>(PROCESS_NAME)
        .get_result::<StatusRow>(conn)
        .optional())
    .map_err(query_error("read processing_status"))?;
    row.ok_or_else(|| Error::Config {
        key: PROCESS_NAME.into(),
        reason: "its processing_status row is missing; apply the alm_tracking migrations again".into(),
    })
}

/// Reads the automation's status.
pub fn status(db: &Database) -> Result<Status> {
    let row = status_row(db)?;
    let mut connection = db.get()?;
    let dialect = Dialect(db.backend());
    dispatch!(connection, conn => {
        let total = |conn: &mut _, table: &str| {
            diesel::sql_query(format!("SELECT count(*) AS n FROM {}", dialect.table(table)))
                .get_result::<Total>(conn)
                .map(|t| t.n)
                .map_err(query_error("count the imported rows"))
        };
        let last_import = diesel::sql_query(dialect.sql(&format!(
            "SELECT {HISTORY_COLUMNS} FROM alm_reporting.import_history ORDER BY import_date DESC LIMIT 1"
        )))
        .get_result::<HistoryRow>(conn)
        .optional()
        .map_err(query_error("read import_history"))?;
        Ok(Status {
            current_state: row.current_state,
            last_run_date: row.last_run_date,
            last_success_date: row.last_success_date,
            error_count: row.error_count.unwrap_or(0),
            updated_at: row.updated_at,
            configuration: Configuration::from_json(row.configuration.as_deref()),
            events: total(conn, "chronological_events")?,
            days: total(conn, "daily_summary")?,
            files: total(conn, "processed_files")?,
            last_import,
        })
    })
}

/// Reads the configuration (the seed's defaults where a key is missing): the status row
/// alone, not the counts `status` adds (a run reads it at every start).
pub(crate) fn configuration(db: &Database) -> Result<Configuration> {
    status_row(db).map(|row| Configuration::from_json(row.configuration.as_deref()))
}

/// Sets one configuration key of `ALM_DAILY_AUTOMATION` (see [`CONFIG_KEYS`]); other keys in
/// the JSON are kept. Returns the new configuration.
pub fn set_config(db: &Database, key: &str, value: &str) -> Result<Configuration> {
    let Some(&(key, min, max, _)) = CONFIG_KEYS.iter().find(|(k, ..)| *k == key) else {
        let known: Vec<&str> = CONFIG_KEYS.iter().map(|(k, ..)| *k).collect();
        return Err(Error::Config {
            key: key.into(),
            reason: format!("unknown key; the keys are {}", known.join(", ")),
        });
    };
    let number: u64 = value.trim().parse().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| Error::Config {
        key: key.into(),
        reason: format!("{value:?} is not a whole number from {min} to {max}"),
    })?;
    let mut connection = db.get()?;
    let dialect = Dialect(db.backend());
    dispatch!(connection, conn => {
        conn.write_transaction(crate::WRITE_LOCK, |conn| {
            let current = diesel::sql_query(dialect.sql(STATUS_ROW))
            .bind::<Text, _>(PROCESS_NAME)
            .get_result::<StatusRow>(conn)
            .map_err(query_error("read the configuration"))?;
            let mut json: serde_json::Map<String, serde_json::Value> =
                current.configuration.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
            json.insert(key.to_owned(), number.into());
            let text = serde_json::Value::Object(json).to_string();
            diesel::sql_query(dialect.sql(
                "UPDATE alm_reporting.processing_status SET configuration = CAST($1 AS JSONB),
                        updated_at = CURRENT_TIMESTAMP WHERE process_name = $2",
            ))
            .bind::<Text, _>(&text)
            .bind::<Text, _>(PROCESS_NAME)
            .execute(conn)
            .map_err(query_error("write the configuration"))?;
            Ok(Configuration::from_json(Some(&text)))
        })
    })
}

/// The `import_history` rows from `from` to `to` (either open), newest first.
pub fn history(db: &Database, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Vec<HistoryRow>> {
    let mut connection = db.get()?;
    let dialect = Dialect(db.backend());
    dispatch!(connection, conn => {
        diesel::sql_query(dialect.sql(&format!(
            "SELECT {HISTORY_COLUMNS} FROM alm_reporting.import_history
             WHERE ($1 IS NULL OR import_date >= $1) AND ($2 IS NULL OR import_date <= $2)
             ORDER BY import_date DESC"
        )))
        .bind::<Nullable<Date>, _>(from)
        .bind::<Nullable<Date>, _>(to)
        .load::<HistoryRow>(conn)
        .map_err(query_error("read import_history"))
    })
}

/// A day `gaps` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Gap {
    /// The day.
    pub date: NaiveDate,
    /// The account, for a day missing from its NAV statements; `None` for a day with no
    /// successful import.
    pub account_id: Option<String>,
    /// What is missing.
    pub problem: &'static str,
}

/// A break in the NAV's continuity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContinuityWarning {
    /// The account.
    pub account_id: String,
    /// The day whose values do not follow.
    pub date: NaiveDate,
    /// The day before it in the data, for a break between days.
    pub previous_date: Option<NaiveDate>,
    /// What does not add up.
    pub problem: String,
    /// The amount expected and the amount found.
    pub expected: String,
    /// The amount found.
    pub found: String,
}

/// What `gaps` found between two dates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GapReport {
    /// First day looked at.
    pub from: NaiveDate,
    /// Last day looked at.
    pub to: NaiveDate,
    /// Business days (Monday to Friday; exchange holidays are not known, so they are listed
    /// too) with no successful import, and days missing from an account's NAV statements.
    pub gaps: Vec<Gap>,
    /// NAV continuity breaks on those days.
    pub continuity: Vec<ContinuityWarning>,
}

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = Text)]
    account_id: String,
    #[diesel(sql_type = Date)]
    summary_date: NaiveDate,
    #[diesel(sql_type = Nullable<Text>)]
    starting_value: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    components: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ending_value: Option<String>,
}

#[derive(QueryableByName)]
struct DateRow {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
}

/// The days from `from` to `to` with no successful import or missing from the NAV
/// statements, and the NAV continuity breaks.
pub fn gaps(db: &Database, from: NaiveDate, to: NaiveDate) -> Result<GapReport> {
    let business_days: Vec<NaiveDate> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect();
    let dialect = Dialect(db.backend());
    let mut connection = db.get()?;
    let succeeded = dispatch!(connection, conn => diesel::sql_query(dialect.sql(
            "SELECT import_date AS day FROM alm_reporting.import_history
             WHERE status = 'SUCCESS' AND import_date BETWEEN $1 AND $2",
        ))
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .load::<DateRow>(conn))
    .map_err(query_error("read import_history"))?;
    drop(connection);
    let days = days_between(db, from, to)?;
    let succeeded: std::collections::BTreeSet<NaiveDate> = succeeded.into_iter().map(|r| r.day).collect();
    let mut gaps: Vec<Gap> = business_days
        .iter()
        .filter(|d| !succeeded.contains(d))
        .map(|&date| Gap { date, account_id: None, problem: "no successful import" })
        .collect();
    let mut by_account: BTreeMap<&str, Vec<&DayRow>> = BTreeMap::new();
    for day in &days {
        by_account.entry(&day.account_id).or_default().push(day);
    }
    for (account, rows) in &by_account {
        let present: std::collections::BTreeSet<NaiveDate> = rows.iter().map(|r| r.summary_date).collect();
        gaps.extend(business_days.iter().filter(|d| !present.contains(d)).map(|&date| Gap {
            date,
            account_id: Some((*account).to_owned()),
            problem: "missing from the NAV statements",
        }));
    }
    gaps.sort_by(|a, b| (a.date, &a.account_id).cmp(&(b.date, &b.account_id)));
    let continuity = continuity(&days).into_iter().filter(|w| w.date >= from).collect();
    Ok(GapReport { from, to, gaps, continuity })
}

/// The NAV continuity breaks from `from` to `to` (a run checks the days it imported).
pub(crate) fn continuity_between(db: &Database, from: NaiveDate, to: NaiveDate) -> Result<Vec<ContinuityWarning>> {
    let days = days_between(db, from, to)?;
    Ok(continuity(&days).into_iter().filter(|w| w.date >= from).collect())
}

/// Each account's stored days from the day before `from` (what the first day follows) to `to`,
/// sorted by account and date.
fn days_between(db: &Database, from: NaiveDate, to: NaiveDate) -> Result<Vec<DayRow>> {
    let dialect = Dialect(db.backend());
    let components: Vec<String> = COMPONENTS.iter().map(|c| format!("CAST({c} AS TEXT)")).collect();
    let statement = dialect.sql(&format!(
        "SELECT account_id, summary_date, CAST(starting_value AS TEXT) AS starting_value,
                {concat} AS components, CAST(ending_value AS TEXT) AS ending_value
         FROM alm_reporting.daily_summary WHERE summary_date BETWEEN $1 AND $2
         ORDER BY account_id, summary_date",
        // The components as one `a|b|...` text (an empty part is NULL).
        concat = components.iter().map(|c| format!("coalesce({c}, '')")).collect::<Vec<_>>().join(" || '|' || "),
    ));
    let mut connection = db.get()?;
    dispatch!(connection, conn => diesel::sql_query(&statement)
        .bind::<Date, _>(from.pred_opt().unwrap_or(from))
        .bind::<Date, _>(to)
        .load::<DayRow>(conn))
    .map_err(query_error("read daily_summary"))
}

/// Breaks in each account's NAV: a day whose starting value is not the previous day's ending
/// value, or whose starting value plus its change components is not its ending value within
/// 0.01. `days` is sorted by account and date.
fn continuity(days: &[DayRow]) -> Vec<ContinuityWarning> {
    let tolerance = Amount::parse("0.01").expect("an amount");
    let mut warnings = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let warn = |previous_date, problem: &str, expected: Amount, found: Amount| ContinuityWarning {
            account_id: day.account_id.clone(),
            date: day.summary_date,
            previous_date,
            problem: problem.to_owned(),
            expected: expected.to_string(),
            found: found.to_string(),
        };
        let starting = day.starting_value.as_deref().and_then(Amount::parse);
        let ending = day.ending_value.as_deref().and_then(Amount::parse);
        if let Some(previous) = i.checked_sub(1).map(|p| &days[p]).filter(|p| p.account_id == day.account_id) {
            let previous_ending = previous.ending_value.as_deref().and_then(Amount::parse);
            if let (Some(expected), Some(found)) = (previous_ending, starting)
                && expected != found
            {
                warnings.push(warn(
                    Some(previous.summary_date),
                    "startingValue is not the previous day's endingValue",
                    expected,
                    found,
                ));
            }
        }
        let components = day.components.as_deref().unwrap_or_default().split('|').filter(|c| !c.is_empty());
        let mut components = components.map(Amount::parse);
        let sum = starting.and_then(|start| components.try_fold(start, |sum, c| sum.checked_add(c?)));
        if let (Some(expected), Some(found)) = (sum, ending)
            && expected.checked_sub(found).is_some_and(|d| d.abs() > tolerance)
        {
            warnings.push(warn(
                None,
                "startingValue plus the changes is not endingValue (within 0.01)",
                expected,
                found,
            ));
        }
    }
    warnings
}
