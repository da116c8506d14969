//! `cargo xtask bench market-data`: seed 001's claims measured on both backends in one run,
//! through the `market_bench` example of `crates/market-data` (see its docs for the steps).

use std::process::Command;

use crate::shell::{self, step};

const USAGE: &str = "\
cargo xtask bench market-data [--rows N] [--insert-rows N]

On a fresh SQLite file and a fresh PostgreSQL database: INSERT rows/s into market_data and
alert_logs before and after the seed's index migrations (its 30-50 % claim); SUM, AVG, STDDEV
and a VWAP over N prices as DECIMAL(12,4) and as DOUBLE PRECISION (its 2-3x claim); the
conversion migration's time (on PostgreSQL the table is locked ACCESS EXCLUSIVE throughout);
the kept query shapes before and after; on PostgreSQL, the conversion by the migration against
the low-lock path (`intake market-data convert-online`, then the migration) with a writer
inserting throughout, and the longest a write waited on each. Query figures are medians of 5. Writes
target/bench/market-data.md.

Options:
  --rows N         ticks for the calculations and queries (default 1000000)
  --insert-rows N  ticks inserted for the INSERT rates (default 200000)
Environment:
  BENCH_PG_URL     PostgreSQL server (default postgres://postgres@127.0.0.1:5432); database
                   intake_bench_market is created and dropped
";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut passed: Vec<String> = Vec::new();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--rows" | "--insert-rows" => {
                let value = args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
                value.parse::<u64>().map_err(|_| format!("{flag}: `{value}` is not a number"))?;
                passed.extend([flag.clone(), value.clone()]);
            }
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    let pg = std::env::var("BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    step(
        "build the market data bench (release)",
        shell::cargo().args([
            "build",
            "--release",
            "--locked",
            "--package",
            "market-data",
            "--example",
            "market_bench",
        ]),
    )?;
    let tool = shell::target_dir().join("release/examples/market_bench");
    let work = shell::target_dir().join("bench/market");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let sqlite = work.join("market.db");
    super::remove_sqlite(&sqlite);
    let name = "intake_bench_market";
    super::recreate_pg(&pg, name)?;
    let mut tables = Vec::new();
    for url in [format!("sqlite://{}", sqlite.display()), format!("{}/{name}", pg.trim_end_matches('/'))] {
        eprintln!("\n==> market_bench {url}");
        let output = Command::new(&tool).arg(&url).args(&passed).output().map_err(|e| format!("market_bench: {e}"))?;
        if !output.status.success() {
            return Err(format!("market_bench {url} failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        tables.push(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    super::drop_pg(&pg, name);
    super::remove_sqlite(&sqlite);
    let text = tables.join("\n");
    print!("\n{text}");
    let out = shell::target_dir().join("bench/market-data.md");
    std::fs::write(&out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}
