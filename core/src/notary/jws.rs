//! The JWS envelope (`specs/signature-envelope-jws.md`): RFC 7515 flattened JSON serialisation,
//! the Notary Project headers in the protected header, `x5c` and the timestamp countersignature
//! in the unprotected one. The signing input is `protected || '.' || payload` as they stand in
//! the envelope, never re-encoded.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::Value;

use super::envelope::{
    AUTHENTIC_SIGNING_TIME, EXPIRY, EnvelopeError, EnvelopeFormat, NotaryLimits,
    PAYLOAD_CONTENT_TYPE, SIGNING_SCHEME, SIGNING_TIME, SignatureAlgorithm, SignerInfo,
    SigningScheme, TIMESTAMP_SIGNATURE, check_times,
};
use crate::limits::check_size;

#[derive(Deserialize)]
struct Flattened {
    payload: String,
    protected: String,
    header: Unprotected,
    signature: String,
}

#[derive(Deserialize)]
struct Unprotected {
    #[serde(default)]
    x5c: Vec<String>,
    #[serde(rename = "io.cncf.notary.timestampSignature", default)]
    timestamp_signature: Option<String>,
    #[serde(rename = "io.cncf.notary.signingAgent", default)]
    signing_agent: Option<String>,
    #[serde(flatten)]
    _other: BTreeMap<String, Value>,
}

fn malformed(field: &'static str, reason: impl ToString) -> EnvelopeError {
    EnvelopeError::Malformed {
        field,
        reason: reason.to_string(),
    }
}

fn b64url(field: &'static str, s: &str) -> Result<Vec<u8>, EnvelopeError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|e| malformed(field, e))
}

fn time_header(
    map: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, EnvelopeError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => crate::time::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| malformed(name, format!("{s:?} is not an RFC 3339 time"))),
        Some(_) => Err(malformed(name, "not a string")),
    }
}

/// Parses a JWS envelope.
pub fn parse(bytes: &[u8], limits: &NotaryLimits) -> Result<SignerInfo, EnvelopeError> {
    check_size("the signature envelope", bytes.len(), limits.envelope)?;
    let env: Flattened =
        serde_json::from_slice(bytes).map_err(|e| malformed("JWS JSON serialisation", e))?;
    if env.payload.is_empty() {
        return Err(EnvelopeError::Missing("payload"));
    }
    if env.signature.is_empty() {
        return Err(EnvelopeError::Missing("signature"));
    }
    let protected = b64url("protected", &env.protected)?;
    let payload = b64url("payload", &env.payload)?;
    check_size("the payload", payload.len(), limits.payload)?;
    let signature = b64url("signature", &env.signature)?;

    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(&protected).map_err(|e| malformed("protected header", e))?;
    let text = |name: &'static str| -> Result<Option<&str>, EnvelopeError> {
        match header.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(malformed(name, "not a string")),
        }
    };
    let alg = text("alg")?.ok_or(EnvelopeError::Missing("alg"))?;
    let algorithm = SignatureAlgorithm::from_jws(alg)
        .ok_or_else(|| EnvelopeError::UnsupportedAlgorithm(alg.to_owned()))?;
    let cty = text("cty")?.ok_or(EnvelopeError::Missing("cty"))?;
    if cty != PAYLOAD_CONTENT_TYPE {
        return Err(EnvelopeError::UnsupportedContentType(cty.to_owned()));
    }
    let scheme_name = text(SIGNING_SCHEME)?.ok_or(EnvelopeError::Missing(SIGNING_SCHEME))?;
    let scheme = SigningScheme::from_name(scheme_name)
        .ok_or_else(|| EnvelopeError::UnsupportedSigningScheme(scheme_name.to_owned()))?;

    let crit: Vec<&str> = match header.get("crit") {
        None => return Err(EnvelopeError::Missing("crit")),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| malformed("crit", "not a list of strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed("crit", "not a non-empty list of strings")),
    };
    for name in &crit {
        // RFC 7515 §4.1.11: the standard headers must not be listed; anything else listed must
        // be understood.
        if !matches!(*name, SIGNING_SCHEME | AUTHENTIC_SIGNING_TIME | EXPIRY) {
            return Err(EnvelopeError::UnsupportedCritical((*name).to_owned()));
        }
        if !header.contains_key(*name) {
            return Err(malformed(
                "crit",
                format!("lists {name:?}, which is absent"),
            ));
        }
    }
    for must in [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY] {
        if header.contains_key(must) && !crit.contains(&must) {
            return Err(EnvelopeError::NotCritical(must));
        }
    }
    let signing_time = time_header(&header, SIGNING_TIME)?;
    let authentic = time_header(&header, AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_header(&header, EXPIRY)?;
    let signing_time = check_times(scheme, signing_time, authentic, expiry)?;

    if env.header.x5c.is_empty() {
        return Err(EnvelopeError::Missing("x5c"));
    }
    if env.header.x5c.len() > limits.chain {
        return Err(EnvelopeError::TooMany {
            what: "x5c certificates",
            limit: limits.chain,
        });
    }
    // RFC 7515 §4.1.6: standard base64 DER.
    let chain = env
        .header
        .x5c
        .iter()
        .map(|c| STANDARD.decode(c).map_err(|e| malformed("x5c", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let timestamp_signature = match env.header.timestamp_signature {
        None => None,
        Some(t) => Some(
            STANDARD
                .decode(t)
                .map_err(|e| malformed(TIMESTAMP_SIGNATURE, e))?,
        ),
    };

    let mut signed_bytes = Vec::with_capacity(env.protected.len() + env.payload.len() + 1);
    signed_bytes.extend_from_slice(env.protected.as_bytes());
    signed_bytes.push(b'.');
    signed_bytes.extend_from_slice(env.payload.as_bytes());
    Ok(SignerInfo {
        format: EnvelopeFormat::Jws,
        algorithm,
        scheme,
        signing_time,
        expiry,
        chain,
        timestamp_signature,
        signing_agent: env.header.signing_agent,
        signed_bytes,
        signature,
        payload,
    })
}
