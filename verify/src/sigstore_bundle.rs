//! Sigstore bundles verified offline against a trusted root, with a public key (managed keys).
//! Each step is a named check in the error: the signature over the artifact (or the DSSE PAE),
//! the transparency-log entry (known log valid at the time, inclusion proof to a signed
//! checkpoint and/or signed entry timestamp), and that the entry's body is this artifact,
//! signature and key. Keyless (certificate) bundles are the keyless verifier's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use vouch_core::bundle::{Bundle, BundleContent, BundleVersion};
use vouch_core::digest::{ArtifactDigests, HashAlgorithm, Sha256Digest};
use vouch_core::keys::{KeyAlgorithm, PublicKey, ValidSignature};
use vouch_core::limits::Limits;
use vouch_core::payload::PayloadError;
use vouch_core::payload::intoto::{INTOTO_PAYLOAD_TYPE, StatementRef};
use vouch_core::sigstore::certificate::{CertIdentity, LeafCertificate};
use vouch_core::sigstore::tlog::TlogEntry;
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_core::sigstore::tsa::verify_timestamp;
use vouch_core::{Classify, ErrorClass};

/// Why a bundle did not verify; `check` names the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

/// A string that must match exactly, or an anchored regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Exactly this.
    Exact(String),
    /// This pattern, anchored at both ends.
    Regex(regex_lite::Regex),
}

impl Matcher {
    /// An anchored regular expression (as cosign's `--certificate-identity-regexp`).
    pub fn regex(pattern: &str) -> Result<Self, BundleError> {
        regex_lite::Regex::new(&format!("^(?:{pattern})$"))
            .map(Self::Regex)
            .map_err(|e| {
                BundleError::Unsupported(format!("invalid regular expression `{pattern}`: {e}"))
            })
    }

    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Self::Exact(x) => x == s,
            Self::Regex(r) => r.is_match(s),
        }
    }

    /// `exact` or `/regex/`.
    pub fn describe(&self) -> String {
        match self {
            Self::Exact(x) => format!("`{x}`"),
            Self::Regex(r) => format!("/{}/", r.as_str()),
        }
    }
}

/// Who must have signed: a key, or a certificate identity from Fulcio.
#[derive(Debug, Clone)]
pub enum Signer<'a> {
    /// A managed key.
    Key(&'a PublicKey),
    /// A keyless identity: the certificate's SAN and OIDC issuer.
    Identity {
        /// The SAN.
        subject: &'a Matcher,
        /// The OIDC issuer.
        issuer: &'a Matcher,
    },
}

/// Which verified source a signing time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The transparency log's integrated time, vouched for by its signed entry timestamp.
    TransparencyLog,
    /// An RFC 3161 timestamp by a TSA of the trusted root.
    Rfc3161,
}

impl TimeSource {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransparencyLog => "transparency-log integrated time",
            Self::Rfc3161 => "RFC 3161 timestamp",
        }
    }
}

/// A bundle whose every check passed. Only this module constructs one.
#[derive(Debug)]
pub struct VerifiedSigstoreBundle {
    artifact: ArtifactDigests,
    signing_time: Option<i64>,
    time_source: Option<TimeSource>,
    log_index: Option<i64>,
    key_hint: String,
    statement: Option<Vec<u8>>,
    /// The statement as read once here (its predicate type, subjects and where its predicate
    /// lies in `statement`), so that callers need not read it again.
    parsed: Option<ParsedStatement>,
    identity: Option<CertIdentity>,
    _proof: ValidSignature,
}

/// What a verified bundle's statement says, as read by [`StatementRef::parse`] with the limits
/// the bundle was verified with.
#[derive(Debug, Clone)]
pub(crate) struct ParsedStatement {
    pub(crate) predicate_type: String,
    pub(crate) subjects: Vec<vouch_core::payload::intoto::Subject>,
    pub(crate) predicate: Option<std::ops::Range<usize>>,
}

