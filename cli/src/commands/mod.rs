//! One module per subcommand (`keys` and `blob`: a key pair's and a file's few commands): `XArgs`
//! (clap) and the function that runs it. Shared arguments live in [`crate::args`].

pub(crate) mod attest;
pub(crate) mod authority;
pub(crate) mod blob;
pub(crate) mod bundle;
pub(crate) mod keyless;
pub(crate) mod keys;
pub(crate) mod kms;
pub(crate) mod policy;
pub(crate) mod promote;
pub(crate) mod serve;
pub(crate) mod sign;
pub(crate) mod tree;
pub(crate) mod verify;
pub(crate) mod verify_attestation;
