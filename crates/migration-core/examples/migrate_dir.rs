//! Applies the migrations of one folder, read at run time, to a database: the measuring end of
//! `cargo xtask bench migrate`, and an example of the library on its own.
//!
//! ```text
//! migrate_dir run DATABASE_URL DIR          # Migrator::run over DIR/<backend>/<version>_<name>/
//! migrate_dir run-single DATABASE_URL DIR   # the same, all migrations in one transaction
//! migrate_dir raw DATABASE_URL DIR          # the same statements, one transaction per migration, no bookkeeping
//! ```
//!
//! Prints one JSON line: `{"mode": ..., "migrations": N, "ms": ..., "sql_ms": ...}`: the time
//! after the connection is open (the caller times the whole process), and of it the time the
//! migrations' own statements took, as the core measured them (`run` modes; for `raw`, all).

use std::time::Instant;

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use migration_core::{Backend, Database, Domain, MigrationFiles, Migrator, Policy, Scripts, dispatch};

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The folder as a domain named after it; the scripts are leaked: they live as long as the
/// process, as embedded ones would.
fn load(dir: &std::path::Path, backend: Backend) -> Result<&'static Domain, String> {
    let folders = migration_embed::list(&dir.join(backend.folder()))?;
    let read =
        |path: std::path::PathBuf| std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
    let mut migrations = Vec::new();
    for folder in folders {
        let scripts = Scripts {
            up: leak(read(folder.path.join("up.sql"))?),
            down: leak(read(folder.path.join("down.sql"))?),
            metadata: leak(read(folder.path.join("metadata.toml")).unwrap_or_default()),
        };
        migrations.push(MigrationFiles {
            version: leak(folder.version),
            name: leak(folder.name),
            postgres: scripts,
            sqlite: scripts,
        });
    }
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("bench").replace(['-', '.'], "_");
    Ok(Box::leak(Box::new(Domain::new(leak(name), Box::leak(migrations.into_boxed_slice())))))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, url, dir] = args.as_slice() else {
        return Err("usage: migrate_dir run|run-single|raw DATABASE_URL DIR".into());
    };
    let database = Database::connect(url).map_err(|e| e.to_string())?;
    let domain = load(std::path::Path::new(dir), database.backend())?;
    let started = Instant::now();
    let mut sql_us: Option<u64> = None;
    match mode.as_str() {
        "run" | "run-single" => {
            let policy = Policy { single_transaction: mode == "run-single", ..Policy::default() };
            let steps = Migrator::new([domain])
                .and_then(|m| m.with_policy(policy).run(&database, None))
                .map_err(|e| e.to_string())?;
            sql_us = Some(steps.iter().map(|step| step.sql_us).sum());
        }
        "raw" => {
            let mut connection = database.get().map_err(|e| e.to_string())?;
            let backend = database.backend();
            for migration in domain.migrations() {
                let script = migration.scripts(backend).up;
                let statements = migration_core::sql::split_statements(script);
                dispatch!(connection, conn => conn.transaction(|conn| {
                    statements.iter().try_for_each(|statement| conn.batch_execute(statement.text))
                }))
                .map_err(|e| e.to_string())?;
            }
        }
        other => return Err(format!("unknown mode {other}; use run, run-single or raw")),
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let sql_ms = sql_us.map_or(ms, |us| us as f64 / 1000.0);
    println!(
        "{{\"mode\": \"{mode}\", \"migrations\": {}, \"ms\": {ms:.3}, \"sql_ms\": {sql_ms:.3}}}",
        domain.migrations().len()
    );
    Ok(())
}
