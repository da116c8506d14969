//! Connection pools for either backend, chosen by the URL.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};

use crate::url::{Backend, DatabaseUrl};
use crate::{Error, Result};

/// How long to wait for a connection before giving up with the driver's own message.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// libpq's own connect timeout, in seconds, added to PostgreSQL URLs that set none, so an
/// unroutable host fails inside [`CONNECT_TIMEOUT`] instead of after the TCP default.
const LIBPQ_CONNECT_TIMEOUT_SECONDS: u32 = 4;
/// How long an SQLite writer waits for another writer before reporting "database is locked".
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// A pooled PostgreSQL connection.
pub type PgPooled = PooledConnection<Seeded<PgConnection>>;
/// A pooled SQLite connection.
pub type SqlitePooled = PooledConnection<Seeded<SqliteConnection>>;

/// diesel's connection manager, handing out first the connection [`Database::connect`] opened
/// to check the URL, so a short-lived process (a CLI run) opens one connection, not two.
pub struct Seeded<C: diesel::r2d2::R2D2Connection + 'static> {
    manager: ConnectionManager<C>,
    seed: std::sync::Mutex<Option<C>>,
}

impl<C: diesel::r2d2::R2D2Connection + 'static> Seeded<C> {
    fn new(target: String, seed: Option<C>) -> Self {
        Seeded { manager: ConnectionManager::new(target), seed: std::sync::Mutex::new(seed) }
    }
}

impl<C: diesel::r2d2::R2D2Connection + Send + 'static> diesel::r2d2::ManageConnection for Seeded<C> {
    type Connection = C;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> std::result::Result<C, Self::Error> {
        let seed = self.seed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        match seed {
            Some(connection) => Ok(connection),
            None => self.manager.connect(),
        }
    }

    fn is_valid(&self, conn: &mut C) -> std::result::Result<(), Self::Error> {
        self.manager.is_valid(conn)
    }

    /// Broken when diesel says so: after a statement found the connection lost, libpq's
    /// transaction status is unknown and diesel's transaction manager is in error, so the pool
    /// drops it instead of handing it out again. (The pool does not test each connection at
    /// check-out, which would cost a round trip per request.)
    fn has_broken(&self, conn: &mut C) -> bool {
        self.manager.has_broken(conn)
    }
}

/// Whether an error means the connection was lost before or while the statement ran, so a read
/// may be retried on another connection (and a service answers 503): closed by the network,
/// or by the server shutting down, crashing or restarting (SQLSTATE class 57P, which diesel
/// reports by message only).
pub fn is_lost_connection(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const SERVER_GONE: [&str; 4] = [
        "terminating connection",
        "the database system is",
        "server closed the connection",
        "no connection to the server",
    ];
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => true,
        Error::DatabaseError(_, info) => SERVER_GONE.iter().any(|text| info.message().contains(text)),
        _ => false,
    }
}

/// Whether SQLite could not write its files: the disk is full (`SQLITE_FULL`), or a write
/// failed (`SQLITE_IOERR`, as when a file passes its size limit).
pub fn is_disk_failure(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("disk is full") || info.message().contains("disk I/O error"))
}

/// A pool of connections to one database, on whichever backend its URL names.
#[derive(Clone)]
pub struct Database {
    url: DatabaseUrl,
    pool: Pools,
}

#[derive(Clone)]
enum Pools {
    Postgres(Pool<Seeded<PgConnection>>),
    Sqlite(Pool<Seeded<SqliteConnection>>),
}

/// One connection taken from a [`Database`]; it returns to the pool when dropped.
///
/// Code that works on both backends matches on it (see [`dispatch!`](crate::dispatch)).
pub enum DbConnection {
    /// A PostgreSQL connection.
    Postgres(PgPooled),
    /// An SQLite connection (`foreign_keys=ON`, WAL, busy timeout).
    Sqlite(SqlitePooled),
}

