//! RFC 3161 timestamp tokens, the one implementation behind sigstore's timestamp authorities
//! and Notary Project countersignatures: a CMS SignedData over a TSTInfo. [`TimestampToken::parse`]
//! reads the token (or the `TimeStampResp` around it) and checks what binds it together: the
//! content types and the signer's message-digest attribute over the TSTInfo.
//! [`TimestampToken::check_imprint`] checks what was timestamped and
//! [`TimestampToken::verify_signature`] the signer's signature over the signed attributes with
//! a key the caller trusts. Which key is trusted (a sigstore trusted root, a Notary `tsa` trust
//! store) is the caller's decision; an embedded certificate is never trusted here.

use aws_lc_rs::signature as sig;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{GeneralizedTime, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence, Tagged as _};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::AlgorithmIdentifierOwned;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The largest token or response read (real tokens with their chains are a few KiB).
pub const MAX_TOKEN_BYTES: usize = 256 * 1024;
/// The most certificates a token may embed.
pub const MAX_TOKEN_CERTIFICATES: usize = 16;

/// Why a timestamp does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RFC 3161 timestamp: {0}")]
pub struct TimestampError(pub String);

fn err(s: impl Into<String>) -> TimestampError {
    TimestampError(s.into())
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL,
/// micros [1] INTEGER OPTIONAL }`
#[derive(Sequence)]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<der::asn1::Int>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<der::asn1::Int>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<der::asn1::Int>,
}

/// `genTime`: a DER GeneralizedTime `YYYYMMDDhhmmss[.f*]Z`. RFC 3161 §2.4.2 allows fractions of
/// a second (trailing zeros removed, no trailing dot), which X.509's GeneralizedTime (and the `der`
/// crate's) refuses; real TSAs write them. Kept as whole Unix seconds, the fraction dropped.
struct TstTime {
    /// Whole Unix seconds.
    secs: i64,
    /// The value as read.
    raw: Vec<u8>,
}

impl der::FixedTag for TstTime {
    const TAG: der::Tag = der::Tag::GeneralizedTime;
}

impl<'a> der::DecodeValue<'a> for TstTime {
    type Error = der::Error;

    fn decode_value<R: der::Reader<'a>>(reader: &mut R, header: der::Header) -> der::Result<Self> {
        let bytes = reader.read_slice(header.length())?;
        let bad = || der::Error::from(der::Tag::GeneralizedTime.value_error());
        let (whole, rest) = bytes.split_at_checked(14).ok_or_else(bad)?;
        if !whole.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        match rest {
            b"Z" => {}
            [b'.', fraction @ .., b'Z']
                if !fraction.is_empty()
                    && fraction.iter().all(u8::is_ascii_digit)
                    && fraction.last() != Some(&b'0') => {}
            _ => return Err(bad()),
        }
        // The whole seconds, as the X.509 form the `der` crate checks (ranges, calendar).
        let mut x509 = [0u8; 15];
        x509[..14].copy_from_slice(whole);
        x509[14] = b'Z';
        let header = der::Header::new(der::Tag::GeneralizedTime, der::Length::new(15));
        let time = GeneralizedTime::decode_value(&mut der::SliceReader::new(&x509)?, header)?;
        let secs = i64::try_from(time.to_unix_duration().as_secs()).map_err(|_| bad())?;
        Ok(Self {
            secs,
            raw: bytes.to_vec(),
        })
    }
}

impl der::EncodeValue for TstTime {
    fn value_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.raw.len())
    }

    fn encode_value(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        writer.write(&self.raw)
    }
}

/// RFC 3161 `TSTInfo`.
#[derive(Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: der::asn1::Int,
    gen_time: TstTime,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<der::asn1::Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Vec<x509_cert::ext::Extension>>,
}

