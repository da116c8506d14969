//! The domain's SQL, written once for both backends.
//!
//! Statements are written for PostgreSQL; [`Dialect::sql`] maps three things to SQLite:
//! tables are `alm_reporting.<name>` (SQLite: `alm_reporting_<name>`, see the migrations),
//! parameters `$1`, `$2`, ... (SQLite: `?1`, `?2`, ...), and `CAST(<expr> AS JSONB)` (SQLite:
//! `CAST(<expr> AS TEXT)`: JSON is text there, checked by the column's `json_valid`).
//! `CURRENT_TIMESTAMP` is UTC on both: SQLite's is, PostgreSQL's is converted (in a
//! `TIMESTAMP` column it would be the server's local time).

use migration_core::Backend;

/// A backend's spelling of the domain's SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect(pub Backend);

impl Dialect {
    /// `statement` for this backend.
    pub(crate) fn sql(self, statement: &str) -> String {
        match self.0 {
            Backend::Postgres => statement.replace("CURRENT_TIMESTAMP", "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"),
            Backend::Sqlite => migration_core::sql::parameters_for(self.0, statement)
                .replace("alm_reporting.", "alm_reporting_")
                .replace(" AS JSONB)", " AS TEXT)"),
        }
    }

    /// The table `name` (`import_history`) as this backend names it.
    pub(crate) fn table(self, name: &str) -> String {
        self.sql(&format!("alm_reporting.{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parameters_and_json_in_each_dialect() {
        let statement =
            "UPDATE alm_reporting.import_history SET files_processed = CAST($1 AS JSONB) WHERE import_date = $2";
        assert_eq!(Dialect(Backend::Postgres).sql(statement), statement);
        assert_eq!(
            Dialect(Backend::Postgres).sql("SET t = CURRENT_TIMESTAMP"),
            "SET t = (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"
        );
        assert_eq!(Dialect(Backend::Sqlite).sql("SET t = CURRENT_TIMESTAMP"), "SET t = CURRENT_TIMESTAMP");
        assert_eq!(
            Dialect(Backend::Sqlite).sql(statement),
            "UPDATE alm_reporting_import_history SET files_processed = CAST(?1 AS TEXT) WHERE import_date = ?2"
        );
        assert_eq!(Dialect(Backend::Sqlite).table("daily_summary"), "alm_reporting_daily_summary");
    }
}
