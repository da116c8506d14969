// What the page test and the browser bench share: a static file server on 127.0.0.1 and
// Debian's Chromium launched through playwright-core (from INTAKE_WASM_TOOLS; it never
// downloads a browser).
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** wasm/: www/, pkg/ and bench/ are served from here. */
export const root = fileURLToPath(new URL("..", import.meta.url));

const types = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".csv": "text/csv",
};

/**
 * Serves `mounts` (URL prefix → folder, longest prefix first) on a free port; returns the
 * server and its base URL. Files are streamed, so large bench files cost no memory.
 */
export async function serve(mounts) {
  const entries = Object.entries(mounts).sort(([a], [b]) => b.length - a.length);
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
    const [prefix, folder] = entries.find(([prefix]) => path.startsWith(prefix)) ?? [];
    const base = folder && resolve(folder);
    const file = base && normalize(join(base, path.slice(prefix.length)));
    try {
      if (!file || !(file === base || file.startsWith(base + sep))) throw new Error("outside");
      const { size } = await stat(file);
      response.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "content-length": size });
      createReadStream(file).pipe(response);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/** Debian's headless Chromium, with the flags this machine needs. */
export async function launchChromium() {
  const tools = process.env.INTAKE_WASM_TOOLS;
  assert.ok(tools, "INTAKE_WASM_TOOLS names the folder holding node_modules/playwright-core");
  const { chromium } = createRequire(join(resolve(tools), "package.json"))("playwright-core");
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * A new page of `browser` that logs its console (and its workers') and collects uncaught
 * errors in `problems`, which a test expects to stay empty.
 */
export async function openPage(browser) {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => console.log(`[page] ${message.text()}`));
  page.on("worker", (worker) => worker.on("console", (message) => console.log(`[worker] ${message.text()}`)));
  return { page, problems };
}
