//! `cargo xtask bench storage`: seed 002's two services on PostgreSQL against the peer
//! (`../shared/bench/peers/peer_storage.py`, FastAPI on asyncpg, two workers) and against the
//! floor, `pgbench` running the services' own SQL with no HTTP, in one run at the same
//! concurrency; then memory over a soak run.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::shell::{self, step};

const USAGE: &str = "\
cargo xtask bench storage [--seconds S] [--documents N] [--soak S]

Starts the release connector-service and demo-config-service on a fresh PostgreSQL database and
the peer (peer_storage.py under uvicorn, 2 workers, in a venv made under target/) on another;
fills both with the same N connector profiles and client configurations; then, at 1, 8 and 64
connections, loads each with wrk (installed with apt-get when missing) for S seconds: GET a
profile by id, a filtered profile list (?type=sql, 50 newest), POST a profile (with its two
secrets), GET a client, POST a client. The floor: pgbench running the statements the services
run for the same operations, at the same concurrency. Reports requests/s, p50 and p99, the
ratios against the peer and the floor and the targets; then RSS of the connector service
sampled each second over a soak of mixed reads and writes at 64 connections. Writes
target/bench/storage.md.

Options:
  --seconds S     each load run (default 5)
  --documents N   documents of each kind before the runs (default 10000)
  --soak S        the memory run (default 60)
  --peers DIR     the peer scripts (default ../shared/bench/peers next to the workspace)
