//! Canonical schema snapshots of a live database, on both backends, and their differences.
//!
//! A [`Snapshot`] is a sorted list of [`SchemaObject`]s read from the database's own catalogue
//! (never from migration text), one line each in its text form:
//!
//! ```text
//! column trades.price_e8: bigint not null
//! index idx_imported_executions_csv_file: on imported_executions (csv_filename) using btree
//! foreign key entries (account_id) -> accounts (id): on delete restrict on update no action
//! ```
//!
//! Names are unqualified in the default schema (`public`, `main`) and `schema.name` elsewhere.
//! The bookkeeping tables (`intake_schema_*`) are left out.
//!
//! What each backend can show:
//!
//! | object | PostgreSQL | SQLite |
//! |---|---|---|
//! | schema | `pg_namespace` (other than `public`) | none: a PostgreSQL schema `s` is a table-name prefix `s_` (see [`parity`]) |
//! | column type | `format_type`, normalised (`varchar(255)`, `timestamp`, `double`) | the declared type, normalised the same way |
//! | default | `pg_get_expr` | the declared text |
//! | primary key, unique, foreign key | `pg_constraint` | `pragma_table_xinfo`, `pragma_index_list` (`origin` `pk`, `u`), `pragma_foreign_key_list` |
//! | index | `pg_index`: columns, uniqueness, method, predicate | `pragma_index_list`/`pragma_index_info`; method `btree`; predicate from its SQL |
//! | check | `pg_get_constraintdef`, by constraint name | the `CHECK (...)` clauses of the table's SQL, numbered |
//! | trigger | `pg_get_triggerdef` (names its function) | its SQL (the body is its function) |
//! | function | `pg_proc`: arguments, result, language, body | none: trigger bodies are inline |
//! | view | `pg_get_viewdef` | its SQL |
//! | comment | `pg_description` on tables, views, indexes and columns | none: SQLite keeps no comments outside the SQL text |
//! | JSONB | `jsonb` | `text` or `json`, with a `json_valid` check |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text};

use crate::bookkeeping::literal;
use crate::{Backend, DbConnection, Error, Result};

/// What kind of object a [`SchemaObject`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A schema other than the default one.
    Schema,
    /// A table.
    Table,
    /// A column of a table.
    Column,
    /// A table's primary key.
    PrimaryKey,
    /// A unique constraint.
    Unique,
    /// An index that backs no constraint.
    Index,
    /// A foreign key.
    ForeignKey,
    /// A check constraint.
    Check,
    /// A trigger.
    Trigger,
    /// A function (PostgreSQL).
    Function,
    /// A view.
    View,
    /// A sequence that belongs to no column.
    Sequence,
    /// An enumerated type.
    Type,
    /// A comment on a table, view, index or column.
    Comment,
}

impl Kind {
    /// The word used in the text form and in messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Schema => "schema",
            Kind::Table => "table",
            Kind::Column => "column",
            Kind::PrimaryKey => "primary key",
            Kind::Unique => "unique",
            Kind::Index => "index",
            Kind::ForeignKey => "foreign key",
            Kind::Check => "check",
            Kind::Trigger => "trigger",
            Kind::Function => "function",
            Kind::View => "view",
            Kind::Sequence => "sequence",
            Kind::Type => "type",
            Kind::Comment => "comment",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One object of a schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct SchemaObject {
    /// What it is.
    pub kind: Kind,
    /// Its name: `table`, `table.column`, `index`, `table (columns)` for a unique constraint,
    /// `table (columns) -> table (columns)` for a foreign key, `on column table.column` for a
    /// comment.
    pub name: String,
    /// The table or view it belongs to (itself for a table), if any.
    pub table: Option<String>,
    /// Its definition in canonical form (empty for schemas and tables).
    pub definition: String,
}

impl SchemaObject {
    /// An object that belongs to `table`.
    pub fn of_table(kind: Kind, name: impl Into<String>, table: &str, definition: impl Into<String>) -> Self {
        SchemaObject { kind, name: name.into(), table: Some(table.to_owned()), definition: definition.into() }
    }
}

impl fmt::Display for SchemaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.definition.as_str() {
            "" => write!(f, "{} {}", self.kind, self.name),
            definition => write!(f, "{} {}: {definition}", self.kind, self.name),
        }
    }
}

/// A database's schema at one moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The backend it was read from.
    pub backend: Backend,
    /// Every object, sorted by kind then name.
    pub objects: Vec<SchemaObject>,
}

/// How one object differs between an expected and an actual snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// What kind of object.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its definition where expected, `None` when it should not exist.
    pub expected: Option<String>,
    /// Its definition where found, `None` when it is missing.
    pub actual: Option<String>,
}

impl Drift {
    /// One line, with the two sides named (e.g. "migrations" and "the database").
    pub fn describe(&self, expected_side: &str, actual_side: &str) -> String {
        match (&self.expected, &self.actual) {
            (Some(_), None) => format!("{} {} missing", self.kind, self.name),
            (None, Some(_)) => format!("{} {} not in {expected_side}", self.kind, self.name),
            (Some(expected), Some(actual)) => {
                format!(
                    "{} {} differs: {expected_side} give `{expected}`, {actual_side} has `{actual}`",
                    self.kind, self.name
                )
            }
            (None, None) => format!("{} {}", self.kind, self.name),
        }
    }
}

