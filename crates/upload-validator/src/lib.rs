//! Pure, streaming validation of upload payloads: the same verdict on the server and, through
//! the `wasm/` wrapper, in the browser before anything is sent.
//!
//! Bytes are pushed in chunks of any size ([`Validator::push`]); memory holds the record in
//! progress and the keys needed for duplicate checks (bounded by the context: known stores,
//! days, categories), never the file. [`Validator::finish`] returns a [`Report`]: a verdict and
//! findings that name the rule, line, record, column and byte offset in words a non-programmer
//! understands, capped (default 1000) with counts of the rest.
//!
//! Importers use it as their parser: [`Validator::on_record`] hands over each valid row typed
//! ([`Record`]), so the browser and the server never disagree about a file.
//!
//! It does no I/O, knows no database and no JavaScript; `wasm/` only converts types.
//!
//! ```
//! use upload_validator::{Context, PayloadKind, Validator};
//!
//! let mut validator = Validator::new(PayloadKind::NinjaTraderExecutions, Context::default())?;
//! validator.push(b"Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,Commission,Rate,Account,Connection,\n");
//! validator.push(b"NQ MAR25,Buy,1,21011.75,2/3/2025 9:31:06 AM,158000000101,Entry,-,,,$1.55,1,ACCT1,My Connection,\n");
//! let report = validator.finish();
//! assert!(report.findings.is_empty(), "{}", report.to_json());
//! assert_eq!(report.detected["variant"], "native");
//! # Ok::<(), upload_validator::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod documents;
pub use csv_stream as engine;
pub mod fields;
mod kinds;
pub mod report;
mod validator;

use std::collections::BTreeMap;

pub use fields::{Decimal, ScaleError};
pub use kinds::{Action, DailyActual, EntryExit, Execution, HistoricalSale, Locale, StoreAttributes};
pub use report::{Finding, Report, Rule, Severity, Verdict};
pub use validator::{Limits, Validator};

/// The payloads intake accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// Daily `date,store_id,quantity_sold` rows for one workflow week.
    WeeklyActuals,
    /// `date,category,store_id,quantity_sold,revenue`.
    HistoricalSales,
    /// One row of attributes per store.
    StoreAttributes,
    /// A NinjaTrader 8 executions export.
    NinjaTraderExecutions,
    /// A connector profile (JSON, seed 002).
    ConnectorProfile,
    /// A client configuration (JSON, seed 002).
    ClientConfig,
    /// A service proposal (JSON, seed 002).
    ServiceProposal,
}

impl PayloadKind {
    /// The snake_case name used in reports and by the browser.
    pub fn name(self) -> &'static str {
        match self {
            PayloadKind::WeeklyActuals => "weekly_actuals",
            PayloadKind::HistoricalSales => "historical_sales",
            PayloadKind::StoreAttributes => "store_attributes",
            PayloadKind::NinjaTraderExecutions => "ninjatrader_executions",
            PayloadKind::ConnectorProfile => "connector_profile",
            PayloadKind::ClientConfig => "client_config",
            PayloadKind::ServiceProposal => "service_proposal",
        }
    }

    /// The kind with this [`name`](PayloadKind::name).
    pub fn from_name(name: &str) -> Option<PayloadKind> {
        PayloadKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Every kind.
    pub const ALL: [PayloadKind; 7] = [
        PayloadKind::WeeklyActuals,
        PayloadKind::HistoricalSales,
        PayloadKind::StoreAttributes,
        PayloadKind::NinjaTraderExecutions,
        PayloadKind::ConnectorProfile,
        PayloadKind::ClientConfig,
        PayloadKind::ServiceProposal,
    ];
}

/// What the server knows that a file is checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Context {
    /// First day of the workflow week (`YYYY-MM-DD`), for weekly actuals.
    pub week_start: Option<String>,
    /// Known store ids.
    pub store_ids: Vec<String>,
    /// Category display name → category id, for historical sales.
    pub categories: BTreeMap<String, String>,
}

impl Context {
    /// The context from JSON text such as `{"week_start": "2025-03-01", "store_ids": ["S001"]}`,
    /// read with the crate's own JSON reader (the browser package carries no JSON deserializer).
    /// Unknown fields are refused, so a typo does not silently drop a check.
    pub fn from_json(text: &str) -> Result<Context, String> {
        use documents::json::{self, Value};
        let root = json::parse(text).map_err(|e| format!("invalid context at byte {}: {}", e.offset, e.problem))?;
        let Value::Object(members) = root.value else { return Err("the context must be a JSON object".into()) };
        let text_of = |node: json::Node, what: &str| match node.value {
            Value::String(text) => Ok(text),
            _ => Err(format!("context: {what} must be text")),
        };
        let mut context = Context::default();
        for (key, _, node) in members {
            match (key.as_str(), node.value) {
                ("week_start", Value::Null) => {}
                ("week_start", Value::String(week)) => context.week_start = Some(week),
                ("store_ids", Value::Array(ids)) => {
                    context.store_ids =
                        ids.into_iter().map(|id| text_of(id, "every store id")).collect::<Result<_, _>>()?;
                }
                ("categories", Value::Object(pairs)) => {
                    for (name, _, id) in pairs {
                        context.categories.insert(name, text_of(id, "every category id")?);
                    }
                }
                ("week_start" | "store_ids" | "categories", _) => {
                    return Err(format!(
                        "context: {key} must be {}",
                        match key.as_str() {
                            "week_start" => "a date as text",
                            "store_ids" => "a list of text",
                            _ => "an object of category name to id",
                        }
                    ));
                }
                (other, _) => {
                    return Err(format!(
                        "invalid context: unknown field `{other}`, expected week_start, store_ids or categories"
                    ));
                }
            }
        }
        Ok(context)
    }
}

/// One valid row, typed, for importers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum Record {
    /// A weekly-actuals daily row.
    DailyActual(DailyActual),
    /// A historical sales row.
    HistoricalSale(HistoricalSale),
    /// A store attributes row.
    Store(StoreAttributes),
    /// A NinjaTrader fill.
    Execution(Execution),
    /// A whole JSON document (connector profile, client configuration, service proposal) that
    /// passed every check: its text (byte-order mark removed), for the server to store.
    Document(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A validator that cannot start: the context lacks what the kind needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A context field the kind needs is missing.
    #[error("{kind} needs `{field}` in the context")]
    MissingContext {
        /// The payload kind.
        kind: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A context field has an invalid value.
    #[error("context field `{field}` has an invalid value \"{value}\"")]
    InvalidContext {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
    },
}
