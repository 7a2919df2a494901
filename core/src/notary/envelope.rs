//! What a Notary Project signature envelope carries, whatever its format
//! (`specs/signature-specification.md`): the signed attributes, the certificate chain, the
//! unsigned timestamp countersignature, the exact signed bytes and the payload.

use serde::Deserialize;

use crate::limits::TooLarge;

/// The payload content type (`cty`) of every Notary Project signature.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// The JWS envelope media type.
pub const MEDIA_TYPE_JWS: &str = "application/jose+json";
/// The COSE envelope media type.
pub const MEDIA_TYPE_COSE: &str = "application/cose";
/// The artifact type of a Notary Project signature manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";

/// The Notary Project's header names (the same in JWS and COSE).
pub(crate) const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub(crate) const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub(crate) const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub(crate) const EXPIRY: &str = "io.cncf.notary.expiry";
pub(crate) const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

/// Caps on a Notary Project envelope and the files around it. Defaults fit every real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotaryLimits {
    /// An envelope. Default 4 MiB (notation's own cap for a signature blob is 4 MiB).
    pub envelope: usize,
    /// Certificates in the `x5c` chain. Default 10.
    pub chain: usize,
    /// A decoded payload. Default 256 KiB.
    pub payload: usize,
    /// Annotations in the target descriptor. Default 256.
    pub annotations: usize,
    /// `trustpolicy.json`. Default 1 MiB.
    pub policy: usize,
    /// Statements in a trust policy, and entries in any of a statement's lists. Default 256.
    pub policy_entries: usize,
    /// A trust-store certificate file. Default 1 MiB.
    pub store_file: usize,
    /// Files in one named trust store, and certificates in one file. Default 256.
    pub store_entries: usize,
}

impl NotaryLimits {
    /// The defaults documented on each field.
    pub const DEFAULT: NotaryLimits = NotaryLimits {
        envelope: 4 * 1024 * 1024,
        chain: 10,
        payload: 256 * 1024,
        annotations: 256,
        policy: 1024 * 1024,
        policy_entries: 256,
        store_file: 1024 * 1024,
        store_entries: 256,
    };
}

impl Default for NotaryLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The signature algorithms of the specification (RSASSA-PSS with the hash's length as salt,
/// ECDSA with the fixed-width `r || s` encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PSS with SHA-256 (RSA 2048).
    Ps256,
    /// RSASSA-PSS with SHA-384 (RSA 3072).
    Ps384,
    /// RSASSA-PSS with SHA-512 (RSA 4096).
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

impl SignatureAlgorithm {
    /// The JWS `alg` name.
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }

    /// From a JWS `alg` name.
    pub fn from_jws(name: &str) -> Option<Self> {
        Some(match name {
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            _ => return None,
        })
    }

    /// From a COSE algorithm identifier (RFC 9053: -37/-38/-39 PS*, -7/-35/-36 ES*).
    pub fn from_cose(id: i64) -> Option<Self> {
        Some(match id {
            -37 => Self::Ps256,
            -38 => Self::Ps384,
            -39 => Self::Ps512,
            -7 => Self::Es256,
            -35 => Self::Es384,
            -36 => Self::Es512,
            _ => return None,
        })
    }
}

/// The signing schemes (`io.cncf.notary.signingScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningScheme {
    /// `notary.x509`: the signing time is the signer's claim; an RFC 3161 countersignature
    /// makes it authentic.
    X509,
    /// `notary.x509.signingAuthority`: a signing authority vouches for the signing time.
    X509SigningAuthority,
}

impl SigningScheme {
    /// The name in the header.
    pub fn name(self) -> &'static str {
        match self {
            Self::X509 => "notary.x509",
            Self::X509SigningAuthority => "notary.x509.signingAuthority",
        }
    }

    /// From the header value.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "notary.x509" => Some(Self::X509),
            "notary.x509.signingAuthority" => Some(Self::X509SigningAuthority),
            _ => None,
        }
    }
}

/// The envelope formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvelopeFormat {
    /// JWS, flattened JSON serialisation.
    Jws,
    /// COSE_Sign1.
    Cose,
}

/// A structurally checked envelope: every header the specification requires is present and
/// well-formed, nothing is verified. Keeps the exact signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    pub(crate) format: EnvelopeFormat,
    pub(crate) algorithm: SignatureAlgorithm,
    pub(crate) scheme: SigningScheme,
    pub(crate) signing_time: i64,
    pub(crate) expiry: Option<i64>,
    pub(crate) chain: Vec<Vec<u8>>,
    pub(crate) timestamp_signature: Option<Vec<u8>>,
    pub(crate) signing_agent: Option<String>,
    pub(crate) signed_bytes: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) payload: Vec<u8>,
}

impl SignerInfo {
    /// The envelope format.
    pub fn format(&self) -> EnvelopeFormat {
        self.format
    }
    /// The signature algorithm the protected header names.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }
    /// The signing scheme.
    pub fn scheme(&self) -> SigningScheme {
        self.scheme
    }
    /// `io.cncf.notary.signingTime` (scheme `notary.x509`) or
    /// `io.cncf.notary.authenticSigningTime` (`notary.x509.signingAuthority`), Unix seconds.
    pub fn signing_time(&self) -> i64 {
        self.signing_time
    }
    /// `io.cncf.notary.expiry`, Unix seconds.
    pub fn expiry(&self) -> Option<i64> {
        self.expiry
    }
    /// The certificate chain, DER, leaf first.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }
    /// The RFC 3161 timestamp token over the signature, if any.
    pub fn timestamp_signature(&self) -> Option<&[u8]> {
        self.timestamp_signature.as_deref()
    }
    /// `io.cncf.notary.signingAgent`, unverified.
    pub fn signing_agent(&self) -> Option<&str> {
        self.signing_agent.as_deref()
    }
    /// The exact bytes the signature is over (JWS signing input, COSE `Sig_structure`).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed_bytes
    }
    /// The signature value (PSS bytes, or ECDSA `r || s`).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
    /// The payload bytes, as signed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// Parses an envelope by its media type.