Environment:
  BENCH_PG_URL    PostgreSQL server (default postgres://postgres@127.0.0.1:5432); databases
                  intake_bench_storage and peer_storage are created and dropped
";

const CONNECTIONS: [u32; 3] = [1, 8, 64];
const OURS_CONNECTOR: &str = "127.0.0.1:18023";
const OURS_DEMO: &str = "127.0.0.1:18022";
const PEER: &str = "127.0.0.1:18123";

struct Options {
    seconds: u32,
    documents: u32,
    soak: u32,
    peers: PathBuf,
    pg: String,
}

/// One operation loaded at each concurrency.
struct Operation {
    name: &'static str,
    read: bool,
    /// Our service's address, and the request path (a Lua script picks ids).
    ours: &'static str,
    /// The wrk Lua script, with `{prefix}` for the ids it writes.
    script: &'static str,
    /// The pgbench script: the services' own statements for the operation.
    sql: &'static str,
}

const GET_PROFILE_LUA: &str = r#"
request = function()
  return wrk.format("GET", "/connector/profiles/p-" .. math.random(1, DOCUMENTS))
end
"#;
const LIST_PROFILES_LUA: &str = r#"
request = function()
  return wrk.format("GET", "/connector/profiles?type=sql")
end
"#;
const POST_PROFILE_LUA: &str = r#"
local counter = 0
request = function()
  counter = counter + 1
  local id = "PREFIX-" .. tid .. "-" .. counter
  local body = '{"id": "' .. id .. '", "name": "Bench ' .. id .. '", "type": "sql", "connection_string": "Server=db;Password=pw' .. counter .. '", "credentials": {"username": "etl", "password": "pw' .. counter .. '"}}'
  return wrk.format("POST", "/connector/profiles", {["Content-Type"] = "application/json"}, body)
end
"#;
const GET_CLIENT_LUA: &str = r#"
request = function()
  return wrk.format("GET", "/demo/clients/c-" .. math.random(1, DOCUMENTS))
end
"#;
const POST_CLIENT_LUA: &str = r#"
local counter = 0
request = function()
  counter = counter + 1
  local id = "PREFIX-" .. tid .. "-" .. counter
  local body = '{"client_id": "' .. id .. '", "client_name": "Bench ' .. id .. '", "license_type": "professional", "modules": ["SCOR", "CRM"]}'
  return wrk.format("POST", "/demo/clients", {["Content-Type"] = "application/json"}, body)
end
"#;
/// Gives each wrk thread a number (`tid`), so ids written by threads never collide.
const THREADS_LUA: &str = r#"
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
"#;

// pgbench takes every `:name` for a variable, even inside quotes: the time format's colons
// are spelled chr(58), which PostgreSQL folds once when it prepares the statement.
const SELECT_PROFILE: &str = "SELECT id AS key, CAST(profile_data AS TEXT) AS data, \
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24' || chr(58) || 'MI' || chr(58) || 'SS.US') AS created_at, \
    to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24' || chr(58) || 'MI' || chr(58) || 'SS.US') AS updated_at, version, secrets AS secrets FROM connector_profiles";
const SELECT_CLIENT: &str = "SELECT client_id AS key, CAST(config_data AS TEXT) AS data, \
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24' || chr(58) || 'MI' || chr(58) || 'SS.US') AS created_at, \
    to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24' || chr(58) || 'MI' || chr(58) || 'SS.US') AS updated_at, version, CAST(NULL AS TEXT) AS secrets FROM client_configs";

fn operations() -> Vec<Operation> {
    vec![
        Operation {
            name: "GET profile by id",
            read: true,
            ours: OURS_CONNECTOR,
            script: GET_PROFILE_LUA,
            sql: "\\set n random(1, DOCUMENTS)\nSELECT_PROFILE WHERE id = 'p-' || CAST(:n AS TEXT);\n",
        },
        Operation {
            name: "GET profiles ?type=sql (50 newest)",
            read: true,
            ours: OURS_CONNECTOR,
            script: LIST_PROFILES_LUA,
            sql: "SELECT_PROFILE WHERE (profile_data ->> 'type') = 'sql' ORDER BY connector_profiles.created_at DESC, connector_profiles.id DESC LIMIT 51;\n",
        },
        Operation {
            name: "POST profile (2 secrets)",
            read: false,
            ours: OURS_CONNECTOR,
            script: POST_PROFILE_LUA,
            sql: "\\set n random(1, 2000000000)\n\
                  INSERT INTO connector_profiles (id, profile_data, created_at, updated_at, version, secrets) \
                  VALUES ('pgb-' || CAST(:client_id AS TEXT) || '-' || CAST(:n AS TEXT), CAST('{\"name\": \"Bench\", \"type\": \"sql\", \"credentials\": {\"username\": \"etl\"}}' AS JSONB), now(), now(), 1, \
                  '{\"connection_string\": \"v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", \"credentials.password\": \"v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}') ON CONFLICT (id) DO NOTHING RETURNING RETURNING_PROFILE;\n",
        },
        Operation {
            name: "GET client by id",
            read: true,
            ours: OURS_DEMO,
            script: GET_CLIENT_LUA,
            sql: "\\set n random(1, DOCUMENTS)\nSELECT_CLIENT WHERE client_id = 'c-' || CAST(:n AS TEXT);\n",
        },
        Operation {
            name: "POST client",
            read: false,
            ours: OURS_DEMO,
            script: POST_CLIENT_LUA,
            sql: "\\set n random(1, 2000000000)\n\
                  INSERT INTO client_configs (client_id, config_data, created_at, updated_at, version) \
                  VALUES ('pgb-' || CAST(:client_id AS TEXT) || '-' || CAST(:n AS TEXT), CAST('{\"client_name\": \"Bench\", \"license_type\": \"professional\", \"modules\": [\"SCOR\", \"CRM\"]}' AS JSONB), now(), now(), 1) ON CONFLICT (client_id) DO NOTHING RETURNING RETURNING_CLIENT;\n",
        },
    ]
}

/// One load run's result.
#[derive(Clone, Copy, Default)]
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let work = shell::target_dir().join("bench/storage");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    shell::ensure_debian(&["/usr/bin/wrk"], &["wrk"], "the storage bench")?;
    shell::ensure_debian(&["/usr/bin/pgbench"], &["postgresql-client"], "the storage bench")?;
    step(
        "build the services (release)",
        shell::cargo().args(["build", "--release", "--locked", "-p", "connector-service", "-p", "demo-config-service"]),
    )?;
    let python = peer_venv(&work)?;
    let ours_db = "intake_bench_storage";
    let peer_db = "peer_storage";
    super::recreate_pg(&options.pg, ours_db)?;
    super::recreate_pg(&options.pg, peer_db)?;
    let ours_url = format!("{}/{ours_db}", options.pg.trim_end_matches('/'));
    let key = format!("k1:{}", "A".repeat(43));

    let release = shell::target_dir().join("release");
    let log = |name: &str| std::fs::File::create(work.join(format!("{name}.log"))).map_err(|e| e.to_string());
    // Both services on one database, each on its bench port, logging warnings only.
    let service = |name: &str, address: &str, key: Option<&str>| -> Result<Process, String> {
        let mut command = Command::new(release.join(name));
        command.args(["--listen", address]).env("DATABASE_URL", &ours_url).env("RUST_LOG", "warn");
        if let Some(key) = key {
            command.env("INTAKE_SECRET_KEY", key);
        }
        let child = command.stdout(Stdio::null()).stderr(log(name)?).spawn().map_err(|e| format!("{name}: {e}"))?;
        wait_for(address)?;
        Ok(Process(child))
    };
    let connector = service("connector-service", OURS_CONNECTOR, Some(&key))?;
    let _demo = service("demo-config-service", OURS_DEMO, None)?;
    let peer_url = format!(
        "postgresql+asyncpg://{}/{peer_db}",
        options.pg.trim_start_matches("postgres://").trim_end_matches('/')
    );
    let peer = Process(
        Command::new(python.with_file_name("uvicorn"))
            .args([
                "peer_storage:app",
                "--host",
                "127.0.0.1",
                "--port",
                "18123",
                "--workers",
                "2",
                "--log-level",
                "warning",
            ])
            .current_dir(&options.peers)
            .env("PEER_STORAGE_URL", &peer_url)
            .stdout(Stdio::null())
            .stderr(log("peer")?)
            .spawn()
            .map_err(|e| format!("peer: {e}"))?,
    );
    wait_for(PEER)?;
    // Let the peer's workers create their tables before the rows go in.
    http_get(PEER, "/health")?;
    fill(&options, ours_db, peer_db)?;

    let mut loads = Vec::new();
    for operation in operations() {
        for connections in CONNECTIONS {
            let ours = wrk(&options, &work, operation.ours, &operation, connections, "ours")?;
            let peer = wrk(&options, &work, PEER, &operation, connections, "peer")?;
            eprintln!(
                "    {} at {connections}: intake {:.0} req/s, peer {:.0}",
                operation.name, ours.requests_per_second, peer.requests_per_second
            );
            loads.push((ours, peer));
        }
    }
    // The peer's pools hold up to 40 server connections: stopped, pgbench's 64 fit under
    // PostgreSQL's default max_connections (100) beside the services' 20.
    drop(peer);
    let mut rows = Vec::new();
    let mut loads = loads.into_iter();
    for operation in operations() {
        for connections in CONNECTIONS {
            let floor = pgbench(&options, &work, ours_db, &operation, connections)?;
            let (ours, peer) = loads.next().expect("one load per operation and concurrency");
            eprintln!("    {} at {connections}: pgbench {:.0} tps", operation.name, floor.requests_per_second);
            rows.push((operation.name, operation.read, connections, ours, peer, floor));
        }
    }
    let memory = soak(&options, &work, &connector)?;
    let text = render(&options, &rows, &memory);
    drop(connector);
    super::drop_pg(&options.pg, ours_db);
    super::drop_pg(&options.pg, peer_db);
    print!("\n{text}");
    let out = shell::target_dir().join("bench/storage.md");
    std::fs::write(&out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seconds: 5,
        documents: 10_000,
        soak: 60,
        peers: shell::root().join("../shared/bench/peers"),
        pg: std::env::var("BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"));
        let number = |text: &String| text.parse::<u32>().map_err(|_| format!("{flag}: `{text}` is not a number"));
        match flag.as_str() {
            "--seconds" => options.seconds = number(value()?)?.max(1),
            "--documents" => options.documents = number(value()?)?.max(1),
            "--soak" => options.soak = number(value()?)?.max(5),
            "--peers" => options.peers = PathBuf::from(value()?),
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    if !options.peers.join("peer_storage.py").is_file() {
        return Err(format!("no peer_storage.py in {}; pass --peers DIR", options.peers.display()));
    }
    Ok(options)
}

/// A child process killed when dropped.
pub(super) struct Process(pub(super) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn wait_for(address: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if http_get(address, "/health").is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("nothing answered /health at {address} within 60 s (see the service logs under target/bench/)"))
}

pub(super) fn http_get(address: &str, path: &str) -> Result<String, String> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    if response.starts_with("HTTP/1.1 200") { Ok(response) } else { Err(response) }
}

