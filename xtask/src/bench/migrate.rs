//! `cargo xtask bench migrate`: what the migration core costs beyond the SQL it runs, and the
//! whole schema migrated as a process beside `alembic upgrade head`, in one run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{drop_pg, json_number, peer_venv, recreate_pg, remove_sqlite};
use crate::shell::{self, step};

const USAGE: &str = "\
cargo xtask bench migrate [OPTIONS]

1. The 20 tables of the Alembic peer (../shared/bench/peers/peer_migrate), applied to a fresh
   PostgreSQL database as a new process: `alembic upgrade head` against intake applying the
   same revisions written as intake migrations (xtask/bench/peer_migrate), in one transaction
   for the run (as the peer does) and one per migration, and against the same SQL run with no
   bookkeeping at all (the floor any tool pays).
2. Generated migrations (a table and an index each), 10, 100 and 1000 of them, applied to a
   fresh database on PostgreSQL and SQLite by the migration core, which times each
   migration's statements itself: its overhead per migration is the rest of the run's time,
   divided by the count (median of --runs); the same statements run directly, one
   transaction per migration, are shown beside it.
3. `intake migrate check` and `verify` of intake's schema on both backends.

Writes target/bench/migrate.md.

Options:
  --runs N      repetitions of every measurement; medians are reported (default 3)
  --counts LIST generated migration counts (default 10,100,1000)
  --peers DIR   the peer scripts (default ../shared/bench/peers next to the workspace)
