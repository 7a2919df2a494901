//! What reaches keyless signing from outside: an identity token (a JWT read without verifying
//! it) and the request head a browser (or anyone on the machine) sends to the browser sign-in's
//! loopback listener.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::sigstore::oauth::callback_request;
use vouch_core::sigstore::oidc::{IdentityToken, TokenSource};
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let _ = callback_request(data, "state");
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = IdentityToken::parse(Zeroizing::new(text.to_owned()), TokenSource::File, 0)
    {
        let _ = (t.subject(), t.expected_identities());
    }
});
