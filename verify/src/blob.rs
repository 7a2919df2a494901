//! Blobs (files) signed with a key: a detached signature, as `cosign sign-blob` prints it, or a
//! sigstore bundle holding a message signature or a DSSE envelope whose statement names the file.

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use vouch_core::bundle::{Bundle, BundleContent};
use vouch_core::digest::{ArtifactDigests, HashAlgorithm, Sha256Digest};
use vouch_core::keys::{KeyAlgorithm, PublicKey, SignatureError, ValidSignature};
use vouch_core::limits::{Limits, check_size};
use vouch_core::payload::intoto::{INTOTO_PAYLOAD_TYPE, Statement};

use crate::VerifyError;

/// How the blob's signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureForm {
    /// A detached signature: over the file's digest (SHA-256; SHA-384 for P-384 and SHA-512 for
    /// P-521 keys, as cosign signs with them), or over the file itself for Ed25519.
    Detached,
    /// A bundle's `messageSignature`.
    BundleMessageSignature,
    /// A bundle's DSSE envelope whose in-toto statement names the file's digest.
    BundleDsse,
}

/// A blob whose signature was checked against a key. Only this module constructs one.
#[derive(Debug)]
pub struct VerifiedBlob {
    digest: Sha256Digest,
    size: u64,
    key_hint: String,
    form: SignatureForm,
    _proof: ValidSignature,
}

impl VerifiedBlob {
    /// The SHA-256 of the bytes that were verified.
    pub fn digest(&self) -> &Sha256Digest {
        &self.digest
    }

    /// How many bytes were verified.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hint (base64 SHA-256 of the SPKI) of the key that signed it.
    pub fn key_hint(&self) -> &str {
        &self.key_hint
    }

    /// How the signature was carried.
    pub fn form(&self) -> SignatureForm {
        self.form
    }
}

/// The artifact as `key` signs it: its SHA-256 (always, for reporting), the digest of the key's
/// own hash when that is not SHA-256 (P-384, P-521), and the bytes themselves for Ed25519 (which
/// signs whole messages; cosign's sign-blob reads the file into memory as well).
struct Hashed {
    sha256: Sha256Digest,
    size: u64,
    other: Option<(HashAlgorithm, Vec<u8>)>,
    message: Option<Vec<u8>>,
}

