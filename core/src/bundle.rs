//! Sigstore bundles (github.com/sigstore/protobuf-specs, `sigstore_bundle.proto`), in their
//! protobuf-JSON form. This module writes the key-signed message-signature bundle of
//! `sign-blob --bundle` and reads the parts a key-based verification needs; certificate, log and
//! timestamp material is kept as JSON for the keyless verifier.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::digest::{HashAlgorithm, Sha256Digest};
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
struct Wire<'a> {
    media_type: String,
    verification_material: Option<Value>,
    message_signature: Option<WireMessageSignature>,
    /// Read as its exact text, borrowed from the bundle (already checked strictly with the
    /// whole bundle), parsed once by [`Envelope::parse`].
    #[serde(borrow)]
    dsse_envelope: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessageSignature {
    message_digest: Option<WireDigest>,
    signature: String,
}

/// protobuf-JSON omits default values: cosign writes `"messageDigest": {}` for pure Ed25519.
#[derive(Deserialize)]
struct WireDigest {
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    digest: String,
}

/// The sigstore protobuf name of a hash (`SHA2_256`, …).
fn proto_hash_name(hash: HashAlgorithm) -> &'static str {
    match hash {
        HashAlgorithm::Sha256 => "SHA2_256",
        HashAlgorithm::Sha384 => "SHA2_384",
        HashAlgorithm::Sha512 => "SHA2_512",
    }
}

fn field(field: &'static str, reason: impl Into<String>) -> PayloadError {
    PayloadError::Field {
        what: WHAT,
        field,
        reason: reason.into(),
    }
}

impl BundleVersion {
    /// The version as the specification writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V01 => "v0.1",
            Self::V02 => "v0.2",
            Self::V03 => "v0.3",
        }
    }
}

/// The rules of the bundle specification (protobuf-specs `sigstore_bundle.proto`, as
/// sigstore-go's `Bundle.validate` and sigstore-python's `Bundle._verify` enforce them) that
/// depend on the version, checked before anything is verified:
///
/// - the verification material is exactly one of `publicKey`, `certificate` and
///   `x509CertificateChain` (a protobuf `oneof`);
/// - v0.3 carries a single `certificate`, never an `x509CertificateChain`;
/// - every transparency-log entry of a v0.1 bundle has an inclusion promise (signed entry
///   timestamp);
/// - every entry of a v0.2 or v0.3 bundle has an inclusion proof, with its checkpoint;
///
/// (unknown media types are refused before: [`BundleVersion`]).
fn check_version_rules(version: BundleVersion, vm: &Value) -> Result<(), PayloadError> {
    let v = version.as_str();
    let Some(vm) = vm.as_object() else {
        return Err(field("verificationMaterial", "expected an object"));
    };
    let present: Vec<&str> = ["publicKey", "certificate", "x509CertificateChain"]
        .into_iter()
        .filter(|k| vm.get(*k).is_some_and(|x| !x.is_null()))
        .collect();
    match present.as_slice() {
        [_] => {}
        [] => {
            return Err(field(
                "verificationMaterial",
                "expected one of publicKey, certificate or x509CertificateChain, found none",
            ));
        }
        more => {
            return Err(field(
                "verificationMaterial",
                format!(
                    "expected one of publicKey, certificate or x509CertificateChain, found {}",
                    more.join(" and ")
                ),
            ));
        }
    }
    if version == BundleVersion::V03 && present == ["x509CertificateChain"] {
        return Err(field(
            "verificationMaterial.x509CertificateChain",
            "a v0.3 bundle carries a single `certificate`, not a chain (bundle specification); re-create the bundle with a current sigstore client",
        ));
    }
    let entries = match vm.get("tlogEntries") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(field("verificationMaterial.tlogEntries", "expected a list")),
    };
    let has = |e: &Value, k: &str| e.get(k).is_some_and(|x| !x.is_null());
    for e in entries {
        if version == BundleVersion::V01 {
            if !has(e, "inclusionPromise") {
                return Err(field(
                    "verificationMaterial.tlogEntries[].inclusionPromise",
                    "a v0.1 bundle's log entry must carry an inclusion promise (signed entry timestamp); found none",
                ));
            }
        } else if !has(e, "inclusionProof") {
            return Err(field(
                "verificationMaterial.tlogEntries[].inclusionProof",
                format!(
                    "a {v} bundle's log entry must carry an inclusion proof (a signed entry timestamp alone is v0.1's); found none"
                ),
            ));
        } else if !e
            .get("inclusionProof")
            .is_some_and(|p| has(p, "checkpoint"))
        {
            return Err(field(
                "verificationMaterial.tlogEntries[].inclusionProof.checkpoint",
                format!("a {v} bundle's inclusion proof must carry its checkpoint; found none"),
            ));
        }
    }
    Ok(())
}

