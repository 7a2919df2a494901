//! vouch-core: the formats vouch signs and reads, wire-compatible with cosign and sigstore.
//!
//! - [`keys`]: ECDSA P-256 keys in cosign's encrypted key format (`ENCRYPTED SIGSTORE PRIVATE KEY`),
//!   PKIX public keys, signing.
//! - [`digest`]: SHA-256 digests and streaming hashing.
//! - [`payload`]: cosign simple signing, in-toto Statements, DSSE envelopes and their PAE.
//! - [`bundle`]: sigstore bundles (v0.1–v0.3) as written by `sign-blob --bundle`.
//! - [`limits`]: caps on every piece of untrusted input.
//! - [`sign`]: signing images and attestations (statement → DSSE → bundle → referrer, cosign's
//!   legacy tags) by any [`sign::Signer`].
//! - [`oci`]: registries and OCI layouts; [`cosign`], [`referrers`]: what is attached to images.
//!
//! ```
//! use vouch_core::keys::SigningKey;
//! use vouch_core::digest::Sha256Digest;
//!
//! let key = SigningKey::generate().unwrap();
//! let digest = Sha256Digest::of(b"hello");
//! let sig = key.sign_digest(&digest).unwrap();
//! assert!(key.public_key().verify_digest(&digest, sig.as_der()).is_ok());
//! ```
#![forbid(unsafe_code)]

pub mod bundle;
pub mod cosign;
pub mod digest;
pub mod error;
pub mod gojson;
pub mod keys;
pub mod kms;
pub mod limits;
pub mod notary;
pub mod oci;
pub mod payload;
pub mod predicate;
pub mod referrers;
pub mod rfc3161;
pub mod scan;
pub mod sign;
pub mod sigstore;
pub mod time;

pub use error::{Classify, ErrorClass, IoError};
