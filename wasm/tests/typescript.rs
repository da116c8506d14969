//! The package's TypeScript declarations against what the Rust code really produces: the
//! payload kinds, each kind's context fields, and every field and value of the reports in the
//! validator's golden set. A field added in Rust and not declared (or the reverse) fails here.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use upload_validator::{Context, HistoricalSalesContext, KindContext, PayloadKind, WeeklyActualsContext};
use upload_validator_wasm::TYPESCRIPT;

/// The field names of `export interface NAME { ... }`.
fn interface_fields(name: &str) -> BTreeSet<String> {
    let start =
        TYPESCRIPT.find(&format!("export interface {name} {{")).unwrap_or_else(|| panic!("no interface {name}"));
    let body = &TYPESCRIPT[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("/**") && !line.starts_with('*') && line.contains(':'))
        .map(|line| line.split(':').next().unwrap().trim_end_matches('?').to_owned())
        .collect()
}

/// The string literals of `export type NAME = | "a" | "b";` or of a field's union `"a" | "b"`.
fn literals(declaration: &str) -> BTreeSet<String> {
    declaration.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

fn type_alias(name: &str) -> BTreeSet<String> {
    let start = TYPESCRIPT.find(&format!("export type {name} =")).unwrap_or_else(|| panic!("no type {name}"));
    literals(&TYPESCRIPT[start..start + TYPESCRIPT[start..].find(';').unwrap()])
}

/// The type names of `export type NAME = A | B;`.
fn type_union(name: &str) -> BTreeSet<String> {
    let start = TYPESCRIPT.find(&format!("export type {name} =")).unwrap_or_else(|| panic!("no type {name}"));
    let declaration = &TYPESCRIPT[start + format!("export type {name} =").len()..];
    declaration[..declaration.find(';').unwrap()].split('|').map(|t| t.trim().to_owned()).collect()
}

fn field_union(interface: &str, field: &str) -> BTreeSet<String> {
    let start = TYPESCRIPT.find(&format!("export interface {interface} {{")).unwrap();
    let body = &TYPESCRIPT[start..];
    let line = body.lines().find(|l| l.trim_start().starts_with(&format!("{field}:"))).unwrap();
    literals(line)
}

fn golden_reports() -> Vec<serde_json::Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/upload-validator/tests/golden");
    let reports: Vec<serde_json::Value> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".report.json"))
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        .collect();
    assert!(reports.len() >= 10, "the golden set shrank");
    reports
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn the_payload_kind_union_is_every_kind() {
    let rust: BTreeSet<String> = PayloadKind::ALL.iter().map(|k| k.name().to_owned()).collect();
    assert_eq!(type_alias("PayloadKind"), rust);
}

#[test]
fn the_report_and_finding_interfaces_are_what_reports_hold() {
    let reports = golden_reports();
    for report in &reports {
        assert_eq!(keys(report), interface_fields("Report"), "Report fields");
        assert!(type_alias("PayloadKind").contains(report["kind"].as_str().unwrap()));
        assert!(field_union("Report", "verdict").contains(report["verdict"].as_str().unwrap()));
        for finding in report["findings"].as_array().unwrap() {
            assert_eq!(keys(finding), interface_fields("Finding"), "Finding fields");
            assert!(field_union("Finding", "severity").contains(finding["severity"].as_str().unwrap()));
        }
    }
    let seen = |pointer: &str| -> BTreeSet<String> {
        reports
            .iter()
            .flat_map(|r| r[pointer].as_array().cloned().unwrap_or_default())
            .map(|f| f["severity"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(seen("findings"), field_union("Finding", "severity"), "both severities occur in the golden set");
    let verdicts: BTreeSet<String> = reports.iter().map(|r| r["verdict"].as_str().unwrap().to_owned()).collect();
    assert_eq!(verdicts, field_union("Report", "verdict"), "both verdicts occur in the golden set");
}

/// The fields of `C` read from `json`, as serde writes them.
fn fields_of<C: KindContext + serde::Serialize>(json: &str) -> BTreeSet<String> {
    keys(&serde_json::to_value(C::from_json(json).unwrap()).unwrap())
}

#[test]
fn each_context_interface_is_what_its_kind_reads() {
    let samples = BTreeMap::from([
        ("week_start", "\"2025-03-01\""),
        ("store_ids", "[\"S001\"]"),
        ("categories", "{\"Shoes\": \"C1\"}"),
    ]);
    let mut with_context = BTreeSet::new();
    for &kind in PayloadKind::ALL {
        let name = kind.context_type();
        if name == "NoContext" {
            continue;
        }
        with_context.insert(name.to_owned());
        let declared = interface_fields(name);
        let json: Vec<String> = declared
            .iter()
            .map(|field| {
                format!(
                    "\"{field}\": {}",
                    samples.get(field.as_str()).unwrap_or_else(|| panic!("no sample for {field}"))
                )
            })
            .collect();
        let json = format!("{{{}}}", json.join(", "));
        Context::from_json(kind, &json).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The Rust struct's fields, as serde writes them, are the declared ones.
        let rust = match name {
            "WeeklyActualsContext" => fields_of::<WeeklyActualsContext>(&json),
            "HistoricalSalesContext" => fields_of::<HistoricalSalesContext>(&json),
            other => panic!("{other}: add it here, and its interface to TYPESCRIPT"),
        };
        assert_eq!(rust, declared, "{name}");
        assert!(
            Context::from_json(kind, "{\"undeclared\": 1}").is_err(),
            "{name}: the reader refuses what is not declared"
        );
    }
    let union: BTreeSet<String> = type_union("Context");
    assert_eq!(union, with_context, "`Context` lists every kind's context type");
}