/// Runs the same code on either variant of a [`DbConnection`]; the body is type-checked once
/// per backend with `$conn` bound to `&mut PgConnection` or `&mut SqliteConnection`.
///
/// ```no_run
/// use diesel::connection::SimpleConnection;
/// # fn f(db: &migration_core::Database) -> migration_core::Result<()> {
/// let mut connection = db.get()?;
/// migration_core::dispatch!(connection, conn => conn.batch_execute("SELECT 1"))?;
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! dispatch {
    ($connection:expr, $conn:ident => $body:expr) => {
        match &mut $connection {
            $crate::DbConnection::Postgres(pooled) => {
                let $conn: &mut ::diesel::PgConnection = &mut *pooled;
                $body
            }
            $crate::DbConnection::Sqlite(pooled) => {
                let $conn: &mut ::diesel::SqliteConnection = &mut *pooled;
                $body
            }
        }
    };
}

impl Database {
    /// Connects to `url` (see [`DatabaseUrl::parse`]).
    ///
    /// One connection is opened right away, so a wrong URL, a refused connection or a missing
    /// file fails here, within [`CONNECT_TIMEOUT`], with the driver's own message.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_parsed(DatabaseUrl::parse(url)?)
    }

    /// Connects to an already parsed URL.
    pub fn connect_parsed(url: DatabaseUrl) -> Result<Self> {
        Self::connect_with(url, None)
    }

    /// Connects as [`Database::connect`] does, with every statement limited to `limit`: on
    /// PostgreSQL `statement_timeout` cancels a statement that runs (or waits for a lock)
    /// longer, on SQLite a writer waits at most that long for another (`busy_timeout`), so work
    /// whose caller has given up (a service's timed-out request) ends instead of finishing
    /// later. Migrations want no such limit: connect for them with [`Database::connect`].
    pub fn connect_limited(url: &str, limit: Duration) -> Result<Self> {
        Self::connect_with(DatabaseUrl::parse(url)?, Some(limit))
    }

    fn connect_with(url: DatabaseUrl, limit: Option<Duration>) -> Result<Self> {
        let busy_ms = limit.map_or(SQLITE_BUSY_TIMEOUT_MS, |l| u32::try_from(l.as_millis()).unwrap_or(u32::MAX));
        let pragmas = SqlitePragmas { busy_ms };
        let pool = match &url {
            DatabaseUrl::Postgres(raw) => {
                let mut conninfo = with_connect_timeout(raw);
                if let Some(limit) = limit.filter(|_| !raw.contains("options=")) {
                    conninfo.push_str(&format!("&options=-c%20statement_timeout%3D{}", limit.as_millis()));
                }
                // Establish once directly: r2d2 would retry until its timeout and could only
                // report "timed out"; libpq's first answer is the useful one.
                let probe =
                    PgConnection::establish(&conninfo).map_err(|source| Error::Connect { url: url.clone(), source })?;
                Pools::Postgres(builder(10).build_unchecked(Seeded::new(conninfo, Some(probe))))
            }
            DatabaseUrl::SqliteFile(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|source| Error::CreateDirectory { path: parent.to_path_buf(), source })?;
                }
                let target = path.to_string_lossy().into_owned();
                let mut probe = SqliteConnection::establish(&target)
                    .map_err(|source| Error::Connect { url: url.clone(), source })?;
                configure_sqlite(&mut probe, busy_ms)
                    .map_err(|source| Error::Query { context: format!("configure SQLite database {url}"), source })?;
                let manager = Seeded::new(target, Some(probe));
                Pools::Sqlite(builder(8).connection_customizer(Box::new(pragmas)).build_unchecked(manager))
            }
            DatabaseUrl::SqliteMemory => {
                // Every connection to :memory: is its own database: the pool holds exactly one,
                // kept open for the pool's lifetime.
                let manager = Seeded::new(":memory:".to_owned(), None);
                let pool = builder(1)
                    .min_idle(Some(1))
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connection_customizer(Box::new(pragmas))
                    .build(manager)
                    .map_err(|error| Error::Pool { url: url.clone(), message: error.to_string() })?;
                Pools::Sqlite(pool)
            }
        };
        Ok(Database { url, pool })
    }

    /// The URL this database was opened with.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// The most connections the pool opens: work beyond that many at once only waits.
    pub fn pool_size(&self) -> u32 {
        match &self.pool {
            Pools::Postgres(pool) => pool.max_size(),
            Pools::Sqlite(pool) => pool.max_size(),
        }
    }

    /// A new PostgreSQL connection of its own, outside the pool (its session-level state, such
    /// as an advisory lock, ends when it is dropped). Fails on an SQLite database.
    pub fn establish_postgres(&self) -> Result<PgConnection> {
        match &self.url {
            DatabaseUrl::Postgres(raw) => PgConnection::establish(&with_connect_timeout(raw))
                .map_err(|source| Error::Connect { url: self.url.clone(), source }),
            _ => Err(Error::InvalidUrl {
                url: self.url.to_string(),
                reason: "a PostgreSQL connection was asked for on an SQLite database".into(),
            }),
        }
    }

    /// Takes a connection from the pool, waiting at most [`CONNECT_TIMEOUT`].
    pub fn get(&self) -> Result<DbConnection> {
        let pool_error =
            |error: diesel::r2d2::PoolError| Error::Pool { url: self.url.clone(), message: error.to_string() };
        Ok(match &self.pool {
            Pools::Postgres(pool) => DbConnection::Postgres(pool.get().map_err(pool_error)?),
            Pools::Sqlite(pool) => DbConnection::Sqlite(pool.get().map_err(pool_error)?),
        })
    }
}

