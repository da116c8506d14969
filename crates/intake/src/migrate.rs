//! `intake migrate`: run, status, plan, verify, check, rebless, snapshot, rollback, redo and new.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use migration_core::{
    CheckReport, Database, Domain, MigrationStatus, Migrator, Plan, Policy, RollbackTarget, Snapshot, State, Step,
    Verification,
};

use crate::output;

/// The migration sets this binary links, in the order `migrate` applies them.
pub fn domains() -> [&'static Domain; 5] {
    [
        &execution_dedup::MIGRATIONS,
        &alm_tracking::MIGRATIONS,
        &market_data::MIGRATIONS,
        &persistent_storage::MIGRATIONS,
        &upload::MIGRATIONS,
    ]
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct MigrateArgs {
    /// Limit the operation to one domain (default: all; rollback, redo and rebless need it when there are several).
    #[arg(long, global = true)]
    domain: Option<String>,
    /// Go on when the database has applied migrations this build does not have.
    #[arg(long, global = true)]
    allow_missing: bool,
    /// Apply pending migrations older than the newest applied one.
    #[arg(long, global = true)]
    allow_out_of_order: bool,
    /// Accept two migrations with one version in a domain (applied in name order).
    #[arg(long, global = true)]
    allow_duplicate_versions: bool,
    /// Apply all pending migrations in one transaction: all of them or none.
    #[arg(long, global = true)]
    single_transaction: bool,
    /// Seconds to wait for another migrator holding the lock.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = migration_core::DEFAULT_LOCK_TIMEOUT.as_secs())]
    lock_timeout: u64,
    #[command(subcommand)]
    command: Option<MigrateCommand>,
}

#[derive(Debug, Subcommand)]
enum MigrateCommand {
    /// Apply every pending migration, each in its own transaction (the default), then print the status.
    Run,
    /// Show every migration of every domain (version, name, state, when applied, how long it took) and a one-line drift summary.
    Status {
        /// Skip the drift check (it replays the applied migrations on a scratch database).
        #[arg(long)]
        no_drift: bool,
    },
    /// Show what `run` would do, without changing anything: each pending migration's transaction mode, SQL and lint warnings.
    Plan,
    /// Prove on a scratch database that every migration's down.sql reverses its up.sql (up, down, up, comparing schema snapshots).
    Verify,
    /// Compare the live schema with the one the applied migrations produce; exit 1 on drift.
    Check,
    /// Accept the edited text of an applied migration, keeping an audit row (old and new checksum, time, OS user, reason).
    Rebless {
        /// Version of the applied migration.
        version: String,
        /// Why the edit is acceptable (kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Print the canonical schema snapshot of the database (one object a line; --json for the structure).
    Snapshot,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<String>,
}

pub fn execute(database_url: &str, json: bool, args: &MigrateArgs) -> anyhow::Result<()> {
    let domain = args.domain.as_deref();
    let command = args.command.as_ref().unwrap_or(&MigrateCommand::Run);
    if let MigrateCommand::New { domain, name, dir } = command {
        return new(dir, domain, name, json);
    }
    let policy = Policy {
        allow_missing: args.allow_missing,
        allow_out_of_order: args.allow_out_of_order,
        allow_duplicate_versions: args.allow_duplicate_versions,
        lock_timeout: Duration::from_secs(args.lock_timeout),
        single_transaction: args.single_transaction,
    };
    let migrator = Migrator::new(domains())?.with_policy(policy);
    let database = Database::connect(database_url)?;
    // Only `status` checks for drift: it replays the applied migrations on a scratch database,
    // which `run` and friends should not pay for (`intake migrate check` does it on demand).
    let mut drift_check = false;
    let steps = match command {
        MigrateCommand::Run => Some(migrator.run(&database, domain)?),
        MigrateCommand::Status { no_drift } => {
            drift_check = !no_drift;
            None
        }
        MigrateCommand::Plan => return plan(&migrator.plan(&database, domain)?, json),
        MigrateCommand::Verify => return verify(&migrator.verify(&database, domain)?, &database, json),
        MigrateCommand::Check => return check(&migrator.check(&database, domain)?, json),
        MigrateCommand::Snapshot => return snapshot(&database, json),
        MigrateCommand::Rebless { version, reason } => {
            let audit = migrator.rebless(&database, domain, version, reason)?;
            if json {
                return output::json(&audit);
            }
            return output::line(format_args!(
                "Reblessed {}/{}_{}: checksum {} → {} ({}), by {} at {} UTC, because: {}",
                audit.domain,
                audit.version,
                audit.name,
                &audit.old_checksum[..12.min(audit.old_checksum.len())],
                &audit.new_checksum[..12],
                audit.checksum_algorithm,
                audit.os_user,
                audit.at.format("%Y-%m-%d %H:%M:%S"),
                audit.reason
            ));
        }
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
    let drift = drift_check.then(|| match migrator.check(&database, domain) {
        Ok(report) => report.summary(),
        Err(error) => format!("drift not checked: {error}"),
    });
    if json {
        return output::json(&Report {
            database: database.url().to_string(),
            backend: database.backend(),
            steps: steps.as_deref(),
            migrations: &status,
            drift,
        });
    }
    output::line(format_args!("Database: {} ({})", database.url(), database.backend()))?;
    if let Some(steps) = &steps {
        if steps.is_empty() {
            output::line("Nothing to do: the database is up to date.")?;
        } else {
            let mut table = output::table(&["Step", "Domain", "Migration", "Took"]);
            for step in steps {
                let note = if step.from_record { " (recorded down.sql)" } else { "" };
                table.add_row(vec![
                    step.direction.to_owned(),
                    step.domain.clone(),
                    format!("{}_{}{note}", step.version, step.name),
                    format!("{} ms", step.duration_ms),
                ]);
            }
            output::line(&table)?;
        }
    }
    let mut table = output::table(&["Domain", "Version", "Name", "State", "Applied at (UTC)", "Took"]);
    for migration in &status {
        table.add_row(vec![
            migration.domain.clone(),
            migration.version.clone(),
            migration.name.clone(),
            migration.state.label().to_owned(),
            migration.applied_at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
            migration.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_default(),
        ]);
    }
    output::line(&table)?;
    let pending = status.iter().filter(|m| matches!(m.state, State::Pending | State::OutOfOrder)).count();
    if pending > 0 {
        output::line(format_args!(
            "{pending} pending; see them with `intake migrate plan`, apply with `intake migrate run`."
        ))?;
    }
    if let Some(drift) = drift {
        output::line(drift)?;
    }
    Ok(())
}

fn plan(plan: &Plan, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(plan)?;
    } else {
        print_plan(plan)?;
    }
    if let Some(failing) = plan.failing() {
        anyhow::bail!(
            "`intake migrate run` would fail at {}/{}_{} (see above); nothing was changed",
            failing.domain,
            failing.version,
            failing.name
        );
    }
    Ok(())
}

fn print_plan(plan: &Plan) -> anyhow::Result<()> {
    if plan.migrations.is_empty() {
        return output::line("Nothing to do: the database is up to date.");
    }
    output::line(format_args!("{} migration(s) would be applied, in this order:", plan.migrations.len()))?;
    for migration in &plan.migrations {
        let mode = if migration.in_transaction {
            "in one transaction"
        } else {
            "outside a transaction, statement by statement"
        };
        output::line(format_args!("\n== {}/{}_{} ({mode})", migration.domain, migration.version, migration.name))?;
        output::line(format_args!("-- {}", migration.file))?;
        output::line(migration.sql.trim_end())?;
        for finding in &migration.lint {
            output::line(format_args!("{finding}"))?;
        }
        if let Some(failure) = &migration.fails {
            output::line(format_args!("FAILS when replayed on a scratch database:\n{failure}"))?;
        }
    }
    let warnings: usize = plan.migrations.iter().map(|m| m.lint.len()).sum();
    output::line(format_args!("\n{warnings} lint warning(s)."))
}

fn verify(report: &Verification, database: &Database, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(report)?;
    } else {
        output::line(format_args!(
            "Verified on a scratch {} database, up → down → up with a schema snapshot after each:",
            database.backend()
        ))?;
        for migration in &report.verified {
            output::line(format_args!("  ok  {migration}"))?;
        }
        if let Some(failure) = &report.failure {
            output::line(format_args!("  FAIL {}: {}\n       {}", failure.migration, failure.problem, failure.file))?;
            for difference in &failure.differences {
                output::line(format_args!("       - {difference}"))?;
            }
        }
        output::line(format_args!("{} verified in {} ms.", report.verified.len(), report.duration_ms))?;
    }
    match &report.failure {
        Some(failure) => anyhow::bail!("{} does not reverse cleanly: {}", failure.migration, failure.problem),
        None => Ok(()),
    }
}

fn check(report: &CheckReport, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(report)?;
    } else {
        for line in &report.drift_lines {
            output::line(format_args!("drift: {line}"))?;
        }
        for migration in &report.not_replayed {
            output::line(format_args!("not checked: {migration} is applied but not in this build"))?;
        }
        for migration in &report.interrupted {
            output::line(format_args!(
                "interrupted: {migration}: it runs outside a transaction, so its statements may be part-applied; `intake migrate run` runs it again to finish it"
            ))?;
        }
        for finding in &report.lint {
            output::line(format_args!("{finding}"))?;
        }
        output::line(format_args!("{} (checked in {} ms)", report.summary(), report.duration_ms))?;
    }
    if !report.is_clean() {
        anyhow::bail!(
            "the database differs from its migrations ({} difference(s)); put intended changes in a new migration (`intake migrate new`) and undo the others",
            report.drift.len()
        );
    }
    Ok(())
}

fn snapshot(database: &Database, json: bool) -> anyhow::Result<()> {
    let snapshot = Snapshot::read(&mut database.get()?)?;
    if json {
        return output::json(&snapshot);
    }
    output::line(snapshot.to_text().trim_end())
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
