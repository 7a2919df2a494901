//! Image references and artifact digests typed by users and read from files: parse, and
//! Display parses back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::digest::ArtifactDigests;
use vouch_core::oci::reference::{ImageRef, is_digest, split_reference};

fuzz_target!(|data: &[u8]| {
    // The lenient split (provenance and VEX references): never panics, and what it returns is
    // made of the input.
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok((name, tag, digest)) = split_reference(s)
    {
        assert!(s.starts_with(name));
        assert!(tag.is_none_or(|t| s.contains(t)));
        assert!(digest.is_none_or(|d| s.ends_with(d)));
        let _ = digest.map(is_digest);
    }
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
