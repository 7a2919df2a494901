//! Sigstore bundles verified offline against a trusted root, with a public key (managed keys).
//! Each step is a named check in the error: the signature over the artifact (or the DSSE PAE),
//! the transparency-log entry (known log valid at the time, inclusion proof to a signed
//! checkpoint and/or signed entry timestamp), and that the entry's body is this artifact,
//! signature and key. Keyless (certificate) bundles are the keyless verifier's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use vouch_core::bundle::{Bundle, BundleContent, BundleVersion};
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::{PublicKey, ValidSignature};
use vouch_core::limits::Limits;
use vouch_core::payload::PayloadError;
use vouch_core::payload::intoto::{INTOTO_PAYLOAD_TYPE, StatementRef};
use vouch_core::sigstore::tlog::TlogEntry;
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_core::{Classify, ErrorClass};

/// Why a bundle did not verify; `check` names the step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle is not well-formed.
    #[error(transparent)]
    Malformed(#[from] PayloadError),
    /// A verification step failed.
    #[error("{check} check failed: {reason}")]
    Failed {
        /// The step.
        check: &'static str,
        /// Why.
        reason: String,
    },
    /// Not supported yet (said, not silently passed).
    #[error("{0}")]
    Unsupported(String),
}

impl Classify for BundleError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Malformed(_) | Self::Unsupported(_) => ErrorClass::Input,
            Self::Failed { .. } => ErrorClass::Verification,
        }
    }
}

fn fail(check: &'static str, reason: impl Into<String>) -> BundleError {
    BundleError::Failed {
        check,
        reason: reason.into(),
    }
}

/// A bundle whose every check passed. Only this module constructs one.
#[derive(Debug)]
pub struct VerifiedSigstoreBundle {
    artifact: Sha256Digest,
    signing_time: Option<i64>,
    log_index: i64,
    key_hint: String,
    statement: Option<Vec<u8>>,
    _proof: ValidSignature,
}

impl VerifiedSigstoreBundle {
    /// The artifact digest verified.
    pub fn artifact(&self) -> &Sha256Digest {
        &self.artifact
    }
    /// The log's integrated time, when the log vouched for one.
    pub fn signing_time(&self) -> Option<i64> {
        self.signing_time
    }
    /// The entry's index in the log.
    pub fn log_index(&self) -> i64 {
        self.log_index
    }
    /// The key's hint.
    pub fn key_hint(&self) -> &str {
        &self.key_hint
    }
    /// The in-toto statement bytes, for DSSE bundles.
    pub fn statement(&self) -> Option<&[u8]> {
        self.statement.as_deref()
    }
}

