//! How every `intake <domain> import` shows its work: a progress bar per large file, each
//! file's findings (or that it is unchanged) as they come, then one table of counts (or, with
//! `--json`, one array of the import layer's reports), and the exit code: 1 when any file was
//! refused or failed.

use std::path::Path;

use import_core::{ImportReport, Outcome};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output;

/// Files larger than this get a progress bar (on a terminal).
const PROGRESS_BAR_BYTES: u64 = 4 << 20;

/// One file's result, as `--json` prints it.
#[derive(serde::Serialize)]
#[serde(untagged)]
pub enum FileResult {
    Done(ImportReport),
    Failed { file: String, outcome: &'static str, error: String },
}

/// Imports each file with `import` (given the file and a progress callback taking the bytes
/// read) and renders the results. `skip_invalid` is the option the import ran with, for the
/// advice on a refused file.
pub fn each<E: std::error::Error + Send + Sync + 'static>(
    files: &[impl AsRef<Path>],
    json: bool,
    skip_invalid: bool,
    import: impl FnMut(&Path, &mut dyn FnMut(u64)) -> Result<ImportReport, E>,
) -> anyhow::Result<()> {
    let results = run(files, json, skip_invalid, import)?;
    if json {
        output::json(&results.0)?;
    } else {
        results.print_totals()?;
    }
    results.verdict()
}

/// Each file's result, in order.
#[derive(serde::Serialize)]
#[serde(transparent)]
pub struct Results(Vec<FileResult>);

/// Imports each file (see [`each`]), printing each one's findings as it goes unless `json`.
pub fn run<E: std::error::Error + Send + Sync + 'static>(
    files: &[impl AsRef<Path>],
    json: bool,
    skip_invalid: bool,
    mut import: impl FnMut(&Path, &mut dyn FnMut(u64)) -> Result<ImportReport, E>,
) -> anyhow::Result<Results> {
    let mut results = Vec::with_capacity(files.len());
    for path in files {
        let path = path.as_ref();
        let bar = progress_bar(path);
        let result = import(path, &mut |bytes| bar.set_position(bytes));
        bar.finish_and_clear();
        results.push(match result {
            Ok(report) => {
                if !json {
                    print_findings(&report, skip_invalid)?;
                }
                FileResult::Done(report)
            }
            Err(error) => {
                let error = crate::render_error(&anyhow::Error::new(error));
                if !json {
                    eprintln!("{error}");
                }
                FileResult::Failed { file: path.display().to_string(), outcome: "failed", error }
            }
        });
    }
    Ok(Results(results))
}

impl Results {
    /// One row per file: its outcome and every count its importer reports.
    pub fn print_totals(&self) -> anyhow::Result<()> {
        print_totals(&self.0)
    }

    /// An error when any file was refused or failed (the exit code 1).
    pub fn verdict(&self) -> anyhow::Result<()> {
        let not_imported = self
            .0
            .iter()
            .filter(|r| !matches!(r, FileResult::Done(report) if report.outcome != Outcome::Refused))
            .count();
        if not_imported > 0 {
            anyhow::bail!(
                "{not_imported} of {} files not imported (see above); the database has none of their rows",
                self.0.len()
            );
        }
        Ok(())
    }
}

fn progress_bar(path: &Path) -> ProgressBar {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size <= PROGRESS_BAR_BYTES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    bar
}

/// The file's errors and warnings, and why nothing was written if nothing was.
fn print_findings(report: &ImportReport, skip_invalid: bool) -> anyhow::Result<()> {
    let Some(validation) = &report.validation else {
        if let Some(since) = report.unchanged_since {
            output::line(format_args!(
                "{}: unchanged since its import at {} UTC; not read again.",
                report.file,
                since.format("%Y-%m-%d %H:%M:%S")
            ))?;
        }
        return Ok(());
    };
    if validation.findings.is_empty() {
        return Ok(());
    }
    output::line(format_args!("{}:", report.file))?;
    let mut table = output::table(&["Line", "Column", "Rule", "Severity", "Problem"]);
    for finding in &validation.findings {
        let column = match (&finding.column, &finding.column_name) {
            (Some(index), Some(name)) => format!("{index} ({name})"),
            (Some(index), None) => index.to_string(),
            _ => String::new(),
        };
        table.add_row(vec![
            finding.line.to_string(),
            column,
            finding.rule.code().to_owned(),
            format!("{:?}", finding.severity).to_lowercase(),
            finding.message.clone(),
        ]);
    }
    output::line(&table)?;
    let omitted: u64 = validation.omitted.values().sum();
    if omitted > 0 {
        output::line(format_args!("... and {omitted} more findings not listed."))?;
    }
    if report.outcome == Outcome::Refused {
        let counts = &report.counts;
        let valid = counts.rows_read - counts.rejected;
        let way_out = if skip_invalid || valid == 0 {
            "fix the file and import it again".to_owned()
        } else {
            format!("fix those rows and import again, or pass --skip-invalid to import the {valid} valid rows")
        };
        output::line(format_args!(
            "Nothing imported from {}: {} of {} rows have errors; {way_out}.",
            report.file, counts.rejected, counts.rows_read
        ))?;
    }
    Ok(())
}

/// One row per file: its outcome and every count its importer reports.
fn print_totals(results: &[FileResult]) -> anyhow::Result<()> {
    let names: Vec<&'static str> = results
        .iter()
        .find_map(|r| match r {
            FileResult::Done(report) => Some(report.counts.named().map(|(name, _)| name).collect()),
            FileResult::Failed { .. } => None,
        })
        .unwrap_or_default();
    let headings: Vec<String> = names.iter().map(|name| heading(name)).collect();
    let mut header = vec!["File", "Outcome"];
    header.extend(headings.iter().map(String::as_str));
    let mut table = output::table(&header);
    for result in results {
        table.add_row(match result {
            FileResult::Done(report) => {
                let outcome = match report.outcome {
                    Outcome::Imported => "imported",
                    Outcome::Refused => "nothing imported",
                    Outcome::Unchanged => "unchanged",
                };
                let mut row = vec![report.file.clone(), outcome.to_owned()];
                row.extend(report.counts.named().map(|(_, value)| value.to_string()));
                row
            }
            FileResult::Failed { file, .. } => vec![file.clone(), "failed".to_owned()],
        });
    }
    output::line(&table)
}

/// `already_imported` → `Already imported`.
fn heading(name: &str) -> String {
    let mut text = name.replace('_', " ");
    if let Some(first) = text.get(..1) {
        text.replace_range(..1, &first.to_ascii_uppercase());
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn count_names_become_headings() {
        assert_eq!(super::heading("duplicated_in_file"), "Duplicated in file");
        assert_eq!(super::heading("rows_read"), "Rows read");
    }
}
