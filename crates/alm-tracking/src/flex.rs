//! The IB Flex importer: each detail row the validator's `ib_flex` kind accepts becomes a
//! stage row, and one merge appends the new events to `chronological_events`, upserts
//! `daily_summary` per account and day, and records the file in `processed_files`, in the
//! import's one transaction.
//!
//! **Keys.** An event is keyed by its account and `source_transaction_id`: IB's
//! `transactionID`, or, for a row without one (`OptionEAE`, `InterestAccrualsCurrency`), a key
//! derived from its content: `derived:` + the first 16 bytes (hex) of the SHA-256 of its
//! section, account and [`IDENTITY`] attributes (name=value, in that order, those present) +
//! `:` + its occurrence number among identical rows of its statement (1, 2, ...). The same
//! row in any file covering its day (an MTD file today, yesterday's LBD file) gets the same key;
//! two identical expiries in one statement get two.
//!
//! **Days.** A `ChangeInNAV` row gives its day's (its `toDate`'s) starting value, change
//! components and ending value; an `EquitySummaryByReportDateInBase` row its day's cash and
//! total. One row per account and day: a statement generated later (`whenGenerated`) replaces
//! the values of an earlier one (keeping those it lacks); the same or an older statement
//! changes nothing.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Text};
use import_core::{Column, ColumnType, Importer, Merged, Stage, StageRow, Unstorable, Values, query_error};
use migration_core::{Backend, Domain};
use sha2::{Digest as _, Sha256};
use upload_validator::{Context, FlexRow, FlexSection, PayloadKind, Record, Validator};

use crate::amount::Amount;
use crate::sql::Dialect;
use import_core::Result;

/// Attributes that identify a row without a `transactionID` (see the module docs).
pub const IDENTITY: &[&str] = &[
    "currency",
    "assetCategory",
    "symbol",
    "conid",
    "underlyingConid",
    "putCall",
    "strike",
    "expiry",
    "multiplier",
    "date",
    "dateTime",
    "reportDate",
    "fromDate",
    "toDate",
    "transactionType",
    "type",
    "quantity",
    "tradePrice",
    "proceeds",
    "amount",
    "startingAccrualBalance",
    "interestAccrued",
    "accrualReversal",
    "endingAccrualBalance",
];

/// How a stage column becomes a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cast {
    Text,
    Numeric,
    Date,
    Timestamp,
}

/// The event columns, as `chronological_events` names them.
const EVENT_COLUMNS: &[(&str, Cast)] = &[
    ("event_type", Cast::Text),
    ("event_time", Cast::Timestamp),
    ("event_zone", Cast::Text),
    ("source_transaction_id", Cast::Text),
    ("trade_id", Cast::Text),
    ("transaction_type", Cast::Text),
    ("asset_category", Cast::Text),
    ("symbol", Cast::Text),
    ("description", Cast::Text),
    ("currency", Cast::Text),
    ("put_call", Cast::Text),
    ("strike", Cast::Numeric),
    ("expiry", Cast::Date),
    ("multiplier", Cast::Numeric),
    ("quantity", Cast::Numeric),
    ("price", Cast::Numeric),
    ("amount", Cast::Numeric),
    ("commission", Cast::Numeric),
    ("net_cash", Cast::Numeric),
];

/// `ChangeInNAV` attributes with a `daily_summary` column; every other amount it carries is
/// a change component summed into `other_changes` (IB keeps adding them).
const NAV_COLUMNS: &[(&str, &str)] = &[
    ("startingValue", "starting_value"),
    ("mtm", "mtm"),
    ("realized", "realized"),
    ("changeInUnrealized", "change_in_unrealized"),
    ("depositsWithdrawals", "deposits_withdrawals"),
    ("interest", "interest"),
    ("changeInInterestAccruals", "change_in_interest_accruals"),
    ("brokerFees", "broker_fees"),
    ("commissions", "commissions"),
    ("endingValue", "ending_value"),
    ("twr", "twr"),
];

