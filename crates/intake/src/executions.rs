//! `intake executions`: NinjaTrader execution imports (seed 004) and the maintenance of their
//! de-duplication ledger.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use execution_dedup::{Executions, ImportOptions, Session};
use migration_core::Database;

use crate::{imports, output};

#[derive(Debug, Args)]
pub struct ExecutionsArgs {
    #[command(subcommand)]
    command: ExecutionsCommand,
}

#[derive(Debug, Subcommand)]
enum ExecutionsCommand {
    /// Import NinjaTrader 8 executions exports; every execution is written once, ever.
    ///
    /// Each file is read through the same validator the upload page runs (every locale and
    /// variant: BOM, trailing comma, European `;` and decimal comma, Excel re-saves, the
    /// 15-column exporter) and imported in its own transaction. Execution ids already imported
    /// are skipped, so re-importing a file, or a longer version of it, adds only the new fills,
    /// and a fill deleted from `trades` does not come back. A file with any invalid row imports
    /// nothing unless --skip-invalid is given.
    ///
    /// Re-imports cost only what is new: a file identical to the one imported under its name
    /// is not read ("unchanged", with that import's counts); a file that grew is read on from
    /// its last imported fill; a file whose earlier part changed is read whole. The result is
    /// always that of reading the file whole.
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Forget imported execution ids older than an age (the ledger only; trades are kept).
    ///
    /// imported_executions remembers every execution id ever imported so that re-importing a
    /// file never brings back a fill. Purging rows older than DAYS keeps the ledger small, but
    /// re-importing a file from before then will bring back any of its fills you deleted from
    /// trades (fills still in trades are not duplicated). There is no default age. A purge that
    /// removes rows also forgets what was imported of each file, so every file is read whole
    /// on its next import.
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

#[derive(Debug, Args)]
struct ImportArgs {
    /// Export files to import, in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Import the valid rows of a file that has invalid ones and list the rows skipped.
    #[arg(long)]
    skip_invalid: bool,
}

pub fn execute(database_url: &str, json: bool, args: &ExecutionsArgs) -> anyhow::Result<()> {
    match &args.command {
        ExecutionsCommand::Import(args) => import(database_url, json, args),
        ExecutionsCommand::Purge { older_than, dry_run } => purge(database_url, json, *older_than, *dry_run),
    }
}

fn import(database_url: &str, json: bool, args: &ImportArgs) -> anyhow::Result<()> {
    let database = Database::connect(database_url)?;
    let session = Session::open(&database, Executions)?;
    let options = ImportOptions { skip_invalid: args.skip_invalid, ..ImportOptions::default() };
    imports::each(&args.files, json, args.skip_invalid, |path, progress| session.import(path, options, progress))
}

fn purge(database_url: &str, json: bool, older_than: u32, dry_run: bool) -> anyhow::Result<()> {
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
