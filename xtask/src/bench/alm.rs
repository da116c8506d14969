//! `cargo xtask bench alm`: the IB Flex import (seed 000) against the `ibflex` Python library,
//! in one run on one machine, reported as ratios.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shell::{self, step};

const USAGE: &str = "\
cargo xtask bench alm [OPTIONS]

Generates a year of daily IB Flex reports (Trades, Cash Transactions and NAV for each of the
261 trading days of 2025) and one large Trades report, then measures:
  - parse speed natively: the validator's ib_flex kind with typed records, against the ibflex
    library (PyPI, in a venv the bench makes) parsing the same file and the same year;
  - peak memory of the parse and of the import of the large file;
  - `intake alm import` of the year (one run, every file) and of the large file, on SQLite and
    PostgreSQL, in rows/s; and the year again (every file unchanged).
Prints the table and the issue's targets; writes it to target/bench/alm.md.

Options:
  --trades N      trades a day in the year's files (default 500)
  --cash N        cash transactions a day (default 50)
  --big-mb MB     size of the large Trades file (default 1024)
  --peer-mb MB    size of the Trades file ibflex parses (default 100; ibflex holds the whole
                  tree and its objects in memory, about 40 times the file)
Environment:
  BENCH_PG_URL    PostgreSQL server (default postgres://postgres@127.0.0.1:5432); database
                  intake_bench_alm is created and dropped
";

struct Options {
    trades: u64,
    cash: u64,
    big_mb: u64,
    peer_mb: u64,
    pg: String,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options {
            trades: 500,
            cash: 50,
            big_mb: 1024,
            peer_mb: 100,
            pg: std::env::var("BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"));
            let number = |text: &String| text.parse::<u64>().map_err(|_| format!("{flag}: `{text}` is not a number"));
            match flag.as_str() {
                "--trades" => options.trades = number(value()?)?,
                "--cash" => options.cash = number(value()?)?,
                "--big-mb" => options.big_mb = number(value()?)?,
                "--peer-mb" => options.peer_mb = number(value()?)?,
                "--help" | "-h" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// One measured row of the table.
struct Row {
    what: String,
    seconds: f64,
    bytes: u64,
    rows: u64,
    peak_mb: Option<f64>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let work = shell::target_dir().join("bench/alm");
    let year = work.join(format!("year-{}-{}", options.trades, options.cash));
    eprintln!("\n==> a year of daily reports in {} (made when missing)", year.display());
    // Beside the folder, so the folder holds only reports.
    let marker = work.join(format!("year-{}-{}.count", options.trades, options.cash));
    let generated = if marker.is_file() {
        read_written(&marker)?
    } else {
        let _ = std::fs::remove_dir_all(&year);
        let written = fixtures::flex::write_year(&year, options.trades, options.cash).map_err(|e| e.to_string())?;
        write_written(&marker, written)?;
        written
    };
    let big = trades_file(&work, options.big_mb)?;
    let peer_file = trades_file(&work, options.peer_mb)?;
    let days: Vec<PathBuf> = {
        let mut days: Vec<PathBuf> = std::fs::read_dir(&year)
            .map_err(|e| format!("{}: {e}", year.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        days.sort();
        days
    };

    let validator = super::build_validate_file()?;
    step("build intake (release)", shell::cargo().args(["build", "--release", "--locked", "--package", "intake"]))?;
    let intake = shell::target_dir().join("release/intake");
    let python = venv(&work)?;
    let peer = shell::root().join("xtask/src/bench/peer_ibflex.py");

    let mut rows = Vec::new();
    // Parsing: the validator with typed records, then ibflex, on the same files.
    // The validator's time is the median of `runs` (the machine's speed drifts; ibflex takes a
    // hundred times as long, so its one run moves less).
    let parse = |file: &Path, runs: u32| -> Result<(f64, u64, u64, f64), String> {
        let line = super::peer_output(
            &format!("validator: {}", file.display()),
            Command::new(&validator).arg("ib_flex").arg(file).args([
                "--records",
                "--json",
                "--runs",
                &runs.to_string(),
            ]),
        )?;
        Ok((
            super::json_number(&line, "seconds")?,
            super::json_number(&line, "bytes")? as u64,
            super::json_number(&line, "typed_records")? as u64,
            super::json_number(&line, "peak_growth_mb")?,
        ))
    };
    let (seconds, bytes, records, peak) = parse(&peer_file.0, 5)?;
    rows.push(Row {
        what: format!("parse {} MB Trades: intake", options.peer_mb),
        seconds,
        bytes,
        rows: records,
        peak_mb: Some(peak),
    });
    let (peer_seconds, peer_peak) = super::timed(
        &format!("ibflex: {}", peer_file.0.display()),
        Command::new(&python).arg(&peer).arg(&peer_file.0),
    )?;
    rows.push(Row {
        what: format!("parse {} MB Trades: ibflex", options.peer_mb),
        seconds: peer_seconds,
        bytes,
        rows: records,
        peak_mb: peer_peak,
    });
    let (seconds, bytes, records, peak) = parse(&year, 5)?;
    rows.push(Row { what: "parse the year: intake".into(), seconds, bytes, rows: records, peak_mb: Some(peak) });
    let mut peer_year = Command::new(&python);
    peer_year.arg(&peer).args(&days);
    let (seconds, peak) = super::timed("ibflex: the year", &mut peer_year)?;
    rows.push(Row { what: "parse the year: ibflex".into(), seconds, bytes, rows: records, peak_mb: peak });
    let (seconds, bytes, records, peak) = parse(&big.0, 1)?;
    rows.push(Row {
        what: format!("parse {} MB Trades: intake", options.big_mb),
        seconds,
        bytes,
        rows: records,
        peak_mb: Some(peak),
    });

    // Imports.
    let sqlite = work.join("alm.db");
    let pg_name = "intake_bench_alm";
    for (backend, url) in [
        ("SQLite", format!("sqlite://{}", sqlite.display())),
        ("PostgreSQL", format!("{}/{pg_name}", options.pg.trim_end_matches('/'))),
    ] {
        if backend == "SQLite" {
            super::remove_sqlite(&sqlite);
        } else {
            super::recreate_pg(&options.pg, pg_name)?;
        }
        step(
            &format!("migrate ({backend})"),
            Command::new(&intake).args(["--database-url", &url, "migrate"]).stdout(std::process::Stdio::null()),
        )?;
        let mut import = Command::new(&intake);
        import.args(["--database-url", &url, "--json", "alm", "import", "--date", "2025-12-31"]).args(&days);
        let (seconds, peak) = super::timed(&format!("import the year ({backend})"), &mut import)?;
        rows.push(Row {
            what: format!("import the year: {backend}"),
            seconds,
            bytes: generated.bytes,
            rows: generated.rows,
            peak_mb: peak,
        });
        let (seconds, peak) = super::timed(&format!("the year again, unchanged ({backend})"), &mut import)?;
        rows.push(Row {
            what: format!("the year again (unchanged): {backend}"),
            seconds,
            bytes: generated.bytes,
            rows: generated.rows,
            peak_mb: peak,
        });
        let mut import = Command::new(&intake);
        import.args(["--database-url", &url, "--json", "alm", "import", "--date", "2026-01-02"]).arg(&big.0);
        let (seconds, peak) = super::timed(&format!("import {} MB ({backend})", options.big_mb), &mut import)?;
        rows.push(Row {
            what: format!("import {} MB Trades: {backend}", options.big_mb),
            seconds,
            bytes: big.1,
            rows: big.2,
            peak_mb: peak,
        });
    }
    super::drop_pg(&options.pg, pg_name);
    super::remove_sqlite(&sqlite);

    let table = render(&rows, &options);
    print!("\n{table}");
    let out = shell::target_dir().join("bench/alm.md");
    std::fs::write(&out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

fn render(rows: &[Row], options: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| run | seconds | MB/s | rows/s | peak MB |\n|---|---|---|---|---|");
    for row in rows {
        let peak = row.peak_mb.map_or_else(|| "–".to_owned(), |p| format!("{p:.0}"));
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.1} | {:.0} | {peak} |",
            row.what,
            row.seconds,
            row.bytes as f64 / row.seconds / 1e6,
            row.rows as f64 / row.seconds
        );
    }
    let find = |prefix: &str| rows.iter().find(|r| r.what.starts_with(prefix));
    let ratio = |a: &str, b: &str| match (find(a), find(b)) {
        (Some(a), Some(b)) => b.seconds / a.seconds,
        _ => f64::NAN,
    };
    let parse_peer = format!("parse {} MB Trades: ", options.peer_mb);
    let file_ratio = ratio(&format!("{parse_peer}intake"), &format!("{parse_peer}ibflex"));
    let year_ratio = ratio("parse the year: intake", "parse the year: ibflex");
    let big_parse = find(&format!("parse {} MB Trades: intake", options.big_mb));
    let big_imports: Vec<&Row> =
        rows.iter().filter(|r| r.what.starts_with(&format!("import {} MB", options.big_mb))).collect();
    let year_sqlite = find("import the year: SQLite");
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    let _ = writeln!(out, "\n| target | measured | met |\n|---|---|---|");
    let _ = writeln!(
        out,
        "| parse ≥ 20× ibflex | {file_ratio:.1}× ({} MB file), {year_ratio:.1}× (the year) | {} |",
        options.peer_mb,
        yes(file_ratio >= 20.0 && year_ratio >= 20.0)
    );
    if let Some(parse) = big_parse {
        let peak = parse.peak_mb.unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| parse memory on the {} MB file < 64 MB | {peak:.0} MB | {} |",
            options.big_mb,
            yes(peak < 64.0)
        );
    }
    for import in &big_imports {
        let peak = import.peak_mb.unwrap_or(f64::NAN);
        let _ = writeln!(out, "| {} memory < 64 MB | {peak:.0} MB | {} |", import.what, yes(peak < 64.0));
    }
    if let Some(year) = year_sqlite {
        let _ = writeln!(
            out,
            "| a year imported on SQLite < 30 s | {:.1} s | {} |",
            year.seconds,
            yes(year.seconds < 30.0)
        );
    }
    out
}

/// `work/Trades_(9)_MTD-<mb>mb.xml`, made when missing: its path, bytes and trades.
fn trades_file(work: &Path, megabytes: u64) -> Result<(PathBuf, u64, u64), String> {
    let path = work.join(format!("Trades_(9)_MTD-{megabytes}mb.xml"));
    let counts = path.with_extension("count");
    if path.is_file() && counts.is_file() {
        let written = read_written(&counts)?;
        return Ok((path, written.bytes, written.rows));
    }
    eprintln!("\n==> {} ({megabytes} MB)", path.display());
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let written = fixtures::flex::write_trades(&mut out, megabytes << 20).map_err(|e| e.to_string())?;
    std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
    write_written(&counts, written)?;
    Ok((path, written.bytes, written.rows))
}

fn write_written(path: &Path, written: fixtures::flex::Written) -> Result<(), String> {
    std::fs::write(path, format!("{} {} {}", written.files, written.bytes, written.rows)).map_err(|e| e.to_string())
}

fn read_written(path: &Path) -> Result<fixtures::flex::Written, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let numbers: Vec<u64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match numbers[..] {
        [files, bytes, rows] => Ok(fixtures::flex::Written { files, bytes, rows }),
        _ => Err(format!("{}: not three numbers", path.display())),
    }
}

/// A virtual environment with ibflex, made once under target/.
fn venv(work: &Path) -> Result<PathBuf, String> {
    let venv = work.join("ibflex_venv");
    let python = venv.join("bin/python");
    if !venv.join("done").is_file() {
        step("python venv for ibflex", Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        // ibflex's client module imports requests, which it does not declare.
        step("ibflex from PyPI", Command::new(venv.join("bin/pip")).args(["install", "-q", "ibflex", "requests"]))?;
        std::fs::write(venv.join("done"), "").map_err(|e| e.to_string())?;
    }
    Ok(python)
}
