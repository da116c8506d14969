//! House rules, checked as ordinary tests so `cargo xtask test` enforces them.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every `.rs` file of ours (not generated, not vendored).
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if !matches!(name.to_str(), Some("target" | "node_modules" | "pkg" | "corpus" | "artifacts")) {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "wasm", "xtask", "tests"] {
        walk(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {} files; is the walk broken?", files.len());
    files
}

fn violations(rule: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let root = workspace_root();
    rust_files()
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            rule(&text).map(|why| format!("{}: {why}", path.strip_prefix(&root).unwrap().display()))
        })
        .collect()
}

#[test]
fn every_rust_file_opens_with_a_doc_comment() {
    let bad = violations(|text| (!text.starts_with("//!")).then(|| "first line is not a `//!` doc comment".into()));
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn no_ignored_tests_and_no_unfinished_code() {
    // Spelled in pieces so this file does not match itself.
    let forbidden = [concat!("#[", "ignore"), concat!("todo", "!("), concat!("unimplemented", "!(")];
    let bad = violations(|text| {
        forbidden.iter().find(|needle| text.contains(*needle)).map(|needle| format!("contains `{needle}`"))
    });
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn every_allow_says_why() {
    // Spelled in pieces so this file does not match itself.
    let openers = [concat!("#[", "allow("), concat!("#![", "allow(")];
    let bad = violations(|text| {
        text.lines().enumerate().find_map(|(n, line)| {
            let at = openers.iter().find_map(|o| line.find(o))?;
            let attribute = &text[text.lines().take(n).map(|l| l.len() + 1).sum::<usize>() + at..];
            let end = attribute.find(")]").unwrap_or(attribute.len());
            (!attribute[..end].contains("reason")).then(|| format!("line {}: add `reason = \"...\"`", n + 1))
        })
    });
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_pure_crates_do_no_io() {
    let root = workspace_root();
    let pure = [
        root.join("crates/upload-validator/src"),
        root.join("crates/csv-stream/src"),
        root.join("crates/xml-stream/src"),
    ];
    let files: Vec<PathBuf> = rust_files().into_iter().filter(|f| pure.iter().any(|dir| f.starts_with(dir))).collect();
    assert!(files.len() >= 3, "found only {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for io in ["std::fs", "std::net", "std::process", "std::env", "File::open"] {
            assert!(!text.contains(io), "{}: a pure crate does no I/O (`{io}`)", file.display());
        }
    }
}

#[test]
fn no_trailing_whitespace() {
    let bad = violations(|text| {
        text.lines().position(|line| line.ends_with(' ') || line.ends_with('\t')).map(|n| format!("line {}", n + 1))
    });
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn every_migration_has_a_down_script_that_is_not_empty() {
    let root = workspace_root().join("migrations");
    let mut checked = 0;
    for up in glob_up_scripts(&root) {
        let down = up.with_file_name("down.sql");
        let text = std::fs::read_to_string(&down).unwrap_or_default();
        let has_sql = text.lines().any(|line| !line.trim().is_empty() && !line.trim_start().starts_with("--"));
        assert!(has_sql, "{} must reverse up.sql", down.display());
        checked += 1;
    }
    assert!(checked > 0);
}

fn glob_up_scripts(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(glob_up_scripts(&path));
        } else if path.file_name().is_some_and(|n| n == "up.sql") {
            found.push(path);
        }
    }
    found
}
