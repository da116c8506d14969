//! Reading and changing market data after seed 001: soft-deleted rows are left out of every
//! read unless [`Deleted::Include`] asks for them; rows are soft-deleted and restored, and
//! removed for good only by [`purge`]; a parent with rows cannot be deleted
//! ([`Error::HasDependents`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};
use migration_core::sql::parameters_for;
use migration_core::{Database, dispatch};

use crate::price;

/// Whether reads include soft-deleted rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Deleted {
    /// Only live rows (the default of every read).
    #[default]
    Exclude,
    /// Live and soft-deleted rows.
    Include,
}

impl Deleted {
    /// The rows it reads of the table called `alias` in the query (`""` when unnamed).
    fn condition(self, alias: &str) -> String {
        match self {
            Deleted::Exclude => format!("{alias}deleted_at IS NULL"),
            Deleted::Include => "true".to_owned(),
        }
    }
}

/// A table that soft-deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// `market_data`.
    MarketData,
    /// `alert_logs`.
    AlertLogs,
}

impl Table {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Table::MarketData => "market_data",
            Table::AlertLogs => "alert_logs",
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting failed.
    #[error(transparent)]
    Database(#[from] migration_core::Error),
    /// A statement failed; nothing was changed.
    #[error("{context}: {source}")]
    Query {
        /// What was being done.
        context: String,
        /// The driver's error.
        source: diesel::result::Error,
    },
    /// The row to delete has rows that refer to it (RESTRICT); nothing was deleted.
    #[error("cannot delete {what}: {}; soft-delete or purge them first", describe(dependents))]
    HasDependents {
        /// `instrument 3`, `alert rule 2`.
        what: String,
        /// Each table with rows referring to it, and how many (soft-deleted ones included).
        dependents: Vec<(&'static str, i64)>,
    },
    /// The operation does not apply here; nothing was changed.
    #[error("{what} cannot run here: {why}")]
    Unsupported {
        /// `the online conversion`.
        what: String,
        /// Why, and what to do instead.
        why: String,
    },
    /// No such row.
    #[error("{what} does not exist")]
    NotFound {
        /// `instrument 3`.
        what: String,
    },
}

fn describe(dependents: &[(&'static str, i64)]) -> String {
    let parts: Vec<String> = dependents.iter().map(|(table, n)| format!("{n} rows in {table}")).collect();
    format!("{} refer to it", parts.join(" and "))
}

impl From<diesel::result::Error> for Error {
    fn from(source: diesel::result::Error) -> Self {
        Error::Query { context: "market data".into(), source }
    }
}

fn query_error(context: &str) -> impl FnOnce(diesel::result::Error) -> Error + '_ {
    move |source| Error::Query { context: context.to_owned(), source }
}

/// One `market_data` row. Prices serialise with exactly 4 decimals (`"21012.2500"`).
#[derive(Debug, Clone, PartialEq, QueryableByName, serde::Serialize)]
pub struct Tick {
    /// Its id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Its instrument.
    #[diesel(sql_type = BigInt)]
    pub instrument_id: i64,
    /// When.
    #[diesel(sql_type = Timestamp)]
    pub timestamp: NaiveDateTime,
    /// Last price.
    #[diesel(sql_type = Double)]
    #[serde(serialize_with = "four_decimals")]
    pub price: f64,
    /// Bid.
    #[diesel(sql_type = Nullable<Double>)]
    #[serde(serialize_with = "four_decimals_or_null")]
    pub bid: Option<f64>,
    /// Ask.
    #[diesel(sql_type = Nullable<Double>)]
    #[serde(serialize_with = "four_decimals_or_null")]
    pub ask: Option<f64>,
    /// Volume.
    #[diesel(sql_type = BigInt)]
    pub volume: i64,
    /// When it was soft-deleted.
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub deleted_at: Option<NaiveDateTime>,
}

fn four_decimals<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    match price::to_text(*value) {
        Some(text) => serializer.serialize_str(&text),
        None => Err(serde::ser::Error::custom(format!("{value} is not a DECIMAL(12,4) price"))),
    }
}

fn four_decimals_or_null<S: serde::Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => four_decimals(value, serializer),
        None => serializer.serialize_none(),
    }
}

const TICK_COLUMNS: &str = "id, instrument_id, \"timestamp\", price, bid, ask, volume, deleted_at";

/// The instrument's ticks from `from` to `to` (inclusive), oldest first.
pub fn ticks(
    db: &Database,
    instrument_id: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
    deleted: Deleted,
) -> Result<Vec<Tick>, Error> {
    let statement = format!(
        "SELECT {TICK_COLUMNS} FROM market_data
         WHERE instrument_id = $1 AND \"timestamp\" BETWEEN $2 AND $3 AND {}
         ORDER BY \"timestamp\", id",
        deleted.condition("")
    );
    let mut connection = db.get()?;
    let backend = db.backend();
    dispatch!(connection, conn => diesel::sql_query(parameters_for(backend, &statement))
        .bind::<BigInt, _>(instrument_id)
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .load::<Tick>(conn))
    .map_err(query_error("read market_data"))
}

/// The latest tick of each instrument (the seed's "latest price per instrument"): each
/// instrument's newest time found once, then its ticks at that time (a subquery per row would
/// scan the table per row once the seed drops `ix_market_data_latest`).
pub fn latest(db: &Database, deleted: Deleted) -> Result<Vec<Tick>, Error> {
    let statement = format!(
        "SELECT {columns} FROM market_data m
         JOIN (SELECT instrument_id, max(\"timestamp\") AS newest FROM market_data WHERE {live}
               GROUP BY instrument_id) l
           ON l.instrument_id = m.instrument_id AND m.\"timestamp\" = l.newest
         WHERE {live_m}
         ORDER BY m.instrument_id, m.id",
        columns = TICK_COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", "),
        live = deleted.condition(""),
        live_m = deleted.condition("m."),
    );
    let mut connection = db.get()?;
    dispatch!(connection, conn => diesel::sql_query(&statement).load::<Tick>(conn))
        .map_err(query_error("read market_data"))
}

