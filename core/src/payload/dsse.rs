//! DSSE envelopes (github.com/secure-systems-lab/dsse, `protocol.md`, `envelope.md`).
//!
//! The signature covers PAE(payloadType, payload) =
//! `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::borrow::Cow;

use serde::Deserialize;

use crate::digest::Sha256Digest;

use super::{PayloadError, json_err};
use crate::limits::{Limits, TooLarge, check_size};

/// The OCI layer media type of a DSSE envelope (cosign `.att` layers).
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

const WHAT: &str = "DSSE envelope";

/// The pre-authentication encoding that DSSE signatures cover.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Signs PAE(`payload_type`, `payload`) as cosign does with `key`: over the SHA-256 of the PAE
/// hashed as a stream for P-256 and RSA keys, over the PAE itself (SHA-384 for P-384, SHA-512 for
/// P-521) for the others.
pub fn sign_pae(
    key: &crate::keys::SigningKey,
    payload_type: &str,
    payload: &[u8],
) -> Result<crate::keys::Signature, crate::keys::SignError> {
    key.check_image_signing()?;
    match key.signing_hash() {
        Some(crate::digest::HashAlgorithm::Sha256) => {
            key.sign_digest(&pae_digest(payload_type, payload))
        }
        _ => key.sign(&pae(payload_type, payload)),
    }
}

/// SHA-256 of [`pae`], computed as a stream (no copy of the payload).
pub fn pae_digest(payload_type: &str, payload: &[u8]) -> Sha256Digest {
    let header = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    // Hashed in place: no PAE built, no stream buffer (this runs for every DSSE verified).
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(header.as_bytes());
    hasher.update(payload);
    Sha256Digest::from_bytes(hasher.finalize().into())
}

/// A DSSE envelope. The payload is kept as the exact decoded bytes that were signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `payloadType`, e.g. `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The signatures, each over [`pae`] of the above.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// `keyid` (often empty; never trusted for anything but a hint).
    pub keyid: String,
    /// The decoded signature bytes (ASN.1 DER for ECDSA).
    pub sig: Vec<u8>,
}

/// Borrowed where it can be: the payload's base64 is not copied while parsing.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "payloadType")]
    payload_type: String,
    #[serde(borrow)]
    payload: Cow<'a, str>,
    signatures: Vec<WireSignature>,
}

#[derive(Deserialize)]
struct WireSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// DSSE readers must accept standard and URL-safe base64, padded or not.
fn decode_b64(field: &'static str, s: &str) -> Result<Vec<u8>, PayloadError> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let std = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);
    std.decode(s)
        .or_else(|_| url.decode(s))
        .map_err(|e| PayloadError::Field {
            what: WHAT,
            field,
            reason: format!("not base64: {e}"),
        })
}

