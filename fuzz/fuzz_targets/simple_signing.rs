//! cosign simple-signing payloads: parse, and what parses survives a write/parse round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::limits::Limits;
use vouch_core::payload::simple_signing::SimpleSigning;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = SimpleSigning::parse(data, &Limits::DEFAULT) {
        let again = SimpleSigning::parse(&p.to_bytes(), &Limits::DEFAULT).expect("round trip");
        assert_eq!(again, p);
    }
});
