// The page: hands the chosen file to a Web Worker (which streams it through the WebAssembly
// validator, so the page stays responsive on a 1 GB file), shows progress, then the verdict
// and a table of findings.
const $ = (id) => document.getElementById(id);
let worker = null;

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) validate(file);
});

function validate(file) {
  let context;
  try {
    context = $("context").value.trim() ? JSON.parse($("context").value) : undefined;
  } catch (error) {
    return showError(`The JSON under "What the server knows" does not parse: ${error.message}`);
  }
  worker?.terminate();
  worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
  $("progress-section").hidden = false;
  $("progress").value = 0;
  for (const id of ["verdict", "summary", "findings"]) $(id).hidden = true;
  worker.onmessage = ({ data }) => {
    if (data.type === "progress") {
      $("progress").value = data.total ? data.bytes / data.total : 0;
      $("progress-text").textContent = `${megabytes(data.bytes)} of ${megabytes(data.total)} MB checked`;
    } else if (data.type === "report") {
      show(data.report);
    } else if (data.type === "error") {
      showError(data.message);
    }
  };
  worker.postMessage({ file, kind: $("kind").value, context });
}

function megabytes(bytes) {
  return (bytes / 1e6).toFixed(1);
}

function show(report) {
  $("progress").value = 1;
  const ready = report.verdict === "ready_to_upload";
  const verdict = $("verdict");
  verdict.hidden = false;
  verdict.className = ready ? "ready" : "fix";
  verdict.textContent = ready ? "Ready to upload" : "Fix these first";
  const omitted = Object.values(report.omitted).reduce((a, b) => a + b, 0);
  $("summary").hidden = false;
  $("summary").textContent =
    `${report.records} rows, ${report.errors} errors, ${report.warnings} warnings` +
    (omitted ? ` (the first ${report.findings.length} are listed)` : "");
  const body = $("findings").querySelector("tbody");
  body.replaceChildren(
    ...report.findings.map((finding) => {
      const row = document.createElement("tr");
      const column = finding.column === null ? "" : `${finding.column}${finding.column_name ? ` (${finding.column_name})` : ""}`;
      for (const text of [finding.line, column, finding.rule, finding.message]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        if (finding.severity === "warning") cell.className = "warning";
        row.append(cell);
      }
      row.dataset.rule = finding.rule;
      return row;
    }),
  );
  $("findings").hidden = report.findings.length === 0;
}

function showError(message) {
  const verdict = $("verdict");
  verdict.hidden = false;
  verdict.className = "fix";
  verdict.textContent = message;
}
