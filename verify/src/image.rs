//! Image signatures in cosign's tag format: every layer of `sha256-<hex>.sig` is checked —
//! its blob against its descriptor digest, its signature against the key over the exact payload
//! bytes, the payload's `docker-manifest-digest` against the image digest, and the required
//! annotations — and only layers that pass become [`VerifiedImageSignature`]s.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use vouch_core::cosign::{Attachment, SIGNATURE_ANNOTATION};
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::ValidSignature;
use vouch_core::limits::Limits;
use vouch_core::oci::manifest::Descriptor;
use vouch_core::oci::registry::Access;
use vouch_core::oci::{OciLimits, Target};
use vouch_core::payload::simple_signing::{SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning};
use vouch_core::sigstore::certificate::CertIdentity;
use vouch_core::{Classify, ErrorClass};

use crate::VerifyError;
use crate::attached::check_attached;
pub use crate::attached::{LayerError, LayerFailure, Verdicts};
pub use crate::attestation::Authority;
use crate::cosign_keyless::{Signed, bundle_of, is_keyless};

/// A signature layer that passed every check. Only this module constructs one.
#[derive(Debug)]
pub struct VerifiedImageSignature {
    image: Sha256Digest,
    layer: Sha256Digest,
    payload: Option<SimpleSigning>,
    payload_bytes: Bytes,
    key_hint: String,
    identity: Option<CertIdentity>,
    _proof: Proof,
}

