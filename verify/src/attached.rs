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
    pub reason: LayerError,
}

/// Why one signature or attestation — a `.sig` / `.att` layer, a bundle referrer, or the tag
/// or listing that holds them — was not accepted. Each message says what was expected and what
/// was found; the verdict lists them per layer, the CLI prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The layer's media type is not the one its tag holds.
    #[error("media type `{found}` is not {what} (`{expected}`)")]
    MediaType {
        /// The layer's media type.
        found: String,
        /// The media type of what the tag holds.
        expected: &'static str,
        /// What the tag holds: `a cosign signature`, `a DSSE envelope`.
        what: &'static str,
    },
    /// The layer of a bundle referrer is not a sigstore bundle.
    #[error("layer media type `{0}` is not a sigstore bundle")]
    BundleMediaType(String),
    /// The layer is larger than the limit for its kind.
    #[error("{what} of {size} bytes exceeds the {limit}-byte limit for {kind} layers")]
    TooLarge {
        /// `payload` or `envelope`.
        what: &'static str,
        /// Its size in the manifest.
        size: u64,
        /// The limit.
        limit: u64,
        /// `signature` or `attestation`.
        kind: &'static str,
    },
    /// An annotation the layer must have is absent.
    #[error("no `{0}` annotation")]
    MissingAnnotation(&'static str),
    /// The signature annotation is not base64.
    #[error("`{0}` is not base64")]
    NotBase64(&'static str),
    /// The layer, manifest or bundle could not be read (its digest, size or shape).
    #[error("{0}")]
    Unreadable(String),
    /// The signature does not verify with the key.
    #[error("{reason} (key {key})")]
    Key {
        /// Why.
        reason: String,
        /// The key's hint (its fingerprint).
        key: String,
    },
    /// A keyless authority, but the layer is signed with a key.
    #[error("signed with a key, not a certificate")]
    NotKeyless,
    /// The cosign keyless annotations (certificate, Rekor bundle) cannot be used.
    #[error("{0}")]
    KeylessAnnotations(String),
    /// The sigstore bundle (certificate, transparency log, timestamps, signature) did not verify.
    #[error("{0}")]
    Bundle(String),
    /// The payload or statement cannot be parsed.
    #[error("{0}")]
    Payload(String),
    /// The signed payload names another image.
    #[error("the payload signs {signed}, not this image {image}")]
    OtherImage {
        /// The digest the payload signs.
        signed: Sha256Digest,
        /// The image being verified.
        image: Sha256Digest,
    },
    /// A required annotation of the signed payload is absent or has another value.
    #[error("annotation `{key}` is {}, required `{required}`", found.as_deref().map_or("missing".to_owned(), |f| format!("`{f}`")))]
    Annotation {
        /// The annotation.
        key: String,
        /// Its value in the payload, if any.
        found: Option<String>,
        /// The value required.
        required: String,
    },
    /// The DSSE envelope does not carry an in-toto statement.
    #[error("payload type `{found}`, expected `{expected}`")]
    PayloadType {
        /// The envelope's payload type.
        found: String,
        /// The in-toto payload type.
        expected: &'static str,
    },
    /// The statement's subjects do not include the image.
    #[error("the statement's subjects do not include this image {image}")]
    NotSubject {
        /// The image being verified.
        image: Sha256Digest,
    },
    /// The statement's predicate type differs from the one annotated on the layer or referrer.
    #[error(
        "the statement's predicate type `{statement}` differs from the {on}'s annotation `{annotation}`"
    )]
    AnnotatedType {
        /// The statement's predicate type.
        statement: String,
        /// The annotated one.
        annotation: String,
        /// `layer` or `referrer`.
        on: &'static str,
    },
    /// An attestation of another predicate type than the one asked for.
    #[error("predicate type `{found}`, not the `{wanted}` asked for")]
    PredicateType {
        /// Its predicate type.
        found: String,
        /// The one asked for.
        wanted: String,
    },
    /// The bundle holds a message signature where an attestation was expected.
    #[error("the bundle holds a message signature, not an attestation")]
    NotAttestation,
    /// No trusted root to check a key-signed bundle's log entries against.
    #[error("no trusted root")]
    NoTrustedRoot,
    /// A referrer listed for the image that is not a bundle referrer of it.
    #[error("{0}")]
    NotReferrer(&'static str),
    /// The certificate's GitHub Actions claims do not match the policy.
    #[error("the certificate's GitHub {claim} is {}, expected `{expected}`", found.as_deref().map_or("absent".to_owned(), |f| format!("`{f}`")))]
    Claims {
        /// `repository`, `ref`, `workflow`, `trigger` or `sha`.
        claim: &'static str,
        /// The claim in the certificate, if any.
        found: Option<String>,
        /// The policy's pattern.
        expected: String,
    },
    /// Annotations are required (`-a`), but cosign 3 signatures (bundle referrers) carry none.
    #[error("cosign 3 signatures carry no annotations to match -a")]
    NoAnnotations,
    /// A bundle referrer that did not verify.
    #[error("bundle referrer: {0}")]
    Referrer(Box<LayerError>),
    /// The referrers listing cannot be read.
    #[error("referrers: {0}")]
    Listing(String),
    /// More bundle referrers are listed than are verified.
    #[error(
        "referrers: {listed} bundle referrers listed, more than the limit of {limit}; none verified"
    )]
    TooManyReferrers {
        /// How many are listed.
        listed: usize,
        /// The limit (`OciLimits::layers`).
        limit: usize,
    },
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
    Fut: std::future::Future<Output = Result<Result<T, LayerError>, VerifyError>>,
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
                reason: LayerError::Unreadable(e.to_string()),
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
