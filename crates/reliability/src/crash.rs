//! Crashes: each operation killed with SIGKILL at a random moment, then judged.
//!
//! For an operation and a backend: a template database is brought to the state before the
//! operation; a copy runs the operation to its end once, which gives the state after it and
//! how long it takes. Each trial then runs it on a fresh copy, kills it after a random delay
//! (up to 1.2 × that time, so some kills land after the end), reads the database and judges
//! it against the two states, then runs the operation again, which must complete with no
//! clean-up and leave the state after it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use migration_core::Backend;
use test_support::ScratchDatabase;

use crate::state::{self, State};
use crate::{Rng, Tally};

/// What the operations run, and their input files.
pub struct Env {
    /// The `intake` binary.
    pub intake: PathBuf,
    /// Generated input files.
    pub files: PathBuf,
}

impl Env {
    /// `intake --database-url URL ARGS…`, quiet.
    pub fn intake(&self, url: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&self.intake);
        command
            .arg("--database-url")
            .arg(url)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `intake` to its end; its output, or why it failed.
    pub fn run(&self, url: &str, args: &[&str]) -> Result<String, String> {
        finish(self.intake(url, args), &format!("intake {}", args.join(" ")))
    }

    /// A generated input file's path.
    pub fn file(&self, name: &str) -> String {
        self.files.join(name).display().to_string()
    }
}

/// Runs `command` to its end: its stdout and stderr, or an error naming it.
pub fn finish(mut command: Command, what: &str) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("{what}: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() { Ok(text) } else { Err(format!("{what} failed ({}):\n{text}", output.status)) }
}

/// How a killed operation's database is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// Exactly the state before or the state after.
    Exact,
    /// Migrations: the state before, after, or after some of them, each whole (checked by
    /// `intake migrate check`: the schema is the one the applied migrations make, and the
    /// bookkeeping names exactly those).
    Migrations,
    /// ALM: the data as before or after; the date's run may be left PROCESSING (the next
    /// run takes it over and says so).
    Alm,
    /// Key rotation (batches of rows, resumable): documents unchanged, every secret opens to
    /// its value, sealed with the old key or the new one.
    Rotation,
}

/// One operation.
pub struct Operation {
    /// Its name in the table.
    pub name: &'static str,
    /// Brings an empty database to the state before the operation.
    pub prepare: fn(&Env, &str) -> Result<(), String>,
    /// The operation, on the database at the URL.
    pub command: fn(&Env, &str) -> Command,
    /// How a trial is judged.
    pub judge: Judge,
    /// Columns left out of the states (values sealed with random nonces).
    pub ignore: &'static [&'static str],
    /// What the operation says when run again after it committed, if it refuses that (an
    /// upload of a week uploaded before): then the refusal, writing nothing, is the recovery.
    pub refused_again: Option<&'static str>,
}

/// The ALM bookkeeping tables, judged apart from the data: the date's run history first.
pub fn alm_bookkeeping(backend: Backend) -> [String; 2] {
    ["alm_reporting.import_history", "alm_reporting.processing_status"].map(|name| state::table(backend, name))
}

/// The states an operation is judged against.
struct Reference {
    before: State,
    after: State,
    /// How long the uninterrupted operation took.
    took: Duration,
}

