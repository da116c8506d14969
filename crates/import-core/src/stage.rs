//! Stage tables: one declaration of a stage's columns gives its DDL on both backends, the
//! PostgreSQL `COPY` text of a row, SQLite's multi-row insert and the column lists a merge
//! statement names, so none of them is written twice.
//!
//! A stage is a temporary table on the import's own connection: the file's valid rows are
//! loaded into it in bulk, then merged into the domain's tables by set-based SQL under the
//! domain's write lock. Every stage starts with `line`, the file line the row came from (on
//! SQLite the rowid, so the stage is stored in file order).

use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Date, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl as _, SqliteConnection};
use migration_core::Backend;

/// What a stage column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A 64-bit integer (`BIGINT`; SQLite `INTEGER`).
    BigInt,
    /// Text (`TEXT` on both).
    Text,
    /// A time without zone (`TIMESTAMP`; SQLite text `YYYY-MM-DD HH:MM:SS[.f]`).
    Timestamp,
    /// A day (`DATE`; SQLite text `YYYY-MM-DD`).
    Date,
}

impl ColumnType {
    fn sql(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (ColumnType::BigInt, Backend::Postgres) => "BIGINT",
            (ColumnType::BigInt, Backend::Sqlite) => "INTEGER",
            (ColumnType::Text, _) => "TEXT",
            (ColumnType::Timestamp, Backend::Postgres) => "TIMESTAMP",
            (ColumnType::Timestamp, Backend::Sqlite) => "TEXT",
            (ColumnType::Date, Backend::Postgres) => "DATE",
            (ColumnType::Date, Backend::Sqlite) => "TEXT",
        }
    }
}

/// One column of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name, the same as the target table's column it is merged into.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it may be NULL.
    pub nullable: bool,
}

impl Column {
    /// A `NOT NULL` column.
    pub const fn required(name: &'static str, ty: ColumnType) -> Self {
        Column { name, ty, nullable: false }
    }

    /// A column that may be NULL.
    pub const fn optional(name: &'static str, ty: ColumnType) -> Self {
        Column { name, ty, nullable: true }
    }
}

/// A stage table: its name and its columns after `line`.
#[derive(Debug)]
pub struct Stage {
    /// The temporary table's name.
    pub table: &'static str,
    /// Its columns, in the order [`StageRow::write`] writes them.
    pub columns: &'static [Column],
}

impl Stage {
    /// Drops a stage left by an earlier import on this connection and creates it empty (on
    /// PostgreSQL dropped again when the import's transaction ends).
    pub fn create_sql(&self, backend: Backend) -> String {
        let line = match backend {
            Backend::Postgres => "line BIGINT NOT NULL",
            // The rowid: rows are stored in file order, with no separate index.
            Backend::Sqlite => "line INTEGER PRIMARY KEY",
        };
        let mut sql = format!("{};\nCREATE TEMPORARY TABLE {} (\n    {line}", self.drop_sql(backend), self.table);
        for column in self.columns {
            let null = if column.nullable { "" } else { " NOT NULL" };
            let _ = write!(sql, ",\n    {} {}{null}", column.name, column.ty.sql(backend));
        }
        // PostgreSQL: the import is one transaction, whose end drops the stage.
        sql.push_str(if backend == Backend::Postgres { "\n) ON COMMIT DROP" } else { "\n)" });
        sql
    }

    /// Drops the stage if it exists. The connection's temporary schema is named, so a real
    /// table of the same name is never dropped by mistake.
    pub fn drop_sql(&self, backend: Backend) -> String {
        let schema = match backend {
            Backend::Postgres => "pg_temp",
            Backend::Sqlite => "temp",
        };
        format!("DROP TABLE IF EXISTS {schema}.{}", self.table)
    }

    /// The columns after `line`, comma-separated, each behind `prefix` (`""` or `"s."`): the
    /// lists a merge's `INSERT INTO target (...) SELECT ...` names.
    pub fn columns(&self, prefix: &str) -> String {
        let mut list = String::new();
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                list.push_str(", ");
            }
            list.push_str(prefix);
            list.push_str(column.name);
        }
        list
    }

    /// The types a row writes, checked against the declaration; for each domain's tests
    /// (a row written in the wrong order would load into the wrong columns).
    pub fn check_row(&self, row: &impl StageRow) -> Result<(), String> {
        let mut written = TypeList(Vec::new());
        row.write(&mut written);
        let line = (ColumnType::BigInt, false);
        let declared: Vec<(ColumnType, bool)> =
            std::iter::once(line).chain(self.columns.iter().map(|c| (c.ty, c.nullable))).collect();
        if written.0 == declared {
            Ok(())
        } else {
            Err(format!("{} declares {declared:?} but a row writes {:?}", self.table, written.0))
        }
    }
}

