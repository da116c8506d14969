//! Concurrency: many processes on one database at once, each result checked exactly.
//!
//! - 8 `intake executions import` processes on overlapping NinjaTrader exports: every
//!   execution stored exactly once, the importers' `inserted` counts adding up to the
//!   distinct executions, no error.
//! - 8 `intake alm import` processes on overlapping month-to-date Flex files (day 1 to day N
//!   of one month, each file holding every day before it): every transaction stored once.
//! - 4 migrators at once on an empty database, repeated: every migration applied once and
//!   `intake migrate check` clean.
//! - The connector service under 64 connections of mixed reads and conditional writes: no
//!   error, every increment counted exactly once (If-Match on every update: a stale write
//!   is refused with 412 and retried, never lost), p99 latency, memory sampled each second.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use migration_core::Backend;
use test_support::ScratchDatabase;
use test_support::http::ServiceProcess;

use crate::crash::{Env, rotation};
use crate::report::Row;

/// Importer processes at once.
const IMPORTERS: usize = 8;
/// Executions in each importer's file, and how far each file starts after the previous.
const FILE_ROWS: u64 = 6_000;
const FILE_STEP: u64 = 2_500;

/// 8 importers on overlapping exports, `runs` times.
pub fn executions(env: &Env, backend: Backend, runs: u32) -> Result<Row, String> {
    let mut row = Row::new("8 importers, overlapping NinjaTrader exports", backend, runs);
    let mut paths = Vec::new();
    for i in 0..IMPORTERS as u64 {
        let path = env.files.join(format!("overlap-{i}.csv"));
        let first = i * FILE_STEP;
        let rows = fixtures::ninjatrader::Generator::new(7).skip(first as usize).take(FILE_ROWS as usize);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| e.to_string())?);
        fixtures::ninjatrader::write_export(&mut out, fixtures::ninjatrader::Style::NATIVE_EN_US, rows)
            .map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        paths.push(path.display().to_string());
    }
    let distinct = (IMPORTERS as u64 - 1) * FILE_STEP + FILE_ROWS;
    for run in 0..runs {
        let db = ScratchDatabase::new(backend);
        env.run(db.url(), &["migrate", "run"])?;
        let children: Vec<Child> = paths
            .iter()
            .map(|path| env.intake(db.url(), &["--json", "executions", "import", path]).spawn())
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mut inserted = 0;
        for (i, child) in children.into_iter().enumerate() {
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            if !output.status.success() {
                row.fail(format!(
                    "run {run}: importer {i} failed: {}",
                    String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
                ));
                continue;
            }
            let json: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
            inserted += json[0]["inserted"].as_u64().unwrap_or(0);
        }
        let trades = count(db.url(), "trades")?;
        let ledger = count(db.url(), "imported_executions")?;
        if (inserted, trades, ledger) != (distinct, distinct, distinct) {
            row.fail(format!(
                "run {run}: {distinct} distinct executions, but the importers inserted {inserted}, trades holds {trades} and the ledger {ledger}"
            ));
        } else {
            row.pass("each execution once");
        }
    }
    row.figures = format!("{IMPORTERS} files of {FILE_ROWS} rows, {distinct} distinct executions");
    Ok(row)
}

/// One Trade row of the month-to-date files: transaction `id` on August `day`.
fn trade(id: u64, day: u64) -> String {
    format!(
        "<Trade accountId=\"U1\" currency=\"USD\" assetCategory=\"STK\" symbol=\"ES\" transactionID=\"{id}\" tradeID=\"{id}\" quantity=\"1\" tradePrice=\"{}.25\" dateTime=\"202508{day:02};100000\" buySell=\"BUY\" levelOfDetail=\"EXECUTION\" />\n",
        4000 + id % 100
    )
}