/// `PKIStatusInfo ::= SEQUENCE { status INTEGER, statusString ANY OPTIONAL, failInfo ANY OPTIONAL }`
#[derive(Sequence)]
struct PkiStatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<der::asn1::BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`
#[derive(Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    token: Option<ContentInfo>,
}

/// The token of a `TimeStampResp` (what sigstore bundles store), or a bare token.
fn token_of(der_bytes: &[u8]) -> Result<ContentInfo, TimestampError> {
    if let Ok(ci) = ContentInfo::from_der(der_bytes) {
        return Ok(ci);
    }
    let resp = TimeStampResp::from_der(der_bytes)
        .map_err(|e| err(format!("neither a TimeStampResp nor a TimeStampToken: {e}")))?;
    if resp.status.status > 1 {
        return Err(err(format!(
            "the TSA refused (status {})",
            resp.status.status
        )));
    }
    resp.token.ok_or_else(|| err("the response holds no token"))
}

fn hash(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, TimestampError> {
    Ok(match *alg {
        SHA256 => Sha256::digest(data).to_vec(),
        SHA384 => Sha384::digest(data).to_vec(),
        SHA512 => Sha512::digest(data).to_vec(),
        other => return Err(err(format!("unsupported hash algorithm {other}"))),
    })
}

/// RFC 5035 `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256,
/// certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }`.
#[derive(Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }`.
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// RFC 4055 `RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1,
/// maskGenAlgorithm [1] DEFAULT mgf1SHA1, saltLength [2] INTEGER DEFAULT 20,
/// trailerField [3] INTEGER DEFAULT 1 }`, every field explicitly tagged.
#[derive(Sequence)]
struct PssParamsDer {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_length: Option<der::asn1::Int>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<der::asn1::Int>,
}

/// The RSASSA-PSS parameters of a signer info, defaults applied (RFC 4055 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PssParams {
    hash: ObjectIdentifier,
    mgf: ObjectIdentifier,
    mgf_hash: ObjectIdentifier,
    salt_length: u64,
    trailer_field: u64,
}

/// A hash algorithm identifier's OID; its parameters NULL or absent (RFC 4055 §2.1 allows both).
fn hash_oid(alg: &AlgorithmIdentifierOwned) -> Result<ObjectIdentifier, TimestampError> {
    match &alg.parameters {
        Some(p) if p.tag() != der::Tag::Null || !p.value().is_empty() => Err(err(format!(
            "hash algorithm {} with parameters",
            hash_name(&alg.oid)
        ))),
        _ => Ok(alg.oid),
    }
}

impl PssParams {
    /// Reads `RSASSA-PSS-params` (absent parameters are all defaults; RFC 4055 says they must be
    /// present, but a default-only SEQUENCE and an absent one mean the same).
    fn parse(parameters: Option<&Any>) -> Result<Self, TimestampError> {
        let p = match parameters {
            None => None,
            Some(a) if a.tag() == der::Tag::Null => None,
            Some(a) => Some(
                a.decode_as::<PssParamsDer>()
                    .map_err(|e| err(format!("malformed RSASSA-PSS parameters: {e}")))?,
            ),
        };
        let p = p.unwrap_or(PssParamsDer {
            hash: None,
            mask_gen: None,
            salt_length: None,
            trailer_field: None,
        });
        let hash = p.hash.as_ref().map(hash_oid).transpose()?.unwrap_or(SHA1);
        let (mgf, mgf_hash) = match &p.mask_gen {
            None => (MGF1, SHA1),
            Some(m) => {
                let inner = m
                    .parameters
                    .as_ref()
                    .ok_or_else(|| err("mask generation function without its hash"))?
                    .decode_as::<AlgorithmIdentifierOwned>()
                    .map_err(|e| err(format!("malformed mask generation parameters: {e}")))?;
                (m.oid, hash_oid(&inner)?)
            }
        };
        let int = |i: &der::asn1::Int, what: &str| {
            small_int(i).map_err(|_| err(format!("RSASSA-PSS {what} out of range")))
        };
        Ok(Self {
            hash,
            mgf,
            mgf_hash,
            salt_length: p
                .salt_length
                .as_ref()
                .map(|i| int(i, "salt length"))
                .transpose()?
                .unwrap_or(20),
            trailer_field: p
                .trailer_field
                .as_ref()
                .map(|i| int(i, "trailer field"))
                .transpose()?
                .unwrap_or(1),
        })
    }