impl Envelope {
    /// A new envelope with one signature.
    pub fn new(payload_type: &str, payload: Vec<u8>, sig: Vec<u8>) -> Self {
        Self {
            payload_type: payload_type.into(),
            payload,
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig,
            }],
        }
    }

    /// The bytes the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// SHA-256 of the bytes the signatures cover, hashed without building them.
    pub fn pae_digest(&self) -> Sha256Digest {
        pae_digest(&self.payload_type, &self.payload)
    }

    /// Checks one of this envelope's signatures (`sig`) with `key`: over the PAE hashed with the
    /// key's hash (cosign signs with SHA-384 for P-384, SHA-512 for P-521) or SHA-256, Ed25519
    /// over the PAE itself. P-256 and RSA keys hash the PAE as a stream, without building it.
    pub fn verify_signature(
        &self,
        key: &crate::keys::PublicKey,
        sig: &[u8],
    ) -> Result<crate::keys::ValidSignature, crate::keys::SignatureError> {
        match key.algorithm().default_hash() {
            Some(crate::digest::HashAlgorithm::Sha256) => {
                key.verify_digest(&self.pae_digest(), sig)
            }
            _ => key.verify(&self.pae(), sig),
        }
    }

    /// The envelope as cosign writes it: compact JSON, standard base64. Written straight into
    /// one buffer (a 100 MB payload costs 133 MB here, not three copies).
    pub fn to_json(&self) -> Vec<u8> {
        let sigs: usize = self
            .signatures
            .iter()
            .map(|s| s.sig.len() * 2 + s.keyid.len() + 32)
            .sum();
        let mut out =
            String::with_capacity(self.payload.len() / 3 * 4 + sigs + self.payload_type.len() + 64);
        let quoted = |s: &str| match serde_json::to_string(s) {
            Ok(q) => q,
            Err(_) => unreachable!("serializing a string cannot fail"),
        };
        out.push_str("{\"payloadType\":");
        out.push_str(&quoted(&self.payload_type));
        out.push_str(",\"payload\":\"");
        STANDARD.encode_string(&self.payload, &mut out);
        out.push_str("\",\"signatures\":[");
        for (i, s) in self.signatures.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"keyid\":");
            out.push_str(&quoted(&s.keyid));
            out.push_str(",\"sig\":\"");
            STANDARD.encode_string(&s.sig, &mut out);
            out.push_str("\"}");
        }
        out.push_str("]}");
        out.into_bytes()
    }

    /// Parses an untrusted envelope.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, PayloadError> {
        check_size(WHAT, bytes.len(), limits.envelope)?;
        let wire: Wire = serde_json::from_slice(bytes).map_err(json_err(WHAT))?;
        Self::from_wire(wire, limits)
    }

    /// Parses an envelope already parsed as JSON (e.g. inside a sigstore bundle).
    pub fn from_value(value: serde_json::Value, limits: &Limits) -> Result<Self, PayloadError> {
        let bytes = serde_json::to_vec(&value).map_err(json_err(WHAT))?;
        Self::parse(&bytes, limits)
    }

    fn from_wire(wire: Wire, limits: &Limits) -> Result<Self, PayloadError> {
        if wire.signatures.is_empty() {
            return Err(PayloadError::Field {
                what: WHAT,
                field: "signatures",
                reason: "an envelope needs at least one signature".into(),
            });
        }
        if wire.signatures.len() > limits.envelope_signatures {
            return Err(TooLarge {
                what: "the envelope's signature list (count)",
                found: wire.signatures.len(),
                limit: limits.envelope_signatures,
            }
            .into());
        }
        let payload = decode_b64("payload", &wire.payload)?;
        let signatures = wire
            .signatures
            .into_iter()
            .map(|s| {
                Ok(EnvelopeSignature {
                    keyid: s.keyid,
                    sig: decode_b64("signatures.sig", &s.sig)?,
                })
            })
            .collect::<Result<_, PayloadError>>()?;
        Ok(Self {
            payload_type: wire.payload_type,
            payload,
            signatures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_spec_vector() {
        // DSSE protocol.md, "Test vector".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
        let p = pae("http://example.com/HelloWorld", b"hello world");
        assert_eq!(
            pae_digest("http://example.com/HelloWorld", b"hello world"),
            Sha256Digest::of(&p)
        );
    }

    #[test]
    fn round_trip_and_lenient_base64() {
        let env = Envelope::new(
            "application/vnd.in-toto+json",
            b"{\"a\":1}?>".to_vec(),
            vec![1, 2, 255],
        );
        let json = env.to_json();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"{"payloadType":"application/vnd.in-toto+json","payload":"eyJhIjoxfT8+","signatures":[{"keyid":"","sig":"AQL/"}]}"#
        );
        assert_eq!(Envelope::parse(&json, &Limits::DEFAULT).unwrap(), env);
        // URL-safe, unpadded.
        let url = br#"{"payloadType":"t","payload":"eyJhIjoxfT8-","signatures":[{"sig":"AQL_"}]}"#;
        let parsed = Envelope::parse(url, &Limits::DEFAULT).unwrap();
        assert_eq!(parsed.payload, b"{\"a\":1}?>".to_vec());
        assert_eq!(parsed.signatures[0].sig, vec![1, 2, 255]);
    }

    #[test]
    fn rejects_bad_envelopes() {
        let none = br#"{"payloadType":"t","payload":"","signatures":[]}"#;
        assert!(matches!(
            Envelope::parse(none, &Limits::DEFAULT),
            Err(PayloadError::Field {
                field: "signatures",
                ..
            })
        ));
        let bad = br#"{"payloadType":"t","payload":"%%%","signatures":[{"sig":""}]}"#;
        assert!(matches!(
            Envelope::parse(bad, &Limits::DEFAULT),
            Err(PayloadError::Field {
                field: "payload",
                ..
            })
        ));
        let many = format!(
            r#"{{"payloadType":"t","payload":"","signatures":[{}]}}"#,
            [r#"{"sig":""}"#; 17].join(",")
        );
        assert!(matches!(
            Envelope::parse(many.as_bytes(), &Limits::DEFAULT),
            Err(PayloadError::TooLarge(_))
        ));
    }
}
