//! Pure, streaming validation of upload payloads.
#![forbid(unsafe_code)]

pub mod engine;
pub mod report;
