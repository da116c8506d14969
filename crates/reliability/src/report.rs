//! The rows of the concurrency, fault and hostile-input tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use migration_core::Backend;

/// One scenario on one backend: how many runs, what each found, what failed.
pub struct Row {
    /// The scenario.
    pub scenario: &'static str,
    /// The backend, if the scenario has one.
    pub backend: Option<Backend>,
    /// Runs asked for.
    pub runs: u32,
    /// Outcomes of the runs that held, by label.
    pub passed: BTreeMap<&'static str, u32>,
    /// What did not hold, one line each.
    pub failures: Vec<String>,
    /// Figures worth a column (latency, memory, sizes).
    pub figures: String,
}

impl Row {
    /// A row for `runs` runs of `scenario`.
    pub fn new(scenario: &'static str, backend: impl Into<Option<Backend>>, runs: u32) -> Row {
        Row {
            scenario,
            backend: backend.into(),
            runs,
            passed: BTreeMap::new(),
            failures: Vec::new(),
            figures: String::new(),
        }
    }

    /// A run that held, as `label`.
    pub fn pass(&mut self, label: &'static str) {
        *self.passed.entry(label).or_default() += 1;
    }

    /// Something that did not hold.
    pub fn fail(&mut self, why: impl Into<String>) {
        self.failures.push(why.into());
    }

    /// Whether anything failed.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| scenario | backend | runs | held | failed | figures |\n|---|---|---|---|---|---|\n");
    for row in rows {
        let held: Vec<String> = row.passed.iter().map(|(label, n)| format!("{n} {label}")).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.backend.map_or("-", crate::backend_name),
            row.runs,
            if held.is_empty() { "-".to_owned() } else { held.join(", ") },
            row.failures.len(),
            if row.figures.is_empty() { "-" } else { &row.figures },
        );
    }
    out
}
