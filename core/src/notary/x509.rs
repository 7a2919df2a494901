//! Certificates the notation way (notation-core-go `x509/codesigning_cert_validations.go`):
//! the `x5c` chain must be complete and ordered, end at a self-signed root, each certificate
//! signed by the next; the leaf has critical key usage `digitalSignature` only, is not a CA and
//! carries no EKU other than code signing; CAs have `cA` and `keyCertSign`. Validity against a
//! time is checked by the caller, which picks the time (signing, timestamp or now).

use aws_lc_rs::signature as sig;
use der::asn1::{ObjectIdentifier, UintRef};
use der::{Decode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use super::envelope::SignatureAlgorithm;

const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// EKUs a code-signing leaf must not carry: serverAuth, clientAuth, emailProtection,
/// timeStamping, OCSPSigning.
const EXCLUDED_EKUS: [(&str, &str); 5] = [
    ("1.3.6.1.5.5.7.3.1", "ServerAuth"),
    ("1.3.6.1.5.5.7.3.2", "ClientAuth"),
    ("1.3.6.1.5.5.7.3.4", "EmailProtection"),
    ("1.3.6.1.5.5.7.3.8", "TimeStamping"),
    ("1.3.6.1.5.5.7.3.9", "OCSPSigning"),
];
/// id-kp-timeStamping.
pub(crate) const TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";

/// RFC 4055 `RSASSA-PSS-params`.
#[derive(Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer: Option<u32>,
}

/// A certificate problem, naming the certificate by its subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Not a DER X.509 certificate vouch can read.
    #[error("certificate: {0}")]
    Malformed(String),
    /// The chain is empty.
    #[error("certificate chain must contain at least one certificate")]
    EmptyChain,
    /// The last certificate is not a self-signed root.
    #[error(
        "root certificate with subject {0:?} is not self-signed; the chain must end with a self-signed root"
    )]
    RootNotSelfSigned(String),
    /// A leaf or intermediate is self-signed.
    #[error("certificate with subject {0:?} is self-signed but is not the root of the chain")]
    UnexpectedSelfSigned(String),
    /// A certificate is not issued by the next one.
    #[error("certificate with subject {subject:?} is not issued by {issuer:?}")]
    NotIssuedBy {
        /// The child.
        subject: String,
        /// The supposed issuer.
        issuer: String,
    },
    /// Key usage, EKU or basic constraints unfit for code signing.
    #[error("certificate with subject {subject:?}: {reason}")]
    Usage {
        /// The certificate.
        subject: String,
        /// What is wrong.
        reason: String,
    },
    /// A key or signature algorithm notation does not allow.
    #[error("certificate with subject {subject:?}: {reason}")]
    UnsupportedKey {
        /// The certificate.
        subject: String,
        /// What is wrong.
        reason: String,
    },
    /// The envelope's `alg` is not the one the signing key implies.
    #[error(
        "mismatch between signature algorithm derived from signing certificate ({from_key:?}) and signing algorithm specified ({specified:?})"
    )]
    AlgorithmMismatch {
        /// From the leaf's key.
        from_key: SignatureAlgorithm,
        /// In the envelope.
        specified: SignatureAlgorithm,
    },
    /// The signature does not verify with the leaf's key.
    #[error("signature is invalid: it does not verify with the signing certificate's key")]
    SignatureMismatch,
}

/// Why [`Cert::verify_signed`] failed.
#[derive(Debug)]
pub(crate) enum SignedError {
    Malformed(String),
    Unsupported(String),
    Invalid,
}

fn malformed(e: impl std::fmt::Display) -> CertError {
    CertError::Malformed(e.to_string())
}

/// A parsed certificate with the exact DER it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    cert: Certificate,
    not_before: i64,
    not_after: i64,
    subject: String,
}

