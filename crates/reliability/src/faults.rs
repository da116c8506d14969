//! Faults: the database goes away, the disk fills up, another writer holds the lock.
//!
//! - PostgreSQL restarted (immediate shutdown: a crash to its clients) under the connector
//!   service's load: requests in flight are answered 503 with problem+json, none hangs, and
//!   the pool serves again once the server is back, without restarting the service. The
//!   server is a cluster of the suite's own (initdb in a temporary folder), never the shared
//!   one.
//! - PostgreSQL restarted during an import: the import fails with a clear message and the
//!   database is as before (or as after, if it had committed); run again, it completes.
//! - A full disk under SQLite: the import runs with a file-size limit (`ulimit -f`, SIGXFSZ
//!   ignored: each write past it fails as on a full disk); it fails with a clear message,
//!   the database is intact (`PRAGMA integrity_check`) and as before.
//! - Another writer holding SQLite's write lock: the import says it is waiting for the lock,
//!   waits, and completes once the lock is free.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use migration_core::Backend;
use test_support::ScratchDatabase;
use test_support::http::ServiceProcess;

use crate::concurrency::Connection;
use crate::crash::{Env, finish, rotation};
use crate::ops::EXECUTIONS;
use crate::report::Row;
use crate::state::State;

/// A PostgreSQL cluster of the suite's own, in a temporary folder, removed on drop.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_root: bool,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// initdb and start a cluster on a free port.
    pub fn start() -> Result<Cluster, String> {
        let bin = postgres_bin()?;
        let dir = tempfile::Builder::new().prefix("intake-reliability-pg-").tempdir().map_err(|e| e.to_string())?;
        let as_root = std::env::var("USER").is_ok_and(|u| u == "root")
            || Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_root {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let cluster = Cluster { bin, data, port, as_root, _dir: dir };
        run(cluster.tool("initdb").args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"]).arg(&cluster.data))?;
        cluster.pg_ctl(&["start"])?;
        Ok(cluster)
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl(&self, action: &[&str]) -> Result<(), String> {
        let socket = self.data.parent().expect("a folder").display().to_string();
        let options = format!("-p {} -k {socket} -c listen_addresses=127.0.0.1 -c fsync=off", self.port);
        let log = self.data.parent().expect("a folder").join("server.log");
        run(self.tool("pg_ctl").arg("-D").arg(&self.data).arg("-l").arg(log).args(["-o", &options, "-w"]).args(action))
    }

    /// Stops the server as a crash would (`immediate`: no checkpoint, clients cut off), keeps
    /// it down for `down`, and starts it again.
    pub fn crash_and_restart(&self, down: Duration) -> Result<(), String> {
        self.pg_ctl(&["-m", "immediate", "stop"])?;
        std::thread::sleep(down);
        self.pg_ctl(&["start"])
    }

    /// The URL of database `name` (created here).
    pub fn database(&self, name: &str) -> Result<String, String> {
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut connection = diesel::PgConnection::establish(&admin).map_err(|e| e.to_string())?;
        connection.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| e.to_string())?;
        Ok(format!("postgres://postgres@127.0.0.1:{}/{name}", self.port))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}

fn postgres_bin() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.filter_map(|d| d.ok()).map(|d| d.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or_else(|| "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (initdb, pg_ctl)".to_owned())
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// How long the server stays down under the service's load: requests then must be answered
/// 503 at once, not held.
const OUTAGE: Duration = Duration::from_secs(2);

/// The connector service on the cluster, 8 clients reading and writing; the server crashes
/// after 2 s and is started again [`OUTAGE`] later.
pub fn service_restart(env: &Env, binary: &Path, cluster: &Cluster, seconds: u64) -> Result<Row, String> {
    let mut row = Row::new("PostgreSQL restarted under the connector service's load", Backend::Postgres, 1);
    let url = cluster.database("service_restart")?;
    env.run(&url, &["migrate", "run", "--domain", "persistent_storage"])?;
    let timeout = 5;
    let service = ServiceProcess::start(
        binary,
        &["--listen", "127.0.0.1:0", "--database-url", &url, "--request-timeout", &timeout.to_string()],
        &[("INTAKE_SECRET_KEY", rotation::KEYS), ("RUST_LOG", "warn")],
    );
    let address = service.address;
    let stop = Arc::new(AtomicBool::new(false));
    // (seconds since the start, status, whether the body is problem+json, how long it took).
    let answers = Arc::new(Mutex::new(Vec::<(f64, u16, bool, Duration)>::new()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (stop, answers, errors) = (stop.clone(), answers.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                let mut connection = None;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("r-{client}-{n}");
                    let body = serde_json::json!({"id": id, "name": "restart", "type": "sql"}).to_string();
                    let sent = Instant::now();
                    let answer = match connection.as_mut() {
                        Some(c) => Ok(c),
                        None => Connection::open(address).map(|c| connection.insert(c)),
                    }
                    .and_then(|c: &mut Connection| {
                        if n % 2 == 0 {
                            c.send("POST", "/connector/profiles", &[], Some(&body))
                        } else {
                            c.send("GET", &format!("/connector/profiles/r-{client}-{}", n - 1), &[], None)
                        }
                    });
                    match answer {
                        Ok(answer) => {
                            let problem = answer.body.contains("\"status\":");
                            answers.lock().expect("a lock").push((
                                started.elapsed().as_secs_f64(),
                                answer.status,
                                problem,
                                sent.elapsed(),
                            ));
                        }
                        Err(error) => {
                            errors.lock().expect("a lock").push(format!("client {client}: {error}"));
                            connection = None;
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let restart = Instant::now();
    cluster.crash_and_restart(OUTAGE)?;
    let restarted_at = started.elapsed().as_secs_f64();
    let down = restart.elapsed();
    std::thread::sleep(Duration::from_secs(seconds.saturating_sub(2)));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().map_err(|_| "a client panicked".to_owned())?;
    }
    for error in errors.lock().expect("a lock").iter() {
        row.fail(format!("a request got no answer: {error}"));
    }
    let answers = answers.lock().expect("a lock");
    let mut unavailable = 0;
    for (at, status, problem, took) in answers.iter() {
        let hang = *took > Duration::from_secs(timeout + 1);
        match status {
            200 | 201 | 404 if !hang => {}
            503 if *problem && !hang => unavailable += 1,
            _ => row.fail(format!("at {at:.1} s: answered {status} after {took:?}")),
        }
    }
    // Recovered: after the last 5xx, a second or more of answers, all 2xx, and that last 5xx
    // within twice the pool's connect timeout of the server being back (the pool retries a
    // failed connect with a back-off of up to half its timeout; a busy machine restarts
    // PostgreSQL slowly).
    let end = answers.iter().map(|a| a.0).fold(0.0, f64::max);
    let last_failure = answers.iter().filter(|a| a.1 >= 500).map(|a| a.0).fold(restarted_at, f64::max);
    let serving = answers.iter().filter(|a| a.0 > last_failure).count();
    let recovered_in = last_failure - restarted_at;
    let limit = migration_core::CONNECT_TIMEOUT.as_secs_f64() * 2.0;
    if end - last_failure < 1.0 || serving == 0 {
        row.fail(format!(
            "the service did not serve again after the restart: the last 5xx at {last_failure:.1} s, the run ended at {end:.1} s"
        ));
    } else if recovered_in > limit {
        row.fail(format!(
            "the service served again only {recovered_in:.1} s after the server was back (limit {limit:.0} s)"
        ));
    }
    if !row.failed() {
        row.pass("503s while down, served again after");
    }
    row.figures = format!(
        "{} answers; server down {:.1} s; {unavailable} answered 503 (problem+json); slowest {:.2} s; serving again {recovered_in:.1} s after the server was back; {serving} answers after the last 503, all 2xx",
        answers.len(),
        down.as_secs_f64(),
        answers.iter().map(|a| a.3).max().unwrap_or_default().as_secs_f64(),
    );
    Ok(row)
}

/// An executions import on the cluster, the server crashed after a random part of it.
pub fn import_restart(env: &Env, cluster: &Cluster, runs: u32, rng: &mut crate::Rng) -> Result<Row, String> {
    let mut row = Row::new("PostgreSQL restarted during an import", Backend::Postgres, runs);
    let file = env.file(EXECUTIONS);
    let template = cluster.database("import_template")?;
    env.run(&template, &["migrate", "run"])?;
    let before = State::read(&template, &[])?;
    let reference = cluster.database("import_reference")?;
    env.run(&reference, &["migrate", "run"])?;
    let started = Instant::now();
    env.run(&reference, &["executions", "import", &file])?;
    let took = started.elapsed();
    let after = State::read(&reference, &[])?;
    for run in 0..runs {
        let url = cluster.database(&format!("import_{run}"))?;
        env.run(&url, &["migrate", "run"])?;
        let child = env.intake(&url, &["executions", "import", &file]).spawn().map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_micros(rng.below(took.as_micros() as u64 * 9 / 10) + 1));
        cluster.crash_and_restart(Duration::ZERO)?;
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let state = State::read(&url, &[])?;
        let outcome = if state == before {
            "failed, database as before"
        } else if state == after {
            "finished before the crash"
        } else {
            row.fail(format!("run {run}: half-written: {:?}", after.differences(&state)));
            continue;
        };
        // Crashed before it connected, it says it could not connect (and why).
        let says_what_was_written =
            text.contains("nothing") || text.contains("none of their rows") || text.contains("cannot connect to");
        if !output.status.success() && !says_what_was_written {
            row.fail(format!("run {run}: the failure does not say what was written: {text}"));
            continue;
        }
        match finish(env.intake(&url, &["executions", "import", &file]), "the import again") {
            Ok(_) if State::read(&url, &[])? == after => row.pass(outcome),
            Ok(_) => row.fail(format!("run {run}: the import again did not give the state after it")),
            Err(error) => row.fail(format!("run {run}: {error}")),
        }
        if output.status.success() {
            continue;
        }
        if row.figures.is_empty() {
            let said: Vec<&str> = text.lines().filter(|l| l.starts_with("error") || l.starts_with("hint")).collect();
            row.figures = format!("the import said: {}", said.join(" / "));
        }
    }
    Ok(row)
}

/// An SQLite import under a file-size limit (a full disk): a clear failure, an intact
/// database as before.
pub fn disk_full(env: &Env) -> Result<Row, String> {
    let mut row = Row::new("disk full under an SQLite import", Backend::Sqlite, 1);
    let db = ScratchDatabase::new(Backend::Sqlite);
    env.run(db.url(), &["migrate", "run"])?;
    let before = State::read(db.url(), &[])?;
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    // Room for 256 KiB more in any one file (the database, its write-ahead log): far less
    // than the import needs.
    let blocks = (size + 256 * 1024) / 512;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -f {blocks} && trap '' XFSZ && exec \"$0\" \"$@\""))
        .arg(&env.intake)
        .args(["--database-url", db.url(), "executions", "import", &env.file(EXECUTIONS)])
        .env_remove("RUST_LOG");
    let output = command.output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let said = text.lines().filter(|l| l.starts_with("error") || l.starts_with("hint")).collect::<Vec<_>>().join(" / ");
    if output.status.success() {
        row.fail("the import succeeded under the limit: the limit did not bite");
    } else if !said.contains("the disk is full or failing") {
        row.fail(format!("the message does not say the disk is full: {said}"));
    }
    let state = State::read(db.url(), &[])?;
    if state != before {
        row.fail(format!("the database changed: {:?}", before.differences(&state)));
    }
    let integrity = Command::new("sqlite3").arg(&path).arg("PRAGMA integrity_check").output();
    match integrity {
        Ok(out) if String::from_utf8_lossy(&out.stdout).trim() == "ok" => {}
        Ok(out) => row.fail(format!("integrity_check: {}", String::from_utf8_lossy(&out.stdout))),
        Err(error) => row.fail(format!("sqlite3 (the integrity check): {error}")),
    }
    // With room again, the same import completes.
    if let Err(error) = env.run(db.url(), &["executions", "import", &env.file(EXECUTIONS)]) {
        row.fail(format!("with room again: {error}"));
    }
    if !row.failed() {
        row.pass("failed cleanly, database intact and as before");
    }
    row.figures = format!("the import said: {said}");
    Ok(row)
}

/// Another connection holds SQLite's write lock for 3 s while an import starts: the import
/// says it waits for the lock, then completes.
pub fn lock_wait(env: &Env) -> Result<Row, String> {
    let mut row = Row::new("another writer holding SQLite's write lock", Backend::Sqlite, 1);
    let db = ScratchDatabase::new(Backend::Sqlite);
    env.run(db.url(), &["migrate", "run"])?;
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let (locked, release) = (std::sync::mpsc::channel::<()>(), Duration::from_secs(3));
    let holder = std::thread::spawn(move || -> Result<(), String> {
        let mut connection = diesel::SqliteConnection::establish(&path).map_err(|e| e.to_string())?;
        connection.batch_execute("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
        let _ = locked.0.send(());
        std::thread::sleep(release);
        connection.batch_execute("COMMIT").map_err(|e| e.to_string())
    });
    locked.1.recv().map_err(|_| "the lock holder did not start".to_owned())?;
    let started = Instant::now();
    let output = env.run(db.url(), &["executions", "import", &env.file(EXECUTIONS)]);
    let waited = started.elapsed();
    holder.join().map_err(|_| "the holder panicked".to_owned())??;
    match output {
        Ok(text) if text.contains("waiting for the database's write lock") && waited >= Duration::from_secs(2) => {
            row.pass("waited, said so, completed");
            let line = text.lines().find(|l| l.contains("waiting for")).unwrap_or("").trim();
            row.figures = format!("completed after {:.1} s; it said: {line}", waited.as_secs_f64());
        }
        Ok(text) => row.fail(format!("completed after {waited:?} without saying it waited for the lock: {text}")),
        Err(error) => row.fail(error),
    }
    Ok(row)
}
