//! Sigstore trusted roots (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`): the keys
//! of transparency logs and CT logs, and the certificate chains of Fulcio CAs and timestamp
//! authorities, each with a validity window (ends inclusive; a key without a start is never
//! valid).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use p256::pkcs8::der::Decode as _;
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use serde::Deserialize;

use crate::digest::Sha256Digest;
use crate::time::parse_rfc3339;

/// The embedded public-good trusted root (sigstore-python 4.5.1's copy).
pub const PUBLIC_GOOD: &str = include_str!("public-good.json");

/// A malformed trusted root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted root: {0}")]
pub struct TrustedRootError(pub String);

/// A validity window in Unix seconds; both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start (`None`: never valid).
    pub start: Option<i64>,
    /// End (`None`: still valid).
    pub end: Option<i64>,
}

impl Validity {
    /// Whether `t` is inside the window.
    pub fn contains(&self, t: i64) -> bool {
        self.start.is_some_and(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

/// Signature algorithms of keys in trusted roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA P-384 with SHA-384.
    EcdsaP384Sha384,
    /// ECDSA P-256 with SHA-384 (seen in CMS signatures).
    EcdsaP256Sha384,
    /// ECDSA P-384 with SHA-256 (sigstore's TSA signs so).
    EcdsaP384Sha256,
    /// ECDSA P-521 with SHA-512.
    EcdsaP521Sha512,
    /// Ed25519.
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256 (older CT logs).
    RsaPkcs1Sha256,
    /// A key type vouch does not verify with; signatures by it never verify.
    Unsupported(String),
}

/// A public key from a trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationKey {
    /// The algorithm.
    pub algorithm: KeyAlgorithm,
    /// DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// The key itself (SEC1 point or 32 Ed25519 bytes).
    raw: Vec<u8>,
}

impl VerificationKey {
    /// Parses a DER SPKI with the algorithm the root declares (`keyDetails`).
    pub fn from_spki(spki: Vec<u8>, details: &str) -> Result<Self, TrustedRootError> {
        let algorithm = match details {
            "PKIX_ECDSA_P256_SHA_256" => KeyAlgorithm::EcdsaP256Sha256,
            "PKIX_ECDSA_P384_SHA_384" => KeyAlgorithm::EcdsaP384Sha384,
            "PKIX_ECDSA_P256_SHA_384" => KeyAlgorithm::EcdsaP256Sha384,
            "PKIX_ECDSA_P384_SHA_256" => KeyAlgorithm::EcdsaP384Sha256,
            "PKIX_ECDSA_P521_SHA_512" => KeyAlgorithm::EcdsaP521Sha512,
            "PKIX_ED25519" => KeyAlgorithm::Ed25519,
            "PKCS1_RSA_PKCS1V5"
            | "PKIX_RSA_PKCS1V5"
            | "PKIX_RSA_PKCS1V15_2048_SHA256"
            | "PKIX_RSA_PKCS1V15_3072_SHA256"
            | "PKIX_RSA_PKCS1V15_4096_SHA256" => KeyAlgorithm::RsaPkcs1Sha256,
            other => KeyAlgorithm::Unsupported(other.to_owned()),
        };
        if details.starts_with("PKCS1_") {
            // A bare PKCS#1 RSAPublicKey, not an SPKI.
            return Ok(Self {
                algorithm,
                raw: spki.clone(),
                spki,
            });
        }
        let parsed = SubjectPublicKeyInfoRef::from_der(&spki)
            .map_err(|e| TrustedRootError(format!("public key is not DER SPKI: {e}")))?;
        let raw = parsed
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| TrustedRootError("public key has unused bits".into()))?
            .to_vec();
        Ok(Self {
            algorithm,
            spki,
            raw,
        })
    }

    /// SHA-256 of the SPKI: sigstore's key id.
    pub fn key_id(&self) -> [u8; 32] {
        *Sha256Digest::of(&self.spki).as_bytes()
    }

    /// Checks `sig` (DER for ECDSA) over `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA384_ASN1, ECDSA_P384_SHA256_ASN1,
            ECDSA_P384_SHA384_ASN1, ECDSA_P521_SHA512_ASN1, ED25519, RSA_PKCS1_2048_8192_SHA256,
            UnparsedPublicKey, VerificationAlgorithm,
        };
        let alg: &'static dyn VerificationAlgorithm = match self.algorithm {
            KeyAlgorithm::EcdsaP256Sha256 => &ECDSA_P256_SHA256_ASN1,
            KeyAlgorithm::EcdsaP384Sha384 => &ECDSA_P384_SHA384_ASN1,
            KeyAlgorithm::EcdsaP256Sha384 => &ECDSA_P256_SHA384_ASN1,
            KeyAlgorithm::EcdsaP384Sha256 => &ECDSA_P384_SHA256_ASN1,
            KeyAlgorithm::EcdsaP521Sha512 => &ECDSA_P521_SHA512_ASN1,
            KeyAlgorithm::Ed25519 => &ED25519,
            KeyAlgorithm::RsaPkcs1Sha256 => &RSA_PKCS1_2048_8192_SHA256,
            KeyAlgorithm::Unsupported(_) => return false,
        };
        UnparsedPublicKey::new(alg, &self.raw)
            .verify(message, sig)
            .is_ok()
    }
}