/// How a signature was proven.
#[derive(Debug)]
enum Proof {
    Key(#[allow(dead_code)] ValidSignature),
    Keyless(#[allow(dead_code)] Box<crate::sigstore_bundle::VerifiedSigstoreBundle>),
    Bundle(#[allow(dead_code)] Box<crate::attestation::VerifiedAttestation>),
}

impl VerifiedImageSignature {
    /// A cosign 3 signature: a verified bundle referrer whose statement is `sign/v1` about the
    /// image.
    pub(crate) fn from_bundle(a: crate::attestation::VerifiedAttestation) -> Self {
        VerifiedImageSignature {
            image: *a.image(),
            layer: *a.layer(),
            payload: None,
            payload_bytes: Bytes::from(a.statement_bytes().to_vec()),
            key_hint: a.key_hint().to_owned(),
            identity: a.identity().cloned(),
            _proof: Proof::Bundle(Box::new(a)),
        }
    }
    /// The image digest the signature is for (equal to the verified image's).
    pub fn image(&self) -> &Sha256Digest {
        &self.image
    }
    /// The digest of the signature layer.
    pub fn layer(&self) -> &Sha256Digest {
        &self.layer
    }
    /// The simple-signing payload (tag format), parsed from the verified bytes; `None` for a
    /// cosign 3 bundle signature, whose payload is an in-toto statement.
    pub fn payload(&self) -> Option<&SimpleSigning> {
        self.payload.as_ref()
    }
    /// The exact payload bytes that were verified (simple signing, or the statement).
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload_bytes
    }
    /// The hint of the key that verified it.
    pub fn key_hint(&self) -> &str {
        &self.key_hint
    }
    /// The Fulcio certificate's identity, for keyless signatures.
    pub fn identity(&self) -> Option<&CertIdentity> {
        self.identity.as_ref()
    }
}

/// The signatures of one image.
pub type ImageSignatures = Verdicts<VerifiedImageSignature>;

/// Checks one layer; `Err` only for errors that are not the layer's fault (registry down).
async fn check_layer(
    sig_target: &Target,
    image: &Sha256Digest,
    desc: &Descriptor,
    authority: Authority<'_>,
    required: &BTreeMap<String, String>,
    limits: &OciLimits,
) -> Result<Result<VerifiedImageSignature, LayerError>, VerifyError> {
    Ok(match fetch_layer(sig_target, desc, limits).await? {
        Ok(payload) => verify_layer(image, desc, payload, authority, required, limits),
        Err(reason) => Err(reason),
    })
}

/// The checks on a `.sig` layer's descriptor, then its payload (digest checked); `Err` only
/// for errors that are not the layer's fault.
pub(crate) async fn fetch_layer(
    sig_target: &Target,
    desc: &Descriptor,
    limits: &OciLimits,
) -> Result<Result<Bytes, LayerError>, VerifyError> {
    if desc.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
        return Ok(Err(LayerError::MediaType {
            found: desc.media_type.clone(),
            expected: SIMPLE_SIGNING_MEDIA_TYPE,
            what: "a cosign signature",
        }));
    }
    if desc.size > limits.signature_layer {
        return Ok(Err(LayerError::TooLarge {
            what: "payload",
            size: desc.size,
            limit: limits.signature_layer,
            kind: "signature",
        }));
    }
    if !desc.annotations.contains_key(SIGNATURE_ANNOTATION) {
        return Ok(Err(LayerError::MissingAnnotation(SIGNATURE_ANNOTATION)));
    }
    match sig_target
        .blob(desc, Access::Pull, limits.signature_layer)
        .await
    {
        Ok(b) => Ok(Ok(Bytes::from(b))),
        Err(e) if e.class() == ErrorClass::Registry => Err(e.into()),
        Err(e) => Ok(Err(LayerError::Unreadable(e.to_string()))),
    }
}

/// Verifies a fetched `.sig` layer's payload against `authority`.
pub(crate) fn verify_layer(
    image: &Sha256Digest,
    desc: &Descriptor,
    payload: Bytes,
    authority: Authority<'_>,
    required: &BTreeMap<String, String>,
    limits: &OciLimits,
) -> Result<VerifiedImageSignature, LayerError> {
    let Some(sig_b64) = desc.annotations.get(SIGNATURE_ANNOTATION) else {
        return Err(LayerError::MissingAnnotation(SIGNATURE_ANNOTATION));
    };
    let Ok(sig) = B64.decode(sig_b64.trim()) else {
        return Err(LayerError::NotBase64(SIGNATURE_ANNOTATION));
    };
    // Signature over the exact bytes first; only then parse them.
    let (proof, key_hint, identity) = match authority {
        Authority::Key(key) => match key.verify(&payload, &sig) {
            Ok(p) => (Proof::Key(p), key.hint(), None),
            Err(e) => {
                return Err(LayerError::Key {
                    reason: e.to_string(),
                    key: key.hint(),
                });
            }
        },
        Authority::Keyless {
            subject,
            issuer,
            root,
        } => {
            if !is_keyless(&desc.annotations) {
                return Err(LayerError::NotKeyless);
            }
            let digest = Sha256Digest::of(&payload);
            let bundle = bundle_of(
                &desc.annotations,
                Signed::Payload {
                    digest,
                    signature: sig_b64,
                },
            )
            .map_err(LayerError::KeylessAnnotations)?;
            let signer = crate::sigstore_bundle::Signer::Identity { subject, issuer };
            match crate::sigstore_bundle::verify(
                &bundle,
                &digest.into(),
                &signer,
                root,
                &Limits::DEFAULT,
            ) {
                Ok(v) => {
                    let who = v.identity().map(|i| i.san.clone()).unwrap_or_default();
                    let identity = v.identity().cloned();
                    (Proof::Keyless(Box::new(v)), who, identity)
                }
                Err(e) => return Err(LayerError::Bundle(e.to_string())),
            }
        }
    };
    let parsed = match SimpleSigning::parse(
        &payload,
        &Limits {
            simple_signing_payload: limits.signature_layer as usize,
            ..Limits::DEFAULT
        },
    ) {
        Ok(p) => p,
        Err(e) => return Err(LayerError::Payload(e.to_string())),
    };
    if &parsed.manifest_digest != image {
        return Err(LayerError::OtherImage {
            signed: parsed.manifest_digest,
            image: *image,
        });
    }
    for (k, want) in required {
        let found = parsed
            .optional
            .as_ref()
            .and_then(|o| o.get(k))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        if found.as_deref() != Some(want.as_str()) {
            return Err(LayerError::Annotation {
                key: k.clone(),
                found,
                required: want.clone(),
            });
        }
    }
    Ok(VerifiedImageSignature {
        image: *image,
        layer: desc.digest,
        payload: Some(parsed),
        payload_bytes: payload,
        key_hint,
        identity,
        _proof: proof,
    })
}

/// Verifies the signatures of `image` by `authority` in both formats: the `.sig` tag (in
/// `sig_target`) and cosign 3's bundle referrers (in `referrers`, the image's repository).
pub async fn verify_signatures(
    sig_target: &Target,
    referrers: &Target,
    image: &Sha256Digest,
    authority: Authority<'_>,
    required: &BTreeMap<String, String>,
    limits: &OciLimits,
) -> Result<ImageSignatures, VerifyError> {
    // Both formats at once: the tag lookup and the referrers lookup are independent.
    let (tagged, referred) = futures_util::future::join(
        check_attached(
            sig_target,
            image,
            Attachment::Signatures,
            limits,
            16,
            |desc| async move {
                check_layer(sig_target, image, &desc, authority, required, limits).await
            },
        ),
        crate::attestation::referrer_attestations(referrers, image, authority, None, true, limits),
    )
    .await;
    let mut verdicts = tagged?;
    let (found, verified, failures) = referred?;
    verdicts.found |= found;
    verdicts.failures.extend(failures);
    for a in verified {
        if !required.is_empty() {
            verdicts.failures.push(LayerFailure {
                index: verdicts.failures.len(),
                digest: *a.layer(),
                reason: LayerError::Referrer(Box::new(LayerError::NoAnnotations)),
            });
            continue;
        }
        verdicts
            .verified
            .push(VerifiedImageSignature::from_bundle(a));
    }
    Ok(verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::keys::SigningKey;

    /// A `.sig` layer for `signed`, signed by `key`.
    fn layer(key: &SigningKey, signed: Sha256Digest) -> (Descriptor, Bytes) {
        let payload = SimpleSigning {
            docker_reference: "registry.example/app".into(),
            manifest_digest: signed,
            optional: None,
        }
        .to_bytes();
        let mut desc = Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, &payload);
        let sig = key.sign(&payload).unwrap().to_base64();
        desc.annotations.insert(SIGNATURE_ANNOTATION.into(), sig);
        (desc, Bytes::from(payload))
    }

    #[test]
    fn layer_errors_say_what_was_expected_and_found() {
        let key = SigningKey::generate().unwrap();
        let public = key.public_key();
        let image = Sha256Digest::of(b"image");
        let other = Sha256Digest::of(b"other");
        let none = BTreeMap::new();
        let limits = OciLimits::default();
        let verify = |desc: &Descriptor, payload: &Bytes, required: &BTreeMap<String, String>| {
            verify_layer(
                &image,
                desc,
                payload.clone(),
                Authority::Key(&public),
                required,
                &limits,
            )
        };

        let (desc, payload) = layer(&key, image);
        assert!(verify(&desc, &payload, &none).is_ok());

        let (desc, payload) = layer(&key, other);
        let e = verify(&desc, &payload, &none).unwrap_err();
        assert_eq!(
            e,
            LayerError::OtherImage {
                signed: other,
                image
            }
        );
        assert_eq!(
            e.to_string(),
            format!("the payload signs {other}, not this image {image}")
        );

        let (mut desc, payload) = layer(&key, image);
        desc.annotations.remove(SIGNATURE_ANNOTATION);
        assert_eq!(
            verify(&desc, &payload, &none).unwrap_err(),
            LayerError::MissingAnnotation(SIGNATURE_ANNOTATION)
        );

        let (desc, payload) = layer(&SigningKey::generate().unwrap(), image);
        let e = verify(&desc, &payload, &none).unwrap_err();
        assert!(
            matches!(&e, LayerError::Key { key, .. } if *key == public.hint()),
            "{e}"
        );

        let (desc, payload) = layer(&key, image);
        let required = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
        let e = verify(&desc, &payload, &required).unwrap_err();
        assert_eq!(
            e,
            LayerError::Annotation {
                key: "env".into(),
                found: None,
                required: "prod".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "annotation `env` is missing, required `prod`"
        );
    }
}
