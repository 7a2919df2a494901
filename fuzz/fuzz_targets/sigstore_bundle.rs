//! Sigstore bundles, parsed and verified against a fixed key over a fixed artifact.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_core::bundle::Bundle;
use vouch_core::keys::{PublicKey, SigningKey};
use vouch_core::limits::Limits;

fn key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("rng").public_key())
}

fuzz_target!(|data: &[u8]| {
    let _ = Bundle::parse(data, &Limits::DEFAULT);
    let _ = vouch_verify::blob::verify_bundle(key(), data, &b"artifact"[..], &Limits::DEFAULT);
});
