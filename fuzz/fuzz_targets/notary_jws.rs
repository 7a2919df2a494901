//! Notary Project JWS envelopes (and the same bytes as COSE_Sign1): parsed with limits, the x5c chain checked the notation way,
//! the signature checked with the leaf's key, the payload read; and the RFC 3161 token reader
//! on the same bytes (timestamp countersignatures, ECDSA / RSA PKCS #1 / RSASSA-PSS signers). Never a panic; never a verified signature
//! over random data.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::notary::envelope::{
    MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, NotaryLimits, TargetDescriptor, parse_envelope,
};
use vouch_core::notary::x509::code_signing_chain;

fuzz_target!(|data: &[u8]| {
    let limits = NotaryLimits::DEFAULT;
    if let Ok(info) = parse_envelope(data, MEDIA_TYPE_JWS, &limits) {
        let _ = TargetDescriptor::from_payload(info.payload(), &limits);
        if let Ok(chain) = code_signing_chain(info.chain())
            && let Some(leaf) = chain.first()
        {
            let _ = leaf.verify_signature(info.algorithm(), info.signed_bytes(), info.signature());
        }
        if let Some(token) = info.timestamp_signature() {
            let _ = vouch_core::notary::timestamp::verify_countersignature(
                token,
                info.signature(),
                &[],
            );
        }
    }
    if let Ok(info) = parse_envelope(data, MEDIA_TYPE_COSE, &limits) {
        let _ = TargetDescriptor::from_payload(info.payload(), &limits);
        let _ = code_signing_chain(info.chain());
    }
    if let Ok(token) = vouch_core::rfc3161::TimestampToken::parse(data) {
        let _ = token.check_imprint(b"signature");
        let _ = token.time_range();
        // The signature algorithm's dispatch (RSASSA-PSS parameters, parsed above, among
        // them) with the embedded certificates' keys.
        for c in token.certificates() {
            if let Ok(spki) = der::Encode::to_der(c.tbs_certificate().subject_public_key_info()) {
                let _ = token.verify_signature(&spki);
            }
        }
    }
});
