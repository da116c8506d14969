// The browser half of `cargo xtask bench validate`, run in headless Chromium by run.mjs.
// On the same generated weekly-actuals file, in one page: the WebAssembly validator (the file
// streamed with Blob.stream(), exactly as the upload page's worker does) and PapaParse with
// the same checks written in JavaScript. Then a file in which every row is an error, a 1 GB
// file (the week repeated) for the validator's memory, and the real upload page's worker on
// that 1 GB file while the main thread's longest stall is measured.
import init, { Validator } from "../pkg/upload_validator_wasm.js";

const KIND = "weekly_actuals";

window.runBench = async ({ runs, repeats }) => {
  const wasm = await init();
  const context = await (await fetch("/data/weekly_actuals.context.json")).json();
  const clean = await (await fetch("/data/weekly_actuals.csv")).blob();
  const errors = await (await fetch("/data/weekly_actuals.errors.csv")).blob();
  const results = { bytes: clean.size, runs };

  results.stream_read_mb_per_s = rate(clean.size, await median(runs, () => timed(() => readAll(clean))));
  const wasmSeconds = await median(runs, () => validate(clean, context));
  results.wasm_mb_per_s = rate(clean.size, wasmSeconds);
  const papaSeconds = await median(runs, () => papaparse(clean, context));
  results.papaparse_mb_per_s = rate(clean.size, papaSeconds);
  results.wasm_errors_ratio = (await median(runs, () => validate(errors, context))) / wasmSeconds;
  results.papaparse_errors_ratio = (await median(runs, () => papaparse(errors, context))) / papaSeconds;

  // 1 GB: the header, then the week `repeats` times (a Blob of Blobs: nothing is copied).
  const newline = new Uint8Array(await clean.slice(0, 64).arrayBuffer()).indexOf(10) + 1;
  const big = new Blob([clean.slice(0, newline), ...Array(repeats).fill(clean.slice(newline))]);
  const validator = new Validator(KIND, context);
  const before = wasm.memory.buffer.byteLength;
  const started = performance.now();
  await pushAll(big, validator);
  const report = validator.finish();
  results.big_bytes = big.size;
  results.big_records = report.records;
  results.wasm_big_mb_per_s = rate(big.size, (performance.now() - started) / 1000);
  results.wasm_memory_with_context_mb = before / 1e6;
  // WebAssembly memory only grows, so its size afterwards is the peak.
  results.wasm_memory_growth_mb = (wasm.memory.buffer.byteLength - before) / 1e6;

  Object.assign(results, await pageWorker(big, context));
  return results;
};

function rate(bytes, seconds) {
  return bytes / seconds / 1e6;
}

// The median of `runs` timings: one lucky or unlucky run on a busy machine moves it least.
async function median(runs, run) {
  const seconds = [];
  for (let i = 0; i < runs; i++) seconds.push(await run());
  seconds.sort((a, b) => a - b);
  return seconds[Math.floor(seconds.length / 2)];
}

async function timed(work) {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function readAll(blob) {
  const reader = blob.stream().getReader();
  while (!(await reader.read()).done);
}

async function pushAll(blob, validator) {
  const reader = blob.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    validator.push(value);
  }
}

// The wasm validator's time for one file (building the validator and its context excluded,
// as the peer's lookup tables are).
async function validate(blob, context) {
  const validator = new Validator(KIND, context);
  const seconds = await timed(() => pushAll(blob, validator));
  const started = performance.now();
  const report = validator.finish();
  if (report.bytes !== blob.size) throw new Error(`validated ${report.bytes} of ${blob.size} bytes`);
  return seconds + (performance.now() - started) / 1000;
}

// PapaParse (streaming the Blob in its default 10 MB chunks) with the weekly-actuals rules:
// header, cell count, ISO date inside the week, known store, whole number ≥ 0, one row per
// store and day; findings located and worded, capped at 1000 with the rest counted.
function papaparse(blob, context) {
  const stores = new Map(context.store_ids.map((id, index) => [id, index]));
  const start = new Date(`${context.week_start}T00:00:00Z`);
  const week = Array.from({ length: 7 }, (_, day) => new Date(start.getTime() + day * 86_400_000).toISOString().slice(0, 10));
  const days = new Map(week.map((date, day) => [date, day]));
  const firstLine = new Float64Array(7 * stores.size);
  const findings = [];
  let errors = 0;
  let line = 0;
  const report = (rule, column, message) => {
    errors++;
    if (findings.length < 1000) findings.push({ rule, line, column, message: message() });
  };
  const started = performance.now();
  return new Promise((resolve, reject) => {
    Papa.parse(blob, {
      skipEmptyLines: true,
      chunk({ data }) {
        for (const row of data) {
          line++;
          if (line === 1) {
            if (row.join(",").trim().toLowerCase() !== "date,store_id,quantity_sold") report("header", 1, () => "Unexpected header.");
            continue;
          }
          if (row.length !== 3) {
            report("column-count", Math.min(row.length, 3), () => `This row has ${row.length} cells but the header has 3.`);
            continue;
          }
          const [date, store, quantity] = [row[0].trim(), row[1].trim(), row[2].trim()];
          let day = days.get(date);
          if (day === undefined) {
            const real = /^\d{4}-\d{2}-\d{2}$/.test(date) && !Number.isNaN(Date.parse(date)) && new Date(date).toISOString().startsWith(date);
            if (real) report("date-outside-range", 1, () => `${date} is outside the week of this upload (${week[0]} to ${week[6]}).`);
            else report("date", 1, () => `"${date}" is not a date in the form YYYY-MM-DD (for example 2025-03-01).`);
          }
          const index = stores.get(store);
          if (store === "") report("empty-cell", 2, () => "The store id is empty.");
          else if (index === undefined) report("unknown-id", 2, () => `"${store}" is not a known store id; check the spelling or add the store first.`);
          if (!/^\d{1,19}$/.test(quantity)) report("non-negative-integer", 3, () => `"${quantity}" is not a whole number of units (0 or more).`);
          if (day !== undefined && index !== undefined) {
            const key = day * stores.size + index;
            if (firstLine[key]) report("duplicate-key", 2, () => `Store ${store} already has a row for ${date} on line ${firstLine[key]}.`);
            else firstLine[key] = line;
          }
        }
      },
      complete() {
        resolve((performance.now() - started) / 1000);
      },
      error: reject,
    });
  });
}

// The upload page's own worker (www/worker.js) on the 1 GB file, while a 10 ms timer on this
// page records its longest gap: how long the page could not respond.
function pageWorker(file, context) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("../www/worker.js", import.meta.url), { type: "module" });
    let last = performance.now();
    let longest = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 10);
    const started = performance.now();
    worker.onmessage = ({ data }) => {
      if (data.type === "error") reject(new Error(data.message));
      if (data.type !== "report") return;
      clearInterval(timer);
      worker.terminate();
      resolve({
        page_mb_per_s: rate(file.size, (performance.now() - started) / 1000),
        page_longest_stall_ms: longest,
        page_records: data.report.records,
      });
    };
    worker.postMessage({ file, kind: KIND, context });
  });
}