/// `ChangeInNAV` amounts that are not change components.
const NOT_COMPONENTS: &[&str] = &["startingValue", "endingValue", "twr"];

/// A day's change components, in `daily_summary`'s order: `starting_value` plus them is
/// `ending_value`.
pub(crate) const COMPONENTS: &[&str] = &[
    "mtm",
    "realized",
    "change_in_unrealized",
    "deposits_withdrawals",
    "interest",
    "change_in_interest_accruals",
    "broker_fees",
    "commissions",
    "other_changes",
];

/// The NAV columns of `daily_summary`, in its order.
fn summary_amounts() -> Vec<&'static str> {
    let mut columns = vec!["starting_value"];
    columns.extend(COMPONENTS);
    columns.extend(["ending_value", "twr"]);
    columns
}

/// What a stage row is.
const EVENT: &str = "event";
const NAV: &str = "nav";
const EQUITY: &str = "equity";
/// A detail row that is itself a summary (an interest accrual's `BASE_SUMMARY` currency).
const SUMMARY_ROW: &str = "summary_row";

/// The stage: every detail row, as text (the merge casts it), named as the table columns.
pub(crate) const STAGE: Stage = {
    use ColumnType::Text;
    Stage {
        table: "alm_stage",
        columns: &[
            Column::required("kind", Text),
            Column::required("account_id", Text),
            Column::optional("event_type", Text),
            Column::optional("event_time", Text),
            Column::optional("event_zone", Text),
            Column::optional("source_transaction_id", Text),
            Column::optional("trade_id", Text),
            Column::optional("transaction_type", Text),
            Column::optional("asset_category", Text),
            Column::optional("symbol", Text),
            Column::optional("description", Text),
            Column::optional("currency", Text),
            Column::optional("put_call", Text),
            Column::optional("strike", Text),
            Column::optional("expiry", Text),
            Column::optional("multiplier", Text),
            Column::optional("quantity", Text),
            Column::optional("price", Text),
            Column::optional("amount", Text),
            Column::optional("commission", Text),
            Column::optional("net_cash", Text),
            Column::optional("summary_date", Text),
            Column::optional("starting_value", Text),
            Column::optional("mtm", Text),
            Column::optional("realized", Text),
            Column::optional("change_in_unrealized", Text),
            Column::optional("deposits_withdrawals", Text),
            Column::optional("interest", Text),
            Column::optional("change_in_interest_accruals", Text),
            Column::optional("broker_fees", Text),
            Column::optional("commissions", Text),
            Column::optional("other_changes", Text),
            Column::optional("ending_value", Text),
            Column::optional("twr", Text),
            Column::optional("cash", Text),
            Column::optional("total", Text),
            Column::optional("statement_generated_at", Text),
        ],
    }
};

/// Stage columns before the optional ones.
const FIXED: usize = 2;

/// One stage row.
#[derive(Debug)]
pub struct FlexStageRow {
    line: i64,
    kind: &'static str,
    account_id: String,
    /// The optional columns, in [`STAGE`] order.
    values: Vec<Option<String>>,
}

impl FlexStageRow {
    fn new(line: u64, kind: &'static str, account_id: String) -> Result<Self, Unstorable> {
        Ok(FlexStageRow {
            line: i64::try_from(line).map_err(|_| Unstorable { line, what: "line number" })?,
            kind,
            account_id,
            values: vec![None; STAGE.columns.len() - FIXED],
        })
    }

    fn set(&mut self, column: &str, value: Option<impl Into<String>>) {
        let at = STAGE.columns[FIXED..].iter().position(|c| c.name == column).expect("a stage column");
        self.values[at] = value.map(Into::into);
    }
}

impl StageRow for FlexStageRow {
    fn write<'b>(&'b self, values: &mut dyn Values<'b>) {
        values.bigint(&self.line);
        values.text(self.kind);
        values.text(&self.account_id);
        for value in &self.values {
            values.nullable_text(value);
        }
    }
}

