//! Notary Project revocation: CRLs (DER or PEM X.509 v2) parsed with limits, then checked
//! against a real leaf → intermediate → root chain (tests/data/notary/crl/chain.pem) as the
//! verifier checks supplied CRLs. Never a panic; a CRL the intermediate did not sign never
//! revokes the leaf.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::notary::crl::{CrlLimits, Status, cert_status, check_chain, read_crls, verdict};
use vouch_core::notary::x509::read_certificates;

const CHAIN: &[u8] = include_bytes!("../../tests/data/notary/crl/chain.pem");
/// The intermediate's CRLs that list the leaf.
const GOOD_CRLS: [&[u8]; 3] = [
    include_bytes!("../../tests/data/notary/crl/int-revokes-leaf.crl"),
    include_bytes!("../../tests/data/notary/crl/int-hold.crl"),
    include_bytes!("../../tests/data/notary/crl/int-invalidity.crl"),
];
/// 2026-06-02T00:00:00Z.
const NOW: i64 = 1_780_358_400;

fuzz_target!(|data: &[u8]| {
    let limits = CrlLimits::DEFAULT;
    let Ok(chain) = read_certificates(CHAIN, 10) else {
        return;
    };
    if let Ok(crls) = read_crls(data, &limits) {
        for c in &crls {
            let _ = (
                c.issuer(),
                c.this_update(),
                c.next_update(),
                c.entries().len(),
            );
        }
        let statuses = check_chain(&chain, &crls, NOW, Some(NOW));
        let _ = verdict(&chain, &statuses);
        // Only the intermediate's own CRLs (byte for byte) can revoke the leaf.
        if let Status::Revoked { .. } = cert_status(&chain[0], &chain[1], &crls, NOW, None) {
            assert!(
                crls.iter().any(|c| GOOD_CRLS.contains(&c.der())),
                "a CRL the intermediate did not sign revoked the leaf"
            );
        }
    }
});
