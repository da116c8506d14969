//! Storing, reading, listing, changing and deleting documents, on PostgreSQL (JSONB) or SQLite
//! (JSON text), with secrets sealed outside the document and a version per row for optimistic
//! concurrency.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use migration_core::sql::Prepared;
use migration_core::{Backend, Database, DbConnection, dispatch};
use secrecy::SecretString;
use serde_json::{Map, Value};
use upload_validator::report::{Finding, Report, Rule, Severity};
use upload_validator::{Context, Validator};

use crate::collection::{Collection, READ_ONLY_FIELDS};
use crate::secrets::{Keyring, Place, SecretError};

/// Why a call failed. Nothing was written when it fails, and no message holds a secret.
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
    /// The body is not a JSON document (syntax, encoding, empty, too large): the report says
    /// where.
    #[error("the body is not a JSON document: {}", first_message(.0))]
    Malformed(Box<Report>),
    /// The document breaks its kind's rules: the report lists each finding.
    #[error("the document is not a valid {}: {}", .0.kind.replace('_', " "), first_message(.0))]
    Invalid(Box<Report>),
    /// No document has that key.
    #[error("no {noun} {key:?}")]
    NotFound {
        /// `connector profile`.
        noun: &'static str,
        /// The key asked for.
        key: String,
    },
    /// A document with that key exists already.
    #[error("{noun} {key:?} exists already; change it with PUT or PATCH, or choose another key")]
    Exists {
        /// `connector profile`.
        noun: &'static str,
        /// The key.
        key: String,
    },
    /// The document changed since the version the caller had.
    #[error(
        "{noun} {key:?} is at version {current}, not {expected}: read it again, apply your change to it, and retry"
    )]
    Stale {
        /// `connector profile`.
        noun: &'static str,
        /// The key.
        key: String,
        /// The version the caller sent.
        expected: i64,
        /// The version it is at.
        current: i64,
    },
    /// A list page token that this service did not write.
    #[error("the page token is not one this service wrote; start from the first page")]
    BadPageToken,
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
}

fn first_message(report: &Report) -> String {
    report.findings.iter().find(|f| f.severity == Severity::Error).map_or_else(String::new, |f| f.message.clone())
}

fn query_error(context: impl Into<String>) -> impl FnOnce(diesel::result::Error) -> Error {
    let context = context.into();
    move |source| Error::Query { context, source }
}

/// A stored document as clients see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Its key.
    pub key: String,
    /// The representation as JSON text (see [`Stored::representation`]).
    pub json: String,
    /// Its version: 1 when created, one more at each change. The HTTP ETag.
    pub version: i64,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

impl Stored {
    /// The representation: the document with its key, without its secrets, plus `version`,
    /// `created_at`, `updated_at` and, for connector profiles, `has_credentials` and
    /// `secret_fields` (the secret fields stored).
    pub fn representation(&self) -> Map<String, Value> {
        serde_json::from_str(&self.json).unwrap_or_default()
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The documents.
    pub items: Vec<Stored>,
    /// The token of the next page, if there is one.
    pub next: Option<String>,
}

/// What a list selects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Equality filters on document fields (one of [`Collection::filters`] each).
    pub filters: Vec<(&'static str, String)>,
    /// Only documents created after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only documents created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Documents per page.
    pub limit: u32,
    /// The token of the page to read ([`Page::next`]); the first page when `None`.
    pub page_token: Option<String>,
}

/// What an update requires of the stored version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Any version (an unconditional delete).
    Any,
    /// Exactly this one (If-Match).
    Version(i64),
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The active key's id.
    pub active_key: String,
    /// Rows whose secrets were sealed again with the active key.
    pub rotated: u64,
    /// Rows with secrets already sealed with it.
    pub current: u64,
}

/// The documents of one database. Cheap to clone (a pool and a shared keyring).
#[derive(Clone)]
pub struct Store {
    db: Database,
    keys: Option<Arc<Keyring>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.db.backend()).field("keys", &self.keys).finish()
    }
}

/// The SQL that differs between the backends.
struct Dialect {
    backend: Backend,
}

impl Dialect {
    /// A JSON parameter, as the document column's type.
    fn json(&self, n: u8) -> String {
        match self.backend {
            Backend::Postgres => format!("CAST(${n} AS JSONB)"),
            Backend::Sqlite => format!("${n}"),
        }
    }

    /// A time parameter (written by [`Dialect::time_value`]).
    fn time(&self, n: u8) -> String {
        match self.backend {
            Backend::Postgres => format!("CAST(${n} AS TIMESTAMPTZ)"),
            Backend::Sqlite => format!("${n}"),
        }
    }

