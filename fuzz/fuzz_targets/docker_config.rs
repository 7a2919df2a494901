//! docker's config.json (auths entries, helper names) as read for registry credentials.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::oci::registry::credentials::DockerConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cfg) = DockerConfig::from_json(text)
    {
        // Only `auths` lookups: helper programs are not run by the fuzzer (none is installed
        // under the fuzzer's PATH names, and the name check refuses paths).
        let _ = cfg.credential_for("127.0.0.1:5000");
    }
});
