//! RFC 3161 timestamps from the timestamp authorities of a trusted root: the token parsed and
//! bound by [`crate::rfc3161`] (imprint, signed attributes, signature), trusted here when the
//! leaf certificate of a TSA of the trusted root signed it (an embedded certificate is never
//! trusted on its own) and the time is inside the TSA's and its certificate's validity.

use super::certificate::LeafCertificate;
use super::trusted_root::TrustedRoot;
pub use crate::rfc3161::TimestampError;
use crate::rfc3161::TimestampToken;

/// The TSTInfo's nonce of a token or response (not verified: call [`verify_timestamp`] first).
pub(crate) fn timestamp_nonce(token: &[u8]) -> Result<Option<der::asn1::Uint>, TimestampError> {
    TimestampToken::parse(token)?
        .nonce()
        .map(|n| der::asn1::Uint::new(n).map_err(|e| TimestampError(e.to_string())))
        .transpose()
}

/// Verifies a DER `TimeStampToken` over `signed` (the bytes whose hash is timestamped).
/// Returns the time it vouches for (Unix seconds).
pub fn verify_timestamp(
    token: &[u8],
    signed: &[u8],
    root: &TrustedRoot,
) -> Result<i64, TimestampError> {
    let token = TimestampToken::parse(token)?;
    token.check_imprint(signed)?;
    let time = token.gen_time();
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
        let Ok(spki) = cert.spki_der() else {
            continue;
        };
        if token.verify_signature(&spki).is_ok() && token.check_signing_certificate(leaf).is_ok() {
            return Ok(time);
        }
    }
    Err(TimestampError(format!(
        "not signed by a timestamp authority of the trusted root valid at {}",
        crate::predicate::rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(time.max(0) as u64)
        )
    )))
}

#[cfg(test)]
mod tests {
    //! A trusted root whose timestamp authority signs with RSASSA-PSS: the OpenSSL-made tokens
    //! of tests/data/rfc3161-pss (keys-test/openssl_tsa.py) through the sigstore path.
    use super::*;
    use crate::rfc3161::pss_tests::data;
    use base64::Engine as _;

    fn root() -> TrustedRoot {
        let der = |name: &str| {
            let pem = String::from_utf8(data(name)).unwrap();
            let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
            base64::engine::general_purpose::STANDARD.encode(der)
        };
        let doc = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "timestampAuthorities": [{
                "uri": "https://tsa.invalid",
                "certChain": {"certificates": [
                    {"rawBytes": der("tsa.pem")}, {"rawBytes": der("tsa-root.pem")}
                ]},
                "validFor": {"start": "2026-01-01T00:00:00Z"}
            }]
        });
        TrustedRoot::parse(&serde_json::to_vec(&doc).unwrap()).unwrap()
    }

    #[test]
    fn a_tsa_signing_with_rsa_pss() {
        let root = root();
        let message = data("message.txt");
        for name in ["pss-sha256.tst", "pss-sha512.tst", "pkcs1-sha256.tst"] {
            let t = verify_timestamp(&data(name), &message, &root)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            // Made on 2026-12-01.
            assert!((1_796_000_000..1_797_000_000).contains(&t), "{name}: {t}");
        }
        assert!(verify_timestamp(&data("pss-sha256.tst"), b"other", &root).is_err());
        for name in ["pss-sha256-salt20.tst", "pss-sha256-mgf1-sha1.tst"] {
            let e = verify_timestamp(&data(name), &message, &root).unwrap_err();
            assert!(e.0.contains("not signed by a timestamp authority"), "{e}");
        }
    }
}
