//! Running the `intake` binary in the tests.

use std::process::{Command, Output};

/// `intake ARGS` against `database_url`, with the environment's logging settings removed.
pub fn intake(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .output()
        .expect("run intake")
}

/// The standard output of a run that must have succeeded.
pub fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "intake failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}
