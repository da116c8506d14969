//! `intake`, the operator CLI: one binary for migrations, imports and maintenance, shaped
//! `intake <domain> <verb>` (`intake executions import`) beside `intake migrate`. It parses
//! arguments, opens the database named by `--database-url` / `DATABASE_URL` (default: the
//! embedded SQLite file `./data/intake.db`) and renders what the library crates return as
//! tables or, with `--json`, as JSON. It holds no domain logic.

use std::io::IsTerminal as _;

mod alm;
mod executions;
mod imports;
mod market;
mod migrate;
mod output;
mod storage;
mod uploads;

use clap::{Parser, Subcommand};

/// The embedded default: an SQLite file under `./data/` of the working directory, so intake
/// works with no server. A choice of the CLI; the libraries take whatever URL they are given.
const DEFAULT_DATABASE_URL: &str = "sqlite://data/intake.db";

/// Gets outside data into a database safely.
#[derive(Debug, Parser)]
#[command(name = "intake", version, about, long_about = None)]
struct Cli {
    /// Database to use: postgres://user@host/db, sqlite://path/to/file.db, a file path, or :memory:.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Log more (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply, inspect, revert or create schema migrations.
    Migrate(migrate::MigrateArgs),
    /// NinjaTrader executions: import exports without duplicates, purge the ledger.
    Executions(executions::ExecutionsArgs),
    /// ALM: import IB Flex reports in append mode; status, history, gaps, configuration.
    Alm(alm::AlmArgs),
    /// Market data: ticks with 4-decimal prices, soft delete, restore, purge.
    MarketData(market::MarketArgs),
    /// Persistent storage: make a secret key, rotate the stored secrets to a new one.
    Storage(storage::StorageArgs),
    /// Uploads: store attributes, historical sales, weekly actuals; their context; table statistics.
    Uploads(uploads::UploadsArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match &cli.command {
        Command::Migrate(args) => migrate::execute(&cli.database_url, cli.json, args),
        Command::Executions(args) => executions::execute(&cli.database_url, cli.json, args),
        Command::Alm(args) => alm::execute(&cli.database_url, cli.json, args),
        Command::MarketData(args) => market::execute(&cli.database_url, cli.json, args),
        Command::Storage(args) => storage::execute(&cli.database_url, cli.json, args),
        Command::Uploads(args) => uploads::execute(&cli.database_url, cli.json, args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `intake ... | head` closing the pipe early is not a failure.
        Err(error) if output::is_broken_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", render_error(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and each cause the messages before it do not already include, then what to type
/// about it, when the CLI knows.
pub(crate) fn render_error(error: &anyhow::Error) -> String {
    let mut rendered = format!("error: {error}");
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !rendered.contains(cause.trim()) {
            rendered.push_str(&format!("\n  caused by: {cause}"));
        }
    }
    if let Some(hint) = error.chain().find_map(hint) {
        rendered.push_str(&format!("\nhint: {hint}"));
    }
    rendered
}

/// The hint for one error of the chain, if the CLI has one.
fn hint(cause: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if let Some(error) = cause.downcast_ref::<migration_core::Error>() {
        return migration_hint(error);
    }
    let import_error = match (cause.downcast_ref::<alm_tracking::Error>(), cause.downcast_ref::<upload::Error>()) {
        (Some(alm_tracking::Error::Import(error)), _) | (_, Some(upload::Error::Import(error))) => Some(error),
        (Some(alm_tracking::Error::Database(error)), _) | (_, Some(upload::Error::Database(error))) => {
            return migration_hint(error);
        }
        (_, Some(upload::Error::TooLarge { .. })) => return Some("raise the limit with --max-bytes BYTES"),
        _ => cause.downcast_ref::<import_core::Error>(),
    };
    match import_error? {
        import_core::Error::NotMigrated { .. } => Some("run `intake migrate` first"),
        import_core::Error::Database(error) => migration_hint(error),
        import_core::Error::Conflict { .. } => Some("pass --replace to overwrite what was uploaded before"),
        import_core::Error::Query { source, .. } if migration_core::is_disk_failure(source) => Some(
            "SQLite could not write: the disk is full or failing. Make room, then import again (nothing was written)",
        ),
        import_core::Error::Query { source, .. } if migration_core::is_lost_connection(source) => Some(
            "the database connection was lost (the server restarted?); import again once it answers (nothing was written)",
        ),
        _ => None,
    }
}

/// The flags and commands that act on a library error: the library speaks of what to do, the
/// CLI of how to type it.
fn migration_hint(error: &migration_core::Error) -> Option<&'static str> {
    use migration_core::Error;
    Some(match error {
        // The server answered, but is starting or stopping (SQLSTATE 57P03).
        Error::Connect { source, .. } if source.to_string().contains("the database system is") => {
            "the server is starting or shutting down: try again once it is up (nothing was written)"
        }
        Error::Connect { .. } => "pass another --database-url, or set DATABASE_URL",
        Error::DomainRequired { .. } => "name it with --domain DOMAIN",
        Error::ModifiedMigration { .. } => {
            "`intake migrate new DOMAIN NAME` creates a new migration; `intake migrate rebless VERSION --domain DOMAIN --reason TEXT` accepts the edit"
        }
        Error::UnknownAppliedMigration { .. } => {
            "`intake migrate rollback --domain DOMAIN` reverts it; --allow-missing goes on without it"
        }
        Error::RollbackTargetNotApplied { .. } => {
            "`intake migrate status` lists the applied versions; --to 0 reverts everything"
        }
        Error::OutOfOrder { .. } => "--allow-out-of-order applies it anyway",
        Error::DuplicateVersion { .. } => "--allow-duplicate-versions accepts both",
        Error::LockTimeout { .. } => "--lock-timeout SECONDS waits longer",
        Error::SingleTransactionImpossible { .. } => "run without --single-transaction",
        Error::ReasonRequired => "give it with --reason TEXT",
        Error::Scratch { .. } => {
            "connect as a user with CREATEDB; `intake migrate status --no-drift` skips the drift check"
        }
        _ => return None,
    })
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,migration_core=info,intake=info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .compact()
        .init();
}

#[cfg(test)]
mod tests {
    use super::migration_hint;
    use migration_core::{DatabaseUrl, Error};

    fn connect_error(message: &str) -> Error {
        Error::Connect {
            url: DatabaseUrl::parse("postgres://postgres@127.0.0.1/x").unwrap(),
            source: diesel::ConnectionError::BadConnection(message.to_owned()),
        }
    }

    /// A server that answers but is starting or stopping needs waiting for, not another URL.
    #[test]
    fn a_server_starting_or_stopping_is_waited_for_not_replaced() {
        let starting = connect_error("FATAL:  the database system is starting up");
        assert_eq!(
            migration_hint(&starting),
            Some("the server is starting or shutting down: try again once it is up (nothing was written)")
        );
        let refused = connect_error("connection refused");
        assert_eq!(migration_hint(&refused), Some("pass another --database-url, or set DATABASE_URL"));
    }
}