    /// A time column as UTC text that [`parse_time`] reads.
    fn time_text(&self, column: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
            Backend::Sqlite => column.to_owned(),
        }
    }

    /// A document column as text.
    fn json_text(&self, column: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("CAST({column} AS TEXT)"),
            Backend::Sqlite => column.to_owned(),
        }
    }

    /// A top-level text field of a document column: the expression the filter indexes hold.
    fn field(&self, column: &str, field: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("({column} ->> '{field}')"),
            Backend::Sqlite => format!("json_extract({column}, '$.{field}')"),
        }
    }

    /// Merges a flat JSON object of secrets into the `secrets` column, a `null` member
    /// removing one; the column is NULL when none is left.
    fn merge_secrets(&self, n: u8) -> String {
        match self.backend {
            Backend::Postgres => format!(
                "NULLIF(CAST(jsonb_strip_nulls(coalesce(CAST(secrets AS JSONB), '{{}}'::jsonb) || CAST(${n} AS JSONB)) AS TEXT), '{{}}')"
            ),
            Backend::Sqlite => format!("NULLIF(json_patch(coalesce(secrets, '{{}}'), ${n}), '{{}}')"),
        }
    }

    /// `time` written as [`Dialect::time`] reads it: PostgreSQL gets the zone, SQLite the
    /// milliseconds its rows hold (`strftime('%Y-%m-%d %H:%M:%f')`), so text compares as time.
    fn time_value(&self, time: DateTime<Utc>) -> String {
        match self.backend {
            Backend::Postgres => time.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string(),
            Backend::Sqlite => time.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        }
    }

    /// The current time, at the precision the backend keeps.
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        let micros = now.timestamp_micros();
        let kept = match self.backend {
            Backend::Postgres => micros,
            Backend::Sqlite => micros - micros.rem_euclid(1000),
        };
        DateTime::from_timestamp_micros(kept).unwrap_or(now)
    }
}

/// Reads a time as [`Dialect::time_text`] writes it, or as SQLite's `CURRENT_TIMESTAMP` does.
/// Every row read parses two times, so the usual form (`YYYY-MM-DD HH:MM:SS`, an optional
/// fraction) is read digit by digit; chrono's format parser takes the rest.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    fast_time(text).or_else(|| {
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|t| t.and_utc())
    })
}

fn fast_time(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let micros = match b.get(19) {
        None => 0,
        Some(b'.') => {
            let digits = &b[20..];
            if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let value = number(20..b.len())?;
            (value as u64 * 10u64.pow(6u32.saturating_sub(digits.len() as u32))
                / 10u64.pow((digits.len() as u32).saturating_sub(6))) as u32
        }
        Some(_) => return None,
    };
    chrono::NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?
        .and_hms_micro_opt(number(11..13)?, number(14..16)?, number(17..19)?, micros)
        .map(|t| t.and_utc())
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    data: String,
    #[diesel(sql_type = Text)]
    created_at: String,
    #[diesel(sql_type = Text)]
    updated_at: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Nullable<Text>)]
    secrets: Option<String>,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = BigInt)]
    version: i64,
}

#[derive(QueryableByName)]
struct SecretsRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    secrets: String,
}

/// A document taken apart: what is stored as the document, and its secrets.
struct Parts {
    document: Map<String, Value>,
    /// Field path → new value (`None`: remove it).
    secrets: Vec<(String, Option<SecretString>)>,
}

impl Store {
    /// The documents of `db`. `keys` seal and open secrets; without them, a document with a
    /// secret is refused ([`SecretError::NoKey`]).
    pub fn new(db: Database, keys: Option<Keyring>) -> Store {
        Store { db, keys: keys.map(Arc::new) }
    }

