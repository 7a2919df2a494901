//! RFC 3161 timestamps for a signature: a DER `TimeStampReq` (SHA-256 message imprint of the
//! signature, a random 64-bit nonce, `certReq`) posted as `application/timestamp-query` to a TSA
//! of the signing config. The `TimeStampResp` is kept (it is what bundles store) only once it
//! verifies with vouch's verifier ([`verify_timestamp`]) against the trusted root and carries
//! the request's nonce.

use der::asn1::{ObjectIdentifier, OctetString, Uint};
use der::{Encode, Sequence};
use spki::AlgorithmIdentifierOwned;

use super::http::{HttpLimits, client, excerpt, read_body};
use super::signing_config::Service;
use super::trusted_root::TrustedRoot;
use super::tsa::{timestamp_nonce, verify_timestamp};
use crate::digest::Sha256Digest;

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// What went wrong with a TSA; every variant names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    /// Unreachable, timed out, or an HTTP error.
    #[error("TSA at {url} is unavailable: {reason}")]
    Unavailable {
        /// The TSA.
        url: String,
        /// Why.
        reason: String,
    },
    /// The timestamp does not verify, or is not for this request.
    #[error("TSA at {url} returned a timestamp that does not verify: {reason}")]
    Invalid {
        /// The TSA.
        url: String,
        /// The failed check.
        reason: String,
    },
}

#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1), without policy and extensions.
#[derive(Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    nonce: Option<Uint>,
    cert_req: bool,
}

/// A verified timestamp: the DER `TimeStampResp` and the time it vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    response: Vec<u8>,
    time: i64,
}

impl VerifiedTimestamp {
    /// The DER `TimeStampResp`, as a bundle's `rfc3161Timestamps[].signedTimestamp` holds it.
    pub fn response(&self) -> &[u8] {
        &self.response
    }
    /// The time (Unix seconds).
    pub fn time(&self) -> i64 {
        self.time
    }
}

/// Asks `tsa` to timestamp `signature` and verifies the answer against `root`.
pub async fn timestamp(
    tsa: &Service,
    signature: &[u8],
    root: &TrustedRoot,
    limits: &HttpLimits,
) -> Result<VerifiedTimestamp, TsaError> {
    let url = tsa.url.clone();
    let unavailable = |reason: String| TsaError::Unavailable {
        url: url.clone(),
        reason,
    };
    let invalid = |reason: String| TsaError::Invalid {
        url: url.clone(),
        reason,
    };
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| unavailable(format!("no randomness: {e}")))?;
    nonce[0] &= 0x7f;
    let imprint = Sha256Digest::of(signature);
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(imprint.as_bytes().to_vec())
                .map_err(|e| unavailable(e.to_string()))?,
        },
        nonce: Some(Uint::new(&nonce).map_err(|e| unavailable(e.to_string()))?),
        cert_req: true,
    };
    let der = req.to_der().map_err(|e| unavailable(e.to_string()))?;
    let http = client(limits).map_err(&unavailable)?;
    let resp = http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
        .header(reqwest::header::ACCEPT, "application/timestamp-reply")
        .body(der)
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    let (status, body) = read_body(resp, limits).await.map_err(&unavailable)?;
    if !status.is_success() {
        return Err(unavailable(format!("HTTP {status}: {}", excerpt(&body))));
    }
    let time = verify_timestamp(&body, signature, root).map_err(|e| invalid(e.to_string()))?;
    let echoed = timestamp_nonce(&body).map_err(|e| invalid(e.to_string()))?;
    let ours = Uint::new(&nonce).map_err(|e| invalid(e.to_string()))?;
    if echoed.as_ref().map(Uint::as_bytes) != Some(ours.as_bytes()) {
        return Err(invalid(
            "the timestamp does not carry this request's nonce".into(),
        ));
    }
    Ok(VerifiedTimestamp {
        response: body,
        time,
    })
}
