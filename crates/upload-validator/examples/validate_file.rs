//! Validates one file natively and prints the throughput and the memory it took:
//! `cargo run --release -p upload-validator --example validate_file -- KIND FILE [OPTIONS]`.
//! FILE may be a folder: every file under it is validated (in name order, each with its own
//! validator) and the figures are their sums.
//!
//! Options: `--context FILE` (the context as JSON), `--records` (also build the typed
//! records an importer gets), `--runs N` (the median of N), `--json` (one line for `cargo xtask
//! bench validate`). Memory is the growth of the process's peak resident set (Linux
//! `VmHWM`) from just before the first byte is pushed, so the context is not counted.

use std::io::Read as _;
use std::time::Instant;

use upload_validator::{Context, PayloadKind, Validator};

const USAGE: &str = "usage: validate_file KIND FILE|DIR [--context FILE] [--records] [--runs N] [--json]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, path, rest @ ..] = args.as_slice() else { fail(USAGE) };
    let kind = PayloadKind::from_name(kind).unwrap_or_else(|| fail(&format!("unknown kind {kind}\n{USAGE}")));
    let (mut context_json, mut records, mut runs, mut json) = (None, false, 1, false);
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--context" => {
                let file = rest.next().unwrap_or_else(|| fail(USAGE));
                let text = std::fs::read_to_string(file).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
                Context::from_json(kind, &text).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
                context_json = Some(text);
            }
            "--records" => records = true,
            "--runs" => runs = rest.next().and_then(|n| n.parse().ok()).unwrap_or_else(|| fail(USAGE)),
            "--json" => json = true,
            other => fail(&format!("unknown option {other}\n{USAGE}")),
        }
    }
    let files = files_under(std::path::Path::new(path));
    let mut times = Vec::new();
    let mut growth_kb = 0;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let before = peak_rss_kb();
        let started = Instant::now();
        let mut total: Option<(upload_validator::Report, u64)> = None;
        let mut buffer = vec![0; 1 << 20];
        for file in &files {
            let context = context_json
                .as_deref()
                .map_or_else(Context::none, |text| Context::from_json(kind, text).expect("read once already"));
            let (report, typed) = validate(kind, context, file, records, &mut buffer);
            total = Some(match total {
                None => (report, typed),
                Some((mut sum, sum_typed)) => {
                    sum.bytes += report.bytes;
                    sum.records += report.records;
                    sum.errors += report.errors;
                    (sum, sum_typed + typed)
                }
            });
        }
        times.push(started.elapsed().as_secs_f64());
        growth_kb = growth_kb.max(peak_rss_kb().saturating_sub(before));
        last = Some(total.unwrap_or_else(|| fail(&format!("{path}: no file"))));
    }
    let (report, typed) = last.expect("at least one run");
    // The median: one lucky or unlucky run on a busy machine moves it least.
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mb_per_s = report.bytes as f64 / median / 1e6;
    if json {
        println!(
            "{{\"kind\":\"{}\",\"bytes\":{},\"records\":{},\"errors\":{},\"typed_records\":{typed},\"seconds\":{median:.4},\"mb_per_s\":{mb_per_s:.1},\"peak_growth_mb\":{:.1}}}",
            report.kind,
            report.bytes,
            report.records,
            report.errors,
            growth_kb as f64 / 1024.0
        );
    } else {
        println!(
            "{}: {} records, {} errors, {typed} typed records, {mb_per_s:.1} MB/s ({median:.2} s, median of {}), peak memory +{:.1} MB",
            report.kind,
            report.records,
            report.errors,
            times.len(),
            growth_kb as f64 / 1024.0
        );
    }
}

/// One file through a new validator: its report and the typed records built.
fn validate(
    kind: PayloadKind,
    context: Context,
    path: &std::path::Path,
    records: bool,
    buffer: &mut [u8],
) -> (upload_validator::Report, u64) {
    let mut validator = Validator::new(kind, context).unwrap_or_else(|e| fail(&e.to_string()));
    let typed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    if records {
        let count = typed.clone();
        validator = validator.on_record(move |_| count.set(count.get() + 1));
    }
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    loop {
        let n = file.read(buffer).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
        if n == 0 {
            break;
        }
        validator.push(&buffer[..n]);
    }
    (validator.finish(), typed.get())
}

/// `path` itself, or every file under the folder `path`, in name order.
fn files_under(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(path)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    entries.iter().flat_map(|entry| files_under(entry)).collect()
}

/// The process's peak resident set in KiB (0 where `/proc` is not available).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2);
}
