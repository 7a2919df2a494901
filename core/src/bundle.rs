//! Sigstore bundles (github.com/sigstore/protobuf-specs, `sigstore_bundle.proto`), in their
//! protobuf-JSON form. This module writes the key-signed message-signature bundle of
//! `sign-blob --bundle` and reads the parts a key-based verification needs; certificate, log and
//! timestamp material is kept as JSON for the keyless verifier.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::digest::Sha256Digest;
use crate::keys::{PublicKey, Signature};
use crate::limits::{Limits, check_size};
use crate::payload::PayloadError;
use crate::payload::dsse::Envelope;

/// The media type of bundle v0.3, which vouch writes.
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

const WHAT: &str = "sigstore bundle";

/// Bundle versions vouch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleVersion {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`.
    V01,
    /// `…;version=0.2`.
    V02,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json` (or `…bundle+json;version=0.3`).
    V03,
}

impl BundleVersion {
    fn from_media_type(s: &str) -> Option<Self> {
        Some(match s {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Self::V01,
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Self::V02,
            BUNDLE_V03_MEDIA_TYPE | "application/vnd.dev.sigstore.bundle+json;version=0.3" => {
                Self::V03
            }
            _ => return None,
        })
    }
}

/// What a bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleContent {
    /// A signature over an artifact's digest (`messageSignature`).
    MessageSignature {
        /// `messageDigest`, when present: the algorithm name and digest bytes.
        digest: Option<(String, Vec<u8>)>,
        /// The signature bytes.
        signature: Vec<u8>,
    },
    /// A DSSE envelope (`dsseEnvelope`), usually holding an in-toto Statement.
    Dsse(Envelope),
}

/// A parsed, not yet verified bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// The declared version.
    pub version: BundleVersion,
    /// `verificationMaterial.publicKey.hint`, when the bundle was signed with a key.
    pub public_key_hint: Option<String>,
    /// The whole `verificationMaterial` object (certificates, tlog entries, timestamps).
    pub verification_material: Value,
    /// The signed content.
    pub content: BundleContent,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    media_type: String,
    verification_material: Option<Value>,
    message_signature: Option<WireMessageSignature>,
    dsse_envelope: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessageSignature {
    message_digest: Option<WireDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct WireDigest {
    algorithm: String,
    digest: String,
}

fn field(field: &'static str, reason: impl Into<String>) -> PayloadError {
    PayloadError::Field {
        what: WHAT,
        field,
        reason: reason.into(),
    }
}

impl Bundle {
    /// A v0.3 bundle for a key-signed blob: `publicKey.hint`, no log entries, and the
    /// `messageSignature` (SHA2_256 digest and signature). Pretty-printed JSON with a newline.
    pub fn message_signature_v03(
        key: &PublicKey,
        digest: &Sha256Digest,
        signature: &Signature,
    ) -> Vec<u8> {
        // Field order as protobuf-JSON writers (cosign, sigstore-go) emit it.
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            media_type: &'a str,
            verification_material: Value,
            message_signature: Value,
        }
        let doc = Out {
            media_type: BUNDLE_V03_MEDIA_TYPE,
            verification_material: json!({
                "publicKey": { "hint": key.hint() },
                "tlogEntries": [],
            }),
            message_signature: json!({
                "messageDigest": {
                    "algorithm": "SHA2_256",
                    "digest": B64.encode(digest.as_bytes()),
                },
                "signature": signature.to_base64(),
            }),
        };
        let mut out = match serde_json::to_vec_pretty(&doc) {
            Ok(v) => v,
            Err(_) => unreachable!("serializing a JSON value cannot fail"),
        };
        out.push(b'\n');
        out
    }

    /// A v0.3 bundle of a key-signed DSSE envelope, offline (no log entry): what cosign 3 writes
    /// for `--key` signing without a transparency log.
    pub fn dsse_v03(key: &PublicKey, envelope: &crate::payload::dsse::Envelope) -> Vec<u8> {
        let env = envelope.to_json();
        let head = serde_json::json!({
            "mediaType": BUNDLE_V03_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": key.hint()}, "tlogEntries": []},
        });
        let mut out = match serde_json::to_vec(&head) {
            Ok(v) => v,
            Err(_) => unreachable!("serializing a JSON value cannot fail"),
        };
        out.reserve(env.len() + 20);
        out.pop();
        out.extend_from_slice(b",\"dsseEnvelope\":");
        out.extend_from_slice(&env);
        out.push(b'}');
        out
    }

    /// Parses untrusted bundle bytes.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, PayloadError> {
        check_size(WHAT, bytes.len(), limits.envelope)?;
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json {
            what: WHAT,
            reason: e.to_string(),
        })?;
        let version = BundleVersion::from_media_type(&wire.media_type).ok_or_else(|| {
            field(
                "mediaType",
                format!(
                    "expected a sigstore bundle media type (v0.1, v0.2 or v0.3), found `{}`",
                    wire.media_type
                ),
            )
        })?;
        let verification_material = wire
            .verification_material
            .ok_or_else(|| field("verificationMaterial", "missing"))?;
        let public_key_hint = verification_material
            .get("publicKey")
            .and_then(|k| k.get("hint"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let content = match (wire.message_signature, wire.dsse_envelope) {
            (Some(ms), None) => {
                let signature = B64
                    .decode(&ms.signature)
                    .map_err(|e| field("messageSignature.signature", format!("not base64: {e}")))?;
                let digest = match ms.message_digest {
                    Some(d) => Some((
                        d.algorithm,
                        B64.decode(&d.digest).map_err(|e| {
                            field(
                                "messageSignature.messageDigest.digest",
                                format!("not base64: {e}"),
                            )
                        })?,
                    )),
                    None => None,
                };
                BundleContent::MessageSignature { digest, signature }
            }
            (None, Some(env)) => BundleContent::Dsse(Envelope::from_value(env, limits)?),
            (Some(_), Some(_)) => {
                return Err(field(
                    "content",
                    "both messageSignature and dsseEnvelope are present; expected one",
                ));
            }
            (None, None) => {
                return Err(field(
                    "content",
                    "neither messageSignature nor dsseEnvelope is present",
                ));
            }
        };
        Ok(Self {
            version,
            public_key_hint,
            verification_material,
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    #[test]
    fn writes_and_reads_v03() {
        let key = SigningKey::generate().unwrap();
        let digest = Sha256Digest::of(b"artifact");
        let sig = key.sign_digest(&digest);
        let bytes = Bundle::message_signature_v03(&key.public_key(), &digest, &sig);
        let b = Bundle::parse(&bytes, &Limits::DEFAULT).unwrap();
        assert_eq!(b.version, BundleVersion::V03);
        assert_eq!(b.public_key_hint, Some(key.public_key().hint()));
        assert_eq!(
            b.content,
            BundleContent::MessageSignature {
                digest: Some(("SHA2_256".into(), digest.as_bytes().to_vec())),
                signature: sig.as_der().to_vec(),
            }
        );
    }

    #[test]
    fn rejects_unknown_media_type() {
        let doc = br#"{"mediaType":"application/json","verificationMaterial":{},"messageSignature":{"signature":""}}"#;
        assert!(matches!(
            Bundle::parse(doc, &Limits::DEFAULT),
            Err(PayloadError::Field {
                field: "mediaType",
                ..
            })
        ));
    }
}
