//! Keys as cosign writes and reads them.
//!
//! - [`SigningKey`]: every key type `cosign import-key-pair` accepts (ECDSA P-256/P-384/P-521,
//!   RSA 2048/3072/4096, Ed25519), signing as cosign does with a key file.
//! - [`PublicKey`]: checks signatures of every key type Fulcio certifies and cosign verifies.
//! - [`encrypted`]: cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` file (scrypt + NaCl secretbox).
//! - [`files`]: loading and writing key files (0600, never overwriting without being told to).

pub mod encrypted;
pub mod files;
mod import;
mod pem;
mod signing;
pub use pem::decode_pem;
pub use signing::{SignError, SigningKey};

use std::fmt;

use crate::digest::{HashAlgorithm, Sha256Digest};
use crate::error::{Classify, ErrorClass};
use crate::limits::TooLarge;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// A signature: ASN.1 DER for ECDSA, PKCS#1 v1.5 for RSA, 64 bytes for Ed25519.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature(Vec<u8>);

impl Signature {
    /// A signature made elsewhere (a token or a key service), as its bytes.
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The signature bytes (ASN.1 DER for ECDSA).
    pub fn as_der(&self) -> &[u8] {
        &self.0
    }

    /// Base64 (standard alphabet, padded), as cosign prints and stores signatures.
    pub fn to_base64(&self) -> String {
        B64.encode(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64())
    }
}

/// The public-key algorithms vouch verifies with: what Fulcio certifies and what cosign's
/// `--key` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 (cosign's default).
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// ECDSA on P-521.
    EcdsaP521,
    /// RSA (2048 to 8192 bits), PKCS#1 v1.5 signatures.
    Rsa,
    /// Ed25519 (signs messages, never digests).
    Ed25519,
}

impl KeyAlgorithm {
    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ECDSA P-256",
            Self::EcdsaP384 => "ECDSA P-384",
            Self::EcdsaP521 => "ECDSA P-521",
            Self::Rsa => "RSA",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// The hash a message is signed with by default (sigstore-go's `LoadDefaultVerifier`):
    /// SHA-384 for P-384, SHA-512 for P-521, SHA-256 otherwise; `None` for Ed25519.
    pub fn default_hash(self) -> Option<HashAlgorithm> {
        match self {
            Self::EcdsaP256 | Self::Rsa => Some(HashAlgorithm::Sha256),
            Self::EcdsaP384 => Some(HashAlgorithm::Sha384),
            Self::EcdsaP521 => Some(HashAlgorithm::Sha512),
            Self::Ed25519 => None,
        }
    }

    fn verification(
        self,
        hash: HashAlgorithm,
    ) -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        use HashAlgorithm::{Sha256, Sha384, Sha512};
        use aws_lc_rs::signature as s;
        match (self, hash) {
            (Self::EcdsaP256, Sha256) => &s::ECDSA_P256_SHA256_ASN1,
            (Self::EcdsaP256, Sha384) => &s::ECDSA_P256_SHA384_ASN1,
            (Self::EcdsaP256, Sha512) => &s::ECDSA_P256_SHA512_ASN1,
            (Self::EcdsaP384, Sha256) => &s::ECDSA_P384_SHA256_ASN1,
            (Self::EcdsaP384, Sha384) => &s::ECDSA_P384_SHA384_ASN1,
            (Self::EcdsaP384, Sha512) => &s::ECDSA_P384_SHA512_ASN1,
            (Self::EcdsaP521, Sha256) => &s::ECDSA_P521_SHA256_ASN1,
            (Self::EcdsaP521, Sha384) => &s::ECDSA_P521_SHA384_ASN1,
            (Self::EcdsaP521, Sha512) => &s::ECDSA_P521_SHA512_ASN1,
            (Self::Rsa, Sha256) => &s::RSA_PKCS1_2048_8192_SHA256,
            (Self::Rsa, Sha384) => &s::RSA_PKCS1_2048_8192_SHA384,
            (Self::Rsa, Sha512) => &s::RSA_PKCS1_2048_8192_SHA512,
            (Self::Ed25519, _) => &s::ED25519,
        }
    }
}

