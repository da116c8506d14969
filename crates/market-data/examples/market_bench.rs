//! Measures seed 001's claims on one backend and prints one markdown table:
//! `cargo run --release -p market-data --example market_bench -- DATABASE_URL [--rows N] [--insert-rows N]`.
//!
//! The database must be empty (`cargo xtask bench market-data` makes fresh ones). Steps:
//! 1. INSERT rows/s into `market_data` and `alert_logs` with the pre-phase indexes, then, on
//!    emptied tables, after the two index migrations (the seed's 30–50 % claim);
//! 2. SUM, AVG, STDDEV and a VWAP over the prices as DECIMAL(12,4), then the conversion
//!    migration (its time; on PostgreSQL the table is locked ACCESS EXCLUSIVE throughout), then
//!    the same over DOUBLE PRECISION (the seed's 2–3× claim);
//! 3. the kept query shapes (latest price per instrument, an instrument's hour) with the
//!    pre-phase indexes, after the seed's index migrations (the seed's "query performance
//!    maintained"), and after every migration (with `20251202000000_index_instrument_time`,
//!    which restores the (instrument, time) index the seed's drops left none of).
//!
//! 4. on PostgreSQL, the conversion by the migration against the low-lock path
//!    (`market_data::online`, then the migration), over the same ticks with a writer
//!    inserting throughout: the time of each, and the longest a write waited.
//!
//! Each query figure is the median of 5 runs.

use std::time::Instant;

use diesel::prelude::*;
use diesel::sql_types::Double;
use migration_core::{Backend, Database, Domain, Migrator};

