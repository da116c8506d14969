//! A domain's embedded migration set.

use std::fmt;

use crate::url::Backend;
use crate::{Error, Result};

/// The migrations one domain owns, for both backends, in version order.
///
/// Built by `migration_embed::embed` in the domain crate's `build.rs`; tests may write one by
/// hand with [`Domain::new`].
pub struct Domain {
    name: &'static str,
    migrations: &'static [MigrationFiles],
}

/// One migration: its version, name and the scripts for each backend.
#[derive(Debug, Clone, Copy)]
pub struct MigrationFiles {
    /// The version, the folder name up to the first `_` (digits, e.g. `20251003000000`).
    pub version: &'static str,
    /// The name, the folder name after the first `_`.
    pub name: &'static str,
    /// Scripts for PostgreSQL.
    pub postgres: Scripts,
    /// Scripts for SQLite.
    pub sqlite: Scripts,
}

/// The files of one migration folder.
#[derive(Debug, Clone, Copy)]
pub struct Scripts {
    /// `up.sql`.
    pub up: &'static str,
    /// `down.sql`, which must undo `up.sql` exactly.
    pub down: &'static str,
    /// `metadata.toml`, empty when the folder has none.
    pub metadata: &'static str,
}

/// Which direction a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `up.sql`.
    Up,
    /// `down.sql`.
    Down,
}

impl Direction {
    fn file_name(self) -> &'static str {
        match self {
            Direction::Up => "up.sql",
            Direction::Down => "down.sql",
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    #[serde(default = "yes")]
    run_in_transaction: bool,
}

fn yes() -> bool {
    true
}

impl Domain {
    /// A domain named `name` (lowercase, `_`-separated) with `migrations` sorted by version.
    pub const fn new(name: &'static str, migrations: &'static [MigrationFiles]) -> Self {
        Domain { name, migrations }
    }

    /// The domain's name, as used by `--domain` and in `migrations/<name>/`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The migrations, sorted by version.
    pub fn migrations(&self) -> &'static [MigrationFiles] {
        self.migrations
    }

    /// Looks a migration up by version and name (the name tells apart two migrations that
    /// share a version, and a renamed folder from the migration that was applied).
    pub fn find(&self, version: &str, name: &str) -> Option<&'static MigrationFiles> {
        self.migrations.iter().find(|m| m.version == version && m.name == name)
    }

    /// Checks what the build could not: every `metadata.toml` parses. Domain crates call this
    /// from a unit test, and the runner before it touches the database.
    pub fn validate(&self) -> Result<()> {
        for migration in self.migrations {
            for backend in [Backend::Postgres, Backend::Sqlite] {
                migration.run_in_transaction(self, backend)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Domain").field("name", &self.name).field("migrations", &self.migrations.len()).finish()
    }
}

impl MigrationFiles {
    /// The scripts for `backend`.
    pub fn scripts(&self, backend: Backend) -> &Scripts {
        match backend {
            Backend::Postgres => &self.postgres,
            Backend::Sqlite => &self.sqlite,
        }
    }

    /// The script text for `backend` and `direction`.
    pub fn script(&self, backend: Backend, direction: Direction) -> &'static str {
        let scripts = self.scripts(backend);
        match direction {
            Direction::Up => scripts.up,
            Direction::Down => scripts.down,
        }
    }

    /// Path of a script relative to the workspace root, as shown in messages.
    pub fn path(&self, domain: &Domain, backend: Backend, direction: Direction) -> String {
        format!(
            "migrations/{}/{}/{}_{}/{}",
            domain.name,
            backend.folder(),
            self.version,
            self.name,
            direction.file_name()
        )
    }

    /// Whether the migration runs inside a transaction (`metadata.toml`:
    /// `run_in_transaction = false` turns that off, e.g. for `CREATE INDEX CONCURRENTLY`).
    pub fn run_in_transaction(&self, domain: &Domain, backend: Backend) -> Result<bool> {
        let text = self.scripts(backend).metadata;
        if text.trim().is_empty() {
            return Ok(true);
        }
        toml::from_str::<Metadata>(text).map(|m| m.run_in_transaction).map_err(|error| Error::InvalidMetadata {
            path: format!(
                "migrations/{}/{}/{}_{}/metadata.toml",
                domain.name,
                backend.folder(),
                self.version,
                self.name
            ),
            message: error.to_string(),
        })
    }
}
