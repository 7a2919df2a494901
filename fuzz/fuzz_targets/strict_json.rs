//! The strict JSON reader that decides whether verified JSON has one reading: whatever it
//! accepts, serde_json (which builds the verified values) reads too, and it never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::payload::strict;

fuzz_target!(|data: &[u8]| {
    if strict::check(data).is_ok() {
        serde_json::from_slice::<serde_json::Value>(data).expect("strict JSON is JSON to serde_json");
    }
});