const INSTRUMENTS: i64 = 50;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else { fail("usage: market_bench DATABASE_URL [--rows N] [--insert-rows N]") };
    let number = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |n| n.parse().unwrap_or_else(|_| fail(&format!("{flag}: {n} is not a number"))))
    };
    let (rows, insert_rows) = (number("--rows", 1_000_000), number("--insert-rows", 200_000));
    let db = Database::connect(url).unwrap_or_else(|e| fail(&e.to_string()));
    let backend = db.backend();
    let all = market_data::MIGRATIONS.migrations();
    let upto = |k: usize| -> &'static Domain { Box::leak(Box::new(Domain::new("market_data", &all[..k]))) };
    let migrate = |k: usize| {
        Migrator::new([upto(k)]).unwrap().run(&db, None).unwrap_or_else(|e| fail(&e.to_string()));
    };
    let mut out = Vec::new();

    // 1. INSERT speed, before and after the index migrations, into empty tables.
    migrate(1);
    seed_parents(&db);
    let before_md = insert_ticks(&db, insert_rows);
    let before_al = insert_logs(&db, insert_rows / 4);
    empty(&db);
    migrate(3);
    let after_md = insert_ticks(&db, insert_rows);
    let after_al = insert_logs(&db, insert_rows / 4);
    empty(&db);
    // Every migration: the seed's, and the index it left out (20251202000000).
    migrate(all.len());
    let final_md = insert_ticks(&db, insert_rows);
    empty(&db);
    out.push(row("INSERT market_data, pre-phase indexes (rows/s)", before_md, None));
    out.push(row(
        "INSERT market_data, after the seed's index migrations (rows/s)",
        after_md,
        Some(after_md / before_md),
    ));
    out.push(row("INSERT market_data, every migration (rows/s)", final_md, Some(final_md / before_md)));
    out.push(row("INSERT alert_logs, 11 indexes (rows/s)", before_al, None));
    out.push(row("INSERT alert_logs, 4 indexes (rows/s)", after_al, Some(after_al / before_al)));

    // 2. and 3. on `rows` ticks: the pre-phase schema, then the rest of the migrations.
    Migrator::new([upto(all.len())])
        .unwrap()
        .rollback(&db, Some("market_data"), &migration_core::RollbackTarget::To(all[0].version.into()))
        .unwrap();
    insert_ticks(&db, rows);
    let shapes = |db: &Database| (median(|| latest(db)), median(|| hour(db)));
    let (latest_before, hour_before) = shapes(&db);
    migrate(3);
    let (latest_after, hour_after) = shapes(&db);
    let decimal = median(|| aggregates(&db));
    // PostgreSQL's NUMERIC as its own text (always 4 decimals); SQLite's DECIMAL column
    // already held doubles.
    let before = prices(&db, db.backend() == Backend::Postgres);
    let started = Instant::now();
    migrate(4);
    let conversion = started.elapsed().as_secs_f64();
    // Every row, before and after, as 4-decimal text.
    let after = prices(&db, false);
    let differing = before.iter().zip(&after).filter(|(a, b)| a != b).count() + before.len().abs_diff(after.len());
    let float = median(|| aggregates(&db));
    migrate(all.len());
    let (latest_final, hour_final) = shapes(&db);
    out.push(row("SUM, AVG, STDDEV, VWAP over DECIMAL(12,4) (s)", decimal, None));
    out.push(row("the same over DOUBLE PRECISION (s)", float, Some(decimal / float)));
    out.push(row(
        match backend {
            Backend::Postgres => "conversion migration, table locked ACCESS EXCLUSIVE throughout (s)",
            Backend::Sqlite => "conversion migration, a table rebuild holding the write lock (s)",
        },
        conversion,
        None,
    ));
    out.push(row("rows whose 4-decimal price differs after the conversion", differing as f64, None));
    out.push(row("rows compared", before.len() as f64, None));
    out.push(row("latest price per instrument, pre-phase indexes (s)", latest_before, None));
    out.push(row(
        "latest price per instrument, after the seed's (s)",
        latest_after,
        Some(latest_before / latest_after),
    ));
    out.push(row("latest price per instrument, every migration (s)", latest_final, Some(latest_before / latest_final)));
    out.push(row("one instrument's hour, pre-phase indexes (s)", hour_before, None));
    out.push(row("one instrument's hour, after the seed's (s)", hour_after, Some(hour_before / hour_after)));
    out.push(row("one instrument's hour, every migration (s)", hour_final, Some(hour_before / hour_final)));

    if backend == Backend::Postgres {
        out.extend(online_against_rewrite(&db, url));
    }
    println!("| {} ({} rows, {} inserted) | value | ratio |\n|---|---|---|", label(backend), rows, insert_rows);
    for line in out {
        println!("{line}");
    }
    // The seed's claims, judged on these figures.
    let verdict = |holds: bool| if holds { "holds" } else { "does not hold" };
    let seed_queries = (latest_before / latest_after).min(hour_before / hour_after);
    let final_queries = (latest_before / latest_final).min(hour_before / hour_final);
    println!("\n| {} claim | measured | verdict |\n|---|---|---|", label(backend));
    println!(
        "| market_data INSERT 30–50 % faster | {:.2}× | {} |",
        after_md / before_md,
        verdict(after_md / before_md >= 1.3)
    );
    println!(
        "| alert_logs INSERT significantly faster (≥ 1.3×) | {:.2}× | {} |",
        after_al / before_al,
        verdict(after_al / before_al >= 1.3)
    );
    println!("| calculations 2–3× faster on FLOAT | {:.2}× | {} |", decimal / float, verdict(decimal / float >= 2.0));
    println!(
        "| no data loss in the conversion | {differing} of {} prices differ | {} |",
        before.len(),
        verdict(differing == 0)
    );
    println!(
        "| query performance maintained (slowest kept shape ≥ 0.9×) | {seed_queries:.2}× after the seed's; {final_queries:.2}× after every migration | {}; {} |",
        verdict(seed_queries >= 0.9),
        verdict(final_queries >= 0.9)
    );
}