impl VerifiedSigstoreBundle {
    /// The artifact's digests, as given to the verifier.
    pub fn artifact(&self) -> &ArtifactDigests {
        &self.artifact
    }
    /// The log's integrated time, when the log vouched for one.
    pub fn signing_time(&self) -> Option<i64> {
        self.signing_time
    }
    /// Where the verified signing time came from.
    pub fn time_source(&self) -> Option<TimeSource> {
        self.time_source
    }
    /// The entry's index in the log (`None` for an offline key-signed bundle).
    pub fn log_index(&self) -> Option<i64> {
        self.log_index
    }
    /// The key's hint.
    pub fn key_hint(&self) -> &str {
        &self.key_hint
    }
    /// The statement as read during verification (DSSE bundles).
    pub(crate) fn parsed_statement(&self) -> Option<&ParsedStatement> {
        self.parsed.as_ref()
    }
    /// The in-toto statement bytes, for DSSE bundles.
    pub fn statement(&self) -> Option<&[u8]> {
        self.statement.as_deref()
    }
    /// The certificate identity, for keyless bundles.
    pub fn identity(&self) -> Option<&CertIdentity> {
        self.identity.as_ref()
    }
}

/// Who the log entry must name as the signer.
enum Verifier<'a> {
    Key(&'a PublicKey),
    Certificate(&'a [u8]),
}

impl Verifier<'_> {
    /// Whether a base64 PEM from a log entry is this verifier.
    fn is(&self, b64_pem: &str) -> bool {
        let Ok(pem) = B64.decode(b64_pem) else {
            return false;
        };
        match self {
            Verifier::Key(k) => PublicKey::from_pem(&pem).ok().as_ref() == Some(*k),
            Verifier::Certificate(der) => vouch_core::keys::decode_pem(&pem)
                .is_ok_and(|(label, body)| label == "CERTIFICATE" && body == *der),
        }
    }
}

