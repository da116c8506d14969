//! The `intake_schema_migrations` table: which migration of which domain is applied, when,
//! and the checksum of the `up.sql` that ran.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::url::Backend;
use crate::{Error, Result};

diesel::table! {
    /// One row per applied migration.
    intake_schema_migrations (domain, version) {
        /// Domain that owns the migration.
        domain -> Text,
        /// Migration version.
        version -> Text,
        /// Migration name at the time it was applied.
        name -> Text,
        /// SHA-256 of the `up.sql` that ran.
        checksum -> Text,
        /// When it was applied (UTC).
        applied_at -> Timestamp,
        /// How long `up.sql` took, in milliseconds.
        duration_ms -> BigInt,
    }
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS intake_schema_migrations (
    domain      TEXT      NOT NULL,
    version     TEXT      NOT NULL,
    name        TEXT      NOT NULL,
    checksum    TEXT      NOT NULL,
    applied_at  TIMESTAMP NOT NULL,
    duration_ms BIGINT    NOT NULL,
    PRIMARY KEY (domain, version)
)";

/// Key of the PostgreSQL advisory lock that serialises migrators ("intake" in ASCII).
const ADVISORY_LOCK_KEY: i64 = 0x696e_7461_6b65;

/// A row of `intake_schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = intake_schema_migrations)]
pub struct AppliedRow {
    /// Domain that owns the migration.
    pub domain: String,
    /// Migration version.
    pub version: String,
    /// Migration name.
    pub name: String,
    /// SHA-256 of the `up.sql` that ran.
    pub checksum: String,
    /// When it was applied (UTC).
    pub applied_at: NaiveDateTime,
    /// How long `up.sql` took, in milliseconds.
    pub duration_ms: i64,
}

/// What the runner needs from a connection, implemented for both backends.
pub trait MigrationConnection: Connection + SimpleConnection {
    /// The backend of this connection type.
    const BACKEND: Backend;

    /// Runs `f` in a transaction that holds the write lock from its first statement
    /// (PostgreSQL: a transaction-scoped advisory lock; SQLite: `BEGIN IMMEDIATE`), so two
    /// migrators never apply the same migration.
    fn exclusive_transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T>;

    /// Whether the bookkeeping table exists (without creating it).
    fn bookkeeping_exists(&mut self) -> Result<bool>;

    /// Creates the bookkeeping table if it is missing.
    fn ensure_bookkeeping(&mut self) -> Result<()> {
        self.exclusive_transaction(|conn| {
            conn.batch_execute(CREATE_TABLE)
                .map_err(|source| Error::Query { context: "create intake_schema_migrations".into(), source })
        })
    }

    /// Applied migrations of `domain`, by version.
    fn applied(&mut self, domain: &str) -> Result<Vec<AppliedRow>>;

    /// Records an applied migration.
    fn record(&mut self, row: &AppliedRow) -> Result<()>;

    /// Forgets a reverted migration.
    fn forget(&mut self, domain: &str, version: &str) -> Result<()>;
}

macro_rules! impl_shared_queries {
    () => {
        fn applied(&mut self, domain: &str) -> Result<Vec<AppliedRow>> {
            use intake_schema_migrations::dsl;
            dsl::intake_schema_migrations
                .filter(dsl::domain.eq(domain))
                .order(dsl::version.asc())
                .select(AppliedRow::as_select())
                .load(self)
                .map_err(|source| Error::Query { context: format!("read applied migrations of {domain}"), source })
        }

        fn record(&mut self, row: &AppliedRow) -> Result<()> {
            diesel::insert_into(intake_schema_migrations::table)
                .values(row)
                .execute(self)
                .map(drop)
                .map_err(|source| Error::Query { context: format!("record {}/{}", row.domain, row.version), source })
        }

        fn forget(&mut self, domain: &str, version: &str) -> Result<()> {
            use intake_schema_migrations::dsl;
            diesel::delete(
                dsl::intake_schema_migrations.filter(dsl::domain.eq(domain)).filter(dsl::version.eq(version)),
            )
            .execute(self)
            .map(drop)
            .map_err(|source| Error::Query { context: format!("forget {domain}/{version}"), source })
        }
    };
}

impl MigrationConnection for PgConnection {
    const BACKEND: Backend = Backend::Postgres;

    fn exclusive_transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.transaction(|conn| {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})"))
                .map_err(|source| Error::Query { context: "take the migration lock".into(), source })?;
            f(conn)
        })
    }

    fn bookkeeping_exists(&mut self) -> Result<bool> {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "to_regclass('intake_schema_migrations') IS NOT NULL",
        ))
        .get_result(self)
        .map_err(|source| Error::Query { context: "look for intake_schema_migrations".into(), source })
    }

    impl_shared_queries!();
}

impl MigrationConnection for SqliteConnection {
    const BACKEND: Backend = Backend::Sqlite;

    fn exclusive_transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.immediate_transaction(f)
    }

    fn bookkeeping_exists(&mut self) -> Result<bool> {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'intake_schema_migrations')",
        ))
        .get_result(self)
        .map_err(|source| Error::Query { context: "look for intake_schema_migrations".into(), source })
    }

    impl_shared_queries!();
}