/// PostgreSQL: the conversion by the migration (`ALTER TYPE`, ACCESS EXCLUSIVE throughout)
/// against `market_data::online::convert_online` followed by the migration, each from the
/// pre-conversion schema over the same ticks, with a writer inserting one tick per statement
/// throughout. Rows: each path's time, the low-lock path's longest batch and swap, the
/// migration's time after it, the longest a write waited on each path, and the ticks whose
/// 4-decimal price differs from before.
fn online_against_rewrite(db: &Database, url: &str) -> Vec<String> {
    let all = market_data::MIGRATIONS.migrations();
    let every = Migrator::new([&market_data::MIGRATIONS]).unwrap();
    let to_pre_conversion = || {
        every
            .rollback(db, Some("market_data"), &migration_core::RollbackTarget::To(all[2].version.into()))
            .unwrap_or_else(|e| fail(&e.to_string()))
    };
    let conversion = || {
        let four: &'static Domain = Box::leak(Box::new(Domain::new("market_data", &all[..4])));
        Migrator::new([four]).unwrap().run(db, None).unwrap_or_else(|e| fail(&e.to_string()));
    };
    to_pre_conversion();
    let before = prices(db, true);
    let writer = Writer::start(url);
    let started = Instant::now();
    conversion();
    let rewrite = started.elapsed().as_secs_f64();
    let rewrite_wait = writer.stop();

    to_pre_conversion();
    let writer = Writer::start(url);
    let started = Instant::now();
    let report = market_data::online::convert_online(db, market_data::online::OnlineOptions::default(), &mut |_| {})
        .unwrap_or_else(|e| fail(&e.to_string()));
    let migration = Instant::now();
    conversion();
    let migration = migration.elapsed().as_secs_f64();
    let online = started.elapsed().as_secs_f64();
    let online_wait = writer.stop();
    let after = prices(db, false);
    let differing = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    every.run(db, None).unwrap_or_else(|e| fail(&e.to_string()));
    vec![
        row("conversion by the migration, a writer running (s)", rewrite, None),
        row("  the longest a write waited (s)", rewrite_wait, None),
        row("low-lock path: convert-online, then the migration (s)", online, None),
        row("  its longest batch, row locks only (s)", report.longest_batch_seconds, None),
        row("  its longest swap, the only ACCESS EXCLUSIVE (s)", report.longest_swap_seconds, None),
        row("  the migration after it, no rewrite (s)", migration, None),
        row("  the longest a write waited (s)", online_wait, Some(rewrite_wait / online_wait)),
        row("ticks whose 4-decimal price differs after the low-lock path", differing as f64, None),
    ]
}

/// A thread inserting one tick per statement until stopped; the longest insert, in seconds.
struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl Writer {
    fn start(url: &str) -> Writer {
        let db = Database::connect(url).unwrap_or_else(|e| fail(&e.to_string()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut connection = db.get().unwrap();
            let mut longest: f64 = 0.0;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                connection
                    .batch_execute(
                        "INSERT INTO market_data (instrument_id, \"timestamp\", price, volume) VALUES (1, '2025-09-02 00:00:00', 1234.5678, 1)",
                    )
                    .unwrap_or_else(|e| fail(&format!("the writer: {e}")));
                longest = longest.max(started.elapsed().as_secs_f64());
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            longest
        });
        Writer { stop, thread }
    }

    fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn label(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    }
}

fn row(what: &str, value: f64, ratio: Option<f64>) -> String {
    let value = if value >= 100.0 || value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value:.4}") };
    format!("| {what} | {value} | {} |", ratio.map_or_else(|| "–".to_owned(), |r| format!("{r:.2}×")))
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2);
}

fn execute(db: &Database, sql: &str) {
    db.get().unwrap().batch_execute(sql).unwrap_or_else(|e| fail(&format!("{e}\n{}", &sql[..sql.len().min(300)])));
}

fn seed_parents(db: &Database) {
    let mut sql = String::new();
    for i in 1..=INSTRUMENTS {
        sql.push_str(&format!("INSERT INTO instruments (id, symbol, name) VALUES ({i}, 'S{i}', 'Instrument {i}');\n"));
        sql.push_str(&format!(
            "INSERT INTO alert_rules (id, name, instrument_id, condition, threshold) VALUES ({i}, 'rule {i}', {i}, 'above', 100.5);\n"
        ));
    }
    execute(db, &sql);
}

fn empty(db: &Database) {
    execute(db, "DELETE FROM alert_logs; DELETE FROM market_data;");
}

/// Inserts `n` generated ticks (50 instruments, a second apart per instrument) in 1000-row
/// statements, 50 statements a transaction; rows/s.
fn insert_ticks(db: &Database, n: u64) -> f64 {
    timed_batches(
        db,
        n,
        |i| {
            let instrument = 1 + i as i64 % INSTRUMENTS;
            let cents = 100_000 + (i * 7919 % 1_000_000) as i64;
            let price = format!("{}.{:04}", cents / 10_000, cents % 10_000);
            format!(
                "({instrument}, '2025-09-01 00:00:00'::timestamp + interval '{} seconds', {price}, {price}, {price}, {price}, {price}, {price}, {})",
                i / INSTRUMENTS as u64,
                1 + i % 100
            )
        },
        "INSERT INTO market_data (instrument_id, \"timestamp\", price, bid, ask, open_price, high_price, low_price, volume) VALUES ",
    )
}

fn insert_logs(db: &Database, n: u64) -> f64 {
    timed_batches(
        db,
        n,
        |i| {
            let id = 1 + i as i64 % INSTRUMENTS;
            format!(
                "({id}, {id}, '2025-09-01 00:00:00'::timestamp + interval '{i} seconds', {}.{:04}, 100.5000, 'triggered')",
                100 + i % 50,
                i % 10_000
            )
        },
        "INSERT INTO alert_logs (rule_id, instrument_id, \"timestamp\", trigger_value, threshold_value, status) VALUES ",
    )
}

