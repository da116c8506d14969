//! Each payload kind's context: what the server knows that a file is checked against (the
//! week, the known stores, the categories). A kind declares its own context type in its
//! module; [`Context`] carries one of them to [`Validator::new`](crate::Validator::new), which
//! hands it to the kind typed.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use crate::PayloadKind;
use crate::documents::json::{self, Node, Value};

/// A kind's context type.
pub trait KindContext: Any + Sized {
    /// The context from JSON text, read with the crate's own JSON reader (the browser package
    /// carries no JSON deserializer). Unknown fields are refused, so a typo does not silently
    /// drop a check.
    fn from_json(text: &str) -> Result<Self, ContextError>;
}

/// The context of a kind that needs none: `{}`, or no context at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoContext;

impl KindContext for NoContext {
    fn from_json(text: &str) -> Result<Self, ContextError> {
        Fields::parse(text, &[]).map(|_| NoContext)
    }
}

/// One kind's context, for [`Validator::new`](crate::Validator::new).
///
/// ```
/// use upload_validator::{Context, WeeklyActualsContext};
///
/// let context = Context::of(WeeklyActualsContext {
///     week_start: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
///     store_ids: vec!["S001".into()],
/// });
/// let validator = upload_validator::Validator::new(upload_validator::PayloadKind::WeeklyActuals, context);
/// assert!(validator.is_ok());
/// # Ok::<(), upload_validator::ContextError>(())
/// ```
#[derive(Default)]
pub struct Context {
    value: Option<Box<dyn Any>>,
}

/// Says only whether there is a context: `dyn Any` has no `Debug`, and keeping each context's
/// `Debug` (or its type's name) would grow the browser package.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.value.is_none() { "Context(none)" } else { "Context(given)" })
    }
}

impl Context {
    /// No context: for the kinds that need none.
    pub fn none() -> Self {
        Context::default()
    }

    /// A kind's typed context.
    pub fn of<C: KindContext>(context: C) -> Self {
        Context { value: Some(Box::new(context)) }
    }

    /// `kind`'s context from JSON text (see [`KindContext::from_json`]).
    pub fn from_json(kind: PayloadKind, text: &str) -> Result<Self, ContextError> {
        kind.context_from_json(text)
    }

    /// The context as `C`: `None` when it is absent (and `C` is not [`NoContext`]) or of
    /// another kind.
    pub(crate) fn take<C: KindContext>(self) -> Option<C> {
        let value = self.value.unwrap_or_else(|| Box::new(NoContext));
        value.downcast::<C>().ok().map(|context| *context)
    }
}

/// Why a context could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The text is not JSON.
    #[error("invalid context at byte {offset}: {problem}")]
    Json {
        /// Where.
        offset: usize,
        /// What.
        problem: &'static str,
    },
    /// The JSON is not an object.
    #[error("the context must be a JSON object")]
    NotAnObject,
    /// A field the kind does not know.
    #[error("invalid context: unknown field `{field}`, expected {expected}")]
    UnknownField {
        /// The field.
        field: String,
        /// The fields the kind knows.
        expected: String,
    },
    /// A field of the wrong type.
    #[error("context: {field} must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A field the kind needs is missing.
    #[error("context: {field} is missing")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A field's value is not valid.
    #[error("context field `{field}` has an invalid value \"{value}\"")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
    },
}

/// The members of a context object, taken field by field by the kinds' readers. (A list, not
/// a map, and no sorting: in the browser package every generic collection costs kilobytes.)
pub(crate) struct Fields {
    members: Vec<(String, Node)>,
}

impl Fields {
    /// Parses `text` as an object whose fields are all among `known`.
    pub(crate) fn parse(text: &str, known: &[&'static str]) -> Result<Self, ContextError> {
        let root = json::parse(text).map_err(|e| ContextError::Json { offset: e.offset, problem: e.problem })?;
        let Value::Object(list) = root.value else { return Err(ContextError::NotAnObject) };
        let mut members = Vec::with_capacity(list.len());
        for (key, _, node) in list {
            if !known.contains(&key.as_str()) {
                let expected = if known.is_empty() { "no fields".to_owned() } else { known.join(", ") };
                return Err(ContextError::UnknownField { field: key, expected });
            }
            members.push((key, node));
        }
        Ok(Fields { members })
    }

    /// The value of `field` (the last one, if repeated), unless missing or null.
    fn take(&mut self, field: &'static str) -> Option<Value> {
        let at = self.members.iter().rposition(|(key, _)| key == field)?;
        Some(self.members.swap_remove(at).1.value).filter(|value| !matches!(value, Value::Null))
    }

    /// A text field.
    pub(crate) fn text(&mut self, field: &'static str) -> Result<String, ContextError> {
        match self.take(field) {
            Some(Value::String(text)) => Ok(text),
            Some(_) => Err(ContextError::WrongType { field, expected: "text" }),
            None => Err(ContextError::Missing { field }),
        }
    }

    /// A list of text; empty when missing.
    pub(crate) fn text_list(&mut self, field: &'static str) -> Result<Vec<String>, ContextError> {
        let wrong = || ContextError::WrongType { field, expected: "a list of text" };
        let Some(value) = self.take(field) else { return Ok(Vec::new()) };
        let Value::Array(items) = value else { return Err(wrong()) };
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            let Value::String(text) = item.value else { return Err(wrong()) };
            list.push(text);
        }
        Ok(list)
    }

    /// An object of text to text; empty when missing.
    pub(crate) fn text_map(&mut self, field: &'static str) -> Result<BTreeMap<String, String>, ContextError> {
        let wrong = || ContextError::WrongType { field, expected: "an object of text to text" };
        let Some(value) = self.take(field) else { return Ok(BTreeMap::new()) };
        let Value::Object(pairs) = value else { return Err(wrong()) };
        let mut map = BTreeMap::new();
        for (name, _, value) in pairs {
            let Value::String(text) = value.value else { return Err(wrong()) };
            map.insert(name, text);
        }
        Ok(map)
    }
}
