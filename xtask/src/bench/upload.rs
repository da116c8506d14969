//! `cargo xtask bench upload`: seed 003's uploads on both backends, through the CLI and the
//! upload service, beside the seed's original design (`peer_upload.py`, SQLAlchemy ORM and
//! Core) and the databases' own bulk loaders, as ratios within one run.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use fixtures::retail::{self, Day};

use super::storage::{Process, wait_for};
use super::{recreate_pg, remove_sqlite, timed, timed_to};
use crate::shell::{self, step};

const USAGE: &str = "\
cargo xtask bench upload [--rows N] [--peers DIR]

On PostgreSQL and SQLite, each time into a freshly migrated database holding the same stores
and categories:
  historical sales, N rows (100 stores × 10 categories × N/1000 days): `intake uploads
    historical-sales`, the same file POSTed to the upload service (streamed), and the
    database's bulk loader (psql \\copy / sqlite3 .import) writing the rows the upload wrote
    into the same indexed table;
  weekly actuals, a 50-store × 52-week season (18 200 daily rows into 2 600 weekly rows): one
    upload per week through the service and through the CLI; peer_upload.py (orm, core)
    uploading the season's 2 600 weekly rows (its own pre-summed CSV; it times only its
    inserts and commit), and, like for like, once per week (52 runs, their times summed); and
    the bulk loader writing each week's rows in a transaction of its own, as the uploads do.