    /// The verification algorithm for these parameters, with the signer info's digest
    /// algorithm: what Go's crypto/x509 (and so notation's tspclient-go and sigstore-go)
    /// verify, SHA-256/384/512 with MGF1 over the same hash, a salt as long as the hash and
    /// the trailer 0xbc; anything else is refused by name.
    fn algorithm(
        &self,
        digest_alg: &ObjectIdentifier,
    ) -> Result<&'static sig::RsaParameters, TimestampError> {
        let (alg, len): (&'static sig::RsaParameters, u64) = match self.hash {
            SHA256 => (&sig::RSA_PSS_2048_8192_SHA256, 32),
            SHA384 => (&sig::RSA_PSS_2048_8192_SHA384, 48),
            SHA512 => (&sig::RSA_PSS_2048_8192_SHA512, 64),
            h => {
                return Err(err(format!(
                    "RSASSA-PSS with {}: only SHA-256, SHA-384 and SHA-512 are supported",
                    hash_name(&h)
                )));
            }
        };
        let hash = hash_name(&self.hash);
        if self.hash != *digest_alg {
            return Err(err(format!(
                "RSASSA-PSS with {hash} but the signer's digest algorithm is {}",
                hash_name(digest_alg)
            )));
        }
        if self.mgf != MGF1 {
            return Err(err(format!(
                "RSASSA-PSS with the mask generation function {}: only MGF1 is supported",
                self.mgf
            )));
        }
        if self.mgf_hash != self.hash {
            return Err(err(format!(
                "RSASSA-PSS with {hash} and MGF1 over {}: only MGF1 over the same hash is supported",
                hash_name(&self.mgf_hash)
            )));
        }
        if self.salt_length != len {
            return Err(err(format!(
                "RSASSA-PSS with {hash} and a salt of {} bytes: only a salt as long as the hash ({len} bytes) is supported",
                self.salt_length
            )));
        }
        if self.trailer_field != 1 {
            return Err(err(format!(
                "RSASSA-PSS trailer field {}: only 1 (0xbc) is defined",
                self.trailer_field
            )));
        }
        Ok(alg)
    }
}

/// A hash algorithm's name, for messages.
fn hash_name(oid: &ObjectIdentifier) -> String {
    match *oid {
        SHA1 => "SHA-1".into(),
        SHA224 => "SHA-224".into(),
        SHA256 => "SHA-256".into(),
        SHA384 => "SHA-384".into(),
        SHA512 => "SHA-512".into(),
        other => format!("hash algorithm {other}"),
    }
}

/// A parsed RFC 3161 `TimeStampToken` whose TSTInfo is bound to its signer's signed attributes
/// (content type and message digest checked). Neither the imprint nor the signature is checked
/// by parsing: see [`TimestampToken::check_imprint`] and [`TimestampToken::verify_signature`].
#[derive(Debug, Clone)]
pub struct TimestampToken {
    gen_time: i64,
    fraction: bool,
    accuracy_micros: Option<u64>,
    imprint_alg: ObjectIdentifier,
    imprint: Vec<u8>,
    nonce: Option<Vec<u8>>,
    certificates: Vec<x509_cert::Certificate>,
    sid: SignerIdentifier,
    digest_alg: ObjectIdentifier,
    signature_alg: ObjectIdentifier,
    /// The RSASSA-PSS parameters when `signature_alg` is id-RSASSA-PSS.
    pss: Option<PssParams>,
    signature: Vec<u8>,
    signed_attrs: Vec<u8>,
    /// The signing-certificate-v2 attribute's first certificate hash (algorithm, hash).
    signing_cert: Option<(ObjectIdentifier, Vec<u8>)>,
}

fn small_int(i: &der::asn1::Int) -> Result<u64, TimestampError> {
    let b = i.as_bytes();
    if b.len() > 4 || b.first().is_some_and(|f| f & 0x80 != 0) {
        return Err(err("accuracy out of range"));
    }
    Ok(b.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x)))
}

