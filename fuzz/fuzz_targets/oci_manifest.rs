//! OCI manifests and indexes from a registry or a layout: parse, and a parsed image manifest
//! survives a write/parse round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::oci::manifest::{Manifest, to_bytes};

fuzz_target!(|data: &[u8]| {
    if let Ok(Manifest::Image(m)) = Manifest::parse(data, None) {
        let again = Manifest::parse(&to_bytes(&m), None).expect("round trip");
        assert_eq!(again, Manifest::Image(m));
    }
});