impl Cert {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let cert = Certificate::from_der(der).map_err(malformed)?;
        // The TBS as it is in the input, not re-encoded.
        let Some(std::ops::Range { start, end }) = first_inner_span(der) else {
            return Err(malformed("truncated TBSCertificate"));
        };
        let v = cert.tbs_certificate().validity();
        let secs = |t: &x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).map_err(malformed)
        };
        Ok(Self {
            der: der.to_vec(),
            tbs: start..end,
            not_before: secs(&v.not_before)?,
            not_after: secs(&v.not_after)?,
            subject: cert.tbs_certificate().subject().to_string(),
            cert,
        })
    }

    /// The parsed certificate.
    pub(crate) fn certificate(&self) -> &Certificate {
        &self.cert
    }
    /// The DER SubjectPublicKeyInfo.
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, CertError> {
        der::Encode::to_der(self.cert.tbs_certificate().subject_public_key_info())
            .map_err(malformed)
    }
    /// The DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The subject, RFC 4514.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// notBefore, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }
    /// notAfter, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }
    /// Whether `time` is inside the validity.
    pub fn valid_at(&self, time: i64) -> bool {
        self.not_before <= time && time <= self.not_after
    }

    /// The subject's attributes by short name (`CN`, `O`, `OU`, `L`, `ST`, `C`, …), for
    /// `x509.subject:` matching. Repeated attributes keep all values.
    pub fn subject_attributes(&self) -> Vec<(String, String)> {
        name_attributes(self.cert.tbs_certificate().subject())
    }

    fn ext<T: for<'a> Decode<'a>>(
        &self,
        oid: ObjectIdentifier,
    ) -> Result<Option<(bool, T)>, CertError> {
        let Some(exts) = self.cert.tbs_certificate().extensions() else {
            return Ok(None);
        };
        let mut found = exts.iter().filter(|e| e.extn_id == oid);
        let Some(e) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(malformed(format!("extension {oid} appears twice")));
        }
        let v =
            T::from_der(e.extn_value.as_bytes()).map_err(|x| malformed(format!("{oid}: {x}")))?;
        Ok(Some((e.critical, v)))
    }

    fn is_ca(&self) -> Result<Option<BasicConstraints>, CertError> {
        Ok(self
            .ext::<BasicConstraints>(BASIC_CONSTRAINTS)?
            .map(|(_, b)| b)
            .filter(|b| b.ca))
    }

    /// Whether basic constraints say `cA`.
    pub fn is_ca_cert(&self) -> bool {
        matches!(self.is_ca(), Ok(Some(_)))
    }

    /// Whether the issuer and subject names match and the certificate verifies with its own key.
    pub fn is_self_signed(&self) -> bool {
        self.cert.tbs_certificate().issuer() == self.cert.tbs_certificate().subject()
            && self.verify_issued_by(self).is_ok()
    }

    /// Checks that `issuer` signed this certificate (names and signature).
    pub fn verify_issued_by(&self, issuer: &Cert) -> Result<(), CertError> {
        let not_issued = || CertError::NotIssuedBy {
            subject: self.subject.clone(),
            issuer: issuer.subject.clone(),
        };
        if self.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
            return Err(not_issued());
        }
        // The issuer's key errors name the issuer.
        issuer.key()?;
        let signature = self
            .cert
            .signature()
            .as_bytes()
            .ok_or_else(|| malformed("signature with unused bits"))?;
        match issuer.verify_signed(
            self.cert.signature_algorithm(),
            &self.der[self.tbs.clone()],
            signature,
        ) {
            Ok(()) => Ok(()),
            Err(SignedError::Malformed(m)) => Err(malformed(m)),
            Err(SignedError::Unsupported(r)) => Err(self.unsupported(r)),
            Err(SignedError::Invalid) => Err(not_issued()),
        }
    }

    /// Checks that this certificate's key made `signature` over `tbs` with `alg` (a
    /// certificate's or a CRL's signature algorithm).
    pub(crate) fn verify_signed(
        &self,
        alg: &AlgorithmIdentifierOwned,
        tbs: &[u8],
        signature: &[u8],
    ) -> Result<(), SignedError> {
        let (key_alg, curve, raw) = self.key().map_err(|e| match e {
            CertError::UnsupportedKey { reason, .. } => SignedError::Unsupported(reason),
            other => SignedError::Malformed(other.to_string()),
        })?;
        let algorithm: &dyn sig::VerificationAlgorithm = match (alg.oid, key_alg, curve) {
            (RSA_SHA256, RSA, _) => &sig::RSA_PKCS1_2048_8192_SHA256,
            (RSA_SHA384, RSA, _) => &sig::RSA_PKCS1_2048_8192_SHA384,
            (RSA_SHA512, RSA, _) => &sig::RSA_PKCS1_2048_8192_SHA512,
            (RSA_PSS, RSA, _) => {
                let params = alg
                    .parameters
                    .as_ref()
                    .ok_or_else(|| SignedError::Malformed("RSASSA-PSS without parameters".into()))?
                    .decode_as::<PssParams>()
                    .map_err(|e| SignedError::Malformed(e.to_string()))?;
                let hash = params.hash.map(|h| h.oid);
                match (hash, params.salt) {
                    (Some(SHA256), Some(32)) => &sig::RSA_PSS_2048_8192_SHA256,
                    (Some(SHA384), Some(48)) => &sig::RSA_PSS_2048_8192_SHA384,
                    (Some(SHA512), Some(64)) => &sig::RSA_PSS_2048_8192_SHA512,
                    _ => {
                        return Err(SignedError::Unsupported(
                            "RSASSA-PSS parameters other than SHA-2 with the hash's length as salt"
                                .into(),
                        ));
                    }
                }
            }
            (ECDSA_SHA256, EC, Some(P256)) => &sig::ECDSA_P256_SHA256_ASN1,
            (ECDSA_SHA384, EC, Some(P256)) => &sig::ECDSA_P256_SHA384_ASN1,
            (ECDSA_SHA256, EC, Some(P384)) => &sig::ECDSA_P384_SHA256_ASN1,
            (ECDSA_SHA384, EC, Some(P384)) => &sig::ECDSA_P384_SHA384_ASN1,
            (ECDSA_SHA512, EC, Some(P521)) => &sig::ECDSA_P521_SHA512_ASN1,
            (ECDSA_SHA384, EC, Some(P521)) => &sig::ECDSA_P521_SHA384_ASN1,
            (s, _, _) => {
                return Err(SignedError::Unsupported(format!(
                    "signature algorithm {s} with the issuer's key"
                )));
            }
        };
        sig::UnparsedPublicKey::new(algorithm, raw)
            .verify(tbs, signature)
            .map_err(|_| SignedError::Invalid)
    }

    fn unsupported(&self, reason: impl ToString) -> CertError {
        CertError::UnsupportedKey {
            subject: self.subject.clone(),
            reason: reason.to_string(),
        }
    }

    /// (key algorithm OID, curve OID for EC, key bytes).
    fn key(&self) -> Result<(ObjectIdentifier, Option<ObjectIdentifier>, &[u8]), CertError> {
        let spki = self.cert.tbs_certificate().subject_public_key_info();
        let curve = if spki.algorithm.oid == EC {
            Some(
                spki.algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                    .ok_or_else(|| self.unsupported("EC key without a named curve"))?,
            )
        } else {
            None
        };
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("public key with unused bits"))?;
        Ok((spki.algorithm.oid, curve, raw))
    }

    /// The signature algorithm the key implies (notation's `ExtractKeySpec`): RSA 2048 →
    /// PS256, 3072 → PS384, 4096 → PS512; P-256 → ES256, P-384 → ES384, P-521 → ES512.
    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, CertError> {
        let (alg, curve, raw) = self.key()?;
        match (alg, curve) {
            (RSA, _) => {
                let bits = rsa_bits(raw).ok_or_else(|| malformed("RSA public key"))?;
                match bits {
                    2048 => Ok(SignatureAlgorithm::Ps256),
                    3072 => Ok(SignatureAlgorithm::Ps384),
                    4096 => Ok(SignatureAlgorithm::Ps512),
                    b => Err(self.unsupported(format!("RSA key size {b} bits is not supported"))),
                }
            }
            (EC, Some(P256)) => Ok(SignatureAlgorithm::Es256),
            (EC, Some(P384)) => Ok(SignatureAlgorithm::Es384),
            (EC, Some(P521)) => Ok(SignatureAlgorithm::Es512),
            (a, c) => Err(self.unsupported(format!("key type {a} {c:?} is not supported"))),
        }
    }

    /// Checks a Notary signature made with this certificate's key.
    pub fn verify_signature(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CertError> {
        let from_key = self.signature_algorithm()?;
        if from_key != algorithm {
            return Err(CertError::AlgorithmMismatch {
                from_key,
                specified: algorithm,
            });
        }
        let (_, _, raw) = self.key()?;
        let alg: &dyn sig::VerificationAlgorithm = match algorithm {
            SignatureAlgorithm::Ps256 => &sig::RSA_PSS_2048_8192_SHA256,
            SignatureAlgorithm::Ps384 => &sig::RSA_PSS_2048_8192_SHA384,
            SignatureAlgorithm::Ps512 => &sig::RSA_PSS_2048_8192_SHA512,
            SignatureAlgorithm::Es256 => &sig::ECDSA_P256_SHA256_FIXED,
            SignatureAlgorithm::Es384 => &sig::ECDSA_P384_SHA384_FIXED,
            SignatureAlgorithm::Es512 => &sig::ECDSA_P521_SHA512_FIXED,
        };
        sig::UnparsedPublicKey::new(alg, raw)
            .verify(message, signature)
            .map_err(|_| CertError::SignatureMismatch)
    }

    fn usage(&self, reason: impl ToString) -> CertError {
        CertError::Usage {
            subject: self.subject.clone(),
            reason: reason.to_string(),
        }
    }

    fn check_leaf(&self, eku_required: Option<&str>) -> Result<(), CertError> {
        if self.is_ca()?.is_some() {
            return Err(self.usage(
                "if the basic constraints extension is present, the ca field must be set to false",
            ));
        }
        let (critical, ku) = self
            .ext::<KeyUsage>(KEY_USAGE)?
            .ok_or_else(|| self.usage("key usage extension must be present"))?;
        if !critical {
            return Err(self.usage("key usage extension must be marked critical"));
        }
        if !ku.digital_signature() {
            return Err(self
                .usage("the key usage must have the bit positions for \"Digital Signature\" set"));
        }
        if ku.key_encipherment()
            || ku.data_encipherment()
            || ku.key_agreement()
            || ku.key_cert_sign()
            || ku.crl_sign()
            || ku.encipher_only()
            || ku.decipher_only()
        {
            return Err(self.usage("the key usage must be \"Digital Signature\" only"));
        }
        let ekus = self
            .ext::<ExtendedKeyUsage>(EXT_KEY_USAGE)?
            .map(|(_, e)| e.0)
            .unwrap_or_default();
        match eku_required {
            None => {
                for (oid, name) in EXCLUDED_EKUS {
                    if ekus.iter().any(|e| e.to_string() == oid) {
                        return Err(
                            self.usage(format!("extended key usage must not contain {name} eku"))
                        );
                    }
                }
            }
            Some(required) => {
                if !ekus.iter().any(|e| e.to_string() == required) {
                    return Err(self.usage(format!("extended key usage must contain {required}")));
                }
            }
        }
        self.check_key_size()
    }

    fn check_key_size(&self) -> Result<(), CertError> {
        let (alg, _, raw) = self.key()?;
        if alg == RSA && rsa_bits(raw).is_none_or(|b| b < 2048) {
            return Err(self.unsupported("RSA keys shorter than 2048 bits are not supported"));
        }
        Ok(())
    }

    fn check_ca(&self, path_len: u8) -> Result<(), CertError> {
        let bc = self.is_ca()?.ok_or_else(|| {
            self.usage("ca field in basic constraints must be present, critical, and set to true")
        })?;
        if let Some(max) = bc.path_len_constraint
            && max < path_len
        {
            return Err(self.usage(format!(
                "expected path length of {path_len} but certificate has path length {max} instead"
            )));
        }
        let (critical, ku) = self
            .ext::<KeyUsage>(KEY_USAGE)?
            .ok_or_else(|| self.usage("key usage extension must be present"))?;
        if !critical {
            return Err(self.usage("key usage extension must be marked critical"));
        }
        if !ku.key_cert_sign() {
            return Err(self.usage("key usage must have the bit positions for key cert sign set"));
        }
        Ok(())
    }
}