/// Where a row writes its values: the COPY text, SQLite's bind parameters, or a type check.
/// `'b` is how long the values are borrowed for (SQLite binds them by reference).
pub trait Values<'b> {
    /// A `BigInt` column.
    fn bigint(&mut self, value: &'b i64);
    /// A `Text` column.
    fn text(&mut self, value: &'b str);
    /// A nullable `Text` column.
    fn nullable_text(&mut self, value: &'b Option<String>);
    /// A `Timestamp` column.
    fn timestamp(&mut self, value: &'b NaiveDateTime);
    /// A `Date` column.
    fn date(&mut self, value: &'b NaiveDate);
}

/// A row of a stage.
pub trait StageRow {
    /// Writes its values: first `line`, the 1-based file line it came from, then the
    /// [`Stage::columns`] in their order.
    fn write<'b>(&'b self, values: &mut dyn Values<'b>);
}

/// Appends a row to a COPY data stream in PostgreSQL's text format (tab-separated, `\N` for
/// NULL, backslash escapes).
pub(crate) fn copy_row(row: &impl StageRow, out: &mut Vec<u8>) {
    let mut writer = CopyText { out, first: true };
    row.write(&mut writer);
    writer.out.push(b'\n');
}

struct CopyText<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl std::fmt::Write for CopyText<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl CopyText<'_> {
    /// Starts the next field.
    fn field(&mut self) -> &mut Self {
        if !std::mem::take(&mut self.first) {
            self.out.push(b'\t');
        }
        self
    }

    fn escaped(&mut self, text: &str) {
        self.field();
        for &byte in text.as_bytes() {
            match byte {
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                _ => self.out.push(byte),
            }
        }
    }
}

impl<'b> Values<'b> for CopyText<'_> {
    fn bigint(&mut self, value: &'b i64) {
        let _ = write!(self.field(), "{value}");
    }

    fn text(&mut self, value: &'b str) {
        self.escaped(value);
    }

    fn nullable_text(&mut self, value: &'b Option<String>) {
        match value {
            Some(text) => self.escaped(text),
            None => self.field().out.extend_from_slice(b"\\N"),
        }
    }

    fn timestamp(&mut self, value: &'b NaiveDateTime) {
        let _ = write!(self.field(), "{value}");
    }

    fn date(&mut self, value: &'b NaiveDate) {
        let _ = write!(self.field(), "{value}");
    }
}

/// `INSERT INTO <stage> VALUES (...), (...)` of a batch of rows, with bind parameters.
///
/// Its SQL depends only on the stage and the number of rows, so diesel's statement cache
/// (keyed by the SQL text) prepares a full batch once per connection and reuses it.
pub(crate) struct SqliteInsert<'a, R> {
    pub(crate) stage: &'a Stage,
    pub(crate) rows: &'a [R],
}

impl<R> QueryId for SqliteInsert<'_, R> {
    type QueryId = ();
    // No static id: the statement cache then keys it by its SQL, which names the row count.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<R: StageRow> QueryFragment<Sqlite> for SqliteInsert<'_, R> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        pass.push_sql("INSERT INTO temp.");
        pass.push_identifier(self.stage.table)?;
        pass.push_sql(" VALUES ");
        for (i, row) in self.rows.iter().enumerate() {
            pass.push_sql(if i == 0 { "(" } else { "), (" });
            let mut binds = Binds { pass: pass.reborrow(), first: true, result: Ok(()) };
            row.write(&mut binds);
            binds.result?;
        }
        pass.push_sql(")");
        Ok(())
    }
}

impl<R> diesel::query_dsl::RunQueryDsl<SqliteConnection> for SqliteInsert<'_, R> {}

impl<R: StageRow> SqliteInsert<'_, R> {
    pub(crate) fn run(self, conn: &mut SqliteConnection) -> QueryResult<usize> {
        if self.rows.is_empty() { Ok(0) } else { self.execute(conn) }
    }
}

/// Binds each value of a row as the next parameter.
struct Binds<'p, 'b> {
    pass: AstPass<'p, 'b, Sqlite>,
    first: bool,
    result: QueryResult<()>,
}

