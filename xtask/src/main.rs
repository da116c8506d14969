//! `cargo xtask`: the one entry point for developer and CI workflows.
//!
//! - `cargo xtask migrate [ARGS]` runs `intake migrate ARGS` (default: apply everything to the
//!   embedded SQLite database `./data/intake.db` and print the status).
//! - `cargo xtask test` runs the whole suite: formatting, clippy with warnings denied, and
//!   every test on SQLite and PostgreSQL.
//! - `cargo xtask wasm [--features ib-flex]` builds the validator's browser package in
//!   `wasm/pkg/` (with IB Flex reports: `wasm/pkg-ib-flex/`).
//! - `cargo xtask bench dedup` measures the execution import against the seed's original
//!   designs and the databases' bulk loaders, as ratios within one run.
//! - `cargo xtask bench migrate` measures the migration core's overhead and the whole schema
//!   migrated as a process beside Alembic.
//! - `cargo xtask bench validate` measures the upload validator natively and in Chromium
//!   beside PapaParse.
//! - `cargo xtask bench alm`, `bench market-data`, `bench storage` and `bench upload` measure
//!   the ALM import beside ibflex, seed 001's claims, seed 002's services beside their FastAPI
//!   peer and pgbench, and seed 003's uploads beside their SQLAlchemy peer and the bulk loaders.
//! - `cargo xtask fuzz` fuzzes the upload validator (cargo-fuzz, nightly).
//! - `cargo xtask reliability` kills every writing command at random moments and judges what
//!   it left (crates/reliability).
//!
//! It keeps to `std` so it builds in seconds; each subcommand is a module.

mod bench;
mod fuzz;
mod migrate;
mod reliability;
mod shell;
mod test;
mod wasm;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <COMMAND>

Commands:
  migrate [ARGS]   run `intake migrate ARGS` (see `cargo xtask migrate --help`);
                   with no ARGS: apply every migration to ./data/intake.db and print the status
  test             the whole suite: cargo fmt --check, clippy -D warnings, the
                   validator's wasm32 build, all tests on SQLite and PostgreSQL (TEST_DATABASE_URL, default
                   postgres://postgres@127.0.0.1:5432/postgres), the golden set in WebAssembly
                   under Node and Chromium, the page end to end, 30 s of fuzzing and
                   the reliability suites' short versions
  wasm [--features ib-flex]
                   build the browser package wasm/pkg (release, wasm-bindgen, wasm-opt -Oz) and
                   print its size; with ib-flex, the ALM page's package wasm/pkg-ib-flex (adds
                   the streaming XML engine); installs wasm-bindgen-cli and binaryen when missing
  bench dedup      the execution import against the Python peers and the bulk loaders,
                   1 M rows, fresh and re-import (see `cargo xtask bench --help`)
  bench migrate    the migration core's overhead per migration (10/100/1000 generated ones) and
                   the Alembic peer's 20 tables as a process beside `alembic upgrade head`
  bench validate   the upload validator: native MB/s per payload kind, memory on 1 GB, and
                   in headless Chromium the WebAssembly package beside PapaParse
  bench alm        the IB Flex import and parser beside ibflex (see `cargo xtask bench alm --help`)
  bench market-data
                   seed 001's claims on both backends, and the low-lock conversion
  bench storage    the two storage services beside the FastAPI peer and pgbench, and memory
  bench upload     historical sales (1 M rows) and a weekly season through the CLI and the
                   upload service, beside the SQLAlchemy peer and the bulk loaders
  fuzz [--seconds N]
                   cargo-fuzz over every payload kind (installs nightly and cargo-fuzz)
  reliability [crash|concurrency|faults|hostile] [ARGS]
                   every writing command killed with SIGKILL at random moments (100 trials
                   per operation and backend); many importers, migrators and clients at
                   once; the database restarted, a full disk, a held lock; hostile requests
                   and files (see `cargo xtask reliability --help`)
  help             this message
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let result = match command.as_deref() {
        Some("migrate") => migrate::run(&rest),
        Some("test") => test::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("wasm") => wasm::run(&rest),
        Some("fuzz") => fuzz::run(&rest),
        Some("reliability") => reliability::run(&rest),
        None | Some("help" | "--help" | "-h") => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