fn rsa_bits(raw: &[u8]) -> Option<usize> {
    #[derive(Sequence)]
    struct RsaPublicKey<'a> {
        n: UintRef<'a>,
        _e: UintRef<'a>,
    }
    let k = RsaPublicKey::from_der(raw).ok()?;
    let n = k.n.as_bytes();
    let first = *n.first()?;
    Some(n.len() * 8 - first.leading_zeros() as usize)
}

fn name_attributes(name: &x509_cert::name::Name) -> Vec<(String, String)> {
    name.iter()
        .map(|atv| {
            let key = match atv.oid.to_string().as_str() {
                "2.5.4.3" => "CN".to_owned(),
                "2.5.4.6" => "C".to_owned(),
                "2.5.4.7" => "L".to_owned(),
                "2.5.4.8" => "ST".to_owned(),
                "2.5.4.10" => "O".to_owned(),
                "2.5.4.11" => "OU".to_owned(),
                "2.5.4.9" => "STREET".to_owned(),
                "2.5.4.17" => "POSTALCODE".to_owned(),
                "1.2.840.113549.1.9.1" => "E".to_owned(),
                other => other.to_owned(),
            };
            let value = String::from_utf8_lossy(atv.value.value()).into_owned();
            (key, value)
        })
        .collect()
}