    /// Its database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn dialect(&self) -> Dialect {
        Dialect { backend: self.db.backend() }
    }

    /// Stores a new document from a JSON body (validated by the collection's validator kind).
    /// The key comes from the document's key field.
    pub fn create(&self, collection: Collection, body: &[u8]) -> Result<Stored, Error> {
        let (mut document, report) = validate(collection, body)?;
        let key = take_key(collection, &mut document, None, &report)?;
        let parts = split(collection, document)?;
        let d = self.dialect();
        let now = d.now();
        let has_secrets = !collection.secret_fields().is_empty();
        let sql = format!(
            "INSERT INTO {table} ({key_column}, {data}, created_at, updated_at, version{secrets_column})
             VALUES ($1, {json}, {time}, {time}, 1{secrets_value}) ON CONFLICT ({key_column}) DO NOTHING
             RETURNING {returning}",
            returning = columns(collection, &d),
            table = collection.table(),
            key_column = collection.key(),
            data = collection.data_column(),
            json = d.json(2),
            time = d.time(3),
            secrets_column = if has_secrets { ", secrets" } else { "" },
            secrets_value = if has_secrets { ", $4" } else { "" },
        );
        let mut sealed = secrets_patch(&parts.secrets, self.keys.as_deref(), collection, &key)?;
        sealed.retain(|_, value| !value.is_null());
        let secrets = (!sealed.is_empty()).then(|| Value::Object(sealed).to_string());
        let text = Value::Object(parts.document).to_string();
        let mut connection = self.db.get()?;
        let mut query = Prepared::new(sql).text(&key).text(text).text(d.time_value(now));
        if has_secrets {
            query = query.nullable_text(secrets);
        }
        let inserted: Vec<Row> = dispatch!(connection, conn => query.clone().load(conn))
            .map_err(query_error(format!("storing {} {key:?}", collection.noun())))?;
        match inserted.into_iter().next() {
            Some(row) => represent(collection, row),
            None => Err(Error::Exists { noun: collection.noun(), key }),
        }
    }

    /// The document with this key.
    pub fn get(&self, collection: Collection, key: &str) -> Result<Stored, Error> {
        let d = self.dialect();
        let sql = format!("{} WHERE {} = $1", select(collection, &d), collection.key());
        let query = Prepared::new(sql).text(key);
        let rows: Vec<Row> = self.read(
            format!("reading {} {key:?}", collection.noun()),
            |connection| dispatch!(*connection, conn => query.clone().load(conn)),
        )?;
        rows.into_iter()
            .next()
            .map(|row| represent(collection, row))
            .unwrap_or_else(|| Err(Error::NotFound { noun: collection.noun(), key: key.to_owned() }))
    }

    /// The statement of [`list`](Store::list), and the page size.
    fn list_statement(&self, collection: Collection, query: &ListQuery) -> Result<(Prepared, u32), Error> {
        let d = self.dialect();
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let parameter = |value: String, values: &mut Vec<String>| -> u8 {
            values.push(value);
            values.len() as u8
        };
        for (field, value) in &query.filters {
            let n = parameter(value.clone(), &mut values);
            conditions.push(format!("{} = ${n}", d.field(collection.data_column(), field)));
        }
        if let Some(after) = query.created_after {
            let n = parameter(d.time_value(after), &mut values);
            conditions.push(format!("created_at > {}", d.time(n)));
        }
        if let Some(before) = query.created_before {
            let n = parameter(d.time_value(before), &mut values);
            conditions.push(format!("created_at < {}", d.time(n)));
        }
        if let Some(token) = &query.page_token {
            let (time, key) = decode_token(token)?;
            let t = parameter(d.time_value(time), &mut values);
            let k = parameter(key, &mut values);
            conditions.push(format!("(created_at, {}) < ({}, ${k})", collection.key(), d.time(t)));
        }
        let limit = query.limit.clamp(1, MAX_PAGE);
        let sql = format!(
            // Qualified: the select list's `created_at` is the column as text, which would sort
            // without the index.
            "{} {} ORDER BY {table}.created_at DESC, {table}.{key} DESC LIMIT {}",
            select(collection, &d),
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) },
            limit + 1,
            table = collection.table(),
            key = collection.key(),
        );
        Ok((values.into_iter().fold(Prepared::new(sql), Prepared::text), limit))
    }

    /// How the database serves [`list`](Store::list) for `query`: its plan, one line per
    /// step (PostgreSQL `EXPLAIN`, SQLite `EXPLAIN QUERY PLAN`), to check which index a
    /// filter uses.
    pub fn list_plan(&self, collection: Collection, query: &ListQuery) -> Result<String, Error> {
        #[derive(QueryableByName)]
        struct PgLine {
            #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
            line: String,
        }
        #[derive(QueryableByName)]
        struct SqliteLine {
            #[diesel(sql_type = Text)]
            detail: String,
        }
        let (query, _) = self.list_statement(collection, query)?;
        let lines: Vec<String> =
            self.read(format!("explaining a list of {}s", collection.noun()), |connection| match connection {
                DbConnection::Postgres(conn) => query
                    .clone()
                    .prefixed("EXPLAIN ")
                    .load::<PgLine>(&mut **conn)
                    .map(|lines| lines.into_iter().map(|l| l.line).collect()),
                DbConnection::Sqlite(conn) => query
                    .clone()
                    .prefixed("EXPLAIN QUERY PLAN ")
                    .load::<SqliteLine>(&mut **conn)
                    .map(|lines| lines.into_iter().map(|l| l.detail).collect()),
            })?;
        Ok(lines.join("\n"))
    }
    /// One page of documents, newest first, selected by `query`.
    pub fn list(&self, collection: Collection, query: &ListQuery) -> Result<Page, Error> {
        let (query, limit) = self.list_statement(collection, query)?;
        let rows: Vec<Row> = self.read(
            format!("listing {}s", collection.noun()),
            |connection| dispatch!(*connection, conn => query.clone().load(conn)),
        )?;
        let mut items = rows.into_iter().map(|row| represent(collection, row)).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| encode_token(last.created_at, &last.key))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Replaces the document with a JSON body (PUT). Secret fields the body leaves out are
    /// kept (clients never read them back to send them again); `null` removes one.
    pub fn replace(&self, collection: Collection, key: &str, body: &[u8], expect: Expect) -> Result<Stored, Error> {
        let (mut document, report) = validate(collection, body)?;
        take_key(collection, &mut document, Some(key), &report)?;
        let parts = split(collection, document)?;
        self.write(collection, key, parts, expect)
    }

    /// Changes the document by a JSON merge patch (RFC 7396, PATCH): members set, `null`
    /// members removed, objects merged. The merged document is validated whole.
    pub fn patch(&self, collection: Collection, key: &str, body: &[u8], expect: Expect) -> Result<Stored, Error> {
        let patch = parse_patch(collection, body)?;
        let current = self.get(collection, key)?;
        if let Expect::Version(expected) = expect
            && expected != current.version
        {
            return Err(Error::Stale {
                noun: collection.noun(),
                key: key.to_owned(),
                expected,
                current: current.version,
            });
        }
        // The secrets the patch sets or removes are taken out first: the stored document has
        // none to merge them into.
        let mut patch = patch;
        let mut secrets = Vec::new();
        for path in collection.secret_fields() {
            if let Some(value) = take_path(&mut patch, path) {
                secrets.push((path.join("."), value));
            }
        }
        let mut merged = current.representation();
        for name in READ_ONLY_FIELDS.iter().chain(std::iter::once(&collection.key())) {
            merged.remove(*name);
        }
        merge_patch(&mut merged, patch);
        // Validated as the document it becomes, secrets left out (they are checked below).
        let text = serde_json::to_string_pretty(&Value::Object(merged)).unwrap_or_default();
        let (document, _) = validate(collection, text.as_bytes())?;
        let mut parts = split(collection, document)?;
        for (field, value) in secrets {
            let value = match value {
                Value::Null => None,
                Value::String(text) => Some(SecretString::from(text)),
                _ => return Err(Error::Invalid(Box::new(secret_type_report(collection, &field)))),
            };
            parts.secrets.push((field, value));
        }
        self.write(collection, key, parts, Expect::Version(current.version))
    }

    /// Deletes the document.
    pub fn delete(&self, collection: Collection, key: &str, expect: Expect) -> Result<(), Error> {
        let mut sql = format!("DELETE FROM {} WHERE {} = $1", collection.table(), collection.key());
        if let Expect::Version(_) = expect {
            sql.push_str(" AND version = $2");
        }
        let mut connection = self.db.get()?;
        let mut query = Prepared::new(sql).text(key);
        if let Expect::Version(v) = expect {
            query = query.big_int(v);
        }
        let deleted = dispatch!(connection, conn => query.clone().execute(conn))
            .map_err(query_error(format!("deleting {} {key:?}", collection.noun())))?;
        drop(connection);
        if deleted == 0 {
            return Err(self.why_unchanged(collection, key, expect));
        }
        Ok(())
    }

    /// Seals every secret again with the active key, a batch of rows per transaction; rows
    /// already sealed with it are left alone, so it can be stopped and run again at any
    /// point. Versions and ETags do not change: the documents do not.
    pub fn rotate(&self, batch: u32, progress: &mut dyn FnMut(&Rotation)) -> Result<Rotation, Error> {
        let keys = self.keys.as_deref().ok_or(SecretError::NoKey)?;
        let mut rotation = Rotation { active_key: keys.active_id().to_owned(), ..Rotation::default() };
        for collection in Collection::ALL.into_iter().filter(|c| !c.secret_fields().is_empty()) {
            let (table, key_column) = (collection.table(), collection.key());
            let page = format!(
                "SELECT {key_column} AS key, secrets FROM {table} WHERE secrets IS NOT NULL AND {key_column} > $1 ORDER BY {key_column} LIMIT {}",
                batch.max(1)
            );
            // Only if unchanged since it was read: a concurrent write seals with the active key.
            let update = format!("UPDATE {table} SET secrets = $1 WHERE {key_column} = $2 AND secrets = $3");
            let mut after = String::new();
            loop {
                let mut connection = self.db.get()?;
                let rows: Vec<SecretsRow> = dispatch!(connection, conn => conn.transaction(|conn| {
                    let rows: Vec<SecretsRow> = Prepared::new(page.as_str()).text(after.as_str()).load(conn)?;
                    for row in &rows {
                        let Some(resealed) = reseal(keys, collection, row).map_err(|e| {
                            diesel::result::Error::QueryBuilderError(Box::new(e))
                        })? else {
                            rotation.current += 1;
                            continue;
                        };
                        Prepared::new(update.as_str())
                            .text(resealed)
                            .text(row.key.as_str())
                            .text(row.secrets.as_str())
                            .execute(conn)?;
                        rotation.rotated += 1;
                    }
                    Ok::<_, diesel::result::Error>(rows)
                }))
                .map_err(|source| match source {
                    diesel::result::Error::QueryBuilderError(inner) => match inner.downcast::<SecretError>() {
                        Ok(secret) => Error::Secret(*secret),
                        Err(other) => Error::Query {
                            context: format!("rotating the secrets of {table}"),
                            source: diesel::result::Error::QueryBuilderError(other),
                        },
                    },
                    source => Error::Query { context: format!("rotating the secrets of {table}"), source },
                })?;
                progress(&rotation);
                match rows.last() {
                    Some(last) => after = last.key.clone(),
                    None => break,
                }
            }
        }
        Ok(rotation)
    }

    /// Runs a read, once more on another connection if its connection turned out to be lost
    /// (the server restarted since it was pooled): the lost one is retired when dropped.
    fn read<T>(&self, context: String, mut run: impl FnMut(&mut DbConnection) -> QueryResult<T>) -> Result<T, Error> {
        let mut connection = self.db.get()?;
        match run(&mut connection) {
            Err(error) if migration_core::is_lost_connection(&error) => {
                drop(connection);
                let mut connection = self.db.get()?;
                run(&mut connection).map_err(query_error(context))
            }
            result => result.map_err(query_error(context)),
        }
    }

    /// Writes a new document and secret changes, if the version is as expected.
    fn write(&self, collection: Collection, key: &str, parts: Parts, expect: Expect) -> Result<Stored, Error> {
        let d = self.dialect();
        let has_secrets = !collection.secret_fields().is_empty();
        let mut sql = format!(
            "UPDATE {table} SET {data} = {json}, updated_at = {time}, version = version + 1{secrets} WHERE {key_column} = $1",
            table = collection.table(),
            data = collection.data_column(),
            json = d.json(2),
            time = d.time(3),
            key_column = collection.key(),
            secrets = if has_secrets { format!(", secrets = {}", d.merge_secrets(4)) } else { String::new() },
        );
        let version_parameter = if has_secrets { 5 } else { 4 };
        if let Expect::Version(_) = expect {
            sql.push_str(&format!(" AND version = ${version_parameter}"));
        }
        sql.push_str(&format!(" RETURNING {}", columns(collection, &d)));
        let secrets = Value::Object(secrets_patch(&parts.secrets, self.keys.as_deref(), collection, key)?).to_string();
        let text = Value::Object(parts.document).to_string();
        let now = d.time_value(d.now());
        let mut connection = self.db.get()?;
        let mut query = Prepared::new(sql).text(key).text(text).text(now);
        if has_secrets {
            query = query.text(secrets);
        }
        if let Expect::Version(v) = expect {
            query = query.big_int(v);
        }
        let updated: Vec<Row> = dispatch!(connection, conn => query.clone().load(conn))
            .map_err(query_error(format!("changing {} {key:?}", collection.noun())))?;
        drop(connection);
        match updated.into_iter().next() {
            Some(row) => represent(collection, row),
            None => Err(self.why_unchanged(collection, key, expect)),
        }
    }

    /// Why a conditional write changed no row: the key is gone, or its version moved on.
    fn why_unchanged(&self, collection: Collection, key: &str, expect: Expect) -> Error {
        let sql = format!("SELECT version FROM {} WHERE {} = $1", collection.table(), collection.key());
        let current: Option<i64> = self.db.get().ok().and_then(|mut connection| {
            let query = Prepared::new(sql).text(key);
            dispatch!(connection, conn => query.clone().load::<VersionRow>(conn))
                .ok()
                .and_then(|rows| rows.first().map(|r| r.version))
        });
        match (current, expect) {
            (Some(current), Expect::Version(expected)) => {
                Error::Stale { noun: collection.noun(), key: key.to_owned(), expected, current }
            }
            _ => Error::NotFound { noun: collection.noun(), key: key.to_owned() },
        }
    }
}

