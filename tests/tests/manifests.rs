//! House rules about the manifests: every version is written once, in the workspace, and
//! dependencies point one way (pure crates stay pure, the migration core knows no domain,
//! domains do not know each other).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every member's manifest, by package name.
fn members() -> BTreeMap<String, (PathBuf, toml::Table)> {
    let root = workspace_root();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates")).unwrap().flatten().map(|e| e.path()).collect();
    dirs.extend(["xtask", "tests", "wasm"].iter().map(|d| root.join(d)));
    let mut members = BTreeMap::new();
    for dir in dirs {
        let path = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let manifest: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = manifest["package"]["name"].as_str().unwrap().to_owned();
        members.insert(name, (path, manifest));
    }
    assert!(members.len() >= 8, "found only {} members; is the walk broken?", members.len());
    members
}

/// Every dependency table of a manifest, with its name (`dependencies`,
/// `target.'cfg(...)'.dev-dependencies`, ...).
fn dependency_tables(manifest: &toml::Table) -> Vec<(String, &toml::Table)> {
    let kinds = ["dependencies", "dev-dependencies", "build-dependencies"];
    let mut tables: Vec<(String, &toml::Table)> =
        kinds.iter().filter_map(|k| manifest.get(*k)?.as_table().map(|t| (k.to_string(), t))).collect();
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for (target, table) in targets {
            for kind in kinds {
                if let Some(deps) = table.get(kind).and_then(|d| d.as_table()) {
                    tables.push((format!("target.{target}.{kind}"), deps));
                }
            }
        }
    }
    tables
}

/// The normal (not dev, not build) dependencies' names.
fn normal_dependencies(manifest: &toml::Table) -> Vec<String> {
    dependency_tables(manifest)
        .into_iter()
        .filter(|(kind, _)| kind.ends_with("dependencies") && !kind.contains("dev-") && !kind.contains("build-"))
        .flat_map(|(_, table)| table.keys().cloned().collect::<Vec<_>>())
        .collect()
}

/// Domain crates embed migrations: their build script depends on migration-embed.
fn domain_crates(members: &BTreeMap<String, (PathBuf, toml::Table)>) -> Vec<String> {
    members
        .iter()
        .filter(|(_, (_, manifest))| {
            manifest
                .get("build-dependencies")
                .and_then(|b| b.as_table())
                .is_some_and(|b| b.contains_key("migration-embed"))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn versions_are_written_only_in_the_workspace() {
    let mut bad = Vec::new();
    for (name, (path, manifest)) in members() {
        for (kind, table) in dependency_tables(&manifest) {
            for (dependency, spec) in table {
                let inherited =
                    spec.as_table().is_some_and(|t| t.get("workspace").and_then(|w| w.as_bool()) == Some(true));
                if !inherited {
                    bad.push(format!("{name} ({}): [{kind}] {dependency} = {spec}", path.display()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "write these as `x.workspace = true` and their version in [workspace.dependencies]: {bad:#?}"
    );
}

#[test]
fn every_exact_pin_says_why() {
    let text = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut pins = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.contains("\"=") && !line.trim_start().starts_with('#') {
            pins += 1;
            let explained = i > 0 && lines[i - 1].trim_start().starts_with('#');
            assert!(explained, "Cargo.toml line {}: an exact pin needs a comment above it saying why: {line}", i + 1);
        }
    }
    assert!(pins >= 1, "the wasm-bindgen pin is expected here");
}

#[test]
fn every_allowed_lint_in_the_workspace_says_why() {
    let text = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_end().ends_with("= \"allow\"") {
            assert!(
                i > 0 && lines[i - 1].trim_start().starts_with('#'),
                "Cargo.toml line {}: an allowed lint needs a comment above it saying why: {line}",
                i + 1
            );
        }
    }
}

#[test]
fn the_validator_and_its_engine_have_no_database_dependency() {
    let members = members();
    let forbidden =
        ["diesel", "diesel_migrations", "r2d2", "libsqlite3-sys", "migration-core", "test-support", "tempfile"];
    for crate_name in ["upload-validator", "csv-stream", "xml-stream"] {
        let (_, manifest) = &members[crate_name];
        let dependencies = normal_dependencies(manifest);
        let impure: Vec<&String> = dependencies.iter().filter(|d| forbidden.contains(&d.as_str())).collect();
        assert!(impure.is_empty(), "{crate_name} must not depend on {impure:?}");
        // (That their source does no I/O is checked in `tidy.rs`.)
    }
}

#[test]
fn the_migration_core_knows_no_domain_and_domains_do_not_know_each_other() {
    let members = members();
    let domains = domain_crates(&members);
    assert!(domains.contains(&"execution-dedup".to_owned()), "{domains:?}");
    for (name, (_, manifest)) in &members {
        let dependencies: Vec<String> = dependency_tables(manifest)
            .into_iter()
            .flat_map(|(_, table)| table.keys().cloned().collect::<Vec<_>>())
            .collect();
        let on_domains: Vec<&String> = dependencies.iter().filter(|d| domains.contains(d)).collect();
        if ["migration-core", "migration-embed", "import-core", "upload-validator", "csv-stream", "xml-stream"]
            .contains(&name.as_str())
        {
            assert!(on_domains.is_empty(), "{name} must know no domain, but depends on {on_domains:?}");
        }
        if domains.contains(name) {
            assert!(
                on_domains.is_empty(),
                "domain {name} depends on domain(s) {on_domains:?}; share code through a lower crate"
            );
        }
    }
}

/// A binary (the CLI, each service) names in `[package.metadata.intake] serves` the domain
/// crates it serves, and links exactly those: a service does not carry the migrations and
/// dependencies of domains it does not serve.
#[test]
fn binaries_link_only_the_domains_they_serve() {
    let members = members();
    let domains = domain_crates(&members);
    let mut binaries = 0;
    for (name, (path, manifest)) in &members {
        let dir = path.parent().unwrap();
        if manifest.get("bin").is_none() && !dir.join("src/main.rs").is_file() {
            continue;
        }
        binaries += 1;
        let mut linked: Vec<String> =
            normal_dependencies(manifest).into_iter().filter(|d| domains.contains(d)).collect();
        linked.sort();
        let mut serves: Vec<String> = manifest
            .get("package")
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("intake"))
            .and_then(|i| i.get("serves"))
            .and_then(|s| s.as_array())
            .map(|list| list.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        serves.sort();
        assert_eq!(
            linked, serves,
            "{name} links the domain crates {linked:?} but declares `[package.metadata.intake] serves = {serves:?}`"
        );
    }
    assert!(binaries >= 2, "the CLI and xtask at least");
}