/// Soft-deletes rows of `table` by id (those already deleted stay as they were); how many.
pub fn soft_delete(db: &Database, table: Table, ids: &[i64]) -> Result<usize, Error> {
    // UTC on both backends (PostgreSQL's CURRENT_TIMESTAMP is the server's zone).
    let now = match db.backend() {
        migration_core::Backend::Postgres => "(now() AT TIME ZONE 'utc')",
        migration_core::Backend::Sqlite => "CURRENT_TIMESTAMP",
    };
    set_deleted(db, table, ids, now, "deleted_at IS NULL")
}

/// Restores soft-deleted rows of `table` by id; how many.
pub fn restore(db: &Database, table: Table, ids: &[i64]) -> Result<usize, Error> {
    set_deleted(db, table, ids, "NULL", "deleted_at IS NOT NULL")
}

fn set_deleted(db: &Database, table: Table, ids: &[i64], value: &str, condition: &str) -> Result<usize, Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let statement =
        format!("UPDATE {} SET deleted_at = {value} WHERE {condition} AND id IN ({})", table.name(), list.join(", "));
    let mut connection = db.get()?;
    dispatch!(connection, conn => diesel::sql_query(&statement).execute(conn)).map_err(query_error("mark the rows"))
}

/// What a purge removed (or, dry, would remove).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PurgeSummary {
    /// Rows soft-deleted before this instant were removed.
    pub deleted_before: NaiveDateTime,
    /// Rows removed per table.
    pub removed: Vec<(Table, u64)>,
    /// Whether this only counted.
    pub dry_run: bool,
}

/// Removes for good the rows soft-deleted before `before`, in one transaction.
pub fn purge(db: &Database, before: NaiveDateTime, dry_run: bool) -> Result<PurgeSummary, Error> {
    let backend = db.backend();
    let mut connection = db.get()?;
    let removed = dispatch!(connection, conn => conn.transaction(|conn| {
        let mut removed = Vec::new();
        for table in [Table::AlertLogs, Table::MarketData] {
            let verb = if dry_run { "SELECT count(*) AS n FROM" } else { "DELETE FROM" };
            let statement = format!("{verb} {} WHERE deleted_at < $1", table.name());
            let query = diesel::sql_query(parameters_for(backend, &statement)).bind::<Timestamp, _>(before);
            let n = if dry_run { query.get_result::<Count>(conn)?.n as u64 } else { query.execute(conn)? as u64 };
            removed.push((table, n));
        }
        Ok(removed)
    }))
    .map_err(query_error("purge soft-deleted rows"))?;
    Ok(PurgeSummary { deleted_before: before, removed, dry_run })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Deletes an instrument that no market data or alert log refers to (its alert rules go with
/// it); otherwise [`Error::HasDependents`] and nothing is deleted.
pub fn delete_instrument(db: &Database, id: i64) -> Result<(), Error> {
    delete_parent(
        db,
        "instruments",
        "instrument",
        id,
        &[("market_data", "instrument_id"), ("alert_logs", "instrument_id")],
    )
}

/// Deletes an alert rule that no alert log refers to; otherwise [`Error::HasDependents`].
pub fn delete_alert_rule(db: &Database, id: i64) -> Result<(), Error> {
    delete_parent(db, "alert_rules", "alert rule", id, &[("alert_logs", "rule_id")])
}

fn delete_parent(
    db: &Database,
    table: &str,
    what: &str,
    id: i64,
    children: &[(&'static str, &str)],
) -> Result<(), Error> {
    let backend = db.backend();
    let what = format!("{what} {id}");
    let mut connection = db.get()?;
    dispatch!(connection, conn => conn.transaction(|conn| {
        let mut dependents = Vec::new();
        for (child, column) in children {
            let statement = format!("SELECT count(*) AS n FROM {child} WHERE {column} = $1");
            let n = diesel::sql_query(parameters_for(backend, &statement))
                .bind::<BigInt, _>(id)
                .get_result::<Count>(conn)
                .map_err(query_error("count the rows that refer to it"))?
                .n;
            if n > 0 {
                dependents.push((*child, n));
            }
        }
        if !dependents.is_empty() {
            return Err(Error::HasDependents { what: what.clone(), dependents });
        }
        let statement = format!("DELETE FROM {table} WHERE id = $1");
        let deleted = diesel::sql_query(parameters_for(backend, &statement))
            .bind::<BigInt, _>(id)
            .execute(conn)
            .map_err(query_error("delete it"))?;
        if deleted == 0 {
            return Err(Error::NotFound { what: what.clone() });
        }
        Ok(())
    }))
}

/// An instrument's id by its symbol.
pub fn instrument_id(db: &Database, symbol: &str) -> Result<i64, Error> {
    let backend = db.backend();
    let mut connection = db.get()?;
    let found = dispatch!(connection, conn => diesel::sql_query(parameters_for(backend, "SELECT id AS n FROM instruments WHERE symbol = $1"))
        .bind::<Text, _>(symbol)
        .get_result::<Count>(conn)
        .optional())
    .map_err(query_error("find the instrument"))?;
    found.map(|c| c.n).ok_or_else(|| Error::NotFound { what: format!("instrument {symbol}") })
}
