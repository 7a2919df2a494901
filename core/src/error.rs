//! What kind of fault an error is, so that every front end maps it the same way.
//!
//! The errors of vouch-core and vouch-verify follow one convention for causes: a variant that
//! wraps another error prints it in its message (`"cannot read {path}: {error}"`) and does not
//! make it its `source()`, or is `#[error(transparent)]`. So `to_string()` is the whole story
//! (as per-layer reasons and JSON reports need), and a chain printed with anyhow's `{:#}`, as
//! the CLI prints errors, names every cause once. The variants keep the cause as a typed field
//! (`error`) for callers that match on it.

/// The cause of an error, grouped as the CLI's exit codes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// A signature, digest or policy check failed: the input is well-formed but not trustworthy.
    Verification,
    /// The input (a file, a flag, a password) is malformed or unusable.
    Input,
    /// A registry or the network failed or misbehaved.
    Registry,
}

/// Errors that know which [`ErrorClass`] they belong to.
pub trait Classify {
    /// The class of this error.
    fn class(&self) -> ErrorClass;
}

/// An I/O error kept comparable and cloneable (std's `io::Error` is neither): its kind and its
/// message, so that the errors holding one can derive `PartialEq` and tests can match them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IoError {
    /// What kind of failure (`NotFound`, `PermissionDenied`…).
    pub kind: std::io::ErrorKind,
    /// The operating system's message.
    pub message: String,
}

impl IoError {
    /// What kind of failure.
    pub fn kind(&self) -> std::io::ErrorKind {
        self.kind
    }
}

impl From<std::io::Error> for IoError {
    fn from(e: std::io::Error) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}
