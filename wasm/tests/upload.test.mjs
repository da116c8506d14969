// The whole path in headless Chromium: the upload service (INTAKE_UPLOAD_SERVICE, on a fresh
// SQLite file) serves the page; a person chooses a generated week of daily actuals, the page
// fetches what the server knows, the worker validates the file, Upload is enabled, the page
// shows the server's counts, and the rows are in the database (checked with SQL). Then a
// file with one bad row: the page shows the finding, Upload stays disabled, the database is
// unchanged. Then the same week again: the server's refusal is shown, and "Replace" sends it.
// Run by `cargo xtask test`, which builds the service and installs Debian's sqlite3.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium, openPage, root } from "./support.mjs";

const binary = process.env.INTAKE_UPLOAD_SERVICE;
assert.ok(binary, "INTAKE_UPLOAD_SERVICE names the upload-service binary");
const dir = mkdtempSync(join(tmpdir(), "intake-upload-page-"));
const database = join(dir, "e2e.db");
const sql = (query) => execFileSync("sqlite3", [database, query], { encoding: "utf8" }).trim();

const service = spawn(binary, ["--listen", "127.0.0.1:0", "--page", root, "--database-url", `sqlite://${database}`], {
  stdio: ["ignore", "pipe", "inherit"],
});
const base = await new Promise((resolve, reject) => {
  let out = "";
  service.stdout.on("data", (data) => {
    out += data;
    const match = out.match(/listening on (http:\/\/\S+)/);
    if (match) resolve(match[1]);
  });
  service.on("exit", (code) => reject(new Error(`upload-service exited with ${code}`)));
  // unref: a timer that has not fired must not keep the test running after it is done.
  setTimeout(() => reject(new Error("upload-service did not say where it listens within 30 s")), 30_000).unref();
});

const stores = ["S001", "S002", "S003"];
const header = "store_id,store_name,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,fashion_tier,store_format,region";
const storeRows = stores.map((id, i) => `${id},Store ${i + 1},4${i}000,2${i}000,9${i}000,A,Premium,MALL,NORTHEAST`);
const stored = await fetch(`${base}/uploads/store_attributes?name=stores.csv`, {
  method: "POST",
  headers: { "content-type": "text/csv" },
  body: [header, ...storeRows, ""].join("\n"),
});
assert.equal(stored.status, 200, await stored.text());
sql(`INSERT INTO categories (category_id, category_name) VALUES ('womens_dresses', 'Women''s Dresses');
     INSERT INTO workflows (workflow_id, category_id, season_start) VALUES ('spring', 'womens_dresses', '2025-03-01');
     INSERT INTO workflow_forecasts (workflow_id, week_number, store_id, forecast_units_sold) VALUES ('spring', 2, 'S001', 100);`);

// Week 2 of the season: 2025-03-08 to 2025-03-14; each store sells 10 + its index a day.
let week = "date,store_id,quantity_sold\n";
for (let day = 8; day <= 14; day++) {
  stores.forEach((id, i) => (week += `2025-03-${String(day).padStart(2, "0")},${id},${10 + i}\n`));
}
const totals = "3|231"; // 3 stores; 7 × (10 + 11 + 12) units