/// What `processed_files` records of the file being imported.
#[derive(Debug, Clone)]
pub(crate) struct FileFacts {
    /// `NAV`, `Trades`, ...: the `{Type}` of IB's `{Type}_({queryId})_{MTD|LBD}.xml`, else
    /// what the rows are (see [`file_type_of`]).
    pub name_type: Option<String>,
    pub size: i64,
    pub sha256: String,
    pub process_date: NaiveDate,
}

/// The importer. It keeps, per file, the facts to record and the occurrence numbers of
/// derived keys; both are reset when the session asks it for a validator, which it does once
/// at the start of each file.
#[derive(Debug, Default)]
pub(crate) struct FlexImporter {
    pub file: RefCell<Option<FileFacts>>,
    /// The statement the counts are of, and how often each content hash occurred in it.
    occurrences: RefCell<(u32, HashMap<[u8; 16], u32>)>,
    /// Which sections the file holds.
    sections: RefCell<BTreeSet<FlexSection>>,
    /// The first and last day of the NAV rows of every file so far.
    days_seen: RefCell<Option<(NaiveDate, NaiveDate)>>,
}

impl FlexImporter {
    /// `derived:<hash>:<n>` for a row without a `transactionID`.
    fn derived_key(&self, row: &FlexRow) -> String {
        let mut hasher = Sha256::new();
        hasher.update(row.section.element().as_bytes());
        hasher.update([0x1f]);
        hasher.update(row.account_id.as_bytes());
        for name in IDENTITY {
            if let Some(value) = row.get(name) {
                hasher.update([0x1f]);
                hasher.update(name.as_bytes());
                hasher.update(b"=");
                hasher.update(value.as_bytes());
            }
        }
        let digest: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 of 32 bytes");
        let mut occurrences = self.occurrences.borrow_mut();
        if occurrences.0 != row.statement {
            *occurrences = (row.statement, HashMap::new());
        }
        let n = occurrences.1.entry(digest).or_default();
        *n += 1;
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("derived:{hex}:{n}")
    }

    fn event(&self, row: &FlexRow) -> Result<FlexStageRow, Unstorable> {
        let (event_type, time_attributes, amount, price, commission): (_, &[&str], _, _, _) = match row.section {
            FlexSection::Trade => ("TRADE", &["dateTime", "tradeDate"], "tradeMoney", "tradePrice", "ibCommission"),
            FlexSection::CashTransaction => ("CASH", &["dateTime", "reportDate", "settleDate"], "amount", "", ""),
            FlexSection::OptionEae => ("EXERCISE_EXPIRY", &["date", "dateTime"], "proceeds", "tradePrice", ""),
            FlexSection::InterestAccrual => ("INTEREST_ACCRUAL", &["toDate", "reportDate"], "interestAccrued", "", ""),
            FlexSection::ChangeInNav | FlexSection::EquitySummary => unreachable!("days are not events"),
        };
        let mut stage = FlexStageRow::new(row.line, EVENT, row.account_id.clone())?;
        let time = time_attributes.iter().find_map(|name| row.get(name)).map(str::to_owned).or_else(|| {
            // A row with no time of its own happened within its statement's period.
            row.statement_period.map(|(_, to)| to.to_string())
        });
        let Some(time) = time else { return Err(Unstorable { line: row.line, what: "event time" }) };
        // `YYYY-MM-DD[ HH:MM:SS[ ZONE]]`, as the validator stores times and dates.
        let (moment, zone) = match time.len() {
            10 => (format!("{time} 00:00:00"), None),
            19 => (time, None),
            _ => (time[..19].to_owned(), Some(time[20..].to_owned())),
        };
        stage.set("event_type", Some(event_type));
        stage.set("event_time", Some(moment));
        stage.set("event_zone", zone);
        let key = match row.get("transactionID") {
            Some(id) => id.to_owned(),
            None => self.derived_key(row),
        };
        if key.chars().count() > 64 {
            return Err(Unstorable { line: row.line, what: "transactionID" });
        }
        stage.set("source_transaction_id", Some(key));
        stage.set("trade_id", row.get("tradeID"));
        let kind = if row.section == FlexSection::CashTransaction { "type" } else { "transactionType" };
        stage.set("transaction_type", row.get(kind));
        for (column, attribute) in [
            ("asset_category", "assetCategory"),
            ("symbol", "symbol"),
            ("description", "description"),
            ("currency", "currency"),
            ("put_call", "putCall"),
            ("strike", "strike"),
            ("expiry", "expiry"),
            ("multiplier", "multiplier"),
            ("quantity", "quantity"),
            ("price", price),
            ("amount", amount),
            ("commission", commission),
            ("net_cash", "netCash"),
        ] {
            stage.set(column, row.get(attribute).filter(|_| !attribute.is_empty()));
        }
        Ok(stage)
    }

