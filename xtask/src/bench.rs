//! `cargo xtask bench dedup`: the execution import against the seed's original designs
//! (`../shared/bench/peers`, Python/SQLAlchemy) and the databases' own bulk loaders, measured
//! in one run on one machine, reported as ratios.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shell::{self, step};

mod alm;
mod market;
mod migrate;
mod payloads;
mod storage;
mod upload;
mod validate;

const USAGE: &str = "\
cargo xtask bench <dedup|validate|migrate|alm|market-data|storage|upload> [OPTIONS]

  validate: the upload validator natively and in Chromium (see `cargo xtask bench validate --help`)
  migrate:  the migration core's overhead, and the schema beside alembic (see `cargo xtask bench migrate --help`)
  alm:      the IB Flex import against the ibflex library (see `cargo xtask bench alm --help`)
  market-data: seed 001's claims, measured (see `cargo xtask bench market-data --help`)
  storage:  seed 002's two services against the FastAPI peer and pgbench (see `cargo xtask bench storage --help`)
  upload:   seed 003's uploads against the SQLAlchemy peer and the bulk loaders (see `cargo xtask bench upload --help`)

cargo xtask bench dedup [OPTIONS]

Imports a generated NinjaTrader export (20 % repeated ids) on PostgreSQL and SQLite with
`intake executions import`: fresh, the same file again (unchanged) and the file grown by 1 %;
then the database's own bulk loader (psql \\copy / sqlite3 .import) writing the rows the fresh
import wrote (ledger and trades) into the same indexed tables; then the peers, peer_dedup.py
(orm, core_exec_many, copy), fresh and re-import. Prints seconds, rows/s, peak memory, the
ratios the execution import issue targets and where the fresh import's time goes (parse,
stage, merge); writes the table to target/bench/dedup.md.

Options:
  --rows N          rows in the generated file (default 1000000)
  --orm-seconds S   stop the ORM peer after S seconds and use its rate (default 60)
  --peers DIR       the peer scripts (default ../shared/bench/peers next to the workspace)
Environment:
  BENCH_PG_URL      PostgreSQL server (default postgres://postgres@127.0.0.1:5432); databases
                    intake_bench, intake_bench_raw and peer_bench are created and dropped
";

pub fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("dedup") => dedup(&args[1..]),
        Some("validate") => validate::run(&args[1..]),
        Some("migrate") => migrate::run(&args[1..]),
        Some("alm") => alm::run(&args[1..]),
        Some("market-data") => market::run(&args[1..]),
        Some("storage") => storage::run(&args[1..]),
        Some("upload") => upload::run(&args[1..]),
        Some("--help" | "-h" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown benchmark `{other}`\n\n{USAGE}")),
    }
}

struct Options {
    rows: u64,
    orm_seconds: u64,
    peers: PathBuf,
    pg: String,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options {
            rows: 1_000_000,
            orm_seconds: 60,
            peers: shell::root().join("../shared/bench/peers"),
            pg: std::env::var("BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"));
            let number = |text: &String| text.parse::<u64>().map_err(|_| format!("{flag}: `{text}` is not a number"));
            match flag.as_str() {
                "--rows" => options.rows = number(value()?)?,
                "--orm-seconds" => options.orm_seconds = number(value()?)?,
                "--peers" => options.peers = PathBuf::from(value()?),
                "--help" | "-h" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
            }
        }
        if !options.peers.join("peer_dedup.py").is_file() {
            return Err(format!("no peer scripts in {} (peer_dedup.py); pass --peers DIR", options.peers.display()));
        }
        Ok(options)
    }

    fn database(&self, name: &str) -> String {
        format!("{}/{name}", self.pg.trim_end_matches('/'))
    }
}

/// One timed run.
struct Measurement {
    tool: String,
    backend: &'static str,
    phase: &'static str,
    seconds: f64,
    rows: u64,
    peak_mb: Option<f64>,
    note: &'static str,
}