impl Bundle {
    /// A v0.3 bundle for a key-signed blob: `publicKey.hint`, no log entries, and the
    /// `messageSignature` (SHA2_256 digest and signature). Pretty-printed JSON with a newline.
    pub fn message_signature_v03(
        key: &PublicKey,
        digest: &Sha256Digest,
        signature: &Signature,
    ) -> Vec<u8> {
        Self::message_signature_v03_with(
            key,
            Some((HashAlgorithm::Sha256, digest.as_bytes())),
            signature,
        )
    }

    /// As [`message_signature_v03`](Self::message_signature_v03), with the digest of the hash
    /// the key signs (cosign: SHA-384 for P-384, SHA-512 for P-521), or none for a pure Ed25519
    /// signature: then `messageDigest` is `{}`, as cosign's sign-blob (sigstore-go `PlainData`
    /// with `HASH_ALGORITHM_UNSPECIFIED` and no digest, through protojson) writes it.
    pub fn message_signature_v03_with(
        key: &PublicKey,
        digest: Option<(HashAlgorithm, &[u8])>,
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
                "messageDigest": match digest {
                    Some((hash, bytes)) => json!({
                        "algorithm": proto_hash_name(hash),
                        "digest": B64.encode(bytes),
                    }),
                    None => json!({}),
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
    pub fn dsse_v03(key: &PublicKey, envelope: &Envelope) -> Vec<u8> {
        let mut material = serde_json::Map::new();
        material.insert("publicKey".into(), json!({"hint": key.hint()}));
        material.insert("tlogEntries".into(), Value::Array(Vec::new()));
        Self::dsse_v03_with(material, envelope)
    }

    /// A v0.3 bundle of a DSSE envelope with the given `verificationMaterial` (`publicKey` or
    /// `certificate`, `tlogEntries`, `timestampVerificationData`): compact JSON, the envelope's
    /// bytes as they were signed.
    pub fn dsse_v03_with(
        verification_material: serde_json::Map<String, Value>,
        envelope: &Envelope,
    ) -> Vec<u8> {
        let env = envelope.to_json();
        let head = json!({
            "mediaType": BUNDLE_V03_MEDIA_TYPE,
            "verificationMaterial": verification_material,
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
        // One reading of the whole bundle: no key twice (`certificate` or `tlogEntries` read
        // as the first by one verifier and the last by another), nothing any reader rounds.
        crate::payload::check_strict(WHAT, bytes)?;
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
        check_version_rules(version, &verification_material)?;
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
                    // `{}`: no digest (a pure Ed25519 signature over the message).
                    Some(d) if d.algorithm.is_empty() && d.digest.is_empty() => None,
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
            (None, Some(env)) => {
                BundleContent::Dsse(Envelope::parse(env.get().as_bytes(), limits)?)
            }
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
        let sig = key.sign_digest(&digest).unwrap();
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

    /// Issue 20: every per-version rule of the bundle specification, each with a failing case
    /// (and the passing neighbour that shows the rule, not something else, refused it).
    #[test]
    fn version_rules() {
        const V01: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
        const V02: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
        const V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
        const V03_ALT: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
        let cert = json!({"rawBytes": "AAAA"});
        let promise = json!({"signedEntryTimestamp": "AAAA"});
        let proof = json!({"logIndex": "1", "rootHash": "AAAA", "treeSize": "2", "hashes": [],
                           "checkpoint": {"envelope": "x"}});
        let proof_no_cp =
            json!({"logIndex": "1", "rootHash": "AAAA", "treeSize": "2", "hashes": []});
        let entry = |promise: Option<&Value>, proof: Option<&Value>| {
            let mut e = json!({"logIndex": "1", "logId": {"keyId": "AAAA"},
                               "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                               "integratedTime": "1", "canonicalizedBody": "AAAA"});
            if let Some(p) = promise {
                e["inclusionPromise"] = p.clone();
            }
            if let Some(p) = proof {
                e["inclusionProof"] = p.clone();
            }
            e
        };
        let bundle = |media: &str, vm: Value| {
            serde_json::to_vec(&json!({"mediaType": media, "verificationMaterial": vm,
                                       "messageSignature": {"signature": ""}}))
            .unwrap()
        };
        let parse = |media: &str, vm: Value| Bundle::parse(&bundle(media, vm), &Limits::DEFAULT);
        let refused_at = |media: &str, vm: Value, at: &str| match parse(media, vm) {
            Err(PayloadError::Field { field, .. }) => assert_eq!(field, at, "{media}"),
            other => panic!("{media}: expected a refusal at {at}, got {other:?}"),
        };
        // v0.1: a promise is required; a proof besides it is fine.
        let vm01 = |e: Value| json!({"x509CertificateChain": {"certificates": [cert]}, "tlogEntries": [e]});
        parse(V01, vm01(entry(Some(&promise), None))).unwrap();
        parse(V01, vm01(entry(Some(&promise), Some(&proof)))).unwrap();
        refused_at(
            V01,
            vm01(entry(None, Some(&proof))),
            "verificationMaterial.tlogEntries[].inclusionPromise",
        );
        // v0.2 and v0.3: a proof, with its checkpoint, is required; a promise alone is not one.
        for (media, vm) in [
            (
                V02,
                json!({"x509CertificateChain": {"certificates": [cert]}}),
            ),
            (V03, json!({"certificate": cert})),
            (V03_ALT, json!({"certificate": cert})),
            (V03, json!({"publicKey": {"hint": "k"}})),
        ] {
            let with = |e: Value| {
                let mut vm = vm.clone();
                vm["tlogEntries"] = json!([e]);
                vm
            };
            parse(media, with(entry(None, Some(&proof)))).unwrap();
            parse(media, with(entry(Some(&promise), Some(&proof)))).unwrap();
            refused_at(
                media,
                with(entry(Some(&promise), None)),
                "verificationMaterial.tlogEntries[].inclusionProof",
            );
            refused_at(
                media,
                with(entry(Some(&promise), Some(&proof_no_cp))),
                "verificationMaterial.tlogEntries[].inclusionProof.checkpoint",
            );
            // No entry at all (a key-signed offline bundle, or one with timestamps only).
            parse(media, vm.clone()).unwrap();
        }
        // v0.3: a single certificate, never a chain.
        for media in [V03, V03_ALT] {
            refused_at(
                media,
                json!({"x509CertificateChain": {"certificates": [cert]}}),
                "verificationMaterial.x509CertificateChain",
            );
        }
        // Every version: exactly one kind of verification material.
        for media in [V01, V02, V03] {
            refused_at(media, json!({}), "verificationMaterial");
            refused_at(media, json!({"tlogEntries": []}), "verificationMaterial");
            refused_at(
                media,
                json!({"certificate": cert, "publicKey": {"hint": "k"}}),
                "verificationMaterial",
            );
            refused_at(media, json!([]), "verificationMaterial");
        }
        refused_at(
            V02,
            json!({"certificate": cert, "x509CertificateChain": {"certificates": [cert]}}),
            "verificationMaterial",
        );
        // Unknown media types, including near misses and versions not yet specified.
        for media in [
            "application/vnd.dev.sigstore.bundle+json",
            "application/vnd.dev.sigstore.bundle+json;version=0.4",
            "application/vnd.dev.sigstore.bundle.v0.4+json",
            "application/vnd.dev.sigstore.bundle.v0.1+json",
            "application/vnd.dev.sigstore.bundle+json; version=0.3",
            "APPLICATION/VND.DEV.SIGSTORE.BUNDLE.V0.3+JSON",
            "",
        ] {
            refused_at(media, json!({"certificate": cert}), "mediaType");
        }
        // A key twice anywhere in the bundle: refused, never read as the first or the last.
        let dup = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"k"}},"verificationMaterial":{"publicKey":{"hint":"other"}},"messageSignature":{"signature":""}}"#;
        assert!(matches!(
            Bundle::parse(dup, &Limits::DEFAULT),
            Err(PayloadError::Ambiguous { .. })
        ));
    }
}
