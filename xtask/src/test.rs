//! `cargo xtask test`: the whole suite, exactly as CI runs it.

use crate::shell::{self, step};

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args.first() {
        return Err(format!("`cargo xtask test` takes no arguments (got `{unknown}`)"));
    }
    step("rustfmt", shell::cargo().args(["fmt", "--all", "--check"]))?;
    step(
        "clippy",
        shell::cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
    )?;
    // rustup installs the targets of rust-toolchain.toml only with a new toolchain; make sure.
    step("wasm32 target", std::process::Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    step(
        "upload-validator builds for wasm32 (pure: no I/O, no database)",
        shell::cargo().args([
            "build",
            "--package",
            "upload-validator",
            "--target",
            "wasm32-unknown-unknown",
            "--locked",
        ]),
    )?;
    // Every database test runs on SQLite and PostgreSQL; test-support finds (or starts) the
    // PostgreSQL server and fails loudly when there is none.
    step("tests", shell::cargo().args(["test", "--workspace", "--locked"]))?;
    eprintln!("\nall checks passed");
    Ok(())
}