impl Snapshot {
    /// Reads the schema of the database behind `connection`.
    pub fn read(connection: &mut DbConnection) -> Result<Snapshot> {
        let backend = connection.backend();
        let mut objects = match connection {
            DbConnection::Postgres(conn) => postgres::read(conn),
            DbConnection::Sqlite(conn) => sqlite::read(conn),
        }
        .map_err(|source| Error::Query { context: format!("read the {backend} schema"), source })?;
        objects.sort();
        Ok(Snapshot { backend, objects })
    }

    /// The text form: one object a line, sorted, ending with a newline.
    pub fn to_text(&self) -> String {
        self.objects.iter().map(|object| format!("{object}\n")).collect()
    }

    /// The tables (and views) of the snapshot.
    pub fn tables(&self) -> BTreeSet<&str> {
        self.objects.iter().filter(|o| matches!(o.kind, Kind::Table | Kind::View)).map(|o| o.name.as_str()).collect()
    }

    /// Every difference from `self` (expected) to `actual`, sorted by kind and name.
    pub fn diff(&self, actual: &Snapshot) -> Vec<Drift> {
        let keyed = |snapshot: &Snapshot| -> BTreeMap<(Kind, String), String> {
            snapshot.objects.iter().map(|o| ((o.kind, o.name.clone()), o.definition.clone())).collect()
        };
        let expected = keyed(self);
        let found = keyed(actual);
        let keys: BTreeSet<_> = expected.keys().chain(found.keys()).cloned().collect();
        keys.into_iter()
            .filter_map(|key| {
                let (want, have) = (expected.get(&key), found.get(&key));
                (want != have).then(|| Drift {
                    kind: key.0,
                    name: key.1,
                    expected: want.cloned(),
                    actual: have.cloned(),
                })
            })
            .collect()
    }

    /// Keeps only the objects that belong to `tables`, and functions and schemas, which belong
    /// to no table.
    pub fn restricted_to(&self, tables: &BTreeSet<&str>) -> Snapshot {
        let objects = self
            .objects
            .iter()
            .filter(|o| o.table.as_deref().is_none_or(|table| tables.contains(table)))
            .cloned()
            .collect();
        Snapshot { backend: self.backend, objects }
    }
}

/// A column type in canonical form: lowercase, single spaces, synonyms folded
/// (`character varying(255)` → `varchar(255)`, `timestamp without time zone` → `timestamp`,
/// `double precision` → `double`, `int` → `integer`, `decimal` → `numeric`), no spaces inside
/// parentheses, and any remaining space as `_` so the type is always the first word.
pub fn normalize_type(declared: &str) -> String {
    let lower = declared.to_ascii_lowercase();
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let (head, modifier) = match collapsed.find('(') {
        Some(open) => {
            let close = collapsed[open..].find(')').map_or(collapsed.len(), |n| open + n + 1);
            let modifier: String = collapsed[open..close].chars().filter(|c| !c.is_whitespace()).collect();
            let head = format!("{} {}", collapsed[..open].trim(), collapsed[close..].trim());
            (head.trim().to_owned(), modifier)
        }
        None => (collapsed.clone(), String::new()),
    };
    let (head, array) = match head.strip_suffix("[]") {
        Some(head) => (head.trim().to_owned(), "[]"),
        None => (head, ""),
    };
    let base = match head.as_str() {
        "character varying" | "varchar" | "nvarchar" | "varying character" => "varchar",
        "character" | "char" | "nchar" => "char",
        "timestamp without time zone" | "timestamp" | "datetime" => "timestamp",
        "timestamp with time zone" | "timestamptz" => "timestamptz",
        "time without time zone" | "time" => "time",
        "double precision" | "double" | "float8" | "float" => "double",
        "real" | "float4" => "real",
        "int" | "integer" | "int4" | "mediumint" => "integer",
        "bigint" | "int8" | "unsigned big int" => "bigint",
        "smallint" | "int2" | "tinyint" => "smallint",
        "bool" | "boolean" => "boolean",
        "decimal" | "numeric" => "numeric",
        other => other,
    };
    format!("{}{modifier}{array}", base.replace(' ', "_"))
}

/// Type families that both backends must agree on (see [`parity`]).
fn type_family(normalized: &str) -> &'static str {
    let base = normalized.split(['(', '[']).next().unwrap_or("");
    match base {
        "smallint" | "integer" | "bigint" | "serial" | "bigserial" => "integer",
        "varchar" | "char" | "text" | "clob" => "text",
        "json" | "jsonb" => "json",
        "uuid" => "uuid",
        "double" | "real" => "float",
        "numeric" => "numeric",
        "boolean" => "boolean",
        "timestamp" | "timestamptz" => "timestamp",
        "date" => "date",
        "time" => "time",
        "bytea" | "blob" => "binary",
        "" => "none",
        _ => "other",
    }
}

