//! Sigstore bundles verified keyless against the public-good root: certificates, SCTs, log
//! entries, checkpoints, RFC 3161 timestamps — nothing may panic, and nothing random verifies.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_core::digest::Sha256Digest;
use vouch_core::limits::Limits;
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_verify::sigstore_bundle::{Matcher, Signer, verify};

fn root() -> &'static TrustedRoot {
    static R: OnceLock<TrustedRoot> = OnceLock::new();
    R.get_or_init(|| TrustedRoot::public_good().expect("embedded root"))
}

fuzz_target!(|data: &[u8]| {
    let any = Matcher::regex(".*").expect("regex");
    let signer = Signer::Identity { subject: &any, issuer: &any };
    let artifact = Sha256Digest::of(b"a.txt");
    let _ = verify(data, &artifact.into(), &signer, root(), &Limits::DEFAULT);
    let _ = vouch_core::sigstore::tsa::verify_timestamp(data, b"sig", root());
});
