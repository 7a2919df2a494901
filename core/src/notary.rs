//! Notary Project signatures (notation): the formats, read with limits; only timestamp
//! countersignatures are verified here ([`timestamp`]).
//!
//! - [`envelope`]: the signer information both envelope formats carry, the signature
//!   algorithms and signing schemes of the specification, the payload's target descriptor.
//! - [`jws`]: the JWS envelope (`application/jose+json`, flattened JSON serialisation).
//! - [`cose`]: the COSE_Sign1 envelope (`application/cose`), with a small strict CBOR reader.
//! - [`x509`]: certificates and chains checked the notation way (complete chain to a
//!   self-signed root, code-signing key usage and EKU, signature algorithm from the key).
//! - [`policy`]: `trustpolicy.json` version 1.0 with notation's validation rules.
//! - [`store`]: the trust-store folder layout `x509/{ca,signingAuthority,tsa}/NAME/*`.
//! - [`timestamp`]: RFC 3161 countersignatures checked against a `tsa` trust store.
//! - [`crl`]: X.509 v2 CRLs supplied by the policy, checked against the signing chain.
//!
//! Verification (signatures, trust stores, trust policy verdicts) is in `vouch-verify`'s
//! `notary` module; only it builds verified types.

pub mod cose;
pub mod crl;
pub mod envelope;
pub mod jws;
pub mod policy;
pub mod store;
pub mod timestamp;
pub mod x509;
