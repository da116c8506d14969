//! `cargo xtask wasm`: the browser package of the upload validator, and the tools it needs
//! (wasm-bindgen CLI at exactly the crate's version, binaryen's wasm-opt, Chromium for the
//! browser tests), installed on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shell::{self, step};

/// binaryen from npm: Debian's older wasm-opt emits modules that crash with current rustc.
const BINARYEN_VERSION: &str = "132";
/// Drives Debian's Chromium in the page test and the browser bench.
const PLAYWRIGHT_VERSION: &str = "1.64.1";
/// The JavaScript CSV parser the browser bench compares against.
const PAPAPARSE_VERSION: &str = "5.5.3";
const TARGET: &str = "wasm32-unknown-unknown";
/// The package's gzipped size budget (wasm + JS glue), from the validator issue.
const GZIP_BUDGET_BYTES: u64 = 60 * 1024;

/// The browser packages: one per set of payload kinds a page needs, so a page loads only the
/// engines it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    /// `wasm/pkg`: retail uploads, NinjaTrader exports and the storage documents (CSV and JSON
    /// engines), within the 60 KB budget.
    Default,
    /// `wasm/pkg-ib-flex`: the same plus IB Flex reports (the streaming XML engine), for the
    /// ALM page.
    IbFlex,
}

impl Package {
    fn dir(self) -> &'static str {
        match self {
            Package::Default => "wasm/pkg",
            Package::IbFlex => "wasm/pkg-ib-flex",
        }
    }

    fn features(self) -> &'static [&'static str] {
        match self {
            Package::Default => &[],
            Package::IbFlex => &["--features", "ib-flex"],
        }
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let package = match args {
        [] => Package::Default,
        [flag, feature] if flag == "--features" && feature == "ib-flex" => Package::IbFlex,
        _ => return Err(format!("usage: cargo xtask wasm [--features ib-flex] (got `{}`)", args.join(" "))),
    };
    let sizes = build_package(package)?;
    println!("{sizes}");
    if package == Package::Default && !sizes.within_budget() {
        println!("warning: over the size budget by {} bytes gzipped", sizes.gzip_total() - GZIP_BUDGET_BYTES);
    }
    Ok(())
}

/// Sizes of the built package.
pub struct Sizes {
    package: Package,
    wasm: u64,
    wasm_gzip: u64,
    js: u64,
    js_gzip: u64,
}

impl Sizes {
    pub fn gzip_total(&self) -> u64 {
        self.wasm_gzip + self.js_gzip
    }

    pub fn within_budget(&self) -> bool {
        self.gzip_total() <= GZIP_BUDGET_BYTES
    }
}

impl std::fmt::Display for Sizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: .wasm {} B ({} B gzipped) + JS glue {} B ({} B gzipped) = {:.1} KB gzipped{}",
            self.package.dir(),
            self.wasm,
            self.wasm_gzip,
            self.js,
            self.js_gzip,
            self.gzip_total() as f64 / 1024.0,
            if self.package == Package::Default {
                format!(" (budget {} KB)", GZIP_BUDGET_BYTES / 1024)
            } else {
                String::new()
            }
        )
    }
}

/// Release build, wasm-bindgen (web target), wasm-opt -Oz, package.json: `wasm/pkg/` (or the
/// package's own folder).
pub fn build_package(package: Package) -> Result<Sizes, String> {
    let wasm_bindgen = ensure_wasm_bindgen()?;
    let wasm_opt = ensure_npm_tools()?.join("node_modules/.bin/wasm-opt");
    step("wasm32 target", Command::new("rustup").args(["target", "add", TARGET]))?;
    step(
        "build upload-validator-wasm (wasm-release profile)",
        shell::cargo()
            .args([
                "build",
                "--locked",
                "--package",
                "upload-validator-wasm",
                "--target",
                TARGET,
                "--profile",
                "wasm-release",
            ])
            .args(package.features()),
    )?;
    let root = shell::root();
    let module = shell::target_dir().join(TARGET).join("wasm-release/upload_validator_wasm.wasm");
    let pkg = root.join(package.dir());
    let _ = std::fs::remove_dir_all(&pkg);
    step(
        "wasm-bindgen --target web",
        Command::new(&wasm_bindgen).args(["--target", "web", "--out-dir"]).arg(&pkg).arg(&module),
    )?;
    let optimized = pkg.join("upload_validator_wasm_bg.wasm");
    // Repeated until nothing improves (about 140 bytes gzipped); the producers and debug
    // sections wasm-bindgen leaves are not needed in the browser.
    step(
        "wasm-opt -Oz",
        Command::new(&wasm_opt)
            .args(["-Oz", "--converge", "--strip-producers", "--strip-debug"])
            .arg(&optimized)
            .arg("-o")
            .arg(&optimized),
    )?;
    std::fs::write(pkg.join("package.json"), PACKAGE_JSON).map_err(|e| format!("write package.json: {e}"))?;
    let js = pkg.join("upload_validator_wasm.js");
    Ok(Sizes {
        package,
        wasm: file_size(&optimized)?,
        wasm_gzip: gzip_size(&optimized)?,
        js: file_size(&js)?,
        js_gzip: gzip_size(&js)?,
    })
}