impl TimestampToken {
    /// Parses a DER `TimeStampToken`, or a `TimeStampResp` that grants one.
    pub fn parse(der_bytes: &[u8]) -> Result<Self, TimestampError> {
        if der_bytes.len() > MAX_TOKEN_BYTES {
            return Err(err(format!("larger than {MAX_TOKEN_BYTES} bytes")));
        }
        let ci = token_of(der_bytes)?;
        if ci.content_type != ID_SIGNED_DATA {
            return Err(err("not a CMS SignedData"));
        }
        let sd: SignedData = ci
            .content
            .decode_as()
            .map_err(|e| err(format!("malformed SignedData: {e}")))?;
        if sd.encap_content_info.econtent_type != ID_CT_TSTINFO {
            return Err(err("the signed content is not a TSTInfo"));
        }
        let econtent = sd
            .encap_content_info
            .econtent
            .as_ref()
            .ok_or_else(|| err("no TSTInfo"))?;
        let tst_der = econtent
            .decode_as::<OctetString>()
            .map_err(|e| err(format!("malformed eContent: {e}")))?;
        let tst = TstInfo::from_der(tst_der.as_bytes())
            .map_err(|e| err(format!("malformed TSTInfo: {e}")))?;
        if tst.version != 1 {
            return Err(err(format!("TSTInfo version {}", tst.version)));
        }
        // The signer's signed attributes bind the TSTInfo.
        let [si] = sd.signer_infos.0.as_slice() else {
            return Err(err("expected exactly one signer"));
        };
        let attrs = si
            .signed_attrs
            .as_ref()
            .ok_or_else(|| err("no signed attributes"))?;
        let attr = |oid: ObjectIdentifier| {
            let mut found = attrs.iter().filter(|a| a.oid == oid);
            match (found.next(), found.next()) {
                (Some(a), None) if a.values.len() == 1 => a.values.iter().next(),
                _ => None,
            }
        };
        let content_type = attr(ID_CONTENT_TYPE)
            .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
            .ok_or_else(|| err("no single content-type attribute"))?;
        if content_type != ID_CT_TSTINFO {
            return Err(err("the content-type attribute is not TSTInfo"));
        }
        let digest = attr(ID_MESSAGE_DIGEST)
            .and_then(|v| v.decode_as::<OctetString>().ok())
            .ok_or_else(|| err("no single message-digest attribute"))?;
        if digest.as_bytes() != hash(&si.digest_alg.oid, tst_der.as_bytes())? {
            return Err(err(
                "the message-digest attribute does not match the TSTInfo",
            ));
        }
        let signing_cert = match attrs.iter().find(|a| a.oid == ID_SIGNING_CERTIFICATE_V2) {
            None => None,
            Some(a) => {
                let v = a
                    .values
                    .iter()
                    .next()
                    .ok_or_else(|| err("empty signing-certificate-v2 attribute"))?;
                let sc: SigningCertificateV2 = v
                    .decode_as()
                    .map_err(|e| err(format!("malformed signing-certificate-v2: {e}")))?;
                let first = sc
                    .certs
                    .into_iter()
                    .next()
                    .ok_or_else(|| err("signing-certificate-v2 names no certificate"))?;
                Some((
                    first.hash_algorithm.map_or(SHA256, |h| h.oid),
                    first.cert_hash.as_bytes().to_vec(),
                ))
            }
        };
        let signed_attrs = attrs.to_der().map_err(|e| err(e.to_string()))?;
        let pss = (si.signature_algorithm.oid == RSASSA_PSS)
            .then(|| PssParams::parse(si.signature_algorithm.parameters.as_ref()))
            .transpose()?;
        let mut certificates = Vec::new();
        for c in sd.certificates.iter().flat_map(|s| s.0.iter()) {
            if let CertificateChoices::Certificate(c) = c {
                if certificates.len() >= MAX_TOKEN_CERTIFICATES {
                    return Err(err(format!(
                        "more than {MAX_TOKEN_CERTIFICATES} embedded certificates"
                    )));
                }
                certificates.push(c.clone());
            }
        }
        let accuracy_micros = tst
            .accuracy
            .as_ref()
            .map(|a| -> Result<u64, TimestampError> {
                let s = a.seconds.as_ref().map(small_int).transpose()?.unwrap_or(0);
                let ms = a.millis.as_ref().map(small_int).transpose()?.unwrap_or(0);
                let us = a.micros.as_ref().map(small_int).transpose()?.unwrap_or(0);
                Ok(s * 1_000_000 + ms * 1_000 + us)
            })
            .transpose()?;
        Ok(Self {
            gen_time: tst.gen_time.secs,
            fraction: tst.gen_time.raw.contains(&b'.'),
            accuracy_micros,
            imprint_alg: tst.message_imprint.hash_algorithm.oid,
            imprint: tst.message_imprint.hashed_message.as_bytes().to_vec(),
            nonce: tst.nonce.map(|n| n.as_bytes().to_vec()),
            certificates,
            sid: si.sid.clone(),
            digest_alg: si.digest_alg.oid,
            signature_alg: si.signature_algorithm.oid,
            pss,
            signature: si.signature.as_bytes().to_vec(),
            signed_attrs,
            signing_cert,
        })
    }

