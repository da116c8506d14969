// The page: hands the chosen file to a Web Worker (which streams it through the WebAssembly
// validator, so the page stays responsive on a 1 GB file), shows progress, the verdict and a
// table of findings; a file that is ready to upload can then be sent to the upload service,
// and the page shows what it stored, or why it stored nothing.
//
// Served by the upload service (`upload-service --page wasm`), the page asks it what a file
// is checked against (GET /uploads/{kind}/context) and sends files to POST /uploads/{kind}.
const $ = (id) => document.getElementById(id);
let worker = null;
/** The file checked last, with its report's JSON text, once it is ready to upload. */
let ready = null;
/** The context URL whose answer is under "What the server knows". */
let contextFrom = null;

for (const id of ["kind", "workflow", "week"]) $(id).addEventListener("change", () => loadContext());
$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) validate(file);
});
$("upload").addEventListener("click", () => upload());
showWeekFields();

/** The workflow week as query parameters (weekly actuals only). */
function weekQuery() {
  const query = new URLSearchParams();
  if ($("kind").value === "weekly_actuals") {
    query.set("workflow_id", $("workflow").value.trim());
    query.set("week_number", $("week").value.trim());
  }
  return query;
}

function showWeekFields() {
  $("week-fields").hidden = $("kind").value !== "weekly_actuals";
}

/** Fills "What the server knows" from the upload service, when it serves this page. */
async function loadContext() {
  showWeekFields();
  const kind = $("kind").value;
  if (kind === "weekly_actuals" && !($("workflow").value.trim() && $("week").value.trim())) return;
  const url = `/uploads/${kind}/context?${weekQuery()}`;
  // A field that loses focus fires "change" again with nothing changed (for example when
  // Upload is clicked): checking the file again then would withdraw the upload being clicked.
  if (url === contextFrom) return;
  try {
    const response = await fetch(url);
    if (response.ok) {
      $("context").value = await response.text();
      contextFrom = url;
    } else if (response.headers.get("content-type") === "application/problem+json") {
      showError((await response.json()).detail);
    }
  } catch {
    // Not served by the upload service: the context is typed in.
  }
  const file = $("file").files[0];
  if (file) validate(file);
}

function validate(file) {
  let context;
  try {
    context = $("context").value.trim() ? JSON.parse($("context").value) : undefined;
  } catch (error) {
    return showError(`The JSON under "What the server knows" does not parse: ${error.message}`);
  }
  ready = null;
  $("upload").disabled = true;
  $("server").hidden = true;
  worker?.terminate();
  worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
  $("progress-section").hidden = false;
  $("progress").value = 0;
  for (const id of ["verdict", "summary", "findings"]) $(id).hidden = true;
  const kind = $("kind").value;
  worker.onmessage = ({ data }) => {
    if (data.type === "progress") {
      $("progress").value = data.total ? data.bytes / data.total : 0;
      $("progress-text").textContent = `${megabytes(data.bytes)} of ${megabytes(data.total)} MB checked`;
    } else if (data.type === "report") {
      show(data.report);
      if (data.report.verdict === "ready_to_upload") {
        ready = { file, kind, text: data.text };
        $("upload").disabled = false;
      }
    } else if (data.type === "error") {
      showError(data.message);
    }
  };
  worker.postMessage({ file, kind, context });
}

/** Sends the checked file, streamed, and shows the server's counts or its findings. */
async function upload() {
  if (!ready) return;
  const { file, kind, text } = ready;
  $("upload").disabled = true;
  const query = weekQuery();
  query.set("name", file.name);
  if ($("replace").checked) query.set("replace", "true");
  const status = $("server-status");
  $("server").hidden = false;
  $("stored").hidden = true;
  status.className = "";
  status.textContent = `Uploading ${file.name}…`;
  let body;
  let raw;
  let response;
  try {
    response = await fetch(`/uploads/${kind}?${query}`, { method: "POST", headers: { "content-type": "text/csv" }, body: file });
    raw = await response.text();
    body = JSON.parse(raw);
  } catch (error) {
    status.className = "refused";
    status.textContent = `The upload did not reach the upload service: ${error.message}`;
    $("upload").disabled = false;
    return;
  }
  // The server checked the file with the same validator: its report is this page's, byte for byte.
  const agrees = raw.includes(`"report":${text}`);
  if (response.ok) {
    status.className = "done";
    status.textContent = `Stored: ${file.name}.` + (agrees ? " The server's checks agree with this page's." : "");
    const rows = Object.entries(body.counts).map(([name, value]) => {
      const row = document.createElement("tr");
      row.dataset.count = name;
      for (const cell of [name.replaceAll("_", " "), value]) {
        const td = document.createElement("td");
        td.textContent = cell;
        row.append(td);
      }
      return row;
    });
    $("stored").querySelector("tbody").replaceChildren(...rows);
    $("stored").hidden = false;
  } else {
    status.className = "refused";
    status.textContent = `Nothing was stored (${response.status}): ${body.detail}`;
    if (body.report) show(body.report);
    // A conflict (a week uploaded before) can be sent again with "Replace" ticked.
    $("upload").disabled = response.status !== 409;
  }
}

function megabytes(bytes) {
  return (bytes / 1e6).toFixed(1);
}

function show(report) {
  $("progress").value = 1;
  const isReady = report.verdict === "ready_to_upload";
  const verdict = $("verdict");
  verdict.hidden = false;
  verdict.className = isReady ? "ready" : "fix";
  verdict.textContent = isReady ? "Ready to upload" : "Fix these first";
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