/// The same documents in both databases: N profiles (a third of each type, one a second apart)
/// and N client configurations.
fn fill(options: &Options, ours: &str, peer: &str) -> Result<(), String> {
    let n = options.documents;
    let profiles = format!(
        "INSERT INTO connector_profiles (id, profile_data, created_at, updated_at{{version}}) \
         SELECT 'p-' || g, jsonb_build_object('name', 'Profile ' || g, 'type', (ARRAY['sql', 'api', 'excel'])[1 + g % 3], \
                'credentials', jsonb_build_object('username', 'user' || g), 'test_status', 'success'), \
                now() - g * interval '1 second', now() - g * interval '1 second'{{one}} FROM generate_series(1, {n}) g;"
    );
    let clients = format!(
        "INSERT INTO client_configs (client_id, config_data, created_at, updated_at{{version}}) \
         SELECT 'c-' || g, jsonb_build_object('client_name', 'Client ' || g, 'license_type', (ARRAY['basic', 'professional', 'enterprise'])[1 + g % 3], \
                'modules', jsonb_build_array('SCOR', 'CRM')), now() - g * interval '1 second', now() - g * interval '1 second'{{one}} FROM generate_series(1, {n}) g;"
    );
    for (database, version, one) in [(ours, ", version", ", 1"), (peer, "", "")] {
        let sql = format!("{profiles} {clients} ANALYZE;").replace("{version}", version).replace("{one}", one);
        step(
            &format!("fill {database} with {n} profiles and {n} clients"),
            Command::new("psql").args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                &format!("{}/{database}", options.pg.trim_end_matches('/')),
                "-c",
                &sql,
            ]),
        )?;
    }
    Ok(())
}

