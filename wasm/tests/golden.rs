//! The validator's golden set, compiled to WebAssembly and run through the wrapper under Node
//! and in headless Chromium (`cargo xtask test` runs it in both): every report must be byte
//! for byte the one the native suite checks, at every chunk size.
#![cfg(target_arch = "wasm32")]

use upload_validator_wasm::Validator;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

include!(concat!(env!("OUT_DIR"), "/golden.rs"));

#[wasm_bindgen_test]
fn every_golden_report_is_byte_identical_at_any_chunk_size() {
    assert!(GOLDEN.len() >= 10, "the golden set shrank");
    for (name, payload, context, expected) in GOLDEN {
        let kind = name.split('.').next().unwrap();
        for chunk in [1, 3, 64, usize::MAX] {
            let context = if context.is_empty() { JsValue::UNDEFINED } else { js_sys::JSON::parse(context).unwrap() };
            let mut validator = Validator::new(kind, context).unwrap_or_else(|_| panic!("{name}: validator"));
            for piece in payload.chunks(chunk) {
                validator.push(piece).unwrap_or_else(|_| panic!("{name}: push"));
            }
            let report = validator.finish_json().unwrap_or_else(|_| panic!("{name}: finish")) + "\n";
            assert_eq!(report, *expected, "{name} in chunks of {chunk}");
        }
    }
}

#[wasm_bindgen_test]
fn finish_returns_a_plain_object_and_misuse_is_an_error() {
    let mut validator = Validator::new("store_attributes", JsValue::UNDEFINED).unwrap();
    validator.push(b"").unwrap();
    let report = validator.finish().unwrap();
    let verdict = js_sys::Reflect::get(&report, &"verdict".into()).unwrap();
    assert_eq!(verdict.as_string().as_deref(), Some("fix_first"));
    assert!(validator.push(b"x").is_err(), "a finished validator refuses more input");
    assert!(Validator::new("spreadsheet", JsValue::UNDEFINED).is_err());
    let unknown_field = js_sys::JSON::parse(r#"{"week": "2025-03-01"}"#).unwrap();
    assert!(Validator::new("weekly_actuals", unknown_field).is_err());
}