impl Measurement {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

fn dedup(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let work = shell::target_dir().join("bench/dedup");
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;
    let python = peer_venv(&work)?;
    let csv = work.join(format!("executions_{}.csv", options.rows));
    if !csv.is_file() {
        step(
            "generate the executions file (peer generator, seeded)",
            Command::new(&python)
                .arg(options.peers.join("gen_executions.py"))
                .arg(options.rows.to_string())
                .arg("0.2")
                .arg(&csv),
        )?;
    }
    // The same export grown by 1 % (new ids, appended), for the re-import of a grown file.
    let extra = work.join(format!("extra_{}.csv", options.rows / 100));
    if !extra.is_file() {
        step(
            "generate 1 % more executions (new ids)",
            Command::new(&python)
                .arg(options.peers.join("gen_executions.py"))
                .arg((options.rows / 100).max(1).to_string())
                .arg("0")
                .arg(&extra)
                .args(["--seed", "7"]),
        )?;
    }
    let base = std::fs::read(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
    let more = std::fs::read(&extra).map_err(|e| format!("{}: {e}", extra.display()))?;
    let more_rows = &more[more.iter().position(|&b| b == b'\n').map_or(0, |at| at + 1)..];
    let grown: Vec<u8> = [base.as_slice(), more_rows].concat();
    let grown_rows = options.rows + more_rows.iter().filter(|&&b| b == b'\n').count() as u64;
    step("build intake (release)", shell::cargo().args(["build", "--release", "--locked", "--package", "intake"]))?;
    let validate_file = build_validate_file()?;
    let intake = shell::target_dir().join("release/intake");
    let mut results = Vec::new();
    let mut breakdown = Vec::new();

    // Parsing alone: the validator with typed records, as the import runs it.
    let (parse_seconds, _) = timed(
        "the validator alone (parse, typed records)",
        Command::new(&validate_file).args(["ninjatrader_executions"]).arg(&csv).arg("--records"),
    )?;

    for backend in ["pg", "sqlite"] {
        // intake: a fresh, migrated database; import, the same file again (unchanged), then
        // the file grown by 1 % under the same name.
        let url = match backend {
            "pg" => {
                recreate_pg(&options.pg, "intake_bench")?;
                options.database("intake_bench")
            }
            _ => {
                let path = work.join("intake_bench.db");
                remove_sqlite(&path);
                format!("sqlite://{}", path.display())
            }
        };
        step("migrate", Command::new(&intake).args(["--database-url", &url, "migrate"]))?;
        let file = work.join("import/executions.csv");
        std::fs::create_dir_all(file.parent().expect("a folder")).map_err(|e| e.to_string())?;
        std::fs::copy(&csv, &file).map_err(|e| format!("copy to {}: {e}", file.display()))?;
        for phase in ["fresh", "unchanged", "grown 1 %"] {
            if phase == "grown 1 %" {
                std::fs::write(&file, &grown).map_err(|e| format!("{}: {e}", file.display()))?;
            }
            let mut command = Command::new(&intake);
            command.args(["--database-url", &url, "--json", "executions", "import"]).arg(&file);
            let report = work.join("import/report.json");
            let (seconds, peak_mb) =
                timed_to(&format!("intake import, {backend}, {phase}"), &mut command, Some(&report))?;
            let json = std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
            if phase == "fresh" {
                let read = json_number(&json, "read_ms")? / 1000.0;
                let merge = json_number(&json, "merge_ms")? / 1000.0;
                breakdown.push((backend, seconds, read, merge));
            }
            results.push(Measurement {
                tool: "intake".into(),
                backend,
                phase,
                seconds,
                rows: if phase == "grown 1 %" { grown_rows } else { options.rows },
                peak_mb,
                note: match phase {
                    "unchanged" => "recognised by its hash, not read",
                    "grown 1 %" => "read on from the last record imported",
                    _ => "",
                },
            });
        }

        // The database's own bulk loader writing the rows the fresh import wrote (the ledger
        // and the new trades) into the same indexed tables, in a fresh database migrated the
        // same way: the least any import of this file must do.
        let tables = ["imported_executions", "trades"];
        let dumps: Vec<PathBuf> = tables.iter().map(|t| work.join(format!("import/{t}_{backend}.csv"))).collect();
        let (tool, mut command) = if backend == "pg" {
            for (table, dump) in tables.iter().zip(&dumps) {
                step(
                    &format!("dump {table}"),
                    Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &url, "-c"]).arg(format!(
                        "\\copy (SELECT * FROM {table} ORDER BY id) TO '{}' WITH (FORMAT csv)",
                        dump.display()
                    )),
                )?;
            }
            recreate_pg(&options.pg, "intake_bench_raw")?;
            let raw = options.database("intake_bench_raw");
            step("migrate", Command::new(&intake).args(["--database-url", &raw, "migrate"]))?;
            let mut command = Command::new("psql");
            command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &raw]);
            for (table, dump) in tables.iter().zip(&dumps) {
                command.arg("-c").arg(format!("\\copy {table} FROM '{}' WITH (FORMAT csv)", dump.display()));
            }
            ("psql \\copy (ledger + trades)", command)
        } else {
            let db = work.join("intake_bench.db");
            for (table, dump) in tables.iter().zip(&dumps) {
                let out = std::fs::File::create(dump).map_err(|e| format!("{}: {e}", dump.display()))?;
                step(
                    &format!("dump {table}"),
                    Command::new("sqlite3").arg("-csv").arg(&db).arg(select_all(table)).stdout(out),
                )?;
            }
            let path = work.join("raw.db");
            remove_sqlite(&path);
            step(
                "migrate",
                Command::new(&intake).args(["--database-url", &format!("sqlite://{}", path.display()), "migrate"]),
            )?;
            let mut command = Command::new("sqlite3");
            command.arg(&path);
            for (table, dump) in tables.iter().zip(&dumps) {
                command.arg(format!(".import --csv {} {table}", dump.display()));
            }
            ("sqlite3 .import (ledger + trades)", command)
        };
        let (seconds, peak_mb) = timed(&format!("{tool}, {backend}"), &mut command)?;
        results.push(Measurement {
            tool: tool.into(),
            backend,
            phase: "fresh",
            seconds,
            rows: options.rows,
            peak_mb,
            note: "the fresh import's final rows, into the same indexed tables",
        });

        // The peers, each on its own fresh table (the script resets it), then re-import.
        recreate_pg(&options.pg, "peer_bench")?;
        let methods: &[&str] =
            if backend == "pg" { &["core_exec_many", "copy", "orm"] } else { &["core_exec_many", "orm"] };
        for &method in methods {
            let phases: &[&str] = if method == "orm" { &["fresh"] } else { &["fresh", "re-import"] };
            for &phase in phases {
                let mut command = Command::new(&python);
                command
                    .arg(options.peers.join("peer_dedup.py"))
                    .args(["--method", method, "--db", backend])
                    .env("PEER_DATA_DIR", &work)
                    .env(
                        "PEER_PG_URL",
                        format!(
                            "postgresql+psycopg://{}",
                            options.database("peer_bench").trim_start_matches("postgres://")
                        ),
                    );
                if phase == "re-import" {
                    command.arg("--no-reset");
                }
                if method == "orm" {
                    command.args(["--max-seconds", &options.orm_seconds.to_string()]);
                }
                command.arg(&csv);
                let line = peer_output(&format!("peer {method}, {backend}, {phase}"), &mut command)?;
                let capped = json_field(&line, "capped") == Some("true");
                results.push(Measurement {
                    tool: format!("peer {method}"),
                    backend,
                    phase,
                    seconds: json_number(&line, "seconds")?,
                    rows: json_number(&line, "rows_read")? as u64,
                    peak_mb: None,
                    note: if capped { "stopped early; its rate is used" } else { "" },
                });
            }
        }
    }
    for name in ["intake_bench", "intake_bench_raw", "peer_bench"] {
        drop_pg(&options.pg, name);
    }
    let report = render(&options, &results, parse_seconds, &breakdown);
    print!("{report}");
    let path = shell::target_dir().join("bench/dedup.md");
    std::fs::write(&path, &report).map_err(|e| format!("write {}: {e}", path.display()))?;
    eprintln!("\nwritten to {}", path.display());
    Ok(())
}

