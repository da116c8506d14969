//! `reliability`: intake's promise that nothing is half-written, tested by force. Run through
//! `cargo xtask reliability` (which builds what it needs); `cargo xtask test` runs a short
//! version.
//!
//! `reliability crash` kills every writing command with SIGKILL at random moments, on both
//! backends, and judges each database against the states before and after the command (see
//! [`crash`]); then it prints a table: operation, backend, trials, outcomes, anything lost.

mod concurrency;
mod crash;
mod faults;
mod hostile;
mod ops;
mod report;
mod state;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use migration_core::Backend;

/// intake's reliability suite.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Suite,
}

#[derive(Subcommand)]
enum Suite {
    /// Kill every writing command at random moments and judge what it left.
    ///
    /// Each operation is run once to its end on a copy of its starting database (the state
    /// after it, and how long it takes); each trial runs it on a fresh copy, sends SIGKILL
    /// after a random delay up to 1.2 times that, and judges the database: the state before,
    /// the state after, or (where the operation is made of units that each commit) a
    /// boundary between units; anything else is LOST. The operation is then run again and
    /// must finish with the state after it, with no clean-up and no lock left behind.
    Crash {
        /// Trials per operation and backend.
        #[arg(long, default_value_t = 100)]
        trials: u32,
        /// Only the operations whose name contains this text.
        #[arg(long)]
        operation: Option<String>,
        /// The random seed (printed; give it again to repeat a run's delays).
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        common: Common,
    },
    /// Many processes on one database at once, each result checked exactly.
    ///
    /// 8 executions importers on overlapping NinjaTrader exports and 8 ALM importers on
    /// overlapping month-to-date files (every row stored once, the counts adding up); 4
    /// migrators at once on an empty database (each migration once, no drift); the
    /// connector service under 64 connections of reads and If-Match increments (no error,
    /// no lost update, p99 latency, memory sampled each second).
    Concurrency {
        /// Runs of each importer scenario.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Runs of the four migrators.
        #[arg(long, default_value_t = 20)]
        migrator_runs: u32,
        /// Seconds of service load.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[command(flatten)]
        common: Common,
    },
    /// The database goes away, the disk fills up, another writer holds the lock.
    ///
    /// PostgreSQL (a cluster of the suite's own) crashed and restarted under the connector
    /// service's load (503s while it is down, no hang, served again after, without a
    /// restart of the service) and during imports (a clear failure, the database as before,
    /// the import again completes); an SQLite import on a full disk (a clear failure, the
    /// database intact); an SQLite import while another connection holds the write lock
    /// (it says it waits, then completes).
    Faults {
        /// Imports crashed by a PostgreSQL restart.
        #[arg(long, default_value_t = 10)]
        runs: u32,
        /// Seconds of service load (the server goes down after 2, for 2; the pool may take up
        /// to twice its connect timeout, 10 s, to serve again).
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[command(flatten)]
        common: Common,
    },
    /// What no well-behaved client sends, and names that look like SQL.
    ///
    /// Through HTTP to the connector and upload services: a slow client (a byte a second), a
    /// body over the limit, a body cut off mid-way, malformed UTF-8, JSON nested 100 000
    /// deep, another media type; each must be refused with its 4xx and a problem+json body,
    /// nothing written. Through the CLI: an IB Flex file with an entity-expansion bomb and
    /// one with an external entity (a listener checks nothing is fetched). Quotes,
    /// semicolons and comment markers in the text fields of every kind must be stored
    /// verbatim.
    Hostile {
        #[command(flatten)]
        common: Common,
    },
}

/// What every suite takes.
#[derive(clap::Args)]
struct Common {
    /// Only these backends (default both).
    #[arg(long, value_enum)]
    backend: Vec<BackendArg>,
    /// The `intake` binary.
    #[arg(long, default_value = "target/debug/intake")]
    intake: PathBuf,
    /// The `connector-service` binary.
    #[arg(long, default_value = "target/debug/connector-service")]
    connector_service: PathBuf,
    /// The `upload-service` binary.
    #[arg(long, default_value = "target/debug/upload-service")]
    upload_service: PathBuf,
    /// The `demo-config-service` binary.
    #[arg(long, default_value = "target/debug/demo-config-service")]
    demo_config_service: PathBuf,
    /// Also write the table as Markdown to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

impl Common {
    fn backends(&self) -> Vec<Backend> {
        if self.backend.is_empty() {
            return vec![Backend::Sqlite, Backend::Postgres];
        }
        self.backend
            .iter()
            .map(|b| match b {
                BackendArg::Sqlite => Backend::Sqlite,
                BackendArg::Postgres => Backend::Postgres,
            })
            .collect()
    }