/// The leaf certificate of the bundle's verification material.
fn leaf_of(vm: &Value) -> Result<LeafCertificate, BundleError> {
    const CHECK: &str = "verification material";
    let der = |v: &Value| -> Result<Vec<u8>, BundleError> {
        v.get("rawBytes")
            .and_then(Value::as_str)
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| fail(CHECK, "a certificate without base64 rawBytes"))
    };
    if let Some(c) = vm.get("certificate") {
        return LeafCertificate::from_der(&der(c)?).map_err(|e| fail(CHECK, e.to_string()));
    }
    if let Some(chain) = vm.get("x509CertificateChain") {
        let certs = chain
            .get("certificates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // Only the leaf is used: intermediates and roots come from the trusted root. Like
        // sigstore-python and sigstore-go, a chain that also carries the CA certificates (as
        // older clients wrote it) is read for its leaf alone.
        let Some(leaf) = certs.first() else {
            return Err(fail(CHECK, "the certificate chain is empty"));
        };
        return LeafCertificate::from_der(&der(leaf)?).map_err(|e| fail(CHECK, e.to_string()));
    }
    Err(fail(
        CHECK,
        "the bundle was signed with a key, but a certificate identity was given",
    ))
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

/// Checks that the log entry's body is about this artifact, signature and key.
fn check_body(
    entry: &TlogEntry,
    body: &[u8],
    content: &BundleContent,
    artifact: &ArtifactDigests,
    verifier: &Verifier<'_>,
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
            let logged = get(&v, "/spec/data/hash/algorithm")
                .and_then(HashAlgorithm::from_name)
                .and_then(|alg| artifact.get(alg));
            if logged.map(hex::encode).as_deref() != get(&v, "/spec/data/hash/value") {
                return Err(fail(CHECK, "the entry records another artifact digest"));
            }
            let logged = get(&v, "/spec/signature/content").and_then(|s| B64.decode(s).ok());
            if logged.as_deref() != Some(signature.as_slice()) {
                return Err(fail(CHECK, "the entry records another signature"));
            }
            if !get(&v, "/spec/signature/publicKey/content").is_some_and(|k| verifier.is(k)) {
                return Err(fail(CHECK, "the entry records another key or certificate"));
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
                    && get(s, "/verifier").is_some_and(|k| verifier.is(k))
            });
            if !ours {
                return Err(fail(CHECK, "the entry records other signatures or keys"));
            }
            Ok(())
        }
        (("intoto", "0.0.1"), BundleContent::Dsse(env)) => {
            // cosign ≤ 2.0's keyless attestations. Rekor keeps no envelope in these entries,
            // only `content.hash` (SHA-256 of the envelope as uploaded: the bytes cosign also
            // stores in the `.att` layer, Go's `json.Marshal` of the envelope, which
            // `Envelope::to_json` writes byte for byte) and, on entries after Rekor 1.1,
            // `content.payloadHash` (SHA-256 of the decoded payload); and the signer's
            // certificate or key.
            if get(&v, "/spec/content/hash/algorithm") != Some("sha256")
                || get(&v, "/spec/content/hash/value")
                    != Some(Sha256Digest::of(&env.to_json()).hex().as_str())
            {
                return Err(fail(CHECK, "the entry records another envelope"));
            }
            if let Some(ph) = v.pointer("/spec/content/payloadHash")
                && (get(ph, "/algorithm") != Some("sha256")
                    || get(ph, "/value") != Some(Sha256Digest::of(&env.payload).hex().as_str()))
            {
                return Err(fail(CHECK, "the entry records another payload"));
            }
            if !get(&v, "/spec/publicKey").is_some_and(|k| verifier.is(k)) {
                return Err(fail(CHECK, "the entry records another certificate or key"));
            }
            Ok(())
        }
        (("intoto", "0.0.2"), BundleContent::Dsse(env)) => {
            // intoto 0.0.2 stores the payload and signatures base64-encoded twice.
            let twice = |s: &str| B64.decode(s).ok().and_then(|x| B64.decode(x).ok());
            if get(&v, "/spec/content/payloadHash/algorithm") != Some("sha256")
                || get(&v, "/spec/content/payloadHash/value")
                    != Some(Sha256Digest::of(&env.payload).hex().as_str())
            {
                return Err(fail(CHECK, "the entry records another payload"));
            }
            let sigs = v
                .pointer("/spec/content/envelope/signatures")
                .and_then(Value::as_array);
            let ours = sigs.into_iter().flatten().any(|s| {
                let sig = get(s, "/sig").and_then(twice);
                env.signatures.iter().any(|e| Some(&e.sig) == sig.as_ref())
                    && get(s, "/publicKey").is_some_and(|k| verifier.is(k))
            });
            if !ours {
                return Err(fail(
                    CHECK,
                    "the entry records other signatures or certificates",
                ));
            }
            Ok(())
        }
        (("hashedrekord", "0.0.2"), content) => {
            let spec = v.pointer("/spec/hashedRekordV002").unwrap_or(&Value::Null);
            let alg = get(spec, "/data/algorithm").and_then(HashAlgorithm::from_name);
            let (digest, sig) = match content {
                BundleContent::MessageSignature { signature, .. } => (
                    alg.and_then(|a| artifact.get(a)).map(<[u8]>::to_vec),
                    signature.clone(),
                ),
                BundleContent::Dsse(env) => (
                    alg.map(|a| a.hash(&env.pae())),
                    env.signatures
                        .first()
                        .map(|s| s.sig.clone())
                        .unwrap_or_default(),
                ),
            };
            if digest.is_none()
                || get(spec, "/data/digest").and_then(|d| B64.decode(d).ok()) != digest
            {
                return Err(fail(CHECK, "the entry records another artifact digest"));
            }
            if get(spec, "/signature/content").and_then(|d| B64.decode(d).ok()) != Some(sig) {
                return Err(fail(CHECK, "the entry records another signature"));
            }
            let ok = match verifier {
                Verifier::Certificate(der) => {
                    get(spec, "/signature/verifier/x509Certificate/rawBytes")
                        .and_then(|d| B64.decode(d).ok())
                        .is_some_and(|d| d == *der)
                }
                Verifier::Key(k) => get(spec, "/signature/verifier/publicKey/rawBytes")
                    .and_then(|d| B64.decode(d).ok())
                    .is_some_and(|d| d == k.to_spki_der()),
            };
            if !ok {
                return Err(fail(CHECK, "the entry records another key or certificate"));
            }
            Ok(())
        }
        ((k, ver), _) => Err(BundleError::Unsupported(format!(
            "log entries of kind {k} {ver} with this content are not supported yet"
        ))),
    }
}

/// Verifies `bundle` over the artifact with digests `artifact`, signed by `key`.
pub fn verify_with_key(
    bundle: &[u8],
    artifact: &ArtifactDigests,
    key: &PublicKey,
    root: &TrustedRoot,
    limits: &Limits,
) -> Result<VerifiedSigstoreBundle, BundleError> {
    verify(bundle, artifact, &Signer::Key(key), root, limits)
}

