//! What a database holds, to compare it with the states an operation may leave: its schema
//! (migration-core's canonical snapshot) and every table's rows as text, sorted.
//!
//! Values a run makes up rather than reads are left out, so that two runs of one operation
//! on one input give equal states: times (columns of a time type, and `duration_ms`),
//! generated keys (sequences, identity and SQLite's `INTEGER PRIMARY KEY`, with the integer
//! columns that refer to them: a killed transaction still spends sequence numbers) and
//! SQLite's `sqlite_sequence`. Every other column of every row is compared.

use std::collections::BTreeMap;

use diesel::sql_types::{Bool, Text};
use diesel::{QueryableByName, RunQueryDsl};
use migration_core::snapshot::Snapshot;
use migration_core::{Backend, Database, DbConnection, dispatch};

/// How `backend` names the table PostgreSQL names `name` (`schema.table`, or `table` in
/// `public`): SQLite has no schemas, and intake's migrations prefix the table instead
/// (`alm_reporting.import_history` is `alm_reporting_import_history`). The name [`State`]
/// keys its rows by, and a name SQL takes as it is.
pub fn table(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Postgres => name.to_owned(),
        Backend::Sqlite => name.replace('.', "_"),
    }
}

/// A database's schema and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    schema: String,
    tables: BTreeMap<String, Vec<String>>,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Bool)]
    volatile: bool,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    r: String,
}

impl State {
    /// Reads the state of the database at `url`, without the columns named in `ignore`
    /// (and closes its connection, so the database can be copied afterwards).
    pub fn read(url: &str, ignore: &[&str]) -> Result<State, String> {
        let db = Database::connect(url).map_err(|e| format!("{url}: {e}"))?;
        let mut connection = db.get().map_err(|e| format!("{url}: {e}"))?;
        let schema = Snapshot::read(&mut connection).map_err(|e| format!("schema snapshot of {url}: {e}"))?.to_text();
        let mut tables = BTreeMap::new();
        for (table, mut columns) in columns(&mut connection)? {
            columns.retain(|c| !ignore.contains(&c.as_str()));
            let list = if columns.is_empty() { "'row'".to_owned() } else { row_text(&connection, &columns) };
            let quoted: Vec<String> = table.split('.').map(|part| format!("\"{part}\"")).collect();
            let sql = format!("SELECT {list} AS r FROM {}", quoted.join("."));
            let mut rows: Vec<String> = dispatch!(connection, conn => diesel::sql_query(&sql).load::<TextRow>(conn))
                .map_err(|e| format!("{sql}: {e}"))?
                .into_iter()
                .map(|row| row.r)
                .collect();
            rows.sort_unstable();
            tables.insert(table, rows);
        }
        Ok(State { schema, tables })
    }

    /// The rows of `table` (named as [`table`] names it).
    pub fn rows(&self, table: &str) -> &[String] {
        self.tables.get(table).map_or(&[], Vec::as_slice)
    }

    /// This state without `tables` (compared on their own by the caller).
    pub fn without(&self, tables: &[impl AsRef<str>]) -> State {
        let mut state = self.clone();
        state.tables.retain(|name, _| !tables.iter().any(|t| t.as_ref() == name));
        state
    }

    /// How `other` differs from this state, a line per table (empty when equal).
    pub fn differences(&self, other: &State) -> Vec<String> {
        let mut lines = Vec::new();
        if self.schema != other.schema {
            lines.push("the schema differs".to_owned());
        }
        let names: std::collections::BTreeSet<&String> = self.tables.keys().chain(other.tables.keys()).collect();
        for name in names {
            let (mine, theirs) = (self.rows(name), other.rows(name));
            if mine != theirs {
                let only_here = mine.iter().filter(|r| theirs.binary_search(r).is_err()).count();
                let only_there = theirs.iter().filter(|r| mine.binary_search(r).is_err()).count();
                let example = theirs.iter().find(|r| mine.binary_search(r).is_err());
                lines.push(format!(
                    "{name}: {} rows against {}; {only_here} only in the expected state, {only_there} only in this one{}",
                    theirs.len(),
                    mine.len(),
                    example.map_or(String::new(), |r| format!(" (e.g. {})", shorten(r))),
                ));
            }
        }
        lines
    }
}

/// Runs `sql` on the database at `url` and loads its rows (the connection closed after).
pub fn load<T>(url: &str, sql: &str) -> Result<Vec<T>, String>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    let db = Database::connect(url).map_err(|e| format!("{url}: {e}"))?;
    let mut connection = db.get().map_err(|e| format!("{url}: {e}"))?;
    dispatch!(connection, conn => diesel::sql_query(sql).load::<T>(conn)).map_err(|e| format!("{sql}: {e}"))
}

fn shorten(text: &str) -> String {
    if text.len() <= 160 { text.to_owned() } else { format!("{}…", &text[..text.floor_char_boundary(160)]) }
}

/// Each table's compared columns, by table (qualified where needed).
fn columns(connection: &mut DbConnection) -> Result<BTreeMap<String, Vec<String>>, String> {
    let rows: Vec<ColumnRow> = match connection {
        DbConnection::Postgres(conn) => diesel::sql_query(POSTGRES_COLUMNS).load(conn),
        DbConnection::Sqlite(conn) => diesel::sql_query(SQLITE_COLUMNS).load(conn),
    }
    .map_err(|e| format!("list the tables' columns: {e}"))?;
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let columns = tables.entry(row.table_name).or_default();
        if !row.volatile && row.column_name != "duration_ms" {
            columns.push(row.column_name);
        }
    }
    Ok(tables)
}