/// A public key: ECDSA P-256 / P-384 / P-521, RSA or Ed25519, from a DER SubjectPublicKeyInfo.
/// Verification takes every key type that Fulcio certifies and cosign verifies with.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    /// The canonical DER SubjectPublicKeyInfo (uncompressed points), so equal keys compare equal.
    spki: Vec<u8>,
    /// The key bytes inside the SPKI (SEC1 point, PKCS#1 RSAPublicKey or Ed25519 bytes).
    raw: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.algorithm.name(), self.hint())
    }
}

/// Proof that a signature was checked and is valid. Only [`PublicKey`]'s checks make one.
#[derive(Debug)]
pub struct ValidSignature {
    _private: (),
}

impl PublicKey {
    /// Parses a PKIX `PUBLIC KEY` PEM.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = pem::decode_pem(pem)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::UnexpectedLabel {
                expected: "PUBLIC KEY",
                found: label,
            });
        }
        Self::from_spki_der(&der)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer as _;
        let (algorithm, raw) = import::spki_algorithm(der)?;
        let malformed = || {
            KeyError::UnsupportedKeyType(match algorithm {
                KeyAlgorithm::Rsa => {
                    "a malformed RSA public key, or one outside 2048 to 8192 bits".into()
                }
                a => format!("a malformed {} public key", a.name()),
            })
        };
        // The verification algorithm fixes the hash, not the key: SHA-256's parses any key.
        let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
            algorithm.verification(HashAlgorithm::Sha256),
            &raw,
        )
        .map_err(|_| malformed())?;
        let spki = parsed
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| malformed())?;
        let (_, raw) = import::spki_algorithm(&spki)?;
        Ok(Self {
            algorithm,
            spki,
            raw,
        })
    }

    /// A public key from its algorithm and the key bytes an SPKI carries (SEC1 point, PKCS#1
    /// `RSAPublicKey`, Ed25519 bytes).
    pub(crate) fn from_raw(algorithm: KeyAlgorithm, raw: &[u8]) -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer as _;
        let malformed = || KeyError::Encode(format!("the {} public key", algorithm.name()));
        let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
            algorithm.verification(HashAlgorithm::Sha256),
            raw,
        )
        .map_err(|_| malformed())?;
        let spki = parsed
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| malformed())?;
        Self::from_spki_der(&spki)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// The `PUBLIC KEY` PEM, as cosign writes it (64-column lines, LF, trailing newline).
    pub fn to_pem(&self) -> String {
        match pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.spki) {
            Ok(pem) => pem,
            Err(_) => unreachable!("PEM-encoding a DER document cannot fail"),
        }
    }

    /// The sigstore key hint: base64 of SHA-256 of the DER SubjectPublicKeyInfo
    /// (`verificationMaterial.publicKey.hint` in bundles written by cosign and sigstore-go).
    pub fn hint(&self) -> String {
        B64.encode(Sha256Digest::of(&self.spki).as_bytes())
    }

    /// Checks a signature over a SHA-256 digest computed elsewhere (ASN.1 DER for ECDSA,
    /// PKCS#1 v1.5 for RSA). Ed25519 signs messages, not digests: it never verifies here.
    pub fn verify_digest(
        &self,
        digest: &Sha256Digest,
        signature: &[u8],
    ) -> Result<ValidSignature, SignatureError> {
        self.verify_prehashed(HashAlgorithm::Sha256, digest.as_bytes(), signature)
    }

    /// Checks a signature over a digest of `hash` computed elsewhere.
    pub fn verify_prehashed(
        &self,
        hash: HashAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<ValidSignature, SignatureError> {
        use aws_lc_rs::digest::Digest;
        use aws_lc_rs::signature::UnparsedPublicKey;
        if self.algorithm == KeyAlgorithm::Ed25519 {
            return Err(SignatureError::DigestWithEd25519);
        }
        self.check_shape(signature)?;
        let digest =
            Digest::import_less_safe(digest, hash.aws()).map_err(|_| SignatureError::Malformed)?;
        UnparsedPublicKey::new(self.algorithm.verification(hash), &self.raw)
            .verify_digest(&digest, signature)
            .map_err(|_| SignatureError::Mismatch)?;
        Ok(ValidSignature { _private: () })
    }

    /// Checks a signature over `message`: hashed with the key's default hash (SHA-256 for P-256
    /// and RSA, SHA-384 for P-384, SHA-512 for P-521, as sigstore-go), or with SHA-256 (what
    /// cosign uses for every key loaded from a file); Ed25519 over the message itself. This is
    /// the hot path of image verification, so it runs on aws-lc-rs.
    pub fn verify(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<ValidSignature, SignatureError> {
        use aws_lc_rs::signature::UnparsedPublicKey;
        self.check_shape(signature)?;
        let default = self
            .algorithm
            .default_hash()
            .unwrap_or(HashAlgorithm::Sha256);
        let mut hashes = vec![default];
        if default != HashAlgorithm::Sha256 {
            hashes.push(HashAlgorithm::Sha256);
        }
        for hash in hashes {
            let key = UnparsedPublicKey::new(self.algorithm.verification(hash), &self.raw);
            if key.verify(message, signature).is_ok() {
                return Ok(ValidSignature { _private: () });
            }
        }
        Err(SignatureError::Mismatch)
    }

    /// ECDSA signatures must be ASN.1 DER (cosign's encoding); the others are raw bytes.
    fn check_shape(&self, signature: &[u8]) -> Result<(), SignatureError> {
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                // SEQUENCE { INTEGER r, INTEGER s }.
                if signature.first() != Some(&0x30) || signature.len() < 8 {
                    return Err(SignatureError::Malformed);
                }
                Ok(())
            }
            KeyAlgorithm::Rsa | KeyAlgorithm::Ed25519 => Ok(()),
        }
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not an ASN.1 DER ECDSA signature.
    #[error("the signature is not an ASN.1 DER ECDSA signature")]
    Malformed,
    /// A digest was given to an Ed25519 key, which signs whole messages.
    #[error("an Ed25519 key signs whole messages, not digests: verify with the artifact itself")]
    DigestWithEd25519,
    /// Well-formed, but not made by this key over this content.
    #[error("the signature does not match the content and key")]
    Mismatch,
}