/// Runs `trials` trials of `operation` on `backend`.
pub fn run(env: &Env, operation: &Operation, backend: Backend, trials: u32, rng: &mut Rng) -> Result<Tally, String> {
    let template = ScratchDatabase::new(backend);
    (operation.prepare)(env, template.url()).map_err(|e| format!("preparing {}: {e}", operation.name))?;
    let read = |url: &str| State::read(url, operation.ignore);
    let before = read(template.url())?;
    let reference = {
        let db = template.copy();
        let started = Instant::now();
        finish((operation.command)(env, db.url()), operation.name)?;
        let took = started.elapsed();
        Reference { before, after: read(db.url())?, took }
    };
    if reference.after == reference.before && operation.judge != Judge::Rotation {
        return Err(format!("{}: the operation changed nothing, so a trial could prove nothing", operation.name));
    }
    let mut tally = Tally::new(operation.name, backend, reference.took);
    for trial in 0..trials {
        let db = template.copy();
        let delay = Duration::from_micros(rng.below(reference.took.as_micros() as u64 * 6 / 5 + 1));
        let mut child = (operation.command)(env, db.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", operation.name))?;
        std::thread::sleep(delay);
        let finished_first = child.try_wait().map_err(|e| e.to_string())?.is_some();
        let _ = child.kill();
        let _ = child.wait();
        let state = read(db.url())?;
        let outcome = judge(env, operation, backend, db.url(), &reference, &state)?;
        let outcome = if finished_first && outcome == Outcome::After { Outcome::Finished } else { outcome };
        // Again, to its end: no clean-up by hand, no lock left behind.
        let started = Instant::now();
        let again = finish((operation.command)(env, db.url()), operation.name);
        let committed = matches!(outcome, Outcome::After | Outcome::Finished);
        let again = match (again, operation.refused_again) {
            (Err(error), Some(refusal)) if committed && error.contains(refusal) => Ok(String::new()),
            (again, _) => again,
        };
        let recovered = match again {
            Ok(output) => {
                let state = read(db.url())?;
                let whole = recovered(env, operation, backend, db.url(), &reference, &state)?;
                match whole {
                    Ok(()) if operation.judge == Judge::Alm && outcome == Outcome::Interrupted => {
                        if output.contains("took over") {
                            Ok(())
                        } else {
                            Err("the next run did not say it took over the interrupted one".to_owned())
                        }
                    }
                    other => other,
                }
            }
            Err(error) => Err(error),
        };
        let waited = started.elapsed();
        tally.add(trial, delay, outcome, recovered, waited);
    }
    Ok(tally)
}

/// What a trial found after the kill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The state before the operation.
    Before,
    /// The state after it.
    After,
    /// The state after it, and the process had ended before the kill.
    Finished,
    /// Migrations: after some of them, each whole.
    Boundary,
    /// ALM: the data whole (before or after) and the date's run left PROCESSING.
    Interrupted,
    /// ALM: the data as before and the date's run created, still PENDING.
    Pending,
    /// Key rotation: some rows sealed with the new key, each whole.
    Resumable,
    /// Migrations: a non-transactional one interrupted, its statements part-applied, and the
    /// bookkeeping saying so (the run again finishes it); `intake migrate check`'s report.
    PartApplied(String),
    /// A service: every acknowledged write stored, and nothing else.
    Kept,
    /// A service: every acknowledged write stored, and the one in flight whole.
    KeptInFlight,
    /// Anything else: a half-written state, described.
    Lost(String),
}

impl Outcome {
    /// The table's column for it.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Before => "before",
            Outcome::After | Outcome::Finished => "after",
            Outcome::Boundary => "between migrations",
            Outcome::Interrupted => "run left PROCESSING",
            Outcome::Pending => "run left PENDING",
            Outcome::Resumable => "part rotated",
            Outcome::PartApplied(_) => "non-transactional migration interrupted (recorded)",
            Outcome::Kept => "acknowledged writes kept",
            Outcome::KeptInFlight => "acknowledged writes kept, +1 in flight",
            Outcome::Lost(_) => "LOST",
        }
    }
}

fn judge(
    env: &Env,
    operation: &Operation,
    backend: Backend,
    url: &str,
    reference: &Reference,
    state: &State,
) -> Result<Outcome, String> {
    if *state == reference.before && operation.judge != Judge::Rotation {
        return Ok(Outcome::Before);
    }
    if *state == reference.after && operation.judge != Judge::Rotation {
        return Ok(Outcome::After);
    }
    Ok(match operation.judge {
        Judge::Exact => Outcome::Lost(reference.after.differences(state).join("; ")),
        Judge::Migrations => match env.run(url, &["migrate", "check"]) {
            Ok(_) => Outcome::Boundary,
            // PostgreSQL cannot build or drop an index CONCURRENTLY in a transaction: killed
            // inside such a migration, its statements may stay part-applied. The bookkeeping
            // must say so (an audit row "up started" with no "up finished", which `check`
            // reports as interrupted); every such script is idempotent (IF [NOT] EXISTS), so
            // running the migrations again finishes it. Drift without that record is lost.
            Err(error) if error.contains("interrupted: ") => Outcome::PartApplied(error),
            Err(error) => Outcome::Lost(error),
        },
        Judge::Alm => {
            let bookkeeping = alm_bookkeeping(backend);
            let history = state.rows(&bookkeeping[0]);
            let data = state.without(&bookkeeping);
            let expected = reference.after.without(&bookkeeping);
            let whole = data == reference.before.without(&bookkeeping) || data == expected;
            // PENDING: killed between creating the date's row and marking it PROCESSING.
            let left = |status: &str| history.iter().any(|row| row.contains(status));
            match (whole, left("PROCESSING"), left("PENDING")) {
                (true, true, _) => Outcome::Interrupted,
                (true, false, true) => Outcome::Pending,
                (true, false, false) => {
                    Outcome::Lost(format!("the data is whole but the run's history says {history:?}"))
                }
                (false, ..) => Outcome::Lost(expected.differences(&data).join("; ")),
            }
        }
        Judge::Rotation => match rotation::check(url, backend)? {
            rotation::Sealed { old: 0, .. } => Outcome::After,
            rotation::Sealed { new: 0, .. } => Outcome::Before,
            _ => Outcome::Resumable,
        },
    })
}

