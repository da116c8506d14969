//! Splitting a migration script into statements, so a failure can name the statement.
//!
//! The splitter understands what can hide a `;`: `--` and (nested) `/* */` comments,
//! `'...'` strings (with `''` and, for `E'...'`, backslash escapes), `"..."` identifiers,
//! PostgreSQL dollar quoting (`$$...$$`, `$body$...$body$`), SQLite trigger bodies
//! (`CREATE TRIGGER ... BEGIN ...; ...; END`), SQL-standard function bodies
//! (`BEGIN ATOMIC ... END`) and `CASE ... END`.

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement text, without the terminating `;`, leading comments and surrounding whitespace.
    pub text: &'a str,
    /// 1-based line of the statement's first character.
    pub line: usize,
}

/// Splits `script` into statements; empty statements (only whitespace and comments) are dropped.
pub fn split_statements(script: &str) -> Vec<Statement<'_>> {
    let bytes = script.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // Nesting of BEGIN/CASE ... END blocks inside the current statement.
    let mut block_depth = 0usize;
    // Whether BEGIN opens a block in this statement (it does in CREATE TRIGGER/FUNCTION/
    // PROCEDURE; elsewhere `BEGIN;` is a transaction command).
    let mut begin_opens_block = false;
    let mut words_seen = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = script[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i);
                continue;
            }
            b'\'' => {
                let backslash_escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && !is_word_byte(bytes.get(i.wrapping_sub(2)).copied());
                i = skip_quoted(bytes, i, b'\'', backslash_escapes);
                continue;
            }
            b'"' => {
                i = skip_quoted(bytes, i, b'"', false);
                continue;
            }
            b'$' => {
                if let Some(end) = skip_dollar_quoted(script, i) {
                    i = end;
                    continue;
                }
            }
            b';' if block_depth == 0 => {
                push_statement(script, start, i, &mut statements);
                start = i + 1;
                begin_opens_block = false;
                words_seen = 0;
            }
            _ if is_word_byte(Some(b)) && !is_word_byte(i.checked_sub(1).map(|p| bytes[p])) => {
                let end = i + bytes[i..].iter().take_while(|&&c| is_word_byte(Some(c))).count();
                let word = &script[i..end];
                words_seen += 1;
                if words_seen <= 6 && ["TRIGGER", "FUNCTION", "PROCEDURE"].iter().any(|k| word.eq_ignore_ascii_case(k))
                {
                    begin_opens_block = true;
                }
                if word.eq_ignore_ascii_case("CASE") || (begin_opens_block && word.eq_ignore_ascii_case("BEGIN")) {
                    block_depth += 1;
                } else if word.eq_ignore_ascii_case("END") && block_depth > 0 {
                    block_depth -= 1;
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    push_statement(script, start, bytes.len(), &mut statements);
    statements
}

fn push_statement<'a>(script: &'a str, start: usize, end: usize, out: &mut Vec<Statement<'a>>) {
    let raw = &script[start..end];
    let leading = leading_trivia(raw);
    if leading == raw.len() {
        return;
    }
    let text = raw[leading..].trim_end();
    let line = 1 + script[..start + leading].bytes().filter(|&b| b == b'\n').count();
    out.push(Statement { text, line });
}

/// Length of the whitespace and comments that open `text`.
fn leading_trivia(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if b.is_ascii_whitespace() => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            _ => return i,
        }
    }
    bytes.len()
}