/// Takes the secrets out of a validated document.
fn split(collection: Collection, mut document: Map<String, Value>) -> Result<Parts, Error> {
    let mut secrets = Vec::new();
    for path in collection.secret_fields() {
        match take_path(&mut document, path) {
            Some(Value::String(text)) => secrets.push((path.join("."), Some(SecretString::from(text)))),
            Some(Value::Null) => secrets.push((path.join("."), None)),
            Some(_) => return Err(Error::Invalid(Box::new(secret_type_report(collection, &path.join("."))))),
            None => {}
        }
    }
    Ok(Parts { document, secrets })
}

/// Most documents a page holds.
pub const MAX_PAGE: u32 = 500;

/// What a read selects of a row, as [`Row`] names it; writes return the same with RETURNING,
/// so a write answers with the stored row without reading it again.
fn columns(collection: Collection, d: &Dialect) -> String {
    format!(
        "{key} AS key, {data} AS data, {created} AS created_at, {updated} AS updated_at, version, {secrets} AS secrets",
        key = collection.key(),
        data = d.json_text(collection.data_column()),
        created = d.time_text("created_at"),
        updated = d.time_text("updated_at"),
        secrets = if collection.secret_fields().is_empty() { "CAST(NULL AS TEXT)" } else { "secrets" },
    )
}

