//! The bookkeeping tables: `intake_schema_migrations` (which migration of which domain is
//! applied, when, how long it took, the checksum of the `up.sql` that ran and the text of its
//! `down.sql`) and `intake_schema_migration_audit` (every accepted edit of an applied
//! migration, with who and why).
//!
//! Databases written by the first release have a smaller `intake_schema_migrations` (no
//! checksum algorithm, no `down.sql`, keyed by domain and version). [`read`](MigrationConnection::applied)
//! understands both shapes; the first `run` upgrades the table in place, in one transaction.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::checksum::ChecksumAlgorithm;
use crate::locks::AdvisoryLock;
use crate::url::Backend;
use crate::{Error, Result};

diesel::table! {
    /// One row per applied migration.
    intake_schema_migrations (domain, version, name) {
        /// Domain that owns the migration.
        domain -> Text,
        /// Migration version.
        version -> Text,
        /// Migration name.
        name -> Text,
        /// Checksum of the `up.sql` that ran.
        checksum -> Text,
        /// Id of the algorithm that computed `checksum` ([`ChecksumAlgorithm::id`]).
        checksum_algorithm -> Text,
        /// When it was applied (UTC).
        applied_at -> Timestamp,
        /// How long `up.sql` took, in milliseconds.
        duration_ms -> BigInt,
        /// Whether it ran inside a transaction.
        run_in_transaction -> Bool,
        /// The `down.sql` of the applied version, so it can be reverted without its files.
        down_sql -> Nullable<Text>,
    }
}

diesel::table! {
    /// One row per reblessed migration.
    intake_schema_migration_audit (domain, version, name, at) {
        /// Domain of the migration.
        domain -> Text,
        /// Its version.
        version -> Text,
        /// Its name.
        name -> Text,
        /// What was done (`rebless`).
        action -> Text,
        /// The checksum recorded before.
        old_checksum -> Text,
        /// The checksum recorded now.
        new_checksum -> Text,
        /// Algorithm of `new_checksum`.
        checksum_algorithm -> Text,
        /// When (UTC).
        at -> Timestamp,
        /// The operating-system user who did it.
        os_user -> Text,
        /// Why, in their words.
        reason -> Text,
    }
}

/// The first release's table, read-only: used to read it before it is upgraded.
mod first_release {
    diesel::table! {
        intake_schema_migrations (domain, version) {
            domain -> Text,
            version -> Text,
            name -> Text,
            checksum -> Text,
            applied_at -> Timestamp,
            duration_ms -> BigInt,
        }
    }
}

fn create_migrations_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
    domain             TEXT      NOT NULL,
    version            TEXT      NOT NULL,
    name               TEXT      NOT NULL,
    checksum           TEXT      NOT NULL,
    checksum_algorithm TEXT      NOT NULL,
    applied_at         TIMESTAMP NOT NULL,
    duration_ms        BIGINT    NOT NULL,
    run_in_transaction BOOLEAN   NOT NULL,
    down_sql           TEXT,
    CONSTRAINT intake_schema_migrations_pk PRIMARY KEY (domain, version, name)
)"
    )
}

const CREATE_AUDIT_TABLE: &str = "CREATE TABLE IF NOT EXISTS intake_schema_migration_audit (
    domain             TEXT      NOT NULL,
    version            TEXT      NOT NULL,
    name               TEXT      NOT NULL,
    action             TEXT      NOT NULL,
    old_checksum       TEXT      NOT NULL,
    new_checksum       TEXT      NOT NULL,
    checksum_algorithm TEXT      NOT NULL,
    at                 TIMESTAMP NOT NULL,
    os_user            TEXT      NOT NULL,
    reason             TEXT      NOT NULL,
    PRIMARY KEY (domain, version, name, at)
)";

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
    /// Checksum of the `up.sql` that ran.
    pub checksum: String,
    /// Id of the algorithm that computed it.
    pub checksum_algorithm: String,
    /// When it was applied (UTC).
    pub applied_at: NaiveDateTime,
    /// How long `up.sql` took, in milliseconds.
    pub duration_ms: i64,
    /// Whether it ran inside a transaction.
    pub run_in_transaction: bool,
    /// The `down.sql` that reverses it; `None` only for rows of the first release not yet
    /// upgraded.
    pub down_sql: Option<String>,
}

