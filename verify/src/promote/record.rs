//! The promotion record: an in-toto statement about the promoted digest (source, destination,
//! policy and its digest, verdict, time), signed and attached to the destination as a cosign 3
//! bundle referrer (see docs/promotion.md).

use std::time::SystemTime;

use bytes::Bytes;
use vouch_core::cosign::AttachOutcome;
use vouch_core::keys::SignError;
use vouch_core::oci::reference::ImageRef;
use vouch_core::oci::registry::Access;
use vouch_core::oci::{OciError, ResolvedImage, resolve};
use vouch_core::payload::intoto::Subject;
use vouch_core::sign::{AsyncSigner, attach_bundle, sign_statement_async};
use vouch_core::{Classify, ErrorClass};

use super::Context;
use crate::policy::{Admission, Policy};

/// The predicate type of vouch's promotion record.
pub const PROMOTION_PREDICATE: &str = "https://vouch.dev/attestation/promotion/v1";

/// Why a promotion record was not attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The promoted image could not be read back from the destination, or the record written.
    #[error("promotion record on {destination}: {error}")]
    Destination {
        /// The destination.
        destination: String,
        /// Why.
        error: OciError,
    },
    /// The signer failed.
    #[error("promotion record on {destination}: signing: {error}")]
    Sign {
        /// The destination.
        destination: String,
        /// Why.
        error: SignError,
    },
}

impl Classify for RecordError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Destination { error, .. } => error.class(),
            Self::Sign { error, .. } => error.class(),
        }
    }
}

/// The record's predicate (JSON bytes).
pub fn predicate(
    source: &ResolvedImage,
    destination: &ImageRef,
    destination_name: &str,
    policy: &Policy,
    admission: &Admission,
    at: SystemTime,
) -> Vec<u8> {
    let verdict = admission.verdict();
    let digest = admission.digest();
    serde_json::json!({
        "source": {"reference": source.reference.to_string(), "name": source.identity, "digest": source.digest.to_string()},
        "destination": {"reference": destination.to_string(), "name": destination_name, "digest": digest.to_string()},
        "policy": {"path": policy.source(), "digest": policy.digest().to_string()},
        "verdict": {
            "allowed": verdict.allowed,
            "checks": verdict.checks.len(),
            "warnings": verdict.warnings().map(|c| c.code).collect::<Vec<_>>(),
        },
        "promotedAt": vouch_core::time::format_rfc3339(at),
        "promoter": {"name": "vouch", "version": env!("CARGO_PKG_VERSION")},
    })
    .to_string()
    .into_bytes()
}

/// Signs the record of the promotion of `source` (admitted as `admission`) to `destination` and
/// attaches it there; returns `IDENTITY@DIGEST` of the destination image and what happened.
pub async fn attach(
    signer: &dyn AsyncSigner,
    source: &ResolvedImage,
    destination: &ImageRef,
    admission: &Admission,
    cx: &Context<'_>,
) -> Result<(String, AttachOutcome), RecordError> {
    let digest = admission.digest();
    let dest_err = |source| RecordError::Destination {
        destination: destination.to_string(),
        error: source,
    };
    // The destination image, read back by digest (and so checked against it).
    let pinned: ImageRef = match destination {
        ImageRef::Registry(r) => {
            let mut r = r.clone();
            r.tag = None;
            r.digest = Some(*digest);
            ImageRef::Registry(r)
        }
        ImageRef::Layout(l) => {
            let mut l = l.clone();
            l.tag = None;
            l.digest = Some(*digest);
            ImageRef::Layout(l)
        }
    };
    let resolved = resolve(&pinned, &cx.client, Access::Push, &cx.limits)
        .await
        .map_err(dest_err)?;
    let predicate = predicate(
        source,
        destination,
        &resolved.identity,
        cx.policy,
        admission,
        SystemTime::now(),
    );
    let subject = Subject::sha256(Some(resolved.identity.clone()), digest);
    let signed = sign_statement_async(signer, &[subject], PROMOTION_PREDICATE, &predicate)
        .await
        .map_err(|source| RecordError::Sign {
            destination: destination.to_string(),
            error: source,
        })?;
    let outcome = attach_bundle(
        &resolved,
        Bytes::from(signed.bundle()),
        PROMOTION_PREDICATE,
        cx.settle,
        &cx.limits,
    )
    .await
    .map_err(dest_err)?;
    Ok((format!("{}@{}", resolved.identity, digest), outcome))
}
