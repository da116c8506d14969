//! Database URLs: one string picks the backend.

use std::fmt;
use std::path::PathBuf;

use crate::{Error, Result};

/// The two supported backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL, the production backend.
    Postgres,
    /// SQLite, the embedded default.
    Sqlite,
}

impl Backend {
    /// Folder name of this backend's scripts under `migrations/<domain>/`.
    pub fn folder(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        })
    }
}

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A libpq connection URL (`postgres://` or `postgresql://`), kept verbatim.
    Postgres(String),
    /// An SQLite database file.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (`:memory:`), gone when its connection closes.
    SqliteMemory,
}

impl DatabaseUrl {
    /// Parses a URL: `postgres://` / `postgresql://` → PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH`, a bare path or `:memory:` → SQLite.
    pub fn parse(url: &str) -> Result<Self> {
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidUrl {
                url: url.to_owned(),
                reason: "it is empty; give postgres://user@host/db, sqlite://path/to/file.db or :memory:".into(),
            });
        }
        if trimmed == ":memory:" || trimmed == "sqlite::memory:" || trimmed == "sqlite://:memory:" {
            return Ok(DatabaseUrl::SqliteMemory);
        }
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(trimmed.to_owned()));
        }
        if let Some(rest) = trimmed.strip_prefix("sqlite:") {
            // sqlite:///abs/path, sqlite://relative/path and sqlite:relative/path all name a file.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split_once('?').map_or(path, |(path, _)| path);
            if path.is_empty() {
                return Err(Error::InvalidUrl {
                    url: url.to_owned(),
                    reason: "it names no file; write sqlite://path/to/file.db".into(),
                });
            }
            return Ok(DatabaseUrl::SqliteFile(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(Error::InvalidUrl {
                url: url.to_owned(),
                reason: format!(
                    "the scheme `{scheme}://` is not supported; intake speaks postgres:// and sqlite:// (or a bare file path)"
                ),
            });
        }
        Ok(DatabaseUrl::SqliteFile(PathBuf::from(trimmed)))
    }

    /// The same PostgreSQL server and options with another database; `None` for SQLite.
    pub fn with_database(&self, name: &str) -> Option<DatabaseUrl> {
        let DatabaseUrl::Postgres(url) = self else { return None };
        let (base, query) = url.split_once('?').map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let base = match base[scheme_end..].find('/') {
            Some(slash) => &base[..scheme_end + slash],
            None => base,
        };
        Some(DatabaseUrl::Postgres(match query {
            Some(query) => format!("{base}/{name}?{query}"),
            None => format!("{base}/{name}"),
        }))
    }

    /// The backend this URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::SqliteFile(_) | DatabaseUrl::SqliteMemory => Backend::Sqlite,
        }
    }
}

/// Shows the URL with any password replaced by `***`, so it is safe in logs and errors.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(url) => f.write_str(&redact_password(url)),
            DatabaseUrl::SqliteFile(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::SqliteMemory => f.write_str(":memory:"),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_backend_from_the_scheme() {
        let cases: &[(&str, DatabaseUrl)] = &[
            (
                "postgres://postgres@127.0.0.1:5432/db",
                DatabaseUrl::Postgres("postgres://postgres@127.0.0.1:5432/db".into()),
            ),
            ("postgresql://h/db", DatabaseUrl::Postgres("postgresql://h/db".into())),
            ("sqlite://data/intake.db", DatabaseUrl::SqliteFile("data/intake.db".into())),
            ("sqlite:///tmp/x.db", DatabaseUrl::SqliteFile("/tmp/x.db".into())),
            ("sqlite:x.db", DatabaseUrl::SqliteFile("x.db".into())),
            ("sqlite://x.db?mode=rwc", DatabaseUrl::SqliteFile("x.db".into())),
            ("./local.db", DatabaseUrl::SqliteFile("./local.db".into())),
            ("/abs/file.sqlite", DatabaseUrl::SqliteFile("/abs/file.sqlite".into())),
            (":memory:", DatabaseUrl::SqliteMemory),
            ("sqlite::memory:", DatabaseUrl::SqliteMemory),
            ("  sqlite://padded.db  ", DatabaseUrl::SqliteFile("padded.db".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(&DatabaseUrl::parse(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn rejects_unsupported_schemes_and_empty_urls_with_a_hint() {
        let cases = [
            ("mysql://root@localhost/db", "`mysql://` is not supported"),
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("sqlite://", "names no file"),
        ];
        for (input, expected) in cases {
            let message = DatabaseUrl::parse(input).unwrap_err().to_string();
            assert!(message.contains(expected), "{input:?}: {message}");
        }
    }

    #[test]
    fn display_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://alice:s3cret@db.example:5432/prod").unwrap();
        assert_eq!(url.to_string(), "postgres://alice:***@db.example:5432/prod");
        let url = DatabaseUrl::parse("postgres://alice@db.example/prod").unwrap();
        assert_eq!(url.to_string(), "postgres://alice@db.example/prod");
    }

    #[test]
    fn with_database_replaces_only_the_database() {
        let cases = [
            ("postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/x"),
            ("postgres://h:1/db?sslmode=disable", "postgres://h:1/x?sslmode=disable"),
            ("postgres://h", "postgres://h/x"),
        ];
        for (url, expected) in cases {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap().with_database("x"),
                Some(DatabaseUrl::Postgres(expected.into()))
            );
        }
        assert_eq!(DatabaseUrl::parse("a.db").unwrap().with_database("x"), None);
    }

    #[test]
    fn a_relative_sqlite_url_names_a_file_under_the_working_directory() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/intake.db").unwrap(),
            DatabaseUrl::SqliteFile("data/intake.db".into())
        );
    }
}