Prints seconds, rows/s, peak memory (GNU time; the service's VmHWM) and the issue's ratios;
writes target/bench/upload.md.

Options:
  --rows N      historical sales rows (default 1000000; a multiple of 1000)
  --peers DIR   the peer scripts (default ../shared/bench/peers next to the workspace)
Environment:
  BENCH_PG_URL  PostgreSQL server (default postgres://postgres@127.0.0.1:5432); databases
                intake_bench_upload and peer_bench are created and dropped
";

const STORES: usize = 100;
const CATEGORIES: usize = 10;
const SEASON_STORES: usize = 50;
const WEEKS: usize = 52;
/// The service's address during the bench.
const SERVICE: &str = "127.0.0.1:18321";

struct Options {
    rows: u64,
    peers: PathBuf,
    pg: String,
}

/// One timed run.
struct Measurement {
    what: &'static str,
    tool: String,
    backend: &'static str,
    seconds: f64,
    rows: u64,
    peak_mb: Option<f64>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    step(
        "build intake and upload-service (release)",
        shell::cargo().args(["build", "--release", "--locked", "--package", "intake", "--package", "upload-service"]),
    )?;
    let work = shell::target_dir().join("bench/upload");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let python = super::peer_venv(&work)?;
    let files = Files::generate(&work, options.rows)?;
    let mut results = Vec::new();
    for backend in ["pg", "sqlite"] {
        let bench = Bench { options: &options, work: &work, backend, files: &files };
        bench.historical_sales(&mut results)?;
        bench.weekly_actuals(&mut results)?;
        bench.peers(&python, &mut results)?;
    }
    super::drop_pg(&options.pg, "intake_bench_upload");
    super::drop_pg(&options.pg, "peer_bench");
    let text = render(&options, &results);
    print!("\n{text}");
    let out = shell::target_dir().join("bench/upload.md");
    std::fs::write(&out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        rows: 1_000_000,
        peers: shell::root().join("../shared/bench/peers"),
        pg: std::env::var("BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"));
        match flag.as_str() {
            "--rows" => {
                let text = value()?;
                options.rows = text
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1000 && n % 1000 == 0)
                    .ok_or(format!("--rows: `{text}` is not a multiple of 1000"))?;
            }
            "--peers" => options.peers = PathBuf::from(value()?),
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    if !options.peers.join("peer_upload.py").is_file() {
        return Err(format!("no peer_upload.py in {}; pass --peers DIR", options.peers.display()));
    }
    Ok(options)
}

/// The generated inputs.
struct Files {
    stores: PathBuf,
    season_stores: PathBuf,
    sales: PathBuf,
    weeks: Vec<PathBuf>,
    /// The season in peer_upload.py's shape: one pre-summed row per week and store.
    peer_season: PathBuf,
    /// The same, one file per week.
    peer_weeks: Vec<PathBuf>,
}

/// The first day of the season (a Monday, as the peer's generator has it).
fn season_start() -> Day {
    Day::ymd(2024, 1, 1)
}

/// Day `day` of week `week` (from 0) of store `store`: the units sold.
fn units(week: usize, day: usize, store: usize) -> u64 {
    ((week * 7 + day) * 31 + store * 17) as u64 % 40
}

/// Store `store`'s forecast for week `week` (from 0); one in 50 is zero, as in the peer's data.
fn forecast(week: usize, store: usize) -> u64 {
    if (week + store).is_multiple_of(50) { 0 } else { 140 + ((week * 13 + store * 7) % 60) as u64 }
}

fn category_name(i: usize) -> String {
    format!("Category {i:02}")
}

impl Files {
    fn generate(work: &Path, rows: u64) -> Result<Files, String> {
        let write =
            |path: &Path, text: &str| std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()));
        let stores = work.join("stores.csv");
        write(&stores, &retail::store_attributes(&retail::store_ids(STORES)))?;
        let season_stores = work.join("season_stores.csv");
        write(&season_stores, &retail::store_attributes(&retail::store_ids(SEASON_STORES)))?;
        let sales = work.join(format!("historical_sales_{rows}.csv"));
        if !sales.is_file() {
            eprintln!("generating {}", sales.display());
            let names: Vec<String> = (1..=CATEGORIES).map(category_name).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let file = std::fs::File::create(&sales).map_err(|e| format!("{}: {e}", sales.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let days = (rows / (STORES * CATEGORIES) as u64) as usize;
            retail::historical_sales(Day::ymd(2020, 1, 1), days, &names, &retail::store_ids(STORES), &mut out)
                .and_then(|_| out.flush())
                .map_err(|e| format!("{}: {e}", sales.display()))?;
        }
        let ids = retail::store_ids(SEASON_STORES);
        let mut weeks = Vec::new();
        let header = "workflow_id,week_number,week_start_date,week_end_date,store_id,category_id,actual_units_sold,forecast_units_sold\n";
        let mut peer = String::from(header);
        let mut peer_weeks = Vec::new();
        for week in 0..WEEKS {
            let mut peer_week = String::from(header);
            let start = season_start().plus(7 * week as i64);
            let path = work.join(format!("week_{}.csv", week + 1));
            write(&path, &retail::weekly_actuals(start, &ids, |day, store| units(week, day, store)))?;
            weeks.push(path);
            for store in 0..SEASON_STORES {
                let actual: u64 = (0..7).map(|day| units(week, day, store)).sum();
                let _ = writeln!(
                    peer_week,
                    "1,{},{start},{},{},1,{actual},{}",
                    week + 1,
                    start.plus(6),
                    store + 1,
                    forecast(week, store)
                );
            }
            peer.push_str(&peer_week[header.len()..]);
            let path = work.join(format!("peer_week_{}.csv", week + 1));
            write(&path, &peer_week)?;
            peer_weeks.push(path);
        }
        let peer_season = work.join("peer_season.csv");
        write(&peer_season, &peer)?;
        Ok(Files { stores, season_stores, sales, weeks, peer_season, peer_weeks })
    }
}

struct Bench<'a> {
    options: &'a Options,
    work: &'a Path,
    backend: &'static str,
    files: &'a Files,
}

impl Bench<'_> {
    fn intake(&self) -> Command {
        Command::new(shell::target_dir().join("release/intake"))
    }

    /// A freshly migrated database with the bench's stores, categories and workflow.
    fn fresh(&self, stores: &Path) -> Result<String, String> {
        let url = match self.backend {
            "pg" => {
                recreate_pg(&self.options.pg, "intake_bench_upload")?;
                format!("{}/intake_bench_upload", self.options.pg.trim_end_matches('/'))
            }
            _ => {
                let path = self.work.join("intake_bench_upload.db");
                remove_sqlite(&path);
                format!("sqlite://{}", path.display())
            }
        };
        step("migrate", self.intake().args(["--database-url", &url, "migrate"]).stdout(Stdio::null()))?;
        step(
            "upload the stores",
            self.intake()
                .args(["--database-url", &url, "uploads", "store-attributes"])
                .arg(stores)
                .stdout(Stdio::null()),
        )?;
        let mut sql = String::new();
        for i in 1..=CATEGORIES {
            let _ = writeln!(sql, "INSERT INTO categories VALUES ('category_{i:02}', '{}');", category_name(i));
        }
        let _ = writeln!(
            sql,
            "INSERT INTO workflows (workflow_id, category_id, season_start) VALUES ('season', 'category_01', '{}');",
            season_start()
        );
        for week in 0..WEEKS {
            for store in 0..SEASON_STORES {
                let _ = writeln!(
                    sql,
                    "INSERT INTO workflow_forecasts VALUES ('season', {}, 'S{:03}', {});",
                    week + 1,
                    store + 1,
                    forecast(week, store)
                );
            }
        }
        self.sql("planning rows", &format!("BEGIN;\n{sql}COMMIT;"))?;
        Ok(url)
    }

    fn sql(&self, name: &str, sql: &str) -> Result<(), String> {
        let script = self.work.join("script.sql");
        std::fs::write(&script, sql).map_err(|e| format!("{}: {e}", script.display()))?;
        match self.backend {
            "pg" => step(
                name,
                Command::new("psql")
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
                    .arg(format!("{}/intake_bench_upload", self.options.pg.trim_end_matches('/')))
                    .arg("-f")
                    .arg(&script)
                    .stdout(Stdio::null()),
            ),
            _ => step(
                name,
                Command::new("sqlite3")
                    .arg(self.work.join("intake_bench_upload.db"))
                    .stdin(std::fs::File::open(&script).map_err(|e| e.to_string())?),
            ),
        }
    }

    /// Writes `query`'s rows as CSV to `out`.
    fn dump(&self, query: &str, out: &Path) -> Result<(), String> {
        match self.backend {
            "pg" => step(
                "dump the rows written",
                Command::new("psql")
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
                    .arg(format!("{}/intake_bench_upload", self.options.pg.trim_end_matches('/')))
                    .arg("-c")
                    .arg(format!("\\copy ({query}) TO '{}' WITH (FORMAT csv)", out.display())),
            ),
            _ => step(
                "dump the rows written",
                Command::new("sqlite3")
                    .arg("-csv")
                    .arg(self.work.join("intake_bench_upload.db"))
                    .arg(query)
                    .stdout(std::fs::File::create(out).map_err(|e| e.to_string())?),
            ),
        }
    }

    /// The bulk loader writing each of `dumps` into `table`, each in a transaction of its own.
    fn load(&self, table: &str, dumps: &[PathBuf]) -> Result<(f64, Option<f64>), String> {
        let mut command = match self.backend {
            "pg" => {
                let mut command = Command::new("psql");
                command
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
                    .arg(format!("{}/intake_bench_upload", self.options.pg.trim_end_matches('/')));
                for dump in dumps {
                    command.arg("-c").arg(format!("\\copy {table} FROM '{}' WITH (FORMAT csv)", dump.display()));
                }
                command
            }
            _ => {
                let mut command = Command::new("sqlite3");
                command.arg(self.work.join("intake_bench_upload.db"));
                for dump in dumps {
                    command.arg(format!(".import --csv {} {table}", dump.display()));
                }
                command
            }
        };
        timed(&format!("bulk loader into {table}, {}", self.backend), &mut command)
    }

    fn loader_name(&self) -> &'static str {
        if self.backend == "pg" { "psql \\copy" } else { "sqlite3 .import" }
    }

    fn historical_sales(&self, results: &mut Vec<Measurement>) -> Result<(), String> {
        let rows = self.options.rows;
        let backend = self.backend;
        let url = self.fresh(&self.files.stores)?;
        let report = self.work.join("sales_report.json");
        let (seconds, peak_mb) = timed_to(
            &format!("intake uploads historical-sales, {backend}"),
            self.intake()
                .args(["--database-url", &url, "--json", "uploads", "historical-sales", "--max-bytes", "100000000000"])
                .arg(&self.files.sales),
            Some(&report),
        )?;
        let json = std::fs::read_to_string(&report).map_err(|e| e.to_string())?;
        if super::json_number(&json, "inserted")? as u64 != rows {
            return Err(format!("the upload did not write {rows} rows: {json}"));
        }
        results.push(Measurement {
            what: "historical sales",
            tool: "intake (CLI)".into(),
            backend,
            seconds,
            rows,
            peak_mb,
        });

        let dump = self.work.join(format!("sales_{backend}.csv"));
        self.dump("SELECT * FROM historical_sales ORDER BY sale_id", &dump)?;
        self.fresh(&self.files.stores)?;
        let (seconds, peak_mb) = self.load("historical_sales", std::slice::from_ref(&dump))?;
        let tool = format!("{} (the same rows, same indexed table)", self.loader_name());
        results.push(Measurement { what: "historical sales", tool, backend, seconds, rows, peak_mb });

        let url = self.fresh(&self.files.stores)?;
        let service = self.service(&url)?;
        let started = Instant::now();
        let answer = post("/uploads/historical_sales?name=sales.csv", &self.files.sales)?;
        let seconds = started.elapsed().as_secs_f64();
        if !answer.starts_with("HTTP/1.1 200") || !answer.contains(&format!("\"inserted\":{rows}")) {
            return Err(format!("the service did not store the file: {}", &answer[..answer.len().min(600)]));
        }
        let peak_mb = peak_of(&service);
        results.push(Measurement {
            what: "historical sales",
            tool: "upload service (HTTP)".into(),
            backend,
            seconds,
            rows,
            peak_mb,
        });
        Ok(())
    }

    /// The upload service on `url`, logging warnings only.
    fn service(&self, url: &str) -> Result<Process, String> {
        let log = self.work.join(format!("service_{}.log", self.backend));
        let child = Command::new(shell::target_dir().join("release/upload-service"))
            .args(["--listen", SERVICE, "--no-migrate", "--body-limit", "100000000000", "--request-timeout", "3600"])
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("upload-service: {e}"))?;
        let process = Process(child);
        wait_for(SERVICE)?;
        Ok(process)
    }

    fn weekly_actuals(&self, results: &mut Vec<Measurement>) -> Result<(), String> {
        let backend = self.backend;
        let daily = (WEEKS * SEASON_STORES * 7) as u64;
        let url = self.fresh(&self.files.season_stores)?;
        let service = self.service(&url)?;
        let started = Instant::now();
        for (week, file) in self.files.weeks.iter().enumerate() {
            let answer = post(&format!("/uploads/weekly_actuals?workflow_id=season&week_number={}", week + 1), file)?;
            if !answer.starts_with("HTTP/1.1 200") {
                return Err(format!("week {}: {answer}", week + 1));
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let peak_mb = peak_of(&service);
        drop(service);
        results.push(Measurement {
            what: "weekly season",
            tool: "upload service (HTTP), 52 uploads".into(),
            backend,
            seconds,
            rows: daily,
            peak_mb,
        });

        let dumps: Vec<PathBuf> =
            (1..=WEEKS).map(|week| self.work.join(format!("weekly_{backend}_{week}.csv"))).collect();
        // sqlite3 .import has no NULL (an empty field is ''): there the NULLs are written as
        // values of the same size.
        let (forecast, variance) = match backend {
            "pg" => ("forecast_units_sold", "variance_pct"),
            _ => ("coalesce(forecast_units_sold, -1)", "coalesce(variance_pct, 0)"),
        };
        for (week, dump) in dumps.iter().enumerate() {
            self.dump(
                &format!(
                    "SELECT id, workflow_id, week_number, week_start_date, week_end_date, store_id, category_id, \
                     actual_units_sold, {forecast}, {variance}, uploaded_at FROM weekly_actuals WHERE week_number = {} ORDER BY id",
                    week + 1
                ),
                dump,
            )?;
        }
        // The same rows into a fresh database, one transaction per week.
        self.fresh(&self.files.season_stores)?;
        let (seconds, peak_mb) = self.load("weekly_actuals", &dumps)?;
        let tool = format!("{}, 52 transactions (the same rows)", self.loader_name());
        results.push(Measurement { what: "weekly season", tool, backend, seconds, rows: daily, peak_mb });

        let url = self.fresh(&self.files.season_stores)?;
        let started = Instant::now();
        let mut peak: Option<f64> = None;
        for (week, file) in self.files.weeks.iter().enumerate() {
            let (_, mb) = timed(
                &format!("intake uploads weekly-actuals --week {}", week + 1),
                self.intake()
                    .args(["--database-url", &url, "uploads", "weekly-actuals", "--workflow", "season", "--week"])
                    .arg((week + 1).to_string())
                    .arg(file),
            )?;
            peak = match (peak, mb) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        let seconds = started.elapsed().as_secs_f64();
        results.push(Measurement {
            what: "weekly season",
            tool: "intake (CLI), 52 processes".into(),
            backend,
            seconds,
            rows: daily,
            peak_mb: peak,
        });
        Ok(())
    }

    /// The peer on the whole season in one transaction, as it is written; then, like for like
    /// with the uploads, once per week (each run times its own insert and commit; summed).
    fn peers(&self, python: &Path, results: &mut Vec<Measurement>) -> Result<(), String> {
        recreate_pg(&self.options.pg, "peer_bench")?;
        let daily = (WEEKS * SEASON_STORES * 7) as u64;
        for method in ["orm", "core"] {
            let run = |file: &Path, name: &str| -> Result<f64, String> {
                let mut command = Command::new(python);
                command
                    .arg(self.options.peers.join("peer_upload.py"))
                    .args(["--method", method, "--db", self.backend])
                    .env("PEER_DATA_DIR", self.work)
                    .env(
                        "PEER_PG_URL",
                        format!(
                            "postgresql+psycopg://{}/peer_bench",
                            self.options.pg.trim_start_matches("postgres://").trim_end_matches('/')
                        ),
                    )
                    .arg(file);
                let line = super::peer_output(name, &mut command)?;
                super::json_number(&line, "seconds")
            };
            let mut record = |tool: String, seconds: f64| {
                results.push(Measurement {
                    what: "weekly season",
                    tool,
                    backend: self.backend,
                    seconds,
                    rows: daily,
                    peak_mb: None,
                })
            };
            let seconds = run(&self.files.peer_season, &format!("peer {method}, {}, the season", self.backend))?;
            record(format!("peer {method} (2 600 pre-summed rows, one transaction)"), seconds);
            let mut seconds = 0.0;
            for (week, file) in self.files.peer_weeks.iter().enumerate() {
                seconds += run(file, &format!("peer {method}, {}, week {}", self.backend, week + 1))?;
            }
            record(format!("peer {method}, a week at a time (52 transactions of 50 pre-summed rows, summed)"), seconds);
        }
        Ok(())
    }
}

/// POSTs `file` (streamed from disk, with its length) to the service; the response's text.
fn post(path: &str, file: &Path) -> Result<String, String> {
    let length = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
    let mut stream = TcpStream::connect(SERVICE).map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {SERVICE}\r\nConnection: close\r\nContent-Type: text/csv\r\nContent-Length: {length}\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut source = std::fs::File::open(file).map_err(|e| e.to_string())?;
    std::io::copy(&mut source, &mut stream).map_err(|e| format!("sending {}: {e}", file.display()))?;
    let mut answer = String::new();
    BufReader::new(stream).read_to_string(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer)
}

/// The peak resident memory of a running process (VmHWM), in MB.
fn peak_of(process: &Process) -> Option<f64> {
    let status = std::fs::File::open(format!("/proc/{}/status", process.0.id())).ok()?;
    BufReader::new(status)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
}

fn render(options: &Options, results: &[Measurement]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Uploads: {} historical sales rows; a 50-store × 52-week weekly season\n", options.rows);
    let _ = writeln!(out, "| upload | db | tool | seconds | rows/s | peak MB |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for m in results {
        let peak = m.peak_mb.map(|mb| format!("{mb:.0}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.0} | {peak} |",
            m.what,
            m.backend,
            m.tool,
            m.seconds,
            m.rows as f64 / m.seconds
        );
    }
    let find = |what: &str, backend: &str, tool: &str| {
        results.iter().find(|m| m.what == what && m.backend == backend && m.tool.starts_with(tool))
    };
    let _ = writeln!(out, "\n## Targets (ratios within this run)\n");
    let _ = writeln!(out, "| target | db | measured | met |");
    let _ = writeln!(out, "|---|---|---|---|");
    // Rows for information, after the targets' (the same table).
    let mut out_like = String::new();
    let mut line = |target: &str, backend: &str, measured: f64, unit: &str, met: bool| {
        let _ = writeln!(out, "| {target} | {backend} | {measured:.2}{unit} | {} |", if met { "yes" } else { "NO" });
    };
    for backend in ["pg", "sqlite"] {
        let loader = if backend == "pg" { "psql" } else { "sqlite3" };
        if let (Some(ours), Some(floor)) =
            (find("historical sales", backend, "intake"), find("historical sales", backend, loader))
        {
            let ratio = ours.seconds / floor.seconds;
            line("historical sales within 2× of the bulk loader (ours / its)", backend, ratio, "×", ratio <= 2.0);
            if let Some(http) = find("historical sales", backend, "upload service") {
                let slower = (http.seconds / ours.seconds - 1.0) * 100.0;
                line("through HTTP at most 20 % slower than the CLI", backend, slower, " %", slower <= 20.0);
            }
        }
        if let Some(ours) = find("weekly season", backend, "upload service") {
            if let Some(orm) = find("weekly season", backend, "peer orm (") {
                let ratio = orm.seconds / ours.seconds;
                line("weekly season ≥ 30× the ORM peer (its time / ours)", backend, ratio, "×", ratio >= 30.0);
            }
            for method in ["orm", "core"] {
                if let Some(peer) = find("weekly season", backend, &format!("peer {method}, a week at a time")) {
                    let ratio = peer.seconds / ours.seconds;
                    let _ = writeln!(
                        out_like,
                        "| like for like: the {method} peer a week at a time (its time / ours) | {backend} | {ratio:.2}× | (no target) |"
                    );
                }
            }
            let core = find("weekly season", backend, "peer core (").map(|core| core.seconds / ours.seconds);
            let floor = find("weekly season", backend, loader).map(|floor| ours.seconds / floor.seconds);
            if let (Some(core), Some(floor)) = (core, floor) {
                line("weekly season ≥ 5× the Core peer (its time / ours)", backend, core, "×", core >= 5.0);
                line(
                    "or within 1.25× of the bulk loader, 52 transactions (ours / its)",
                    backend,
                    floor,
                    "×",
                    floor <= 1.25,
                );
            }
        }
        for m in results.iter().filter(|m| m.backend == backend && m.tool.starts_with(['i', 'u'])) {
            if let Some(peak) = m.peak_mb {
                line(&format!("peak memory under 100 MB ({}, {})", m.what, m.tool), backend, peak, " MB", peak < 100.0);
            }
        }
    }
    out.push_str(&out_like);
    let _ = writeln!(
        out,
        "\nThe weekly uploads are one transaction per week (the issue's rule: a week at a time, refused if uploaded \
         before), each validating 350 daily rows against the workflow week and summing them; the peers insert the \
         season's 2 600 weekly rows, summed beforehand, in one transaction and time only that (and, like for like, \
         52 transactions of a week each). The HTTP figures are wall time at the client (connect, send, answer); \
         the service's memory is its VmHWM after the uploads."
    );
    out
}
