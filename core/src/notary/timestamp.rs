//! Notary Project timestamp countersignatures (`io.cncf.notary.timestampSignature`): an
//! RFC 3161 token over the signature bytes (the JWS `signature` value decoded, the COSE
//! signature), signed by a TSA whose chain, built from the token's certificates and the `tsa`
//! trust store, follows notation's timestamping chain rules and reaches a certificate of that
//! store; `genTime` inside every certificate of that chain. The token itself is read and
//! bound by [`crate::rfc3161`].

use super::x509::{Cert, CertError, timestamping_chain};
use crate::rfc3161::{TimestampError, TimestampToken};

/// The longest TSA chain built.
pub const MAX_TSA_CHAIN: usize = 8;

/// Why a countersignature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CountersignatureError {
    /// The token does not parse, is not over the signature, or its signature is invalid.
    #[error("{0}")]
    Token(TimestampError),
    /// No embedded certificate is the one the signer info names.
    #[error("the timestamp token does not hold its signer's certificate")]
    NoSignerCertificate,
    /// The TSA chain cannot be completed from the token and the trust store.
    #[error("cannot build the timestamping chain of {0:?} from the token and the tsa trust store")]
    IncompleteChain(String),
    /// The TSA chain breaks notation's rules.
    #[error("timestamping certificate chain: {0}")]
    Chain(CertError),
    /// No certificate of the TSA chain is in the `tsa` trust stores.
    #[error(
        "the timestamping certificate chain does not contain any certificate of the tsa trust store"
    )]
    Untrusted,
    /// A certificate of the TSA chain is not valid at `genTime`.
    #[error("timestamping certificate {subject:?} is not valid at the timestamp's time {time}")]
    TsaNotValid {
        /// The certificate.
        subject: String,
        /// `genTime` (Unix seconds).
        time: i64,
    },
}

// Not `#[from]`: the message prints the cause, so it is no `source` (printed once in a chain).
impl From<TimestampError> for CountersignatureError {
    fn from(e: TimestampError) -> Self {
        Self::Token(e)
    }
}

impl From<CertError> for CountersignatureError {
    fn from(e: CertError) -> Self {
        Self::Chain(e)
    }
}

/// A countersignature that verified against the `tsa` trust store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCountersignature {
    /// `genTime`, Unix seconds.
    pub gen_time: i64,
    /// `genTime` − accuracy.
    pub earliest: i64,
    /// `genTime` + accuracy.
    pub latest: i64,
    /// The TSA chain, leaf first.
    pub tsa_chain: Vec<Cert>,
}

/// Verifies `token` as the countersignature of `signature` against `trusted` (the
/// certificates of the statement's `tsa` trust stores).
pub fn verify_countersignature(
    token: &[u8],
    signature: &[u8],
    trusted: &[Cert],
) -> Result<VerifiedCountersignature, CountersignatureError> {
    let token = TimestampToken::parse(token)?;
    token.check_imprint(signature)?;
    let embedded = token
        .certificates()
        .iter()
        .map(|c| {
            der::Encode::to_der(c)
                .map_err(|e| CertError::Malformed(e.to_string()))
                .and_then(|d| Cert::from_der(&d))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signer = embedded
        .iter()
        .chain(trusted)
        .find(|c| token.names_signer(c.certificate()))
        .ok_or(CountersignatureError::NoSignerCertificate)?;
    token.verify_signature(&signer.spki_der()?)?;
    token.check_signing_certificate(signer.der())?;
    // The chain: the signer, then issuers from the token or the store, to a self-signed root.
    let mut chain = vec![signer.clone()];
    while let Some(last) = chain.last()
        && !last.is_self_signed()
    {
        if chain.len() >= MAX_TSA_CHAIN {
            return Err(CountersignatureError::IncompleteChain(
                signer.subject().to_owned(),
            ));
        }
        let issuer = embedded
            .iter()
            .chain(trusted)
            .find(|c| c.der() != last.der() && last.verify_issued_by(c).is_ok())
            .ok_or_else(|| CountersignatureError::IncompleteChain(last.subject().to_owned()))?
            .clone();
        chain.push(issuer);
    }
    let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der().to_vec()).collect();
    let chain = timestamping_chain(&ders)?;
    if !chain
        .iter()
        .any(|c| trusted.iter().any(|t| t.der() == c.der()))
    {
        return Err(CountersignatureError::Untrusted);
    }
    let time = token.gen_time();
    if let Some(c) = chain.iter().find(|c| !c.valid_at(time)) {
        return Err(CountersignatureError::TsaNotValid {
            subject: c.subject().to_owned(),
            time,
        });
    }
    let (earliest, latest) = token.time_range();
    Ok(VerifiedCountersignature {
        gen_time: time,
        earliest,
        latest,
        tsa_chain: chain,
    })
}
