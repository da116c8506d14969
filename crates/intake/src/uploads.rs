//! `intake uploads`: the retail planning tables of upload infrastructure (seed 003). `stats`
//! is the seed's table statistics: the row count of each table.

use clap::{Args, Subcommand};
use migration_core::Database;

use crate::output;

#[derive(Debug, Args)]
pub struct UploadsArgs {
    #[command(subcommand)]
    command: UploadsCommand,
}

#[derive(Debug, Subcommand)]
enum UploadsCommand {
    /// Row counts of the upload tables (stores, categories, workflows, forecasts, historical
    /// sales, weekly actuals), counted in one statement.
    Stats,
}

pub fn execute(database_url: &str, json: bool, args: &UploadsArgs) -> anyhow::Result<()> {
    match args.command {
        UploadsCommand::Stats => {
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
    }
}
