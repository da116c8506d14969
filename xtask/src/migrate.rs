//! `cargo xtask migrate`: the operator's entry point, forwarding to `intake migrate`.

use crate::shell;

pub fn run(args: &[String]) -> Result<(), String> {
    let status = shell::cargo()
        .args(["run", "--quiet", "--package", "intake", "--", "migrate"])
        .args(args)
        .status()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if status.success() { Ok(()) } else { Err(format!("intake migrate failed ({status})")) }
}