    /// The binaries, checked, and a folder for generated inputs.
    fn env(&self) -> Result<(crash::Env, tempfile::TempDir), String> {
        crash::require(&self.intake)?;
        crash::require(&self.connector_service)?;
        crash::require(&self.upload_service)?;
        crash::require(&self.demo_config_service)?;
        let files = tempfile::Builder::new().prefix("intake-reliability-").tempdir().map_err(|e| e.to_string())?;
        Ok((crash::Env { intake: self.intake.clone(), files: files.path().to_path_buf() }, files))
    }

    fn write(&self, text: &str) -> Result<(), String> {
        println!("\n{text}");
        match &self.markdown {
            Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

/// Small, fast, reproducible numbers (a 64-bit LCG's high bits).
pub struct Rng(u64);

impl Rng {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) % n.max(1)
    }
}

/// What the trials of one operation on one backend found.
pub struct Tally {
    operation: &'static str,
    backend: Backend,
    took: Duration,
    trials: u32,
    outcomes: std::collections::BTreeMap<&'static str, u32>,
    lost: Vec<String>,
    not_recovered: Vec<String>,
    slowest_rerun: Duration,
}

impl Tally {
    fn new(operation: &'static str, backend: Backend, took: Duration) -> Tally {
        Tally {
            operation,
            backend,
            took,
            trials: 0,
            outcomes: Default::default(),
            lost: Vec::new(),
            not_recovered: Vec::new(),
            slowest_rerun: Duration::ZERO,
        }
    }

    fn add(
        &mut self,
        trial: u32,
        delay: Duration,
        outcome: crash::Outcome,
        recovered: Result<(), String>,
        rerun: Duration,
    ) {
        self.trials += 1;
        *self.outcomes.entry(outcome.label()).or_default() += 1;
        if let crash::Outcome::Lost(why) = &outcome {
            self.lost.push(format!("trial {trial} (killed after {delay:?}): {why}"));
        }
        if let Err(why) = recovered {
            self.not_recovered.push(format!("trial {trial} (killed after {delay:?}): the run again: {why}"));
        }
        self.slowest_rerun = self.slowest_rerun.max(rerun);
    }

    fn failed(&self) -> bool {
        !self.lost.is_empty() || !self.not_recovered.is_empty()
    }

    fn outcomes(&self) -> String {
        self.outcomes.iter().map(|(label, n)| format!("{n} {label}")).collect::<Vec<_>>().join(", ")
    }
}

/// The backend as the tables name it.
pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    }
}

/// The results as a Markdown table.
fn table(tallies: &[Tally]) -> String {
    let mut out = String::from(
        "| operation | backend | run alone | trials | outcomes after SIGKILL | lost | recovered by running again | slowest re-run |\n|---|---|---|---|---|---|---|---|\n",
    );
    for t in tallies {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} s | {} | {} | {} | {}/{} | {:.2} s |",
            t.operation,
            backend_name(t.backend),
            t.took.as_secs_f64(),
            t.trials,
            t.outcomes(),
            t.lost.len(),
            t.trials as usize - t.not_recovered.len(),
            t.trials,
            t.slowest_rerun.as_secs_f64(),
        );
    }
    out
}

/// The trials of one operation on a backend.
type Trials<'a> = dyn Fn(Backend, &mut Rng) -> Result<Tally, String> + 'a;

