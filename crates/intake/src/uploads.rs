//! `intake uploads`: upload infrastructure (seed 003). Store attributes, historical sales and
//! weekly actuals files, each checked by the validator the upload page runs and written in
//! one transaction; the context the page checks a file against; the seed's table statistics.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use migration_core::Database;
use upload::{Upload, UploadOptions};

use crate::{imports, output};

#[derive(Debug, Args)]
pub struct UploadsArgs {
    #[command(subcommand)]
    command: UploadsCommand,
}

#[derive(Debug, Subcommand)]
enum UploadsCommand {
    /// Upload store attributes: one row per store (the store master).
    ///
    /// Columns: store_id, store_name, avg_weekly_sales_12mo, store_size_sqft, median_income,
    /// location_tier (A/B/C), fashion_tier (Premium/Mainstream/Value), store_format, region;
    /// either real-world spelling of an enumeration (MALL or Mall, SHOPPING_CENTER or
    /// ShoppingCenter). A new store is added, a known one takes the file's attributes, a store
    /// the file does not name is kept.
    #[command(verbatim_doc_comment)]
    StoreAttributes(FileArgs),
    /// Upload historical sales: daily rows per category and store.
    ///
    /// Columns: date (YYYY-MM-DD), category (its display name, e.g. "Women's Dresses"),
    /// store_id, quantity_sold, revenue. Categories and stores must be known. A day of a
    /// category in a store that is stored already refuses the file, unless --replace.
    #[command(verbatim_doc_comment)]
    HistoricalSales(FileArgs),
    /// Upload one week of daily actuals for a workflow, summed per store into weekly_actuals.
    ///
    /// Columns: date, store_id, quantity_sold. The week is the workflow's: week_start =
    /// season_start + (N - 1) weeks; the file's dates must lie in it and cover it. Each
    /// store's forecast comes from the workflow, and variance_pct = (actual - forecast) /
    /// forecast (none without a forecast, or with a forecast of zero), classed normal (up to
    /// 10 %), elevated (up to 20 %) or high. A week uploaded before is refused unless
    /// --replace, which replaces the whole week.
    #[command(verbatim_doc_comment)]
    WeeklyActuals {
        /// The workflow.
        #[arg(long, value_name = "ID")]
        workflow: String,
        /// The week of its season, from 1.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        week: u32,
        #[command(flatten)]
        file: FileArgs,
    },
    /// Print the JSON context an upload is checked against (the upload page's "What the
    /// server knows"): the known stores, the categories, a workflow week's first day.
    Context {
        /// store-attributes, historical-sales or weekly-actuals.
        #[arg(value_parser = ["store-attributes", "historical-sales", "weekly-actuals"])]
        kind: String,
        /// The workflow (weekly actuals).
        #[arg(long, value_name = "ID", required_if_eq("kind", "weekly-actuals"))]
        workflow: Option<String>,
        /// The week (weekly actuals).
        #[arg(long, value_name = "N", required_if_eq("kind", "weekly-actuals"))]
        week: Option<u32>,
    },
    /// Row counts of the upload tables (stores, categories, workflows, forecasts, historical
    /// sales, weekly actuals), counted in one statement.
    Stats,
}

#[derive(Debug, Args)]
struct FileArgs {
    /// Files to upload, in order; each in its own transaction.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Overwrite what was uploaded before instead of refusing the file.
    #[arg(long)]
    replace: bool,
    /// Refuse a file larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = upload::DEFAULT_MAX_BYTES)]
    max_bytes: u64,
}

pub fn execute(database_url: &str, json: bool, args: &UploadsArgs) -> anyhow::Result<()> {
    let (upload, files) = match &args.command {
        UploadsCommand::StoreAttributes(files) => (Upload::StoreAttributes, files),
        UploadsCommand::HistoricalSales(files) => (Upload::HistoricalSales, files),
        UploadsCommand::WeeklyActuals { workflow, week, file } => {
            (Upload::WeeklyActuals { workflow_id: workflow.clone(), week_number: *week }, file)
        }
        UploadsCommand::Context { kind, workflow, week } => {
            let upload = match (kind.as_str(), workflow, week) {
                ("weekly-actuals", Some(workflow), Some(week)) => {
                    Upload::WeeklyActuals { workflow_id: workflow.clone(), week_number: *week }
                }
                ("historical-sales", ..) => Upload::HistoricalSales,
                _ => Upload::StoreAttributes,
            };
            let database = Database::connect(database_url)?;
            return output::line(upload.context(&database)?);
        }
        UploadsCommand::Stats => return stats(database_url, json),
    };
    let database = Database::connect(database_url)?;
    let options = UploadOptions { replace: files.replace, max_bytes: files.max_bytes, ..UploadOptions::default() };
    imports::each(&files.files, json, false, |path, progress| {
        upload::upload_file(&database, &upload, path, options, progress)
    })
}

fn stats(database_url: &str, json: bool) -> anyhow::Result<()> {
    let database = Database::connect(database_url)?;
    let stats = upload::stats(&database)?;
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            stats.iter().map(|(table, n)| ((*table).to_owned(), serde_json::Value::from(*n))).collect();
        return output::json(&map);
    }
    let mut table = output::table(&["Table", "Rows"]);
    for (name, rows) in stats {
        table.add_row(vec![name.to_owned(), rows.to_string()]);
    }
    output::line(&table)
}