impl Classify for SignatureError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Verification
    }
}

/// Errors reading, decrypting or encoding keys. All are input errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not PEM at all.
    #[error("not a PEM file: {0}")]
    Pem(String),
    /// A PEM block of another kind than expected.
    #[error("expected a PEM block `{expected}`, found `{found}`")]
    UnexpectedLabel {
        /// The label wanted.
        expected: &'static str,
        /// The label found.
        found: String,
    },
    /// The password does not decrypt the key.
    #[error(
        "wrong password: the key could not be decrypted (check VOUCH_PASSWORD or COSIGN_PASSWORD)"
    )]
    WrongPassword,
    /// A field of the encrypted key file is missing or malformed.
    #[error("malformed encrypted key: {field}: {reason}")]
    Malformed {
        /// The JSON field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A key derivation function other than scrypt.
    #[error("unsupported key derivation function `{0}`: expected `scrypt`")]
    UnsupportedKdf(String),
    /// A cipher other than NaCl secretbox.
    #[error("unsupported cipher `{0}`: expected `nacl/secretbox`")]
    UnsupportedCipher(String),
    /// scrypt parameters out of range.
    #[error(
        "scrypt parameters N={n} r={r} p={p} are out of range: N must be a power of two from 2 to 2^20, r 1 to 32, p 1 to 16, and 128·N·r at most 1 GiB"
    )]
    KdfParams {
        /// N.
        n: u64,
        /// r.
        r: u64,
        /// p.
        p: u64,
    },
    /// Not a key type vouch signs with.
    #[error(
        "unsupported key type: {0}; cosign and vouch sign with ECDSA P-256/P-384/P-521, RSA (2048, 3072 or 4096 bits) or Ed25519 keys"
    )]
    UnsupportedKeyType(String),
    /// The decrypted key is not PKCS#8.
    #[error(
        "the decrypted key is not PKCS#8 ({0}); cosign and vouch store PKCS#8 inside encrypted keys"
    )]
    NotPkcs8(String),
    /// Input larger than its limit.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// The system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
    /// Encoding failed.
    #[error("cannot encode the key: {0}")]
    Encode(String),
}

impl Classify for KeyError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Input
    }
}

pub(crate) fn base64_field(field: &'static str, value: &str) -> Result<Vec<u8>, KeyError> {
    B64.decode(value).map_err(|e| KeyError::Malformed {
        field,
        reason: format!("not base64: {e}"),
    })
}

#[cfg(test)]
mod tests;
