//! The merges' statements are written once, for both backends: [`Conn`] runs a
//! [`Prepared`] statement (numbered `$n` parameters) on whichever connection the import layer
//! hands a merge, and names that backend's schema of temporary tables.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;
use diesel::sqlite::Sqlite;
use import_core::{Error, query_error};
use migration_core::sql::Prepared;

/// A merge's connection, inside the import's write transaction.
pub(crate) enum Conn<'c> {
    Postgres(&'c mut PgConnection),
    Sqlite(&'c mut SqliteConnection),
}

impl Conn<'_> {
    /// The schema the stage table lives in (`pg_temp`, `temp`).
    pub(crate) fn temp(&self) -> &'static str {
        match self {
            Conn::Postgres(_) => "pg_temp",
            Conn::Sqlite(_) => "temp",
        }
    }

    /// Runs `statement`; `doing` names it in an error.
    pub(crate) fn execute(&mut self, statement: Prepared, doing: &str) -> Result<u64, Error> {
        let rows = match self {
            Conn::Postgres(conn) => statement.execute(*conn),
            Conn::Sqlite(conn) => statement.execute(*conn),
        }
        .map_err(query_error(doing))?;
        Ok(rows as u64)
    }

    /// Runs `statement` and reads its rows.
    pub(crate) fn load<T>(&mut self, statement: Prepared, doing: &str) -> Result<Vec<T>, Error>
    where
        T: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
        Prepared: QueryFragment<Pg> + QueryFragment<Sqlite>,
    {
        match self {
            Conn::Postgres(conn) => statement.load(*conn),
            Conn::Sqlite(conn) => statement.load(*conn),
        }
        .map_err(query_error(doing))
    }

    /// Runs `work` inside a savepoint: what it wrote is undone when it fails.
    pub(crate) fn savepoint<T, E: From<diesel::result::Error>>(
        &mut self,
        work: impl FnOnce(&mut Conn<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Conn::Postgres(conn) => conn.transaction(|conn| work(&mut Conn::Postgres(conn))),
            Conn::Sqlite(conn) => conn.transaction(|conn| work(&mut Conn::Sqlite(conn))),
        }
    }
}

/// One count read by a statement (`SELECT count(*) AS n ...`).
#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub(crate) n: i64,
}

impl Conn<'_> {
    /// The count a `SELECT ... AS n` statement reads.
    pub(crate) fn count(&mut self, statement: Prepared, doing: &str) -> Result<u64, Error> {
        let rows: Vec<Count> = self.load(statement, doing)?;
        Ok(rows.first().map_or(0, |row| u64::try_from(row.n).unwrap_or(0)))
    }
}