impl AppliedRow {
    /// The algorithm that computed [`checksum`](Self::checksum), if this build knows it.
    pub fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::from_id(&self.checksum_algorithm)
    }

    /// Whether `up` is the script this row recorded: its checksum, by the row's own
    /// algorithm, is the recorded one.
    pub fn matches(&self, up: &str) -> bool {
        self.algorithm().is_some_and(|algorithm| algorithm.checksum(up) == self.checksum)
    }

    /// Whether this row records `version` and `name`.
    pub fn is(&self, version: &str, name: &str) -> bool {
        self.version == version && self.name == name
    }
}

/// A row of `intake_schema_migration_audit`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = intake_schema_migration_audit)]
pub struct AuditRow {
    /// Domain of the migration.
    pub domain: String,
    /// Its version.
    pub version: String,
    /// Its name.
    pub name: String,
    /// What was done (`rebless`).
    pub action: String,
    /// The checksum recorded before.
    pub old_checksum: String,
    /// The checksum recorded now.
    pub new_checksum: String,
    /// Algorithm of `new_checksum`.
    pub checksum_algorithm: String,
    /// When (UTC).
    pub at: NaiveDateTime,
    /// The operating-system user.
    pub os_user: String,
    /// Why.
    pub reason: String,
}

/// Which shape the bookkeeping table has in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No bookkeeping table: nothing was ever migrated.
    Absent,
    /// The first release's table.
    FirstRelease,
    /// The current table.
    Current,
}

/// What the runner needs from a connection, implemented for both backends.
pub trait MigrationConnection: Connection + SimpleConnection {
    /// The backend of this connection type.
    const BACKEND: Backend;

    /// Runs `f` in a transaction that holds the schema write lock from its first statement
    /// (see [`write_transaction`](Self::write_transaction)), so two schema changes never
    /// interleave.
    fn exclusive_transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.write_transaction(AdvisoryLock::Schema, f)
    }

    /// Runs `f` in a transaction that holds `lock` from its first statement until it ends:
    /// on PostgreSQL the transaction-scoped advisory lock of that name (writers under other
    /// locks go on), on SQLite `BEGIN IMMEDIATE`, the database's one write lock. Importers
    /// merge under [`AdvisoryLock::DomainWrite`].
    fn write_transaction<T, E>(
        &mut self,
        lock: AdvisoryLock<'_>,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error> + From<diesel::result::Error>;

    /// Whether a column exists in a table of the default schema.
    fn has_column(&mut self, table: &str, column: &str) -> Result<bool>;

    /// Whether a table exists in the default schema.
    fn has_table(&mut self, table: &str) -> Result<bool>;

    /// Whether the bookkeeping table exists (without creating it).
    fn bookkeeping_exists(&mut self) -> Result<bool> {
        self.has_table("intake_schema_migrations")
    }

    /// The shape of the bookkeeping table.
    fn bookkeeping_shape(&mut self) -> Result<Shape> {
        if !self.bookkeeping_exists()? {
            Ok(Shape::Absent)
        } else if self.has_column("intake_schema_migrations", "checksum_algorithm")? {
            Ok(Shape::Current)
        } else {
            Ok(Shape::FirstRelease)
        }
    }

    /// Creates the bookkeeping table if it is missing, and upgrades a first-release table
    /// in place (its rows keep their checksums, marked with the first algorithm).
    fn ensure_bookkeeping(&mut self) -> Result<()> {
        self.exclusive_transaction(|conn| {
            let query = |context: &str| {
                let context = context.to_owned();
                move |source| Error::Query { context, source }
            };
            if conn.bookkeeping_shape()? == Shape::FirstRelease {
                let upgrade = format!(
                    "{create};
                     INSERT INTO intake_schema_migrations_next
                         SELECT domain, version, name, checksum, '{old}', applied_at, duration_ms, TRUE, NULL
                         FROM intake_schema_migrations;
                     DROP TABLE intake_schema_migrations;
                     ALTER TABLE intake_schema_migrations_next RENAME TO intake_schema_migrations;",
                    create = create_migrations_table("intake_schema_migrations_next"),
                    old = ChecksumAlgorithm::Sha256Lines.id(),
                );
                conn.batch_execute(&upgrade).map_err(query("upgrade intake_schema_migrations"))?;
            }
            conn.batch_execute(&create_migrations_table("intake_schema_migrations"))
                .map_err(query("create intake_schema_migrations"))
        })
    }

    /// Creates the audit table if it is missing (on the first `rebless`, so a database that
    /// never needed one has none).
    fn ensure_audit(&mut self) -> Result<()> {
        self.batch_execute(CREATE_AUDIT_TABLE)
            .map_err(|source| Error::Query { context: "create intake_schema_migration_audit".into(), source })
    }

    /// Applied migrations of `domain`, by version then name; empty when nothing was migrated.
    fn applied(&mut self, domain: &str) -> Result<Vec<AppliedRow>>;

    /// Whether `domain/version_name` is applied.
    fn is_applied(&mut self, domain: &str, version: &str, name: &str) -> Result<bool>;

    /// Records an applied migration.
    fn record(&mut self, row: &AppliedRow) -> Result<()>;

    /// Forgets a reverted migration.
    fn forget(&mut self, domain: &str, version: &str, name: &str) -> Result<()>;

    /// Replaces a row's checksum (and algorithm), and its `down.sql` and transaction mode when
    /// given.
    fn update_recorded(
        &mut self,
        row: &AppliedRow,
        checksum: &str,
        algorithm: ChecksumAlgorithm,
        down: Option<(&str, bool)>,
    ) -> Result<()>;

    /// Adds an audit row.
    fn audit(&mut self, row: &AuditRow) -> Result<()>;

    /// The audit rows of `domain`, oldest first.
    fn audit_trail(&mut self, domain: &str) -> Result<Vec<AuditRow>>;
}

