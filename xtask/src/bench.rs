//! `cargo xtask bench dedup`: the execution import against the seed's original designs
//! (`../shared/bench/peers`, Python/SQLAlchemy) and the databases' own bulk loaders, measured
//! in one run on one machine, reported as ratios.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shell::{self, step};

mod migrate;
mod payloads;
mod validate;

const USAGE: &str = "\
cargo xtask bench <dedup|validate|migrate> [OPTIONS]

  validate: the upload validator natively and in Chromium (see `cargo xtask bench validate --help`)
  migrate:  the migration core's overhead, and the schema beside alembic (see `cargo xtask bench migrate --help`)

cargo xtask bench dedup [OPTIONS]

Imports a generated NinjaTrader export (20 % repeated ids) fresh and again, on PostgreSQL and
SQLite, with `intake executions import` and with the peers: peer_dedup.py (orm, core_exec_many,
copy) and psql \\copy / sqlite3 .import of the same rows into the same indexed table. Prints
seconds, rows/s, peak memory and the ratios the execution de-duplication issue targets; writes
the table to target/bench/dedup.md.

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
    let ledger = work.join(format!("ledger_{}.csv", options.rows));
    let unique = ledger_csv(&csv, &ledger)?;
    step("build intake (release)", shell::cargo().args(["build", "--release", "--locked", "--package", "intake"]))?;
    let intake = shell::target_dir().join("release/intake");
    let mut results = Vec::new();

    for backend in ["pg", "sqlite"] {
        // intake: a fresh, migrated database; import, then import the same file again.
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
        for phase in ["fresh", "reimport"] {
            let mut command = Command::new(&intake);
            command.args(["--database-url", &url, "--json", "executions", "import"]).arg(&csv);
            let (seconds, peak_mb) = timed(&format!("intake import, {backend}, {phase}"), &mut command)?;
            results.push(Measurement {
                tool: "intake".into(),
                backend,
                phase,
                seconds,
                rows: options.rows,
                peak_mb,
                note: "",
            });
        }

        // The peers, each on its own fresh table (the script resets it), then re-import.
        recreate_pg(&options.pg, "peer_bench")?;
        let methods: &[&str] =
            if backend == "pg" { &["core_exec_many", "copy", "orm"] } else { &["core_exec_many", "orm"] };
        for &method in methods {
            let phases: &[&str] = if method == "orm" { &["fresh"] } else { &["fresh", "reimport"] };
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
                if phase == "reimport" {
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

        // The database's own bulk loader: the de-duplicated ledger rows into the seed's indexed
        // imported_executions table (the least any import that records them must do).
        let seed_table = shell::root()
            .join("migrations/execution_dedup")
            .join(if backend == "pg" { "postgres" } else { "sqlite" })
            .join("20251003000000_create_imported_executions/up.sql");
        let (tool, mut command) = if backend == "pg" {
            recreate_pg(&options.pg, "intake_bench_raw")?;
            let raw = options.database("intake_bench_raw");
            step(
                "seed table",
                Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &raw, "-f"]).arg(&seed_table),
            )?;
            let mut command = Command::new("psql");
            command
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &raw, "-c"])
                .arg(format!("\\copy imported_executions FROM '{}' WITH (FORMAT csv, HEADER true)", ledger.display()));
            ("psql \\copy (indexed)", command)
        } else {
            let path = work.join("raw.db");
            remove_sqlite(&path);
            step("seed table", Command::new("sqlite3").arg(&path).arg(format!(".read {}", seed_table.display())))?;
            let mut command = Command::new("sqlite3");
            command.arg(&path).arg(format!(".import --csv --skip 1 {} imported_executions", ledger.display()));
            ("sqlite3 .import (indexed)", command)
        };
        let (seconds, peak_mb) = timed(&format!("{tool}, {backend}"), &mut command)?;
        results.push(Measurement {
            tool: tool.into(),
            backend,
            phase: "fresh",
            seconds,
            rows: unique,
            peak_mb,
            note: "ledger rows only, already de-duplicated",
        });
    }
    for name in ["intake_bench", "intake_bench_raw", "peer_bench"] {
        drop_pg(&options.pg, name);
    }
    let report = render(&options, &results);
    print!("{report}");
    let path = shell::target_dir().join("bench/dedup.md");
    std::fs::write(&path, &report).map_err(|e| format!("write {}: {e}", path.display()))?;
    eprintln!("\nwritten to {}", path.display());
    Ok(())
}