fn hash_artifact(key: &PublicKey, mut artifact: impl Read) -> Result<Hashed, VerifyError> {
    match key.algorithm().default_hash() {
        Some(HashAlgorithm::Sha256) => {
            let (sha256, size) =
                Sha256Digest::of_reader(artifact).map_err(|e| VerifyError::Artifact(e.into()))?;
            Ok(Hashed {
                sha256,
                size,
                other: None,
                message: None,
            })
        }
        Some(hash) => {
            let mut counted = Counted::new(artifact);
            let all = ArtifactDigests::of_reader(&mut counted)
                .map_err(|e| VerifyError::Artifact(e.into()))?;
            let sha256 = all.sha256().ok_or_else(|| {
                VerifyError::Artifact(std::io::Error::other("no SHA-256 digest computed").into())
            })?;
            let other = all.get(hash).map(|d| (hash, d.to_vec()));
            Ok(Hashed {
                sha256,
                size: counted.count,
                other,
                message: None,
            })
        }
        None => {
            let mut message = Vec::new();
            artifact
                .read_to_end(&mut message)
                .map_err(|e| VerifyError::Artifact(e.into()))?;
            Ok(Hashed {
                sha256: Sha256Digest::of(&message),
                size: message.len() as u64,
                other: None,
                message: Some(message),
            })
        }
    }
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R> Counted<R> {
    fn new(inner: R) -> Self {
        Self { inner, count: 0 }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl Hashed {
    /// The artifact's digest under `hash`, when computed.
    fn digest(&self, hash: HashAlgorithm) -> Option<&[u8]> {
        match (&self.other, hash) {
            (_, HashAlgorithm::Sha256) => Some(self.sha256.as_bytes()),
            (Some((h, d)), _) if *h == hash => Some(d),
            _ => None,
        }
    }

    /// Checks a signature with no digest named beside it: Ed25519 over the bytes; otherwise over
    /// the digest of the key's hash (cosign's signing), then over SHA-256 (what older cosign and
    /// `cosign verify-blob`'s default `--signature-digest-algorithm` use).
    fn check(&self, key: &PublicKey, sig: &[u8]) -> Result<ValidSignature, SignatureError> {
        if let (KeyAlgorithm::Ed25519, Some(message)) = (key.algorithm(), &self.message) {
            return key.verify(message, sig);
        }
        if let Some((hash, digest)) = &self.other
            && let Ok(proof) = key.verify_prehashed(*hash, digest, sig)
        {
            return Ok(proof);
        }
        key.verify_digest(&self.sha256, sig)
    }
}

/// Decodes a detached signature file: base64 (what cosign writes, whitespace ignored) or raw DER.
fn decode_signature_file(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, VerifyError> {
    check_size("the signature file", bytes.len(), limits.signature_file).map_err(|e| {
        VerifyError::Malformed {
            what: "signature",
            reason: e.to_string(),
        }
    })?;
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    B64.decode(&text).map_err(|e| VerifyError::Malformed {
        what: "signature",
        reason: format!("expected base64 (as `sign-blob` prints it) or DER: {e}"),
    })
}

/// Verifies a detached signature (`signature_file` as read from disk) over `artifact`, which is
/// hashed in a stream.
pub fn verify_detached(
    key: &PublicKey,
    signature_file: &[u8],
    artifact: impl Read,
    limits: &Limits,
) -> Result<VerifiedBlob, VerifyError> {
    let sig = decode_signature_file(signature_file, limits)?;
    let hashed = hash_artifact(key, artifact)?;
    let proof = hashed.check(key, &sig).map_err(VerifyError::Signature)?;
    Ok(VerifiedBlob {
        digest: hashed.sha256,
        size: hashed.size,
        key_hint: key.hint(),
        form: SignatureForm::Detached,
        _proof: proof,
    })
}

/// Verifies a sigstore bundle signed by `key` over `artifact`.
///
/// Transparency-log entries and timestamps in the bundle are not consulted: a key-signed bundle
/// is trusted through the key. (Keyless bundles are verified by the keyless verifier.)
pub fn verify_bundle(
    key: &PublicKey,
    bundle: &[u8],
    artifact: impl Read,
    limits: &Limits,
) -> Result<VerifiedBlob, VerifyError> {
    let bundle = Bundle::parse(bundle, limits)?;
    let hashed = hash_artifact(key, artifact)?;
    let digest = hashed.sha256;
    let (proof, form) = match &bundle.content {
        BundleContent::MessageSignature {
            digest: signed,
            signature,
        } => {
            let proof = match signed {
                Some((algorithm, bytes)) => {
                    let hash = HashAlgorithm::from_name(algorithm)
                        .filter(|h| hashed.digest(*h).is_some())
                        .ok_or_else(|| VerifyError::DigestAlgorithm(algorithm.clone()))?;
                    if Some(bytes.as_slice()) != hashed.digest(hash) {
                        let signed = match Sha256Digest::from_slice(bytes) {
                            Ok(d) => d.to_string(),
                            Err(_) => format!("{}:{}", hash.name(), hex::encode(bytes)),
                        };
                        return Err(VerifyError::DigestMismatch {
                            signed,
                            actual: digest,
                        });
                    }
                    match key.algorithm() {
                        // Pure Ed25519 signs the artifact, whatever digest rides beside it.
                        KeyAlgorithm::Ed25519 => hashed.check(key, signature),
                        _ => key.verify_prehashed(hash, bytes, signature),
                    }
                }
                None => hashed.check(key, signature),
            }
            .map_err(VerifyError::Signature)?;
            (proof, SignatureForm::BundleMessageSignature)
        }
        BundleContent::Dsse(envelope) => {
            if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
                return Err(VerifyError::Malformed {
                    what: "bundle",
                    reason: format!(
                        "the DSSE payload type is `{}`, expected `{INTOTO_PAYLOAD_TYPE}`",
                        envelope.payload_type
                    ),
                });
            }
            // Verify the signature over the exact payload bytes first, then parse them.
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
            let proof = match (proof, last) {
                (Some(p), _) => p,
                (None, Some(e)) => return Err(VerifyError::Signature(e)),
                (None, None) => unreachable!("envelopes are parsed with at least one signature"),
            };
            let statement = Statement::parse(&envelope.payload, limits)?;
            if !statement.has_subject_digest(&digest) {
                return Err(VerifyError::SubjectMismatch { actual: digest });
            }
            (proof, SignatureForm::BundleDsse)
        }
    };
    Ok(VerifiedBlob {
        digest,
        size: hashed.size,
        key_hint: key.hint(),
        form,
        _proof: proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::Classify as _;
    use vouch_core::keys::SigningKey;
    use vouch_core::payload::dsse::Envelope;
    use vouch_core::payload::intoto::Subject;

    #[test]
    fn detached_ok_tampered_and_wrong_key() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"content").unwrap().to_base64();
        let v = verify_detached(
            &key.public_key(),
            sig.as_bytes(),
            &b"content"[..],
            &Limits::DEFAULT,
        )
        .unwrap();
        assert_eq!(v.digest(), &Sha256Digest::of(b"content"));
        assert_eq!(v.form(), SignatureForm::Detached);
        let err = verify_detached(
            &key.public_key(),
            sig.as_bytes(),
            &b"c0ntent"[..],
            &Limits::DEFAULT,
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::Signature(_)));
        let other = SigningKey::generate().unwrap();
        let err = verify_detached(
            &other.public_key(),
            sig.as_bytes(),
            &b"content"[..],
            &Limits::DEFAULT,
        )
        .unwrap_err();
        assert_eq!(err.class(), vouch_core::ErrorClass::Verification);
        let err = verify_detached(&key.public_key(), b"!!!", &b"content"[..], &Limits::DEFAULT)
            .unwrap_err();
        assert_eq!(err.class(), vouch_core::ErrorClass::Input);
    }

    #[test]
    fn bundle_message_signature() {
        let key = SigningKey::generate().unwrap();
        let d = Sha256Digest::of(b"content");
        let bundle =
            Bundle::message_signature_v03(&key.public_key(), &d, &key.sign_digest(&d).unwrap());
        verify_bundle(
            &key.public_key(),
            &bundle,
            &b"content"[..],
            &Limits::DEFAULT,
        )
        .unwrap();
        let err =
            verify_bundle(&key.public_key(), &bundle, &b"other"[..], &Limits::DEFAULT).unwrap_err();
        assert!(matches!(err, VerifyError::DigestMismatch { .. }), "{err}");
    }

    #[test]
    fn bundle_dsse_statement() {
        let key = SigningKey::generate().unwrap();
        let d = Sha256Digest::of(b"content");
        let st = Statement::new_v1(
            vec![Subject::sha256(Some("a.txt".into()), &d)],
            "https://example.com/p".into(),
            serde_json::json!({}),
        );
        let payload = st.to_bytes();
        let mut env = Envelope::new(INTOTO_PAYLOAD_TYPE, payload, vec![]);
        env.signatures[0].sig = key.sign(&env.pae()).unwrap().as_der().to_vec();
        let doc = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{"hint":""}}}},"dsseEnvelope":{}}}"#,
            String::from_utf8(env.to_json()).unwrap()
        );
        let v = verify_bundle(
            &key.public_key(),
            doc.as_bytes(),
            &b"content"[..],
            &Limits::DEFAULT,
        )
        .unwrap();
        assert_eq!(v.form(), SignatureForm::BundleDsse);
        let err = verify_bundle(
            &key.public_key(),
            doc.as_bytes(),
            &b"other"[..],
            &Limits::DEFAULT,
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::SubjectMismatch { .. }), "{err}");
        // A payload changed after signing fails the signature check before it is parsed.
        let mut bad = env.clone();
        bad.payload.push(b' ');
        let doc = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{"hint":""}}}},"dsseEnvelope":{}}}"#,
            String::from_utf8(bad.to_json()).unwrap()
        );
        let err = verify_bundle(
            &key.public_key(),
            doc.as_bytes(),
            &b"content"[..],
            &Limits::DEFAULT,
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::Signature(_)), "{err}");
    }
}