/// A transparency log or CT log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparencyLog {
    /// Its URL.
    pub base_url: String,
    /// `logId.keyId`.
    pub log_id: Vec<u8>,
    /// Its key.
    pub key: VerificationKey,
    /// When the key is valid.
    pub validity: Validity,
}

/// A certificate authority (Fulcio) or timestamp authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    /// Its URI.
    pub uri: String,
    /// DER certificates, leaf-most first, root last.
    pub chain: Vec<Vec<u8>>,
    /// When it is valid.
    pub validity: Validity,
}

/// A parsed trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<TransparencyLog>,
    /// Certificate-transparency logs.
    pub ctlogs: Vec<TransparencyLog>,
    /// Fulcio CAs.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Timestamp authorities.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<WireLog>,
    #[serde(default)]
    ctlogs: Vec<WireLog>,
    #[serde(default)]
    certificate_authorities: Vec<WireCa>,
    #[serde(default)]
    timestamp_authorities: Vec<WireCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLog {
    #[serde(default)]
    base_url: String,
    public_key: WireKey,
    log_id: WireLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireKey {
    raw_bytes: String,
    key_details: String,
    #[serde(default)]
    valid_for: Option<WireValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCa {
    #[serde(default)]
    uri: String,
    cert_chain: WireChain,
    #[serde(default)]
    valid_for: Option<WireValidity>,
}

#[derive(Deserialize)]
struct WireChain {
    certificates: Vec<WireCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct WireValidity {
    start: Option<String>,
    end: Option<String>,
}

fn validity(v: Option<WireValidity>) -> Result<Validity, TrustedRootError> {
    let Some(v) = v else {
        return Ok(Validity {
            start: None,
            end: None,
        });
    };
    let t = |s: Option<String>| -> Result<Option<i64>, TrustedRootError> {
        s.map(|s| parse_rfc3339(&s).ok_or_else(|| TrustedRootError(format!("bad time `{s}`"))))
            .transpose()
    };
    Ok(Validity {
        start: t(v.start)?,
        end: t(v.end)?,
    })
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, TrustedRootError> {
    B64.decode(s)
        .map_err(|e| TrustedRootError(format!("{field} is not base64: {e}")))
}

impl TrustedRoot {
    /// Parses a trusted root document.
    pub fn parse(bytes: &[u8]) -> Result<Self, TrustedRootError> {
        let w: WireRoot = serde_json::from_slice(bytes)
            .map_err(|e| TrustedRootError(format!("not a trusted root: {e}")))?;
        if !w
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(TrustedRootError(format!(
                "media type `{}` is not a sigstore trusted root",
                w.media_type
            )));
        }
        let logs = |v: Vec<WireLog>| -> Result<Vec<TransparencyLog>, TrustedRootError> {
            v.into_iter()
                .map(|l| {
                    Ok(TransparencyLog {
                        base_url: l.base_url,
                        log_id: b64("logId.keyId", &l.log_id.key_id)?,
                        key: VerificationKey::from_spki(
                            b64("publicKey.rawBytes", &l.public_key.raw_bytes)?,
                            &l.public_key.key_details,
                        )?,
                        validity: validity(l.public_key.valid_for)?,
                    })
                })
                .collect()
        };
        let cas = |v: Vec<WireCa>| -> Result<Vec<CertificateAuthority>, TrustedRootError> {
            v.into_iter()
                .map(|c| {
                    Ok(CertificateAuthority {
                        uri: c.uri,
                        chain: c
                            .cert_chain
                            .certificates
                            .iter()
                            .map(|x| b64("certificates.rawBytes", &x.raw_bytes))
                            .collect::<Result<_, _>>()?,
                        validity: validity(c.valid_for)?,
                    })
                })
                .collect()
        };
        Ok(Self {
            tlogs: logs(w.tlogs)?,
            ctlogs: logs(w.ctlogs)?,
            certificate_authorities: cas(w.certificate_authorities)?,
            timestamp_authorities: cas(w.timestamp_authorities)?,
        })
    }

    /// The embedded public-good root.
    pub fn public_good() -> Result<Self, TrustedRootError> {
        Self::parse(PUBLIC_GOOD.as_bytes())
    }

    /// The transparency log with this log id.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_public_good_and_staging() {
        let root = TrustedRoot::public_good().unwrap();
        assert!(!root.tlogs.is_empty() && !root.ctlogs.is_empty());
        assert!(!root.certificate_authorities.is_empty());
        // Rekor v1's log id is the SHA-256 of its key.
        let rekor = root
            .tlogs
            .iter()
            .find(|l| l.base_url.contains("rekor.sigstore.dev"))
            .unwrap();
        assert_eq!(rekor.log_id, rekor.key.key_id());
        assert!(rekor.validity.contains(1_710_869_186));
        let staging = std::fs::read(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/vectors/trusted-roots/staging.json"),
        )
        .unwrap();
        TrustedRoot::parse(&staging).unwrap();
    }

    #[test]
    fn validity_ends_are_inclusive_and_start_required() {
        let v = Validity {
            start: Some(10),
            end: Some(20),
        };
        assert!(v.contains(10) && v.contains(20) && !v.contains(9) && !v.contains(21));
        assert!(
            !Validity {
                start: None,
                end: None
            }
            .contains(0)
        );
    }
}
