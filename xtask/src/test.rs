//! `cargo xtask test`: the whole suite, exactly as CI runs it.

use crate::shell::{self, step};
use crate::{fuzz, reliability, wasm};

/// How long `cargo xtask test` fuzzes the validator (a smoke run; `cargo xtask fuzz` for more).
const FUZZ_SECONDS: u32 = 30;

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args.first() {
        return Err(format!("`cargo xtask test` takes no arguments (got `{unknown}`)"));
    }
    step("rustfmt", shell::cargo().args(["fmt", "--all", "--check"]))?;
    step(
        "clippy",
        // Every feature: the validator's optional kinds (ib-flex) are linted too.
        shell::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // rustup installs the targets of rust-toolchain.toml only with a new toolchain; make sure.
    step("wasm32 target", std::process::Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    step(
        "upload-validator builds for wasm32 (pure: no I/O, no database)",
        shell::cargo().args([
            "build",
            "--package",
            "upload-validator",
            "--features",
            "upload-validator/ib-flex",
            "--target",
            "wasm32-unknown-unknown",
            "--locked",
        ]),
    )?;
    step(
        "clippy for wasm32 (the browser build's crates)",
        shell::cargo().args([
            "clippy",
            "--locked",
            "--target",
            "wasm32-unknown-unknown",
            "--package",
            "upload-validator",
            "--package",
            "csv-stream",
            "--package",
            "xml-stream",
            "--package",
            "upload-validator-wasm",
            "--features",
            "upload-validator/ib-flex",
            "--lib",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Every database test runs on SQLite and PostgreSQL; test-support finds (or starts) the
    // PostgreSQL server and fails loudly when there is none.
    // With every feature, so the validator's IB Flex kind and its golden files are tested; the
    // WebAssembly tests below use the default package, which refuses that kind.
    // The storage services' tests send the seed's curl requests as it writes them.
    shell::ensure_debian(&["/usr/bin/curl"], &["curl"], "the storage services' tests")?;
    step("tests", shell::cargo().args(["test", "--workspace", "--all-features", "--locked"]))?;

    // The validator compiled to WebAssembly must give the native reports byte for byte: the
    // golden set through the wrapper under Node, then in headless Chromium, then the built
    // package through its JavaScript API.
    wasm::ensure_wasm_bindgen()?;
    let driver = wasm::ensure_chromium()?;
    let wasm_tests = || {
        let mut command = shell::cargo();
        command
            .args(["test", "--locked", "--package", "upload-validator-wasm", "--target", "wasm32-unknown-unknown"])
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", wasm::test_runner());
        command
    };
    step("validator golden set in WebAssembly, Node", &mut wasm_tests())?;
    step(
        "validator golden set in WebAssembly, headless Chromium",
        wasm_tests().env("WASM_BINDGEN_USE_BROWSER", "1").env("CHROMEDRIVER", &driver),
    )?;
    let flex = wasm::build_package(wasm::Package::IbFlex)?;
    eprintln!("{flex}");
    let sizes = wasm::build_package(wasm::Package::Default)?;
    eprintln!("{sizes}");
    step(
        "browser package through its JavaScript API, Node",
        std::process::Command::new("node").arg(shell::root().join("wasm/tests/package.test.mjs")),
    )?;
    step(
        "upload page end to end (Web Worker, headless Chromium)",
        std::process::Command::new("node")
            .arg(shell::root().join("wasm/tests/page.test.mjs"))
            .env("INTAKE_WASM_TOOLS", wasm::npm_tools()),
    )?;
    // The whole path: the page served by the upload service, a file checked in Chromium, sent,
    // stored, and read back with SQL (Debian's sqlite3).
    step("upload service build", shell::cargo().args(["build", "--locked", "--package", "upload-service"]))?;
    shell::ensure_debian(&["/usr/bin/sqlite3"], &["sqlite3"], "the upload page's end-to-end test")?;
    step(
        "upload page to upload service to database (headless Chromium, SQLite)",
        std::process::Command::new("node")
            .arg(shell::root().join("wasm/tests/upload.test.mjs"))
            .env("INTAKE_WASM_TOOLS", wasm::npm_tools())
            .env("INTAKE_UPLOAD_SERVICE", shell::target_dir().join("debug/upload-service")),
    )?;
    // Any bytes as any payload kind, whole and chunked: no panic, same report, bounded memory.
    fuzz::fuzz(FUZZ_SECONDS)?;
    // Every writing command killed at random moments, a few times each (`cargo xtask
    // reliability` runs 100).
    reliability::short()?;
    eprintln!("\nall checks passed");
    Ok(())
}
