//! `cargo xtask reliability`: builds `intake` and the suite (crates/reliability), then runs
//! it; `cargo xtask test` runs the short version ([`short`]).

use crate::shell::{self, step};

const USAGE: &str = "\
cargo xtask reliability [crash] [ARGS]

Builds intake and the reliability suite (crates/reliability) and runs it on both backends
(PostgreSQL from TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres):

  crash   every writing command (migrate, the executions, upload and ALM imports, key
          rotation) killed with SIGKILL at random moments, 100 trials per operation and
          backend; each database is judged against the states before and after the
          command, then the command is run again and must finish. The connector service
          too, killed under a stream of POSTs: every acknowledged write must be stored.
          Prints the table and writes it to target/reliability/crash.md.

ARGS go to the suite (`--trials N`, `--backend sqlite|postgres`, `--operation TEXT`,
`--seed N`); see `target/debug/reliability crash --help`.
";

/// Trials per operation and backend in `cargo xtask test`.
const SHORT_TRIALS: &str = "5";

pub fn run(args: &[String]) -> Result<(), String> {
    let (suite, rest) = match args.first().map(String::as_str) {
        None => ("crash", &args[..0]),
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            return Ok(());
        }
        Some("crash") => ("crash", &args[1..]),
        Some(other) if other.starts_with('-') => ("crash", args),
        Some(other) => return Err(format!("unknown suite `{other}`\n\n{USAGE}")),
    };
    build()?;
    crash(suite, rest)
}

/// The crash suite, 5 trials per operation and backend.
pub fn short() -> Result<(), String> {
    build()?;
    crash("crash", &["--trials".to_owned(), SHORT_TRIALS.to_owned()])
}

fn build() -> Result<(), String> {
    step(
        "build intake and the reliability suite",
        shell::cargo().args([
            "build",
            "--locked",
            "--package",
            "intake",
            "--package",
            "connector-service",
            "--package",
            "reliability",
        ]),
    )
}

fn crash(suite: &str, args: &[String]) -> Result<(), String> {
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
            .arg("--markdown")
            .arg(report.join(format!("{suite}.md"))),
    )
}
