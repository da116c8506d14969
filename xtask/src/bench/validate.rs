//! `cargo xtask bench validate`: the upload validator natively (MB/s per payload kind, memory
//! on a 1 GB file, a file full of errors against a clean one) and, in the same run, its
//! WebAssembly build in headless Chromium beside PapaParse doing the same checks on the same
//! file. Writes target/bench/validate.md.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::payloads::{self, Payload};
use crate::shell;
use crate::wasm;

const USAGE: &str = "\
cargo xtask bench validate [OPTIONS]

Generates one valid file per payload kind (about --mb MB each for the CSV kinds, 900 KB for
the JSON documents), a weekly-actuals file in which every row breaks a rule, and a 1 GB
weekly-actuals file, then measures:
  native        MB/s per kind (checks only, and with typed records), median of --runs;
                peak memory growth on the 1 GB file; the all-errors file against the clean one
  Chromium      the WebAssembly package on the weekly-actuals file beside PapaParse (parse +
                the same checks), its share of native speed, memory growth on 1 GB, and the
                page's main thread while its Web Worker validates 1 GB
  size          the package's .wasm + JS glue, gzipped
The weekly-actuals files are measured natively again after the browser part, and the
targets compare against the mean of both, so a machine that slows down or speeds up during
the run moves both sides of a ratio alike.
Prints the table and the targets of the validator issue; writes target/bench/validate.md.
Files are kept in target/bench/validate/ and made again only when missing.

Options:
  --mb N        size of each generated CSV file in MB (default 100)
  --runs N      each speed figure is the median of N runs (default 5)
  --native      skip the browser part
";

