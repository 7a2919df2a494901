//! Caps on untrusted input. Every parser of bytes from a file or a registry checks one of these
//! before it allocates or recurses; each limit has its own error that names it.

/// Size limits for untrusted documents, with defaults that fit every real artefact we know of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A key file (encrypted private key or public key PEM). Default 64 KiB; real ones are < 1 KiB.
    pub key_file: usize,
    /// A detached signature file (base64 or DER). Default 64 KiB.
    pub signature_file: usize,
    /// A cosign simple-signing payload. Default 1 MiB; real ones are < 1 KiB plus annotations.
    pub simple_signing_payload: usize,
    /// A DSSE envelope, in-toto Statement or sigstore bundle (SBOMs live inside). Default 128 MiB,
    /// cosign's `COSIGN_MAX_ATTACHMENT_SIZE` default.
    pub envelope: usize,
    /// Signatures in one DSSE envelope. Default 16.
    pub envelope_signatures: usize,
    /// Subjects in one in-toto Statement. Default 4096.
    pub statement_subjects: usize,
}

impl Limits {
    /// The defaults documented on each field.
    pub const DEFAULT: Limits = Limits {
        key_file: 64 * 1024,
        signature_file: 64 * 1024,
        simple_signing_payload: 1024 * 1024,
        envelope: 128 * 1024 * 1024,
        envelope_signatures: 16,
        statement_subjects: 4096,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The error for an input larger than its limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {found} bytes, more than the limit of {limit} bytes")]
pub struct TooLarge {
    /// What was too large.
    pub what: &'static str,
    /// Its size.
    pub found: usize,
    /// The limit.
    pub limit: usize,
}

/// Returns an error when `len` exceeds `limit`.
pub fn check_size(what: &'static str, len: usize, limit: usize) -> Result<(), TooLarge> {
    if len > limit {
        Err(TooLarge {
            what,
            found: len,
            limit,
        })
    } else {
        Ok(())
    }
}