/// Parses an `x5c` chain (DER, leaf first) and checks it the notation way: ordered, each
/// certificate issued by the next, ending at a self-signed root, code-signing leaf, CAs with
/// `cA` and `keyCertSign`. No time is checked here.
pub fn code_signing_chain(chain: &[Vec<u8>]) -> Result<Vec<Cert>, CertError> {
    check_chain(chain, None)
}

/// As [`code_signing_chain`] for a timestamping chain: the leaf must carry the
/// timeStamping EKU.
pub fn timestamping_chain(chain: &[Vec<u8>]) -> Result<Vec<Cert>, CertError> {
    check_chain(chain, Some(TIME_STAMPING))
}

fn check_chain(chain: &[Vec<u8>], eku: Option<&str>) -> Result<Vec<Cert>, CertError> {
    let certs = chain
        .iter()
        .map(|d| Cert::from_der(d))
        .collect::<Result<Vec<_>, _>>()?;
    let Some((root, _)) = certs.split_last() else {
        return Err(CertError::EmptyChain);
    };
    if certs.len() == 1 {
        if !root.is_self_signed() {
            return Err(CertError::RootNotSelfSigned(root.subject.clone()));
        }
        root.check_leaf(eku)?;
        return Ok(certs);
    }
    for (i, cert) in certs.iter().enumerate() {
        if i == certs.len() - 1 {
            if !cert.is_self_signed() {
                return Err(CertError::RootNotSelfSigned(cert.subject.clone()));
            }
        } else {
            if cert.is_self_signed() {
                return Err(CertError::UnexpectedSelfSigned(cert.subject.clone()));
            }
            cert.verify_issued_by(&certs[i + 1])?;
        }
        if i == 0 {
            cert.check_leaf(eku)?;
        } else {
            cert.check_ca(u8::try_from(i - 1).unwrap_or(u8::MAX))?;
        }
    }
    Ok(certs)
}

