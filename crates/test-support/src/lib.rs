//! Fresh databases for tests, on both backends.
//!
//! [`TestDatabase::sqlite`] is a file in a temporary folder; [`TestDatabase::postgres`] is a new
//! database on the server at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped when the test passes and kept (its
//! name printed) when it fails; kept databases are dropped by the next run once their process
//! has exited. If no server answers but `initdb` is on `PATH`, a throwaway cluster is started
//! in a temporary folder and shared by the test processes of this user. If neither works the
//! test fails, saying how to provide a server: a database test is never skipped.
//!
//! [`on_both_backends!`] turns one test body into a test per backend. [`http`] starts service
//! binaries and talks HTTP to them.
//!
//! This crate is for tests only; it knows no domain.
//!
//! ```no_run
//! use test_support::{TestDatabase, on_both_backends};
//!
//! fn connects(db: &TestDatabase) {
//!     db.database().get().unwrap();
//! }
//! on_both_backends!(connects);
//! ```
#![deny(missing_docs)]

pub mod http;
mod postgres_server;

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use migration_core::{Backend, Database};

/// One fresh database, removed on drop (kept for inspection if the test panicked).
pub struct TestDatabase {
    url: String,
    database: Database,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(Option<tempfile::TempDir>),
    Postgres { admin_url: String, name: String },
}

/// Generates `mod <test> { #[test] fn sqlite(); #[test] fn postgres(); }` for each test body
/// `fn <test>(db: &TestDatabase)`, so every database test runs on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        $(
            mod $test {
                #[test]
                fn sqlite() {
                    super::$test(&$crate::TestDatabase::sqlite());
                }
                #[test]
                fn postgres() {
                    super::$test(&$crate::TestDatabase::postgres());
                }
            }
        )+
    };
}

impl TestDatabase {
    /// A fresh database on `backend`.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => Self::postgres(),
            Backend::Sqlite => Self::sqlite(),
        }
    }

    /// A fresh SQLite database in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new().prefix("intake-test-").tempdir().expect("create a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let database = Database::connect(&url).unwrap_or_else(|error| panic!("open {url}: {error}"));
        TestDatabase { url, database, cleanup: Cleanup::Sqlite(Some(dir)) }
    }

    /// A fresh PostgreSQL database (see the crate docs for where the server comes from).
    pub fn postgres() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let admin_url = postgres_server::admin_url();
        let name = format!("intake_test_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        admin_connection(admin_url)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("create test database {name}: {error}"));
        let url = with_database(admin_url, &name);
        let database = Database::connect(&url).unwrap_or_else(|error| panic!("open {url}: {error}"));
        TestDatabase { url, database, cleanup: Cleanup::Postgres { admin_url: admin_url.to_owned(), name } }
    }

    /// The connection pool.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The URL, e.g. for a child process.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.database.backend()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let keep = std::thread::panicking();
        match &mut self.cleanup {
            Cleanup::Sqlite(dir) if keep => {
                if let Some(dir) = dir.take() {
                    eprintln!("test failed; its SQLite database is kept at {}", dir.keep().display());
                }
            }
            Cleanup::Sqlite(_) => {}
            Cleanup::Postgres { name, .. } if keep => {
                eprintln!("test failed; its PostgreSQL database {name} is kept (dropped by the next test run)");
            }
            Cleanup::Postgres { admin_url, name } => {
                // Best effort: a leftover is dropped by the next run's sweep.
                let _ =
                    admin_connection(admin_url).batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A fresh database known by its URL only: no connection is kept open to it, so other
/// processes own it and it can be copied ([`ScratchDatabase::copy`]), as the reliability
/// suite does for each trial. Removed on drop, like [`TestDatabase`].
pub struct ScratchDatabase {
    url: String,
    backend: Backend,
    cleanup: Cleanup,
}

impl ScratchDatabase {
    /// A fresh, empty database on `backend`.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir =
                    tempfile::Builder::new().prefix("intake-scratch-").tempdir().expect("create a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("scratch.db").display());
                ScratchDatabase { url, backend, cleanup: Cleanup::Sqlite(Some(dir)) }
            }
            Backend::Postgres => Self::postgres(None),
        }
    }

    fn postgres(template: Option<&str>) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let admin_url = postgres_server::admin_url();
        let name = format!("intake_test_{}_s{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let from = template.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
        admin_connection(admin_url)
            .batch_execute(&format!("CREATE DATABASE {name}{from}"))
            .unwrap_or_else(|error| panic!("create scratch database {name}{from}: {error}"));
        let url = with_database(admin_url, &name);
        ScratchDatabase {
            url,
            backend: Backend::Postgres,
            cleanup: Cleanup::Postgres { admin_url: admin_url.to_owned(), name },
        }
    }

    /// A new database holding exactly what this one holds. Nothing may be connected to this
    /// one meanwhile (PostgreSQL copies a template only then; an SQLite file is copied whole,
    /// with no write-ahead log beside it).
    pub fn copy(&self) -> Self {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                let source = dir.as_ref().expect("a live scratch folder").path().join("scratch.db");
                let copy = Self::new(Backend::Sqlite);
                let Cleanup::Sqlite(Some(target)) = &copy.cleanup else { unreachable!("an SQLite scratch database") };
                std::fs::copy(&source, target.path().join("scratch.db"))
                    .unwrap_or_else(|error| panic!("copy {}: {error}", source.display()));
                copy
            }
            Cleanup::Postgres { name, .. } => Self::postgres(Some(name)),
        }
    }

    /// The URL, for the processes that use it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // Best effort: a leftover is dropped by the next run's sweep.
            let _ = admin_connection(admin_url).batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

pub(crate) fn admin_connection(admin_url: &str) -> PgConnection {
    PgConnection::establish(admin_url).unwrap_or_else(|error| panic!("connect to {admin_url}: {error}"))
}

/// `admin_url` with its database replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::RunQueryDsl;

    #[test]
    fn replaces_the_database_in_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://h:1/db?sslmode=disable", "x"), "postgres://h:1/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    fn round_trip(db: &TestDatabase) {
        let mut connection = db.database().get().unwrap();
        connection.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    }
    on_both_backends!(round_trip);

    #[test]
    fn postgres_databases_are_dropped_after_a_passing_test() {
        let name = {
            let db = TestDatabase::postgres();
            db.url().rsplit('/').next().unwrap().to_owned()
        };
        let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
        )))
        .get_result(&mut admin_connection(postgres_server::admin_url()))
        .unwrap();
        assert!(!exists, "{name} should have been dropped");
    }
}
