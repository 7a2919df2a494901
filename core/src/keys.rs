//! ECDSA P-256 keys as cosign writes and reads them.
//!
//! - [`SigningKey`] and [`PublicKey`]: sign and check SHA-256 digests (ASN.1 DER signatures).
//! - [`encrypted`]: cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` file (scrypt + NaCl secretbox).
//! - [`files`]: loading and writing key files (0600, never overwriting without being told to).

pub mod encrypted;
pub mod files;
mod import;
pub use import::decode_pem;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use zeroize::Zeroizing;

use crate::digest::Sha256Digest;
use crate::error::{Classify, ErrorClass};
use crate::limits::TooLarge;

/// An ECDSA P-256 private key. Its `Debug` shows only the public half; it is zeroized on drop.
pub struct SigningKey {
    inner: p256::ecdsa::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key_hint", &self.public_key().hint())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, KeyError> {
        use p256::elliptic_curve::Generate as _;
        let inner = p256::ecdsa::SigningKey::try_generate().map_err(|_| KeyError::Random)?;
        Ok(Self { inner })
    }

    /// Parses a PKCS#8 `PrivateKeyInfo` holding a P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        import::from_pkcs8_der(der)
    }

    /// Parses an unencrypted private key PEM: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub fn from_unencrypted_pem(pem: &[u8]) -> Result<Self, KeyError> {
        import::from_unencrypted_pem(pem)
    }

    pub(crate) fn from_inner(inner: p256::ecdsa::SigningKey) -> Self {
        Self { inner }
    }

    /// The PKCS#8 DER encoding (secret; zeroized when dropped).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = self
            .inner
            .to_pkcs8_der()
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: *self.inner.verifying_key(),
        }
    }

    /// Signs SHA-256(`message`).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.sign_digest(&Sha256Digest::of(message))
    }

    /// Signs a SHA-256 digest computed elsewhere (for streamed files): ECDSA over the digest,
    /// exactly what Go's `ecdsa.SignASN1(rand, key, sha256(msg))` produces.
    pub fn sign_digest(&self, digest: &Sha256Digest) -> Signature {
        let sig: p256::ecdsa::DerSignature = match self.inner.sign_prehash(digest.as_bytes()) {
            Ok(sig) => sig,
            // RFC 6979 signing of a 32-byte prehash cannot fail for a valid key.
            Err(_) => unreachable!("ECDSA P-256 signing of a 32-byte digest failed"),
        };
        Signature(sig.as_bytes().to_vec())
    }
}

/// An ASN.1 DER ECDSA signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature(Vec<u8>);

impl Signature {
    /// The DER bytes.
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

/// An ECDSA P-256 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: p256::ecdsa::VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.hint())
    }
}

/// Proof that a signature was checked and is valid. Only [`PublicKey::verify_digest`] makes one.
#[derive(Debug)]
pub struct ValidSignature {
    _private: (),
}

impl PublicKey {
    /// Parses a PKIX `PUBLIC KEY` PEM.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = import::decode_pem(pem)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::UnexpectedLabel {
                expected: "PUBLIC KEY",
                found: label,
            });
        }
        Self::from_spki_der(&der)
    }

    /// Parses a DER SubjectPublicKeyInfo holding a P-256 key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        match p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            Ok(inner) => Ok(Self { inner }),
            Err(_) => Err(import::describe_unsupported_spki(der)),
        }
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        match self.inner.to_public_key_der() {
            Ok(doc) => doc.as_bytes().to_vec(),
            Err(_) => unreachable!("encoding a P-256 public key cannot fail"),
        }
    }

    /// The `PUBLIC KEY` PEM, as cosign writes it (64-column lines, LF, trailing newline).
    pub fn to_pem(&self) -> String {
        match self.inner.to_public_key_pem(LineEnding::LF) {
            Ok(pem) => pem,
            Err(_) => unreachable!("encoding a P-256 public key cannot fail"),
        }
    }

    /// The sigstore key hint: base64 of SHA-256 of the DER SubjectPublicKeyInfo
    /// (`verificationMaterial.publicKey.hint` in bundles written by cosign and sigstore-go).
    pub fn hint(&self) -> String {
        B64.encode(Sha256Digest::of(&self.to_spki_der()).as_bytes())
    }

    /// Checks an ASN.1 DER ECDSA signature over a SHA-256 digest.
    pub fn verify_digest(
        &self,
        digest: &Sha256Digest,
        signature_der: &[u8],
    ) -> Result<ValidSignature, SignatureError> {
        // On aws-lc-rs too (DSSE and bundle signatures are checked over a digest we computed
        // ourselves: the PAE's or the artifact's).
        use aws_lc_rs::digest::{Digest, SHA256};
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
        p256::ecdsa::DerSignature::from_bytes(signature_der)
            .map_err(|_| SignatureError::Malformed)?;
        let digest = Digest::import_less_safe(digest.as_bytes(), &SHA256)
            .map_err(|_| SignatureError::Malformed)?;
        let point = self.inner.to_sec1_point(false);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point.as_bytes())
            .verify_digest(&digest, signature_der)
            .map_err(|_| SignatureError::Mismatch)?;
        Ok(ValidSignature { _private: () })
    }

    /// Checks an ASN.1 DER ECDSA signature over SHA-256(`message`). This is the hot path of
    /// image verification, so it runs on aws-lc-rs (about 5× RustCrypto's speed).
    pub fn verify(
        &self,
        message: &[u8],
        signature_der: &[u8],
    ) -> Result<ValidSignature, SignatureError> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
        p256::ecdsa::DerSignature::from_bytes(signature_der)
            .map_err(|_| SignatureError::Malformed)?;
        let point = self.inner.to_sec1_point(false);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point.as_bytes())
            .verify(message, signature_der)
            .map_err(|_| SignatureError::Mismatch)?;
        Ok(ValidSignature { _private: () })
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not an ASN.1 DER ECDSA signature.
    #[error("the signature is not an ASN.1 DER ECDSA P-256 signature")]
    Malformed,
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
    #[error("unsupported key type: {0}; vouch uses ECDSA P-256 keys (cosign's default)")]
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