/// Where the first element inside the outer SEQUENCE of `der` lies (header included): the
/// signed part (TBS) of a certificate or CRL exactly as it is in the input, not re-encoded.
/// `None` when the headers do not parse or the element runs past the input.
pub(crate) fn first_inner_span(der: &[u8]) -> Option<std::ops::Range<usize>> {
    use der::Reader;
    let mut r = der::SliceReader::new(der).ok()?;
    let _outer = der::Header::decode(&mut r).ok()?;
    let start = usize::try_from(r.position()).ok()?;
    let inner = der::Header::decode(&mut r).ok()?;
    let end = usize::try_from((r.position() + inner.length()).ok()?).ok()?;
    (end <= der.len()).then_some(start..end)
}

/// Reads certificates from PEM (any number of `CERTIFICATE` blocks) or a single DER one.
pub fn read_certificates(bytes: &[u8], max: usize) -> Result<Vec<Cert>, CertError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Cert::from_der(bytes)?]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("neither PEM nor DER"))?;
    let blocks = pem_blocks(text, "CERTIFICATE", max).map_err(|e| match e {
        PemError::Malformed(m) => malformed(m),
        PemError::TooMany => malformed(format!("more than {max} certificates in one file")),
    })?;
    if blocks.is_empty() {
        return Err(malformed("no certificate"));
    }
    blocks.iter().map(|der| Cert::from_der(der)).collect()
}

/// Why [`pem_blocks`] failed.
pub(crate) enum PemError {
    /// Not PEM as expected (the message says how).
    Malformed(String),
    /// More blocks than allowed.
    TooMany,
}

/// The DER of every PEM block in `text` (text between blocks is ignored), each of which must be
/// labelled `label`; at most `max` blocks.
pub(crate) fn pem_blocks(text: &str, label: &str, max: usize) -> Result<Vec<Vec<u8>>, PemError> {
    let bad = |m: &str| PemError::Malformed(m.to_owned());
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end_marker = block
            .find("-----END ")
            .ok_or_else(|| bad("unterminated PEM block"))?;
        let after = &block[end_marker + 9..];
        let close = after
            .find("-----")
            .ok_or_else(|| bad("unterminated PEM block"))?;
        let len = end_marker + 9 + close + 5;
        let (found, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..len])
            .map_err(|e| PemError::Malformed(e.to_string()))?;
        if found != label {
            return Err(PemError::Malformed(format!(
                "a PEM block labelled {found:?}, not {label}"
            )));
        }
        if out.len() >= max {
            return Err(PemError::TooMany);
        }
        out.push(der);
        rest = &block[len..];
    }
    Ok(out)
}
