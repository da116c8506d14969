//! `upload-service`: receives the files the upload page checked, checks them again with the
//! same validator, and writes each in one transaction.
//!
//! `POST /uploads/{kind}` takes the file as the request body, streamed (never collected
//! whole), and its context as query parameters (`workflow_id`, `week_number`, `replace`,
//! `name`); `GET /uploads/{kind}/context` answers the JSON context the page checks the same
//! file against. Kinds: `store_attributes`, `historical_sales`, `weekly_actuals` (the
//! `upload` crate) and `ninjatrader_executions` (`execution-dedup`). With `--page DIR` it also
//! serves the upload page (`DIR/www`, `DIR/pkg`: what `cargo xtask wasm` builds in `wasm/`).
//!
//! Port 8021 by default, on the embedded SQLite file `./data/intake.db` or on `DATABASE_URL`,
//! applying its domains' migrations at start-up.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use migration_core::{Database, Migrator};
use service_kit::ServiceArgs;

mod routes;

const NAME: &str = "upload-service";
const DEFAULT_PORT: u16 = 8021;

#[derive(Debug, Parser)]
#[command(
    name = NAME,
    about = "The upload service: store attributes, historical sales, weekly actuals and NinjaTrader exports, streamed over HTTP, checked by the validator the upload page runs, each written in one transaction.",
    after_help = "Listens on 127.0.0.1:8021 unless --listen says otherwise; applies its migrations at start-up unless --no-migrate.\n\nRoutes: POST /uploads/{kind}?workflow_id=..&week_number=..&replace=true&name=.. (the file as the body), GET /uploads/{kind}/context, GET /health; with --page, the upload page at /."
)]
struct Cli {
    #[command(flatten)]
    service: ServiceArgs,
    /// Serve the upload page from this folder's www/ and pkg/ (`cargo xtask wasm` builds them
    /// in wasm/), at /.
    #[arg(long, value_name = "DIR")]
    page: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::init_tracing();
    match start(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn start(cli: Cli) -> Result<(), String> {
    let args = cli.service;
    let address = args.address(DEFAULT_PORT);
    if let Some(page) = &cli.page {
        let index = page.join("www").join("index.html");
        if !index.is_file() {
            return Err(format!(
                "--page {}: there is no {}; run `cargo xtask wasm` to build the page, and pass the folder holding www/ and pkg/",
                page.display(),
                index.display()
            ));
        }
    }
    // Migrations run without a time limit, on a connection of their own.
    let db = Database::connect(&args.database_url).map_err(|e| e.to_string())?;
    let migrator = Migrator::new([&upload::MIGRATIONS, &execution_dedup::MIGRATIONS]).map_err(|e| e.to_string())?;
    let applied = migrator.prepare(&db, !args.no_migrate).map_err(|e| e.to_string())?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "applied the upload and execution_dedup migrations");
    }
    drop(db);
    // An upload's statements stop a tenth before the request's own limit (PostgreSQL
    // statement_timeout, SQLite busy_timeout), so the answer can say nothing was written.
    let limit = std::time::Duration::from_millis(args.request_timeout * 900);
    let db = Database::connect_limited(&args.database_url, limit).map_err(|e| e.to_string())?;
    let body_limit = args.body_limit_or(upload::DEFAULT_MAX_BYTES as usize) as u64;
    let router = routes::router(db, body_limit, limit, cli.page.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(32)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(service_kit::serve(router, address, &args, NAME)).map_err(|e| format!("{address}: {e}"))
}