    fn nav(&self, row: &FlexRow) -> Result<FlexStageRow, Unstorable> {
        let mut stage = self.day(row, NAV, "toDate")?;
        for (attribute, column) in NAV_COLUMNS {
            stage.set(column, row.get(attribute));
        }
        let mut other = None::<Amount>;
        for (name, value) in &row.attributes {
            let name: &str = name;
            let named = NAV_COLUMNS.iter().any(|(n, _)| *n == name) || NOT_COMPONENTS.contains(&name);
            if let Some(amount) = Amount::parse(value).filter(|_| !named && name != "accountId") {
                let sum = other.unwrap_or(Amount::ZERO).checked_add(amount);
                other = Some(sum.ok_or(Unstorable { line: row.line, what: "sum of the NAV's other changes" })?);
            }
        }
        stage.set("other_changes", Some(other.unwrap_or(Amount::ZERO).to_string()));
        Ok(stage)
    }

    fn equity(&self, row: &FlexRow) -> Result<FlexStageRow, Unstorable> {
        let mut stage = self.day(row, EQUITY, "reportDate")?;
        stage.set("cash", row.get("cash"));
        stage.set("total", row.get("total"));
        Ok(stage)
    }

    /// A day's row: its date from `attribute`, else its statement's last day.
    fn day(&self, row: &FlexRow, kind: &'static str, attribute: &str) -> Result<FlexStageRow, Unstorable> {
        let mut stage = FlexStageRow::new(row.line, kind, row.account_id.clone())?;
        let day = row.date(attribute).or(row.statement_period.map(|(_, to)| to));
        let Some(day) = day else { return Err(Unstorable { line: row.line, what: "day" }) };
        stage.set("summary_date", Some(day.to_string()));
        let mut seen = self.days_seen.borrow_mut();
        *seen = Some(seen.map_or((day, day), |(from, to)| (from.min(day), to.max(day))));
        stage.set("currency", row.get("currency"));
        let generated = row.statement_generated.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string());
        stage.set("statement_generated_at", generated);
        Ok(stage)
    }

    /// The first and last day of the NAV rows read so far.
    pub fn days_seen(&self) -> Option<(NaiveDate, NaiveDate)> {
        *self.days_seen.borrow()
    }

    /// What the file holds, for `processed_files.file_type` when its name does not say.
    pub fn file_type_of(&self) -> String {
        let sections = self.sections.borrow();
        let types: BTreeSet<&str> = sections
            .iter()
            .map(|section| match section {
                FlexSection::Trade => "Trades",
                FlexSection::CashTransaction => "Cash_Transactions",
                FlexSection::OptionEae => "Exercises_and_Expiries",
                FlexSection::InterestAccrual => "Interest_Accruals",
                FlexSection::ChangeInNav | FlexSection::EquitySummary => "NAV",
            })
            .collect();
        match types.len() {
            0 => "Empty".to_owned(),
            1 => types.into_iter().next().expect("one").to_owned(),
            _ => "Mixed".to_owned(),
        }
    }
}

/// Counts a merge statement returns.
#[derive(Debug, QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).expect("counts are not negative")
}

