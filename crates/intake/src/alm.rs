//! `intake alm`: the append-mode import of Interactive Brokers Flex reports into the ALM
//! tables (seed 000), and the automation's status, history, gaps and configuration.

use std::path::PathBuf;

use alm_tracking::{CONFIG_KEYS, ImportType, Run, RunOptions};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use migration_core::Database;

use crate::{imports, output};

#[derive(Debug, Args)]
pub struct AlmArgs {
    #[command(subcommand)]
    command: AlmCommand,
}

#[derive(Debug, Subcommand)]
enum AlmCommand {
    /// Import IB Flex reports (NAV, Trades, Cash Transactions, Exercises and Expiries,
    /// Interest Accruals); every transaction is written once, ever.
    ///
    /// Each file is read through the validator the upload page runs and imported in its own
    /// transaction: new events are appended to chronological_events (keyed by account and
    /// IB transactionID, or a key derived from the row for rows without one), each account's
    /// days are upserted into daily_summary (a statement generated later wins), and the file
    /// is recorded in processed_files. A file already imported with the same SHA-256 is not
    /// read again; a month-to-date file that grew is imported again and adds only its new rows.
    ///
    /// The run is recorded in import_history for its date (PENDING, PROCESSING, then SUCCESS,
    /// or FAILED with the first problem), and ALM_DAILY_AUTOMATION's processing_status follows
    /// it. A file that cannot be imported writes nothing; the others are imported. Its
    /// configuration applies: retry_attempts (transient database errors), timeout_seconds (a
    /// file still importing then is rolled back) and, with --archive, max_files_to_keep.
    /// Exits 1 if any file was not imported.
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Show the automation's state, configuration and the last import.
    Status,
    /// List import_history, newest first.
    History {
        /// First import date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: Option<NaiveDate>,
        /// Last import date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: Option<NaiveDate>,
    },
    /// List business days with no successful import, days missing from the NAV statements,
    /// and NAV continuity breaks, between two dates.
    ///
    /// Business days are Monday to Friday: exchange holidays are not known, so they are
    /// listed too. Exits 1 if anything is found.
    #[command(verbatim_doc_comment)]
    Gaps {
        /// First day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: NaiveDate,
        /// Last day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: NaiveDate,
    },
    /// Show or change ALM_DAILY_AUTOMATION's configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Show the configuration.
    Show,
    /// Set one key: retry_attempts (0-10), timeout_seconds (1-86400) or max_files_to_keep
    /// (1-10000).
    Set {
        /// The key.
        key: String,
        /// Its new value, a whole number.
        value: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Daily,
    Backfill,
    Manual,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Flex report files, or folders whose .xml files are imported (in name order).
    #[arg(required = true, value_name = "FILE|DIR")]
    paths: Vec<PathBuf>,
    /// The import date the run is recorded under (YYYY-MM-DD); default: today.
    #[arg(long, value_name = "DATE")]
    date: Option<NaiveDate>,
    /// The import type recorded in import_history.
    #[arg(long = "type", value_enum, default_value = "daily")]
    kind: Kind,
    /// Move each imported file into DIR/<report type>/<date>_<name> and keep the newest
    /// max_files_to_keep per type there (only files the archive holds under that name
    /// pattern are ever deleted; a file not imported is never moved).
    #[arg(long, value_name = "DIR")]
    archive: Option<PathBuf>,
}

pub fn execute(database_url: &str, json: bool, args: &AlmArgs) -> anyhow::Result<()> {
    let database = Database::connect(database_url)?;
    match &args.command {
        AlmCommand::Import(args) => import(&database, json, args),
        AlmCommand::Status => status(&database, json),
        AlmCommand::History { from, to } => history(&database, json, *from, *to),
        AlmCommand::Gaps { from, to } => gaps(&database, json, *from, *to),
        AlmCommand::Config { command: ConfigCommand::Show } => {
            show_config(json, &alm_tracking::status(&database)?.configuration)
        }
        AlmCommand::Config { command: ConfigCommand::Set { key, value } } => {
            let configuration = alm_tracking::set_config(&database, key, value)?;
            show_config(json, &configuration)
        }
    }
}

fn import(database: &Database, json: bool, args: &ImportArgs) -> anyhow::Result<()> {
    let files = alm_tracking::files_in(&args.paths)?;
    let options = RunOptions {
        date: args.date.unwrap_or_else(|| chrono::Local::now().date_naive()),
        import_type: match args.kind {
            Kind::Daily => ImportType::Daily,
            Kind::Backfill => ImportType::Backfill,
            Kind::Manual => ImportType::Manual,
        },
        archive: args.archive.clone(),
    };
    let run = Run::start(database, options)?;
    if let Some(taken) = run.took_over() {
        let since = taken.started_at.map_or_else(String::new, |t| format!(" (started {t} UTC)"));
        eprintln!(
            "note: took over the run of {} left PROCESSING{since}: it was interrupted before it recorded an outcome; the files it committed are kept and the rest are imported now",
            run.date()
        );
    }
    let results = imports::run(&files, json, false, |path, progress| run.import(path, progress))?;
    let summary = run.finish()?;
    if json {
        output::json(&serde_json::json!({ "run": summary, "files": results }))?;
        return results.verdict();
    }
    results.print_totals()?;
    let history = &summary.history;
    output::line(format_args!(
        "Import {} ({}): {}; {} rows written by this run, {} in all for the date.",
        history.import_date,
        history.import_type.as_deref().unwrap_or("DAILY"),
        history.status,
        summary.records_imported,
        history.records_imported.unwrap_or(0)
    ))?;
    if let Some(error) = &history.error_message {
        output::line(format_args!("First problem: {error}"))?;
    }
    for warning in &summary.continuity {
        print_continuity(warning)?;
    }
    for file in &summary.archived {
        output::line(format_args!("archived {file}"))?;
    }
    for file in &summary.pruned {
        output::line(format_args!("deleted from the archive (past max_files_to_keep): {file}"))?;
    }
    results.verdict()
}

fn print_continuity(warning: &alm_tracking::ContinuityWarning) -> anyhow::Result<()> {
    let after = warning.previous_date.map(|d| format!(" (after {d})")).unwrap_or_default();
    output::line(format_args!(
        "warning: {} {}{after}: {}: expected {}, found {}",
        warning.account_id, warning.date, warning.problem, warning.expected, warning.found
    ))
}

fn status(database: &Database, json: bool) -> anyhow::Result<()> {
    let status = alm_tracking::status(database)?;
    if json {
        return output::json(&status);
    }
    let date = |d: Option<NaiveDate>| d.map_or_else(|| "never".to_owned(), |d| d.to_string());
    let mut table = output::table(&["ALM automation", ""]);
    table.add_row(vec!["Process".to_owned(), alm_tracking::PROCESS_NAME.to_owned()]);
    table.add_row(vec!["State".to_owned(), status.current_state.clone()]);
    table.add_row(vec!["Last run".to_owned(), date(status.last_run_date)]);
    table.add_row(vec!["Last success".to_owned(), date(status.last_success_date)]);
    table.add_row(vec!["Failed runs since".to_owned(), status.error_count.to_string()]);
    let configuration = &status.configuration;
    table.add_row(vec![
        "Configuration".to_owned(),
        format!(
            "retry_attempts {}, timeout_seconds {}, max_files_to_keep {}",
            configuration.retry_attempts, configuration.timeout_seconds, configuration.max_files_to_keep
        ),
    ]);
    table.add_row(vec![
        "Data".to_owned(),
        format!("{} events, {} days, {} files", status.events, status.days, status.files),
    ]);
    if let Some(last) = &status.last_import {
        table.add_row(vec![
            "Last import".to_owned(),
            format!("{} {} ({} rows)", last.import_date, last.status, last.records_imported.unwrap_or(0)),
        ]);
    }
    output::line(&table)
}

fn history(database: &Database, json: bool, from: Option<NaiveDate>, to: Option<NaiveDate>) -> anyhow::Result<()> {
    let rows = alm_tracking::history(database, from, to)?;
    if json {
        return output::json(&rows);
    }
    if rows.is_empty() {
        return output::line("No imports recorded in that range.");
    }
    let mut table =
        output::table(&["Date", "Type", "Status", "Files", "Rows", "Started (UTC)", "Completed (UTC)", "Error"]);
    let time =
        |t: Option<chrono::NaiveDateTime>| t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default();
    for row in rows {
        table.add_row(vec![
            row.import_date.to_string(),
            row.import_type.clone().unwrap_or_default(),
            row.status.clone(),
            row.files().len().to_string(),
            row.records_imported.unwrap_or(0).to_string(),
            time(row.started_at),
            time(row.completed_at),
            row.error_message.clone().unwrap_or_default(),
        ]);
    }
    output::line(&table)
}

fn gaps(database: &Database, json: bool, from: NaiveDate, to: NaiveDate) -> anyhow::Result<()> {
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let report = alm_tracking::gaps(database, from, to)?;
    let found = report.gaps.len() + report.continuity.len();
    if json {
        output::json(&report)?;
    } else if found == 0 {
        output::line(format_args!("No gaps from {from} to {to}: every business day imported, NAV continuous."))?;
    } else {
        if !report.gaps.is_empty() {
            let mut table = output::table(&["Date", "Account", "Missing"]);
            for gap in &report.gaps {
                table.add_row(vec![
                    gap.date.to_string(),
                    gap.account_id.clone().unwrap_or_else(|| "-".into()),
                    gap.problem.to_owned(),
                ]);
            }
            output::line(&table)?;
        }
        for warning in &report.continuity {
            print_continuity(warning)?;
        }
    }
    anyhow::ensure!(
        found == 0,
        "{} gap(s) and {} continuity break(s) from {from} to {to}",
        report.gaps.len(),
        report.continuity.len()
    );
    Ok(())
}

fn show_config(json: bool, configuration: &alm_tracking::Configuration) -> anyhow::Result<()> {
    if json {
        return output::json(configuration);
    }
    let mut table = output::table(&["Key", "Value", "Meaning"]);
    let values =
        [u64::from(configuration.retry_attempts), configuration.timeout_seconds, configuration.max_files_to_keep];
    for ((key, _, _, meaning), value) in CONFIG_KEYS.iter().zip(values) {
        table.add_row(vec![(*key).to_owned(), value.to_string(), (*meaning).to_owned()]);
    }
    output::line(&table)
}