fn pem_key(b64_pem: &str) -> Option<PublicKey> {
    let pem = B64.decode(b64_pem).ok()?;
    PublicKey::from_pem(&pem).ok()
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

/// Checks that the log entry's body is about this artifact, signature and key.
fn check_body(
    entry: &TlogEntry,
    body: &[u8],
    content: &BundleContent,
    artifact: &Sha256Digest,
    key: &PublicKey,
) -> Result<(), BundleError> {
    const CHECK: &str = "log entry body";
    let v: Value =
        serde_json::from_slice(body).map_err(|e| fail(CHECK, format!("not JSON: {e}")))?;
    let kind = (
        entry.kind_version.kind.as_str(),
        entry.kind_version.version.as_str(),
    );
    if get(&v, "/kind") != Some(kind.0) || get(&v, "/apiVersion") != Some(kind.1) {
        return Err(fail(
            CHECK,
            "kind or version differs from the entry's kindVersion",
        ));
    }
    match (kind, content) {
        (("hashedrekord", "0.0.1"), BundleContent::MessageSignature { signature, .. }) => {
            if get(&v, "/spec/data/hash/algorithm") != Some("sha256")
                || get(&v, "/spec/data/hash/value") != Some(artifact.hex().as_str())
            {
                return Err(fail(CHECK, "the entry records another artifact digest"));
            }
            let logged = get(&v, "/spec/signature/content").and_then(|s| B64.decode(s).ok());
            if logged.as_deref() != Some(signature.as_slice()) {
                return Err(fail(CHECK, "the entry records another signature"));
            }
            if get(&v, "/spec/signature/publicKey/content")
                .and_then(pem_key)
                .as_ref()
                != Some(key)
            {
                return Err(fail(CHECK, "the entry records another key"));
            }
            Ok(())
        }
        (("dsse", "0.0.1"), BundleContent::Dsse(env)) => {
            if get(&v, "/spec/payloadHash/algorithm") != Some("sha256")
                || get(&v, "/spec/payloadHash/value")
                    != Some(Sha256Digest::of(&env.payload).hex().as_str())
            {
                return Err(fail(CHECK, "the entry records another payload"));
            }
            let sigs = v.pointer("/spec/signatures").and_then(Value::as_array);
            let ours = sigs.into_iter().flatten().any(|s| {
                let sig = get(s, "/signature").and_then(|x| B64.decode(x).ok());
                env.signatures.iter().any(|e| Some(&e.sig) == sig.as_ref())
                    && get(s, "/verifier").and_then(pem_key).as_ref() == Some(key)
            });
            if !ours {
                return Err(fail(CHECK, "the entry records other signatures or keys"));
            }
            Ok(())
        }
        ((k, ver), _) => Err(BundleError::Unsupported(format!(
            "log entries of kind {k} {ver} with this content are not supported yet"
        ))),
    }
}

/// Verifies `bundle` over the artifact with SHA-256 `artifact`, signed by `key`.
pub fn verify_with_key(
    bundle: &[u8],
    artifact: &Sha256Digest,
    key: &PublicKey,
    root: &TrustedRoot,
    limits: &Limits,
) -> Result<VerifiedSigstoreBundle, BundleError> {
    let b = Bundle::parse(bundle, limits)?;
    let vm = &b.verification_material;
    if vm.get("certificate").is_some() || vm.get("x509CertificateChain").is_some() {
        return Err(fail(
            "verification material",
            "the bundle was signed with a certificate, but a key was given",
        ));
    }
    // The signature.
    let (proof, statement) = match &b.content {
        BundleContent::MessageSignature { digest, signature } => {
            if let Some((alg, d)) = digest {
                if alg != "SHA2_256" {
                    return Err(fail(
                        "message digest",
                        format!("algorithm {alg}, expected SHA2_256"),
                    ));
                }
                if d.as_slice() != artifact.as_bytes() {
                    return Err(fail("message digest", "the bundle signs another artifact"));
                }
            }
            let p = key
                .verify_digest(artifact, signature)
                .map_err(|e| fail("signature", e.to_string()))?;
            (p, None)
        }
        BundleContent::Dsse(env) => {
            if env.payload_type != INTOTO_PAYLOAD_TYPE {
                return Err(fail("DSSE", format!("payload type {}", env.payload_type)));
            }
            let pae = env.pae_digest();
            let p = env
                .signatures
                .iter()
                .find_map(|s| key.verify_digest(&pae, &s.sig).ok())
                .ok_or_else(|| fail("signature", "no DSSE signature verifies with the key"))?;
            let st = StatementRef::parse(&env.payload, limits)?;
            if !st.has_subject_digest(artifact) {
                return Err(fail(
                    "subject",
                    "the statement does not name the artifact's digest",
                ));
            }
            (p, Some(env.payload.clone()))
        }
    };
    // The log.
    let entries: Vec<TlogEntry> = serde_json::from_value(
        vm.get("tlogEntries")
            .cloned()
            .unwrap_or(Value::Array(vec![])),
    )
    .map_err(|e| fail("log entry", format!("malformed: {e}")))?;
    let [entry] = entries.as_slice() else {
        return Err(fail(
            "log entry",
            format!(
                "expected exactly one transparency log entry, found {}",
                entries.len()
            ),
        ));
    };
    let checked = entry
        .check(root, b.version == BundleVersion::V01)
        .map_err(|e| fail("transparency log", e.to_string()))?;
    check_body(entry, &checked.body, &b.content, artifact, key)?;
    Ok(VerifiedSigstoreBundle {
        artifact: *artifact,
        signing_time: checked.integrated_time,
        log_index: entry.log_index,
        key_hint: key.hint(),
        statement,
        _proof: proof,
    })
}

#[cfg(test)]
mod tests {
    //! The managed-key conformance bundle, and variants of it derived here (each changes one
    //! thing) that must fail at the named check.
    use super::*;

    fn case(rel: &str) -> Vec<u8> {
        std::fs::read(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/vectors/sigstore-conformance")
                .join(rel),
        )
        .unwrap()
    }

    fn setup() -> (Value, Sha256Digest, PublicKey, TrustedRoot) {
        let bundle: Value =
            serde_json::from_slice(&case("managed-key-happy-path/bundle.sigstore.json")).unwrap();
        let artifact = Sha256Digest::of(&case("a.txt"));
        let key = PublicKey::from_pem(&case("managed-key-happy-path/key.pub")).unwrap();
        (bundle, artifact, key, TrustedRoot::public_good().unwrap())
    }

    fn verify(
        b: &Value,
        artifact: &Sha256Digest,
        key: &PublicKey,
        root: &TrustedRoot,
    ) -> Result<(), String> {
        verify_with_key(
            &serde_json::to_vec(b).unwrap(),
            artifact,
            key,
            root,
            &Limits::DEFAULT,
        )
        .map(drop)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn happy_path_and_derived_failures() {
        let (b, artifact, key, root) = setup();
        verify(&b, &artifact, &key, &root).unwrap();
        let expect = |b: &Value, artifact: &Sha256Digest, check: &str| {
            let err = verify(b, artifact, &key, &root).expect_err(check);
            assert!(
                err.contains(check),
                "expected the {check} check, got: {err}"
            );
        };
        // Another artifact.
        expect(&b, &Sha256Digest::of(b"other"), "message digest");
        let entry = "/verificationMaterial/tlogEntries/0";
        // A forged signed entry timestamp.
        let mut x = b.clone();
        *x.pointer_mut(&format!("{entry}/inclusionPromise/signedEntryTimestamp"))
            .unwrap() = Value::from(
            "MEUCIQDMNM49CNrcrpuvB9G3likdSse0miAkY0ILCqzRGP5ZJQIgZnSS9GUSFVCar1+Sq3qoRtJIJ8x9tqRnQ8kuS1ojtTE=",
        );
        expect(&x, &artifact, "transparency log");
        // A corrupted inclusion proof.
        let mut x = b.clone();
        if let Some(Value::Array(h)) = x.pointer_mut(&format!("{entry}/inclusionProof/hashes")) {
            h.swap(0, 1);
        }
        expect(&x, &artifact, "transparency log");
        // A negative log index.
        let mut x = b.clone();
        *x.pointer_mut(&format!("{entry}/logIndex")).unwrap() = Value::from("-1");
        expect(&x, &artifact, "transparency log");
        // An unknown log.
        let mut x = b.clone();
        *x.pointer_mut(&format!("{entry}/logId/keyId")).unwrap() =
            Value::from("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        expect(&x, &artifact, "transparency log");
        // No log entry at all.
        let mut x = b.clone();
        *x.pointer_mut("/verificationMaterial/tlogEntries").unwrap() = Value::Array(vec![]);
        expect(&x, &artifact, "log entry");
        // Another key.
        let other = vouch_core::keys::SigningKey::generate()
            .unwrap()
            .public_key();
        let err = verify(&b, &artifact, &other, &root).unwrap_err();
        assert!(err.contains("signature check"), "{err}");
    }
}