    /// Checks that the token timestamps `message` (its hash under the imprint's algorithm,
    /// SHA-256, SHA-384 or SHA-512).
    pub fn check_imprint(&self, message: &[u8]) -> Result<(), TimestampError> {
        if hash(&self.imprint_alg, message)? != self.imprint {
            return Err(err("the timestamp is over other data than this signature"));
        }
        Ok(())
    }

    /// `genTime`, whole Unix seconds (a fraction dropped).
    pub fn gen_time(&self) -> i64 {
        self.gen_time
    }

    /// The interval the TSA vouches for, Unix seconds: `genTime` ± accuracy, widened to whole
    /// seconds (an absent accuracy counts as zero; a dropped fraction widens the end by one).
    pub fn time_range(&self) -> (i64, i64) {
        let acc = self.accuracy_micros.map_or(0, |m| {
            i64::try_from(m.div_ceil(1_000_000)).unwrap_or(i64::MAX)
        });
        let end_extra = i64::from(self.fraction);
        (
            self.gen_time.saturating_sub(acc),
            self.gen_time.saturating_add(acc).saturating_add(end_extra),
        )
    }

    /// The nonce, as its INTEGER content bytes.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    /// The certificates the token embeds (untrusted).
    pub fn certificates(&self) -> &[x509_cert::Certificate] {
        &self.certificates
    }

    /// Whether `cert` is the one the signer info names (issuer and serial number, or subject
    /// key identifier).
    pub fn names_signer(&self, cert: &x509_cert::Certificate) -> bool {
        let tbs = cert.tbs_certificate();
        match &self.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                ias.issuer == *tbs.issuer() && ias.serial_number == *tbs.serial_number()
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
                .get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, k)| k.0.as_bytes() == ski.0.as_bytes()),
        }
    }

    /// When the signed attributes carry RFC 5035's signing-certificate-v2, checks that it names
    /// `cert_der` (the certificate whose key verifies the signature); without it, nothing.
    pub fn check_signing_certificate(&self, cert_der: &[u8]) -> Result<(), TimestampError> {
        match &self.signing_cert {
            None => Ok(()),
            Some((alg, h)) if hash(alg, cert_der)? == *h => Ok(()),
            Some(_) => Err(err(
                "the signing-certificate-v2 attribute names another certificate than the signer's",
            )),
        }
    }

    /// Verifies the signer's signature over the signed attributes with the key of `spki_der`
    /// (a DER SubjectPublicKeyInfo the caller trusts): ECDSA P-256/P-384/P-521, or RSA (2048
    /// to 8192 bits) PKCS #1 v1.5 or RSASSA-PSS (MGF1 over the same hash, a salt as long as the
    /// hash) with SHA-2.
    pub fn verify_signature(&self, spki_der: &[u8]) -> Result<(), TimestampError> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
            .map_err(|e| err(format!("public key: {e}")))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| err("public key with unused bits"))?;
        let alg: &dyn sig::VerificationAlgorithm = if spki.algorithm.oid == EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|_| err("EC key without a named curve"))?;
            match (curve, self.signature_alg) {
                (P256, ECDSA_SHA256) => &sig::ECDSA_P256_SHA256_ASN1,
                (P256, ECDSA_SHA384) => &sig::ECDSA_P256_SHA384_ASN1,
                (P384, ECDSA_SHA256) => &sig::ECDSA_P384_SHA256_ASN1,
                (P384, ECDSA_SHA384) => &sig::ECDSA_P384_SHA384_ASN1,
                (P521, ECDSA_SHA384) => &sig::ECDSA_P521_SHA384_ASN1,
                (P521, ECDSA_SHA512) => &sig::ECDSA_P521_SHA512_ASN1,
                (c, s) => return Err(err(format!("unsupported key/signature pair {c} / {s}"))),
            }
        } else if spki.algorithm.oid == RSA_ENCRYPTION
            && let Some(pss) = &self.pss
        {
            pss.algorithm(&self.digest_alg)?
        } else if spki.algorithm.oid == RSA_ENCRYPTION {
            let hash = match self.signature_alg {
                RSA_SHA256 => SHA256,
                RSA_SHA384 => SHA384,
                RSA_SHA512 => SHA512,
                // CMS allows the bare key algorithm, the hash being the digest algorithm's.
                RSA_ENCRYPTION => self.digest_alg,
                s => return Err(err(format!("unsupported signature algorithm {s}"))),
            };
            match hash {
                SHA256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                SHA384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                SHA512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                h => return Err(err(format!("unsupported hash algorithm {h}"))),
            }
        } else {
            return Err(err(format!(
                "unsupported key algorithm {}",
                spki.algorithm.oid
            )));
        };
        sig::UnparsedPublicKey::new(alg, raw)
            .verify(&self.signed_attrs, &self.signature)
            .map_err(|_| err("the signature does not verify with the timestamp authority's key"))
    }
}

