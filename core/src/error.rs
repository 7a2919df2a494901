//! What kind of fault an error is, so that every front end maps it the same way.

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