/// How PostgreSQL type families may be stored on SQLite; every other family must be the same
/// on both. SQLite has no JSON, UUID, date, boolean or decimal storage class: JSON and UUIDs
/// are text (JSON checked by `json_valid`), dates and times are ISO 8601 text, booleans may be
/// 0/1 integers, and exact decimals may be text (a NUMERIC column would turn them into floats).
pub const SQLITE_TYPE_MAPPING: &[(&str, &[&str])] = &[
    ("numeric", &["numeric", "text"]),
    ("json", &["json", "text"]),
    ("uuid", &["uuid", "text"]),
    ("timestamp", &["timestamp", "text"]),
    ("date", &["date", "text"]),
    ("time", &["time", "text"]),
    ("boolean", &["boolean", "integer"]),
];

fn families_agree(postgres: &str, sqlite: &str) -> bool {
    let (postgres, sqlite) = (type_family(postgres), type_family(sqlite));
    postgres == sqlite
        || SQLITE_TYPE_MAPPING.iter().any(|(family, allowed)| *family == postgres && allowed.contains(&sqlite))
}

/// Where the PostgreSQL and SQLite snapshots of the same migrations disagree on what both
/// backends can express: tables, columns (type family per [`SQLITE_TYPE_MAPPING`], and
/// nullability outside the primary key), primary keys, unique constraints, indexes (columns,
/// uniqueness, whether partial) and foreign keys with their actions. A PostgreSQL schema `s`
/// matches the table-name prefix `s_` on SQLite (index names, which PostgreSQL keeps per
/// schema, are compared without it); an SQLite check that calls `json_valid` is
/// the stand-in for a JSONB column, not a check of its own; an indexed JSON field,
/// PostgreSQL's `(data ->> 'field')` and SQLite's `json_extract(data, '$.field')`, is one term. Defaults, check texts, trigger and view
/// bodies, functions and comments are dialect-specific and not compared, except that each
/// table must have as many checks and triggers on both.
pub fn parity(postgres: &Snapshot, sqlite: &Snapshot) -> Vec<String> {
    let project = |snapshot: &Snapshot| -> BTreeMap<(Kind, String), String> {
        let flatten =
            |name: &str| if snapshot.backend == Backend::Postgres { name.replace('.', "_") } else { name.to_owned() };
        let primary_key_columns: BTreeSet<String> = snapshot
            .objects
            .iter()
            .filter(|o| o.kind == Kind::PrimaryKey)
            .flat_map(|o| {
                let table = o.name.clone();
                o.definition
                    .trim_matches(['(', ')'])
                    .split(", ")
                    .map(move |c| format!("{table}.{c}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut projected = BTreeMap::new();
        let mut counts: BTreeMap<(Kind, String), usize> = BTreeMap::new();
        for object in &snapshot.objects {
            let table = object.table.as_deref().map(flatten).unwrap_or_default();
            match object.kind {
                Kind::Table | Kind::View => {
                    projected.insert((object.kind, flatten(&object.name)), String::new());
                }
                Kind::Column => {
                    let column = object.name.rsplit('.').next().unwrap_or_default();
                    let mut words = object.definition.split(' ');
                    let data_type = words.next().unwrap_or_default().to_owned();
                    let not_null =
                        object.definition.contains(" not null") || primary_key_columns.contains(&object.name);
                    projected.insert(
                        (Kind::Column, format!("{table}.{column}")),
                        format!("{data_type}|{}", if not_null { "not null" } else { "null" }),
                    );
                }
                Kind::PrimaryKey | Kind::Unique => {
                    projected.insert((object.kind, flatten(&object.name)), String::new());
                }
                Kind::Index => {
                    let shape = object.definition.split(" using ").next().unwrap_or_default();
                    let shape = shape.replacen(
                        &format!("on {}", object.table.as_deref().unwrap_or_default()),
                        &format!("on {table}"),
                        1,
                    );
                    // JSON field expressions in the one form both backends share.
                    let shape = match shape.split_once(" (") {
                        Some((head, terms)) => {
                            let terms = terms.strip_suffix(')').unwrap_or(terms);
                            let terms: Vec<String> =
                                index_terms(&format!("({terms})")).iter().map(|t| json_field_term(t)).collect();
                            format!("{head} ({})", terms.join(", "))
                        }
                        None => shape.to_owned(),
                    };
                    let partial = if object.definition.contains(" where ") { " partial" } else { "" };
                    // An index is named within its table's schema on PostgreSQL; SQLite's
                    // index names are all in one namespace.
                    let name = object.name.rsplit('.').next().unwrap_or_default().to_owned();
                    projected.insert((Kind::Index, name), format!("{}{partial}", shape.replace('"', "")));
                }
                Kind::ForeignKey => {
                    let name = object
                        .name
                        .split(" -> ")
                        .map(|side| {
                            flatten(side.split(' ').next().unwrap_or_default())
                                + side.find(' ').map_or("", |at| &side[at..])
                        })
                        .collect::<Vec<_>>()
                        .join(" -> ");
                    projected.insert((Kind::ForeignKey, name), object.definition.clone());
                }
                // SQLite's stand-in for JSONB is a json_valid check: part of the type mapping.
                Kind::Check if snapshot.backend == Backend::Sqlite && object.definition.contains("json_valid(") => {}
                Kind::Check | Kind::Trigger => *counts.entry((object.kind, table)).or_default() += 1,
                _ => {}
            }
        }
        for ((kind, table), count) in counts {
            projected.insert((kind, format!("{table} (count)")), count.to_string());
        }
        projected
    };
    let pg = project(postgres);
    let lite = project(sqlite);
    let keys: BTreeSet<_> = pg.keys().chain(lite.keys()).collect();
    let mut problems = Vec::new();
    for key in keys {
        let (kind, name) = key;
        match (pg.get(key), lite.get(key)) {
            (Some(_), None) => problems.push(format!("{kind} {name}: on PostgreSQL only")),
            (None, Some(_)) => problems.push(format!("{kind} {name}: on SQLite only")),
            (Some(a), Some(b)) if *kind == Kind::Column => {
                let (pg_type, pg_null) = a.split_once('|').unwrap_or_default();
                let (lite_type, lite_null) = b.split_once('|').unwrap_or_default();
                if !families_agree(pg_type, lite_type) {
                    problems.push(format!("column {name}: {pg_type} on PostgreSQL but {lite_type} on SQLite"));
                }
                if pg_null != lite_null {
                    problems.push(format!("column {name}: {pg_null} on PostgreSQL but {lite_null} on SQLite"));
                }
            }
            (Some(a), Some(b)) if a != b => {
                problems.push(format!("{kind} {name}: `{a}` on PostgreSQL but `{b}` on SQLite"))
            }
            _ => {}
        }
    }
    problems
}

/// A column's definition in canonical form: `type[ not null][ default EXPR]`.
fn column_definition(declared_type: &str, not_null: bool, default: Option<&str>) -> String {
    let mut definition = normalize_type(declared_type);
    if not_null {
        definition.push_str(" not null");
    }
    if let Some(default) = default {
        definition.push_str(&format!(" default {}", collapse(default)));
    }
    definition
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn referential_action(code: &str) -> &'static str {
    match code.to_ascii_lowercase().as_str() {
        "a" | "no action" => "no action",
        "r" | "restrict" => "restrict",
        "c" | "cascade" => "cascade",
        "n" | "set null" => "set null",
        "d" | "set default" => "set default",
        _ => "unknown",
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    owner: Option<String>,
    #[diesel(sql_type = Text)]
    definition: String,
}

mod postgres {
    use super::*;

    /// Schemas intake reads: everything but the system's.
    const USER_SCHEMA: &str = "n.nspname NOT IN ('information_schema', 'pg_catalog', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";
    const NOT_BOOKKEEPING: &str = "c.relname NOT LIKE 'intake\\_schema\\_%'";

    fn qualified(namespace: &str, name: &str) -> String {
        format!("CASE WHEN {namespace}.nspname = 'public' THEN {name} ELSE {namespace}.nspname || '.' || {name} END")
    }

    fn columns_of(array: &str, relation: &str) -> String {
        format!(
            "(SELECT string_agg(a.attname, ', ' ORDER BY k.ord) FROM unnest({array}) WITH ORDINALITY k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.attnum)"
        )
    }

    #[derive(QueryableByName)]
    struct ColumnRow {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Text)]
        data_type: String,
        #[diesel(sql_type = Bool)]
        not_null: bool,
        #[diesel(sql_type = Nullable<Text>)]
        default_value: Option<String>,
        #[diesel(sql_type = Text)]
        identity: String,
    }

    #[derive(QueryableByName)]
    struct ConstraintRow {
        #[diesel(sql_type = Text)]
        contype: String,
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        conname: String,
        #[diesel(sql_type = Text)]
        definition: String,
        #[diesel(sql_type = Nullable<Text>)]
        columns: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        ref_table: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        ref_columns: Option<String>,
        #[diesel(sql_type = Text)]
        on_delete: String,
        #[diesel(sql_type = Text)]
        on_update: String,
    }

    pub(super) fn read(conn: &mut PgConnection) -> QueryResult<Vec<SchemaObject>> {
        let table = qualified("n", "c.relname");
        let generic = [
            format!(
                "SELECT 'schema' AS kind, n.nspname AS name, NULL::text AS owner, '' AS definition
                 FROM pg_namespace n WHERE {USER_SCHEMA} AND n.nspname <> 'public'"
            ),
            format!(
                "SELECT 'table', {table}, {table}, CASE c.relkind WHEN 'p' THEN 'partitioned' ELSE '' END
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMA} AND {NOT_BOOKKEEPING}"
            ),
            format!(
                "SELECT 'index', {index}, {table},
                        'on ' || {table} || ' (' || (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k)
                                                    FROM generate_series(1, i.indnkeyatts::int) k) || ')'
                        || CASE WHEN i.indisunique THEN ' unique' ELSE '' END
                        || ' using ' || am.amname
                        || coalesce(' where ' || pg_get_expr(i.indpred, i.indrelid, true), '')
                 FROM pg_index i
                 JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_class c ON c.oid = i.indrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_am am ON am.oid = ic.relam
                 WHERE {USER_SCHEMA} AND {NOT_BOOKKEEPING}
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                                   AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))",
                index = qualified("n", "ic.relname"),
            ),
            format!(
                "SELECT 'trigger', {table} || '.' || t.tgname, {table}, pg_get_triggerdef(t.oid, true)
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE NOT t.tgisinternal AND {USER_SCHEMA} AND {NOT_BOOKKEEPING}"
            ),
            format!(
                "SELECT 'function', {function} || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL,
                        'returns ' || coalesce(pg_get_function_result(p.oid), 'nothing') || ' language ' || l.lanname
                        || ': ' || regexp_replace(btrim(p.prosrc), '\\s+', ' ', 'g')
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
                 WHERE {USER_SCHEMA} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
                function = qualified("n", "p.proname"),
            ),
            format!(
                "SELECT 'view', {table}, {table},
                        CASE c.relkind WHEN 'm' THEN 'materialized: ' ELSE '' END
                        || regexp_replace(btrim(pg_get_viewdef(c.oid, true)), '\\s+', ' ', 'g')
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMA}"
            ),
            format!(
                "SELECT 'sequence', {table}, NULL, ''
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind = 'S' AND {USER_SCHEMA} AND {NOT_BOOKKEEPING}
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))"
            ),
            format!(
                "SELECT 'type', {type_name}, NULL, 'enum (' || string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) || ')'
                 FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE {USER_SCHEMA} GROUP BY n.nspname, t.typname",
                type_name = qualified("n", "t.typname"),
            ),
            format!(
                "SELECT 'comment',
                        'on ' || CASE WHEN d.objsubid > 0 THEN 'column ' WHEN c.relkind = 'i' THEN 'index '
                                      WHEN c.relkind IN ('v', 'm') THEN 'view ' ELSE 'table ' END
                        || {table} || CASE WHEN d.objsubid > 0 THEN '.' || a.attname ELSE '' END,
                        CASE WHEN c.relkind = 'i' THEN (SELECT {owner} FROM pg_index i JOIN pg_class tc ON tc.oid = i.indrelid
                                                        JOIN pg_namespace tn ON tn.oid = tc.relnamespace WHERE i.indexrelid = c.oid)
                             ELSE {table} END,
                        d.description
                 FROM pg_description d
                 JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
                 WHERE {USER_SCHEMA} AND {NOT_BOOKKEEPING}",
                owner = qualified("tn", "tc.relname"),
            ),
        ];
        let mut objects = Vec::new();
        for query in generic {
            let named = format!("SELECT * FROM ({query}) AS object(kind, name, owner, definition)");
            for row in diesel::sql_query(named).load::<Row>(conn)? {
                let kind = match row.kind.as_str() {
                    "schema" => Kind::Schema,
                    "table" => Kind::Table,
                    "index" => Kind::Index,
                    "trigger" => Kind::Trigger,
                    "function" => Kind::Function,
                    "view" => Kind::View,
                    "sequence" => Kind::Sequence,
                    "type" => Kind::Type,
                    _ => Kind::Comment,
                };
                let definition = if kind == Kind::Comment { row.definition } else { collapse(&row.definition) };
                objects.push(SchemaObject { kind, name: row.name, table: row.owner, definition });
            }
        }
        let columns = format!(
            "SELECT {table} AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS data_type,
                    a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_value,
                    CASE a.attidentity WHEN 'a' THEN ' generated always as identity'
                                       WHEN 'd' THEN ' generated by default as identity' ELSE '' END
                    || CASE a.attgenerated WHEN 's' THEN ' generated stored' ELSE '' END AS identity
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMA} AND {NOT_BOOKKEEPING}"
        );
        for column in diesel::sql_query(columns).load::<ColumnRow>(conn)? {
            let mut definition = column_definition(&column.data_type, column.not_null, column.default_value.as_deref());
            definition.push_str(&column.identity);
            objects.push(SchemaObject {
                kind: Kind::Column,
                name: format!("{}.{}", column.table_name, column.column_name),
                table: Some(column.table_name),
                definition,
            });
        }
        let constraints = format!(
            "SELECT con.contype::text AS contype, {table} AS table_name, con.conname::text AS conname,
                    pg_get_constraintdef(con.oid, true) AS definition,
                    {columns} AS columns,
                    (SELECT {ref_table} FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                     WHERE rc.oid = con.confrelid) AS ref_table,
                    {ref_columns} AS ref_columns,
                    con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update
             FROM pg_constraint con
             JOIN pg_class c ON c.oid = con.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE con.contype IN ('p', 'u', 'f', 'c') AND {USER_SCHEMA} AND {NOT_BOOKKEEPING}",
            columns = columns_of("con.conkey", "con.conrelid"),
            ref_columns = columns_of("con.confkey", "con.confrelid"),
            ref_table = qualified("rn", "rc.relname"),
        );
        for constraint in diesel::sql_query(constraints).load::<ConstraintRow>(conn)? {
            let table = constraint.table_name;
            let columns = constraint.columns.unwrap_or_default();
            let (kind, name, definition) = match constraint.contype.as_str() {
                "p" => (Kind::PrimaryKey, table.clone(), format!("({columns})")),
                "u" => (Kind::Unique, format!("{table} ({columns})"), format!("constraint {}", constraint.conname)),
                "f" => (
                    Kind::ForeignKey,
                    format!(
                        "{table} ({columns}) -> {} ({})",
                        constraint.ref_table.unwrap_or_default(),
                        constraint.ref_columns.unwrap_or_default()
                    ),
                    format!(
                        "on delete {} on update {}",
                        referential_action(&constraint.on_delete),
                        referential_action(&constraint.on_update)
                    ),
                ),
                _ => (Kind::Check, format!("{table}.{}", constraint.conname), collapse(&constraint.definition)),
            };
            objects.push(SchemaObject { kind, name, table: Some(table), definition });
        }
        Ok(objects)
    }
}

