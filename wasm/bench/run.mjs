// Runs the browser bench page (bench/index.html) in headless Chromium and prints its figures
// as one JSON line. Started by `cargo xtask bench validate`, which sets BENCH_DATA (the
// generated files), BENCH_RUNS, BENCH_REPEATS (weeks in the 1 GB file) and INTAKE_WASM_TOOLS.
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { launchChromium, root, serve } from "../tests/support.mjs";

const data = process.env.BENCH_DATA;
assert.ok(data, "BENCH_DATA names the folder of generated payload files");
const { server, base } = await serve({
  "/": root,
  "/data/": data,
  "/tools/": join(resolve(process.env.INTAKE_WASM_TOOLS), "node_modules"),
});
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on("console", (message) => console.error(`[page] ${message.text()}`));
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${base}/bench/index.html`);
  await page.waitForFunction(() => typeof window.runBench === "function" && typeof window.Papa === "object");
  const options = { runs: Number(process.env.BENCH_RUNS ?? 3), repeats: Number(process.env.BENCH_REPEATS ?? 10) };
  const results = await page.evaluate((options) => window.runBench(options), options);
  assert.deepEqual(problems, []);
  results.browser = browser.version();
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
  server.close();
}
