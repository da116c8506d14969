//! `cargo xtask reliability`: builds `intake`, the services and the suite
//! (crates/reliability), then runs it; `cargo xtask test` runs the short versions
//! ([`short`]).

use crate::shell::{self, step};

const USAGE: &str = "\
cargo xtask reliability [SUITE] [ARGS]

Builds intake, the three services and the reliability suite
(crates/reliability) and runs the suites on both backends (PostgreSQL from
TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); with no SUITE,
all of them. Each prints its table and writes it to target/reliability/SUITE.md.

  crash         every writing command (migrate, the executions, upload and ALM imports, key
                rotation) killed with SIGKILL at random moments, 100 trials per operation
                and backend; each database is judged against the states before and after
                the command, then the command is run again and must finish. The connector
                service too, killed under a stream of POSTs: every acknowledged write must
                be stored.
  concurrency   8 executions importers and 8 ALM importers on overlapping files (3 runs),
                4 migrators at once (20 runs), the connector service under 64 connections of
                reads and If-Match increments for 60 s (no error, no lost update, p99,
                memory).
  faults        PostgreSQL (a cluster of the suite's own) crashed and restarted under the
                connector service's load and during 10 imports; an SQLite import on a full
                disk; an SQLite import while another connection holds the write lock.
  hostile       through HTTP to the connector and upload services: a slow client, a body
                over the limit, one cut off, malformed UTF-8, JSON nested 100 000 deep,
                another media type (each its 4xx, nothing written); IB Flex files with an
                entity bomb and an external entity; quotes, semicolons and comment markers
                in every text field of every kind, stored verbatim.

ARGS go to the suite; see `target/debug/reliability SUITE --help`.
";

/// Trials per operation and backend in `cargo xtask test`.
const SHORT_TRIALS: &str = "5";

/// The suites, in the order `cargo xtask reliability` runs them.
const SUITES: [&str; 4] = ["crash", "concurrency", "faults", "hostile"];

pub fn run(args: &[String]) -> Result<(), String> {
    let (suites, rest): (Vec<&str>, &[String]) = match args.first().map(String::as_str) {
        None => (SUITES.to_vec(), &args[..0]),
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            return Ok(());
        }
        Some(suite) if SUITES.contains(&suite) => (vec![suite], &args[1..]),
        Some(other) => return Err(format!("unknown suite `{other}`\n\n{USAGE}")),
    };
    build()?;
    for suite in suites {
        suite_run(suite, rest)?;
    }
    Ok(())
}

/// The short version of every suite (`cargo xtask test`).
pub fn short() -> Result<(), String> {
    build()?;
    suite_run("crash", &["--trials".to_owned(), SHORT_TRIALS.to_owned()])?;
    let args = ["--runs", "1", "--migrator-runs", "2", "--seconds", "5"];
    suite_run("concurrency", &args.map(str::to_owned))?;
    // The service's load lasts its full 15 s: the pool may take up to 10 s to serve again.
    suite_run("faults", &["--runs".to_owned(), "2".to_owned()])?;
    suite_run("hostile", &[])
}

fn build() -> Result<(), String> {
    step(
        "build intake, the services and the reliability suite",
        shell::cargo().args([
            "build",
            "--locked",
            "--package",
            "intake",
            "--package",
            "connector-service",
            "--package",
            "upload-service",
            "--package",
            "demo-config-service",
            "--package",
            "reliability",
        ]),
    )
}

fn suite_run(suite: &str, args: &[String]) -> Result<(), String> {
    let debug = shell::target_dir().join("debug");
    let report = shell::target_dir().join("reliability");
    std::fs::create_dir_all(&report).map_err(|e| format!("{}: {e}", report.display()))?;
    step(
        &format!("reliability {suite} {}", args.join(" ")),
        std::process::Command::new(debug.join("reliability"))
            .arg(suite)
            .args(args)
            .arg("--intake")
            .arg(debug.join("intake"))
            .arg("--connector-service")
            .arg(debug.join("connector-service"))
            .arg("--upload-service")
            .arg(debug.join("upload-service"))
            .arg("--demo-config-service")
            .arg(debug.join("demo-config-service"))
            .arg("--markdown")
            .arg(report.join(format!("{suite}.md"))),
    )
}
