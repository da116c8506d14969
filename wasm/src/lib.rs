//! The upload validator for the browser: a thin wasm-bindgen wrapper around
//! `upload_validator::Validator` that only converts types. The checks, the findings and the
//! report are the crate's own, byte for byte (the golden set runs under Node and in Chromium).
//!
//! ```js
//! import init, { Validator } from "./pkg/upload_validator_wasm.js";
//! await init();
//! const validator = new Validator("weekly_actuals", { week_start: "2025-03-01", store_ids: ["S001"] });
//! validator.push(new Uint8Array(await blob.arrayBuffer()));   // any number of chunks
//! const report = validator.finish();                           // a plain object: see `Report`
//! ```

use upload_validator::{Context, PayloadKind};
use wasm_bindgen::prelude::*;

/// The TypeScript declarations of the package's plain objects, checked against the Rust types
/// and the real reports by `tests/typescript.rs`.
pub const TYPESCRIPT: &str = r#"
/** A payload kind's name. */
export type PayloadKind =
  | "weekly_actuals"
  | "historical_sales"
  | "store_attributes"
  | "ninjatrader_executions"
  | "connector_profile"
  | "client_config"
  | "service_proposal"
  | "ib_flex";

/** What a weekly-actuals file is checked against. */
export interface WeeklyActualsContext {
  /** First day of the workflow week (YYYY-MM-DD). */
  week_start: string;
  /** Known store ids. */
  store_ids: string[];
}

/** What a historical-sales file is checked against. */
export interface HistoricalSalesContext {
  /** Known store ids. */
  store_ids: string[];
  /** Category display name → category id. */
  categories: Record<string, string>;
}

/** A kind's context (the other kinds take none). */
export type Context = WeeklyActualsContext | HistoricalSalesContext;

/** One problem, located precisely. */
export interface Finding {
  rule: string;
  severity: "error" | "warning";
  /** 1-based line, the header being line 1. */
  line: number;
  /** 1-based data record (0: the header or the whole file). */
  record: number;
  /** 1-based column index, when the finding is about one cell. */
  column: number | null;
  column_name: string | null;
  /** Byte offset from the start of the file. */
  byte_offset: number;
  /** What is wrong and what to do, in plain words. */
  message: string;
}

/** The verdict on one file. */
export interface Report {
  kind: PayloadKind;
  verdict: "ready_to_upload" | "fix_first";
  bytes: number;
  records: number;
  errors: number;
  warnings: number;
  detected: Record<string, string>;
  findings: Finding[];
  /** Per rule, findings left out past the cap. */
  omitted: Record<string, number>;
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = TYPESCRIPT;

/// Validates one payload pushed in chunks of any size.
#[wasm_bindgen]
pub struct Validator {
    inner: Option<upload_validator::Validator>,
}

#[wasm_bindgen]
impl Validator {
    /// A validator for `kind`, checking against `context` (optional for kinds that need none).
    #[wasm_bindgen(constructor)]
    pub fn new(
        kind: &str,
        #[wasm_bindgen(unchecked_param_type = "Context | undefined")] context: JsValue,
    ) -> Result<Validator, JsError> {
        let kind = PayloadKind::from_name(kind).ok_or_else(|| {
            let known: Vec<&str> = PayloadKind::ALL.iter().map(|k| k.name()).collect();
            JsError::new(&format!("unknown payload kind \"{kind}\"; expected one of {}", known.join(", ")))
        })?;
        let context = context_from_js(kind, &context).map_err(|message| JsError::new(&message))?;
        let inner =
            upload_validator::Validator::new(kind, context).map_err(|error| JsError::new(&error.to_string()))?;
        Ok(Validator { inner: Some(inner) })
    }

    /// Feeds the next chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        self.inner.as_mut().ok_or_else(finished)?.push(chunk);
        Ok(())
    }

    /// Ends the input and returns the report as a plain object.
    #[wasm_bindgen(unchecked_return_type = "Report")]
    pub fn finish(&mut self) -> Result<JsValue, JsError> {
        let json = self.finish_json()?;
        js_sys::JSON::parse(&json).map_err(|_| JsError::new("the report is not JSON"))
    }

    /// Ends the input and returns the report as JSON text: the exact bytes the server and the
    /// golden files have.
    #[wasm_bindgen(js_name = finishJson)]
    pub fn finish_json(&mut self) -> Result<String, JsError> {
        Ok(self.inner.take().ok_or_else(finished)?.finish().to_json())
    }
}

/// `kind`'s context from a plain object (through `JSON.stringify` and the validator's own
/// reader).
fn context_from_js(kind: PayloadKind, value: &JsValue) -> Result<Context, String> {
    if value.is_undefined() || value.is_null() {
        return Ok(Context::none());
    }
    let text = js_sys::JSON::stringify(value).ok().and_then(|text| text.as_string());
    Context::from_json(kind, &text.ok_or("the context must be a plain object")?).map_err(|error| error.to_string())
}

fn finished() -> JsError {
    JsError::new("this validator has finished; create a new one for the next file")
}

/// Talc instead of the default dlmalloc: as fast in V8 on the bench's files and 2.4 KB
/// smaller gzipped, room the 60 KB package budget needs.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
