//! RFC 3161 timestamps from the timestamp authorities of a trusted root: a CMS SignedData over a
//! TSTInfo whose message imprint is the hash of the signature being timestamped. Verified: the
//! imprint, the signed attributes (content type, message digest of the TSTInfo), the signature
//! by the leaf certificate of a TSA of the trusted root (an embedded certificate is never
//! trusted on its own), and the time inside the TSA's and its certificate's validity.

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{GeneralizedTime, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::AlgorithmIdentifierOwned;

use super::certificate::LeafCertificate;
use super::trusted_root::{TrustedRoot, VerificationKey};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

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

/// The key of a TSA certificate for the CMS signature algorithm used.
fn tsa_key(
    cert: &LeafCertificate,
    sig_alg: &ObjectIdentifier,
) -> Result<VerificationKey, TimestampError> {
    let spki = cert.spki_der().map_err(|e| err(e.to_string()))?;
    let parsed = spki::SubjectPublicKeyInfoRef::from_der(&spki).map_err(|e| err(e.to_string()))?;
    let details = if parsed.algorithm.oid == EC_PUBLIC_KEY {
        let curve = parsed
            .algorithm
            .parameters_oid()
            .map_err(|_| err("EC key without a named curve"))?;
        match (curve, *sig_alg) {
            (P256, ECDSA_SHA256) => "PKIX_ECDSA_P256_SHA_256",
            (P256, ECDSA_SHA384) => "PKIX_ECDSA_P256_SHA_384",
            (P384, ECDSA_SHA256) => "PKIX_ECDSA_P384_SHA_256",
            (P384, ECDSA_SHA384) => "PKIX_ECDSA_P384_SHA_384",
            (P521, ECDSA_SHA512) => "PKIX_ECDSA_P521_SHA_512",
            (c, s) => return Err(err(format!("unsupported key/signature pair {c} / {s}"))),
        }
    } else if *sig_alg == RSA_SHA256 {
        "PKIX_RSA_PKCS1V15_2048_SHA256"
    } else {
        return Err(err(format!("unsupported signature algorithm {sig_alg}")));
    };
    VerificationKey::from_spki(spki, details).map_err(|e| err(e.to_string()))
}

/// The TSTInfo's nonce of a token or response (not verified: call [`verify_timestamp`] first).
pub(crate) fn timestamp_nonce(token: &[u8]) -> Result<Option<der::asn1::Uint>, TimestampError> {
    let ci = token_of(token)?;
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| err(format!("malformed SignedData: {e}")))?;
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
    tst.nonce
        .map(|n| der::asn1::Uint::new(n.as_bytes()).map_err(|e| err(e.to_string())))
        .transpose()
}

/// Verifies a DER `TimeStampToken` over `signed` (the bytes whose hash is timestamped).
/// Returns the time it vouches for (Unix seconds).
pub fn verify_timestamp(
    token: &[u8],
    signed: &[u8],
    root: &TrustedRoot,
) -> Result<i64, TimestampError> {
    let ci = token_of(token)?;
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
    // What was timestamped.
    let imprint = hash(&tst.message_imprint.hash_algorithm.oid, signed)?;
    if imprint != tst.message_imprint.hashed_message.as_bytes() {
        return Err(err("the timestamp is over other data than this signature"));
    }
    let time = tst.gen_time.secs;
    // The signer's signed attributes bind the TSTInfo.
    let [si] = sd.signer_infos.0.as_slice() else {
        return Err(err("expected exactly one signer"));
    };
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| err("no signed attributes"))?;
    let attr = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let content_type = attr(ID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| err("no content-type attribute"))?;
    if content_type != ID_CT_TSTINFO {
        return Err(err("the content-type attribute is not TSTInfo"));
    }
    let digest = attr(ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| err("no message-digest attribute"))?;
    if digest.as_bytes() != hash(&si.digest_alg.oid, tst_der.as_bytes())? {
        return Err(err(
            "the message-digest attribute does not match the TSTInfo",
        ));
    }
    let signed_attrs = attrs.to_der().map_err(|e| err(e.to_string()))?;
    // Signed by a TSA of the trusted root, valid at that time.
    for tsa in root
        .timestamp_authorities
        .iter()
        .filter(|t| t.validity.contains(time))
    {
        let Some(leaf) = tsa.chain.first() else {
            continue;
        };
        let Ok(cert) = LeafCertificate::from_der(leaf) else {
            continue;
        };
        if time < cert.not_before || time > cert.not_after {
            continue;
        }
        let Ok(key) = tsa_key(&cert, &si.signature_algorithm.oid) else {
            continue;
        };
        if key.verify(&signed_attrs, si.signature.as_bytes()) {
            return Ok(time);
        }
    }
    Err(err(format!(
        "not signed by a timestamp authority of the trusted root valid at {}",
        crate::predicate::rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(time.max(0) as u64)
        )
    )))
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