impl DbConnection {
    /// The backend of this connection.
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Postgres(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Runs one or more SQL statements that return no rows.
    pub fn batch_execute(&mut self, sql: &str) -> QueryResult<()> {
        crate::dispatch!(*self, conn => conn.batch_execute(sql))
    }
}

fn builder<C: diesel::r2d2::R2D2Connection + Send + 'static>(max_size: u32) -> diesel::r2d2::Builder<Seeded<C>> {
    // No `SELECT 1` at each check-out (a round trip per request for the services): a lost
    // connection is retired when a statement finds it gone (`Seeded::has_broken`); readers
    // that can retry do so on `is_lost_connection`.
    Pool::builder().max_size(max_size).min_idle(Some(0)).connection_timeout(CONNECT_TIMEOUT).test_on_check_out(false)
}

/// Adds `connect_timeout` to a libpq URL unless the caller chose one.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={LIBPQ_CONNECT_TIMEOUT_SECONDS}")
}

/// Settings every SQLite connection gets: enforced foreign keys, WAL so readers do not block
/// the writer, and a busy timeout so concurrent writers wait instead of failing at once.
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas {
    busy_ms: u32,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> std::result::Result<(), diesel::r2d2::Error> {
        configure_sqlite(conn, self.busy_ms).map_err(diesel::r2d2::Error::QueryError)
    }
}

fn configure_sqlite(conn: &mut SqliteConnection, busy_ms: u32) -> QueryResult<()> {
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {busy_ms}; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    ))
}

/// SQLite settings changed on a pooled connection for one job and put back when dropped,
/// even when the job fails or panics, so the pool never hands out a connection someone else
/// tuned. It derefs to the connection.
///
/// ```
/// # fn f(conn: &mut diesel::SqliteConnection) -> diesel::QueryResult<()> {
/// use diesel::connection::SimpleConnection as _;
/// let mut tuned = migration_core::PragmaGuard::set(conn, &[("cache_size", "-32768"), ("busy_timeout", "300000")])?;
/// tuned.batch_execute("SELECT 1")?; // with the larger cache; the old one is back after the scope
/// # Ok(()) }
/// ```
pub struct PragmaGuard<'c> {
    conn: &'c mut SqliteConnection,
    /// `(pragma, value before)`, in the order they were set.
    previous: Vec<(&'static str, String)>,
}

