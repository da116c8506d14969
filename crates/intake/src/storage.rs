//! `intake storage`: the secret keys of persistent storage (seed 002). `generate-key` prints a
//! new key entry; `rotate-key` seals every stored secret again with the active key, a batch of
//! rows per transaction, so it can be stopped at any point and run again.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use migration_core::{Database, Migrator, State};
use persistent_storage::secrets::Keyring;
use persistent_storage::{Rotation, Store};
use secrecy::ExposeSecret as _;

use crate::output;

#[derive(Debug, Args)]
pub struct StorageArgs {
    #[command(subcommand)]
    command: StorageCommand,
}

#[derive(Debug, Subcommand)]
enum StorageCommand {
    /// Print a new secret key entry (`id:base64`, 32 random bytes from the operating system).
    ///
    /// Put it in INTAKE_SECRET_KEY, or as the first line of the key file, for the connector
    /// service. To rotate, put the new entry first and keep the old one after it until
    /// `intake storage rotate-key` has run.
    GenerateKey {
        /// The key's id, written into every value it seals (letters, digits, `-`, `_`, `.`).
        #[arg(long, default_value_t = default_key_id())]
        id: String,
    },
    /// Seal every stored secret again with the active key (the first one given).
    ///
    /// Reads the keys as the connector service does: INTAKE_SECRET_KEY, or --secret-key-file.
    /// The old keys must still be listed after the active one. Rows already sealed with the
    /// active key are left alone, so running it again, or after a crash, finishes the work.
    /// Documents and their ETags do not change.
    RotateKey {
        /// A file of secret keys (`id:base64`, one per line, the active one first).
        #[arg(long, env = "INTAKE_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
        batch: u32,
    },
}

fn default_key_id() -> String {
    format!("k{}", chrono::Utc::now().format("%Y%m%d"))
}

pub fn execute(database_url: &str, json: bool, args: &StorageArgs) -> anyhow::Result<()> {
    match &args.command {
        StorageCommand::GenerateKey { id } => {
            let line = Keyring::generate_line(id)?;
            // Checked as the services will read it, so a bad id fails here, not at start-up.
            Keyring::parse(&line)?;
            if json {
                return output::json(&serde_json::json!({ "key": line.expose_secret() }));
            }
            output::line(line.expose_secret())
        }
        StorageCommand::RotateKey { secret_key_file, batch } => {
            let keys = persistent_storage::http::keys_from(secret_key_file.as_deref()).map_err(anyhow::Error::msg)?;
            let database = Database::connect(database_url)?;
            let pending = Migrator::new([&persistent_storage::MIGRATIONS])?
                .status(&database, None)?
                .into_iter()
                .any(|m| m.state != State::Applied);
            anyhow::ensure!(!pending, "the persistent storage tables are not migrated; run `intake migrate` first");
            let store = Store::new(database, Some(keys));
            let rotation = store
                .rotate(*batch, &mut |so_far: &Rotation| {
                    tracing::info!(rotated = so_far.rotated, current = so_far.current, "rotating");
                })
                .context("the rotation stopped; what it finished is kept, run it again to finish")?;
            if json {
                return output::json(&rotation);
            }
            output::line(format_args!(
                "Sealed the secrets of {} row(s) again with key {:?}; {} row(s) already used it.",
                rotation.rotated, rotation.active_key, rotation.current
            ))
        }
    }
}
