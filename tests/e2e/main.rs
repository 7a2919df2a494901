//! End-to-end tests: the `vouch` binary against real files, a real registry (Debian's
//! docker-registry) and an independent implementation of cosign's formats (Python).
//!
//! Run them with the README's test command (`scripts/test`), which installs what they need.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod support;

mod attest;
mod blob;
mod concurrency;
mod conformance;
mod copy;
mod hostile_registry;
mod image_sign;
mod interop_js;
mod interop_python;
mod keyless;
mod keyless_browser;
mod keyless_image;
mod keyless_rekor_v2;
mod keyless_sign;
mod keyless_stack;
mod keys;
mod kms;
mod listed_bundle;
mod notary;
mod notary_crl;
mod notary_policy;
mod notation_layouts;
mod policy;
mod promote;
mod referrers;
mod registry_auth;
mod registry_smoke;
mod requests;
mod settle;
mod webhook;
mod webhook_faults;
mod wild;
mod wild_peers;
