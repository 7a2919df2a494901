//! One module per group of subcommands: `XArgs` (clap) and a function that runs it.

pub(crate) mod attest;
pub(crate) mod authority;
pub(crate) mod blob;
pub(crate) mod bundle;
pub(crate) mod image;
pub(crate) mod keyless;
pub(crate) mod keys;
pub(crate) mod policy;
pub(crate) mod promote;