const PACKAGE_JSON: &str = r#"{
  "name": "@intake/upload-validator",
  "version": "0.0.0",
  "description": "Checks upload payloads in the browser with the same code the server runs",
  "type": "module",
  "main": "upload_validator_wasm.js",
  "types": "upload_validator_wasm.d.ts",
  "files": ["upload_validator_wasm.js", "upload_validator_wasm.d.ts", "upload_validator_wasm_bg.wasm", "upload_validator_wasm_bg.wasm.d.ts"],
  "sideEffects": false
}
"#;

/// The wasm-bindgen version the lock file resolved (the crate pins it exactly).
fn locked_wasm_bindgen_version() -> Result<String, String> {
    let lock =
        std::fs::read_to_string(shell::root().join("Cargo.lock")).map_err(|e| format!("read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

/// `wasm-bindgen` (and `wasm-bindgen-test-runner`) at exactly the locked version, installed with
/// `cargo install` when missing or different (about 8 minutes the first time).
pub fn ensure_wasm_bindgen() -> Result<PathBuf, String> {
    let version = locked_wasm_bindgen_version()?;
    let bin = cargo_home().join("bin");
    let tool = bin.join("wasm-bindgen");
    let installed =
        Command::new(&tool).arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.as_deref().map(str::trim) != Some(&format!("wasm-bindgen {version}")) {
        step(
            &format!("install wasm-bindgen-cli {version} (matches the wasm-bindgen crate)"),
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &format!("={version}"),
                "--force",
            ]),
        )?;
    }
    Ok(tool)
}

/// The test runner that came with [`ensure_wasm_bindgen`].
pub fn test_runner() -> PathBuf {
    cargo_home().join("bin/wasm-bindgen-test-runner")
}

pub fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
}

/// The npm tools (binaryen's wasm-opt, playwright-core for the page test) live here.
pub fn npm_tools() -> PathBuf {
    shell::target_dir().join("wasm-tools")
}

/// The npm tools, under [`npm_tools`]: binaryen's `wasm-opt`, playwright-core (which drives
/// Debian's Chromium; it never downloads a browser) and PapaParse (the browser bench's peer),
/// each at a pinned version, installed when missing or different.
pub fn ensure_npm_tools() -> Result<PathBuf, String> {
    let prefix = npm_tools();
    let packages =
        [("binaryen", BINARYEN_VERSION), ("playwright-core", PLAYWRIGHT_VERSION), ("papaparse", PAPAPARSE_VERSION)];
    let installed = |name: &str, version: &str| {
        let manifest = prefix.join("node_modules").join(name).join("package.json");
        std::fs::read_to_string(manifest).is_ok_and(|text| {
            text.contains(&format!("\"version\": \"{version}\""))
                || text.contains(&format!("\"version\": \"{version}.0.0\""))
        })
    };
    if packages.iter().all(|(name, version)| installed(name, version)) {
        return Ok(prefix);
    }
    std::fs::create_dir_all(&prefix).map_err(|e| format!("create {}: {e}", prefix.display()))?;
    std::fs::write(prefix.join("package.json"), "{\"private\": true}\n")
        .map_err(|e| format!("write package.json: {e}"))?;
    let specs: Vec<String> = packages.iter().map(|(name, version)| format!("{name}@{version}")).collect();
    step(
        &format!("install {} from npm", specs.join(", ")),
        Command::new("npm").args(["install", "--no-audit", "--no-fund", "--prefix"]).arg(&prefix).args(&specs),
    )?;
    Ok(prefix)
}

/// Debian's Chromium and its matching ChromeDriver, for the browser tests.
pub fn ensure_chromium() -> Result<PathBuf, String> {
    let binaries = ["/usr/bin/chromium", "/usr/bin/chromedriver"];
    shell::ensure_debian(&binaries, &["chromium", "chromium-driver"], "the browser tests")?;
    Ok(PathBuf::from(binaries[1]))
}

fn file_size(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| format!("{}: {e}", path.display()))
}

fn gzip_size(path: &Path) -> Result<u64, String> {
    let output = Command::new("gzip").args(["-9", "-c"]).arg(path).output().map_err(|e| format!("gzip: {e}"))?;
    Ok(output.stdout.len() as u64)
}