const browser = await launchChromium();
try {
  const { page, problems } = await openPage(browser);
  const contextRequests = [];
  page.on("request", (request) => request.url().includes("/context?") && contextRequests.push(request.url()));
  await page.goto(`${base}/`);
  await page.selectOption("#kind", "weekly_actuals");
  await page.fill("#workflow", "spring");
  await page.fill("#week", "2");
  await page.dispatchEvent("#week", "change");
  await page.waitForFunction(() => document.querySelector("#context").value.includes('"week_start":"2025-03-08"'), null, { timeout: 20_000 });
  assert.equal(await page.inputValue("#context"), '{"store_ids":["S001","S002","S003"],"week_start":"2025-03-08"}');
  assert.equal(await page.isDisabled("#upload"), true, "nothing to upload yet");

  // A week with one bad row: the finding is shown, Upload stays disabled, nothing is stored.
  const bad = week.replace("2025-03-10,S002,11", "2025-03-10,S002,eleven");
  await page.setInputFiles("#file", { name: "week-2-bad.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
  await page.waitForSelector("#verdict:not([hidden])", { timeout: 20_000 });
  assert.equal(await page.textContent("#verdict"), "Fix these first");
  const rows = await page.$$eval("#findings tbody tr", (trs) => trs.map((tr) => [Number(tr.cells[0].textContent), tr.dataset.rule]));
  assert.deepEqual(rows, [[9, "non-negative-integer"]]);
  assert.equal(await page.isDisabled("#upload"), true);
  assert.equal(sql("SELECT count(*) FROM weekly_actuals"), "0");

  // The good week: ready, uploaded, counted by the server, in the database.
  await page.setInputFiles("#file", { name: "week-2.csv", mimeType: "text/csv", buffer: Buffer.from(week) });
  await page.waitForFunction(() => document.querySelector("#verdict").textContent === "Ready to upload", null, { timeout: 20_000 });
  assert.equal(await page.isDisabled("#upload"), false);
  // The week field losing focus (as it does when Upload is clicked) fires "change" with
  // nothing changed: the page neither asks the server again nor withdraws the checked file.
  await page.locator("#week").blur();
  await page.evaluate(() => fetch("/health"));
  assert.equal(contextRequests.length, 1, contextRequests.join("\n"));
  assert.equal(await page.isDisabled("#upload"), false);
  await page.click("#upload");
  await page.waitForFunction(() => document.querySelector("#server-status").className !== "", null, { timeout: 20_000 });
  const status = await page.textContent("#server-status");
  assert.equal(status, "Stored: week-2.csv. The server's checks agree with this page's.");
  const counts = Object.fromEntries(
    await page.$$eval("#stored tbody tr", (trs) => trs.map((tr) => [tr.dataset.count, Number(tr.cells[1].textContent)])),
  );
  assert.equal(counts.rows_read, 21);
  assert.equal(counts.weekly_rows, 3);
  assert.equal(counts.high, 1, JSON.stringify(counts)); // S001: 70 units against 100
  assert.equal(sql("SELECT count(*) || '|' || sum(actual_units_sold) FROM weekly_actuals WHERE workflow_id = 'spring' AND week_number = 2"), totals);
  assert.equal(sql("SELECT round(variance_pct, 2) FROM weekly_actuals WHERE store_id = 'S001'"), "-0.3");

  // The same week again: refused by the server, shown, nothing changed; "Replace" sends it.
  await page.setInputFiles("#file", { name: "week-2-again.csv", mimeType: "text/csv", buffer: Buffer.from(week.replaceAll(",10\n", ",20\n")) });
  await page.waitForFunction(() => !document.querySelector("#upload").disabled, null, { timeout: 20_000 });
  await page.click("#upload");
  await page.waitForFunction(() => document.querySelector("#server-status").className === "refused", null, { timeout: 20_000 });
  assert.match(await page.textContent("#server-status"), /^Nothing was stored \(409\): .*was uploaded before/);
  assert.equal(sql("SELECT count(*) || '|' || sum(actual_units_sold) FROM weekly_actuals"), totals);
  await page.check("#replace");
  await page.click("#upload");
  await page.waitForFunction(() => document.querySelector("#server-status").className === "done", null, { timeout: 20_000 });
  assert.equal(sql("SELECT sum(actual_units_sold) FROM weekly_actuals WHERE store_id = 'S001'"), "140");
  assert.deepEqual(problems, []);
  console.log(`upload page: validated, uploaded and stored a week in ${await browser.version()}; a bad row and a second upload were refused`);
} finally {
  await browser.close();
  service.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
