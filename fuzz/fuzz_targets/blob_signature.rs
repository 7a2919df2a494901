//! Detached signature files (base64 or DER) checked against a fixed key.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_core::keys::{PublicKey, SigningKey};
use vouch_core::limits::Limits;

fn key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("rng").public_key())
}

fuzz_target!(|data: &[u8]| {
    let verified = vouch_verify::blob::verify_detached(key(), data, &b"artifact"[..], &Limits::DEFAULT);
    assert!(verified.is_err(), "a random signature verified");
});