/// Verifies `bundle` over the artifact with digests `artifact`, signed by `signer`. A message
/// signature is checked over the digest of the algorithm the bundle names (SHA-256, SHA-384
/// or SHA-512), which `artifact` must then hold; a DSSE statement must name the artifact under
/// an algorithm `artifact` holds.
pub fn verify(
    bundle: &[u8],
    artifact: &ArtifactDigests,
    signer: &Signer<'_>,
    root: &TrustedRoot,
    limits: &Limits,
) -> Result<VerifiedSigstoreBundle, BundleError> {
    let b = Bundle::parse(bundle, limits)?;
    let vm = &b.verification_material;
    let (key, leaf) = match signer {
        Signer::Key(k) => {
            if vm.get("certificate").is_some() || vm.get("x509CertificateChain").is_some() {
                return Err(fail(
                    "verification material",
                    "the bundle was signed with a certificate, but a key was given",
                ));
            }
            ((*k).clone(), None)
        }
        Signer::Identity { .. } => {
            let leaf = leaf_of(vm)?;
            let key = leaf
                .public_key()
                .map_err(|e| fail("verification material", e.to_string()))?;
            (key, Some(leaf))
        }
    };
    // The signature.
    let (proof, statement, parsed) = match &b.content {
        BundleContent::MessageSignature { digest, signature } => {
            // The bundle's digest algorithm (SHA2_256 when it names none).
            let alg = match digest {
                Some((name, _)) => HashAlgorithm::from_name(name).ok_or_else(|| {
                    fail(
                        "message digest",
                        format!("algorithm {name}, expected SHA2_256, SHA2_384 or SHA2_512"),
                    )
                })?,
                None => HashAlgorithm::Sha256,
            };
            let ours = artifact.get(alg).ok_or_else(|| {
                fail(
                    "message digest",
                    format!(
                        "the bundle signs the artifact's {} digest: give the artifact itself, or its {}:<hex> digest",
                        alg.name(),
                        alg.name()
                    ),
                )
            })?;
            if let Some((_, d)) = digest
                && d.as_slice() != ours
            {
                return Err(fail("message digest", "the bundle signs another artifact"));
            }
            let p = key
                .verify_prehashed(alg, ours, signature)
                .map_err(|e| fail("signature", e.to_string()))?;
            (p, None, None)
        }
        BundleContent::Dsse(env) => {
            if env.payload_type != INTOTO_PAYLOAD_TYPE {
                return Err(fail("DSSE", format!("payload type {}", env.payload_type)));
            }
            // A bundle's envelope carries exactly one signature (as sigstore's clients require):
            // the one the log entry and every timestamp are about.
            let [only] = env.signatures.as_slice() else {
                return Err(fail(
                    "DSSE",
                    format!(
                        "expected exactly one signature in the envelope, found {}",
                        env.signatures.len()
                    ),
                ));
            };
            // P-256 (nearly every bundle) over the PAE's digest, without building the PAE of
            // a large SBOM; other keys over the PAE with their own hash.
            let checked = if key.algorithm() == KeyAlgorithm::EcdsaP256 {
                key.verify_digest(&env.pae_digest(), &only.sig)
            } else {
                key.verify(&env.pae(), &only.sig)
            };
            let p = checked.map_err(|e| fail("signature", format!("the DSSE signature: {e}")))?;
            let st = StatementRef::parse(&env.payload, limits)?;
            let named = st.subjects.iter().any(|s| {
                artifact.matches_subject(s.digest.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            });
            if !named {
                return Err(fail(
                    "subject",
                    "the statement does not name the artifact's digest",
                ));
            }
            let parsed = ParsedStatement {
                predicate: st.predicate_span(&env.payload),
                predicate_type: st.predicate_type,
                subjects: st.subjects,
            };
            (p, Some(env.payload.clone()), Some(parsed))
        }
    };
    // The log.
    let entries: Vec<TlogEntry> = serde_json::from_value(
        vm.get("tlogEntries")
            .cloned()
            .unwrap_or(Value::Array(vec![])),
    )
    .map_err(|e| fail("log entry", format!("malformed: {e}")))?;
    // A key-signed bundle may be offline (no log entry): the key is the trust. A keyless one
    // needs its entry.
    let logged = match (entries.as_slice(), &leaf) {
        ([], None) => None,
        ([entry], _) => {
            // The version's proof (also refused by `Bundle::parse`; kept beside the check that
            // relies on it).
            if b.version != BundleVersion::V01 && entry.inclusion_proof.is_none() {
                return Err(fail(
                    "transparency log",
                    format!(
                        "a {} bundle's log entry must carry an inclusion proof",
                        b.version.as_str()
                    ),
                ));
            }
            let checked = entry
                .check(root, b.version == BundleVersion::V01)
                .map_err(|e| fail("transparency log", e.to_string()))?;
            Some((entry, checked))
        }
        (other, _) => {
            return Err(fail(
                "log entry",
                format!(
                    "expected exactly one transparency log entry, found {}",
                    other.len()
                ),
            ));
        }
    };
    let integrated_time = logged.as_ref().and_then(|(_, c)| c.integrated_time);
    // Verified times: the log's signed integration time and each RFC 3161 timestamp that
    // verifies over this bundle's signature. As sigstore-go and sigstore-python do, a timestamp
    // that does not verify (another TSA, other data) gives no time and is otherwise ignored: a
    // keyless bundle needs at least one verified time, and the certificate must be valid at
    // every verified time.
    let signature_bytes: &[u8] = match &b.content {
        BundleContent::MessageSignature { signature, .. } => signature,
        BundleContent::Dsse(env) => env.signatures.first().map_or(&[][..], |s| &s.sig[..]),
    };
    let mut times: Vec<i64> = integrated_time.into_iter().collect();
    let tokens = vm
        .pointer("/timestampVerificationData/rfc3161Timestamps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // sigstore-python's and sigstore-go's limits: at most 32 timestamps, none twice.
    const MAX_TIMESTAMPS: usize = 32;
    if tokens.len() > MAX_TIMESTAMPS {
        return Err(fail(
            "timestamp",
            format!(
                "too many RFC 3161 timestamps: {} (at most {MAX_TIMESTAMPS})",
                tokens.len()
            ),
        ));
    }
    let mut rejected = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in &tokens {
        let der = t
            .get("signedTimestamp")
            .and_then(Value::as_str)
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| {
                fail(
                    "timestamp",
                    "an RFC 3161 timestamp without base64 signedTimestamp",
                )
            })?;
        if !seen.insert(Sha256Digest::of(&der)) {
            return Err(fail(
                "timestamp",
                "the same RFC 3161 timestamp appears twice",
            ));
        }
        let time = match verify_timestamp(&der, signature_bytes, root) {
            Ok(time) => time,
            Err(e) => {
                rejected.push(e.to_string());
                continue;
            }
        };
        if let Some((_, checked)) = &logged
            && integrated_time.is_none()
            && !checked.log.validity.contains(time)
        {
            return Err(fail(
                "transparency log",
                "the log's key was not valid at the timestamped time",
            ));
        }
        times.push(time);
    }
    if times.is_empty() && leaf.is_some() {
        let why = if rejected.is_empty() {
            "neither a signed entry timestamp nor an RFC 3161 timestamp".to_owned()
        } else {
            format!("no RFC 3161 timestamp verified ({})", rejected.join("; "))
        };
        return Err(fail("time", format!("no verified signing time: {why}")));
    }
    // The certificate, at every verified time.
    let identity = match (&leaf, signer) {
        (Some(leaf), Signer::Identity { subject, issuer }) => {
            let Some(&first) = times.first() else {
                return Err(fail("time", "no verified signing time"));
            };
            let (_, issuer_spki) = leaf
                .verify_chain(root, first)
                .map_err(|e| fail("certificate", e.to_string()))?;
            for &t in &times[1..] {
                if t < leaf.not_before || t > leaf.not_after {
                    return Err(fail(
                        "certificate",
                        format!("a verified time ({t}) is outside the certificate's validity"),
                    ));
                }
            }
            leaf.verify_scts(root, &issuer_spki)
                .map_err(|e| fail("certificate", e.to_string()))?;
            let id = leaf
                .identity()
                .map_err(|e| fail("certificate", e.to_string()))?;
            if !subject.matches(&id.san) {
                return Err(fail(
                    "identity",
                    format!(
                        "the certificate's identity is `{}`, expected {}",
                        id.san,
                        subject.describe()
                    ),
                ));
            }
            let found = id.issuer.clone().unwrap_or_default();
            if !issuer.matches(&found) {
                return Err(fail(
                    "identity",
                    format!(
                        "the certificate's OIDC issuer is `{found}`, expected {}",
                        issuer.describe()
                    ),
                ));
            }
            Some(id)
        }
        _ => None,
    };
    let verifier = match &leaf {
        Some(l) => Verifier::Certificate(l.der()),
        None => Verifier::Key(&key),
    };
    if let Some((entry, checked)) = &logged {
        check_body(entry, &checked.body, &b.content, artifact, &verifier)?;
    }
    Ok(VerifiedSigstoreBundle {
        artifact: artifact.clone(),
        signing_time: times.first().copied(),
        time_source: match (integrated_time, times.is_empty()) {
            (Some(_), _) => Some(TimeSource::TransparencyLog),
            (None, false) => Some(TimeSource::Rfc3161),
            (None, true) => None,
        },
        log_index: logged.as_ref().map(|(e, _)| e.log_index),
        key_hint: key.hint(),
        statement,
        parsed,
        identity,
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
                .join("../tests/data/vectors/sigstore-conformance")
                .join(rel),
        )
        .unwrap()
    }

    fn setup() -> (Value, Sha256Digest, PublicKey, TrustedRoot) {
        // managed-key-and-trusted-root: no RFC 3161 timestamps, its own trusted root.
        let bundle: Value =
            serde_json::from_slice(&case("managed-key-and-trusted-root/bundle.sigstore.json"))
                .unwrap();
        let artifact = Sha256Digest::of(&case("a.txt"));
        let key = PublicKey::from_pem(&case("managed-key-and-trusted-root/key.pub")).unwrap();
        let root =
            TrustedRoot::parse(&case("managed-key-and-trusted-root/trusted_root.json")).unwrap();
        (bundle, artifact, key, root)
    }

    fn verify(
        b: &Value,
        artifact: &Sha256Digest,
        key: &PublicKey,
        root: &TrustedRoot,
    ) -> Result<(), String> {
        verify_with_key(
            &serde_json::to_vec(b).unwrap(),
            &(*artifact).into(),
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
        // No log entry at all: an offline key-signed bundle, trusted through the key alone.
        let mut x = b.clone();
        *x.pointer_mut("/verificationMaterial/tlogEntries").unwrap() = Value::Array(vec![]);
        let v = verify_with_key(
            &serde_json::to_vec(&x).unwrap(),
            &artifact.into(),
            &key,
            &root,
            &Limits::DEFAULT,
        )
        .unwrap();
        assert_eq!(v.log_index(), None);
        // Two entries: refused.
        let mut x = b.clone();
        let e = x["verificationMaterial"]["tlogEntries"][0].clone();
        x["verificationMaterial"]["tlogEntries"]
            .as_array_mut()
            .unwrap()
            .push(e);
        expect(&x, &artifact, "log entry");
        // Issue 20: the version rules. This bundle's entry has a promise and a proof, so it
        // verifies as every version; without the proof only v0.1 may verify, without the
        // promise only v0.2 and v0.3.
        let versions = [
            "application/vnd.dev.sigstore.bundle+json;version=0.1",
            "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "application/vnd.dev.sigstore.bundle+json;version=0.3",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
        ];
        for (i, media) in versions.iter().enumerate() {
            let mut x = b.clone();
            x["mediaType"] = Value::from(*media);
            verify(&x, &artifact, &key, &root).unwrap();
            let mut no_proof = x.clone();
            no_proof["verificationMaterial"]["tlogEntries"][0]
                .as_object_mut()
                .unwrap()
                .remove("inclusionProof");
            let mut no_promise = x.clone();
            no_promise["verificationMaterial"]["tlogEntries"][0]
                .as_object_mut()
                .unwrap()
                .remove("inclusionPromise");
            if i == 0 {
                verify(&no_proof, &artifact, &key, &root).unwrap();
                expect(&no_promise, &artifact, "inclusionPromise");
            } else {
                expect(&no_proof, &artifact, "inclusionProof");
                verify(&no_promise, &artifact, &key, &root).unwrap();
                let mut no_checkpoint = x.clone();
                no_checkpoint["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
                    .as_object_mut()
                    .unwrap()
                    .remove("checkpoint");
                expect(&no_checkpoint, &artifact, "checkpoint");
            }
        }
        for media in [
            "application/vnd.dev.sigstore.bundle.v0.4+json",
            "application/vnd.dev.sigstore.bundle+json",
            "application/json",
        ] {
            let mut x = b.clone();
            x["mediaType"] = Value::from(media);
            expect(&x, &artifact, "mediaType");
        }
        // Another key.
        let other = vouch_core::keys::SigningKey::generate()
            .unwrap()
            .public_key();
        let err = verify(&b, &artifact, &other, &root).unwrap_err();
        assert!(err.contains("signature check"), "{err}");
    }
}
