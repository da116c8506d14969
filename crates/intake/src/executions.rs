//! `intake executions`: NinjaTrader execution imports (seed 004) and the maintenance of their
//! de-duplication ledger.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use execution_dedup::{FileSummary, ImportOptions, Outcome};
use indicatif::{ProgressBar, ProgressStyle};
use migration_core::Database;

use crate::output;

/// Files larger than this get a progress bar (on a terminal).
const PROGRESS_BAR_BYTES: u64 = 4 << 20;

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
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
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

#[derive(Debug, Args)]
struct ImportArgs {
    /// Export files to import, in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Import the valid rows of a file that has invalid ones and list the rows skipped.
    #[arg(long)]
    skip_invalid: bool,
}

/// One file's result, as `--json` prints it.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum FileResult {
    Done(FileSummary),
    Failed { file: String, outcome: &'static str, error: String },
}

pub fn execute(database_url: &str, json: bool, args: &ExecutionsArgs) -> anyhow::Result<()> {
    match &args.command {
        ExecutionsCommand::Import(args) => import(database_url, json, args),
        ExecutionsCommand::Purge { older_than, dry_run } => purge(database_url, json, *older_than, *dry_run),
    }
}

fn import(database_url: &str, json: bool, args: &ImportArgs) -> anyhow::Result<()> {
    let database = Database::connect(database_url)?;
    let options = ImportOptions { skip_invalid: args.skip_invalid };
    let mut results = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let bar = progress_bar(path);
        let result = execution_dedup::import_file(&database, path, options, &mut |bytes| bar.set_position(bytes));
        bar.finish_and_clear();
        results.push(match result {
            Ok(summary) => {
                if !json {
                    print_findings(&summary, options)?;
                }
                FileResult::Done(summary)
            }
            Err(error) => {
                let error = crate::render_error(&anyhow::Error::new(error));
                if !json {
                    eprintln!("{error}");
                }
                FileResult::Failed { file: path.display().to_string(), outcome: "failed", error }
            }
        });
    }
    if json {
        output::json(&results)?;
    } else {
        print_totals(&results)?;
    }
    let not_imported = results
        .iter()
        .filter(|r| !matches!(r, FileResult::Done(summary) if summary.outcome == Outcome::Imported))
        .count();
    if not_imported > 0 {
        anyhow::bail!(
            "{not_imported} of {} files not imported (see above); the database has none of their rows",
            results.len()
        );
    }
    Ok(())
}

fn progress_bar(path: &Path) -> ProgressBar {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size <= PROGRESS_BAR_BYTES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    bar
}

/// The file's errors and warnings, and why nothing was written if nothing was.
fn print_findings(summary: &FileSummary, options: ImportOptions) -> anyhow::Result<()> {
    if summary.findings.is_empty() {
        return Ok(());
    }
    output::line(format_args!("{}:", summary.file))?;
    let mut table = output::table(&["Line", "Column", "Rule", "Severity", "Problem"]);
    for finding in &summary.findings {
        let column = match (&finding.column, &finding.column_name) {
            (Some(index), Some(name)) => format!("{index} ({name})"),
            (Some(index), None) => index.to_string(),
            _ => String::new(),
        };
        table.add_row(vec![
            finding.line.to_string(),
            column,
            finding.rule.code().to_owned(),
            format!("{:?}", finding.severity).to_lowercase(),
            finding.message.clone(),
        ]);
    }
    output::line(&table)?;
    let omitted: u64 = summary.omitted.values().sum();
    if omitted > 0 {
        output::line(format_args!("... and {omitted} more findings not listed."))?;
    }
    if summary.outcome == Outcome::Refused {
        let valid = summary.rows_read - summary.rejected;
        let way_out = if options.skip_invalid || valid == 0 {
            "fix the file and import it again".to_owned()
        } else {
            format!("fix those rows and import again, or pass --skip-invalid to import the {valid} valid rows")
        };
        output::line(format_args!(
            "Nothing imported from {}: {} of {} rows have errors; {way_out}.",
            summary.file, summary.rejected, summary.rows_read
        ))?;
    }
    Ok(())
}

fn print_totals(results: &[FileResult]) -> anyhow::Result<()> {
    let mut table = output::table(&[
        "File",
        "Outcome",
        "Rows read",
        "Inserted",
        "Already imported",
        "Duplicated in file",
        "Rejected",
    ]);
    for result in results {
        table.add_row(match result {
            FileResult::Done(s) => vec![
                s.file.clone(),
                match s.outcome {
                    Outcome::Imported => "imported".to_owned(),
                    Outcome::Refused => "nothing imported".to_owned(),
                },
                s.rows_read.to_string(),
                s.inserted.to_string(),
                s.already_imported.to_string(),
                s.duplicated_in_file.to_string(),
                s.rejected.to_string(),
            ],
            FileResult::Failed { file, .. } => vec![file.clone(), "failed".to_owned()],
        });
    }
    output::line(&table)
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