fn crash_suite(trials: u32, operation: Option<String>, seed: Option<u64>, common: &Common) -> Result<bool, String> {
    let (env, _files) = common.env()?;
    ops::write_inputs(&env)?;
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!(
        "reliability crash: seed {seed} (--seed {seed} repeats these delays), {trials} trials per operation and backend"
    );
    let mut rng = Rng(seed);
    let backends = common.backends();
    let chosen = |name: &str| operation.as_deref().is_none_or(|f| name.contains(f));
    let operations: Vec<_> = ops::all().into_iter().filter(|o| chosen(o.name)).collect();
    let service = chosen(crash::service::NAME);
    if operations.is_empty() && !service {
        return Err(format!("no operation's name contains {:?}", operation.unwrap_or_default()));
    }
    let mut runs: Vec<Box<Trials<'_>>> = Vec::new();
    for operation in operations {
        let env = &env;
        runs.push(Box::new(move |backend, rng: &mut Rng| crash::run(env, &operation, backend, trials, rng)));
    }
    if service {
        let env = &env;
        runs.push(Box::new(move |backend, rng: &mut Rng| {
            crash::service::run(env, &common.connector_service, backend, trials, rng)
        }));
    }
    let mut tallies = Vec::new();
    for run in &runs {
        for &backend in &backends {
            let tally = run(backend, &mut rng)?;
            eprintln!(
                "{} on {}: {} trials: {}; lost {}; recovered {}/{}",
                tally.operation,
                backend_name(backend),
                tally.trials,
                tally.outcomes(),
                tally.lost.len(),
                tally.trials as usize - tally.not_recovered.len(),
                tally.trials
            );
            for line in tally.lost.iter().chain(&tally.not_recovered) {
                eprintln!("  {line}");
            }
            tallies.push(tally);
        }
    }
    common.write(&table(&tallies))?;
    Ok(!tallies.iter().any(Tally::failed))
}

fn faults_suite(runs: u32, seconds: u64, common: &Common) -> Result<bool, String> {
    let (env, _files) = common.env()?;
    ops::write_inputs(&env)?;
    let mut rows = Vec::new();
    let backends = common.backends();
    if backends.contains(&Backend::Postgres) {
        let cluster = faults::Cluster::start()?;
        rows.push(faults::service_restart(&env, &common.connector_service, &cluster, seconds)?);
        rows.push(faults::import_restart(&env, &cluster, runs, &mut Rng(runs as u64 * 7919))?);
    }
    if backends.contains(&Backend::Sqlite) {
        rows.push(faults::disk_full(&env)?);
        rows.push(faults::lock_wait(&env)?);
    }
    for row in &rows {
        eprintln!("{}: {} failed; {}", row.scenario, row.failures.len(), row.figures);
        for failure in &row.failures {
            eprintln!("  {failure}");
        }
    }
    common.write(&report::table(&rows))?;
    Ok(!rows.iter().any(report::Row::failed))
}

fn hostile_suite(common: &Common) -> Result<bool, String> {
    let (env, _files) = common.env()?;
    let mut rows = Vec::new();
    for backend in common.backends() {
        let mut found = hostile::http(&env, &common.connector_service, &common.upload_service, backend)?;
        found.push(hostile::xml(&env, backend)?);
        found.push(hostile::verbatim(&env, &common.connector_service, &common.demo_config_service, backend)?);
        for row in found {
            eprintln!("{} on {}: {} failed", row.scenario, backend_name(backend), row.failures.len());
            for failure in &row.failures {
                eprintln!("  {failure}");
            }
            rows.push(row);
        }
    }
    common.write(&report::table(&rows))?;
    Ok(!rows.iter().any(report::Row::failed))
}

fn concurrency_suite(runs: u32, migrator_runs: u32, seconds: u64, common: &Common) -> Result<bool, String> {
    let (env, _files) = common.env()?;
    let mut rows = Vec::new();
    for backend in common.backends() {
        for row in [
            concurrency::executions(&env, backend, runs)?,
            concurrency::alm(&env, backend, runs)?,
            concurrency::migrators(&env, backend, migrator_runs)?,
            concurrency::service(&env, &common.connector_service, backend, 64, seconds)?,
        ] {
            eprintln!("{} on {}: {} failed; {}", row.scenario, backend_name(backend), row.failures.len(), row.figures);
            for failure in &row.failures {
                eprintln!("  {failure}");
            }
            rows.push(row);
        }
    }
    common.write(&report::table(&rows))?;
    Ok(!rows.iter().any(report::Row::failed))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Suite::Crash { trials, operation, seed, common } => crash_suite(*trials, operation.clone(), *seed, common),
        Suite::Concurrency { runs, migrator_runs, seconds, common } => {
            concurrency_suite(*runs, *migrator_runs, *seconds, common)
        }
        Suite::Hostile { common } => hostile_suite(common),
        Suite::Faults { runs, seconds, common } => faults_suite(*runs, *seconds, common),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("reliability: something was lost or not recovered (above)");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("reliability: {message}");
            ExitCode::FAILURE
        }
    }
}
