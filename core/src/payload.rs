//! The payloads vouch signs and reads: cosign simple signing, in-toto Statements, DSSE envelopes.
//! Parsers take untrusted bytes and check sizes first; writers produce the bytes peers produce.

pub mod dsse;
pub mod intoto;
pub mod simple_signing;
pub mod strict;

use crate::error::{Classify, ErrorClass};
use crate::limits::TooLarge;

/// A payload that is too large or not of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Over a size or count limit.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// Not JSON, or JSON of another shape.
    #[error("{what} is not valid: {reason}")]
    Json {
        /// What was being parsed.
        what: &'static str,
        /// serde's message (it names the line, column and field).
        reason: String,
    },
    /// JSON that not every reader reads the same way (or at all): refused so that what was
    /// signed is what every check sees.
    #[error(
        "{what} holds JSON that vouch refuses because readers disagree on it: {error}; sign a document without it"
    )]
    Ambiguous {
        /// What was being parsed.
        what: &'static str,
        /// The rule it breaks.
        error: strict::StrictJsonError,
    },
    /// A field has a value that is not allowed.
    #[error("{what}: field `{field}`: {reason}")]
    Field {
        /// What was being parsed.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Classify for PayloadError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Input
    }
}

/// [`strict::check`] as a [`PayloadError`].
pub(crate) fn check_strict(what: &'static str, bytes: &[u8]) -> Result<(), PayloadError> {
    strict::check(bytes).map_err(|error| match error {
        strict::StrictJsonError::Syntax { .. } => PayloadError::Json {
            what,
            reason: error.to_string(),
        },
        error => PayloadError::Ambiguous { what, error },
    })
}

pub(crate) fn json_err(what: &'static str) -> impl Fn(serde_json::Error) -> PayloadError {
    move |e| PayloadError::Json {
        what,
        reason: e.to_string(),
    }
}