struct Options {
    megabytes: u64,
    runs: u32,
    browser: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options { megabytes: 100, runs: 5, browser: true };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut number = || {
                let text = args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
                text.parse::<u64>().ok().filter(|&n| n > 0).ok_or(format!("{flag}: `{text}` is not a positive number"))
            };
            match flag.as_str() {
                "--mb" => options.megabytes = number()?,
                "--runs" => options.runs = number()? as u32,
                "--native" => options.browser = false,
                "--help" | "-h" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// One native measurement (the JSON line of the `validate_file` example).
struct Native {
    payload: String,
    label: String,
    records: bool,
    line: String,
}

impl Native {
    fn number(&self, key: &str) -> f64 {
        super::json_number(&self.line, key).unwrap_or(f64::NAN)
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let dir = shell::target_dir().join(format!("bench/validate/{}mb", options.megabytes));
    eprintln!("\n==> the payload files in {} (made when missing)", dir.display());
    let payloads = payloads::generate(&dir, options.megabytes)?;
    let tool = super::build_validate_file()?;
    let mut native = Vec::new();
    for payload in &payloads {
        let csv = payload.path.extension().is_none_or(|e| e != "json");
        for records in [false, true] {
            if records && !csv && payload.kind != "service_proposal" {
                continue;
            }
            let runs = if csv { options.runs } else { options.runs * 20 };
            let line = native_run(&tool, payload, &payload.path, runs, records)?;
            native.push(Native { payload: payload.kind.into(), label: payload.label.into(), records, line });
        }
    }
    let weekly = payloads.iter().find(|p| p.kind == "weekly_actuals").ok_or("no weekly payload")?;
    let big = native_run(&tool, weekly, &payloads::big_weekly(&dir, options.megabytes)?, 1, false)?;

    let browser = if options.browser { Some(browser(&dir, &options)?) } else { None };
    // The weekly-actuals files once more, so the ratios against the browser's figures rest on
    // native timings from both sides of them.
    let mut again = Vec::new();
    for payload in payloads.iter().filter(|p| p.kind == "weekly_actuals" && browser.is_some()) {
        let line = native_run(&tool, payload, &payload.path, options.runs, false)?;
        again.push(Native { payload: payload.kind.into(), label: payload.label.into(), records: false, line });
    }
    let report = render(
        &options,
        &native,
        &again,
        &big,
        browser.as_ref().map(|(line, _)| line.as_str()),
        browser.as_ref().map(|(_, sizes)| sizes),
    );
    print!("{report}");
    let path = shell::target_dir().join("bench/validate.md");
    std::fs::write(&path, &report).map_err(|e| format!("write {}: {e}", path.display()))?;
    eprintln!("\nwritten to {}", path.display());
    Ok(())
}

fn native_run(tool: &Path, payload: &Payload, file: &Path, runs: u32, records: bool) -> Result<String, String> {
    let mut command = Command::new(tool);
    command.arg(payload.kind).arg(file).args(["--runs", &runs.to_string(), "--json"]);
    if let Some(context) = &payload.context {
        command.arg("--context").arg(context);
    }
    if records {
        command.arg("--records");
    }
    let name = format!(
        "native {} {}{}",
        payload.kind,
        file.file_name().unwrap_or_default().to_string_lossy(),
        if records { ", typed records" } else { "" }
    );
    super::peer_output(&name, &mut command)
}

/// The browser half: the package, PapaParse from npm, and the bench page in Chromium.
fn browser(dir: &Path, options: &Options) -> Result<(String, wasm::Sizes), String> {
    let sizes = wasm::build_package(wasm::Package::Default)?;
    wasm::ensure_chromium()?;
    let tools = wasm::ensure_npm_tools()?;
    eprintln!("\n==> Chromium: wasm validator and PapaParse on the weekly-actuals file");
    let output = Command::new("node")
        .arg(shell::root().join("wasm/bench/run.mjs"))
        .env("INTAKE_WASM_TOOLS", &tools)
        .env("BENCH_DATA", dir)
        .env("BENCH_RUNS", options.runs.to_string())
        .env("BENCH_REPEATS", payloads::big_repeats(options.megabytes).to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("node: {e}"))?;
    if !output.status.success() {
        return Err("the browser bench failed (see above)".into());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("<== {}", text.trim());
    Ok((text, sizes))
}

fn render(
    options: &Options,
    native: &[Native],
    again: &[Native],
    big: &str,
    browser: Option<&str>,
    sizes: Option<&wasm::Sizes>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Upload validator, native (release), median of {}\n", options.runs);
    let _ =
        writeln!(out, "| payload | file | MB | records | errors | MB/s | MB/s with typed records | peak growth MB |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let find = |kind: &str, label: &str, records: bool| {
        native.iter().find(|n| n.payload == kind && n.label == label && n.records == records)
    };
    let mut row = |n: &Native, file: &str, typed: String| {
        let _ = writeln!(
            out,
            "| {} | {file} | {:.1} | {} | {} | {:.0} | {typed} | {:.1} |",
            n.payload,
            n.number("bytes") / 1e6,
            n.number("records"),
            n.number("errors"),
            n.number("mb_per_s"),
            n.number("peak_growth_mb"),
        );
    };
    for n in native.iter().filter(|n| !n.records) {
        let typed =
            find(&n.payload, &n.label, true).map(|t| format!("{:.0}", t.number("mb_per_s"))).unwrap_or("-".into());
        row(n, &n.label, typed);
    }
    for n in again {
        row(n, &format!("{}, again after the browser", n.label), "-".into());
    }
    let big = Native { payload: "weekly_actuals".into(), label: String::new(), records: false, line: big.to_owned() };
    row(&big, "1 GB (the week ten times: later rows are duplicates)", "-".into());
    if let Some(browser) = browser {
        let number = |key: &str| super::json_number(browser, key).unwrap_or(f64::NAN);
        let version = super::json_field(browser, "browser").unwrap_or("?").trim_matches('"');
        let _ = writeln!(out, "\n## Weekly actuals in headless Chromium {version}, median of {}\n", options.runs);
        let _ = writeln!(out, "| what | MB/s | note |");
        let _ = writeln!(out, "|---|---|---|");
        let rows = [
            ("reading the file (Blob.stream), nothing else", number("stream_read_mb_per_s"), String::new()),
            (
                "intake validator, WebAssembly",
                number("wasm_mb_per_s"),
                format!("a file full of errors takes {:.2}× as long", number("wasm_errors_ratio")),
            ),
            (
                "PapaParse + the same rules in JavaScript",
                number("papaparse_mb_per_s"),
                format!("a file full of errors takes {:.2}× as long", number("papaparse_errors_ratio")),
            ),
            (
                "intake validator, WebAssembly, 1 GB",
                number("wasm_big_mb_per_s"),
                format!(
                    "wasm memory {:.1} MB after loading the context, +{:.1} MB while validating",
                    number("wasm_memory_with_context_mb"),
                    number("wasm_memory_growth_mb")
                ),
            ),
            (
                "the upload page's Web Worker, 1 GB",
                number("page_mb_per_s"),
                format!("longest main-thread stall {:.0} ms (10 ms timer)", number("page_longest_stall_ms")),
            ),
        ];
        for (what, rate, note) in rows {
            let _ = writeln!(out, "| {what} | {rate:.0} | {note} |");
        }
    }
    // The weekly-actuals figures the targets use: the mean over both native passes.
    let weekly = |label: &str, key: &str| {
        let values: Vec<f64> = native
            .iter()
            .chain(again)
            .filter(|n| n.payload == "weekly_actuals" && n.label == label && !n.records)
            .map(|n| n.number(key))
            .collect();
        values.iter().sum::<f64>() / values.len() as f64
    };
    let clean = weekly("valid", "seconds");
    let broken = weekly("every row an error", "seconds");
    let native_weekly = weekly("valid", "mb_per_s");

    let _ = writeln!(out, "\n## Targets\n");
    let _ = writeln!(out, "| target | measured | met |");
    let _ = writeln!(out, "|---|---|---|");
    let mut line = |target: &str, measured: String, met: bool| {
        let _ = writeln!(out, "| {target} | {measured} | {} |", if met { "yes" } else { "NO" });
    };
    let ratio = broken / clean;
    line(
        "a file full of errors costs at most ~2× a clean one (native time ratio, both passes)",
        format!("{ratio:.2}×"),
        ratio <= 2.0,
    );
    let growth = big.number("peak_growth_mb");
    line("1 GB file: under 64 MB memory growth (native)", format!("{growth:.1} MB"), growth < 64.0);
    if let Some(browser) = browser {
        let number = |key: &str| super::json_number(browser, key).unwrap_or(f64::NAN);
        let wasm_rate = number("wasm_mb_per_s");
        let papa_rate = number("papaparse_mb_per_s");
        line("Chromium: ≥ 150 MB/s for the weekly-actuals rules", format!("{wasm_rate:.0} MB/s"), wasm_rate >= 150.0);
        let share = wasm_rate / native_weekly;
        line("Chromium: ≥ 60 % of native speed", format!("{:.0} %", share * 100.0), share >= 0.6);
        let papa = wasm_rate / papa_rate;
        line("Chromium: ≥ 3× PapaParse with the same checks", format!("{papa:.1}× ({papa_rate:.0} MB/s)"), papa >= 3.0);
        let growth = number("wasm_memory_growth_mb");
        line("Chromium: 1 GB file under 64 MB memory growth (wasm memory)", format!("{growth:.1} MB"), growth < 64.0);
        let errors = number("wasm_errors_ratio");
        line("Chromium: a file full of errors at most ~2× a clean one", format!("{errors:.2}×"), errors <= 2.0);
        let stall = number("page_longest_stall_ms");
        line(
            "the page stays responsive while its worker validates 1 GB (longest main-thread stall)",
            format!("{stall:.0} ms ({:.0} MB/s in the worker)", number("page_mb_per_s")),
            stall < 100.0,
        );
    }
    if let Some(sizes) = sizes {
        let kb = sizes.gzip_total() as f64 / 1024.0;
        line("package ≤ 60 KB gzipped (.wasm + JS glue)", format!("{kb:.1} KB ({sizes})"), sizes.within_budget());
    }
    out
}