mod sqlite {
    use super::*;

    #[derive(QueryableByName)]
    struct Master {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Nullable<Text>)]
        sql: Option<String>,
    }

    #[derive(QueryableByName)]
    struct ColumnRow {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        data_type: String,
        #[diesel(sql_type = Bool)]
        not_null: bool,
        #[diesel(sql_type = Nullable<Text>)]
        default_value: Option<String>,
        #[diesel(sql_type = Integer)]
        pk: i32,
        #[diesel(sql_type = Integer)]
        hidden: i32,
    }

    #[derive(QueryableByName)]
    struct IndexRow {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Bool)]
        is_unique: bool,
        #[diesel(sql_type = Text)]
        origin: String,
    }

    #[derive(QueryableByName)]
    struct IndexColumn {
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
    }

    #[derive(QueryableByName)]
    struct ForeignKeyRow {
        #[diesel(sql_type = Integer)]
        id: i32,
        #[diesel(sql_type = Text)]
        ref_table: String,
        #[diesel(sql_type = Text)]
        from_column: String,
        #[diesel(sql_type = Nullable<Text>)]
        to_column: Option<String>,
        #[diesel(sql_type = Text)]
        on_update: String,
        #[diesel(sql_type = Text)]
        on_delete: String,
    }

    pub(super) fn read(conn: &mut SqliteConnection) -> QueryResult<Vec<SchemaObject>> {
        let master: Vec<Master> = diesel::sql_query(
            "SELECT type AS kind, name, tbl_name AS table_name, sql FROM sqlite_master
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name NOT LIKE 'intake\\_schema\\_%' ESCAPE '\\'
             ORDER BY type, name",
        )
        .load(conn)?;
        let mut objects = Vec::new();
        let sql_of =
            |name: &str| master.iter().find(|m| m.name == name).and_then(|m| m.sql.clone()).unwrap_or_default();
        for entry in &master {
            let sql = entry.sql.clone().unwrap_or_default();
            match entry.kind.as_str() {
                "table" => {
                    objects.push(SchemaObject::of_table(
                        Kind::Table,
                        entry.name.clone(),
                        &entry.table_name,
                        String::new(),
                    ));
                    read_table(conn, &entry.name, &sql, &sql_of, &mut objects)?;
                }
                "view" => objects.push(SchemaObject::of_table(
                    Kind::View,
                    entry.name.clone(),
                    &entry.table_name,
                    collapse(&sql),
                )),
                "trigger" => objects.push(SchemaObject::of_table(
                    Kind::Trigger,
                    format!("{}.{}", entry.table_name, entry.name),
                    &entry.table_name,
                    collapse(&sql),
                )),
                _ => {}
            }
        }
        Ok(objects)
    }

    fn read_table(
        conn: &mut SqliteConnection,
        table: &str,
        sql: &str,
        sql_of: &dyn Fn(&str) -> String,
        objects: &mut Vec<SchemaObject>,
    ) -> QueryResult<()> {
        let columns: Vec<ColumnRow> = diesel::sql_query(format!(
            "SELECT name, type AS data_type, \"notnull\" AS not_null, dflt_value AS default_value, pk, hidden
             FROM pragma_table_xinfo({}) ORDER BY cid",
            literal(table)
        ))
        .load(conn)?;
        let mut primary_key: Vec<(i32, &str)> = Vec::new();
        for column in &columns {
            let mut definition = column_definition(&column.data_type, column.not_null, column.default_value.as_deref());
            if column.hidden != 0 {
                definition.push_str(" generated");
            }
            if column.pk > 0 {
                primary_key.push((column.pk, &column.name));
            }
            objects.push(SchemaObject::of_table(Kind::Column, format!("{table}.{}", column.name), table, definition));
        }
        primary_key.sort();
        if !primary_key.is_empty() {
            let names: Vec<&str> = primary_key.iter().map(|(_, name)| *name).collect();
            objects.push(SchemaObject::of_table(Kind::PrimaryKey, table, table, format!("({})", names.join(", "))));
        }
        let indexes: Vec<IndexRow> = diesel::sql_query(format!(
            "SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list({})",
            literal(table)
        ))
        .load(conn)?;
        for index in indexes {
            let index_columns: Vec<IndexColumn> = diesel::sql_query(format!(
                "SELECT name FROM pragma_index_info({}) ORDER BY seqno",
                literal(&index.name)
            ))
            .load(conn)?;
            // An indexed expression has no name: its text comes from the index's SQL.
            let terms = if index_columns.iter().any(|c| c.name.is_none()) {
                index_terms(&sql_of(&index.name))
            } else {
                Vec::new()
            };
            let names: Vec<String> = index_columns
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    c.name.unwrap_or_else(|| terms.get(i).cloned().unwrap_or_else(|| "<expression>".to_owned()))
                })
                .collect();
            let names = names.join(", ");
            match index.origin.as_str() {
                "pk" => {}
                "u" => objects.push(SchemaObject::of_table(
                    Kind::Unique,
                    format!("{table} ({names})"),
                    table,
                    String::new(),
                )),
                _ => {
                    let index_sql = collapse(&sql_of(&index.name));
                    let predicate = top_level_where(&index_sql).map(|p| format!(" where {p}")).unwrap_or_default();
                    let unique = if index.is_unique { " unique" } else { "" };
                    objects.push(SchemaObject::of_table(
                        Kind::Index,
                        index.name.clone(),
                        table,
                        format!("on {table} ({names}){unique} using btree{predicate}"),
                    ));
                }
            }
        }
        let foreign_keys: Vec<ForeignKeyRow> = diesel::sql_query(format!(
            "SELECT id, \"table\" AS ref_table, \"from\" AS from_column, \"to\" AS to_column, on_update, on_delete
             FROM pragma_foreign_key_list({}) ORDER BY id, seq",
            literal(table)
        ))
        .load(conn)?;
        let mut grouped: BTreeMap<i32, Vec<&ForeignKeyRow>> = BTreeMap::new();
        for key in &foreign_keys {
            grouped.entry(key.id).or_default().push(key);
        }
        for parts in grouped.values() {
            let first = parts[0];
            let from: Vec<&str> = parts.iter().map(|p| p.from_column.as_str()).collect();
            let to: Vec<String> = match parts.iter().map(|p| p.to_column.clone()).collect::<Option<Vec<_>>>() {
                Some(to) => to,
                // `REFERENCES t` without columns: the referenced table's primary key.
                None => referenced_primary_key(conn, &first.ref_table)?,
            };
            objects.push(SchemaObject::of_table(
                Kind::ForeignKey,
                format!("{table} ({}) -> {} ({})", from.join(", "), first.ref_table, to.join(", ")),
                table,
                format!(
                    "on delete {} on update {}",
                    referential_action(&first.on_delete),
                    referential_action(&first.on_update)
                ),
            ));
        }
        for (number, check) in check_clauses(sql).into_iter().enumerate() {
            objects.push(SchemaObject::of_table(Kind::Check, format!("{table}.check_{}", number + 1), table, check));
        }
        Ok(())
    }

    fn referenced_primary_key(conn: &mut SqliteConnection, table: &str) -> QueryResult<Vec<String>> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = Text)]
            name: String,
        }
        Ok(diesel::sql_query(format!(
            "SELECT name FROM pragma_table_info({}) WHERE pk > 0 ORDER BY pk",
            literal(table)
        ))
        .load::<Name>(conn)?
        .into_iter()
        .map(|n| n.name)
        .collect())
    }
}

