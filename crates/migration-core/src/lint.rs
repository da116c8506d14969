//! Migration lint: warnings about statements that lose data, lock tables for long, cannot run
//! where they are, or leave an index nobody needs. `plan` shows them for pending migrations,
//! `check` for the live schema; each names the file and the line.
//!
//! | rule | what it flags |
//! |---|---|
//! | `cascade` | `ON DELETE CASCADE`: deleting one row silently deletes others |
//! | `drop-table` | `DROP TABLE` in an `up.sql`: its data is gone (not when another table is then renamed to its name: SQLite's table rebuild) |
//! | `drop-column` | `ALTER TABLE ... DROP [COLUMN]` in an `up.sql`: its data is gone |
//! | `index-not-concurrent` | PostgreSQL: `CREATE INDEX` without `CONCURRENTLY` on a table that existed before the migration (writes wait for the whole build) |
//! | `type-rewrite` | PostgreSQL: `ALTER COLUMN ... TYPE` that rewrites the table under an `ACCESS EXCLUSIVE` lock (anything but widening a `varchar`, `varchar` → `text`, or more `numeric` precision at the same scale) |
//! | `not-in-transaction` | a statement that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`, ...) in a migration that does not opt out, or SQLite's `PRAGMA foreign_keys`, which does nothing inside one |
//! | `redundant-index` | an index whose columns lead another index or a unique or primary key of the same table: it costs every write and serves no query the other cannot |
//! | `lossy-down` | a column this migration changes to a type that holds more (`numeric(12,4)` → `double`, `integer` → `bigint`, ...): its `down.sql` must put the narrower type back, rounding or refusing the values written in between |

use std::fmt;

use crate::domain::Direction;
use crate::snapshot::{Kind, Snapshot};
use crate::sql::split_statements;
use crate::{Backend, Domain, MigrationFiles};

/// One warning.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LintFinding {
    /// The rule's code, e.g. `cascade`.
    pub rule: &'static str,
    /// The domain whose migration it is about; `None` for an object no migration made.
    pub domain: Option<&'static str>,
    /// The script, relative to the workspace root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and what to do instead.
    pub message: String,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: warning[{}]: {}", self.file, self.line, self.rule, self.message)
    }
}

/// A word of SQL outside comments and string literals, with its byte offset.
struct Word<'a> {
    at: usize,
    text: &'a str,
}

impl Word<'_> {
    fn is(&self, keyword: &str) -> bool {
        self.text.eq_ignore_ascii_case(keyword)
    }
}

/// Words (keywords, identifiers, `"quoted identifiers"` without their quotes) and the
/// punctuation `,` `(` `)`, skipping comments, strings and dollar-quoted bodies.
fn words(sql: &str) -> Vec<Word<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = sql[i + 2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2);
        } else if b == b'\'' {
            i += 1;
            while i < bytes.len() && !(bytes[i] == b'\'' && bytes.get(i + 1) != Some(&b'\'')) {
                i += if bytes[i] == b'\'' || bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if b == b'"' {
            let end = sql[i + 1..].find('"').map_or(bytes.len(), |n| i + 1 + n);
            out.push(Word { at: i, text: &sql[i + 1..end.min(bytes.len())] });
            i = end + 1;
        } else if b == b'$' {
            let tag_len = sql[i + 1..].bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
            if bytes.get(i + 1 + tag_len) == Some(&b'$') && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                let delimiter = &sql[i..i + tag_len + 2];
                let body = i + delimiter.len();
                i = sql[body..].find(delimiter).map_or(bytes.len(), |n| body + n + delimiter.len());
            } else {
                i += 1;
            }
        } else if b.is_ascii_alphanumeric() || b == b'_' {
            let end =
                i + sql[i..].bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.').count();
            out.push(Word { at: i, text: &sql[i..end] });
            i = end;
        } else {
            if matches!(b, b',' | b'(' | b')') {
                out.push(Word { at: i, text: &sql[i..i + 1] });
            }
            i += 1;
        }
    }
    out
}

