//! Errors to exit codes and messages, the same for every command.

use std::io::{self, Write};
use std::process::ExitCode;

use vouch_core::keys::files::KeyFileError;
use vouch_core::keys::{KeyError, SignError, SignatureError};
use vouch_core::oci::OciError;
use vouch_core::oci::reference::ReferenceError;
use vouch_core::oci::registry::RegistryError;
use vouch_core::payload::PayloadError;
use vouch_core::{Classify, ErrorClass};
use vouch_verify::VerifyError;

/// Verification or policy failure.
pub(crate) const VERIFICATION: u8 = 1;
/// Usage or input error.
pub(crate) const USAGE: u8 = 2;
/// Registry or network error.
pub(crate) const REGISTRY: u8 = 3;

/// A usage error found by the CLI itself (flags that parse but do not fit together, etc.).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// A verification that did not pass; the details were already printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct VerificationFailed(pub(crate) String);

fn class_of(err: &anyhow::Error) -> Option<ErrorClass> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<VerifyError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<KeyFileError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<KeyError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<PayloadError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<SignatureError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_core::kms::KmsError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<SignError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<OciError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<RegistryError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<ReferenceError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::sigstore_bundle::BundleError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_core::sigstore::oauth::OAuthError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::keyless::KeylessError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::promote::CopyError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::promote::PromoteError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::promote::StepError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::promote::record::RecordError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::policy::PolicyError>() {
            Some(e.class())
        } else if let Some(e) = cause.downcast_ref::<vouch_verify::admission::server::ServeError>()
        {
            Some(e.class())
        } else if cause.downcast_ref::<VerificationFailed>().is_some() {
            Some(ErrorClass::Verification)
        } else if cause.downcast_ref::<UsageError>().is_some() {
            Some(ErrorClass::Input)
        } else {
            None
        }
    })
}

/// Prints `vouch: <error chain>` to stderr and returns the exit code for it. A closed stdout
/// (`vouch … | head`) exits quietly.
pub(crate) fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(io) = err.downcast_ref::<io::Error>()
        && io.kind() == io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    let code = match class_of(err) {
        Some(ErrorClass::Verification) => VERIFICATION,
        Some(ErrorClass::Registry) => REGISTRY,
        // Unclassified errors are local I/O on the user's files: input errors.
        Some(ErrorClass::Input) | Some(_) | None => USAGE,
    };
    let prefix = if code == VERIFICATION {
        "verification failed: "
    } else {
        ""
    };
    let _ = writeln!(io::stderr(), "vouch: {prefix}{err:#}");
    ExitCode::from(code)
}