fn select(collection: Collection, d: &Dialect) -> String {
    format!("SELECT {} FROM {}", columns(collection, d), collection.table())
}

/// The representation of a row (see [`Stored::representation`]).
fn represent(collection: Collection, row: Row) -> Result<Stored, Error> {
    let corrupt = |what: &str| Error::Query {
        context: format!("reading {} {:?}", collection.noun(), row.key),
        source: diesel::result::Error::DeserializationError(what.to_owned().into()),
    };
    // The document is spliced, not parsed: it was validated when written, and the database
    // keeps it valid JSON (JSONB, or json_valid); only its being an object is checked.
    let members = row
        .data
        .trim()
        .strip_prefix('{')
        .and_then(|d| d.strip_suffix('}'))
        .ok_or_else(|| corrupt("its document is not a JSON object"))?
        .trim();
    let created_at = parse_time(&row.created_at).ok_or_else(|| corrupt("created_at is not a time"))?;
    let updated_at = parse_time(&row.updated_at).ok_or_else(|| corrupt("updated_at is not a time"))?;
    // Written straight into one buffer: a list builds 51 of these per request.
    use std::fmt::Write as _;
    let mut json = String::with_capacity(row.data.len() + 192);
    json.push_str("{\"");
    json.push_str(collection.key());
    json.push_str("\":");
    json.push_str(&Value::String(row.key.clone()).to_string());
    if !members.is_empty() {
        json.push(',');
        json.push_str(members);
    }
    if !collection.secret_fields().is_empty() {
        let sealed = row.secrets.as_deref().unwrap_or("");
        let is_stored = |field: &str| sealed.contains(&format!("\"{field}\""));
        let password = is_stored("credentials.password");
        let _ = write!(json, ",\"has_credentials\":{password},\"secret_fields\":[");
        let mut first = true;
        for path in collection.secret_fields() {
            let field = path.join(".");
            if is_stored(&field) {
                json.push_str(if first { "\"" } else { ",\"" });
                json.push_str(&field);
                json.push('"');
                first = false;
            }
        }
        json.push(']');
    }
    let _ = write!(json, ",\"version\":{},\"created_at\":\"", row.version);
    write_rfc3339(&mut json, created_at);
    json.push_str("\",\"updated_at\":\"");
    write_rfc3339(&mut json, updated_at);
    json.push_str("\"}");
    Ok(Stored { key: row.key, json, version: row.version, created_at, updated_at })
}