impl<'c> PragmaGuard<'c> {
    /// Sets each `(pragma, value)` (a pragma may name a schema: `temp.cache_size`) after noting
    /// its current value. Pragma names are the caller's constants, never input.
    pub fn set(conn: &'c mut SqliteConnection, settings: &[(&'static str, &str)]) -> QueryResult<Self> {
        #[derive(diesel::QueryableByName)]
        struct Value {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let mut guard = PragmaGuard { conn, previous: Vec::with_capacity(settings.len()) };
        for (pragma, value) in settings {
            let before = diesel::sql_query(format!(
                "SELECT CAST((SELECT * FROM pragma_{}) AS TEXT) AS value",
                table_valued(pragma)
            ))
            .get_result::<Value>(guard.conn)?;
            guard.conn.batch_execute(&format!("PRAGMA {pragma} = {value}"))?;
            guard.previous.push((pragma, before.value));
        }
        Ok(guard)
    }
}

/// `temp.cache_size` → `cache_size WHERE schema = 'temp'` for the table-valued form.
fn table_valued(pragma: &str) -> String {
    match pragma.split_once('.') {
        Some((schema, name)) => format!("{name} WHERE schema = '{schema}'"),
        None => pragma.to_owned(),
    }
}

impl std::ops::Deref for PragmaGuard<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn
    }
}

impl std::ops::DerefMut for PragmaGuard<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
    }
}

impl Drop for PragmaGuard<'_> {
    fn drop(&mut self) {
        for (pragma, value) in self.previous.iter().rev() {
            if let Err(error) = self.conn.batch_execute(&format!("PRAGMA {pragma} = {value}")) {
                tracing::warn!("could not put PRAGMA {pragma} back to {value}: {error}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pragma_guard_puts_the_settings_back_even_after_a_panic() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        configure_sqlite(&mut conn, SQLITE_BUSY_TIMEOUT_MS).unwrap();
        let read = |conn: &mut SqliteConnection| -> (i64, i64, i64) {
            #[derive(diesel::QueryableByName)]
            struct Settings {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                timeout: i64,
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                cache: i64,
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                temp_cache: i64,
            }
            let s: Settings = diesel::sql_query(
                "SELECT (SELECT timeout FROM pragma_busy_timeout) AS timeout, (SELECT cache_size FROM pragma_cache_size) AS cache, \
                 (SELECT cache_size FROM pragma_cache_size WHERE schema = 'temp') AS temp_cache",
            )
            .get_result(conn)
            .unwrap();
            (s.timeout, s.cache, s.temp_cache)
        };
        let before = read(&mut conn);
        {
            let mut tuned = PragmaGuard::set(
                &mut conn,
                &[("busy_timeout", "123"), ("cache_size", "-4096"), ("temp.cache_size", "-2048")],
            )
            .unwrap();
            assert_eq!(read(&mut tuned), (123, -4096, -2048));
        }
        assert_eq!(read(&mut conn), before);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _tuned = PragmaGuard::set(&mut conn, &[("cache_size", "-8192")]).unwrap();
            panic!("the job failed");
        }));
        assert!(unwound.is_err());
        assert_eq!(read(&mut conn), before, "put back while unwinding");
    }

    #[test]
    fn adds_a_connect_timeout_only_when_missing() {
        assert_eq!(with_connect_timeout("postgres://h/db"), "postgres://h/db?connect_timeout=4");
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=disable"),
            "postgres://h/db?sslmode=disable&connect_timeout=4"
        );
        assert_eq!(with_connect_timeout("postgres://h/db?connect_timeout=1"), "postgres://h/db?connect_timeout=1");
    }
}
