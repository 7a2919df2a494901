//! Image references and artifact digests typed by users and read from files: parse, and
//! Display parses back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::digest::ArtifactDigests;
use vouch_core::oci::reference::ImageRef;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(r) = s.parse::<ImageRef>()
    {
        let again: ImageRef = r.to_string().parse().expect("display parses back");
        assert_eq!(again, r);
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(d) = s.parse::<ArtifactDigests>()
    {
        let again: ArtifactDigests = d.to_string().parse().expect("display parses back");
        assert_eq!(again, d);
    }
});
