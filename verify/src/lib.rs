//! vouch-verify: turns untrusted signatures and bundles into verified types.
//!
//! Nothing here returns `Ok(())`: a verification succeeds by returning a value that only this
//! crate can construct ([`VerifiedBlob`]), built from what was actually checked.
//!
//! ```
//! use vouch_core::keys::SigningKey;
//! use vouch_core::limits::Limits;
//!
//! let key = SigningKey::generate().unwrap();
//! let sig = key.sign(b"hello").unwrap().to_base64();
//! let verified = vouch_verify::blob::verify_detached(
//!     &key.public_key(), sig.as_bytes(), &b"hello"[..], &Limits::DEFAULT,
//! ).unwrap();
//! assert_eq!(verified.size(), 5);
//! ```
#![forbid(unsafe_code)]

pub mod admission;
mod attached;
pub mod attestation;
pub mod blob;
pub mod cosign_keyless;
mod error;
pub mod image;
pub mod keyless;
pub mod notary;
pub mod policy;
pub mod promote;
pub mod sigstore_bundle;

pub use error::VerifyError;
