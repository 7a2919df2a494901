//! Attestations in cosign's tag format: every layer of `sha256-<hex>.att` is checked — its blob
//! against its descriptor digest, the DSSE signature over the PAE of the exact payload bytes,
//! that the statement's subjects include the image digest, and that its predicate type matches
//! both the layer's `predicateType` annotation and the type asked for. Only layers that pass
//! become [`VerifiedAttestation`]s, which only this module can construct.

use std::ops::Range;

use vouch_core::cosign::Attachment;
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::{PublicKey, ValidSignature};
use vouch_core::limits::Limits;
use vouch_core::oci::manifest::Descriptor;
use vouch_core::oci::registry::Access;
use vouch_core::oci::{OciLimits, Target};
use vouch_core::payload::dsse::{DSSE_MEDIA_TYPE, Envelope};
use vouch_core::payload::intoto::{INTOTO_PAYLOAD_TYPE, StatementRef, Subject};
use vouch_core::{Classify, ErrorClass};

use crate::VerifyError;
use crate::attached::{LayerError, LayerFailure};
use crate::cosign_keyless::{Signed, bundle_of, is_keyless};
use crate::sigstore_bundle::{Matcher, Signer, TimeSource, VerifiedSigstoreBundle};
use vouch_core::sigstore::certificate::CertIdentity;
use vouch_core::sigstore::trusted_root::TrustedRoot;

/// Who must have signed.
#[derive(Debug, Clone, Copy)]
pub enum Authority<'a> {
    /// A key.
    Key(&'a PublicKey),
    /// A Fulcio certificate identity, logged in Rekor, checked against a trusted root.
    Keyless {
        /// The certificate's SAN.
        subject: &'a Matcher,
        /// The OIDC issuer.
        issuer: &'a Matcher,
        /// The trusted root.
        root: &'a TrustedRoot,
    },
}

impl Authority<'_> {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Authority::Key(k) => format!("key {}", k.hint()),
            Authority::Keyless {
                subject, issuer, ..
            } => {
                format!("identity {} from {}", subject.describe(), issuer.describe())
            }
        }
    }
}

