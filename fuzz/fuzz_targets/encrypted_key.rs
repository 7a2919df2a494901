//! cosign's encrypted key file: parsing never panics; decryption is tried only with cheap scrypt
//! parameters (the parser caps them, but 2^20 is too slow for a fuzzer).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::keys::encrypted::EncryptedKey;
use vouch_core::limits::Limits;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = EncryptedKey::parse(data, &Limits::DEFAULT) {
        if key.params().log_n <= 10 && key.params().r <= 8 && key.params().p <= 2 {
            let _ = key.decrypt(b"fuzz");
        }
    }
});
