//! Scratch databases: empty databases on the same backend (and, for PostgreSQL, the same
//! server) where `verify`, `check` and `plan` replay migrations without touching the real one.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Database, DatabaseUrl, Error, Result};

/// An empty database, removed when dropped.
pub(crate) struct Scratch {
    database: Option<Database>,
    /// For PostgreSQL: the live database (to drop the scratch one from) and its name.
    postgres: Option<(Database, String)>,
}

impl Scratch {
    /// A new empty database beside `live`: an in-memory one for SQLite, `CREATE DATABASE
    /// intake_scratch_<pid>_<n>` on the same server for PostgreSQL (the user needs `CREATEDB`).
    pub(crate) fn beside(live: &Database) -> Result<Scratch> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        match live.url() {
            DatabaseUrl::SqliteFile(_) | DatabaseUrl::SqliteMemory => {
                Ok(Scratch { database: Some(Database::connect(":memory:")?), postgres: None })
            }
            url @ DatabaseUrl::Postgres(_) => {
                let name = format!("intake_scratch_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
                let mut connection = live.get()?;
                connection.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|source| Error::Scratch {
                    message: format!(
                        "cannot create the scratch database {name} on {url}: {}; the user needs the CREATEDB privilege",
                        source.to_string().trim_end()
                    ),
                })?;
                drop(connection);
                let scratch_url = url.with_database(&name).expect("a PostgreSQL URL");
                // Made before connecting, so a failed connection still drops the database.
                let mut scratch = Scratch { database: None, postgres: Some((live.clone(), name)) };
                scratch.database = Some(Database::connect_parsed(scratch_url)?);
                Ok(scratch)
            }
        }
    }

    /// The scratch database.
    pub(crate) fn database(&self) -> &Database {
        self.database.as_ref().expect("set until drop")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Close the scratch pool first, then drop the database from the live one.
        self.database = None;
        if let Some((live, name)) = self.postgres.take() {
            let dropped = live.get().and_then(|mut connection| {
                connection
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .map_err(Error::Transaction)
            });
            if let Err(error) = dropped {
                tracing::warn!("could not drop the scratch database {name}: {error}; drop it by hand");
            }
        }
    }
}