/// How an attestation was proven.
#[derive(Debug)]
enum Proof {
    Key(#[allow(dead_code)] ValidSignature),
    Keyless(#[allow(dead_code)] Box<VerifiedSigstoreBundle>),
}

/// The annotation naming a legacy `.att` layer's predicate type (one constant, in vouch-core).
pub use vouch_core::cosign::LEGACY_PREDICATE_TYPE_ANNOTATION as PREDICATE_TYPE_ANNOTATION;

/// An attestation that passed every check.
#[derive(Debug)]
pub struct VerifiedAttestation {
    image: Sha256Digest,
    layer: Sha256Digest,
    predicate_type: String,
    subjects: Vec<Subject>,
    statement: Vec<u8>,
    /// Where the predicate lies in `statement`; `None` for a statement without one (`{}`).
    predicate: Option<Range<usize>>,
    key_hint: String,
    time: Option<(i64, TimeSource)>,
    identity: Option<CertIdentity>,
    _proof: Proof,
}

impl VerifiedAttestation {
    /// The verified signing time (Unix seconds) and where it came from: the transparency log's
    /// integrated time or an RFC 3161 timestamp, inside the Fulcio certificate's validity.
    /// `None` for key-signed attestations, even with a log entry or a timestamp: those prove
    /// only that the signature existed by then, not when it was made.
    pub fn verified_time(&self) -> Option<(i64, TimeSource)> {
        self.time
    }
    /// The Fulcio certificate's identity, for keyless attestations.
    pub fn identity(&self) -> Option<&CertIdentity> {
        self.identity.as_ref()
    }
    /// The image digest it is about (one of its subjects).
    pub fn image(&self) -> &Sha256Digest {
        &self.image
    }
    /// The digest of the `.att` layer.
    pub fn layer(&self) -> &Sha256Digest {
        &self.layer
    }
    /// The statement's predicate type.
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }
    /// The statement's subjects.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }
    /// The exact statement bytes that were signed.
    pub fn statement_bytes(&self) -> &[u8] {
        &self.statement
    }
    /// The predicate's raw JSON, as signed.
    pub fn predicate_json(&self) -> &[u8] {
        match &self.predicate {
            Some(span) => &self.statement[span.clone()],
            None => b"{}",
        }
    }
    /// The predicate parsed (for small predicates; a large SBOM is better read raw).
    pub fn predicate(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(self.predicate_json())
    }
    /// The key's hint, or the certificate identity, that verified it.
    pub fn key_hint(&self) -> &str {
        &self.key_hint
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl VerifiedAttestation {
    /// For unit tests and fuzzing of the policy evaluators: a statement genuinely signed with a fresh key
    /// and verified, about its first subject's digest, with an optional verified time.
    #[allow(
        clippy::expect_used,
        reason = "a test and fuzzing fixture: a statement that cannot be signed is a broken fixture"
    )]
    pub(crate) fn signed_for_test(
        statement: &[u8],
        time: Option<(i64, TimeSource)>,
    ) -> VerifiedAttestation {
        use vouch_core::keys::SigningKey;
        let key = SigningKey::generate().expect("key");
        let pae = vouch_core::payload::dsse::pae_digest(INTOTO_PAYLOAD_TYPE, statement);
        let sig = key.sign_digest(&pae).expect("signs");
        let proof = key
            .public_key()
            .verify_digest(&pae, sig.as_der())
            .expect("verifies");
        let s = StatementRef::parse(statement, &Limits::DEFAULT).expect("a valid statement");
        let predicate = s.predicate_span(statement);
        let image = s
            .subjects
            .iter()
            .find_map(Subject::sha256_digest)
            .expect("a sha256 subject");
        VerifiedAttestation {
            image,
            layer: Sha256Digest::of(statement),
            predicate_type: s.predicate_type,
            subjects: s.subjects,
            statement: statement.to_vec(),
            predicate,
            key_hint: key.public_key().hint(),
            time,
            identity: None,
            _proof: Proof::Key(proof),
        }
    }
}

/// The attestations of one image.
pub type ImageAttestations = crate::attached::Verdicts<VerifiedAttestation>;

async fn check_layer(
    target: &Target,
    image: &Sha256Digest,
    desc: &Descriptor,
    authority: Authority<'_>,
    wanted: Option<&str>,
    limits: &OciLimits,
) -> Result<Result<VerifiedAttestation, LayerError>, VerifyError> {
    Ok(match fetch_layer(target, desc, wanted, limits).await? {
        Ok(blob) => verify_layer(image, desc, &blob, authority, wanted, limits),
        Err(reason) => Err(reason),
    })
}

/// The checks on an `.att` layer's descriptor, then its blob (digest checked); `Err` only for
/// errors that are not the layer's fault (registry down).
pub(crate) async fn fetch_layer(
    target: &Target,
    desc: &Descriptor,
    wanted: Option<&str>,
    limits: &OciLimits,
) -> Result<Result<Vec<u8>, LayerError>, VerifyError> {
    if desc.media_type != DSSE_MEDIA_TYPE {
        return Ok(Err(LayerError::MediaType {
            found: desc.media_type.clone(),
            expected: DSSE_MEDIA_TYPE,
            what: "a DSSE envelope",
        }));
    }
    let annotated = desc.annotations.get(PREDICATE_TYPE_ANNOTATION);
    if let (Some(w), Some(a)) = (wanted, annotated)
        && w != a
    {
        return Ok(Err(LayerError::PredicateType {
            found: a.clone(),
            wanted: w.to_owned(),
        }));
    }
    if desc.size > limits.attestation_layer {
        return Ok(Err(LayerError::TooLarge {
            what: "envelope",
            size: desc.size,
            limit: limits.attestation_layer,
            kind: "attestation",
        }));
    }
    match target
        .blob(desc, Access::Pull, limits.attestation_layer)
        .await
    {
        Ok(b) => Ok(Ok(b)),
        Err(e) if e.class() == ErrorClass::Registry => Err(e.into()),
        Err(e) => Ok(Err(LayerError::Unreadable(e.to_string()))),
    }
}

/// Verifies a fetched `.att` layer (the DSSE envelope `blob`) against `authority`.
pub(crate) fn verify_layer(
    image: &Sha256Digest,
    desc: &Descriptor,
    blob: &[u8],
    authority: Authority<'_>,
    wanted: Option<&str>,
    limits: &OciLimits,
) -> Result<VerifiedAttestation, LayerError> {
    let annotated = desc.annotations.get(PREDICATE_TYPE_ANNOTATION);
    let parse_limits = Limits {
        envelope: usize::try_from(limits.attestation_layer).unwrap_or(usize::MAX),
        ..Limits::DEFAULT
    };
    let envelope =
        Envelope::parse(blob, &parse_limits).map_err(|e| LayerError::Payload(e.to_string()))?;
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(LayerError::PayloadType {
            found: envelope.payload_type,
            expected: INTOTO_PAYLOAD_TYPE,
        });
    }
    // The signature over the exact payload bytes first; only then are they parsed.
    let (proof, key_hint, time, identity) = match authority {
        Authority::Key(key) => {
            let mut last = None;
            let mut proof = None;
            for sig in &envelope.signatures {
                match envelope.verify_signature(key, &sig.sig) {
                    Ok(p) => {
                        proof = Some(p);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let Some(proof) = proof else {
                return Err(LayerError::Key {
                    reason: last.map(|e| e.to_string()).unwrap_or_default(),
                    key: key.hint(),
                });
            };
            (Proof::Key(proof), key.hint(), None, None)
        }
        Authority::Keyless {
            subject,
            issuer,
            root,
        } => {
            if !is_keyless(&desc.annotations) {
                return Err(LayerError::NotKeyless);
            }
            let bundle = bundle_of(&desc.annotations, Signed::Dsse(blob))
                .map_err(LayerError::KeylessAnnotations)?;
            let signer = Signer::Identity { subject, issuer };
            match crate::sigstore_bundle::verify(
                &bundle,
                &(*image).into(),
                &signer,
                root,
                &parse_limits,
            ) {
                Ok(v) => {
                    let who = v.identity().map(|i| i.san.clone()).unwrap_or_default();
                    let time = v.signing_time().zip(v.time_source());
                    let identity = v.identity().cloned();
                    (Proof::Keyless(Box::new(v)), who, time, identity)
                }
                Err(e) => return Err(LayerError::Bundle(e.to_string())),
            }
        }
    };
    let statement = envelope.payload;
    let (predicate_type, subjects, predicate) = match StatementRef::parse(&statement, &parse_limits)
    {
        Ok(s) => {
            let span = s.predicate_span(&statement);
            (s.predicate_type, s.subjects, span)
        }
        Err(e) => return Err(LayerError::Payload(e.to_string())),
    };
    if !subjects
        .iter()
        .any(|s| s.sha256_digest().as_ref() == Some(image))
    {
        return Err(LayerError::NotSubject { image: *image });
    }
    if let Some(a) = annotated
        && *a != predicate_type
    {
        return Err(LayerError::AnnotatedType {
            statement: predicate_type,
            annotation: a.clone(),
            on: "layer",
        });
    }
    if let Some(w) = wanted
        && w != predicate_type
    {
        return Err(LayerError::PredicateType {
            found: predicate_type,
            wanted: w.to_owned(),
        });
    }
    Ok(VerifiedAttestation {
        image: *image,
        layer: desc.digest,
        predicate_type,
        subjects,
        statement,
        predicate,
        key_hint,
        time,
        identity,
        _proof: proof,
    })
}

/// Verifies the attestations of `image` by `authority` in both formats: the `.att` tag
/// (stored in `target`) and cosign 3's bundle referrers of the image's repository (`referrers`),
/// keeping those of predicate type `wanted` when given.
pub async fn verify_attestations(
    target: &Target,
    referrers: &Target,
    image: &Sha256Digest,
    authority: Authority<'_>,
    wanted: Option<&str>,
    limits: &OciLimits,
) -> Result<ImageAttestations, VerifyError> {
    // Both formats at once; a few layers at a time: attestation layers can be large SBOMs.
    let (tagged, referred) = futures_util::future::join(
        crate::attached::check_attached(
            target,
            image,
            Attachment::Attestations,
            limits,
            4,
            |desc| async move { check_layer(target, image, &desc, authority, wanted, limits).await },
        ),
        referrer_attestations(referrers, image, authority, wanted, false, limits)
    )
    .await;
    let mut verdicts = tagged?;
    let (found, verified, failures) = referred?;
    verdicts.found |= found;
    verdicts.verified.extend(verified);
    verdicts.failures.extend(failures);
    Ok(verdicts)
}

/// The bundle referrers of `image` that are attestations of predicate type `wanted` (when
/// given) — or, with `signatures`, cosign 3 image signatures (`sign/v1`) only: listed once,
/// fetched in parallel, each bundle verified.
pub(crate) async fn referrer_attestations(
    target: &Target,
    image: &Sha256Digest,
    authority: Authority<'_>,
    wanted: Option<&str>,
    signatures: bool,
    limits: &OciLimits,
) -> Result<(bool, Vec<VerifiedAttestation>, Vec<LayerFailure>), VerifyError> {
    let filter = if signatures {
        ReferrerFilter::Signatures
    } else {
        ReferrerFilter::Attestations(wanted)
    };
    let fetched = match fetch_referrers(target, image, filter, limits).await? {
        Ok(f) => f,
        Err(f) => return Ok((true, vec![], vec![f])),
    };
    let found = !fetched.is_empty();
    let root_for_keys = root_for_keys(authority)?;
    let wanted = if signatures {
        Some(vouch_core::referrers::COSIGN_SIGN_PREDICATE)
    } else {
        wanted
    };
    let mut verified = Vec::new();
    let mut failures = Vec::new();
    for (i, f) in fetched.iter().enumerate() {
        let r = match &f.content {
            Ok((annotations, bundle)) => verify_referrer(
                image,
                &f.desc,
                annotations,
                bundle,
                authority,
                root_for_keys,
                wanted,
                limits,
            ),
            Err(reason) => Err(reason.clone()),
        };
        match r {
            Ok(v) => verified.push(v),
            Err(reason) => failures.push(LayerFailure {
                index: i,
                digest: f.desc.digest,
                reason: LayerError::Referrer(Box::new(reason)),
            }),
        }
    }
    Ok((found, verified, failures))
}

/// Whether a predicate type `found` is the one `wanted` (OpenVEX's is versioned:
/// `https://openvex.dev/ns/v0.2.0` is an `https://openvex.dev/ns`).
pub(crate) fn is_type(found: &str, wanted: &str) -> bool {
    found == wanted
        || (wanted == vouch_core::predicate::OPENVEX
            && found.starts_with(vouch_core::predicate::OPENVEX))
}

/// Which bundle referrers to fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReferrerFilter<'a> {
    /// cosign 3 image signatures (`sign/v1`, or no predicate type annotation).
    Signatures,
    /// Attestations of this predicate type (or of any, with `None`; un-annotated ones too).
    Attestations(Option<&'a str>),
    /// Those annotated with one of these predicate types, or not annotated.
    AnyOf(&'a [&'a str]),
}

/// A bundle referrer as fetched: its listing entry and, unless it failed a structural check,
/// the annotations it was read with (its manifest's, or the listing entry's when the bundle was
/// fetched straight from the listing) and its bundle bytes (digest-checked). Untrusted until
/// verified.
pub(crate) struct FetchedReferrer {
    pub(crate) desc: Descriptor,
    pub(crate) content: Result<(Annotations, Vec<u8>), LayerError>,
}

/// A referrer's annotations.
pub(crate) type Annotations = std::collections::BTreeMap<String, String>;

/// Lists the bundle referrers of `image` once and fetches those `filter` keeps, in parallel.
/// `Err(failure)` when the listing itself is unreadable; registry errors abort.
pub(crate) async fn fetch_referrers(
    target: &Target,
    image: &Sha256Digest,
    filter: ReferrerFilter<'_>,
    limits: &OciLimits,
) -> Result<Result<Vec<FetchedReferrer>, LayerFailure>, VerifyError> {
    use vouch_core::referrers::BUNDLE_ARTIFACT_TYPE;

    let listed = target
        .referrers(
            image,
            Some(BUNDLE_ARTIFACT_TYPE),
            Access::Pull,
            limits.manifest,
        )
        .await;
    fetch_listed_referrers(target, image, listed, filter, limits).await
}

/// [`fetch_referrers`] of a listing read already (`listed`: the referrers of artifact type
/// [`vouch_core::referrers::BUNDLE_ARTIFACT_TYPE`]).
pub(crate) async fn fetch_listed_referrers(
    target: &Target,
    image: &Sha256Digest,
    listed: Result<Vec<Descriptor>, vouch_core::oci::OciError>,
    filter: ReferrerFilter<'_>,
    limits: &OciLimits,
) -> Result<Result<Vec<FetchedReferrer>, LayerFailure>, VerifyError> {
    use futures_util::stream::{self, StreamExt};
    use vouch_core::referrers::{COSIGN_SIGN_PREDICATE, PREDICATE_TYPE_ANNOTATION};

    let listed = match listed {
        Ok(l) => l,
        Err(e) if e.class() == ErrorClass::Registry => return Err(e.into()),
        Err(e) => {
            return Ok(Err(LayerFailure {
                index: 0,
                digest: *image,
                reason: LayerError::Listing(e.to_string()),
            }));
        }
    };
    // Only those asked for: the predicate type is in the listing, so others are not fetched.
    let wanted_refs: Vec<_> = listed
        .into_iter()
        .filter(|d| {
            let t = d
                .annotations
                .get(PREDICATE_TYPE_ANNOTATION)
                .map(String::as_str);
            match filter {
                ReferrerFilter::Signatures => t.is_none() || t == Some(COSIGN_SIGN_PREDICATE),
                ReferrerFilter::Attestations(wanted) => {
                    t != Some(COSIGN_SIGN_PREDICATE)
                        && wanted.is_none_or(|w| t.is_none() || t == Some(w))
                }
                ReferrerFilter::AnyOf(types) => {
                    t.is_none_or(|t| types.iter().any(|w| is_type(t, w)))
                }
            }
        })
        .collect();
    // A registry could list any number: each is verified per authority and rule.
    let cap = limits.layers;
    if wanted_refs.len() > cap {
        return Ok(Err(LayerFailure {
            index: 0,
            digest: *image,
            reason: LayerError::TooManyReferrers {
                listed: wanted_refs.len(),
                limit: cap,
            },
        }));
    }
    let fetched: Vec<_> = stream::iter(wanted_refs)
        .map(|d| async move {
            let content = fetch_referrer(target, image, &d, limits).await?;
            Ok::<_, VerifyError>(FetchedReferrer { desc: d, content })
        })
        .buffered(4)
        .collect()
        .await;
    Ok(Ok(fetched.into_iter().collect::<Result<Vec<_>, _>>()?))
}

/// The trusted root that key-signed bundles are checked against (their log entries, if any):
/// the embedded public-good root, parsed once per process.
pub(crate) fn root_for_keys(
    authority: Authority<'_>,
) -> Result<Option<&'static TrustedRoot>, VerifyError> {
    static PUBLIC_GOOD: std::sync::OnceLock<TrustedRoot> = std::sync::OnceLock::new();
    Ok(match authority {
        Authority::Key(_) => Some(match PUBLIC_GOOD.get() {
            Some(r) => r,
            None => {
                let r = TrustedRoot::public_good().map_err(|e| VerifyError::Malformed {
                    what: "trusted root",
                    reason: e.to_string(),
                })?;
                PUBLIC_GOOD.get_or_init(|| r)
            }
        }),
        Authority::Keyless { .. } => None,
    })
}

async fn fetch_referrer(
    target: &Target,
    image: &Sha256Digest,
    desc: &Descriptor,
    limits: &OciLimits,
) -> Result<Result<(Annotations, Vec<u8>), LayerError>, VerifyError> {
    use vouch_core::oci::ManifestRef;
    use vouch_core::oci::manifest::Manifest;
    use vouch_core::referrers::BUNDLE_ARTIFACT_TYPE;

    // The listing names the bundle (vouch's annotations): fetch it without the manifest. The
    // bundle is checked by digest and verified as any; whatever goes wrong here is retried
    // the long way, through the manifest.
    if let Some(bundle) = vouch_core::referrers::listed_bundle(desc)
        && bundle.size <= limits.attestation_layer
    {
        // Missing, refused or damaged: the long way below says what is wrong (a registry that
        // is down fails there too).
        if let Ok(b) = target
            .blob(&bundle, Access::Pull, limits.attestation_layer)
            .await
        {
            return Ok(Ok((desc.annotations.clone(), b)));
        }
    }
    let fetched = match target
        .manifest(
            ManifestRef::Digest(&desc.digest),
            Access::Pull,
            limits.manifest,
        )
        .await
    {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(Err(LayerError::NotReferrer("listed but not found"))),
        Err(e) if e.class() == ErrorClass::Registry => return Err(e.into()),
        Err(e) => return Ok(Err(LayerError::Unreadable(e.to_string()))),
    };
    let manifest = match Manifest::parse(&fetched.bytes, Some(&fetched.media_type)) {
        Ok(Manifest::Image(m)) => m,
        Ok(Manifest::Index(_)) => {
            return Ok(Err(LayerError::NotReferrer(
                "an index, not a referrer manifest",
            )));
        }
        Err(e) => return Ok(Err(LayerError::Unreadable(e.to_string()))),
    };
    if manifest.subject.as_ref().map(|s| s.digest) != Some(*image) {
        return Ok(Err(LayerError::NotReferrer(
            "its subject is not this image",
        )));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Ok(Err(LayerError::NotReferrer(
            "expected one layer (the bundle)",
        )));
    };
    if layer.media_type != BUNDLE_ARTIFACT_TYPE {
        return Ok(Err(LayerError::BundleMediaType(layer.media_type.clone())));
    }
    let bundle = match target
        .blob(layer, Access::Pull, limits.attestation_layer)
        .await
    {
        Ok(b) => b,
        Err(e) if e.class() == ErrorClass::Registry => return Err(e.into()),
        Err(e) => return Ok(Err(LayerError::Unreadable(e.to_string()))),
    };
    Ok(Ok((manifest.annotations, bundle)))
}

/// Verifies a fetched bundle referrer against `authority`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify_referrer(
    image: &Sha256Digest,
    desc: &Descriptor,
    annotations: &Annotations,
    bundle: &[u8],
    authority: Authority<'_>,
    root_for_keys: Option<&TrustedRoot>,
    wanted: Option<&str>,
    limits: &OciLimits,
) -> Result<VerifiedAttestation, LayerError> {
    let parse_limits = Limits {
        envelope: usize::try_from(limits.attestation_layer).unwrap_or(usize::MAX),
        ..Limits::DEFAULT
    };
    let (signer, root) = match authority {
        Authority::Key(k) => match root_for_keys {
            Some(r) => (Signer::Key(k), r),
            None => return Err(LayerError::NoTrustedRoot),
        },
        Authority::Keyless {
            subject,
            issuer,
            root,
        } => (Signer::Identity { subject, issuer }, root),
    };
    let v = crate::sigstore_bundle::verify(bundle, &(*image).into(), &signer, root, &parse_limits)
        .map_err(|e| LayerError::Bundle(e.to_string()))?;
    let Some(statement) = v.statement().map(<[u8]>::to_vec) else {
        return Err(LayerError::NotAttestation);
    };
    // Read once, by the bundle's verifier, with these limits (the span is the same in this
    // copy of the bytes).
    let (predicate_type, subjects, predicate) = match v.parsed_statement() {
        Some(p) => (
            p.predicate_type.clone(),
            p.subjects.clone(),
            p.predicate.clone(),
        ),
        None => match StatementRef::parse(&statement, &parse_limits) {
            Ok(s) => {
                let span = s.predicate_span(&statement);
                (s.predicate_type, s.subjects, span)
            }
            Err(e) => return Err(LayerError::Payload(e.to_string())),
        },
    };
    if let Some(a) = annotations.get(vouch_core::referrers::PREDICATE_TYPE_ANNOTATION)
        && *a != predicate_type
    {
        return Err(LayerError::AnnotatedType {
            statement: predicate_type,
            annotation: a.clone(),
            on: "referrer",
        });
    }
    if let Some(w) = wanted
        && w != predicate_type
    {
        return Err(LayerError::PredicateType {
            found: predicate_type,
            wanted: w.to_owned(),
        });
    }
    let key_hint = match v.identity() {
        Some(id) => id.san.clone(),
        None => v.key_hint().to_owned(),
    };
    Ok(VerifiedAttestation {
        image: *image,
        layer: desc.digest,
        predicate_type,
        subjects,
        statement,
        predicate,
        key_hint,
        // Only a certificate's short validity bounds a log or TSA time from below: over a
        // key signature such a time only proves the signature existed by then (an old scan
        // can be timestamped today), so key-signed attestations have no verified time.
        time: v.identity().and(v.signing_time().zip(v.time_source())),
        identity: v.identity().cloned(),
        _proof: Proof::Keyless(Box::new(v)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::keys::SigningKey;
    use vouch_core::payload::dsse::pae_digest;

    /// Issue 20: a signed statement some reader cannot read, or reads differently, is refused
    /// when it is verified, so it can never reach a condition or Rego as something else
    /// (`1e400` reached Rego as `null`, and a deny rule about it found nothing).
    #[test]
    fn statements_readers_disagree_on_do_not_verify() {
        let image = Sha256Digest::of(b"image");
        let key = SigningKey::generate().unwrap();
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for predicate in [
            r#"{"risk":1e400}"#.to_owned(),
            r#"{"count":123456789012345678901234567890}"#.to_owned(),
            format!(r#"{{"nested":{deep}}}"#),
            r#"{"allowed":false,"allowed":true}"#.to_owned(),
            r#"{"name":"\ud800"}"#.to_owned(),
        ] {
            let statement = format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{}"}}}}],"predicateType":"https://example.com/p","predicate":{predicate}}}"#,
                image.hex()
            );
            let statement = statement.into_bytes();
            let sig = key
                .sign_digest(&pae_digest(INTOTO_PAYLOAD_TYPE, &statement))
                .unwrap();
            let env = Envelope::new(INTOTO_PAYLOAD_TYPE, statement, sig.as_der().to_vec());
            let blob = env.to_json();
            let desc = Descriptor::of(DSSE_MEDIA_TYPE, &blob);
            let public = key.public_key();
            let e = verify_layer(
                &image,
                &desc,
                &blob,
                Authority::Key(&public),
                None,
                &OciLimits::default(),
            )
            .expect_err(&predicate);
            assert!(
                matches!(&e, LayerError::Payload(m) if m.contains("readers disagree")),
                "{predicate}: {e}"
            );
        }
        // The control: the same statement with a readable predicate verifies.
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{}"}}}}],"predicateType":"https://example.com/p","predicate":{{"risk":-0,"big":18446744073709551615}}}}"#,
            image.hex()
        )
        .into_bytes();
        let sig = key
            .sign_digest(&pae_digest(INTOTO_PAYLOAD_TYPE, &statement))
            .unwrap();
        let blob = Envelope::new(INTOTO_PAYLOAD_TYPE, statement, sig.as_der().to_vec()).to_json();
        let desc = Descriptor::of(DSSE_MEDIA_TYPE, &blob);
        let public = key.public_key();
        assert!(
            verify_layer(
                &image,
                &desc,
                &blob,
                Authority::Key(&public),
                None,
                &OciLimits::default()
            )
            .is_ok()
        );
    }
}
