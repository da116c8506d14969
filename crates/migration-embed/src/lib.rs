//! Build-script helper that embeds one domain's SQL migrations into its crate.
//!
//! A domain crate calls [`embed`] from its `build.rs`; the helper walks
//! `migrations/<domain>/{postgres,sqlite}/<version>_<name>/`, checks the layout, prints
//! `cargo:rerun-if-changed` for every folder and file (so a new migration rebuilds the
//! crate) and writes `$OUT_DIR/migrations.rs`, an expression of type
//! `migration_core::Domain` that `include_str!`s every script.
//!
//! It uses only `std` on purpose: build scripts compile for the host, and pulling diesel in
//! here would double the cold build. It knows nothing of databases; `migration-core` runs
//! what it embeds.
//!
//! ```no_run
//! // In build.rs of a domain crate, inside `fn main`:
//! migration_embed::embed("execution_dedup");
//! // In src/lib.rs of the same crate:
//! // pub static MIGRATIONS: migration_core::Domain =
//! //     include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
//! ```

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The backends every domain provides scripts for, in the order they are embedded.
const BACKENDS: [&str; 2] = ["postgres", "sqlite"];

/// One migration folder as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationDir {
    /// Version: the folder name up to the first `_`, digits only.
    pub version: String,
    /// Name: the folder name after the first `_`.
    pub name: String,
    /// The folder itself.
    pub path: PathBuf,
}

/// Embeds `migrations/<domain>/` (relative to the workspace root) into the calling crate.
///
/// Panics with a message naming the file and the rule when the layout is wrong; a panic in
/// a build script fails the build with that message, which is what we want.
pub fn embed(domain: &str) {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    let root = manifest_dir.join("../../migrations").join(domain);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("run from a build script"));
    let code = match generate(domain, &root) {
        Ok(code) => code,
        Err(message) => panic!("{message}"),
    };
    println!("cargo:rerun-if-changed={}", root.display());
    for backend in BACKENDS {
        println!("cargo:rerun-if-changed={}", root.join(backend).display());
    }
    for path in watched_files(&root) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    fs::write(out_dir.join("migrations.rs"), code).expect("write $OUT_DIR/migrations.rs");
}

/// Lists the migration folders of one backend, sorted by version.
pub fn list(backend_dir: &Path) -> Result<Vec<MigrationDir>, String> {
    let entries = fs::read_dir(backend_dir)
        .map_err(|error| format!("{}: cannot read the migrations folder: {error}", backend_dir.display()))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| format!("{}: {error}", backend_dir.display()))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let folder = entry.file_name().to_string_lossy().into_owned();
        let (version, name) = folder.split_once('_').ok_or_else(|| {
            format!(
                "{}: a migration folder is named <version>_<name>, e.g. 20250101120000_create_trades",
                path.display()
            )
        })?;
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
            return Err(format!(
                "{}: the version (before the first `_`) must be digits and the name non-empty, e.g. 20250101120000_create_trades",
                path.display()
            ));
        }
        for script in ["up.sql", "down.sql"] {
            if !path.join(script).is_file() {
                return Err(format!(
                    "{}: missing {script}; every migration needs up.sql and a down.sql that reverses it",
                    path.display()
                ));
            }
        }
        dirs.push(MigrationDir { version: version.to_owned(), name: name.to_owned(), path });
    }
    dirs.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in dirs.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(format!(
                "{} and {}: two migrations share version {}",
                pair[0].path.display(),
                pair[1].path.display(),
                pair[0].version
            ));
        }
    }
    Ok(dirs)
}