fn render(options: &Options, results: &[Measurement]) -> String {
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
        if let Some(orm) = find("peer orm", backend, "fresh") {
            let ratio = ours.rate() / orm.rate();
            line("≥ 50× the ORM peer (rows/s)", backend, ratio, "×", ratio >= 50.0);
        }
        for phase in ["fresh", "reimport"] {
            if let (Some(ours), Some(core)) =
                (find("intake", backend, phase), find("peer core_exec_many", backend, phase))
            {
                let ratio = core.seconds / ours.seconds;
                line(&format!("≥ 5× core_exec_many ({phase})"), backend, ratio, "×", ratio >= 5.0);
            }
        }
        if let Some(copy) = find("peer copy", backend, "fresh") {
            let ratio = copy.seconds / ours.seconds;
            line("at least as fast as the copy peer (its time / ours)", backend, ratio, "×", ratio >= 1.0);
        }
        if let Some(raw) = find("sqlite3 .import (indexed)", backend, "fresh") {
            let ratio = ours.seconds / raw.seconds;
            line("within 1.5× of sqlite3 .import (our time / its)", backend, ratio, "×", ratio <= 1.5);
        }
        for phase in ["fresh", "reimport"] {
            if let Some(peak) = find("intake", backend, phase).and_then(|m| m.peak_mb) {
                line(&format!("peak memory under 100 MB ({phase})"), backend, peak, " MB", peak < 100.0);
            }
        }
    }
    let _ = writeln!(
        out,
        "\nintake writes every new fill to `trades` (16 columns; primary key and UNIQUE execution id) and its id to the ledger \
         (5 indexes); the peers and the bulk loaders write the ledger only."
    );
    out
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

/// The distinct ids of the export, first occurrence, as rows of the seed's table.
fn ledger_csv(executions: &Path, out: &Path) -> Result<u64, String> {
    let input = std::fs::File::open(executions).map_err(|e| format!("{}: {e}", executions.display()))?;
    let mut lines = std::io::BufReader::new(input).lines();
    let header = lines.next().ok_or("empty executions file")?.map_err(|e| e.to_string())?;
    let column = |name: &str| header.split(',').position(|c| c == name).ok_or(format!("no {name} column"));
    let (id, account, instrument) = (column("ID")?, column("Account")?, column("Instrument")?);
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut writer = BufWriter::new(file);
    let name = executions.file_name().and_then(|n| n.to_str()).unwrap_or("executions.csv");
    let write_error = |e: std::io::Error| format!("{}: {e}", out.display());
    writeln!(writer, "id,execution_id,csv_filename,import_timestamp,account,instrument").map_err(write_error)?;
    let mut seen = HashSet::new();
    for line in lines {
        let line = line.map_err(|e| e.to_string())?;
        let cells: Vec<&str> = line.split(',').collect();
        if seen.insert(cells[id].to_owned()) {
            writeln!(
                writer,
                "{},{},{name},2026-01-01 00:00:00,{},{}",
                seen.len(),
                cells[id],
                cells[account],
                cells[instrument]
            )
            .map_err(write_error)?;
        }
    }
    writer.flush().map_err(write_error)?;
    Ok(seen.len() as u64)
}

/// Wall seconds and peak resident memory of a command, through GNU time.
fn timed(name: &str, command: &mut Command) -> Result<(f64, Option<f64>), String> {
    let stats = std::env::temp_dir().join(format!("intake-bench-{}.time", std::process::id()));
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped.args(["-f", "%e %M", "-o"]).arg(&stats).arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    wrapped.stdout(std::process::Stdio::null());
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
