//! Unencrypted private keys (PKCS#8, SEC1) and public keys (SPKI) in PEM and DER.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::keys::{PublicKey, SigningKey};

fuzz_target!(|data: &[u8]| {
    let _ = SigningKey::from_unencrypted_pem(data);
    let _ = SigningKey::from_pkcs8_der(data);
    if let Ok(k) = PublicKey::from_pem(data) {
        assert_eq!(PublicKey::from_pem(k.to_pem().as_bytes()).ok(), Some(k));
    }
    let _ = PublicKey::from_spki_der(data);
});
