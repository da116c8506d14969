//! `migrate new`: scaffolding a migration for both backends.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use crate::url::Backend;
use crate::{Error, Result};

/// Creates `<root>/<domain>/{postgres,sqlite}/<version>_<name>/{up.sql,down.sql}`, the
/// version being `now` as `YYYYMMDDHHMMSS` (moved past the domain's newest version if the
/// clock is behind it). Returns the created files.
pub fn scaffold(root: &Path, domain: &str, name: &str, now: NaiveDateTime) -> Result<Vec<PathBuf>> {
    for (what, value) in [("domain", domain), ("migration name", name)] {
        let valid = !value.is_empty()
            && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && value.as_bytes()[0].is_ascii_lowercase();
        if !valid {
            return Err(Error::InvalidName { what, value: value.to_owned() });
        }
    }
    let mut version: u64 = now.format("%Y%m%d%H%M%S").to_string().parse().expect("digits");
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let dir = root.join(domain).join(backend.folder());
        if let Some(newest) = migration_versions(&dir).ok().and_then(|versions| versions.into_iter().max()) {
            version = version.max(newest + 1);
        }
    }
    let mut created = Vec::new();
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let dir = root.join(domain).join(backend.folder()).join(format!("{version}_{name}"));
        fs::create_dir_all(&dir).map_err(|source| Error::Scaffold { path: dir.clone(), source })?;
        for (file, header) in [
            (
                "up.sql",
                format!(
                    "-- {domain}: {name} ({backend}).\n-- Runs in one transaction; add metadata.toml with `run_in_transaction = false` to opt out.\n"
                ),
            ),
            ("down.sql", format!("-- Reverses up.sql of {version}_{name} exactly ({backend}).\n")),
        ] {
            let path = dir.join(file);
            fs::write(&path, header).map_err(|source| Error::Scaffold { path: path.clone(), source })?;
            created.push(path);
        }
    }
    Ok(created)
}

fn migration_versions(dir: &Path) -> std::io::Result<Vec<u64>> {
    Ok(fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str()?.split_once('_')?.0.parse().ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn creates_up_and_down_for_both_backends() {
        let root = tempfile::tempdir().unwrap();
        let created = scaffold(root.path(), "demo", "add_things", at("2026-11-22 10:11:12")).unwrap();
        let relative: Vec<_> =
            created.iter().map(|p| p.strip_prefix(root.path()).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            relative,
            [
                "demo/postgres/20261122101112_add_things/up.sql",
                "demo/postgres/20261122101112_add_things/down.sql",
                "demo/sqlite/20261122101112_add_things/up.sql",
                "demo/sqlite/20261122101112_add_things/down.sql",
            ]
        );
    }

    #[test]
    fn never_reuses_or_goes_below_an_existing_version() {
        let root = tempfile::tempdir().unwrap();
        let now = at("2026-11-22 10:11:12");
        scaffold(root.path(), "demo", "first", now).unwrap();
        let second = scaffold(root.path(), "demo", "second", now).unwrap();
        assert!(second[0].to_string_lossy().contains("20261122101113_second"), "{second:?}");
    }

    #[test]
    fn rejects_names_that_are_not_snake_case() {
        let root = tempfile::tempdir().unwrap();
        for (domain, name) in [("Demo", "x"), ("demo", "Add-Things"), ("demo", ""), ("demo", "1st")] {
            assert!(
                matches!(
                    scaffold(root.path(), domain, name, at("2026-01-01 00:00:00")),
                    Err(Error::InvalidName { .. })
                ),
                "{domain} {name}"
            );
        }
    }
}
