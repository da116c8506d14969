//! Pure, streaming validation of upload payloads: the same verdict on the server and, through
//! the `wasm/` wrapper, in the browser before anything is sent.
//!
//! Bytes are pushed in chunks of any size ([`Validator::push`]); memory holds the record in
//! progress and the keys needed for duplicate checks (bounded by the context: known stores,
//! days, categories), never the file. [`Validator::finish`] returns a [`Report`]: a verdict and
//! findings that name the rule, line, record, column and byte offset in words a non-programmer
//! understands, capped (default 1000) with counts of the rest.
//!
//! Importers use it as their parser: [`Validator::push_each`] hands each valid row, typed
//! ([`Record`]), to a callback given with the chunk, so the browser and the server never
//! disagree about a file. The kinds are declared in one table (`registry!` below), each with
//! its own context type ([`KindContext`]) and engine (CSV, JSON documents, streaming XML).
//!
//! Cargo features: `ib-flex` adds IB Flex reports (the streaming XML engine of `xml-stream`),
//! left out of the default browser package for its size; `resume` adds
//! [`Validator::resume_point`] and [`Validator::resume`], which the server's re-imports use to
//! read a grown file on from where an earlier read ended.
//!
//! It does no I/O, knows no database and no JavaScript; `wasm/` only converts types.
//!
//! ```
//! use upload_validator::{Context, PayloadKind, Validator};
//!
//! let mut validator = Validator::new(PayloadKind::NinjaTraderExecutions, Context::none())?;
//! validator.push(b"Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,Commission,Rate,Account,Connection,\n");
//! validator.push(b"NQ MAR25,Buy,1,21011.75,2/3/2025 9:31:06 AM,158000000101,Entry,-,,,$1.55,1,ACCT1,My Connection,\n");
//! let report = validator.finish();
//! assert!(report.findings.is_empty(), "{}", report.to_json());
//! assert_eq!(report.detected["variant"], "native");
//! # Ok::<(), upload_validator::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod context;
mod documents;
pub use csv_stream as engine;
pub mod fields;
mod kinds;
pub mod report;
mod validator;
#[cfg(feature = "ib-flex")]
mod xml;

pub use context::{Context, ContextError, KindContext, NoContext};
pub use fields::{Decimal, ScaleError};
pub use kinds::{
    Action, DailyActual, EntryExit, Execution, HistoricalSale, HistoricalSalesContext, Locale, StoreAttributes,
    WeeklyActualsContext,
};
#[cfg(feature = "ib-flex")]
pub use kinds::{FlexRow, FlexSection};
pub use report::{Finding, Report, Rule, Severity, Verdict};
#[cfg(feature = "resume")]
pub use validator::ResumePoint;
pub use validator::{Limits, Validator};

/// Declares the payload kinds: each entry gives the kind's variant, its name (reports, the
/// browser), its context type and the function that opens its engine. Adding a kind is its
/// module plus one entry here; every lookup (`ALL`, names, contexts, engines) is generated.
macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $context:ty, $open:path; )*) => {
        /// The payloads intake accepts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum PayloadKind {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl PayloadKind {
            /// Every kind.
            pub const ALL: &'static [PayloadKind] = &[$(PayloadKind::$variant),*];

            /// The snake_case name used in reports and by the browser.
            pub fn name(self) -> &'static str {
                match self { $(PayloadKind::$variant => $name,)* }
            }

            /// The name of the kind's context type (`WeeklyActualsContext`, `NoContext`).
            pub fn context_type(self) -> &'static str {
                match self { $(PayloadKind::$variant => stringify!($context),)* }
            }

            fn context_from_json(self, text: &str) -> Result<Context, ContextError> {
                match self { $(PayloadKind::$variant => <$context as KindContext>::from_json(text).map(Context::of),)* }
            }

            fn open(self, context: Context, limits: Limits) -> Result<Box<dyn validator::Engine>, Error> {
                match self {
                    $(PayloadKind::$variant => {
                        let context = context.take::<$context>().ok_or(Error::WrongContext {
                            kind: $name,
                            expected: stringify!($context),
                        })?;
                        $open(self, context, limits)
                    })*
                }
            }
        }
    };
}

registry! {
    /// Daily `date,store_id,quantity_sold` rows for one workflow week.
    WeeklyActuals = "weekly_actuals", WeeklyActualsContext, kinds::weekly_actuals::open;
    /// `date,category,store_id,quantity_sold,revenue`.
    HistoricalSales = "historical_sales", HistoricalSalesContext, kinds::historical_sales::open;
    /// One row of attributes per store.
    StoreAttributes = "store_attributes", NoContext, kinds::without_context::<kinds::store_attributes::StoreAttributesChecker>;
    /// A NinjaTrader 8 executions export.
    NinjaTraderExecutions = "ninjatrader_executions", NoContext, kinds::without_context::<kinds::ninjatrader::Executions>;
    /// A connector profile (JSON, seed 002).
    ConnectorProfile = "connector_profile", NoContext, documents::connector_profile;
    /// A client configuration (JSON, seed 002).
    ClientConfig = "client_config", NoContext, documents::client_config;
    /// A service proposal (JSON, seed 002).
    ServiceProposal = "service_proposal", NoContext, documents::service_proposal;
    /// An Interactive Brokers Flex Query report (XML; needs the `ib-flex` feature).
    IbFlex = "ib_flex", NoContext, kinds::ib_flex::open;
}

impl PayloadKind {
    /// The kind with this [`name`](PayloadKind::name).
    pub fn from_name(name: &str) -> Option<PayloadKind> {
        PayloadKind::ALL.iter().copied().find(|kind| kind.name() == name)
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
    /// A detail row of an IB Flex report.
    #[cfg(feature = "ib-flex")]
    Flex(FlexRow),
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
    /// The context given is not the kind's (or none was given to a kind that needs one).
    #[error("{kind} needs its context ({expected}); none, or another kind's, was given")]
    WrongContext {
        /// The payload kind.
        kind: &'static str,
        /// Its context type.
        expected: &'static str,
    },
    /// The kind's engine is not compiled into this build.
    #[error(
        "{kind} files cannot be checked by this build of the validator: it was built without the `{feature}` feature"
    )]
    NotInThisBuild {
        /// The payload kind.
        kind: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// A context field the kind needs is missing.
    #[error("{kind} needs `{field}` in the context")]
    MissingContext {
        /// The payload kind.
        kind: &'static str,
        /// The missing field.
        field: &'static str,
    },
}