/// Statements that PostgreSQL or SQLite refuse (or ignore) inside a transaction block.
fn outside_transaction_only(words: &[Word<'_>], backend: Backend) -> Option<&'static str> {
    let first = words.first()?;
    let has = |keyword: &str| words.iter().any(|w| w.is(keyword));
    match backend {
        Backend::Postgres => {
            if (first.is("CREATE") || first.is("DROP") || first.is("REINDEX")) && has("CONCURRENTLY") {
                Some("… CONCURRENTLY")
            } else if first.is("VACUUM") {
                Some("VACUUM")
            } else if (first.is("CREATE") || first.is("DROP"))
                && words.get(1).is_some_and(|w| w.is("DATABASE") || w.is("TABLESPACE"))
            {
                Some("CREATE/DROP DATABASE or TABLESPACE")
            } else if first.is("ALTER") && words.get(1).is_some_and(|w| w.is("SYSTEM")) {
                Some("ALTER SYSTEM")
            } else {
                None
            }
        }
        Backend::Sqlite => {
            if first.is("VACUUM") {
                Some("VACUUM")
            } else if first.is("PRAGMA") && words.get(1).is_some_and(|w| w.is("foreign_keys")) {
                Some("PRAGMA foreign_keys (a no-op inside a transaction)")
            } else {
                None
            }
        }
    }
}

/// Whether changing a column from `old` to `new` (normalised types) needs no table rewrite on
/// PostgreSQL: widening a `varchar`, `varchar` → `text`, more `numeric` precision at the same
/// scale, or no change.
fn type_change_is_free(old: &str, new: &str) -> bool {
    fn modifier(t: &str) -> Option<Vec<u32>> {
        let inner = t.split_once('(')?.1.strip_suffix(')')?;
        inner.split(',').map(|n| n.trim().parse().ok()).collect()
    }
    let base = |t: &str| t.split('(').next().unwrap_or("").to_owned();
    if old == new {
        return true;
    }
    match (base(old).as_str(), base(new).as_str()) {
        ("varchar", "text") => true,
        ("varchar", "varchar") => match (modifier(old), modifier(new)) {
            (_, None) => true,
            (Some(a), Some(b)) => b[0] >= a[0],
            (None, Some(_)) => false,
        },
        ("numeric", "numeric") => match (modifier(old), modifier(new)) {
            (Some(a), Some(b)) => a.len() == b.len() && b[0] >= a[0] && a.get(1) == b.get(1),
            (_, None) => true,
            _ => false,
        },
        _ => false,
    }
}

/// The warnings for one migration's `up.sql` on `backend`, given the schema before it ran.
pub fn lint_migration(
    domain: &Domain,
    migration: &MigrationFiles,
    backend: Backend,
    in_transaction: bool,
    before: &Snapshot,
) -> Vec<LintFinding> {
    let file = migration.path(domain, backend, Direction::Up);
    let script = migration.script(backend, Direction::Up);
    let mut findings = Vec::new();
    let mut created_here: Vec<String> = Vec::new();
    // Tables another one is renamed to: dropping one of them is the table rebuild SQLite
    // needs for most changes (create the new shape, copy, drop, rename), not data loss.
    let rebuilt: Vec<String> = split_statements(script)
        .into_iter()
        .filter_map(|statement| {
            let words = words(statement.text);
            let is = |i: usize, k: &str| words.get(i).is_some_and(|w| w.is(k));
            (is(0, "ALTER") && is(1, "TABLE") && is(3, "RENAME") && is(4, "TO"))
                .then(|| words.get(5).map(|w| unqualified(w.text).to_owned()))
                .flatten()
        })
        .collect();
    for statement in split_statements(script) {
        let words = words(statement.text);
        let line_of = |at: usize| statement.line + statement.text[..at].bytes().filter(|&b| b == b'\n').count();
        let mut warn = |rule: &'static str, at: usize, message: String| {
            findings.push(LintFinding {
                rule,
                domain: Some(domain.name()),
                file: file.clone(),
                line: line_of(at),
                message,
            });
        };
        let Some(first) = words.first() else { continue };
        if in_transaction && let Some(what) = outside_transaction_only(&words, backend) {
            warn(
                "not-in-transaction",
                first.at,
                format!(
                    "{what} cannot run inside a transaction, and this migration runs in one; give it a metadata.toml with `run_in_transaction = false` (and nothing else in it)"
                ),
            );
        }
        for (i, word) in words.iter().enumerate() {
            let next = |n: usize| words.get(i + n);
            if word.is("ON") && next(1).is_some_and(|w| w.is("DELETE")) && next(2).is_some_and(|w| w.is("CASCADE")) {
                warn(
                    "cascade",
                    word.at,
                    "ON DELETE CASCADE: deleting one row silently deletes its dependents; prefer RESTRICT and delete them explicitly".into(),
                );
            }
        }
        let is_create_table = first.is("CREATE")
            && words.iter().take(4).any(|w| w.is("TABLE"))
            && !words.iter().take(4).any(|w| w.is("INDEX"));
        if is_create_table
            && let Some(name) = words
                .iter()
                .skip(2)
                .find(|w| !["TABLE", "IF", "NOT", "EXISTS", "TEMP", "TEMPORARY", "UNLOGGED"].iter().any(|k| w.is(k)))
        {
            created_here.push(unqualified(name.text).to_owned());
        }
        let dropped = words.iter().skip(2).find(|w| !w.is("IF") && !w.is("EXISTS")).map(|w| unqualified(w.text));
        if first.is("DROP")
            && words.get(1).is_some_and(|w| w.is("TABLE"))
            && !dropped.is_some_and(|table| rebuilt.iter().any(|r| r == table))
        {
            let message =
                "DROP TABLE deletes the table and its data for good; make sure nothing needs them, keep a copy";
            warn("drop-table", first.at, message.into());
        }
        if first.is("ALTER") && words.get(1).is_some_and(|w| w.is("TABLE")) {
            let table = words
                .iter()
                .skip(2)
                .find(|w| !["IF", "EXISTS", "ONLY"].iter().any(|k| w.is(k)))
                .map(|w| unqualified(w.text).to_owned())
                .unwrap_or_default();
            for (i, word) in words.iter().enumerate() {
                let after = words.get(i + 1);
                let previous = i.checked_sub(1).and_then(|p| words.get(p));
                let starts_action = previous.is_some_and(|p| p.text == "," || unqualified(p.text) == table);
                if word.is("DROP")
                    && starts_action
                    && after.is_some_and(|w| {
                        !["CONSTRAINT", "DEFAULT", "NOT", "EXPRESSION", "IDENTITY"].iter().any(|k| w.is(k))
                    })
                {
                    warn(
                        "drop-column",
                        word.at,
                        "dropping a column deletes its data for good; stop using it first, and keep a copy".into(),
                    );
                }
                let column =
                    if backend == Backend::Postgres && word.is("TYPE") { altered_column(&words, i) } else { None };
                if let Some(column) = column {
                    let new_type = type_after(statement.text, words.get(i + 1).map_or(statement.text.len(), |w| w.at));
                    let old_type = before
                        .objects
                        .iter()
                        .find(|o| o.kind == Kind::Column && o.name == format!("{table}.{column}"))
                        .and_then(|o| o.definition.split(' ').next().map(str::to_owned));
                    let free = old_type.as_deref().is_some_and(|old| type_change_is_free(old, &new_type));
                    if !free && !created_here.contains(&table) {
                        warn(
                            "type-rewrite",
                            word.at,
                            format!(
                                "changing {table}.{column} from {} to {new_type} rewrites the whole table under an ACCESS EXCLUSIVE lock; for a large table add a new column, backfill it in batches and swap",
                                old_type.as_deref().unwrap_or("its current type")
                            ),
                        );
                    }
                }
            }
        }
        let is_create_index = first.is("CREATE") && words.iter().take(3).any(|w| w.is("INDEX"));
        if backend == Backend::Postgres && is_create_index && !words.iter().any(|w| w.is("CONCURRENTLY")) {
            let table = words
                .iter()
                .position(|w| w.is("ON"))
                .and_then(|on| words[on + 1..].iter().find(|w| !w.is("ONLY")))
                .map(|w| unqualified(w.text).to_owned())
                .unwrap_or_default();
            let existed = before.objects.iter().any(|o| o.kind == Kind::Table && unqualified(&o.name) == table);
            if existed && !created_here.contains(&table) {
                warn(
                    "index-not-concurrent",
                    first.at,
                    format!(
                        "CREATE INDEX on the existing table {table} blocks its writes until the index is built; use CREATE INDEX CONCURRENTLY in a migration with `run_in_transaction = false`"
                    ),
                );
            }
        }
    }
    findings
}

/// `lossy-down`: the columns whose type differs between `before` (the schema `down.sql`
/// restores, as `verify` proves) and `after` (the schema after `up.sql`) where the type before
/// holds less, so a rollback must round or refuse what was written in between. Each finding
/// names the `down.sql` and the first line that mentions the column.
pub fn lossy_down(
    domain: &Domain,
    migration: &MigrationFiles,
    backend: Backend,
    before: &Snapshot,
    after: &Snapshot,
) -> Vec<LintFinding> {
    let file = migration.path(domain, backend, Direction::Down);
    let script = migration.script(backend, Direction::Down);
    let type_of = |object: &crate::snapshot::SchemaObject| object.definition.split(' ').next().unwrap_or("").to_owned();
    let mut findings = Vec::new();
    for column in after.objects.iter().filter(|o| o.kind == Kind::Column) {
        let Some(old) = before.objects.iter().find(|o| o.kind == Kind::Column && o.name == column.name) else {
            continue;
        };
        let (now, restored) = (type_of(column), type_of(old));
        let Some(loss) = narrowing_loss(&now, &restored) else { continue };
        let name = column.name.rsplit('.').next().unwrap_or(&column.name);
        let line = script
            .lines()
            .position(|line| words(line).iter().any(|w| unqualified(w.text).eq_ignore_ascii_case(name)))
            .map_or(1, |i| i + 1);
        findings.push(LintFinding {
            rule: "lossy-down",
            domain: Some(domain.name()),
            file: file.clone(),
            line,
            message: format!(
                "rolling back turns {} from {now} back to {restored}: {loss}; roll back only while nothing of the kind was written, or keep a copy first",
                column.name
            ),
        });
    }
    findings
}

/// What a column loses when it goes back from type `from` to the narrower type `to`
/// (normalised types), or `None` when `to` holds every value of `from`.
fn narrowing_loss(from: &str, to: &str) -> Option<String> {
    fn split(t: &str) -> (&str, Vec<u32>) {
        match t.split_once('(') {
            Some((base, rest)) => {
                (base, rest.trim_end_matches(')').split(',').filter_map(|n| n.trim().parse().ok()).collect())
            }
            None => (t, Vec::new()),
        }
    }
    let ((from_base, from_modifier), (to_base, to_modifier)) = (split(from), split(to));
    let integer_rank = |base: &str| ["smallint", "integer", "bigint"].iter().position(|b| *b == base);
    match (from_base, to_base) {
        ("double" | "real", "numeric") => {
            let scale = to_modifier.get(1).copied().unwrap_or(0);
            let digits = to_modifier.first().map(|precision| precision.saturating_sub(scale));
            Some(match digits {
                Some(digits) => format!(
                    "a value written since with more than {scale} decimals is rounded to {scale}, and one with more than {digits} integer digits makes the rollback fail"
                ),
                None => "a value written since is rounded to the nearest decimal the float stands for".to_owned(),
            })
        }
        ("double", "real") => Some("a value written since keeps only about 7 significant digits".to_owned()),
        ("numeric", "numeric") => {
            let (from_scale, to_scale) =
                (from_modifier.get(1).copied().unwrap_or(0), to_modifier.get(1).copied().unwrap_or(0));
            let integer_digits = |m: &[u32], scale: u32| m.first().map(|p| p.saturating_sub(scale));
            let mut losses = Vec::new();
            if !to_modifier.is_empty() && (from_modifier.is_empty() || to_scale < from_scale) {
                losses
                    .push(format!("a value written since with more than {to_scale} decimals is rounded to {to_scale}"));
            }
            if let Some(to_digits) = integer_digits(&to_modifier, to_scale)
                && integer_digits(&from_modifier, from_scale).is_none_or(|from_digits| from_digits > to_digits)
            {
                losses.push(format!("one with more than {to_digits} integer digits makes the rollback fail"));
            }
            (!losses.is_empty()).then(|| losses.join(", and "))
        }
        (from_base, to_base) if integer_rank(to_base) < integer_rank(from_base) && integer_rank(to_base).is_some() => {
            Some(format!("a value written since outside {to_base}'s range makes the rollback fail"))
        }
        ("text" | "varchar", "varchar" | "char") => {
            let limit = to_modifier.first()?;
            let longer = from_base == "text" || from_modifier.first().is_none_or(|from_limit| from_limit > limit);
            longer.then(|| format!("a text written since longer than {limit} characters makes the rollback fail"))
        }
        _ => None,
    }
}

/// For the `TYPE` at `at` in `ALTER [COLUMN] c [SET DATA] TYPE t`, the column `c`.
fn altered_column<'a>(words: &[Word<'a>], at: usize) -> Option<&'a str> {
    let before = |n: usize| at.checked_sub(n).and_then(|i| words.get(i));
    let offset = if before(1)?.is("DATA") && before(2)?.is("SET") { 2 } else { 0 };
    let column = before(offset + 1)?;
    let keyword = before(offset + 2)?;
    let alter = keyword.is("ALTER") || (keyword.is("COLUMN") && before(offset + 3)?.is("ALTER"));
    alter.then_some(column.text)
}

