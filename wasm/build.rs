//! Embeds the validator's golden set (payload, context, expected report) for the wasm tests,
//! which run under Node and in Chromium where there is no file system.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/upload-validator/tests/golden");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the golden folder exists")
        .map(|entry| entry.expect("readable folder").path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            name.ends_with(".csv")
                || (name.ends_with(".json") && !name.ends_with(".report.json") && !name.ends_with(".context.json"))
        })
        .collect();
    files.sort();
    let mut out = String::from(
        "/// (file name, payload, context JSON or \"\", expected report)\npub const GOLDEN: &[(&str, &[u8], &str, &str)] = &[\n",
    );
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let kind = name.split('.').next().unwrap();
        let context = dir.join(format!("{kind}.context.json"));
        let context = if context.is_file() {
            format!("include_str!({:?})", context.display().to_string())
        } else {
            "\"\"".into()
        };
        let report = file.with_extension("report.json");
        writeln!(
            out,
            "    ({name:?}, include_bytes!({:?}), {context}, include_str!({:?})),",
            file.display().to_string(),
            report.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    std::fs::write(Path::new(&std::env::var("OUT_DIR").unwrap()).join("golden.rs"), out).unwrap();
}