fn render(
    options: &Options,
    results: &[Measurement],
    parse_seconds: f64,
    breakdown: &[(&str, f64, f64, f64)],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Execution import, {} rows (20 % repeated ids)\n", options.rows);
    let _ = writeln!(out, "| tool | db | phase | seconds | rows/s | peak MB | note |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for m in results {
        let peak = m.peak_mb.map(|mb| format!("{mb:.0}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.0} | {} | {} |",
            m.tool,
            m.backend,
            m.phase,
            m.seconds,
            m.rate(),
            peak,
            m.note
        );
    }
    let find = |tool: &str, backend: &str, phase: &str| {
        results.iter().find(|m| m.tool == tool && m.backend == backend && m.phase == phase)
    };
    let _ = writeln!(out, "\n## Targets (ratios within this run)\n");
    let _ = writeln!(out, "| target | db | measured | met |");
    let _ = writeln!(out, "|---|---|---|---|");
    let mut line = |target: &str, backend: &str, measured: f64, unit: &str, met: bool| {
        let _ = writeln!(out, "| {target} | {backend} | {measured:.2}{unit} | {} |", if met { "yes" } else { "NO" });
    };
    for backend in ["pg", "sqlite"] {
        let Some(ours) = find("intake", backend, "fresh") else { continue };
        let loader =
            if backend == "pg" { "psql \\copy (ledger + trades)" } else { "sqlite3 .import (ledger + trades)" };
        if let Some(raw) = find(loader, backend, "fresh") {
            let ratio = ours.seconds / raw.seconds;
            line(
                "fresh within 1.25× of the bulk loader's time for the same rows (ours / its)",
                backend,
                ratio,
                "×",
                ratio <= 1.25,
            );
        }
        if let Some(core) = find("peer core_exec_many", backend, "fresh") {
            let ratio = core.seconds / ours.seconds;
            line("≥ 2× core_exec_many (its time / ours)", backend, ratio, "×", ratio >= 2.0);
        }
        if let Some(copy) = find("peer copy", backend, "fresh") {
            let ratio = copy.seconds / ours.seconds;
            line("faster than the copy peer (its time / ours)", backend, ratio, "×", ratio > 1.0);
        }
        if let Some(orm) = find("peer orm", backend, "fresh") {
            let ratio = ours.rate() / orm.rate();
            line("≥ 50× the ORM peer (rows/s)", backend, ratio, "×", ratio >= 50.0);
        }
        if let Some(unchanged) = find("intake", backend, "unchanged") {
            let share = unchanged.seconds / ours.seconds * 100.0;
            line("unchanged re-import under 5 % of the fresh import", backend, share, " %", share < 5.0);
        }
        if let Some(grown) = find("intake", backend, "grown 1 %") {
            let share = grown.seconds / ours.seconds * 100.0;
            line("1 %-grown re-import under 10 % of the fresh import", backend, share, " %", share < 10.0);
        }
        for phase in ["fresh", "unchanged", "grown 1 %"] {
            if let Some(peak) = find("intake", backend, phase).and_then(|m| m.peak_mb) {
                line(&format!("peak memory under 100 MB ({phase})"), backend, peak, " MB", peak < 100.0);
            }
        }
    }
    let _ = writeln!(out, "\n## Where the fresh import's time goes\n");
    let _ = writeln!(
        out,
        "| db | total s | parse (validator alone) | stage (read − parse) | merge + commit | rest (start-up, connect, history) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for &(backend, total, read, merge) in breakdown {
        let pct = |part: f64| format!("{part:.2} s ({:.0} %)", part / total * 100.0);
        let _ = writeln!(
            out,
            "| {backend} | {total:.2} | {} | {} | {} | {} |",
            pct(parse_seconds),
            pct((read - parse_seconds).max(0.0)),
            pct(merge),
            pct((total - read - merge).max(0.0))
        );
    }
    let _ = writeln!(
        out,
        "\nintake writes every new fill to `trades` (16 columns; primary key and UNIQUE execution id) and its id to the ledger \
         (primary key, UNIQUE execution id, csv_filename and import_timestamp indexes); the peers write the ledger only; the \
         bulk loader writes both. The parse figure is a separate process (the validator alone), so it includes its start-up."
    );
    out
}

/// The validator alone (`crates/upload-validator/examples/validate_file.rs`), built for
/// release with every kind (`ib-flex` too): the native side of `bench validate`, the parse
/// figure of `bench dedup` and `bench alm`.
fn build_validate_file() -> Result<PathBuf, String> {
    step(
        "build the validator alone (release, every kind)",
        shell::cargo().args([
            "build",
            "--release",
            "--locked",
            "--package",
            "upload-validator",
            "--features",
            "ib-flex",
            "--example",
            "validate_file",
        ]),
    )?;
    Ok(shell::target_dir().join("release/examples/validate_file"))
}

/// A virtual environment with the peers' dependencies, made once under target/.
fn peer_venv(work: &Path) -> Result<PathBuf, String> {
    let venv = work.join("peer_venv");
    let python = venv.join("bin/python");
    if !venv.join("bin/alembic").is_file() {
        step("python venv for the peers", Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        step(
            "peer dependencies (sqlalchemy, psycopg, alembic)",
            Command::new(venv.join("bin/pip")).args(["install", "-q", "sqlalchemy", "psycopg[binary]", "alembic"]),
        )?;
    }
    Ok(python)
}

/// Every column of `table` for `sqlite3 .import`, which reads an empty CSV field as '' (it has
/// no NULL): the one nullable column a CHECK constrains, `trades.trade_validation`, is written
/// as 'Valid' (the same size and index work).
fn select_all(table: &str) -> String {
    match table {
        "trades" => {
            "SELECT id, execution_id, account, instrument, action, quantity, price_e8, executed_at, entry_exit, \
                     position, order_id, name, commission_e8, rate_e8, connection, coalesce(trade_validation, 'Valid') \
                     FROM trades ORDER BY id"
                .to_owned()
        }
        _ => format!("SELECT * FROM {table} ORDER BY id"),
    }
}

/// Wall seconds and peak resident memory of a command, through GNU time.
fn timed(name: &str, command: &mut Command) -> Result<(f64, Option<f64>), String> {
    timed_to(name, command, None)
}

/// The same, its standard output written to `stdout` (else discarded).
fn timed_to(name: &str, command: &mut Command, stdout: Option<&Path>) -> Result<(f64, Option<f64>), String> {
    let stats = std::env::temp_dir().join(format!("intake-bench-{}.time", std::process::id()));
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped.args(["-f", "%e %M", "-o"]).arg(&stats).arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    match stdout {
        Some(path) => wrapped.stdout(std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?),
        None => wrapped.stdout(std::process::Stdio::null()),
    };
    step(name, &mut wrapped)?;
    let text = std::fs::read_to_string(&stats).map_err(|e| format!("{name}: read /usr/bin/time output: {e}"))?;
    let mut fields = text.split_whitespace();
    let seconds = fields.next().and_then(|s| s.parse().ok()).ok_or(format!("{name}: no time in {text:?}"))?;
    let peak_mb = fields.next().and_then(|kb| kb.parse::<f64>().ok()).map(|kb| kb / 1024.0);
    Ok((seconds, peak_mb))
}

/// The JSON line a peer script prints.
fn peer_output(name: &str, command: &mut Command) -> Result<String, String> {
    eprintln!("\n==> {name}");
    let output = command.output().map_err(|e| format!("{name}: cannot start: {e}"))?;
    if !output.status.success() {
        return Err(format!("{name} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line =
        stdout.lines().rev().find(|l| l.starts_with('{')).ok_or(format!("{name}: no JSON line in {stdout:?}"))?;
    eprintln!("<== {line}");
    Ok(line.to_owned())
}

/// The raw text of `"key": value` (with or without a space) in a flat JSON line.
fn json_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[start..];
    Some(rest[..rest.find([',', '}']).unwrap_or(rest.len())].trim())
}

fn json_number(line: &str, key: &str) -> Result<f64, String> {
    json_field(line, key).and_then(|v| v.parse().ok()).ok_or(format!("no number `{key}` in {line}"))
}

/// Drops and creates database `name` on the server at `server` (a URL without a database).
fn recreate_pg(server: &str, name: &str) -> Result<(), String> {
    drop_pg(server, name);
    step(
        &format!("create database {name}"),
        Command::new("psql").args([
            "-X",
            "-q",
            &format!("{}/postgres", server.trim_end_matches('/')),
            "-c",
            &format!("CREATE DATABASE {name}"),
        ]),
    )
}

fn drop_pg(server: &str, name: &str) {
    let _ = Command::new("psql")
        .args([
            "-X",
            "-q",
            &format!("{}/postgres", server.trim_end_matches('/')),
            "-c",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ])
        .stderr(std::process::Stdio::null())
        .status();
}

fn remove_sqlite(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
