//! Policy files: YAML with budgets, validated into a policy; never a panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_verify::policy::Policy;

fuzz_target!(|data: &[u8]| {
    // Paths resolve under a directory that does not exist: file references fail cleanly.
    let _ = Policy::parse(data, "fuzz.yaml", std::path::Path::new("/nonexistent-vouch-fuzz"));
});