impl Binds<'_, '_> {
    fn next(&mut self, bind: impl FnOnce(&mut Self) -> QueryResult<()>) {
        if self.result.is_ok() {
            if !std::mem::take(&mut self.first) {
                self.pass.push_sql(", ");
            }
            self.result = bind(self);
        }
    }
}

impl<'b> Values<'b> for Binds<'_, 'b> {
    fn bigint(&mut self, value: &'b i64) {
        self.next(|b| b.pass.push_bind_param::<BigInt, _>(value));
    }

    fn text(&mut self, value: &'b str) {
        self.next(|b| b.pass.push_bind_param::<Text, _>(value));
    }

    fn nullable_text(&mut self, value: &'b Option<String>) {
        self.next(|b| b.pass.push_bind_param::<Nullable<Text>, _>(value));
    }

    fn timestamp(&mut self, value: &'b NaiveDateTime) {
        self.next(|b| b.pass.push_bind_param::<Timestamp, _>(value));
    }

    fn date(&mut self, value: &'b NaiveDate) {
        self.next(|b| b.pass.push_bind_param::<Date, _>(value));
    }
}

/// The types a row writes, for [`Stage::check_row`].
struct TypeList(Vec<(ColumnType, bool)>);

impl<'b> Values<'b> for TypeList {
    fn bigint(&mut self, _: &'b i64) {
        self.0.push((ColumnType::BigInt, false));
    }

    fn text(&mut self, _: &'b str) {
        self.0.push((ColumnType::Text, false));
    }

    fn nullable_text(&mut self, _: &'b Option<String>) {
        self.0.push((ColumnType::Text, true));
    }

    fn timestamp(&mut self, _: &'b NaiveDateTime) {
        self.0.push((ColumnType::Timestamp, false));
    }

    fn date(&mut self, _: &'b NaiveDate) {
        self.0.push((ColumnType::Date, false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGE: Stage = Stage {
        table: "thing_stage",
        columns: &[
            Column::required("name", ColumnType::Text),
            Column::required("amount", ColumnType::BigInt),
            Column::optional("note", ColumnType::Text),
            Column::required("at", ColumnType::Timestamp),
        ],
    };

    struct Thing {
        line: i64,
        name: String,
        amount: i64,
        note: Option<String>,
        at: NaiveDateTime,
    }

    impl StageRow for Thing {
        fn write<'b>(&'b self, values: &mut dyn Values<'b>) {
            values.bigint(&self.line);
            values.text(&self.name);
            values.bigint(&self.amount);
            values.nullable_text(&self.note);
            values.timestamp(&self.at);
        }
    }

    fn thing(note: Option<&str>) -> Thing {
        let at = NaiveDate::from_ymd_opt(2025, 2, 3).unwrap().and_hms_opt(9, 31, 6).unwrap();
        Thing { line: 7, name: "a\tb\\c\nd\re".into(), amount: -5, note: note.map(String::from), at }
    }

    #[test]
    fn the_ddl_follows_the_declaration_on_both_backends() {
        assert_eq!(
            STAGE.create_sql(Backend::Postgres),
            "DROP TABLE IF EXISTS pg_temp.thing_stage;\nCREATE TEMPORARY TABLE thing_stage (\n    line BIGINT NOT NULL,\n    name TEXT NOT NULL,\n    amount BIGINT NOT NULL,\n    note TEXT,\n    at TIMESTAMP NOT NULL\n) ON COMMIT DROP"
        );
        assert!(
            STAGE
                .create_sql(Backend::Sqlite)
                .contains("line INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n    amount INTEGER NOT NULL")
        );
        assert_eq!(STAGE.columns("s."), "s.name, s.amount, s.note, s.at");
    }

    #[test]
    fn copy_text_escapes_and_marks_null() {
        let mut out = Vec::new();
        copy_row(&thing(None), &mut out);
        copy_row(&thing(Some("n")), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "7\ta\\tb\\\\c\\nd\\re\t-5\t\\N\t2025-02-03 09:31:06\n7\ta\\tb\\\\c\\nd\\re\t-5\tn\t2025-02-03 09:31:06\n"
        );
    }

    #[test]
    fn a_row_is_checked_against_the_declaration() {
        STAGE.check_row(&thing(None)).unwrap();
        let wrong = Stage { table: "t", columns: &STAGE.columns[..3] };
        assert!(wrong.check_row(&thing(None)).unwrap_err().contains("declares"));
    }
}