/// The stage column `name` as its table column's type.
fn cast(dialect: Dialect, name: &str, cast: Cast) -> String {
    match (dialect.0, cast) {
        (Backend::Sqlite, _) | (_, Cast::Text) => name.to_owned(),
        (Backend::Postgres, Cast::Numeric) => format!("CAST({name} AS NUMERIC)"),
        (Backend::Postgres, Cast::Date) => format!("CAST({name} AS DATE)"),
        (Backend::Postgres, Cast::Timestamp) => format!("CAST({name} AS TIMESTAMP)"),
    }
}

/// The stage as each backend names it.
fn stage(dialect: Dialect) -> &'static str {
    match dialect.0 {
        Backend::Postgres => "pg_temp.alm_stage",
        Backend::Sqlite => "temp.alm_stage",
    }
}

/// The first of the file's rows of each event key, in file order (IB writes a statement's rows
/// in time order). Sorting them by time instead costs SQLite a sort that held 150 MB on a
/// 100 MB file, for an order no query relies on (`idx_chronological_events_account_time`
/// serves time order).
fn events_sql(dialect: Dialect) -> String {
    let columns: Vec<&str> = EVENT_COLUMNS.iter().map(|(name, _)| *name).collect();
    let values: Vec<String> = EVENT_COLUMNS.iter().map(|&(name, c)| cast(dialect, name, c)).collect();
    dialect.sql(&format!(
        "INSERT INTO alm_reporting.chronological_events (account_id, {columns}, source_file)
SELECT account_id, {values}, $1
FROM (SELECT s.*, row_number() OVER (PARTITION BY account_id, source_transaction_id ORDER BY line) AS copy
      FROM {stage} s WHERE kind = 'event') firsts
WHERE copy = 1
ON CONFLICT (account_id, source_transaction_id) DO NOTHING",
        columns = columns.join(", "),
        values = values.join(", "),
        stage = stage(dialect),
    ))
}

/// One row per account and day of the file: its latest `ChangeInNAV` and latest equity
/// summary side by side, and how many of the file's rows it stands for.
fn days_sql(dialect: Dialect) -> String {
    let latest = |kind: &str| {
        format!(
            "(SELECT * FROM (SELECT s.*, row_number() OVER (PARTITION BY account_id, summary_date
                                ORDER BY statement_generated_at DESC NULLS LAST, line DESC) AS pick
              FROM {stage} s WHERE kind = '{kind}') ranked WHERE pick = 1)",
            stage = stage(dialect)
        )
    };
    let amounts: Vec<String> = summary_amounts().iter().map(|c| format!("n.{c}")).collect();
    let table = match dialect.0 {
        Backend::Postgres => "pg_temp.alm_days",
        Backend::Sqlite => "temp.alm_days",
    };
    format!(
        "DROP TABLE IF EXISTS {table};
CREATE TEMPORARY TABLE alm_days AS
SELECT d.account_id, d.summary_date, d.records, coalesce(n.currency, e.currency) AS currency, {amounts},
       e.cash, e.total,
       CASE WHEN n.statement_generated_at IS NULL THEN e.statement_generated_at
            WHEN e.statement_generated_at IS NULL OR n.statement_generated_at >= e.statement_generated_at
            THEN n.statement_generated_at ELSE e.statement_generated_at END AS statement_generated_at
FROM (SELECT account_id, summary_date, count(*) AS records FROM {stage}
      WHERE kind IN ('nav', 'equity') GROUP BY account_id, summary_date) d
LEFT JOIN {nav} n ON n.account_id = d.account_id AND n.summary_date = d.summary_date
LEFT JOIN {equity} e ON e.account_id = d.account_id AND e.summary_date = d.summary_date",
        amounts = amounts.join(", "),
        stage = stage(dialect),
        nav = latest(NAV),
        equity = latest(EQUITY),
    )
}

