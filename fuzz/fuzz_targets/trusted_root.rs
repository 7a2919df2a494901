//! Trusted roots and checkpoints (signed notes), parsed and checked.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_core::sigstore::checkpoint::Checkpoint;
use vouch_core::sigstore::trusted_root::TrustedRoot;

fn root() -> &'static TrustedRoot {
    static R: OnceLock<TrustedRoot> = OnceLock::new();
    R.get_or_init(|| TrustedRoot::public_good().expect("embedded root"))
}

fuzz_target!(|data: &[u8]| {
    let _ = TrustedRoot::parse(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(c) = Checkpoint::parse(text)
    {
        for log in &root().tlogs {
            let _ = c.verify(log);
        }
    }
});