/// Runs the inserts; rows per second. Times are written PostgreSQL's way and rewritten for
/// SQLite's `datetime()`.
fn timed_batches(db: &Database, n: u64, value: impl Fn(u64) -> String, insert: &str) -> f64 {
    let sqlite = db.backend() == Backend::Sqlite;
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let mut sql = String::from("BEGIN;\n");
        for _ in 0..50 {
            if i >= n {
                break;
            }
            let end = (i + 1000).min(n);
            let values: Vec<String> = (i..end).map(&value).collect();
            sql.push_str(insert);
            sql.push_str(&values.join(", "));
            sql.push_str(";\n");
            i = end;
        }
        sql.push_str("COMMIT;");
        if sqlite {
            sql = to_sqlite_times(&sql);
        }
        execute(db, &sql);
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// `'2025-09-01 00:00:00'::timestamp + interval 'N seconds'` → `datetime('2025-09-01 00:00:00', '+N seconds')`.
fn to_sqlite_times(sql: &str) -> String {
    let marker = "'2025-09-01 00:00:00'::timestamp + interval '";
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let end = after.find('\'').unwrap();
        out.push_str(&format!("datetime('2025-09-01 00:00:00', '+{}')", &after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn median(mut run: impl FnMut() -> f64) -> f64 {
    let mut times: Vec<f64> = (0..5).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

#[derive(QueryableByName)]
struct Aggregates {
    #[diesel(sql_type = Double)]
    total: f64,
}

/// SUM, AVG, STDDEV (as the square root of the variance, which both backends compute) and
/// VWAP of every price, in the column's own type; seconds.
fn aggregates(db: &Database) -> f64 {
    let sql = "SELECT CAST(sum(price) + avg(price) + (avg(price * price) - avg(price) * avg(price))
                      + sum(price * volume) / sum(volume) AS DOUBLE PRECISION) AS total FROM market_data";
    timed_query(db, sql)
}

#[derive(QueryableByName)]
struct Price {
    #[diesel(sql_type = Double)]
    price: f64,
}

#[derive(QueryableByName)]
struct PriceText {
    #[diesel(sql_type = diesel::sql_types::Text)]
    price: String,
}

/// Every price, in id order, with exactly 4 decimals: the column's own text (`as_text`, for
/// PostgreSQL's NUMERIC), or its double as the API writes it.
fn prices(db: &Database, as_text: bool) -> Vec<String> {
    let mut connection = db.get().unwrap();
    if as_text {
        let rows: Vec<PriceText> = migration_core::dispatch!(connection, conn => diesel::sql_query(
            "SELECT CAST(price AS TEXT) AS price FROM market_data ORDER BY id"
        ).load(conn))
        .unwrap();
        return rows.into_iter().map(|p| p.price).collect();
    }
    let rows: Vec<Price> = migration_core::dispatch!(connection, conn => diesel::sql_query(
        "SELECT CAST(price AS DOUBLE PRECISION) AS price FROM market_data ORDER BY id"
    ).load(conn))
    .unwrap();
    rows.into_iter().map(|p| market_data::price::to_text(p.price).unwrap_or_default()).collect()
}

fn latest(db: &Database) -> f64 {
    timed_query(
        db,
        "SELECT CAST(sum(m.price) AS DOUBLE PRECISION) AS total FROM market_data m
         JOIN (SELECT instrument_id, max(\"timestamp\") AS newest FROM market_data GROUP BY instrument_id) l
           ON l.instrument_id = m.instrument_id AND m.\"timestamp\" = l.newest",
    )
}

fn hour(db: &Database) -> f64 {
    timed_query(
        db,
        "SELECT CAST(coalesce(sum(price), 0) AS DOUBLE PRECISION) AS total FROM market_data
         WHERE instrument_id = 7 AND \"timestamp\" BETWEEN '2025-09-01 01:00:00' AND '2025-09-01 02:00:00'",
    )
}

fn timed_query(db: &Database, sql: &str) -> f64 {
    let mut connection = db.get().unwrap();
    let started = Instant::now();
    let result = migration_core::dispatch!(connection, conn => diesel::sql_query(sql).get_result::<Aggregates>(conn));
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(result.unwrap_or_else(|e| fail(&format!("{e}\n{sql}"))).total);
    seconds
}
