//! The migrator lock: one migrator at a time per database, for the whole of a `run`,
//! `rollback`, `redo` or `rebless`, including migrations that run outside a transaction.
//!
//! - PostgreSQL: a session-level advisory lock on a connection of its own (not from the pool).
//!   The server releases it when that connection closes, so a crashed or killed holder never
//!   leaves it behind. Waiters read `pg_locks` and `pg_stat_activity` to say who holds it.
//! - SQLite: an OS file lock (`flock`) on `<database file>.migrate-lock`, released by the
//!   kernel when the holder exits however it exits. The holder writes who it is into the file.
//! - `:memory:`: private to one connection; nothing to lock.
//!
//! Each migration's own transaction also takes the schema write lock
//! ([`MigrationConnection::exclusive_transaction`](crate::MigrationConnection::exclusive_transaction));
//! every key is listed in [`locks`](crate::locks).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::locks::AdvisoryLock;
use crate::{Database, DatabaseUrl, Error, Result};

/// How long a migrator waits for another one by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The migrator lock of one database, held until dropped. [`Migrator`](crate::Migrator) takes
/// it for every change; a tool that must keep migrators out for a while can take it too.
#[must_use = "the lock is released when this is dropped"]
pub struct MigrationLock {
    #[allow(dead_code, reason = "held for its Drop: closing it releases the lock")]
    held: Held,
}

enum Held {
    /// The connection holding the advisory lock; closing it releases the lock.
    Postgres(#[allow(dead_code, reason = "held for its Drop: closing it releases the lock")] PgConnection),
    /// The locked file.
    Sqlite(#[allow(dead_code, reason = "held for its Drop: closing it releases the lock")] File),
    /// `:memory:`: nothing to lock.
    Private,
}

impl MigrationLock {
    /// Waits up to `timeout` for the lock on `db`; fails with [`Error::LockTimeout`], naming
    /// the holder, when it stays taken.
    pub fn acquire(db: &Database, timeout: Duration) -> Result<Self> {
        let me = Holder::current();
        let held = match db.url() {
            DatabaseUrl::Postgres(_) => acquire_postgres(db, &me, timeout)?,
            DatabaseUrl::SqliteFile(path) => acquire_file(lock_path(path), &me, timeout)?,
            DatabaseUrl::SqliteMemory => Held::Private,
        };
        Ok(MigrationLock { held })
    }
}

impl std::fmt::Debug for MigrationLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MigrationLock")
    }
}

/// Who runs this process: pid, operating-system user and host.
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    pid: u32,
    user: String,
    host: String,
}

impl Holder {
    pub(crate) fn current() -> Self {
        Holder { pid: std::process::id(), user: os_user(), host: host_name() }
    }

    fn describe(&self) -> String {
        format!("intake migrate: pid {}, user {} on {}", self.pid, self.user, self.host)
    }
}

/// The operating-system user running this process: `USER`, `LOGNAME` or `USERNAME`, else the
/// name `/etc/passwd` gives the process's uid (services and CI often set none of those).
pub(crate) fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .or_else(user_of_uid)
        .unwrap_or_else(|| "unknown".to_owned())
}

fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|line| line.strip_prefix("Uid:"))?.split_whitespace().next()?.to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "an unknown host".to_owned())
}

fn lock_path(database: &std::path::Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".migrate-lock");
    PathBuf::from(name)
}

fn acquire_postgres(db: &Database, me: &Holder, timeout: Duration) -> Result<Held> {
    let mut conn = db.establish_postgres()?;
    wait_postgres(&mut conn, me, timeout)?;
    Ok(Held::Postgres(conn))
}

fn query_error(context: &str) -> impl FnOnce(diesel::result::Error) -> Error {
    let context = context.to_owned();
    move |source| Error::Query { context, source }
}