macro_rules! impl_shared_queries {
    () => {
        fn applied(&mut self, domain: &str) -> Result<Vec<AppliedRow>> {
            let context = || format!("read applied migrations of {domain}");
            match self.bookkeeping_shape()? {
                Shape::Absent => Ok(Vec::new()),
                Shape::Current => {
                    use intake_schema_migrations::dsl;
                    dsl::intake_schema_migrations
                        .filter(dsl::domain.eq(domain))
                        .order((dsl::version.asc(), dsl::name.asc()))
                        .select(AppliedRow::as_select())
                        .load(self)
                        .map_err(|source| Error::Query { context: context(), source })
                }
                Shape::FirstRelease => {
                    use first_release::intake_schema_migrations::dsl;
                    let rows: Vec<(String, String, String, String, NaiveDateTime, i64)> = dsl::intake_schema_migrations
                        .filter(dsl::domain.eq(domain))
                        .order(dsl::version.asc())
                        .select((
                            dsl::domain,
                            dsl::version,
                            dsl::name,
                            dsl::checksum,
                            dsl::applied_at,
                            dsl::duration_ms,
                        ))
                        .load(self)
                        .map_err(|source| Error::Query { context: context(), source })?;
                    Ok(rows
                        .into_iter()
                        .map(|(domain, version, name, checksum, applied_at, duration_ms)| AppliedRow {
                            domain,
                            version,
                            name,
                            checksum,
                            checksum_algorithm: ChecksumAlgorithm::Sha256Lines.id().to_owned(),
                            applied_at,
                            duration_ms,
                            run_in_transaction: true,
                            down_sql: None,
                        })
                        .collect())
                }
            }
        }

        fn is_applied(&mut self, domain: &str, version: &str, name: &str) -> Result<bool> {
            use intake_schema_migrations::dsl;
            diesel::select(diesel::dsl::exists(
                dsl::intake_schema_migrations
                    .filter(dsl::domain.eq(domain))
                    .filter(dsl::version.eq(version))
                    .filter(dsl::name.eq(name)),
            ))
            .get_result(self)
            .map_err(|source| Error::Query { context: format!("look up {domain}/{version}_{name}"), source })
        }

        fn record(&mut self, row: &AppliedRow) -> Result<()> {
            diesel::insert_into(intake_schema_migrations::table)
                .values(row)
                .execute(self)
                .map(drop)
                .map_err(|source| Error::Query { context: format!("record {}/{}", row.domain, row.version), source })
        }

        fn forget(&mut self, domain: &str, version: &str, name: &str) -> Result<()> {
            use intake_schema_migrations::dsl;
            diesel::delete(
                dsl::intake_schema_migrations
                    .filter(dsl::domain.eq(domain))
                    .filter(dsl::version.eq(version))
                    .filter(dsl::name.eq(name)),
            )
            .execute(self)
            .map(drop)
            .map_err(|source| Error::Query { context: format!("forget {domain}/{version}"), source })
        }

        fn update_recorded(
            &mut self,
            row: &AppliedRow,
            checksum: &str,
            algorithm: ChecksumAlgorithm,
            down: Option<(&str, bool)>,
        ) -> Result<()> {
            use intake_schema_migrations::dsl;
            let target = dsl::intake_schema_migrations
                .filter(dsl::domain.eq(&row.domain))
                .filter(dsl::version.eq(&row.version))
                .filter(dsl::name.eq(&row.name));
            let context = || format!("update the record of {}/{}_{}", row.domain, row.version, row.name);
            diesel::update(target)
                .set((dsl::checksum.eq(checksum), dsl::checksum_algorithm.eq(algorithm.id())))
                .execute(self)
                .map_err(|source| Error::Query { context: context(), source })?;
            if let Some((down_sql, in_transaction)) = down {
                diesel::update(target)
                    .set((dsl::down_sql.eq(down_sql), dsl::run_in_transaction.eq(in_transaction)))
                    .execute(self)
                    .map_err(|source| Error::Query { context: context(), source })?;
            }
            Ok(())
        }

        fn audit(&mut self, row: &AuditRow) -> Result<()> {
            diesel::insert_into(intake_schema_migration_audit::table)
                .values(row)
                .execute(self)
                .map(drop)
                .map_err(|source| Error::Query { context: format!("audit {}/{}", row.domain, row.version), source })
        }

        fn audit_trail(&mut self, domain: &str) -> Result<Vec<AuditRow>> {
            if !self.has_table("intake_schema_migration_audit")? {
                return Ok(Vec::new());
            }
            use intake_schema_migration_audit::dsl;
            dsl::intake_schema_migration_audit
                .filter(dsl::domain.eq(domain))
                .order(dsl::at.asc())
                .select(AuditRow::as_select())
                .load(self)
                .map_err(|source| Error::Query { context: format!("read the audit trail of {domain}"), source })
        }
    };
}