#[cfg(test)]
mod gen_time_tests {
    use super::TstTime;
    use der::Decode as _;

    fn der(text: &str) -> Vec<u8> {
        let mut v = vec![0x18, u8::try_from(text.len()).unwrap()];
        v.extend_from_slice(text.as_bytes());
        v
    }

    /// RFC 3161 §2.4.2: fractions of a second, trailing zeros removed (what sigstore-js's mock
    /// TSA and real TSAs write), as well as whole seconds.
    #[test]
    fn fractions_of_a_second() {
        for (text, secs) in [
            ("20261130214802Z", 1_796_075_282),
            ("20261130214802.223Z", 1_796_075_282),
            ("20261130214802.5Z", 1_796_075_282),
        ] {
            assert_eq!(TstTime::from_der(&der(text)).unwrap().secs, secs, "{text}");
        }
        for bad in [
            "20261130214802.220Z",
            "20261130214802.Z",
            "20261130214802",
            "20261130214802.2",
            "2026113021480Z",
            "20261130246002Z",
            "20261130214802+0100",
        ] {
            assert!(TstTime::from_der(&der(bad)).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
pub(crate) mod pss_tests {
    //! RSASSA-PSS tokens made by OpenSSL (tests/data/rfc3161-pss, keys-test/openssl_tsa.py).
    use super::*;

    /// A file of tests/data/rfc3161-pss (also read by the sigstore TSA tests).
    pub(crate) fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/rfc3161-pss")
                .join(name),
        )
        .unwrap()
    }

    /// The TSA certificate's DER and its SubjectPublicKeyInfo.
    fn tsa() -> (Vec<u8>, Vec<u8>) {
        let pem = String::from_utf8(data("tsa.pem")).unwrap();
        let (_, cert_der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
        let cert = x509_cert::Certificate::from_der(&cert_der).unwrap();
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap();
        (cert_der, spki)
    }

    fn message() -> Vec<u8> {
        data("message.txt")
    }

    /// The token with its signer info's signature algorithm or signature changed by `f`.
    fn rewrite(token: &[u8], f: impl FnOnce(&mut cms::signed_data::SignerInfo)) -> Vec<u8> {
        let ci = ContentInfo::from_der(token).unwrap();
        let mut sd: SignedData = ci.content.decode_as().unwrap();
        let mut infos = sd.signer_infos.0.into_vec();
        f(&mut infos[0]);
        sd.signer_infos = cms::signed_data::SignerInfos(infos.try_into().unwrap());
        ContentInfo {
            content_type: ci.content_type,
            content: Any::encode_from(&sd).unwrap(),
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn pss_tokens_with_sha2_verify() {
        let (cert, spki) = tsa();
        for name in [
            "pss-sha256.tst",
            "pss-sha384.tst",
            "pss-sha512.tst",
            "pkcs1-sha256.tst",
        ] {
            let t = TimestampToken::parse(&data(name)).unwrap();
            t.check_imprint(&message()).unwrap();
            t.verify_signature(&spki)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            t.check_signing_certificate(&cert).unwrap();
            assert!(t.names_signer(&x509_cert::Certificate::from_der(&cert).unwrap()));
            assert!(
                t.check_imprint(b"another message").is_err(),
                "{name}: another imprint"
            );
        }
        let t = TimestampToken::parse(&data("pss-sha256.tst")).unwrap();
        assert_eq!(
            t.pss,
            Some(PssParams {
                hash: SHA256,
                mgf: MGF1,
                mgf_hash: SHA256,
                salt_length: 32,
                trailer_field: 1
            })
        );
    }

    /// OpenSSL omits the parameters that have their default (RFC 4055): salt 20, MGF1-SHA-1.
    /// Both are refused by name, as Go's crypto/x509 (notation) does not verify them either.
    #[test]
    fn other_salt_lengths_and_mgf1_hashes_are_refused_by_name() {
        let (_, spki) = tsa();
        let t = TimestampToken::parse(&data("pss-sha256-salt20.tst")).unwrap();
        t.check_imprint(&message()).unwrap();
        let e = t.verify_signature(&spki).unwrap_err().to_string();
        assert!(
            e.contains("a salt of 20 bytes") && e.contains("(32 bytes)"),
            "{e}"
        );
        let t = TimestampToken::parse(&data("pss-sha256-mgf1-sha1.tst")).unwrap();
        let e = t.verify_signature(&spki).unwrap_err().to_string();
        assert!(e.contains("MGF1 over SHA-1"), "{e}");
    }

    #[test]
    fn a_tampered_pss_signature_does_not_verify() {
        let (_, spki) = tsa();
        let token = rewrite(&data("pss-sha256.tst"), |si| {
            let mut sig = si.signature.as_bytes().to_vec();
            sig[7] ^= 1;
            si.signature = OctetString::new(sig).unwrap();
        });
        let t = TimestampToken::parse(&token).unwrap();
        let e = t.verify_signature(&spki).unwrap_err().to_string();
        assert!(e.contains("does not verify"), "{e}");
    }

    /// A signature salted with 20 bytes whose parameters are rewritten to claim 32 (what is
    /// supported): the signature itself does not verify.
    #[test]
    fn a_salt_other_than_the_parameters_say_does_not_verify() {
        let (_, spki) = tsa();
        let claimed = rewrite(&data("pss-sha256-salt20.tst"), |si| {
            si.signature_algorithm.parameters = Some(params_salt32());
        });
        let t = TimestampToken::parse(&claimed).unwrap();
        assert_eq!(t.pss.map(|p| p.salt_length), Some(32));
        let e = t.verify_signature(&spki).unwrap_err().to_string();
        assert!(e.contains("does not verify"), "{e}");
    }

    /// The parameters of pss-sha256.tst (SHA-256, MGF1-SHA-256, salt 32).
    fn params_salt32() -> Any {
        let ci = ContentInfo::from_der(&data("pss-sha256.tst")).unwrap();
        let sd: SignedData = ci.content.decode_as().unwrap();
        sd.signer_infos.0.as_slice()[0]
            .signature_algorithm
            .parameters
            .clone()
            .unwrap()
    }

    #[test]
    fn parameters_are_read_with_their_defaults_and_limits() {
        // Absent parameters: every default (SHA-1): refused by name.
        let p = PssParams::parse(None).unwrap();
        assert_eq!(
            (p.hash, p.mgf_hash, p.salt_length, p.trailer_field),
            (SHA1, SHA1, 20, 1)
        );
        let e = p.algorithm(&SHA256).unwrap_err().to_string();
        assert!(e.contains("RSASSA-PSS with SHA-1"), "{e}");
        // A hash other than the signer's digest algorithm.
        let p = PssParams {
            hash: SHA384,
            mgf: MGF1,
            mgf_hash: SHA384,
            salt_length: 48,
            trailer_field: 1,
        };
        assert!(p.algorithm(&SHA384).is_ok());
        let e = p.algorithm(&SHA256).unwrap_err().to_string();
        assert!(e.contains("digest algorithm is SHA-256"), "{e}");
        let e = PssParams {
            trailer_field: 2,
            ..p
        }
        .algorithm(&SHA384)
        .unwrap_err()
        .to_string();
        assert!(e.contains("trailer field 2"), "{e}");
        let e = PssParams { mgf: SHA256, ..p }
            .algorithm(&SHA384)
            .unwrap_err()
            .to_string();
        assert!(e.contains("only MGF1"), "{e}");
        // Malformed: not a SEQUENCE; a salt length beyond 32 bits; a hash with parameters.
        for bad in [
            &[0x04, 0x00][..],
            &[0x30, 0x09, 0xa2, 0x07, 0x02, 0x05, 0x01, 0, 0, 0, 0][..],
            &[
                0x30, 0x11, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                0x04, 0x02, 0x01, 0x02, 0x00,
            ][..],
        ] {
            let any = Any::from_der(bad).unwrap();
            assert!(PssParams::parse(Some(&any)).is_err(), "{bad:02x?}");
        }
    }
}
