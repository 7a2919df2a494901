//! What vouch finds attached to an image — cosign's `.sig`/`.att` tags: reading the tag and
//! checking its layers, and the verdicts per image. Shared by image signatures
//! ([`crate::image`]) and attestations ([`crate::attestation`]).

use futures_util::stream::{self, StreamExt};
use vouch_core::cosign::{Attachment, read_attached};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::manifest::Descriptor;
use vouch_core::oci::registry::Access;
use vouch_core::oci::{OciError, OciLimits, Target};
use vouch_core::{Classify, ErrorClass};

use crate::VerifyError;

/// A layer that did not pass, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFailure {
    /// Its position in the manifest.
    pub index: usize,
    /// Its digest.
    pub digest: Sha256Digest,
    /// Why it failed.
    pub reason: String,
}

/// The outcome for one image: what verified, what did not and why.
#[derive(Debug)]
pub struct Verdicts<T> {
    /// The image digest.
    pub digest: Sha256Digest,
    /// Layers that verified.
    pub verified: Vec<T>,
    /// Layers that did not, or why there was nothing to check.
    pub failures: Vec<LayerFailure>,
    /// Whether the tag was found at all.
    pub found: bool,
}

impl<T> Verdicts<T> {
    /// At least one layer verified.
    pub fn ok(&self) -> bool {
        !self.verified.is_empty()
    }
}

/// Reads the `attachment` tag of `image` and checks each layer with `check`, `concurrency` at a
/// time. A tag holding something unreadable is one failure; registry errors abort.
pub(crate) async fn check_attached<T, F, Fut>(
    target: &Target,
    image: &Sha256Digest,
    attachment: Attachment,
    limits: &OciLimits,
    concurrency: usize,
    check: F,
) -> Result<Verdicts<T>, VerifyError>
where
    F: Fn(Descriptor) -> Fut,
    Fut: std::future::Future<Output = Result<Result<T, String>, VerifyError>>,
{
    let tag = attachment.tag(image);
    let empty = |failures, found| Verdicts {
        digest: *image,
        verified: vec![],
        failures,
        found,
    };
    let manifest = match read_attached(target, &tag, Access::Pull, limits).await {
        Ok(Some((_, m))) => m,
        Ok(None) => return Ok(empty(vec![], false)),
        Err(e) if e.class() == ErrorClass::Registry => return Err(e.into()),
        Err(e @ (OciError::Manifest { .. } | OciError::TooLarge { .. })) => {
            let f = LayerFailure {
                index: 0,
                digest: *image,
                reason: e.to_string(),
            };
            return Ok(empty(vec![f], true));
        }
        Err(e) => return Err(e.into()),
    };
    let checks: Vec<_> = stream::iter(manifest.layers.iter().cloned())
        .map(&check)
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut verdicts = empty(vec![], true);
    for (i, (c, desc)) in checks.into_iter().zip(&manifest.layers).enumerate() {
        match c? {
            Ok(v) => verdicts.verified.push(v),
            Err(reason) => verdicts.failures.push(LayerFailure {
                index: i,
                digest: desc.digest,
                reason,
            }),
        }
    }
    Ok(verdicts)
}
