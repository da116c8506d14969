//! `intake storage` end to end on both backends: a generated key is one the services accept,
//! `rotate-key` reseals every stored secret with the active key once (a second run has nothing
//! to do), and refuses without keys or before the migrations.

mod common;

use std::process::Command;

use common::{intake, stdout};
use persistent_storage::secrets::Keyring;
use persistent_storage::{Collection, Store};
use secrecy::SecretString;
use test_support::{TestDatabase, on_both_backends};

fn with_keys(db: &TestDatabase, keys: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("INTAKE_SECRET_KEY", keys)
        .env_remove("INTAKE_SECRET_KEY_FILE")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn rotate_key_reseals_every_secret_once(db: &TestDatabase) {
    let refused = with_keys(db, "", &["storage", "rotate-key"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no secret key: set INTAKE_SECRET_KEY"));
    let old = stdout(&intake(db.url(), &["storage", "generate-key", "--id", "old"])).trim().to_owned();
    let new = stdout(&intake(db.url(), &["storage", "generate-key", "--id", "new"])).trim().to_owned();
    assert!(old.starts_with("old:") && old.len() == 4 + 43, "{old}");
    let unmigrated = with_keys(db, &old, &["storage", "rotate-key"]);
    assert!(String::from_utf8_lossy(&unmigrated.stderr).contains("run `intake migrate` first"));

    stdout(&intake(db.url(), &["migrate"]));
    let store = Store::new(db.database().clone(), Some(Keyring::parse(&SecretString::from(old.clone())).unwrap()));
    for i in 0..7 {
        let profile =
            format!(r#"{{"id": "p-{i}", "name": "P", "type": "sql", "credentials": {{"password": "pw{i}"}}}}"#);
        store.create(Collection::ConnectorProfiles, profile.as_bytes()).unwrap();
    }
    let both = format!("{new}\n{old}");
    let first = stdout(&with_keys(db, &both, &["storage", "rotate-key", "--batch", "3"]));
    assert_eq!(first.trim(), "Sealed the secrets of 7 row(s) again with key \"new\"; 0 row(s) already used it.");
    let second: serde_json::Value =
        serde_json::from_str(&stdout(&with_keys(db, &both, &["--json", "storage", "rotate-key"]))).unwrap();
    assert_eq!((second["rotated"].as_u64(), second["current"].as_u64()), (Some(0), Some(7)));
    // Only the new key is needed now.
    let only_new = Store::new(db.database().clone(), Some(Keyring::parse(&SecretString::from(new)).unwrap()));
    assert_eq!(only_new.rotate(10, &mut |_| {}).unwrap().current, 7);
}

on_both_backends!(rotate_key_reseals_every_secret_once);