fn unqualified(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The type text that starts at `at`, up to a top-level `,`, `USING`, `COLLATE` or the end.
fn type_after(sql: &str, at: usize) -> String {
    let rest = &sql[at.min(sql.len())..];
    let mut depth = 0usize;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' | ';' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let text = &rest[..end];
    let upper = text.to_ascii_uppercase();
    let cut = [" USING ", " COLLATE "].iter().filter_map(|k| upper.find(k)).min().unwrap_or(text.len());
    crate::snapshot::normalize_type(text[..cut].trim())
}

/// Indexes of `snapshot` made redundant by another index or a unique or primary key of the
/// same table, each attributed to the `CREATE INDEX` statement in `domains` that made it.
pub fn redundant_indexes(snapshot: &Snapshot, domains: &[&Domain]) -> Vec<LintFinding> {
    struct Candidate<'a> {
        /// The index's name; `None` for a unique or primary key, which is never redundant.
        index: Option<&'a str>,
        label: String,
        table: &'a str,
        columns: Vec<&'a str>,
        unique: bool,
        plain: bool,
    }
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for object in &snapshot.objects {
        let table = object.table.as_deref().unwrap_or_default();
        match object.kind {
            Kind::Index => {
                let Some(inner) = object.definition.split_once(" (").and_then(|(_, rest)| rest.split_once(')')) else {
                    continue;
                };
                candidates.push(Candidate {
                    index: Some(&object.name),
                    label: format!("index {}", object.name),
                    table,
                    columns: inner.0.split(", ").collect(),
                    unique: inner.1.contains(" unique"),
                    plain: inner.1.contains("using btree") && !inner.1.contains(" where "),
                });
            }
            Kind::Unique | Kind::PrimaryKey => {
                let inner = if object.kind == Kind::Unique {
                    object.name.split_once(" (").map(|(_, rest)| rest.trim_end_matches(')')).unwrap_or_default()
                } else {
                    object.definition.trim_matches(['(', ')'])
                };
                candidates.push(Candidate {
                    index: None,
                    label: format!(
                        "{} {}",
                        object.kind,
                        if object.kind == Kind::Unique {
                            object.name.clone()
                        } else {
                            format!("{} ({inner})", object.name)
                        }
                    ),
                    table,
                    columns: inner.split(", ").collect(),
                    unique: true,
                    plain: true,
                });
            }
            _ => {}
        }
    }
    let mut findings = Vec::new();
    for index in candidates.iter().filter(|c| c.index.is_some() && c.plain) {
        let name = index.index.unwrap_or_default();
        let covering = candidates.iter().find(|other| {
            !std::ptr::eq(*other, index)
                && other.plain
                && other.table == index.table
                && other.columns.len() >= index.columns.len()
                && other.columns[..index.columns.len()] == index.columns[..]
                && (!index.unique || (other.unique && other.columns.len() == index.columns.len()))
                && (other.columns.len() > index.columns.len() || other.unique || other.index < index.index)
        });
        if let Some(other) = covering {
            let (domain, file, line) = match locate_index(domains, snapshot.backend, name) {
                Some((domain, file, line)) => (Some(domain), file, line),
                None => (None, "(not created by a migration)".to_owned(), 0),
            };
            findings.push(LintFinding {
                rule: "redundant-index",
                domain,
                file,
                line,
                message: format!(
                    "index {} ({}) is redundant with {}: every write maintains both and no query needs it; drop it in a new migration",
                    name,
                    index.columns.join(", "),
                    other.label
                ),
            });
        }
    }
    findings
}