/// Calls `visit(index, depth)` for each byte of `sql` outside quotes, `depth` being the
/// parenthesis depth after that byte; stops when `visit` returns false.
fn scan_unquoted(sql: &str, mut visit: impl FnMut(usize, usize) -> bool) {
    let bytes = sql.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote && bytes.get(i + 1) == Some(&quote) {
                        i += 2;
                    } else if bytes[i] == quote {
                        break;
                    } else {
                        i += 1;
                    }
                }
                i += 1;
                continue;
            }
            b'[' => {
                i += bytes[i..].iter().position(|&b| b == b']').unwrap_or(bytes.len() - i) + 1;
                continue;
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !visit(i, depth) {
            return;
        }
        i += 1;
    }
}

fn is_keyword_at(sql: &str, at: usize, keyword: &str) -> bool {
    let bytes = sql.as_bytes();
    let end = at + keyword.len();
    end <= bytes.len()
        && sql.is_char_boundary(at)
        && sql.is_char_boundary(end)
        && sql[at..end].eq_ignore_ascii_case(keyword)
        && (at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_'))
        && bytes.get(end).is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
}

/// The predicate after a top-level `WHERE` of a `CREATE INDEX` statement.
fn top_level_where(sql: &str) -> Option<String> {
    let mut found = None;
    scan_unquoted(sql, |i, depth| {
        if depth == 0 && is_keyword_at(sql, i, "WHERE") {
            found = Some(i + "WHERE".len());
            return false;
        }
        true
    });
    found.map(|start| sql[start..].trim().to_owned())
}

/// The terms of a `CREATE INDEX ... ON t (a, expression, ...)` statement's column list, in
/// order, whitespace collapsed.
fn index_terms(sql: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut start = None;
    scan_unquoted(sql, |i, depth| {
        match (sql.as_bytes()[i], depth) {
            (b'(', 1) if start.is_none() => start = Some(i + 1),
            (b',', 1) => {
                if let Some(from) = start {
                    terms.push(collapse(&sql[from..i]));
                    start = Some(i + 1);
                }
            }
            (b')', 0) => {
                if let Some(from) = start {
                    terms.push(collapse(&sql[from..i]));
                }
                return false;
            }
            _ => {}
        }
        true
    });
    terms
}

/// A JSON field read in an index, in one form for both backends: PostgreSQL's
/// `(data ->> 'field'::text)` and SQLite's `json_extract(data, '$.field')` are both
/// `data->>field`; any other term is returned as it is.
fn json_field_term(term: &str) -> String {
    let term = term.trim();
    let postgres = term
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .and_then(|t| t.split_once(" ->> "))
        .map(|(column, field)| (column.trim(), field.trim().trim_end_matches("::text").trim_matches('\'')));
    let sqlite = term
        .strip_prefix("json_extract(")
        .and_then(|t| t.strip_suffix(')'))
        .and_then(|t| t.split_once(','))
        .and_then(|(column, path)| Some((column.trim(), path.trim().trim_matches('\'').strip_prefix("$.")?)));
    match postgres.or(sqlite) {
        Some((column, field)) if !field.contains(['.', '[', ' ']) => format!("{column}->>{field}"),
        _ => term.to_owned(),
    }
}

/// The `CHECK (...)` expressions of a `CREATE TABLE` statement, whitespace collapsed.
fn check_clauses(sql: &str) -> Vec<String> {
    let mut starts = Vec::new();
    scan_unquoted(sql, |i, _| {
        if is_keyword_at(sql, i, "CHECK") {
            starts.push(i);
        }
        true
    });
    starts
        .into_iter()
        .filter_map(|start| {
            let open = start + sql[start..].find('(')?;
            let mut end = None;
            scan_unquoted(&sql[open..], |i, depth| {
                if depth == 0 {
                    end = Some(open + i + 1);
                    return false;
                }
                true
            });
            end.map(|end| format!("check {}", collapse(&sql[open..end])))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_terms_and_json_fields_read_alike_on_both_backends() {
        assert_eq!(
            index_terms("CREATE INDEX i ON t (json_extract(d, '$.a,b'), created_at DESC, lower(\"x\"))"),
            ["json_extract(d, '$.a,b')", "created_at DESC", "lower(\"x\")"]
        );
        assert_eq!(json_field_term("(profile_data ->> 'type'::text)"), "profile_data->>type");
        assert_eq!(json_field_term("json_extract(profile_data, '$.type')"), "profile_data->>type");
        assert_eq!(json_field_term("json_extract(d, '$.a.b')"), "json_extract(d, '$.a.b')", "a nested path");
        assert_eq!(json_field_term("created_at"), "created_at");
    }

    #[test]
    fn types_are_normalized_to_one_word() {
        let cases = [
            ("character varying(255)", "varchar(255)"),
            ("VARCHAR( 255 )", "varchar(255)"),
            ("timestamp without time zone", "timestamp"),
            ("DATETIME", "timestamp"),
            ("timestamp with time zone", "timestamptz"),
            ("double precision", "double"),
            ("DOUBLE PRECISION", "double"),
            ("numeric(12,4)", "numeric(12,4)"),
            ("DECIMAL(12, 4)", "numeric(12,4)"),
            ("INT", "integer"),
            ("text[]", "text[]"),
            ("", ""),
        ];
        for (declared, expected) in cases {
            assert_eq!(normalize_type(declared), expected, "{declared}");
        }
    }

    #[test]
    fn finds_check_clauses_and_partial_index_predicates_outside_quotes() {
        let sql = "CREATE TABLE t (a TEXT CHECK (a IN ('x', 'CHECK (y)', ')')), b INT, CHECK ((b > 0) AND (b < 9)))";
        assert_eq!(check_clauses(sql), ["check (a IN ('x', 'CHECK (y)', ')'))", "check ((b > 0) AND (b < 9))"]);
        assert_eq!(top_level_where("CREATE INDEX i ON t (a) WHERE a IS NULL").as_deref(), Some("a IS NULL"));
        assert_eq!(top_level_where("CREATE INDEX i ON t ((a = 'WHERE'))"), None);
    }

    fn object(kind: Kind, name: &str, definition: &str) -> SchemaObject {
        SchemaObject::of_table(kind, name, "t", definition)
    }

    #[test]
    fn diff_names_missing_extra_and_changed_objects() {
        let expected = Snapshot {
            backend: Backend::Sqlite,
            objects: vec![object(Kind::Column, "t.a", "integer"), object(Kind::Index, "t_a", "on t (a) using btree")],
        };
        let actual = Snapshot {
            backend: Backend::Sqlite,
            objects: vec![object(Kind::Column, "t.a", "bigint"), object(Kind::Column, "t.note", "text")],
        };
        let lines: Vec<String> =
            expected.diff(&actual).iter().map(|d| d.describe("migrations", "the database")).collect();
        assert_eq!(
            lines,
            [
                "column t.a differs: migrations give `integer`, the database has `bigint`",
                "column t.note not in migrations",
                "index t_a missing",
            ]
        );
        assert!(expected.diff(&expected).is_empty());
    }

    #[test]
    fn parity_accepts_the_documented_mapping_and_names_what_differs() {
        let pg = Snapshot {
            backend: Backend::Postgres,
            objects: vec![
                object(Kind::Table, "t", ""),
                object(Kind::Column, "t.id", "bigint not null generated by default as identity"),
                object(Kind::Column, "t.doc", "jsonb not null"),
                object(Kind::Column, "t.at", "timestamp"),
                object(Kind::PrimaryKey, "t", "(id)"),
                object(Kind::Index, "t_at", "on t (at) using btree"),
            ],
        };
        let lite = Snapshot {
            backend: Backend::Sqlite,
            objects: vec![
                object(Kind::Table, "t", ""),
                object(Kind::Column, "t.id", "integer"),
                object(Kind::Column, "t.doc", "text not null"),
                object(Kind::Column, "t.at", "double"),
                object(Kind::PrimaryKey, "t", "(id)"),
            ],
        };
        assert_eq!(
            parity(&pg, &lite),
            ["column t.at: timestamp on PostgreSQL but double on SQLite", "index t_at: on PostgreSQL only"]
        );
    }
}