/// 8 ALM importers on month-to-date files of days 1 to 8 (file N holds days 1 to N), each
/// under its own import date, `runs` times.
pub fn alm(env: &Env, backend: Backend, runs: u32) -> Result<Row, String> {
    const PER_DAY: u64 = 300;
    let mut row = Row::new("8 ALM importers, overlapping month-to-date files", backend, runs);
    let mut paths = Vec::new();
    for n in 1..=IMPORTERS as u64 {
        let mut rows = String::new();
        for day in 1..=n {
            for i in 0..PER_DAY {
                rows.push_str(&trade(day * 10_000 + i, day));
            }
        }
        let xml = format!(
            "<FlexQueryResponse queryName=\"MTD\" type=\"AF\">\n<FlexStatements count=\"1\">\n\
             <FlexStatement accountId=\"U1\" fromDate=\"20250801\" toDate=\"202508{n:02}\" period=\"MonthToDate\" whenGenerated=\"202508{n:02};200000\">\n\
             <Trades>\n{rows}</Trades>\n</FlexStatement>\n</FlexStatements>\n</FlexQueryResponse>\n"
        );
        let path = env.files.join(format!("day-{n}")).join("Trades_MTD.xml");
        std::fs::create_dir_all(path.parent().expect("a folder")).map_err(|e| e.to_string())?;
        std::fs::write(&path, xml).map_err(|e| e.to_string())?;
        paths.push(path.display().to_string());
    }
    let distinct = IMPORTERS as u64 * PER_DAY;
    for run in 0..runs {
        let db = ScratchDatabase::new(backend);
        env.run(db.url(), &["migrate", "run"])?;
        let children: Vec<Child> = paths
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let date = format!("2025-09-{:02}", i + 1);
                env.intake(db.url(), &["alm", "import", "--date", &date, path]).spawn()
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mut failed = false;
        for (i, child) in children.into_iter().enumerate() {
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            if !output.status.success() {
                failed = true;
                row.fail(format!("run {run}: importer {i} failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
            }
        }
        let events = count(db.url(), &crate::state::table(backend, "alm_reporting.chronological_events"))?;
        if events != distinct {
            row.fail(format!("run {run}: {distinct} distinct transactions, {events} events stored"));
        } else if !failed {
            row.pass("each transaction once");
        }
    }
    row.figures = format!("{IMPORTERS} files of 1 to {IMPORTERS} days × {PER_DAY} trades, {distinct} distinct");
    Ok(row)
}

/// 4 migrators at once on an empty database, `runs` times in a row.
pub fn migrators(env: &Env, backend: Backend, runs: u32) -> Result<Row, String> {
    let mut row = Row::new("4 migrators at once", backend, runs);
    for run in 0..runs {
        let db = ScratchDatabase::new(backend);
        let children: Vec<Child> = (0..4)
            .map(|_| env.intake(db.url(), &["--json", "migrate", "run"]).spawn())
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mut failures = Vec::new();
        for child in children {
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            if !output.status.success() {
                failures.push(String::from_utf8_lossy(&output.stderr).trim().to_owned());
            }
        }
        if let Some(failure) = failures.first() {
            row.fail(format!("run {run}: {} of 4 migrators failed: {failure}", failures.len()));
            continue;
        }
        match env.run(db.url(), &["migrate", "check"]) {
            Ok(_) => row.pass("each migration once, no drift"),
            Err(error) => row.fail(format!("run {run}: {error}")),
        }
    }
    Ok(row)
}

fn count(url: &str, table: &str) -> Result<u64, String> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<Count> = crate::state::load(url, &format!("SELECT count(*) AS n FROM {table}"))?;
    Ok(rows.first().map_or(0, |c| c.n as u64))
}

/// A keep-alive HTTP/1.1 connection: requests one after another, each answer read whole.
pub(crate) struct Connection {
    reader: BufReader<TcpStream>,
    address: SocketAddr,
}

/// An answer: status, ETag, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    etag: Option<String>,
    pub(crate) body: String,
}