/// Runs `SELECT <sql>` for a boolean on either backend.
macro_rules! exists_query {
    ($conn:expr, $sql:expr, $context:expr $(,)?) => {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&$sql))
            .get_result::<bool>($conn)
            .map_err(|source| Error::Query { context: $context, source })
    };
}

/// `name` as an SQL string literal.
pub(crate) fn literal(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

impl MigrationConnection for PgConnection {
    const BACKEND: Backend = Backend::Postgres;

    fn write_transaction<T, E>(
        &mut self,
        lock: AdvisoryLock<'_>,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error> + From<diesel::result::Error>,
    {
        self.transaction(|conn| {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({})", lock.key()))
                .map_err(|source| Error::Query { context: format!("take {}", lock.describe()), source })?;
            f(conn)
        })
    }

    fn has_column(&mut self, table: &str, column: &str) -> Result<bool> {
        exists_query!(
            self,
            format!(
                "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({}) AND attname = {} AND attnum > 0 AND NOT attisdropped)",
                literal(table),
                literal(column)
            ),
            format!("look for column {table}.{column}"),
        )
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        exists_query!(self, format!("to_regclass({}) IS NOT NULL", literal(table)), format!("look for {table}"))
    }

    impl_shared_queries!();
}

impl MigrationConnection for SqliteConnection {
    const BACKEND: Backend = Backend::Sqlite;

    fn write_transaction<T, E>(
        &mut self,
        _: AdvisoryLock<'_>,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error> + From<diesel::result::Error>,
    {
        self.immediate_transaction(f)
    }

    fn has_column(&mut self, table: &str, column: &str) -> Result<bool> {
        exists_query!(
            self,
            format!("EXISTS (SELECT 1 FROM pragma_table_info({}) WHERE name = {})", literal(table), literal(column)),
            format!("look for column {table}.{column}"),
        )
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        exists_query!(
            self,
            format!("EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {})", literal(table)),
            format!("look for {table}"),
        )
    }

    impl_shared_queries!();
}