fn wrk(
    options: &Options,
    work: &Path,
    address: &str,
    operation: &Operation,
    connections: u32,
    who: &str,
) -> Result<Load, String> {
    let prefix = format!("{who}{connections}{}", operation.name.len());
    let script = format!("{THREADS_LUA}{}", operation.script)
        .replace("DOCUMENTS", &options.documents.to_string())
        .replace("PREFIX", &prefix);
    let path = work.join("load.lua");
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let threads = connections.min(2).to_string();
    let output = Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads,
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", options.seconds),
            "-s",
        ])
        .arg(&path)
        .arg(format!("http://{address}"))
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    if let Some(line) = text.lines().find(|l| l.contains("Non-2xx or 3xx responses")) {
        return Err(format!("{who} {} at {connections}: {}", operation.name, line.trim()));
    }
    let field = |label: &str| -> Option<&str> {
        text.lines().find(|l| l.trim_start().starts_with(label)).and_then(|l| l.split_whitespace().nth(1))
    };
    let requests_per_second =
        field("Requests/sec:").and_then(|v| v.parse().ok()).ok_or(format!("no rate in {text}"))?;
    let p50_ms = field("50%").and_then(milliseconds).ok_or(format!("no p50 in {text}"))?;
    let p99_ms = field("99%").and_then(milliseconds).ok_or(format!("no p99 in {text}"))?;
    Ok(Load { requests_per_second, p50_ms, p99_ms })
}

/// The column list of a `SELECT ... FROM table`.
fn returned(select: &str) -> &str {
    let columns = select.strip_prefix("SELECT ").unwrap_or(select);
    columns.rsplit_once(" FROM ").map_or(columns, |(columns, _)| columns)
}

/// wrk's `1.86ms`, `312.00us`, `1.02s`.
fn milliseconds(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let value: f64 = text[..split].parse().ok()?;
    match &text[split..] {
        "us" => Some(value / 1000.0),
        "ms" => Some(value),
        "s" => Some(value * 1000.0),
        "m" => Some(value * 60_000.0),
        _ => None,
    }
}

