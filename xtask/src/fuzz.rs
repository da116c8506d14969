//! `cargo xtask fuzz`: the upload validator's cargo-fuzz target (libFuzzer, AddressSanitizer)
//! over every payload kind, seeded with the golden files. Installs what it needs: the nightly
//! toolchain (minimal profile) and cargo-fuzz at a pinned version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shell::{self, step};

const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Memory ceilings: the whole process (AddressSanitizer's quarantine alone takes about 200 MB)
/// and any single allocation (a buffer that grew with its input would pass it).
const RSS_LIMIT_MB: u32 = 1024;
const MALLOC_LIMIT_MB: u32 = 32;
/// Inputs up to this size (several chunk boundaries, a few records of every kind).
const MAX_LEN: u32 = 64 * 1024;

const USAGE: &str = "\
cargo xtask fuzz [--seconds N]

Fuzzes the upload validator (crates/upload-validator/fuzz, target `validate`): any bytes as any
payload kind, whole and in chunks; a panic, a report that depends on the chunking, an
uncounted finding, more than 1 GB of memory or one allocation over 32 MB is a failure, saved under
crates/upload-validator/fuzz/artifacts/. The corpus (seeded with the golden files) is kept in
target/fuzz/corpus/validate.

Options:
  --seconds N   how long to fuzz (default 60; with --all, per kind: default 600)
  --all         each payload kind in turn, so each engine (CSV, JSON, XML) and each kind
                gets its own run; prints a table (kind, runs, peak memory) and writes it to
                target/fuzz/all.md
";

/// The order of `PayloadKind::ALL`, which the fuzz target indexes with the first byte.
const KINDS: [&str; 8] = [
    "weekly_actuals",
    "historical_sales",
    "store_attributes",
    "ninjatrader_executions",
    "connector_profile",
    "client_config",
    "service_proposal",
    "ib_flex",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = None;
    let mut all = false;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--all" => all = true,
            "--seconds" => {
                seconds = Some(
                    args.next()
                        .and_then(|n| n.parse::<u32>().ok())
                        .filter(|&n| n > 0)
                        .ok_or(format!("--seconds needs a positive number\n\n{USAGE}"))?,
                );
            }
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    if !all {
        return fuzz(seconds.unwrap_or(60));
    }
    let seconds = seconds.unwrap_or(600);
    let out = shell::target_dir().join("fuzz/all.md");
    let mut table = String::from("| kind | engine | seconds | runs | peak RSS | result |\n|---|---|---|---|---|---|\n");
    for kind in KINDS {
        let stats = fuzz_run(seconds, Some(kind))?;
        let engine = match kind {
            "ib_flex" => "XML",
            "connector_profile" | "client_config" | "service_proposal" => "JSON",
            _ => "CSV",
        };
        let stat = |name: &str| {
            stats.lines().find_map(|l| l.strip_prefix(&format!("stat::{name}:")).map(|v| v.trim().to_owned()))
        };
        table.push_str(&format!(
            "| {kind} | {engine} | {seconds} | {} | {} MB | no panic; same report whole and chunked; under {RSS_LIMIT_MB} MB RSS, no allocation over {MALLOC_LIMIT_MB} MB |\n",
            stat("number_of_executed_units").unwrap_or_default(),
            stat("peak_rss_mb").unwrap_or_default(),
        ));
        // Written after each kind: a long run's table is there as far as it got.
        std::fs::write(&out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    println!("\n{table}");
    Ok(())
}

/// Runs the fuzz target for `seconds` over every kind.
pub fn fuzz(seconds: u32) -> Result<(), String> {
    fuzz_run(seconds, None).map(drop)
}

/// Runs the fuzz target for `seconds`, on `kind` only if given; libFuzzer's final stats.
fn fuzz_run(seconds: u32, kind: Option<&str>) -> Result<String, String> {
    ensure_cargo_fuzz()?;
    let corpus = seed_corpus()?;
    let crate_dir = shell::root().join("crates/upload-validator");
    let stats = shell::target_dir().join(format!("fuzz/stats-{}.txt", kind.unwrap_or("all")));
    let what = kind.map_or_else(|| "every payload kind".to_owned(), |k| format!("{k} only"));
    step(
        &format!("fuzz the upload validator for {seconds} s ({what}, any chunking)"),
        // rustup's `cargo` (not the toolchain's own, which $CARGO names) so that the toolchain
        // can be chosen; the workspace's rust-toolchain.toml pins stable.
        Command::new(crate::wasm::cargo_home().join("bin/cargo"))
            .current_dir(&crate_dir)
            .args(["fuzz", "run", "validate"])
            .arg(&corpus)
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                &format!("-rss_limit_mb={RSS_LIMIT_MB}"),
                &format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"),
                &format!("-max_len={MAX_LEN}"),
                "-print_final_stats=1",
            ])
            .env("RUSTUP_TOOLCHAIN", "nightly")
            .env("INTAKE_FUZZ_KIND", kind.unwrap_or(""))
            .env("CARGO_TARGET_DIR", shell::target_dir().join("fuzz"))
            .stderr(std::fs::File::create(&stats).map_err(|e| format!("{}: {e}", stats.display()))?),
    )
    .map_err(|error| {
        let log = std::fs::read_to_string(&stats).unwrap_or_default();
        format!(
            "{error}\n{}",
            log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    })?;
    std::fs::read_to_string(&stats).map_err(|e| format!("{}: {e}", stats.display()))
}

/// The nightly toolchain (cargo-fuzz needs its sanitizer flags) and cargo-fuzz.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let has_nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nightly {
        step(
            "install the nightly toolchain (for cargo fuzz)",
            Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]),
        )?;
    }
    let tool = crate::wasm::cargo_home().join("bin/cargo-fuzz");
    let installed =
        Command::new(&tool).arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.is_none_or(|v| v.trim() != format!("cargo-fuzz {CARGO_FUZZ_VERSION}")) {
        step(
            &format!("install cargo-fuzz {CARGO_FUZZ_VERSION}"),
            shell::cargo().args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ_VERSION, "--force"]),
        )?;
    }
    Ok(())
}

/// target/fuzz/corpus/validate, holding every golden payload as a fuzz input (its kind's byte,
/// a chunk size, the file).
fn seed_corpus() -> Result<PathBuf, String> {
    let corpus = shell::target_dir().join("fuzz/corpus/validate");
    std::fs::create_dir_all(&corpus).map_err(|e| format!("create {}: {e}", corpus.display()))?;
    let golden = shell::root().join("crates/upload-validator/tests/golden");
    let entries = std::fs::read_dir(&golden).map_err(|e| format!("{}: {e}", golden.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = file_name(&path);
        if name.contains(".report.") || name.contains(".context.") {
            continue;
        }
        let Some(kind) = KINDS.iter().position(|kind| name.starts_with(&format!("{kind}."))) else { continue };
        let mut input = vec![kind as u8, 7];
        input.extend(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        let seed = corpus.join(format!("golden-{name}"));
        std::fs::write(&seed, input).map_err(|e| format!("{}: {e}", seed.display()))?;
    }
    Ok(corpus)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