/// `2025-12-21T06:20:48.123456Z`.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    let mut text = String::with_capacity(27);
    write_rfc3339(&mut text, time);
    text
}

fn write_rfc3339(out: &mut String, time: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.timestamp_subsec_micros()
    );
}

/// Checks a body with the collection's validator kind; the document, read-only fields taken
/// out, and the report (warnings about read-only fields dropped).
fn validate(collection: Collection, body: &[u8]) -> Result<(Map<String, Value>, Report), Error> {
    let mut validator =
        Validator::new(collection.kind(), Context::none()).expect("every document kind takes no context (NoContext)");
    validator.push(body);
    let mut report = validator.finish();
    let read_only = |f: &Finding| {
        f.rule == Rule::UnknownField && f.column_name.as_deref().is_some_and(|name| READ_ONLY_FIELDS.contains(&name))
    };
    let dropped = report.findings.iter().filter(|f| read_only(f)).count() as u64;
    report.findings.retain(|f| !read_only(f));
    report.warnings -= dropped.min(report.warnings);
    if report.errors > 0 {
        let malformed = report.findings.iter().any(|f| {
            f.severity == Severity::Error
                && matches!(f.rule, Rule::Json | Rule::Encoding | Rule::EmptyFile | Rule::FileTooLarge)
        });
        return Err(if malformed { Error::Malformed(Box::new(report)) } else { Error::Invalid(Box::new(report)) });
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Ok(Value::Object(mut document)) = serde_json::from_slice::<Value>(body) else {
        // The validator accepted it, so it is an object; serde_json disagreeing is a bug here.
        return Err(Error::Malformed(Box::new(report)));
    };
    for name in READ_ONLY_FIELDS {
        document.remove(name);
    }
    Ok((document, report))
}

/// A merge patch body: a JSON object (checked for syntax only; the merged document is checked
/// whole).
fn parse_patch(collection: Collection, body: &[u8]) -> Result<Map<String, Value>, Error> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(patch)) => Ok(patch),
        Ok(_) => Err(Error::Malformed(Box::new(single_finding(
            collection,
            Rule::Type,
            None,
            "A merge patch is a JSON object of the members to set (null removes one). Send an object.",
        )))),
        Err(error) => Err(Error::Malformed(Box::new(single_finding(
            collection,
            Rule::Json,
            Some((error.line() as u64, error.column() as u32)),
            &format!("The patch is not valid JSON: {error}. Fix the JSON and send it again."),
        )))),
    }
}

