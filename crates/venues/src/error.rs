//! The parse error shared by all venue parsers.

use polyedge_core::{BookError, DecimalError, IdError};

/// Why a raw frame could not be turned into events. Display text names the field and the
/// problem so that a log line is enough to find the bad input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON (truncated, bad syntax), or JSON of the wrong shape/type.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// Valid JSON with an event/message type this parser does not know.
    #[error("unknown event type {0:?}")]
    UnknownEvent(String),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has a value that is not acceptable (bad number, price outside [0, 1], off-grid …).
    #[error("field `{field}`: {reason}")]
    BadField {
        /// Field name (dotted path where nested, e.g. `price_changes[2].price`).
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The venue sent an error envelope instead of data.
    #[error("venue error: {0}")]
    VenueError(String),
}

impl ParseError {
    /// A [`ParseError::BadField`] from any displayable reason.
    pub fn bad(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ParseError::BadField {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError::Json(e.to_string())
    }
}

/// Helper: attach a field name to a decimal error.
pub(crate) fn field_err(field: impl Into<String>) -> impl FnOnce(DecimalError) -> ParseError {
    let f = field.into();
    move |e| ParseError::BadField {
        field: f,
        reason: e.to_string(),
    }
}

/// Helper: attach a field name to an id error.
pub(crate) fn id_err(field: impl Into<String>) -> impl FnOnce(IdError) -> ParseError {
    let f = field.into();
    move |e| ParseError::BadField {
        field: f,
        reason: e.to_string(),
    }
}

/// Helper: attach a field name to a book (grid/range) error.
#[allow(dead_code)]
pub(crate) fn book_err(field: impl Into<String>) -> impl FnOnce(BookError) -> ParseError {
    let f = field.into();
    move |e| ParseError::BadField {
        field: f,
        reason: e.to_string(),
    }
}