/// Upserts the days: new ones are inserted, those from an older statement (or none) are
/// replaced, keeping the values the newer one lacks.
fn upsert_days_sql(dialect: Dialect) -> String {
    let numeric = |c: &str| cast(dialect, c, Cast::Numeric);
    let mut columns = vec!["currency"];
    columns.extend(summary_amounts());
    columns.extend(["cash", "total"]);
    let values: Vec<String> =
        columns.iter().map(|c| if *c == "currency" { (*c).to_owned() } else { numeric(c) }).collect();
    let updates: Vec<String> = columns.iter().map(|c| format!("{c} = coalesce(excluded.{c}, t.{c})")).collect();
    let days = match dialect.0 {
        Backend::Postgres => "pg_temp.alm_days",
        Backend::Sqlite => "temp.alm_days",
    };
    dialect.sql(&format!(
        "INSERT INTO alm_reporting.daily_summary AS t (account_id, summary_date, {columns}, statement_generated_at, source_file)
SELECT account_id, {date}, {values}, {generated}, $1 FROM {days} WHERE true
ON CONFLICT (account_id, summary_date) DO UPDATE SET {updates},
    statement_generated_at = excluded.statement_generated_at, source_file = excluded.source_file
WHERE excluded.statement_generated_at > t.statement_generated_at
   OR (t.statement_generated_at IS NULL AND excluded.statement_generated_at IS NOT NULL)",
        columns = columns.join(", "),
        date = cast(dialect, "summary_date", Cast::Date),
        generated = cast(dialect, "statement_generated_at", Cast::Timestamp),
        values = values.join(", "),
        updates = updates.join(", "),
    ))
}

/// Records the file: one row per name and content (SHA-256); the same version imported again
/// (only after an earlier import of it was not recorded) is updated, and `created_at` is when
/// this content was imported (UTC).
const RECORD_FILE: &str = "
INSERT INTO alm_reporting.processed_files
    (file_name, file_type, file_size, file_hash, process_date, records_count, processing_status, created_at)
VALUES ($1, $2, $3, $4, $5, $6, 'SUCCESS', CURRENT_TIMESTAMP)
ON CONFLICT (file_name, file_hash) DO UPDATE SET file_type = excluded.file_type, file_size = excluded.file_size,
    process_date = excluded.process_date,
    records_count = excluded.records_count, processing_status = excluded.processing_status,
    created_at = excluded.created_at";