/// The key field: required on create, equal to the URL's key when given with one.
fn take_key(
    collection: Collection,
    document: &mut Map<String, Value>,
    url_key: Option<&str>,
    report: &Report,
) -> Result<String, Error> {
    let field = collection.key();
    let in_document = document.remove(field);
    let key = match (&in_document, url_key) {
        (Some(Value::String(key)), Some(url)) if key != url => {
            let message = format!(
                "The document's {field} is {key:?} but the address names {url:?}. Send the {field} of the address, or leave it out."
            );
            return Err(Error::Invalid(Box::new(with_finding(report.clone(), field, Rule::Range, &message))));
        }
        (_, Some(url)) => url.to_owned(),
        (Some(Value::String(key)), None) => key.clone(),
        (_, None) => {
            let message = format!("A new {} needs its {field}: add \"{field}\": \"...\".", collection.noun());
            return Err(Error::Invalid(Box::new(with_finding(report.clone(), field, Rule::Required, &message))));
        }
    };
    if key.is_empty() || key.chars().count() > 255 || key.chars().any(char::is_control) {
        let message = format!("The {field} must be 1 to 255 characters, without control characters.");
        return Err(Error::Invalid(Box::new(with_finding(report.clone(), field, Rule::TooLong, &message))));
    }
    Ok(key)
}

fn with_finding(mut report: Report, field: &str, rule: Rule, message: &str) -> Report {
    report.findings.push(Finding {
        rule,
        severity: Severity::Error,
        line: 1,
        record: 1,
        column: Some(1),
        column_name: Some(field.to_owned()),
        byte_offset: 0,
        message: message.to_owned(),
    });
    report.errors += 1;
    report.verdict = upload_validator::report::Verdict::FixFirst;
    report
}

fn single_finding(collection: Collection, rule: Rule, at: Option<(u64, u32)>, message: &str) -> Report {
    let (line, column) = at.unwrap_or((1, 1));
    Report {
        kind: collection.kind().name(),
        verdict: upload_validator::report::Verdict::FixFirst,
        bytes: 0,
        records: 0,
        errors: 1,
        warnings: 0,
        detected: Default::default(),
        findings: vec![Finding {
            rule,
            severity: Severity::Error,
            line,
            record: 0,
            column: Some(column),
            column_name: None,
            byte_offset: 0,
            message: message.to_owned(),
        }],
        omitted: Default::default(),
    }
}

fn secret_type_report(collection: Collection, field: &str) -> Report {
    let mut report = single_finding(
        collection,
        Rule::Type,
        None,
        &format!("{field} is a secret and must be text (or null to remove it)."),
    );
    report.findings[0].column_name = Some(field.to_owned());
    report
}

/// Removes the member at `path`, returning it; an object left empty on the way is removed too.
fn take_path(document: &mut Map<String, Value>, path: &[&str]) -> Option<Value> {
    match path {
        [] => None,
        [last] => document.remove(*last),
        [first, rest @ ..] => {
            let Some(Value::Object(inner)) = document.get_mut(*first) else { return None };
            let taken = take_path(inner, rest);
            if inner.is_empty() {
                document.remove(*first);
            }
            taken
        }
    }
}

/// RFC 7396.
fn merge_patch(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (name, value) in patch {
        match value {
            Value::Null => {
                target.remove(&name);
            }
            Value::Object(inner) => {
                let entry = target.entry(name).or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                if let Value::Object(existing) = entry {
                    merge_patch(existing, inner);
                }
            }
            other => {
                target.insert(name, other);
            }
        }
    }
}

/// The secrets column's merge patch: each changed field sealed for its place, or `null`.
fn secrets_patch(
    secrets: &[(String, Option<SecretString>)],
    keys: Option<&Keyring>,
    collection: Collection,
    key: &str,
) -> Result<Map<String, Value>, Error> {
    let mut patch = Map::new();
    for (field, value) in secrets {
        let sealed = match value {
            Some(plain) => {
                let keys = keys.ok_or(SecretError::NoKey)?;
                Value::String(keys.seal(Place { table: collection.table(), key, field }, plain)?)
            }
            None => Value::Null,
        };
        patch.insert(field.clone(), sealed);
    }
    Ok(patch)
}