/// Produces the `migration_core::Domain` expression for `root` = `migrations/<domain>`.
fn generate(domain: &str, root: &Path) -> Result<String, String> {
    if domain.is_empty() || !domain.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(format!("domain name {domain:?}: use lowercase letters, digits and `_`"));
    }
    let postgres = list(&root.join("postgres"))?;
    let sqlite = list(&root.join("sqlite"))?;
    let versions = |dirs: &[MigrationDir]| dirs.iter().map(|d| (d.version.clone(), d.name.clone())).collect::<Vec<_>>();
    if versions(&postgres) != versions(&sqlite) {
        return Err(format!(
            "{}: postgres/ and sqlite/ must hold the same migrations (same versions and names); postgres has {:?}, sqlite has {:?}",
            root.display(),
            versions(&postgres),
            versions(&sqlite)
        ));
    }
    let mut code = format!("::migration_core::Domain::new({domain:?}, &[\n");
    for (pg, lite) in postgres.iter().zip(&sqlite) {
        let _ = writeln!(
            code,
            "    ::migration_core::MigrationFiles {{ version: {:?}, name: {:?}, postgres: {}, sqlite: {} }},",
            pg.version,
            pg.name,
            scripts(&pg.path),
            scripts(&lite.path)
        );
    }
    code.push_str("])\n");
    Ok(code)
}

fn scripts(dir: &Path) -> String {
    let include = |file: &str| format!("include_str!({:?})", absolute(&dir.join(file)).display().to_string());
    let metadata = if dir.join("metadata.toml").is_file() { include("metadata.toml") } else { "\"\"".to_owned() };
    format!(
        "::migration_core::Scripts {{ up: {}, down: {}, metadata: {} }}",
        include("up.sql"),
        include("down.sql"),
        metadata
    )
}

fn absolute(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn watched_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for backend in BACKENDS {
        if let Ok(dirs) = list(&root.join(backend)) {
            for dir in dirs {
                files.push(dir.path.clone());
                for file in ["up.sql", "down.sql", "metadata.toml"] {
                    files.push(dir.path.join(file));
                }
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(entries: &[(&str, &[&str])]) -> tempdir::Dir {
        let dir = tempdir::Dir::new();
        for (folder, files) in entries {
            let path = dir.0.join(folder);
            fs::create_dir_all(&path).unwrap();
            for file in *files {
                fs::write(path.join(file), "SELECT 1;").unwrap();
            }
        }
        dir
    }

    /// A minimal temp dir so this crate stays dependency-free.
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir().join(format!("migration-embed-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn lists_migrations_sorted_by_version() {
        let dir = layout(&[("2_second", &["up.sql", "down.sql"]), ("1_first", &["up.sql", "down.sql"])]);
        let found = list(&dir.0).unwrap();
        let names: Vec<_> = found.iter().map(|d| (d.version.as_str(), d.name.as_str())).collect();
        assert_eq!(names, [("1", "first"), ("2", "second")]);
    }

    #[test]
    fn rejects_missing_down_sql() {
        let dir = layout(&[("1_first", &["up.sql"])]);
        let error = list(&dir.0).unwrap_err();
        assert!(error.contains("missing down.sql"), "{error}");
    }

    #[test]
    fn rejects_folder_without_version() {
        let dir = layout(&[("first", &["up.sql", "down.sql"])]);
        assert!(list(&dir.0).unwrap_err().contains("<version>_<name>"));
        let dir = layout(&[("v1_first", &["up.sql", "down.sql"])]);
        assert!(list(&dir.0).unwrap_err().contains("must be digits"));
    }

    #[test]
    fn rejects_backends_that_disagree() {
        let dir = layout(&[
            ("postgres/1_first", &["up.sql", "down.sql"]),
            ("sqlite/1_first", &["up.sql", "down.sql"]),
            ("sqlite/2_second", &["up.sql", "down.sql"]),
        ]);
        let error = generate("demo", &dir.0).unwrap_err();
        assert!(error.contains("must hold the same migrations"), "{error}");
    }

    #[test]
    fn generates_one_entry_per_migration_with_optional_metadata() {
        let dir = layout(&[
            ("postgres/1_first", &["up.sql", "down.sql", "metadata.toml"]),
            ("sqlite/1_first", &["up.sql", "down.sql"]),
        ]);
        let code = generate("demo", &dir.0).unwrap();
        assert_eq!(code.matches("MigrationFiles {").count(), 1);
        assert_eq!(code.matches("metadata.toml").count(), 1);
        assert!(code.contains("metadata: \"\""));
    }
}
