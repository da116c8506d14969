// Streams the file through the WebAssembly validator, chunk by chunk (never the whole file in
// memory), posting progress at most every 50 ms and the report at the end, with its JSON
// text exactly as the validator wrote it (the upload service answers the same bytes).
import init, { Validator } from "../pkg/upload_validator_wasm.js";

const ready = init();

self.onmessage = async ({ data: { file, kind, context } }) => {
  try {
    await ready;
    const validator = new Validator(kind, context);
    const reader = file.stream().getReader();
    let bytes = 0;
    let reported = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      validator.push(value);
      bytes += value.length;
      const now = performance.now();
      if (now - reported > 50) {
        reported = now;
        self.postMessage({ type: "progress", bytes, total: file.size });
      }
    }
    self.postMessage({ type: "progress", bytes, total: file.size });
    const text = validator.finishJson();
    self.postMessage({ type: "report", report: JSON.parse(text), text });
  } catch (error) {
    self.postMessage({ type: "error", message: String(error?.message ?? error) });
  }
};