/// The row's secrets sealed again with the active key, or `None` when all already are.
fn reseal(keys: &Keyring, collection: Collection, row: &SecretsRow) -> Result<Option<String>, SecretError> {
    let place = |field: &str| Place { table: collection.table(), key: &row.key, field }.to_string();
    let Ok(sealed) = serde_json::from_str::<Map<String, Value>>(&row.secrets) else {
        return Err(SecretError::Tampered { place: place("secrets"), why: "the secrets column is not a JSON object" });
    };
    if sealed.values().all(|v| v.as_str().and_then(Keyring::key_id_of) == Some(keys.active_id())) {
        return Ok(None);
    }
    let mut resealed = Map::new();
    for (field, value) in &sealed {
        let at = Place { table: collection.table(), key: &row.key, field };
        let text = value.as_str().ok_or_else(|| SecretError::Tampered { place: place(field), why: "not text" })?;
        resealed.insert(field.clone(), Value::String(keys.seal(at, &keys.open(at, text)?)?));
    }
    Ok(Some(Value::Object(resealed).to_string()))
}

fn encode_token(time: DateTime<Utc>, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}\n{key}", time.timestamp_micros()))
}

fn decode_token(token: &str) -> Result<(DateTime<Utc>, String), Error> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| Error::BadPageToken)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::BadPageToken)?;
    let (micros, key) = text.split_once('\n').ok_or(Error::BadPageToken)?;
    let time = micros.parse().ok().and_then(DateTime::from_timestamp_micros).ok_or(Error::BadPageToken)?;
    Ok((time, key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // The examples of RFC 7396, appendix A.
        let cases = [
            (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
            (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
            (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"c"}"#, r#"{"a":["b"]}"#, r#"{"a":["b"]}"#),
            (r#"{"a":{"b":"c"}}"#, r#"{"a":{"b":"d","c":null}}"#, r#"{"a":{"b":"d"}}"#),
            (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
            (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"a":1,"e":null}"#),
            (r#"{"a":"foo"}"#, r#"{"a":{"bb":{"ccc":null}}}"#, r#"{"a":{"bb":{}}}"#),
        ];
        for (target, patch, expected) in cases {
            let mut target: Map<String, Value> = serde_json::from_str(target).unwrap();
            merge_patch(&mut target, serde_json::from_str(patch).unwrap());
            assert_eq!(Value::Object(target), serde_json::from_str::<Value>(expected).unwrap(), "{patch}");
        }
    }

    #[test]
    fn page_tokens_round_trip_and_foreign_ones_are_refused() {
        let time = DateTime::from_timestamp_micros(1_766_298_048_123_456).unwrap();
        let token = encode_token(time, "p-1\nodd");
        assert_eq!(decode_token(&token).unwrap(), (time, "p-1\nodd".to_owned()));
        for bad in ["", "!!", "bm90IGEgdG9rZW4"] {
            assert!(matches!(decode_token(bad), Err(Error::BadPageToken)), "{bad}");
        }
    }

    #[test]
    fn the_fast_time_reader_agrees_with_chrono() {
        for text in [
            "2025-12-21 06:20:48",
            "2025-12-21 06:20:48.1",
            "2025-12-21 06:20:48.123",
            "2025-12-21 06:20:48.123456",
            "2025-12-21T06:20:48.123456789",
            "2024-02-29 23:59:59.999999",
        ] {
            let slow = NaiveDateTime::parse_from_str(&text.replace('T', " "), "%Y-%m-%d %H:%M:%S%.f").unwrap();
            let fast = fast_time(text).unwrap();
            assert_eq!(fast.timestamp_micros(), slow.and_utc().timestamp_micros(), "{text}");
            assert_eq!(rfc3339(fast), fast.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        }
        for bad in [
            "2025-02-30 00:00:00",
            "2025-12-21 24:00:00",
            "2025-12-21 06:20",
            "2025-12-21 06:20:48.",
            "x025-12-21 06:20:48",
        ] {
            assert!(fast_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn times_read_as_each_backend_writes_them() {
        let expected = DateTime::from_timestamp_micros(1_766_298_048_123_000).unwrap();
        assert_eq!(parse_time("2025-12-21 06:20:48.123"), Some(expected));
        assert_eq!(parse_time("2025-12-21 06:20:48.123000"), Some(expected));
        assert!(parse_time("2025-12-21 06:20:48").is_some());
        let sqlite = Dialect { backend: Backend::Sqlite };
        assert_eq!(sqlite.time_value(expected), "2025-12-21 06:20:48.123");
        let postgres = Dialect { backend: Backend::Postgres };
        assert_eq!(postgres.time_value(expected), "2025-12-21 06:20:48.123000+00:00");
    }
}
