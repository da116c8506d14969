//! Migrators in separate processes on one database, on both backends: each migration applied
//! exactly once (a non-transactional one included), a waiter that names the holder and gives
//! up, and a killed holder that leaves no lock behind.
//!
//! The test binary starts copies of itself as the migrator processes (`INTAKE_TEST_CHILD`
//! says which role), so it has its own `main` instead of libtest's harness. Run it alone with
//! `cargo test -p migration-core --test processes [FILTER]`; `INTAKE_TEST_MIGRATOR_ROUNDS`
//! (default 3) says how many times the four-process race repeats.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::panic::AssertUnwindSafe;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{DEMO, NO_TRANSACTION, OTHER};
use migration_core::{Database, Domain, Error, MigrationFiles, MigrationLock, Migrator, Policy, Scripts, State};
use test_support::TestDatabase;

/// A non-transactional migration of many statements, each adding a row: run twice, it would
/// leave twice the rows (nothing else stops a second migrator between its statements).
static COUNTED: Domain = Domain::new("counted", COUNTED_MIGRATIONS);
const COUNTED_MIGRATIONS: &[MigrationFiles] = &[
    MigrationFiles {
        version: "1",
        name: "create_runs",
        postgres: Scripts { up: "CREATE TABLE runs (n INTEGER NOT NULL);", down: "DROP TABLE runs;", metadata: "" },
        sqlite: Scripts { up: "CREATE TABLE runs (n INTEGER NOT NULL);", down: "DROP TABLE runs;", metadata: "" },
    },
    MigrationFiles {
        version: "2",
        name: "count_runs",
        postgres: Scripts { up: COUNT_RUNS, down: "DELETE FROM runs;", metadata: "run_in_transaction = false" },
        sqlite: Scripts { up: COUNT_RUNS, down: "DELETE FROM runs;", metadata: "run_in_transaction = false" },
    },
];
const COUNT_RUNS: &str = "INSERT INTO runs VALUES (1); INSERT INTO runs VALUES (2); INSERT INTO runs VALUES (3);
INSERT INTO runs VALUES (4); INSERT INTO runs VALUES (5); INSERT INTO runs VALUES (6); INSERT INTO runs VALUES (7);
INSERT INTO runs VALUES (8); INSERT INTO runs VALUES (9); INSERT INTO runs VALUES (10);";

const ROLE: &str = "INTAKE_TEST_CHILD";
const URL: &str = "INTAKE_TEST_CHILD_URL";

fn migrator(lock_timeout: Duration) -> Migrator<'static> {
    Migrator::new([&DEMO, &OTHER, &NO_TRANSACTION, &COUNTED])
        .unwrap()
        .with_policy(Policy { lock_timeout, ..Policy::default() })
}

/// What a child process does: `run` migrates and prints how many migrations it applied;
/// `hold` takes the migrator lock, says so, and sleeps until it is killed.
fn child(role: &str) -> ! {
    let url = std::env::var(URL).expect("the parent passes the URL");
    let database = Database::connect(&url).unwrap_or_else(|error| panic!("{error}"));
    match role {
        "run" => match migrator(Duration::from_secs(60)).run(&database, None) {
            Ok(steps) => {
                println!("{}", steps.len());
                std::process::exit(0);
            }
            Err(error) => {
                eprintln!("{error}");
                std::process::exit(1);
            }
        },
        "hold" => {
            let _lock = MigrationLock::acquire(&database, Duration::from_secs(10)).unwrap();
            println!("locked");
            std::io::stdout().flush().unwrap();
            std::thread::sleep(Duration::from_secs(120));
            std::process::exit(0);
        }
        other => panic!("unknown child role {other}"),
    }
}

fn spawn(role: &str, db: &TestDatabase) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .env(URL, db.url())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a child migrator")
}

/// Starts a child that holds the lock and returns once it does.
fn holder(db: &TestDatabase) -> Child {
    let mut child = spawn("hold", db);
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "locked", "the holder did not take the lock");
    child
}

fn four_migrators_apply_each_migration_exactly_once(db: &TestDatabase) {
    let children: Vec<Child> = (0..4).map(|_| spawn("run", db)).collect();
    let mut applied = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a migrator failed: {}", String::from_utf8_lossy(&output.stderr));
        applied += String::from_utf8_lossy(&output.stdout).trim().parse::<usize>().unwrap();
    }
    let total: usize = [&DEMO, &OTHER, &NO_TRANSACTION, &COUNTED].iter().map(|d| d.migrations().len()).sum();
    assert_eq!(applied, total, "each migration applied by exactly one of the four");
    let status = migrator(Duration::from_secs(1)).status(db.database(), None).unwrap();
    assert!(status.iter().all(|s| s.state == State::Applied), "{status:#?}");
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
    }
    let mut connection = db.database().get().unwrap();
    let count = migration_core::dispatch!(connection, conn => {
        diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query("SELECT count(*) AS rows FROM runs"), conn)
    })
    .unwrap();
    assert_eq!(count.rows, 10, "the non-transactional migration ran exactly once");
}

fn a_waiting_migrator_names_the_holder_and_gives_up(db: &TestDatabase) {
    let mut child = holder(db);
    let started = Instant::now();
    let error = migrator(Duration::from_secs(1)).run(db.database(), None).unwrap_err();
    let waited = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(matches!(error, Error::LockTimeout { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains(&format!("intake migrate: pid {}", child.id())), "names the holder: {message}");
    assert!(message.contains("gave up after 1 s"), "{message}");
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(5), "waited {waited:?}");
    assert!(
        migrator(Duration::from_secs(1)).status(db.database(), None).unwrap().iter().all(|s| s.state == State::Pending)
    );
}

fn a_killed_holder_leaves_no_lock_behind(db: &TestDatabase) {
    let mut child = holder(db);
    child.kill().unwrap();
    child.wait().unwrap();
    let started = Instant::now();
    let steps = migrator(Duration::from_secs(10)).run(db.database(), None).unwrap();
    assert_eq!(steps.len(), 10);
    assert!(started.elapsed() < Duration::from_secs(5), "the lock was free at once: {:?}", started.elapsed());
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
    }
    let rounds: usize = std::env::var("INTAKE_TEST_MIGRATOR_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    type Test = fn(&TestDatabase);
    let tests: [(&str, Test, usize); 3] = [
        ("four_migrators_apply_each_migration_exactly_once", four_migrators_apply_each_migration_exactly_once, rounds),
        ("a_waiting_migrator_names_the_holder_and_gives_up", a_waiting_migrator_names_the_holder_and_gives_up, 1),
        ("a_killed_holder_leaves_no_lock_behind", a_killed_holder_leaves_no_lock_behind, 1),
    ];
    let started = Instant::now();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, test, repeat) in tests {
        for backend in ["sqlite", "postgres"] {
            let full_name = format!("{name}::{backend}");
            if !filter.is_empty() && !filter.iter().any(|f| full_name.contains(f.as_str())) {
                skipped += 1;
                continue;
            }
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                for _ in 0..repeat {
                    let db = if backend == "sqlite" { TestDatabase::sqlite() } else { TestDatabase::postgres() };
                    test(&db);
                }
            }));
            let verdict = if outcome.is_ok() { "ok" } else { "FAILED" };
            println!("test {full_name} ... {verdict}");
            if outcome.is_ok() { passed += 1 } else { failed += 1 }
        }
    }
    let result = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {result}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {skipped} filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(101);
    }
}