Environment:
  BENCH_PG_URL  PostgreSQL server (default postgres://postgres@127.0.0.1:5432); databases
                intake_bench_migrate and peer_bench_migrate are created and dropped
";

struct Options {
    runs: usize,
    counts: Vec<usize>,
    peers: PathBuf,
    pg: String,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        runs: 3,
        counts: vec![10, 100, 1000],
        peers: shell::root().join("../shared/bench/peers"),
        pg: std::env::var("BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"));
        match flag.as_str() {
            "--runs" => options.runs = value()?.parse().map_err(|_| format!("--runs takes a number\n\n{USAGE}"))?,
            "--counts" => {
                options.counts = value()?
                    .split(',')
                    .map(|n| n.trim().parse().map_err(|_| format!("--counts: `{n}` is not a number")))
                    .collect::<Result<_, _>>()?
            }
            "--peers" => options.peers = PathBuf::from(value()?),
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    if options.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    if !options.peers.join("peer_migrate/alembic.ini").is_file() {
        return Err(format!(
            "no Alembic peer in {} (peer_migrate/alembic.ini); pass --peers DIR",
            options.peers.display()
        ));
    }
    Ok(options)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Writes `count` generated migrations (a table and an index each) for both backends.
fn generate(dir: &Path, count: usize) -> Result<(), String> {
    if dir.join("sqlite").join(format!("{count:06}_create_t{count}")).is_dir() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dir);
    for backend in ["postgres", "sqlite"] {
        for i in 1..=count {
            let folder = dir.join(backend).join(format!("{i:06}_create_t{i}"));
            std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
            let up = format!(
                "CREATE TABLE t{i} (id BIGINT PRIMARY KEY, label TEXT NOT NULL);\nCREATE INDEX t{i}_label ON t{i} (label);\n"
            );
            for (file, text) in [("up.sql", up), ("down.sql", format!("DROP TABLE t{i};\n"))] {
                std::fs::write(folder.join(file), text).map_err(|e| format!("{}: {e}", folder.display()))?;
            }
        }
    }
    Ok(())
}

/// Runs a command, failing with its stderr; returns its stdout and wall time in ms.
fn timed(command: &mut Command) -> Result<(String, f64), String> {
    let started = Instant::now();
    let output = command.output().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if !output.status.success() {
        return Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok((String::from_utf8_lossy(&output.stdout).into_owned(), ms))
}

fn table_count(url: &str) -> Result<u32, String> {
    let (out, _) = timed(Command::new("psql").args([
        "-X",
        "-At",
        url,
        "-c",
        "SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('public', 'alm_reporting') \
         AND table_name NOT LIKE 'intake\\_schema\\_%' AND table_name <> 'alembic_version'",
    ]))?;
    out.trim().parse().map_err(|_| format!("psql counted `{out}`"))
}

/// Flushes the server's dirty buffers, so a section does not pay for the previous one's writes.
fn checkpoint(server: &str) -> Result<(), String> {
    timed(Command::new("psql").args([
        "-X",
        "-q",
        &format!("{}/postgres", server.trim_end_matches('/')),
        "-c",
        "CHECKPOINT",
    ]))
    .map(drop)
}

struct Fresh {
    url: String,
    reset: Box<dyn Fn() -> Result<(), String>>,
}

fn fresh(options: &Options, backend: &str, work: &Path, name: &'static str) -> Fresh {
    match backend {
        "pg" => {
            let server = options.pg.clone();
            Fresh {
                url: format!("{}/{name}", server.trim_end_matches('/')),
                reset: Box::new(move || recreate_pg(&server, name)),
            }
        }
        _ => {
            let path = work.join(format!("{name}.db"));
            Fresh {
                url: format!("sqlite://{}", path.display()),
                reset: Box::new(move || {
                    remove_sqlite(&path);
                    let _ = std::fs::remove_file(format!("{}.migrate-lock", path.display()));
                    Ok(())
                }),
            }
        }
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let work = shell::target_dir().join("bench/migrate");
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;
    step(
        "build intake and the migrate_dir example (release)",
        shell::cargo().args([
            "build",
            "--release",
            "--locked",
            "--package",
            "intake",
            "--bin",
            "intake",
            "--package",
            "migration-core",
            "--example",
            "migrate_dir",
        ]),
    )?;
    let release = shell::target_dir().join("release");
    let migrate_dir = release.join("examples/migrate_dir");
    let intake = release.join("intake");
    let mut report = String::from("# Migration core, `cargo xtask bench migrate`\n\n");
    let mut verdicts = Vec::new();

    // 1. As a process, against Alembic; first, before the generated migrations churn the
    // server's catalogue and WAL.
    checkpoint(&options.pg)?;
    let python = peer_venv(&shell::target_dir().join("bench/dedup"))?;
    let alembic = python.with_file_name("alembic");
    let peer_sql = shell::root().join("xtask/bench/peer_migrate");
    let server = options.pg.trim_end_matches('/').to_owned();
    let fresh_peer_db = |name: &str| -> Result<String, String> {
        recreate_pg(&options.pg, name)?;
        Ok(format!("{server}/{name}"))
    };
    let (mut per_migration, mut single, mut bare, mut alembic_samples) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.runs {
        for (mode, samples) in [("run", &mut per_migration), ("run-single", &mut single), ("raw", &mut bare)] {
            let url = fresh_peer_db("intake_bench_migrate")?;
            let (_, ms) = timed(Command::new(&migrate_dir).arg(mode).arg(&url).arg(&peer_sql))?;
            if table_count(&url)? != 20 {
                return Err("intake did not create the peer's 20 tables".into());
            }
            samples.push(ms);
        }
        let url = fresh_peer_db("peer_bench_migrate")?;
        let (_, ms) = timed(
            Command::new(&alembic)
                .args(["-c", "alembic.ini", "upgrade", "head"])
                .current_dir(options.peers.join("peer_migrate"))
                .env("PEER_MIGRATE_URL", url.replace("postgres://", "postgresql+psycopg://")),
        )?;
        if table_count(&url)? != 20 {
            return Err("alembic did not create its 20 tables".into());
        }
        alembic_samples.push(ms);
    }
    drop_pg(&options.pg, "peer_bench_migrate");
    let (per_migration, single, bare, alembic_ms) =
        (median(per_migration), median(single), median(bare), median(alembic_samples));
    let (ratio, ratio_default, ratio_bare) = (alembic_ms / single, alembic_ms / per_migration, alembic_ms / bare);
    writeln!(
        report,
        "\n## The peer's 20 tables as a new process, PostgreSQL (median of {} runs)\n\n\
         The peer's env.py runs every revision in one transaction; `--single-transaction` is intake's same mode.\n\n\
         | tool | ms | alembic ÷ tool |\n|---|---|---|\n\
         | intake, one transaction for the run (xtask/bench/peer_migrate) | {single:.1} | {ratio:.1}× |\n\
         | intake, one transaction per migration (the default) | {per_migration:.1} | {ratio_default:.1}× |\n\
         | the same SQL with no bookkeeping, one transaction per migration (`migrate_dir raw`: the floor) | {bare:.1} | {ratio_bare:.1}× |\n\
         | alembic upgrade head | {alembic_ms:.1} | 1.0× |",
        options.runs
    )
    .unwrap();
    verdicts.push(format!(
        "{}: the 20 tables as a process, both in one transaction: intake {single:.0} ms vs alembic {alembic_ms:.0} ms, {ratio:.1}× (target ≥ 10×; one transaction per migration: {ratio_default:.1}×)",
        if ratio >= 10.0 { "holds" } else { "DOES NOT HOLD" }
    ));

    // 2. Overhead per migration.
    checkpoint(&options.pg)?;
    writeln!(
        report,
        "## Overhead per migration (median of {} runs)\n\n| db | migrations | intake ms | the same SQL alone ms | per migration: outside the statements ms | per migration: intake − SQL alone ms | target |\n|---|---|---|---|---|---|---|",
        options.runs
    )
    .unwrap();
    for backend in ["sqlite", "pg"] {
        let db = fresh(&options, backend, &work, "intake_bench_migrate");
        for &count in &options.counts {
            let dir = work.join(format!("generated_{count}"));
            generate(&dir, count)?;
            // Two measures of the same thing, both from runs on fresh databases: the time a
            // run spends outside its migrations' statements (the core times them itself; this
            // includes each COMMIT, which the bare SQL pays too), and the difference from the
            // same statements run bare, one transaction per migration, right after it (median
            // of the pairs' differences: a server that slows for a while moves both sides).
            let (mut runs, mut outside, mut bare, mut differences) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..options.runs {
                let sample = |mode: &str| -> Result<String, String> {
                    (db.reset)()?;
                    Ok(timed(Command::new(&migrate_dir).arg(mode).arg(&db.url).arg(&dir))?.0)
                };
                let out = sample("run")?;
                let (total, sql) = (json_number(&out, "ms")?, json_number(&out, "sql_ms")?);
                let raw = json_number(&sample("raw")?, "ms")?;
                runs.push(total);
                outside.push(total - sql);
                bare.push(raw);
                differences.push(total - raw);
            }
            let (intake_ms, raw_ms) = (median(runs), median(bare));
            let outside = median(outside) / count as f64;
            let difference = median(differences) / count as f64;
            let overhead = outside.max(difference);
            let target = if backend == "pg" { 3.0 } else { 1.0 };
            eprintln!(
                "{backend} {count}: intake {intake_ms:.1} ms, SQL {raw_ms:.1} ms, overhead {outside:.3} / {difference:.3} ms/migration"
            );
            writeln!(
                report,
                "| {backend} | {count} | {intake_ms:.1} | {raw_ms:.1} | {outside:.3} | {difference:.3} | < {target} |"
            )
            .unwrap();
            verdicts.push(format!(
                "{}: overhead on {backend} at {count} migrations: {overhead:.3} ms, the larger of the two measures (target < {target} ms)",
                if overhead < target { "holds" } else { "DOES NOT HOLD" }
            ));
        }
        if backend == "pg" {
            drop_pg(&options.pg, "intake_bench_migrate");
        }
    }

    // 3. intake's own schema: migrate, check and verify as processes.
    checkpoint(&options.pg)?;
    writeln!(
        report,
        "\n## intake's own schema as the binary ships it (median of {} runs)\n\n| db | `intake migrate` ms | `check` ms (its own) | `verify` ms (its own) |\n|---|---|---|---|",
        options.runs
    )
    .unwrap();
    for backend in ["sqlite", "pg"] {
        let db = fresh(&options, backend, &work, "intake_bench_migrate");
        let (mut migrate, mut check, mut check_own, mut verify, mut verify_own) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..options.runs {
            (db.reset)()?;
            let run = |args: &[&str]| timed(Command::new(&intake).args(args).env("DATABASE_URL", &db.url));
            migrate.push(run(&["migrate", "run"])?.1);
            let (out, ms) = run(&["--json", "migrate", "check"])?;
            check.push(ms);
            check_own.push(json_number(&out, "duration_ms")?);
            let (out, ms) = run(&["--json", "migrate", "verify"])?;
            verify.push(ms);
            verify_own.push(json_number(&out, "duration_ms")?);
        }
        writeln!(
            report,
            "| {backend} | {:.1} | {:.1} ({:.0}) | {:.1} ({:.0}) |",
            median(migrate),
            median(check),
            median(check_own),
            median(verify),
            median(verify_own)
        )
        .unwrap();
        if backend == "pg" {
            drop_pg(&options.pg, "intake_bench_migrate");
        }
    }
    report.push_str("\n## Targets\n\n");
    for verdict in &verdicts {
        writeln!(report, "- {verdict}").unwrap();
    }
    let path = shell::target_dir().join("bench/migrate.md");
    std::fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("{report}\n(written to {})", path.display());
    Ok(())
}
