//! `intake migrate`: run, status, rollback, redo and new.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use migration_core::{Database, Domain, MigrationStatus, Migrator, RollbackTarget, Step};

use crate::output;

/// The migration sets this binary links, in the order `migrate` applies them.
pub fn domains() -> [&'static Domain; 1] {
    [&execution_dedup::MIGRATIONS]
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct MigrateArgs {
    /// Limit the operation to one domain (default: all; rollback and redo need it when there are several).
    #[arg(long, global = true)]
    domain: Option<String>,
    #[command(subcommand)]
    command: Option<MigrateCommand>,
}

#[derive(Debug, Subcommand)]
enum MigrateCommand {
    /// Apply every pending migration, each in its own transaction (the default), then print the status.
    Run,
    /// Show every migration of every domain: version, name, state and when it was applied.
    Status,
    /// Revert applied migrations, newest first.
    Rollback {
        /// Revert the last N migrations of the domain.
        #[arg(long, default_value_t = 1, conflicts_with = "to")]
        steps: usize,
        /// Revert every migration newer than VERSION (which stays applied); 0 reverts all.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
    },
    /// Revert the last N migrations and apply them again (checks that down.sql undoes up.sql).
    Redo {
        /// How many migrations to redo.
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// Create a new migration for both backends: migrations/<DOMAIN>/{postgres,sqlite}/<version>_<NAME>/.
    New {
        /// Domain the migration belongs to, e.g. execution_dedup.
        domain: String,
        /// Name in snake_case, e.g. add_trades_index.
        name: String,
        /// The migrations folder of the workspace.
        #[arg(long, default_value = "migrations")]
        dir: PathBuf,
    },
}

#[derive(serde::Serialize)]
struct Report<'a> {
    database: String,
    backend: migration_core::Backend,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<&'a [Step]>,
    migrations: &'a [MigrationStatus],
}

pub fn execute(database_url: &str, json: bool, args: &MigrateArgs) -> anyhow::Result<()> {
    let domain = args.domain.as_deref();
    if let Some(MigrateCommand::New { domain, name, dir }) = &args.command {
        return new(dir, domain, name, json);
    }
    let migrator = Migrator::new(domains())?;
    let database = Database::connect(database_url)?;
    let steps = match args.command.as_ref().unwrap_or(&MigrateCommand::Run) {
        MigrateCommand::Run => Some(migrator.run(&database, domain)?),
        MigrateCommand::Status => None,
        MigrateCommand::Rollback { steps, to } => {
            let target = match to {
                Some(version) => RollbackTarget::To(version.clone()),
                None => RollbackTarget::Steps(*steps),
            };
            Some(migrator.rollback(&database, domain, &target)?)
        }
        MigrateCommand::Redo { steps } => Some(migrator.redo(&database, domain, *steps)?),
        MigrateCommand::New { .. } => unreachable!("handled above"),
    };
    let status = migrator.status(&database, domain)?;
    if json {
        return output::json(&Report {
            database: database.url().to_string(),
            backend: database.backend(),
            steps: steps.as_deref(),
            migrations: &status,
        });
    }
    output::line(format_args!("Database: {} ({})", database.url(), database.backend()))?;
    if let Some(steps) = &steps {
        if steps.is_empty() {
            output::line("Nothing to do: the database is up to date.")?;
        } else {
            let mut table = output::table(&["Step", "Domain", "Migration", "Took"]);
            for step in steps {
                table.add_row(vec![
                    step.direction.to_owned(),
                    step.domain.clone(),
                    format!("{}_{}", step.version, step.name),
                    format!("{} ms", step.duration_ms),
                ]);
            }
            output::line(&table)?;
        }
    }
    let mut table = output::table(&["Domain", "Version", "Name", "State", "Applied at (UTC)"]);
    for migration in &status {
        table.add_row(vec![
            migration.domain.clone(),
            migration.version.clone(),
            migration.name.clone(),
            migration.state.label().to_owned(),
            migration.applied_at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
        ]);
    }
    output::line(&table)?;
    let pending = status.iter().filter(|m| m.state == migration_core::State::Pending).count();
    if pending > 0 {
        output::line(format_args!("{pending} pending; apply with `intake migrate run`."))?;
    }
    Ok(())
}

fn new(dir: &std::path::Path, domain: &str, name: &str, json: bool) -> anyhow::Result<()> {
    let created = migration_core::scaffold(dir, domain, name, chrono::Utc::now().naive_utc())
        .with_context(|| format!("scaffold {domain}/{name} under {}", dir.display()))?;
    if json {
        return output::json(&serde_json::json!({ "created": created }));
    }
    for path in &created {
        output::line(format_args!("created {}", path.display()))?;
    }
    if !domains().iter().any(|d| d.name() == domain) {
        output::line(format_args!(
            "note: {domain} is a new domain; give it a crate whose build.rs calls migration_embed::embed(\"{domain}\") and add it to `domains()` in crates/intake/src/migrate.rs"
        ))?;
    }
    Ok(())
}
