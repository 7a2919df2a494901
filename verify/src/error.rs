use vouch_core::digest::Sha256Digest;
use vouch_core::keys::SignatureError;
use vouch_core::payload::PayloadError;
use vouch_core::{Classify, ErrorClass};

/// Why a verification did not succeed. [`Classify`] tells malformed input (exit 2) from a failed
/// check (exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature, bundle or artifact could not be read or parsed.
    #[error("{what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it is unusable.
        reason: String,
    },
    /// The artifact could not be read.
    #[error("cannot read the artifact: {0}")]
    Artifact(vouch_core::IoError),
    /// A bundle or envelope failed to parse.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The signature check failed.
    #[error("signature check failed: {0}")]
    Signature(SignatureError),
    /// The bundle signs another artifact.
    #[error(
        "digest check failed: the bundle signs {signed}, but the artifact's digest is {actual}"
    )]
    DigestMismatch {
        /// What the bundle says it signs.
        signed: String,
        /// The artifact's digest.
        actual: Sha256Digest,
    },
    /// The bundle's statement does not name the artifact among its subjects.
    #[error("subject check failed: no subject of the statement has the artifact's digest {actual}")]
    SubjectMismatch {
        /// The artifact's digest.
        actual: Sha256Digest,
    },
    /// Reading the image or its signatures failed (registry, layout).
    #[error(transparent)]
    Oci(#[from] vouch_core::oci::OciError),
    /// The bundle uses a digest algorithm other than SHA-256.
    #[error("unsupported message digest algorithm `{0}`: expected SHA2_256")]
    DigestAlgorithm(String),
}

impl Classify for VerifyError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Malformed { .. } | Self::Artifact(_) | Self::Payload(_) => ErrorClass::Input,
            Self::Oci(e) => e.class(),
            Self::Signature(_)
            | Self::DigestMismatch { .. }
            | Self::SubjectMismatch { .. }
            | Self::DigestAlgorithm(_) => ErrorClass::Verification,
        }
    }
}