/// Takes the session-level lock on `conn`, waiting up to `timeout`.
fn wait_postgres(conn: &mut PgConnection, me: &Holder, timeout: Duration) -> Result<()> {
    conn.batch_execute(&format!("SET application_name = {}", crate::bookkeeping::literal(&me.describe())))
        .map_err(query_error("name the migrator's connection"))?;
    let started = Instant::now();
    let mut announced = false;
    loop {
        let locked: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "pg_try_advisory_lock({})",
            AdvisoryLock::Migrator.key()
        )))
        .get_result(conn)
        .map_err(query_error("take the migrator lock"))?;
        if locked {
            return Ok(());
        }
        let holder = postgres_holder(conn).unwrap_or_else(|| "another migrator".to_owned());
        if started.elapsed() >= timeout {
            let _ = conn.batch_execute("RESET application_name");
            return Err(Error::LockTimeout { waited: timeout, holder });
        }
        if !announced {
            tracing::info!("waiting up to {} s for the migration lock, held by {holder}", timeout.as_secs());
            announced = true;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Runs `f` on `connection` holding the migrator lock, then releases it, even when `f`
/// panics. On PostgreSQL the lock is taken on `connection` itself (no second connection).
pub(crate) fn with_migrator_lock<T>(
    db: &Database,
    connection: &mut crate::DbConnection,
    timeout: Duration,
    f: impl FnOnce(&mut crate::DbConnection) -> Result<T>,
) -> Result<T> {
    let me = Holder::current();
    match (db.url(), &mut *connection) {
        (DatabaseUrl::Postgres(_), crate::DbConnection::Postgres(pg)) => {
            wait_postgres(pg, &me, timeout)?;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(connection)));
            if let crate::DbConnection::Postgres(pg) = connection {
                // A failed unlock leaves a connection that may still hold the lock: never
                // return it to the pool.
                let released = pg.batch_execute(&format!(
                    "SELECT pg_advisory_unlock({}); RESET application_name",
                    AdvisoryLock::Migrator.key()
                ));
                if released.is_err() {
                    tracing::warn!("could not release the migrator lock; closing the connection instead");
                    let _ = pg.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())");
                }
            }
            outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }
        _ => {
            let _lock = MigrationLock::acquire(db, timeout)?;
            f(connection)
        }
    }
}

/// Who holds the migrator lock, from the server's own view.
fn postgres_holder(conn: &mut PgConnection) -> Option<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        holder: String,
    }
    let key = AdvisoryLock::Migrator.key();
    let (high, low) = (key >> 32, key & 0xffff_ffff);
    diesel::sql_query(format!(
        "SELECT coalesce(nullif(a.application_name, ''), 'a client without a name')
                || ' (server pid ' || a.pid || ', ' || coalesce(a.usename, '?') || '@' || coalesce(host(a.client_addr), 'local socket')
                || ', connected ' || to_char(a.backend_start AT TIME ZONE 'utc', 'YYYY-MM-DD HH24:MI:SS') || ' UTC)' AS holder
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {high} AND l.objid = {low} AND l.objsubid = 1
         LIMIT 1"
    ))
    .get_result::<Row>(conn)
    .ok()
    .map(|row| row.holder)
}

fn acquire_file(path: PathBuf, me: &Holder, timeout: Duration) -> Result<Held> {
    let io_error = |source: std::io::Error| Error::LockFile { path: path.clone(), source };
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_error)?;
    let started = Instant::now();
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => {
                let since = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
                file.set_len(0).map_err(io_error)?;
                file.rewind().map_err(io_error)?;
                file.write_all(format!("{} (since {since})\n", me.describe()).as_bytes()).map_err(io_error)?;
                return Ok(Held::Sqlite(file));
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
                let holder = match holder.trim() {
                    "" => "another migrator".to_owned(),
                    text => text.to_owned(),
                };
                if started.elapsed() >= timeout {
                    return Err(Error::LockTimeout { waited: timeout, holder });
                }
                if !announced {
                    tracing::info!("waiting up to {} s for the migration lock, held by {holder}", timeout.as_secs());
                    announced = true;
                }
                std::thread::sleep(POLL_INTERVAL);
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that panics while holding the lock on a pooled connection releases it: another
    /// migrator gets it at once (a lock left on the pooled session would make it time out).
    fn the_lock_is_released_when_the_job_panics(url: &str) {
        let db = Database::connect(url).unwrap();
        let mut connection = db.get().unwrap();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_migrator_lock(&db, &mut connection, Duration::from_secs(1), |_| -> Result<()> {
                panic!("the job failed")
            })
        }));
        assert!(unwound.is_err());
        drop(connection);
        let started = Instant::now();
        let _lock = MigrationLock::acquire(&db, Duration::from_secs(2)).expect("the lock is free");
        assert!(started.elapsed() < Duration::from_secs(1), "waited {:?}", started.elapsed());
    }

    #[test]
    fn postgres_releases_the_lock_after_a_panic() {
        let db = test_support::TestDatabase::postgres();
        the_lock_is_released_when_the_job_panics(db.url());
    }

    #[test]
    fn sqlite_releases_the_lock_after_a_panic() {
        let db = test_support::TestDatabase::sqlite();
        the_lock_is_released_when_the_job_panics(db.url());
    }
}