/// The merge, the same statements on both backends (`$conn` is a `PgConnection` or a
/// `SqliteConnection`).
macro_rules! merge {
    ($importer:expr, $conn:expr, $dialect:expr, $file_name:expr, $staged:expr) => {{
        let (importer, conn, dialect, file_name, staged) = ($importer, $conn, $dialect, $file_name, $staged);
        let counted = |conn: &mut _, what: &str, condition: &str| {
            diesel::sql_query(format!("SELECT count(*) AS n FROM {} WHERE {condition}", stage(dialect)))
                .get_result::<Count>(conn)
                .map(|c| count(c.n))
                .map_err(query_error(what))
        };
        let events = counted(conn, "count the file's events", "kind = 'event'")?;
        let distinct = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM (SELECT DISTINCT account_id, source_transaction_id FROM {} WHERE kind = 'event') k",
            stage(dialect)
        ))
        .get_result::<Count>(conn)
        .map(|c| count(c.n))
        .map_err(query_error("count the file's distinct events"))?;
        let new_events = diesel::sql_query(events_sql(dialect))
            .bind::<Text, _>(file_name)
            .execute(conn)
            .map_err(query_error("append the new events to chronological_events"))? as u64;
        let summary_rows = counted(conn, "count the summary rows", "kind = 'summary_row'")?;

        diesel::connection::SimpleConnection::batch_execute(conn, &days_sql(dialect))
            .map_err(query_error("gather the file's days"))?;
        let days_table = match dialect.0 {
            Backend::Postgres => "pg_temp.alm_days",
            Backend::Sqlite => "temp.alm_days",
        };
        let day_records = diesel::sql_query(format!("SELECT CAST(coalesce(sum(records), 0) AS BIGINT) AS n FROM {days_table}"))
            .get_result::<Count>(conn)
            .map(|c| count(c.n))
            .map_err(query_error("count the file's days"))?;
        let days = diesel::sql_query(format!("SELECT count(*) AS n FROM {days_table}"))
            .get_result::<Count>(conn)
            .map(|c| count(c.n))
            .map_err(query_error("count the file's days"))?;
        let known_days = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {days_table} d WHERE EXISTS (SELECT 1 FROM {summary} t
             WHERE t.account_id = d.account_id AND t.summary_date = {date})",
            summary = dialect.table("daily_summary"),
            date = cast(dialect, "d.summary_date", Cast::Date),
        ))
        .get_result::<Count>(conn)
        .map(|c| count(c.n))
        .map_err(query_error("find the days already summarised"))?;
        let written_days = diesel::sql_query(upsert_days_sql(dialect))
            .bind::<Text, _>(file_name)
            .execute(conn)
            .map_err(query_error("upsert the days into daily_summary"))? as u64;
        diesel::connection::SimpleConnection::batch_execute(conn, &format!("DROP TABLE {days_table}"))
            .map_err(query_error("drop the merge's table of days"))?;

        if let Some(facts) = importer.file.borrow().as_ref() {
            let file_type = facts.name_type.clone().unwrap_or_else(|| importer.file_type_of());
            diesel::sql_query(dialect.sql(RECORD_FILE))
                .bind::<Text, _>(file_name)
                .bind::<Text, _>(file_type)
                .bind::<BigInt, _>(facts.size)
                .bind::<Text, _>(&facts.sha256)
                .bind::<Date, _>(facts.process_date)
                .bind::<Integer, _>(i32::try_from(staged).unwrap_or(i32::MAX))
                .execute(conn)
                .map_err(query_error("record the file in processed_files"))?;
        }

        let new_days = days - known_days;
        let updated = written_days - new_days;
        debug_assert_eq!(events + day_records + summary_rows, staged, "every staged row is counted");
        Ok(Merged {
            inserted: new_events + new_days,
            skipped: vec![
                ("already_imported", distinct - new_events + known_days - updated),
                ("updated", updated),
                ("duplicated_in_file", events - distinct),
                ("merged_into_day", day_records - days),
                ("summary_rows", summary_rows),
            ],
            details: Vec::new(),
        })
    }};
}

impl Importer for FlexImporter {
    type Row = FlexStageRow;
    const STAGE: Stage = STAGE;
    const SKIPPED: &'static [&'static str] =
        &["already_imported", "updated", "duplicated_in_file", "merged_into_day", "summary_rows"];
    /// 8 MiB each: a 1 GB Trades file imports in under 64 MB (`cargo xtask bench alm`).
    const SQLITE_CACHE_KIB: u32 = 8 * 1024;

    fn domain(&self) -> &'static Domain {
        &crate::MIGRATIONS
    }

    fn validator(&self) -> Result<Validator, upload_validator::Error> {
        // A new file: its statements are numbered from 1 again.
        *self.occurrences.borrow_mut() = (0, HashMap::new());
        self.sections.borrow_mut().clear();
        Validator::new(PayloadKind::IbFlex, Context::default())
    }

    fn row(&self, record: Record) -> Result<Option<FlexStageRow>, Unstorable> {
        let Record::Flex(row) = record else { return Ok(None) };
        self.sections.borrow_mut().insert(row.section);
        let stage = match row.section {
            FlexSection::ChangeInNav => self.nav(&row)?,
            FlexSection::EquitySummary => self.equity(&row)?,
            FlexSection::InterestAccrual if row.get("currency") == Some("BASE_SUMMARY") => {
                FlexStageRow::new(row.line, SUMMARY_ROW, row.account_id)?
            }
            _ => self.event(&row)?,
        };
        Ok(Some(stage))
    }

    fn merge_postgres(&self, conn: &mut PgConnection, file_name: &str, staged: u64) -> Result<Merged> {
        merge!(self, conn, Dialect(Backend::Postgres), file_name, staged)
    }

    fn merge_sqlite(&self, conn: &mut SqliteConnection, file_name: &str, staged: u64) -> Result<Merged> {
        merge!(self, conn, Dialect(Backend::Sqlite), file_name, staged)
    }
}
