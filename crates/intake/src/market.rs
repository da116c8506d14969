//! `intake market-data`: reading ticks with their 4-decimal prices, soft-deleting and
//! restoring rows, purging what was soft-deleted, deleting an instrument (seed 001).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use clap::{Args, Subcommand, ValueEnum};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use market_data::online::{OnlineOptions, OnlineProgress};
use market_data::{Deleted, Table, Tick};
use migration_core::Database;

use crate::output;

#[derive(Debug, Args)]
pub struct MarketArgs {
    #[command(subcommand)]
    command: MarketCommand,
}

#[derive(Debug, Subcommand)]
enum MarketCommand {
    /// List an instrument's ticks between two times (soft-deleted ones only with --include-deleted).
    Ticks {
        /// The instrument's symbol.
        #[arg(long)]
        symbol: String,
        /// From this time (YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS", UTC).
        #[arg(long, value_parser = parse_time)]
        from: NaiveDateTime,
        /// Up to this time, inclusive.
        #[arg(long, value_parser = parse_time)]
        to: NaiveDateTime,
        /// Include soft-deleted ticks (their deleted_at is shown).
        #[arg(long)]
        include_deleted: bool,
    },
    /// The latest tick of each instrument.
    Latest {
        /// Include soft-deleted ticks.
        #[arg(long)]
        include_deleted: bool,
    },
    /// Soft-delete rows by id: reads leave them out until restored or purged.
    SoftDelete {
        /// The table.
        #[arg(long, value_enum)]
        table: TableArg,
        /// Row ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Restore soft-deleted rows by id.
    Restore {
        /// The table.
        #[arg(long, value_enum)]
        table: TableArg,
        /// Row ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Remove for good the rows soft-deleted before a date (there is no default date).
    Purge {
        /// Rows soft-deleted before this day (YYYY-MM-DD, UTC midnight) or time are removed.
        #[arg(long, required = true, value_parser = parse_time)]
        deleted_before: NaiveDateTime,
        /// Only count the rows that would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// PostgreSQL: convert the prices to double precision without locking the tables while
    /// they are rewritten; then `intake migrate` applies convert_decimal_to_float without a
    /// rewrite.
    ///
    /// Each column gets a double precision twin kept in step by a trigger, the existing rows
    /// are copied in batches (each its own short transaction), the price index is built again
    /// CONCURRENTLY, and one short transaction per table swaps the columns. Writers keep
    /// writing throughout. A stopped run is finished by running it again.
    ConvertOnline {
        /// Rows copied per batch (each batch is one transaction holding only its rows' locks).
        #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(i64).range(1..))]
        batch_rows: i64,
        /// Seconds to wait for the migrator lock and for each swap's table lock before giving
        /// up (nothing is changed by a swap that gives up; run again).
        #[arg(long, default_value_t = 10)]
        lock_timeout: u64,
    },
    /// Delete an instrument that no market data or alert log refers to.
    DeleteInstrument {
        /// The instrument's symbol.
        symbol: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TableArg {
    #[value(name = "market_data")]
    MarketData,
    #[value(name = "alert_logs")]
    AlertLogs,
}

impl From<TableArg> for Table {
    fn from(table: TableArg) -> Table {
        match table {
            TableArg::MarketData => Table::MarketData,
            TableArg::AlertLogs => Table::AlertLogs,
        }
    }
}

fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d").map(|d| d.and_time(NaiveTime::MIN)))
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM:SS)"))
}

fn deleted(include: bool) -> Deleted {
    if include { Deleted::Include } else { Deleted::Exclude }
}

pub fn execute(database_url: &str, json: bool, args: &MarketArgs) -> anyhow::Result<()> {
    let database = Database::connect(database_url)?;
    match &args.command {
        MarketCommand::Ticks { symbol, from, to, include_deleted } => {
            let id = market_data::instrument_id(&database, symbol)?;
            print_ticks(json, &market_data::ticks(&database, id, *from, *to, deleted(*include_deleted))?)
        }
        MarketCommand::Latest { include_deleted } => {
            print_ticks(json, &market_data::latest(&database, deleted(*include_deleted))?)
        }
        MarketCommand::SoftDelete { table, ids } => {
            let n = market_data::soft_delete(&database, (*table).into(), ids)?;
            changed(json, "soft-deleted", n, ids.len())
        }
        MarketCommand::Restore { table, ids } => {
            let n = market_data::restore(&database, (*table).into(), ids)?;
            changed(json, "restored", n, ids.len())
        }
        MarketCommand::Purge { deleted_before, dry_run } => {
            let summary = market_data::purge(&database, *deleted_before, *dry_run)?;
            if json {
                return output::json(&summary);
            }
            let verb = if *dry_run { "Would remove" } else { "Removed" };
            for (table, n) in &summary.removed {
                output::line(format_args!(
                    "{verb} {n} {} rows soft-deleted before {} UTC.",
                    table.name(),
                    deleted_before.format("%Y-%m-%d %H:%M:%S")
                ))?;
            }
            Ok(())
        }
        MarketCommand::ConvertOnline { batch_rows, lock_timeout } => {
            let options = OnlineOptions { batch_rows: *batch_rows, lock_timeout: Duration::from_secs(*lock_timeout) };
            let bar = ProgressBar::new(0);
            if json {
                bar.set_draw_target(ProgressDrawTarget::hidden());
            }
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ids eta {eta}")
                    .expect("the template is valid")
                    .progress_chars("=> "),
            );
            let report = market_data::online::convert_online(&database, options, &mut |progress| match progress {
                OnlineProgress::Copying { table, done, total } => {
                    bar.set_message(format!("copying {table}"));
                    bar.set_length(total);
                    bar.set_position(done);
                }
                OnlineProgress::Indexing => bar.set_message("building the price index concurrently"),
                OnlineProgress::Swapping { table } => bar.set_message(format!("swapping {table}'s columns")),
            });
            bar.finish_and_clear();
            let report = report?;
            if json {
                return output::json(&report);
            }
            if report.converted.is_empty() {
                return output::line("Nothing to convert: the prices are double precision already.");
            }
            output::line(format_args!(
                "Converted {} in {:.1} s: {} rows copied in {} batches (longest {:.3} s, row locks only); \
                 the longest swap held its table for {:.3} s.\nNext: `intake migrate` records convert_decimal_to_float without rewriting.",
                report.converted.join(" and "),
                report.total_seconds,
                report.rows_copied,
                report.batches,
                report.longest_batch_seconds,
                report.longest_swap_seconds,
            ))
        }
        MarketCommand::DeleteInstrument { symbol } => {
            let id = market_data::instrument_id(&database, symbol)?;
            market_data::delete_instrument(&database, id)?;
            output::line(format_args!("Deleted instrument {symbol} (id {id}) and its alert rules."))
        }
    }
}

fn changed(json: bool, verb: &str, n: usize, asked: usize) -> anyhow::Result<()> {
    if json {
        return output::json(&serde_json::json!({ verb: n, "asked": asked }));
    }
    output::line(format_args!("{n} of {asked} rows {verb} (the others did not exist or already were)."))
}

fn print_ticks(json: bool, ticks: &[Tick]) -> anyhow::Result<()> {
    if json {
        return output::json(&ticks);
    }
    let mut table = output::table(&["Id", "Instrument", "Time (UTC)", "Price", "Bid", "Ask", "Volume", "Deleted at"]);
    let price = |p: Option<f64>| p.and_then(market_data::price::to_text).unwrap_or_default();
    for tick in ticks {
        table.add_row(vec![
            tick.id.to_string(),
            tick.instrument_id.to_string(),
            tick.timestamp.format("%Y-%m-%d %H:%M:%S").to_string(),
            price(Some(tick.price)),
            price(tick.bid),
            price(tick.ask),
            tick.volume.to_string(),
            tick.deleted_at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
        ]);
    }
    output::line(&table)
}
