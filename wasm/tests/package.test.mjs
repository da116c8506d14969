// The built package (wasm/pkg, after wasm-opt) through its public JavaScript API, under Node:
// every golden report must come out byte for byte, and finish() must give a plain object.
// Run by `cargo xtask test` after `cargo xtask wasm`.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import init, { Validator } from "../pkg/upload_validator_wasm.js";

const pkg = new URL("../pkg/", import.meta.url);
await init({ module_or_path: readFileSync(new URL("upload_validator_wasm_bg.wasm", pkg)) });

const golden = new URL("../../crates/upload-validator/tests/golden/", import.meta.url);
const isPayload = (name) => name.endsWith(".csv") || (name.endsWith(".json") && !/\.(report|context)\.json$/.test(name));
const files = readdirSync(golden).filter(isPayload).sort();
assert.ok(files.length >= 10, "the golden set shrank");
for (const name of files) {
  const kind = name.split(".")[0];
  const contextFile = new URL(`${kind}.context.json`, golden);
  const context = existsSync(contextFile) ? JSON.parse(readFileSync(contextFile, "utf8")) : undefined;
  const payload = new Uint8Array(readFileSync(new URL(name, golden)));
  const expected = readFileSync(new URL(name.replace(/\.(csv|json)$/, ".report.json"), golden), "utf8");
  for (const chunk of [7, 4096]) {
    const validator = new Validator(kind, context);
    for (let at = 0; at < payload.length; at += chunk) validator.push(payload.subarray(at, at + chunk));
    assert.equal(validator.finishJson() + "\n", expected, `${name} in chunks of ${chunk}`);
  }
}

const validator = new Validator("store_attributes");
validator.push(new TextEncoder().encode(""));
const report = validator.finish();
assert.equal(report.verdict, "fix_first");
assert.equal(Object.getPrototypeOf(report), Object.prototype, "a plain object");
assert.throws(() => validator.push(new Uint8Array([1])), /has finished/);
assert.throws(() => new Validator("spreadsheet"), /unknown payload kind/);
console.log(`package: ${files.length} golden reports byte-identical under Node ${process.version}`);