fn pgbench(
    options: &Options,
    work: &Path,
    database: &str,
    operation: &Operation,
    connections: u32,
) -> Result<Load, String> {
    let script = operation
        .sql
        // A write returns the row it stored, as the services' INSERT ... RETURNING does.
        .replace("RETURNING_PROFILE", returned(SELECT_PROFILE))
        .replace("RETURNING_CLIENT", returned(SELECT_CLIENT))
        .replace("SELECT_PROFILE", SELECT_PROFILE)
        .replace("SELECT_CLIENT", SELECT_CLIENT)
        .replace("DOCUMENTS", &options.documents.to_string());
    let path = work.join("floor.sql");
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-c", &connections.to_string(), "-j", &connections.min(2).to_string()])
        .args(["-T", &options.seconds.to_string(), "-f"])
        .arg(&path)
        .arg(format!("{}/{database}", options.pg.trim_end_matches('/')))
        .output()
        .map_err(|e| format!("pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("pgbench failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .ok_or(format!("no tps in {text}"))?;
    let average = text
        .lines()
        .find(|l| l.starts_with("latency average = "))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Ok(Load { requests_per_second: tps, p50_ms: average, p99_ms: f64::NAN })
}

/// RSS of the connector service each second over `--soak` seconds of GETs and POSTs at 64
/// connections: (second, MB).
fn soak(options: &Options, work: &Path, connector: &Process) -> Result<Vec<(u32, f64)>, String> {
    let script = format!(
        "{THREADS_LUA}\nlocal counter = 0\nrequest = function()\n  counter = counter + 1\n  if counter % 4 == 0 then\n{}\n  end\n  return wrk.format(\"GET\", \"/connector/profiles/p-\" .. math.random(1, {}))\nend\n",
        "    local id = \"soak-\" .. tid .. \"-\" .. counter\n    return wrk.format(\"POST\", \"/connector/profiles\", {[\"Content-Type\"] = \"application/json\"}, '{\"id\": \"' .. id .. '\", \"name\": \"S\", \"type\": \"api\", \"credentials\": {\"password\": \"pw\"}}')",
        options.documents
    );
    let path = work.join("soak.lua");
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    eprintln!("\n==> soak: {} s at 64 connections, RSS each second", options.soak);
    let mut load = Command::new("wrk")
        .args(["-t", "2", "-c", "64", "-d", &format!("{}s", options.soak), "-s"])
        .arg(&path)
        .arg(format!("http://{OURS_CONNECTOR}"))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("wrk: {e}"))?;
    let status = format!("/proc/{}/status", connector.0.id());
    let mut samples = Vec::new();
    for second in 0..=options.soak {
        let text = std::fs::read_to_string(&status).map_err(|e| format!("{status}: {e}"))?;
        let kb: f64 = text
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        samples.push((second, kb / 1024.0));
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = load.wait();
    Ok(samples)
}

fn peer_venv(work: &Path) -> Result<PathBuf, String> {
    let venv = work.join("peer_venv");
    let python = venv.join("bin/python");
    if !venv.join("done").is_file() {
        step("python venv for the storage peer", Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        // uvicorn[standard] (httptools, uvloop) as deployments run it: plain h11 waits on
        // delayed ACKs and would make the peer look far slower than it is (its docstring).
        step(
            "peer dependencies (fastapi, uvicorn[standard], sqlalchemy[asyncio], asyncpg, cryptography)",
            Command::new(venv.join("bin/pip")).args([
                "install",
                "-q",
                "fastapi",
                "uvicorn[standard]",
                "sqlalchemy[asyncio]",
                "asyncpg",
                "cryptography",
            ]),
        )?;
        std::fs::write(venv.join("done"), "").map_err(|e| e.to_string())?;
    }
    Ok(python)
}

type Row = (&'static str, bool, u32, Load, Load, Load);

fn render(options: &Options, rows: &[Row], memory: &[(u32, f64)]) -> String {
    let mut out = format!(
        "| operation ({} documents, {} s each, PostgreSQL) | connections | intake req/s | p50 ms | p99 ms | peer req/s | peer p50 | peer p99 | × peer | pgbench tps | intake / floor |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        options.documents, options.seconds
    );
    for (name, _, connections, ours, peer, floor) in rows {
        out.push_str(&format!(
            "| {name} | {connections} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2}× | {:.0} | {:.2}× |\n",
            ours.requests_per_second,
            ours.p50_ms,
            ours.p99_ms,
            peer.requests_per_second,
            peer.p50_ms,
            peer.p99_ms,
            ours.requests_per_second / peer.requests_per_second,
            floor.requests_per_second,
            floor.requests_per_second / ours.requests_per_second,
        ));
    }
    out.push_str("\n| target | measured | verdict |\n|---|---|---|\n");
    let verdict = |holds: bool| if holds { "holds" } else { "does not hold" };
    for (name, read, connections, ours, peer, floor) in rows {
        let against_peer = ours.requests_per_second / peer.requests_per_second;
        let against_floor = floor.requests_per_second / ours.requests_per_second;
        let wanted = if *read { 5.0 } else { 2.0 };
        out.push_str(&format!(
            "| {name} at {connections}: ≥ {wanted}× the peer, or within 1.3× of pgbench | {against_peer:.2}× the peer; the floor {against_floor:.2}× as fast | {} |\n",
            verdict(against_peer >= wanted || against_floor <= 1.3)
        ));
        if *read && *connections == 64 {
            out.push_str(&format!(
                "| {name} at 64: p99 under 10 ms | {:.2} ms | {} |\n",
                ours.p99_ms,
                verdict(ours.p99_ms < 10.0)
            ));
        }
    }
    let at = |second: u32| memory.iter().find(|(s, _)| *s == second).map_or(0.0, |(_, mb)| *mb);
    let warm = at(5.min(options.soak));
    let peak = memory.iter().map(|(_, mb)| *mb).fold(0.0, f64::max);
    let end = memory.last().map_or(0.0, |(_, mb)| *mb);
    out.push_str(&format!(
        "| connector-service RSS over {} s at 64 connections (3 GETs : 1 POST): flat | {warm:.1} MB at 5 s, peak {peak:.1} MB, {end:.1} MB at the end | {} |\n",
        options.soak,
        verdict(end - warm < 16.0 && peak - warm < 32.0)
    ));
    out
}
