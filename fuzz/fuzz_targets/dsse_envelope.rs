//! DSSE envelopes: parse, and what parses survives a write/parse round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::limits::Limits;
use vouch_core::payload::dsse::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::parse(data, &Limits::DEFAULT) {
        let again = Envelope::parse(&e.to_json(), &Limits::DEFAULT).expect("round trip");
        assert_eq!(again, e);
        let _ = e.pae();
    }
});