/// A row as one text value: PostgreSQL's row literal, SQLite's quoted values.
fn row_text(connection: &DbConnection, columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    match connection {
        DbConnection::Postgres(_) => format!("CAST(ROW({}, NULL) AS TEXT)", quoted.join(", ")),
        DbConnection::Sqlite(_) => quoted.iter().map(|c| format!("quote({c})")).collect::<Vec<_>>().join(" || ',' || "),
    }
}

/// Every column of every table outside the system schemas, and whether a run makes its
/// values up: a time, a generated key, or an integer referring to a generated key.
const POSTGRES_COLUMNS: &str = r#"
WITH generated AS (
    SELECT a.attrelid, a.attnum
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND a.attnum > 0
      AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%')
)
SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS table_name,
       a.attname AS column_name,
       (t.typname IN ('timestamp', 'timestamptz', 'time', 'timetz')
        OR EXISTS (SELECT 1 FROM generated g WHERE g.attrelid = a.attrelid AND g.attnum = a.attnum)
        OR EXISTS (SELECT 1 FROM pg_constraint f JOIN generated g ON g.attrelid = f.confrelid
                   AND g.attnum = f.confkey[array_position(f.conkey, a.attnum)]
                   WHERE f.contype = 'f' AND f.conrelid = a.attrelid AND a.attnum = ANY (f.conkey))) AS volatile
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, a.attnum
"#;

/// The same for SQLite, from `pragma_table_info` and `pragma_foreign_key_list`.
const SQLITE_COLUMNS: &str = r#"
WITH tables AS (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'),
cols AS (
    SELECT t.name AS table_name, p.name AS column_name, p.cid, upper(p.type) AS type,
           (p.pk = 1 AND upper(p.type) = 'INTEGER'
            AND (SELECT count(*) FROM pragma_table_info(t.name) q WHERE q.pk > 0) = 1) AS generated
    FROM tables t, pragma_table_info(t.name) p
)
SELECT c.table_name, c.column_name,
       (c.type LIKE '%TIME%' OR c.generated
        OR EXISTS (SELECT 1 FROM pragma_foreign_key_list(c.table_name) f
                   JOIN cols g ON g.table_name = f."table" AND g.generated
                        AND (g.column_name = f."to" OR f."to" IS NULL)
                   WHERE f."from" = c.column_name)) AS volatile
FROM cols c
ORDER BY c.table_name, c.cid
"#;

#[cfg(test)]
mod tests {
    use migration_core::Backend;
    use test_support::ScratchDatabase;

    use super::State;

    fn sql(url: &str, statements: &str) {
        crate::ops::sql(url, statements).unwrap();
    }

    /// Two runs that differ only in made-up values give equal states; a row more, or a
    /// value changed, does not, and the difference names the table.
    fn compares_what_a_run_reads_not_what_it_makes_up(backend: Backend) {
        let (a, b) = (ScratchDatabase::new(backend), ScratchDatabase::new(backend));
        let table = match backend {
            Backend::Postgres => {
                "CREATE TABLE runs (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at TIMESTAMP NOT NULL, file TEXT NOT NULL);
                 CREATE TABLE rows (run BIGINT NOT NULL REFERENCES runs (id), n INTEGER NOT NULL);"
            }
            Backend::Sqlite => {
                "CREATE TABLE runs (id INTEGER PRIMARY KEY, at TIMESTAMP NOT NULL, file TEXT NOT NULL);
                 CREATE TABLE rows (run INTEGER NOT NULL REFERENCES runs (id), n INTEGER NOT NULL);"
            }
        };
        sql(a.url(), table);
        sql(b.url(), table);
        sql(
            a.url(),
            "INSERT INTO runs (id, at, file) VALUES (1, '2025-01-01 10:00:00', 'x.csv'); INSERT INTO rows VALUES (1, 7);",
        );
        sql(
            b.url(),
            "INSERT INTO runs (id, at, file) VALUES (5, '2026-02-02 11:00:00', 'x.csv'); INSERT INTO rows VALUES (5, 7);",
        );
        let before = State::read(a.url(), &[]).unwrap();
        assert_eq!(before, State::read(b.url(), &[]).unwrap(), "ids and times are made up by the run");
        sql(b.url(), "INSERT INTO rows VALUES (5, 8);");
        let more = State::read(b.url(), &[]).unwrap();
        assert_ne!(before, more);
        let differences = before.differences(&more);
        assert_eq!(differences.len(), 1, "{differences:?}");
        assert!(differences[0].contains("rows") && differences[0].contains("1 only in this one"), "{differences:?}");
        sql(a.url(), "UPDATE runs SET file = 'y.csv'");
        assert_ne!(before, State::read(a.url(), &[]).unwrap(), "a changed value is seen");
        assert_eq!(before.without(&["no_such_table"]), before);
        assert_ne!(before.without(&["runs"]), before, "a table left out is not compared");
    }

    #[test]
    fn sqlite() {
        compares_what_a_run_reads_not_what_it_makes_up(Backend::Sqlite);
    }

    #[test]
    fn postgres() {
        compares_what_a_run_reads_not_what_it_makes_up(Backend::Postgres);
    }
}
