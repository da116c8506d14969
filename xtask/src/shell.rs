//! Running commands from the workspace root, with a banner and timing for each step.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Where cargo puts its output: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

/// `cargo` as invoked by the user (respects `$CARGO`), run from the workspace root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs one named step, failing with its name when it fails.
pub fn step(name: &str, command: &mut Command) -> Result<(), String> {
    eprintln!("\n==> {name}");
    let started = Instant::now();
    let status = command.status().map_err(|error| format!("{name}: cannot start {command:?}: {error}"))?;
    eprintln!(
        "<== {name}: {} in {:.1} s",
        if status.success() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if status.success() { Ok(()) } else { Err(format!("step `{name}` failed ({status})")) }
}

/// Installs Debian `packages` with apt-get (as root) unless every one of `binaries` is there
/// already; retries once after `apt-get update`. `what` names why, for the error.
pub fn ensure_debian(binaries: &[&str], packages: &[&str], what: &str) -> Result<(), String> {
    if binaries.iter().all(|binary| std::path::Path::new(binary).is_file()) {
        return Ok(());
    }
    let apt = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    let mut install = vec!["install", "-y", "-q"];
    install.extend_from_slice(packages);
    let name = format!("install {}", packages.join(" "));
    if step(&name, &mut apt(&install)).is_err() {
        step("apt-get update", &mut apt(&["update", "-q"]))?;
        step(&name, &mut apt(&install)).map_err(|e| {
            format!("{e}\nhint: {what} needs Debian's {} (run as root, or install them)", packages.join(", "))
        })?;
    }
    Ok(())
}