fn is_word_byte(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

fn skip_quoted(bytes: &[u8], start: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash_escapes => i += 2,
            b if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Skips `$tag$ ... $tag$` starting at `start`; `None` when `$` does not open a dollar quote
/// (e.g. a `$1` parameter).
fn skip_dollar_quoted(script: &str, start: usize) -> Option<usize> {
    let rest = &script[start + 1..];
    let tag_len = rest.bytes().take_while(|&b| b.is_ascii_alphanumeric() || b == b'_').count();
    if rest.as_bytes().get(tag_len) != Some(&b'$') || rest.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let delimiter = &script[start..start + tag_len + 2];
    let body_start = start + delimiter.len();
    Some(script[body_start..].find(delimiter).map_or(script.len(), |n| body_start + n + delimiter.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<&str> {
        split_statements(script).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_on_semicolons_and_drops_empty_statements() {
        assert_eq!(
            texts("CREATE TABLE a (x INT);\n\n;CREATE TABLE b (y INT)"),
            ["CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"]
        );
        assert!(texts("-- only a comment\n/* and another */\n").is_empty());
    }

    #[test]
    fn ignores_semicolons_in_strings_identifiers_and_comments() {
        let script = "INSERT INTO t VALUES ('a;b', 'it''s;');\n-- c;d\nSELECT \"odd;name\" /* x; /* nested; */ y; */ FROM t;\nSELECT E'\\';' ;";
        assert_eq!(texts(script).len(), 3);
    }

    #[test]
    fn keeps_dollar_quoted_function_bodies_whole() {
        let script = "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.x := 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\nCREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION f();";
        let statements = texts(script);
        assert_eq!(statements.len(), 2, "{statements:#?}");
        assert!(statements[0].ends_with("LANGUAGE plpgsql"));
        assert_eq!(texts("SELECT $tag$ a;$$; $tag$;SELECT 2").len(), 2);
    }

    #[test]
    fn keeps_sqlite_trigger_bodies_whole() {
        let script = "CREATE TRIGGER touch AFTER UPDATE ON t FOR EACH ROW BEGIN\n  UPDATE t SET n = CASE WHEN NEW.n > 0 THEN 1 ELSE 0 END WHERE id = NEW.id;\n  SELECT 1;\nEND;\nCREATE INDEX i ON t(n);";
        let statements = texts(script);
        assert_eq!(statements.len(), 2, "{statements:#?}");
        assert!(statements[0].ends_with("END"));
    }

    #[test]
    fn transaction_begin_does_not_open_a_block() {
        assert_eq!(texts("BEGIN; CREATE TABLE a (x INT); COMMIT;"), ["BEGIN", "CREATE TABLE a (x INT)", "COMMIT"]);
    }

    #[test]
    fn reports_the_line_each_statement_starts_on() {
        let lines: Vec<_> = split_statements("-- header\nCREATE TABLE a (x INT);\n\n  CREATE TABLE b (\n y INT);")
            .iter()
            .map(|s| s.line)
            .collect();
        assert_eq!(lines, [2, 4]);
    }

    #[test]
    fn dollar_parameters_are_not_quotes() {
        assert_eq!(texts("PREPARE p AS SELECT $1; SELECT 2;").len(), 2);
    }
}

/// `statement`, written with PostgreSQL's numbered parameters (`$1`, `$2`, ...), for
/// `backend`: SQLite's are `?1`, `?2`, ... . Only a `$` followed by a digit is a parameter, so
/// SQLite's JSON paths (`'$.type'`) stay as they are; for statements without dollar quoting,
/// as the domain crates write their queries once for both backends.
pub fn parameters_for(backend: crate::Backend, statement: &str) -> std::borrow::Cow<'_, str> {
    match backend {
        crate::Backend::Postgres => std::borrow::Cow::Borrowed(statement),
        crate::Backend::Sqlite => {
            let mut out = String::with_capacity(statement.len());
            let mut chars = statement.chars().peekable();
            while let Some(c) = chars.next() {
                let parameter = c == '$' && chars.peek().is_some_and(char::is_ascii_digit);
                out.push(if parameter { '?' } else { c });
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod parameter_tests {
    #[test]
    fn numbered_parameters_in_each_dialect() {
        let statement = "UPDATE t SET a = $1 WHERE id = $2";
        assert_eq!(super::parameters_for(crate::Backend::Postgres, statement), statement);
        assert_eq!(super::parameters_for(crate::Backend::Sqlite, statement), "UPDATE t SET a = ?1 WHERE id = ?2");
        let json = "SELECT json_extract(d, '$.type') FROM t WHERE k = $1";
        assert_eq!(
            super::parameters_for(crate::Backend::Sqlite, json),
            "SELECT json_extract(d, '$.type') FROM t WHERE k = ?1"
        );
    }
}

/// A statement written once for both backends with numbered parameters (`$1`, `$2`, ...), whose
/// prepared form diesel's statement cache keeps (its key is the SQL), unlike `sql_query`, which
/// is parsed and planned at every call. A parameter may appear more than once; values are
/// bound in order of appearance. Rows load through `QueryableByName`, as `sql_query`'s do.
///
/// ```
/// use migration_core::sql::Prepared;
/// let query = Prepared::new("SELECT $1 AS a, $2 AS b, $1 AS c").text("x").big_int(7);
/// # let _ = query;
/// ```
#[derive(Debug, Clone)]
pub struct Prepared {
    sql: String,
    binds: Vec<Bind>,
}

/// One parameter of a [`Prepared`] statement.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    NullableText(Option<String>),
    BigInt(i64),
    Date(chrono::NaiveDate),
}

impl Prepared {
    /// A statement with `$n` parameters.
    pub fn new(sql: impl Into<String>) -> Prepared {
        Prepared { sql: sql.into(), binds: Vec::new() }
    }

    /// The next parameter, as text.
    pub fn text(mut self, value: impl Into<String>) -> Prepared {
        self.binds.push(Bind::Text(value.into()));
        self
    }

    /// The next parameter, as text or NULL.
    pub fn nullable_text(mut self, value: Option<String>) -> Prepared {
        self.binds.push(Bind::NullableText(value));
        self
    }

    /// The next parameter, as a 64-bit integer.
    pub fn big_int(mut self, value: i64) -> Prepared {
        self.binds.push(Bind::BigInt(value));
        self
    }

    /// The same statement behind `prefix` (`EXPLAIN `), with the same parameters.
    pub fn prefixed(mut self, prefix: &str) -> Prepared {
        self.sql.insert_str(0, prefix);
        self
    }

    /// The next parameter, as a date (SQLite: `YYYY-MM-DD` text).
    pub fn date(mut self, value: chrono::NaiveDate) -> Prepared {
        self.binds.push(Bind::Date(value));
        self
    }
}

impl diesel::query_builder::QueryId for Prepared {
    type QueryId = ();
    // No static id: the statement cache keys it by its SQL.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Prepared {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Conn> diesel::RunQueryDsl<Conn> for Prepared {}

impl<DB> diesel::query_builder::QueryFragment<DB> for Prepared
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<diesel::sql_types::Text>
        + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>
        + diesel::sql_types::HasSqlType<diesel::sql_types::Date>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    chrono::NaiveDate: diesel::serialize::ToSql<diesel::sql_types::Date, DB>,
    Option<String>: diesel::serialize::ToSql<diesel::sql_types::Nullable<diesel::sql_types::Text>, DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        use diesel::sql_types::{BigInt, Date, Nullable, Text};
        let mut rest = self.sql.as_str();
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                pass.push_sql(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
            pass.push_sql(&rest[..at]);
            let number: usize = rest[at + 1..at + 1 + digits].parse().unwrap_or(0);
            let bind = number.checked_sub(1).and_then(|i| self.binds.get(i)).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(
                    format!("${number} has no value ({} given)", self.binds.len()).into(),
                )
            })?;
            match bind {
                Bind::Text(value) => pass.push_bind_param::<Text, _>(value)?,
                Bind::NullableText(value) => pass.push_bind_param::<Nullable<Text>, _>(value)?,
                Bind::BigInt(value) => pass.push_bind_param::<BigInt, _>(value)?,
                Bind::Date(value) => pass.push_bind_param::<Date, _>(value)?,
            }
            rest = &rest[at + 1 + digits..];
        }
        pass.push_sql(rest);
        Ok(())
    }
}
