//! Our embedding reads the migration folders exactly as `diesel_migrations::embed_migrations!`
//! does: same versions, names and transaction settings, per domain and backend. The folders
//! stay usable by the diesel CLI and `MigrationHarness`.

use diesel::backend::Backend as DieselBackend;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use migration_core::{Backend, Domain};

fn assert_agrees<DB: DieselBackend>(ours: &Domain, backend: Backend, diesel: &EmbeddedMigrations) {
    let theirs: Vec<(String, String, bool)> = MigrationSource::<DB>::migrations(diesel)
        .unwrap()
        .iter()
        .map(|m| (m.name().version().to_string(), m.name().to_string(), m.metadata().run_in_transaction()))
        .collect();
    let ours: Vec<(String, String, bool)> = ours
        .migrations()
        .iter()
        .map(|m| {
            (m.version.to_owned(), format!("{}_{}", m.version, m.name), m.run_in_transaction(ours, backend).unwrap())
        })
        .collect();
    assert!(!ours.is_empty());
    assert_eq!(ours, theirs, "{backend}");
}

#[test]
fn execution_dedup_matches_diesel() {
    const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/execution_dedup/postgres");
    const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/execution_dedup/sqlite");
    assert_agrees::<Pg>(&execution_dedup::MIGRATIONS, Backend::Postgres, &POSTGRES);
    assert_agrees::<Sqlite>(&execution_dedup::MIGRATIONS, Backend::Sqlite, &SQLITE);
}

#[test]
fn persistent_storage_matches_diesel() {
    const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/persistent_storage/postgres");
    const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/persistent_storage/sqlite");
    assert_agrees::<Pg>(&persistent_storage::MIGRATIONS, Backend::Postgres, &POSTGRES);
    assert_agrees::<Sqlite>(&persistent_storage::MIGRATIONS, Backend::Sqlite, &SQLITE);
}

#[test]
fn upload_matches_diesel() {
    const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/upload/postgres");
    const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/upload/sqlite");
    assert_agrees::<Pg>(&upload::MIGRATIONS, Backend::Postgres, &POSTGRES);
    assert_agrees::<Sqlite>(&upload::MIGRATIONS, Backend::Sqlite, &SQLITE);
}
