//! `intake dedup`: maintenance of the execution de-duplication ledger.

use clap::{Args, Subcommand};
use migration_core::Database;

use crate::output;

#[derive(Debug, Args)]
pub struct DedupArgs {
    #[command(subcommand)]
    command: DedupCommand,
}

#[derive(Debug, Subcommand)]
enum DedupCommand {
    /// Forget imported execution ids older than an age (the ledger only; trades are kept).
    ///
    /// imported_executions remembers every execution id ever imported so that re-importing a
    /// file never brings back a fill. Purging rows older than DAYS keeps the ledger small, but
    /// re-importing a file from before then will bring back any of its fills you deleted from
    /// trades (fills still in trades are not duplicated). There is no default age.
    #[command(verbatim_doc_comment)]
    Purge {
        /// Remove ledger rows imported more than DAYS days ago (UTC).
        #[arg(long, value_name = "DAYS", required = true, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        older_than: u32,
        /// Only count the rows that would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn execute(database_url: &str, json: bool, args: &DedupArgs) -> anyhow::Result<()> {
    let DedupCommand::Purge { older_than, dry_run } = args.command;
    let database = Database::connect(database_url)?;
    let summary = execution_dedup::purge(&database, older_than, dry_run)?;
    if json {
        return output::json(&summary);
    }
    let verb = if dry_run { "Would remove" } else { "Removed" };
    output::line(format_args!(
        "{verb} {} imported_executions rows imported before {} UTC.",
        summary.removed,
        summary.cutoff.format("%Y-%m-%d %H:%M:%S")
    ))?;
    if summary.removed > 0 {
        output::line(
            "Re-importing a file from before then will bring back any of its fills deleted from trades; fills still in trades are not duplicated.",
        )?;
    }
    Ok(())
}