pub fn parse_envelope(
    bytes: &[u8],
    media_type: &str,
    limits: &NotaryLimits,
) -> Result<SignerInfo, EnvelopeError> {
    match media_type {
        MEDIA_TYPE_JWS => super::jws::parse(bytes, limits),
        MEDIA_TYPE_COSE => super::cose::parse(bytes, limits),
        other => Err(EnvelopeError::UnsupportedMediaType(other.to_owned())),
    }
}

/// The artifact a signature is over: an OCI descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDescriptor {
    /// `mediaType`.
    pub media_type: String,
    /// `digest`, `algorithm:hex`.
    pub digest: String,
    /// `size`.
    pub size: u64,
    /// `annotations`, sorted.
    pub annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload {
    #[serde(rename = "targetArtifact")]
    target_artifact: RawDescriptor,
}

#[derive(Deserialize)]
struct RawDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

impl TargetDescriptor {
    /// Parses a payload (`{"targetArtifact": {...}}`). Call it on verified bytes only.
    pub fn from_payload(bytes: &[u8], limits: &NotaryLimits) -> Result<Self, EnvelopeError> {
        crate::limits::check_size("the payload", bytes.len(), limits.payload)?;
        let raw: RawPayload =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed {
                field: "payload",
                reason: e.to_string(),
            })?;
        let d = raw.target_artifact;
        let annotations = d.annotations.unwrap_or_default();
        if annotations.len() > limits.annotations {
            return Err(EnvelopeError::TooMany {
                what: "annotations",
                limit: limits.annotations,
            });
        }
        let well_formed = d.digest.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty()
                && !hex.is_empty()
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        });
        if !well_formed || d.media_type.is_empty() {
            return Err(EnvelopeError::Malformed {
                field: "payload targetArtifact",
                reason: "a descriptor needs a media type and an algorithm:hex digest".into(),
            });
        }
        Ok(Self {
            media_type: d.media_type,
            digest: d.digest,
            size: d.size,
            annotations,
        })
    }
}

/// Why an envelope cannot be read. Grouped: unsupported, malformed, limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Neither `application/jose+json` nor `application/cose`.
    #[error("signature envelope format with media type {0:?} is not supported")]
    UnsupportedMediaType(String),
    /// A field is not what the specification says.
    #[error("signature envelope: {field}: {reason}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A required header or field is absent.
    #[error("signature envelope: {0} is missing")]
    Missing(&'static str),
    /// `alg` is not one of PS256/384/512, ES256/384/512.
    #[error("signature algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    /// The signing scheme is neither `notary.x509` nor `notary.x509.signingAuthority`.
    #[error("signing scheme {0:?} is not supported")]
    UnsupportedSigningScheme(String),
    /// `cty` is not the Notary Project payload type.
    #[error("payload content type {0:?} is not supported")]
    UnsupportedContentType(String),
    /// A header that must be critical is not listed in `crit`.
    #[error("header {0:?} must be marked critical")]
    NotCritical(&'static str),
    /// `crit` lists a header vouch does not process (an extended attribute for a plugin).
    #[error("critical header {0:?} is not supported (notation would need a verification plugin)")]
    UnsupportedCritical(String),
    /// A header belongs to the other signing scheme.
    #[error("header {header:?} is not allowed under signing scheme {scheme:?}")]
    WrongSchemeHeader {
        /// The header.
        header: &'static str,
        /// The scheme.
        scheme: &'static str,
    },
    /// The expiry is not after the signing time.
    #[error("expiry cannot be equal or before the signing time")]
    ExpiryBeforeSigningTime,
    /// Too many entries.
    #[error("{what}: more than {limit}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Too large.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// The signing time for the scheme; the expiry after it.
pub(crate) fn check_times(
    scheme: SigningScheme,
    signing_time: Option<i64>,
    authentic_signing_time: Option<i64>,
    expiry: Option<i64>,
) -> Result<i64, EnvelopeError> {
    let time = match scheme {
        SigningScheme::X509 => {
            if authentic_signing_time.is_some() {
                return Err(EnvelopeError::WrongSchemeHeader {
                    header: "io.cncf.notary.authenticSigningTime",
                    scheme: scheme.name(),
                });
            }
            signing_time.ok_or(EnvelopeError::Missing("io.cncf.notary.signingTime"))?
        }
        SigningScheme::X509SigningAuthority => {
            if signing_time.is_some() {
                return Err(EnvelopeError::WrongSchemeHeader {
                    header: "io.cncf.notary.signingTime",
                    scheme: scheme.name(),
                });
            }
            authentic_signing_time.ok_or(EnvelopeError::Missing(
                "io.cncf.notary.authenticSigningTime",
            ))?
        }
    };
    if expiry.is_some_and(|e| e <= time) {
        return Err(EnvelopeError::ExpiryBeforeSigningTime);
    }
    Ok(time)
}