/// Whether the database is as after the operation, once it was run again.
fn recovered(
    env: &Env,
    operation: &Operation,
    backend: Backend,
    url: &str,
    reference: &Reference,
    state: &State,
) -> Result<Result<(), String>, String> {
    Ok(match operation.judge {
        Judge::Exact => {
            if *state == reference.after {
                Ok(())
            } else {
                Err(reference.after.differences(state).join("; "))
            }
        }
        // The audit trail keeps an interrupted run's "started" row: compared apart, by
        // `check` (clean, nothing interrupted).
        Judge::Migrations => {
            let audit = ["intake_schema_migration_audit".to_owned()];
            let (state, after) = (state.without(&audit), reference.after.without(&audit));
            match env.run(url, &["migrate", "check"]) {
                _ if state != after => Err(after.differences(&state).join("; ")),
                Ok(output) if output.contains("interrupted: ") => Err(output),
                Ok(_) => Ok(()),
                Err(error) => Err(error),
            }
        }
        Judge::Alm => {
            let bookkeeping = alm_bookkeeping(backend);
            let history = state.rows(&bookkeeping[0]);
            let (data, expected) = (state.without(&bookkeeping), reference.after.without(&bookkeeping));
            if data != expected {
                Err(expected.differences(&data).join("; "))
            } else if !history.iter().all(|row| row.contains("SUCCESS")) {
                Err(format!("the run's history says {history:?}"))
            } else {
                Ok(())
            }
        }
        Judge::Rotation => match rotation::check(url, backend)? {
            rotation::Sealed { old: 0, .. } if *state == reference.before => Ok(()),
            rotation::Sealed { old: 0, .. } => Err(reference.before.differences(state).join("; ")),
            sealed => Err(format!("{} secrets still sealed with the old key", sealed.old)),
        },
    })
}

/// Key rotation's own judge: every secret opens to the value it was stored with.
pub mod rotation {
    use diesel::QueryableByName;
    use diesel::sql_types::{Nullable, Text};
    use migration_core::Backend;
    use persistent_storage::secrets::{Keyring, Place};
    use secrecy::{ExposeSecret as _, SecretString};

    /// The keys: the new (active) one first, then the old one.
    pub const KEYS: &str =
        "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\nk1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    /// The old key alone, which sealed the secrets first.
    pub const OLD_KEY: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    /// The password stored with profile `id`.
    pub fn password(id: &str) -> String {
        format!("pw-{id}-'\";--")
    }

    /// The connection string stored with profile `id`.
    pub fn connection_string(id: &str) -> String {
        format!("Server=db;Database={id};Password={}", password(id))
    }

    /// How many secrets each key seals.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Sealed {
        /// With the old key.
        pub old: u64,
        /// With the new one.
        pub new: u64,
    }

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Nullable<Text>)]
        secrets: Option<String>,
    }

    /// Opens every secret of every profile; an error names a secret that does not open to its
    /// value (never the value).
    pub fn check(url: &str, backend: Backend) -> Result<Sealed, String> {
        let keys = Keyring::parse(&SecretString::from(KEYS)).map_err(|e| e.to_string())?;
        let sql = match backend {
            Backend::Postgres => "SELECT id, CAST(secrets AS TEXT) AS secrets FROM connector_profiles",
            Backend::Sqlite => "SELECT id, secrets FROM connector_profiles",
        };
        let rows: Vec<Row> = crate::state::load(url, sql)?;
        let mut sealed = Sealed { old: 0, new: 0 };
        for row in rows {
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(row.secrets.as_deref().unwrap_or("{}")).map_err(|e| e.to_string())?;
            for (field, expected) in
                [("connection_string", connection_string(&row.id)), ("credentials.password", password(&row.id))]
            {
                let value =
                    map.get(field).and_then(|v| v.as_str()).ok_or(format!("profile {} lost its {field}", row.id))?;
                let place = Place { table: "connector_profiles", key: &row.id, field };
                let plain = keys.open(place, value).map_err(|e| format!("profile {}: {e}", row.id))?;
                if plain.expose_secret() != expected {
                    return Err(format!("profile {}: {field} opens to another value", row.id));
                }
                match Keyring::key_id_of(value) {
                    Some("k1") => sealed.old += 1,
                    Some("k2") => sealed.new += 1,
                    other => return Err(format!("profile {}: {field} sealed with key {other:?}", row.id)),
                }
            }
        }
        Ok(sealed)
    }
}

/// Whether `path` exists, for a clear error before a long run.
pub fn require(path: &Path) -> Result<(), String> {
    if path.exists() { Ok(()) } else { Err(format!("{} is missing: build it first", path.display())) }
}

