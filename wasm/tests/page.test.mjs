// The page end to end in headless Chromium: a person chooses a generated weekly-actuals file,
// the Web Worker streams it through the WebAssembly validator, and the page shows the verdict
// and the expected findings. Run by `cargo xtask test` after `cargo xtask wasm`, with
// playwright-core (no browser download: Debian's /usr/bin/chromium) from INTAKE_WASM_TOOLS.
import assert from "node:assert/strict";
import { launchChromium, openPage, root, serve } from "./support.mjs";

const { server, base } = await serve({ "/": root });
const url = `${base}/www/index.html`;

// A week for three stores, with a negative quantity on line 9 and an unknown store on line 17.
const stores = ["S001", "S002", "S003"];
let csv = "date,store_id,quantity_sold\n";
let line = 1;
const expected = [];
for (let day = 1; day <= 7; day++) {
  for (const store of stores) {
    line++;
    let [id, quantity] = [store, String(10 + day)];
    if (line === 9) [quantity] = ["-4"], expected.push([9, "non-negative-integer"]);
    if (line === 17) [id] = ["S999"], expected.push([17, "unknown-id"]);
    csv += `2025-03-0${day},${id},${quantity}\n`;
  }
}

const browser = await launchChromium();
try {
  const { page, problems } = await openPage(browser);
  await page.goto(url);
  await page.selectOption("#kind", "weekly_actuals");
  await page.fill("#context", JSON.stringify({ week_start: "2025-03-01", store_ids: stores }));
  await page.setInputFiles("#file", { name: "week.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.waitForSelector("#verdict:not([hidden])", { timeout: 20_000 });
  assert.equal(await page.textContent("#verdict"), "Fix these first");
  const rows = await page.$$eval("#findings tbody tr", (trs) => trs.map((tr) => [Number(tr.cells[0].textContent), tr.dataset.rule]));
  for (const finding of expected) assert.ok(rows.some((row) => row[0] === finding[0] && row[1] === finding[1]), `${finding} in ${JSON.stringify(rows)}`);
  assert.equal(await page.$eval("#progress", (p) => p.value), 1, "the progress bar reached the end");

  // The same week without the two mistakes is ready to upload.
  const clean = csv.replace(",-4\n", ",4\n").replace("S999", "S001");
  await page.setInputFiles("#file", { name: "week-fixed.csv", mimeType: "text/csv", buffer: Buffer.from(clean) });
  await page.waitForFunction(() => document.querySelector("#verdict").textContent === "Ready to upload", null, { timeout: 20_000 });
  assert.equal(await page.isHidden("#findings"), true);
  assert.deepEqual(problems, []);
  console.log(`page: the worker validated ${line - 1} rows in ${await browser.version()} and showed ${rows.length} findings`);
} finally {
  await browser.close();
  server.close();
}