impl Connection {
    pub(crate) fn open(address: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Connection { reader: BufReader::new(stream), address })
    }

    pub(crate) fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<Answer, String> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or(""));
        self.reader.get_mut().write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let status = line.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no status line: {line:?}"))?;
        let (mut length, mut etag) = (0usize, None);
        loop {
            line.clear();
            self.reader.read_line(&mut line).map_err(|e| e.to_string())?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').ok_or_else(|| format!("a bad header: {header:?}"))?;
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().map_err(|_| format!("a bad length: {value}"))?,
                "etag" => etag = Some(value.trim().to_owned()),
                "transfer-encoding" => return Err("a chunked answer: this client reads Content-Length only".into()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        Ok(Answer { status, etag, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

/// The resident memory of process `pid`, in kB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The connector service under `connections` connections for `seconds`: 3 GETs to 1
/// increment (GET, then PATCH with If-Match; a 412 is retried with the new version).
pub fn service(env: &Env, binary: &Path, backend: Backend, connections: usize, seconds: u64) -> Result<Row, String> {
    const COUNTERS: usize = 16;
    let mut row = Row::new("connector service: 64 connections, reads and If-Match increments", backend, 1);
    let db = ScratchDatabase::new(backend);
    env.run(db.url(), &["migrate", "run", "--domain", "persistent_storage"])?;
    let service = ServiceProcess::start(
        binary,
        &["--listen", "127.0.0.1:0", "--database-url", db.url()],
        &[("INTAKE_SECRET_KEY", rotation::KEYS), ("RUST_LOG", "warn")],
    );
    let address = service.address;
    let mut setup = Connection::open(address)?;
    for c in 0..COUNTERS {
        let body = serde_json::json!({"id": format!("c-{c}"), "name": "counter", "type": "api", "schema_info": {"columns": {"count": 0}}});
        let answer = setup.send("POST", "/connector/profiles", &[], Some(&body.to_string()))?;
        if answer.status != 201 {
            return Err(format!("creating counter {c}: {} {}", answer.status, answer.body));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let increments = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (stop, increments, conflicts, latencies, errors) =
                (stop.clone(), increments.clone(), conflicts.clone(), latencies.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                let mut rng = crate::Rng(worker as u64 + 1);
                let result = (|| -> Result<(), String> {
                    let mut connection = Connection::open(address)?;
                    let mut timed = |connection: &mut Connection,
                                     method: &str,
                                     path: &str,
                                     headers: &[(&str, &str)],
                                     body: Option<&str>| {
                        let started = Instant::now();
                        let answer = connection.send(method, path, headers, body);
                        mine.push(started.elapsed().as_micros() as u32);
                        answer
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let path = format!("/connector/profiles/c-{}", rng.below(COUNTERS as u64));
                        let read = timed(&mut connection, "GET", &path, &[], None)?;
                        if read.status != 200 {
                            return Err(format!("GET {path}: {} {}", read.status, read.body));
                        }
                        if rng.below(4) != 0 {
                            continue;
                        }
                        // Increment: read, then write with the version read; retried on 412.
                        let (mut etag, mut body) = (read.etag, read.body);
                        loop {
                            let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                            let count = value["schema_info"]["columns"]["count"].as_u64().ok_or("no count")?;
                            let patch =
                                serde_json::json!({"schema_info": {"columns": {"count": count + 1}}}).to_string();
                            let tag = etag.clone().ok_or("no ETag")?;
                            let write = timed(
                                &mut connection,
                                "PATCH",
                                &path,
                                &[("If-Match", &tag), ("Content-Type", "application/merge-patch+json")],
                                Some(&patch),
                            )?;
                            match write.status {
                                200 => {
                                    increments.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                                412 => {
                                    conflicts.fetch_add(1, Ordering::Relaxed);
                                    let again = timed(&mut connection, "GET", &path, &[], None)?;
                                    (etag, body) = (again.etag, again.body);
                                }
                                other => return Err(format!("PATCH {path}: {other} {}", write.body)),
                            }
                        }
                    }
                    Ok(())
                })();
                if let Err(error) = result {
                    errors.lock().expect("a lock").push(error);
                }
                latencies.lock().expect("a lock").extend(mine);
            })
        })
        .collect();
    let pid = Some(service.pid());
    let mut rss = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1));
        rss.extend(pid.and_then(rss_kib));
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().map_err(|_| "a client thread panicked".to_owned())?;
    }
    let took = started.elapsed();
    for error in errors.lock().expect("a lock").iter() {
        row.fail(error.clone());
    }
    // Every increment counted once: the counters add up to the 200s.
    let mut total = 0;
    let mut reader = Connection::open(address)?;
    for c in 0..COUNTERS {
        let answer = reader.send("GET", &format!("/connector/profiles/c-{c}"), &[], None)?;
        let value: serde_json::Value = serde_json::from_str(&answer.body).map_err(|e| e.to_string())?;
        total += value["schema_info"]["columns"]["count"].as_u64().unwrap_or(0);
    }
    let increments = increments.load(Ordering::Relaxed);
    if total != increments {
        row.fail(format!("{increments} increments answered 200, the counters add up to {total}: lost updates"));
    } else if row.failures.is_empty() {
        row.pass("no error, no lost update");
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("a lock"));
    latencies.sort_unstable();
    let p = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0) as f64 / 1000.0;
    // Flat: after the first quarter (the pool's connections opened, the allocator warm),
    // the end is within a fifth (and 2 MB) of that sample.
    let warm = rss.get(rss.len() / 4).copied().unwrap_or(0);
    let (last, peak) = (rss.last().copied().unwrap_or(0), rss.iter().max().copied().unwrap_or(0));
    let mb = |kib: u64| kib as f64 / 1024.0;
    row.figures = format!(
        "{} requests in {:.0} s ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms; {increments} increments, {} retried after 412; RSS {:.1} MB after the first quarter, {:.1} MB at the end, peak {:.1} MB",
        latencies.len(),
        took.as_secs_f64(),
        latencies.len() as f64 / took.as_secs_f64(),
        p(0.5),
        p(0.99),
        conflicts.load(Ordering::Relaxed),
        mb(warm),
        mb(last),
        mb(peak),
    );
    if warm > 0 && last as f64 > warm as f64 * 1.2 + 2048.0 {
        row.fail(format!("memory grew: {:.1} MB after the first quarter, {:.1} MB at the end", mb(warm), mb(last)));
    }
    drop(service);
    Ok(row)
}