/// A service handling writes, killed: every write it acknowledged (201) is stored whole, at
/// most the one in flight is there unacknowledged, and the service started again serves
/// them all.
pub mod service {
    use std::io::{Read as _, Write as _};
    use std::net::{SocketAddr, TcpStream};
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use migration_core::Backend;
    use test_support::ScratchDatabase;
    use test_support::http::ServiceProcess;

    use super::{Env, Outcome, rotation};
    use crate::{Rng, Tally};

    /// The operation's name in the table.
    pub const NAME: &str = "connector-service writes (POST)";

    fn body(id: &str) -> String {
        serde_json::json!({
            "id": id,
            "name": format!("Written {id}"),
            "type": "sql",
            "connection_string": rotation::connection_string(id),
            "credentials": {"username": "etl", "password": rotation::password(id)},
        })
        .to_string()
    }

    /// One POST; the status, or why there was none.
    fn post(address: SocketAddr, id: &str) -> Result<u16, String> {
        let body = body(id);
        let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let request = format!(
            "POST /connector/profiles HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(|e| e.to_string())?;
        answer.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no status in {answer:?}"))
    }

    fn start(binary: &Path, url: &str) -> ServiceProcess {
        ServiceProcess::start(
            binary,
            &["--listen", "127.0.0.1:0", "--database-url", url],
            &[("INTAKE_SECRET_KEY", rotation::KEYS), ("RUST_LOG", "warn")],
        )
    }

    /// `trials` trials on `backend`, each killing the service after up to `window`.
    pub fn run(env: &Env, binary: &Path, backend: Backend, trials: u32, rng: &mut Rng) -> Result<Tally, String> {
        super::require(binary)?;
        let template = ScratchDatabase::new(backend);
        env.run(template.url(), &["migrate", "run", "--domain", "persistent_storage"])?;
        let window = Duration::from_millis(1500);
        let mut tally = Tally::new(NAME, backend, window);
        for trial in 0..trials {
            let db = template.copy();
            let mut service = start(binary, db.url());
            let address = service.address;
            let stop = Arc::new(AtomicBool::new(false));
            let writer = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let (mut acknowledged, mut sent) = (Vec::new(), 0u32);
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("w-{sent}");
                        sent += 1;
                        match post(address, &id) {
                            Ok(201) => acknowledged.push(id),
                            Ok(status) => return Err(format!("{id}: answered {status} before the kill")),
                            Err(_) => break,
                        }
                    }
                    Ok((acknowledged, sent))
                })
            };
            let delay = Duration::from_micros(rng.below(window.as_micros() as u64));
            std::thread::sleep(delay);
            service.kill();
            stop.store(true, Ordering::Relaxed);
            let (acknowledged, sent) = writer.join().map_err(|_| "the writer panicked".to_owned())??;
            let outcome = judge(db.url(), backend, &acknowledged, sent)?;
            // Started again, it serves every acknowledged write.
            let started = Instant::now();
            let service = start(binary, db.url());
            let missing: Vec<&String> = acknowledged
                .iter()
                .filter(|id| service.request("GET", &format!("/connector/profiles/{id}"), &[], None).status != 200)
                .collect();
            let recovered = if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("{} acknowledged writes not served after the restart, e.g. {}", missing.len(), missing[0]))
            };
            drop(service);
            tally.add(trial, delay, outcome, recovered, started.elapsed());
        }
        Ok(tally)
    }

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        name: Option<String>,
    }

    fn judge(url: &str, backend: Backend, acknowledged: &[String], sent: u32) -> Result<Outcome, String> {
        let sql = match backend {
            Backend::Postgres => "SELECT id, profile_data ->> 'name' AS name FROM connector_profiles",
            Backend::Sqlite => "SELECT id, json_extract(profile_data, '$.name') AS name FROM connector_profiles",
        };
        let stored: Vec<Row> = crate::state::load(url, sql)?;
        if let Some(id) = acknowledged.iter().find(|id| !stored.iter().any(|row| &row.id == *id)) {
            return Ok(Outcome::Lost(format!("{id} was acknowledged (201) but is not stored")));
        }
        if let Some(row) = stored.iter().find(|row| row.name.as_deref() != Some(&format!("Written {}", row.id))) {
            return Ok(Outcome::Lost(format!("{} is stored with another document", row.id)));
        }
        if stored.len() > acknowledged.len() + 1 || stored.len() > sent as usize {
            return Ok(Outcome::Lost(format!(
                "{} rows stored for {} acknowledged writes (at most one more was in flight)",
                stored.len(),
                acknowledged.len()
            )));
        }
        // Every stored secret opens to the value it was written with.
        rotation::check(url, backend)?;
        Ok(if stored.len() == acknowledged.len() { Outcome::Kept } else { Outcome::KeptInFlight })
    }
}