/// The domain, file and line of the last `CREATE INDEX name` among the domains' `up.sql`
/// scripts.
pub fn locate_index(domains: &[&Domain], backend: Backend, name: &str) -> Option<(&'static str, String, usize)> {
    let wanted = unqualified(name);
    let mut found = None;
    for domain in domains {
        for migration in domain.migrations() {
            for statement in split_statements(migration.script(backend, Direction::Up)) {
                let words = words(statement.text);
                if !words.first().is_some_and(|w| w.is("CREATE")) {
                    continue;
                }
                let Some(index_at) = words.iter().take(3).position(|w| w.is("INDEX")) else { continue };
                let named = words[index_at + 1..]
                    .iter()
                    .find(|w| !["CONCURRENTLY", "IF", "NOT", "EXISTS"].iter().any(|k| w.is(k)));
                if named.is_some_and(|w| unqualified(w.text).eq_ignore_ascii_case(wanted)) {
                    found = Some((domain.name(), migration.path(domain, backend, Direction::Up), statement.line));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Scripts, snapshot::SchemaObject};

    fn empty(backend: Backend) -> Snapshot {
        Snapshot { backend, objects: Vec::new() }
    }

    fn with_table(backend: Backend, table: &str, columns: &[(&str, &str)]) -> Snapshot {
        let mut objects = vec![SchemaObject::of_table(Kind::Table, table, table, "")];
        for (column, definition) in columns {
            objects.push(SchemaObject::of_table(Kind::Column, format!("{table}.{column}"), table, *definition));
        }
        Snapshot { backend, objects }
    }

    fn lint(up: &'static str, before: &Snapshot) -> Vec<(&'static str, usize)> {
        let domain: &'static Domain = Box::leak(Box::new(Domain::new(
            "demo",
            Box::leak(Box::new([MigrationFiles {
                version: "1",
                name: "m",
                postgres: Scripts { up, down: "", metadata: "" },
                sqlite: Scripts { up, down: "", metadata: "" },
            }])),
        )));
        lint_migration(domain, &domain.migrations()[0], before.backend, true, before)
            .into_iter()
            .map(|f| (f.rule, f.line))
            .collect()
    }

    #[test]
    fn flags_each_rule_on_its_line() {
        let before = with_table(Backend::Postgres, "t", &[("a", "varchar(10)"), ("b", "integer")]);
        let cases: &[(&str, &[(&str, usize)])] = &[
            ("CREATE TABLE c (id INT REFERENCES t (id)\n ON DELETE CASCADE);", &[("cascade", 2)]),
            ("-- old\nDROP TABLE t;", &[("drop-table", 2)]),
            (
                "CREATE TABLE t_new (a INT);\nINSERT INTO t_new SELECT a FROM t;\nDROP TABLE t;\nALTER TABLE t_new RENAME TO t;",
                &[],
            ),
            ("DROP TABLE IF EXISTS u;\nALTER TABLE t_new RENAME TO t;", &[("drop-table", 1)]),
            ("ALTER TABLE t DROP COLUMN a, DROP b;", &[("drop-column", 1), ("drop-column", 1)]),
            ("ALTER TABLE t ALTER COLUMN a DROP DEFAULT, DROP CONSTRAINT k;", &[]),
            ("CREATE INDEX t_a ON t (a);", &[("index-not-concurrent", 1)]),
            ("CREATE TABLE n (a INT);\nCREATE INDEX n_a ON n (a);", &[]),
            ("ALTER TABLE t ALTER COLUMN b TYPE bigint;", &[("type-rewrite", 1)]),
            ("ALTER TABLE t ALTER COLUMN a TYPE varchar(20);", &[]),
            ("ALTER TABLE t ALTER COLUMN a SET DATA TYPE text;", &[]),
            ("\n\nCREATE INDEX CONCURRENTLY t_b ON t (b);", &[("not-in-transaction", 3)]),
            ("CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN DROP TABLE x; END $$ LANGUAGE plpgsql;", &[]),
            ("INSERT INTO t VALUES ('ON DELETE CASCADE');", &[]),
        ];
        for (sql, expected) in cases {
            assert_eq!(lint(sql, &before), *expected, "{sql}");
        }
        assert!(lint("CREATE INDEX t_a ON t (a);", &empty(Backend::Postgres)).is_empty(), "a new table");
        let sqlite = with_table(Backend::Sqlite, "t", &[]);
        assert_eq!(lint("PRAGMA foreign_keys = OFF;", &sqlite), [("not-in-transaction", 1)]);
        assert!(lint("CREATE INDEX t_a ON t (a);", &sqlite).is_empty(), "SQLite builds indexes in place");
    }

    #[test]
    fn a_rollback_to_a_narrower_type_is_lossy() {
        let lossy = |from: &str, to: &str| narrowing_loss(from, to).is_some();
        assert_eq!(
            narrowing_loss("double", "numeric(12,4)").as_deref(),
            Some(
                "a value written since with more than 4 decimals is rounded to 4, and one with more than 8 integer digits makes the rollback fail"
            )
        );
        assert!(lossy("real", "numeric(12,4)"));
        assert!(lossy("double", "real"));
        assert!(lossy("numeric(14,6)", "numeric(12,4)"));
        assert!(lossy("numeric(14,4)", "numeric(12,4)"));
        assert!(lossy("bigint", "integer"));
        assert!(lossy("text", "varchar(20)"));
        assert!(lossy("varchar(40)", "varchar(20)"));
        for (from, to) in [
            ("numeric(12,4)", "double"),
            ("numeric(12,4)", "numeric(14,4)"),
            ("integer", "bigint"),
            ("varchar(20)", "text"),
            ("varchar(20)", "varchar(40)"),
            ("timestamp", "text"),
        ] {
            assert!(!lossy(from, to), "{from} -> {to}");
        }
    }

    #[test]
    fn lossy_down_names_the_down_script_and_the_column_line() {
        let domain: &'static Domain = Box::leak(Box::new(Domain::new(
            "demo",
            Box::leak(Box::new([MigrationFiles {
                version: "1",
                name: "m",
                postgres: Scripts {
                    up: "ALTER TABLE t ALTER COLUMN p TYPE double precision;",
                    down: "-- back\nALTER TABLE t\n    ALTER COLUMN p TYPE numeric(12, 4);",
                    metadata: "",
                },
                sqlite: Scripts { up: "", down: "", metadata: "" },
            }])),
        )));
        let before = with_table(Backend::Postgres, "t", &[("p", "numeric(12,4) not null"), ("q", "integer")]);
        let after = with_table(Backend::Postgres, "t", &[("p", "double not null"), ("q", "integer")]);
        let findings = lossy_down(domain, &domain.migrations()[0], Backend::Postgres, &before, &after);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!((findings[0].rule, findings[0].line), ("lossy-down", 3));
        assert!(findings[0].file.ends_with("down.sql"), "{}", findings[0].file);
        assert!(findings[0].message.starts_with("rolling back turns t.p from double back to numeric(12,4)"));
        assert!(lossy_down(domain, &domain.migrations()[0], Backend::Postgres, &after, &before).is_empty());
    }

    #[test]
    fn free_type_changes_are_the_binary_compatible_ones() {
        assert!(type_change_is_free("varchar(10)", "varchar(20)"));
        assert!(type_change_is_free("varchar(10)", "text"));
        assert!(type_change_is_free("numeric(12,4)", "numeric(14,4)"));
        assert!(!type_change_is_free("numeric(12,4)", "double"));
        assert!(!type_change_is_free("varchar(20)", "varchar(10)"));
        assert!(!type_change_is_free("integer", "bigint"));
    }

    #[test]
    fn an_index_leading_a_unique_key_is_redundant_but_a_longer_one_is_not() {
        let object = |kind, name: &str, definition: &str| SchemaObject::of_table(kind, name, "t", definition);
        let snapshot = Snapshot {
            backend: Backend::Sqlite,
            objects: vec![
                object(Kind::Unique, "t (a)", ""),
                object(Kind::Index, "t_a", "on t (a) using btree"),
                object(Kind::Index, "t_a_b", "on t (a, b) using btree"),
                object(Kind::Index, "t_b_partial", "on t (b) using btree where b > 0"),
                object(Kind::Index, "t_b", "on t (b) using btree"),
            ],
        };
        let messages: Vec<String> = redundant_indexes(&snapshot, &[]).into_iter().map(|f| f.message).collect();
        assert_eq!(messages.len(), 1, "{messages:#?}");
        assert!(messages[0].starts_with("index t_a (a) is redundant with unique t (a)"), "{messages:#?}");
    }
}
