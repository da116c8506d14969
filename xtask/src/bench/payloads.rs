//! Deterministic payload files for `cargo xtask bench validate`: one valid file per payload
//! kind, a weekly-actuals file in which every row breaks a rule, and the contexts they need.

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

/// Bytes of one generated weekly-actuals row (`2025-03-03,S0000001,123\n`, on average).
const WEEKLY_ROW_BYTES: u64 = 24;
/// The week every weekly-actuals file is for.
const WEEK: [&str; 7] =
    ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07", "2025-03-08", "2025-03-09"];
/// A JSON document's size: the validator takes documents up to 1 MiB.
const DOCUMENT_BYTES: usize = 900 * 1024;

/// A generated payload: its kind, the file, and the context file (if the kind needs one).
pub struct Payload {
    pub kind: &'static str,
    pub label: &'static str,
    pub path: PathBuf,
    pub context: Option<PathBuf>,
}

/// Small, fast, deterministic numbers (a 64-bit LCG; the high bits).
struct Numbers(u64);

impl Numbers {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Writes `path` through `fill` unless it exists; a partial file never takes its name (it is
/// written beside it and renamed when complete).
fn write_once(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), String> {
    if path.is_file() {
        return Ok(());
    }
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).map_err(io(&partial))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    fill(&mut out).and_then(|()| out.flush()).map_err(io(&partial))?;
    std::fs::rename(&partial, path).map_err(io(path))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// Known stores for a weekly file of about `megabytes`: one row per store and day.
pub fn weekly_stores(megabytes: u64) -> u64 {
    (megabytes * 1_000_000 / 7 / WEEKLY_ROW_BYTES).max(1)
}

fn store_id(store: u64) -> String {
    format!("S{store:07}")
}

/// The weekly-actuals context: the week and its stores.
fn weekly_context(dir: &Path, stores: u64) -> Result<PathBuf, String> {
    let path = dir.join("weekly_actuals.context.json");
    write_once(&path, |out| {
        write!(out, "{{\"week_start\":\"{}\",\"store_ids\":[", WEEK[0])?;
        for store in 1..=stores {
            let comma = if store > 1 { "," } else { "" };
            write!(out, "{comma}\"{}\"", store_id(store))?;
        }
        out.write_all(b"]}")
    })?;
    Ok(path)
}

/// The week's rows, every store every day, after the header. With `broken`, every row breaks
/// exactly one rule (negative quantity, unknown store, day outside the week, decimal
/// quantity, wrong date format, in turn).
pub fn weekly_body(stores: u64, broken: bool) -> String {
    let mut numbers = Numbers(2025);
    let mut body = String::with_capacity((stores * 7 * WEEKLY_ROW_BYTES) as usize);
    let mut row = 0u64;
    for day in WEEK {
        for store in 1..=stores {
            let quantity = numbers.below(1000);
            let _ = match (broken, row % 5) {
                (false, _) => writeln!(body, "{day},S{store:07},{quantity}"),
                (true, 0) => writeln!(body, "{day},S{store:07},-{quantity}"),
                (true, 1) => writeln!(body, "{day},X{store:07},{quantity}"),
                (true, 2) => writeln!(body, "2025-02-{},S{store:07},{quantity}", &day[8..]),
                (true, 3) => writeln!(body, "{day},S{store:07},{quantity}.5"),
                (true, _) => writeln!(body, "{}/{}/{},S{store:07},{quantity}", &day[5..7], &day[8..], &day[..4]),
            };
            row += 1;
        }
    }
    body
}

pub const WEEKLY_HEADER: &str = "date,store_id,quantity_sold\n";

/// Every payload for a bench of about `megabytes` per CSV file, written under `dir` (kept
/// between runs: regenerated only when missing).
pub fn generate(dir: &Path, megabytes: u64) -> Result<Vec<Payload>, String> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let stores = weekly_stores(megabytes);
    let mut payloads = Vec::new();
    let weekly_context = weekly_context(dir, stores)?;
    for (label, broken) in [("valid", false), ("every row an error", true)] {
        let path = dir.join(if broken { "weekly_actuals.errors.csv" } else { "weekly_actuals.csv" });
        write_once(&path, |out| {
            out.write_all(WEEKLY_HEADER.as_bytes())?;
            out.write_all(weekly_body(stores, broken).as_bytes())
        })?;
        payloads.push(Payload { kind: "weekly_actuals", label, path, context: Some(weekly_context.clone()) });
    }
    let (path, context) = historical_sales(dir, megabytes)?;
    payloads.push(Payload { kind: "historical_sales", label: "valid", path, context: Some(context) });
    payloads.push(Payload {
        kind: "store_attributes",
        label: "valid",
        path: store_attributes(dir, megabytes)?,
        context: None,
    });
    payloads.push(Payload {
        kind: "ninjatrader_executions",
        label: "valid, en-US",
        path: ninjatrader(dir, megabytes)?,
        context: None,
    });
    for (kind, text) in documents() {
        let path = dir.join(format!("{kind}.json"));
        write_once(&path, |out| out.write_all(text.as_bytes()))?;
        payloads.push(Payload { kind, label: "valid, 900 KB", path, context: None });
    }
    Ok(payloads)
}

fn historical_sales(dir: &Path, megabytes: u64) -> Result<(PathBuf, PathBuf), String> {
    const CATEGORIES: [&str; 6] = ["Women's Dresses", "Menswear", "Footwear", "Accessories", "Kids", "Outerwear"];
    const STORES: u64 = 1000;
    let context = dir.join("historical_sales.context.json");
    let stores: Vec<String> = (1..=STORES).map(|s| format!("\"{}\"", store_id(s))).collect();
    let categories: Vec<String> =
        CATEGORIES.iter().map(|c| format!("\"{c}\":\"{}\"", c.to_lowercase().replace(['\'', ' '], "_"))).collect();
    std::fs::write(
        &context,
        format!("{{\"store_ids\":[{}],\"categories\":{{{}}}}}", stores.join(","), categories.join(",")),
    )
    .map_err(io(&context))?;
    let path = dir.join("historical_sales.csv");
    write_once(&path, |out| {
        let mut numbers = Numbers(7);
        let mut written = 0u64;
        let mut date = (2015u32, 1u32, 1u32);
        out.write_all(b"date,category,store_id,quantity_sold,revenue\n")?;
        while written < megabytes * 1_000_000 {
            for category in CATEGORIES {
                for store in 1..=STORES {
                    let quantity = numbers.below(400);
                    let cents = quantity * (1500 + numbers.below(6000));
                    let row = format!(
                        "{:04}-{:02}-{:02},{category},{},{quantity},{}.{:02}\n",
                        date.0,
                        date.1,
                        date.2,
                        store_id(store),
                        cents / 100,
                        cents % 100
                    );
                    written += row.len() as u64;
                    out.write_all(row.as_bytes())?;
                }
            }
            date = next_day(date);
        }
        Ok(())
    })?;
    Ok((path, context))
}

fn next_day((year, month, day): (u32, u32, u32)) -> (u32, u32, u32) {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
    match (day < days, month < 12) {
        (true, _) => (year, month, day + 1),
        (false, true) => (year, month + 1, 1),
        (false, false) => (year + 1, 1, 1),
    }
}

fn store_attributes(dir: &Path, megabytes: u64) -> Result<PathBuf, String> {
    const NAMES: [&str; 4] = ["Harbor Point", "Lakeside", "Old Town", "Riverside Mall"];
    const TIERS: [&str; 3] = ["A", "B", "C"];
    const FASHION: [&str; 3] = ["Premium", "Mainstream", "Value"];
    const FORMATS: [&str; 5] = ["MALL", "ShoppingCenter", "Standalone", "OUTLET", "Street"];
    const REGIONS: [&str; 5] = ["NORTHEAST", "Southeast", "MIDWEST", "Southwest", "WEST"];
    let path = dir.join("store_attributes.csv");
    write_once(&path, |out| {
        out.write_all(
        b"store_id,store_name,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,fashion_tier,store_format,region\n",
    )?;
        let mut numbers = Numbers(3);
        let (mut written, mut store) = (0u64, 0u64);
        while written < megabytes * 1_000_000 {
            store += 1;
            let pick = |n: &mut Numbers, list: &[&'static str]| list[n.below(list.len() as u64) as usize];
            let row = format!(
                "{},{} {store},{}.{:02},{},{},{},{},{},{}\n",
                store_id(store),
                pick(&mut numbers, &NAMES),
                20_000 + numbers.below(80_000),
                numbers.below(100),
                5_000 + numbers.below(45_000),
                40_000 + numbers.below(120_000),
                pick(&mut numbers, &TIERS),
                pick(&mut numbers, &FASHION),
                pick(&mut numbers, &FORMATS),
                pick(&mut numbers, &REGIONS),
            );
            written += row.len() as u64;
            out.write_all(row.as_bytes())?;
        }
        Ok(())
    })?;
    Ok(path)
}

fn ninjatrader(dir: &Path, megabytes: u64) -> Result<PathBuf, String> {
    use fixtures::ninjatrader::{self, Generator, Style};
    let path = dir.join("ninjatrader_executions.csv");
    let target = megabytes * 1_000_000;
    write_once(&path, |out| {
        // Rows until the file reaches the size: the generator is endless, the size decides.
        let mut written = 0u64;
        let rows = Generator::new(11).take_while(|row| {
            let before = written;
            written += row.line().len() as u64 + 1;
            before < target
        });
        ninjatrader::write_export(out, Style::BOM_LF, rows).map(drop)
    })?;
    Ok(path)
}

/// A valid document of each JSON kind, padded to about [`DOCUMENT_BYTES`] with list items.
fn documents() -> [(&'static str, String); 3] {
    let list = |item: &dyn Fn(usize) -> String| {
        let mut items = Vec::new();
        let mut size = 0;
        while size < DOCUMENT_BYTES - 1024 {
            let next = item(items.len());
            size += next.len() + 1;
            items.push(next);
        }
        items.join(",")
    };
    [
        (
            "connector_profile",
            format!(
                "{{\"id\":\"bench\",\"name\":\"Bench SQL Server\",\"type\":\"sql\",\"connection_string\":\"Server=db;Database=sales;\",\
                 \"credentials\":{{\"username\":\"loader\",\"password\":\"secret\"}},\"schema_info\":{{\"tables\":[{}],\"columns\":{{}}}},\
                 \"test_status\":\"success\",\"last_tested\":\"2025-12-21T06:20:48Z\"}}",
                list(&|i| format!("\"table_{i:06}\""))
            ),
        ),
        (
            "client_config",
            format!(
                "{{\"client_id\":\"bench\",\"client_name\":\"Bench Corporation\",\"license_type\":\"enterprise\",\"modules\":[{}],\
                 \"preferences\":{{\"currency\":\"EUR\"}},\"custom_kpis\":[],\"data_sources\":[]}}",
                list(&|i| format!("\"MODULE{i:06}\""))
            ),
        ),
        (
            "service_proposal",
            format!(
                "{{\"proposal_id\":\"bench\",\"client_id\":\"bench\",\"proposal_type\":\"consulting\",\
                 \"pricing\":{{\"total\":48000.50,\"breakdown\":{{}}}},\
                 \"timeline\":{{\"start_date\":\"2026-01-05\",\"end_date\":\"2026-03-27\",\"phases\":[]}},\
                 \"resources\":{{\"consultants\":[{}],\"hours\":320.5}},\"status\":\"sent\"}}",
                list(&|i| format!("{{\"name\":\"Consultant {i}\",\"rate\":{}.5}}", 100 + i % 50))
            ),
        ),
    ]
}

/// Header plus the valid week repeated to about 1 GB: after the first week every row repeats
/// a store and day, so it also exercises the capped-findings path.
pub fn big_weekly(dir: &Path, megabytes: u64) -> Result<PathBuf, String> {
    let path = dir.join("weekly_actuals.1gb.csv");
    write_once(&path, |out| {
        let body = weekly_body(weekly_stores(megabytes), false);
        out.write_all(WEEKLY_HEADER.as_bytes())?;
        for _ in 0..big_repeats(megabytes) {
            out.write_all(body.as_bytes())?;
        }
        Ok(())
    })?;
    Ok(path)
}

/// How many weeks make about 1 GB.
pub fn big_repeats(megabytes: u64) -> u64 {
    (1000 / megabytes).max(1)
}
