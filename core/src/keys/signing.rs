//! Private keys of every type `cosign import-key-pair` accepts, signing as cosign signs with a key
//! file (cosign `pkg/cosign/keys.go` `LoadPrivateKey` → sigstore `LoadDefaultSignerVerifier`):
//! ECDSA P-256 with SHA-256, P-384 with SHA-384, P-521 with SHA-512, RSA PKCS#1 v1.5 with
//! SHA-256, Ed25519 over the message itself.
//!
//! P-256 runs on the `p256` crate (generated keys, the benchmarked path); the others on aws-lc-rs,
//! which keeps the key in its own memory (freed with `EVP_PKEY_free`); their PKCS#8 encoding is
//! kept beside it in a [`Zeroizing`] buffer for writing cosign's encrypted key file.

use std::fmt;

use aws_lc_rs::digest::Digest;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use super::{KeyAlgorithm, KeyError, PublicKey, Signature};
use crate::digest::{HashAlgorithm, Sha256Digest};
use crate::error::{Classify, ErrorClass};

/// A private key: ECDSA P-256 / P-384 / P-521, RSA (2048, 3072 or 4096 bits) or Ed25519. Its
/// `Debug` shows only the public half; secret bytes held by vouch are zeroized on drop.
pub struct SigningKey {
    inner: Inner,
}

enum Inner {
    P256(p256::ecdsa::SigningKey),
    Other {
        pair: OtherPair,
        /// PKCS#8 v1 `PrivateKeyInfo` (secret).
        pkcs8: Zeroizing<Vec<u8>>,
        public: PublicKey,
    },
}

enum OtherPair {
    /// P-384 or P-521, set up for the curve's hash (SHA-384, SHA-512), as cosign signs.
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm().name())
            .field("public_key_hint", &self.public_key().hint())
            .finish_non_exhaustive()
    }
}

/// The RSA moduli cosign accepts (sigstore `cryptoutils.ValidatePubKey`: exactly 2048, 3072 or
/// 4096 bits).
const RSA_BITS: [usize; 3] = [2048, 3072, 4096];

impl SigningKey {
    /// A new random ECDSA P-256 key (cosign's default) from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, KeyError> {
        use p256::elliptic_curve::Generate as _;
        let inner = p256::ecdsa::SigningKey::try_generate().map_err(|_| KeyError::Random)?;
        Ok(Self::from_p256(inner))
    }

    pub(crate) fn from_p256(inner: p256::ecdsa::SigningKey) -> Self {
        Self {
            inner: Inner::P256(inner),
        }
    }

    /// Parses a PKCS#8 `PrivateKeyInfo`: ECDSA P-256/P-384/P-521, RSA or Ed25519.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        super::import::from_pkcs8_der(der)
    }

    /// Parses an unencrypted private key PEM as `cosign import-key-pair` does: PKCS#8
    /// (`PRIVATE KEY`: RSA, ECDSA, Ed25519), SEC1 (`EC PRIVATE KEY`) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    pub fn from_unencrypted_pem(pem: &[u8]) -> Result<Self, KeyError> {
        super::import::from_unencrypted_pem(pem)
    }

    /// An ECDSA P-384 or P-521 key from a PKCS#8 or SEC1 (RFC 5915) DER encoding.
    pub(crate) fn ecdsa_from_der(algorithm: KeyAlgorithm, der: &[u8]) -> Result<Self, KeyError> {
        use aws_lc_rs::signature::{
            ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
        };
        let signing = match algorithm {
            KeyAlgorithm::EcdsaP384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
            KeyAlgorithm::EcdsaP521 => &ECDSA_P521_SHA512_ASN1_SIGNING,
            other => return Err(KeyError::UnsupportedKeyType(other.name().into())),
        };
        let pair = EcdsaKeyPair::from_private_key_der(signing, der).map_err(|e| {
            KeyError::UnsupportedKeyType(format!("unreadable {} key: {e}", algorithm.name()))
        })?;
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| KeyError::Encode(format!("{} to PKCS#8", algorithm.name())))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let public = PublicKey::from_raw(algorithm, pair.public_key().as_ref())?;
        Ok(Self::other(OtherPair::Ecdsa(pair), pkcs8, public))
    }

    /// An RSA key from PKCS#8 or PKCS#1 (`RSAPrivateKey`) DER; cosign takes 2048, 3072 or 4096
    /// bits.
    pub(crate) fn rsa_from_der(der: &[u8], pkcs1: bool) -> Result<Self, KeyError> {
        let parsed = if pkcs1 {
            RsaKeyPair::from_der(der)
        } else {
            RsaKeyPair::from_pkcs8(der)
        };
        let pair = parsed.map_err(|e| {
            KeyError::UnsupportedKeyType(format!(
                "RSA ({e}: malformed, or outside 2048 to 8192 bits); cosign imports RSA keys of {}",
                rsa_sizes()
            ))
        })?;
        let bits = pair.public_modulus_len() * 8;
        if !RSA_BITS.contains(&bits) {
            return Err(KeyError::UnsupportedKeyType(format!(
                "RSA-{bits}; cosign imports RSA keys of {}",
                rsa_sizes()
            )));
        }
        let pkcs8 = pair
            .as_der()
            .map_err(|_| KeyError::Encode("RSA to PKCS#8".into()))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let public = PublicKey::from_raw(KeyAlgorithm::Rsa, pair.public_key().as_ref())?;
        Ok(Self::other(OtherPair::Rsa(pair), pkcs8, public))
    }

    /// An Ed25519 key from PKCS#8 (v1 or v2) DER.
    pub(crate) fn ed25519_from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|e| KeyError::UnsupportedKeyType(format!("unreadable Ed25519 key: {e}")))?;
        // PKCS#8 v1, as Go's x509.MarshalPKCS8PrivateKey writes it.
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| KeyError::Encode("Ed25519 to PKCS#8".into()))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let public = PublicKey::from_raw(KeyAlgorithm::Ed25519, pair.public_key().as_ref())?;
        Ok(Self::other(OtherPair::Ed25519(pair), pkcs8, public))
    }

    fn other(pair: OtherPair, pkcs8: Zeroizing<Vec<u8>>, public: PublicKey) -> Self {
        Self {
            inner: Inner::Other {
                pair,
                pkcs8,
                public,
            },
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.inner {
            Inner::P256(_) => KeyAlgorithm::EcdsaP256,
            Inner::Other { public, .. } => public.algorithm(),
        }
    }

    /// The hash cosign signs with when it loads this key from a file (sigstore
    /// `GetDefaultPublicKeyDetails`): SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for
    /// P-521; `None` for Ed25519, which signs whole messages.
    pub fn signing_hash(&self) -> Option<HashAlgorithm> {
        self.algorithm().default_hash()
    }

    /// The PKCS#8 DER encoding (secret; zeroized when dropped).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match &self.inner {
            Inner::P256(key) => {
                let doc = key
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::Encode(e.to_string()))?;
                Ok(Zeroizing::new(doc.as_bytes().to_vec()))
            }
            Inner::Other { pkcs8, .. } => Ok(pkcs8.clone()),
        }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        match &self.inner {
            Inner::P256(key) => match key.verifying_key().to_public_key_der() {
                Ok(der) => PublicKey {
                    algorithm: KeyAlgorithm::EcdsaP256,
                    raw: key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
                    spki: der.as_bytes().to_vec(),
                },
                Err(_) => unreachable!("encoding a P-256 public key cannot fail"),
            },
            Inner::Other { public, .. } => public.clone(),
        }
    }

    /// Signs `message` as cosign signs a payload with a key file: hashed with
    /// [`signing_hash`](Self::signing_hash) (ECDSA as ASN.1 DER, RSA as PKCS#1 v1.5), or, for
    /// Ed25519, the message itself (pure Ed25519).
    pub fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
        match (&self.inner, self.signing_hash()) {
            (
                Inner::Other {
                    pair: OtherPair::Ed25519(pair),
                    ..
                },
                _,
            ) => Ok(Signature(pair.sign(message).as_ref().to_vec())),
            (_, Some(hash)) => self.sign_prehashed(hash, &hash.hash(message)),
            (_, None) => Err(SignError::DigestWithEd25519),
        }
    }

    /// Signs a SHA-256 digest computed elsewhere (for streamed files): for P-256 exactly what
    /// Go's `ecdsa.SignASN1(rand, key, sha256(msg))` produces. Keys whose cosign hash is not
    /// SHA-256 (P-384, P-521) and Ed25519 keys refuse; see [`sign_prehashed`](Self::sign_prehashed).
    pub fn sign_digest(&self, digest: &Sha256Digest) -> Result<Signature, SignError> {
        self.sign_prehashed(HashAlgorithm::Sha256, digest.as_bytes())
    }

    /// Signs a digest of `hash` computed elsewhere. ECDSA keys sign their curve's hash
    /// ([`signing_hash`](Self::signing_hash)); RSA any of SHA-256/384/512; Ed25519 none.
    pub fn sign_prehashed(
        &self,
        hash: HashAlgorithm,
        digest: &[u8],
    ) -> Result<Signature, SignError> {
        if digest.len() != hash.digest_len() {
            return Err(SignError::DigestLength {
                hash,
                found: digest.len(),
            });
        }
        let pair = match &self.inner {
            Inner::P256(key) => {
                if hash != HashAlgorithm::Sha256 {
                    return Err(self.wrong_hash(hash));
                }
                let sig: p256::ecdsa::DerSignature =
                    key.sign_prehash(digest).map_err(|_| SignError::Failed)?;
                return Ok(Signature(sig.as_bytes().to_vec()));
            }
            Inner::Other { pair, .. } => pair,
        };
        let imported =
            Digest::import_less_safe(digest, hash.aws()).map_err(|_| SignError::Failed)?;
        match pair {
            OtherPair::Ecdsa(pair) => {
                if Some(hash) != self.signing_hash() {
                    return Err(self.wrong_hash(hash));
                }
                let sig = pair.sign_digest(&imported).map_err(|_| SignError::Failed)?;
                Ok(Signature(sig.as_ref().to_vec()))
            }
            OtherPair::Rsa(pair) => {
                use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512};
                let padding = match hash {
                    HashAlgorithm::Sha256 => &RSA_PKCS1_SHA256,
                    HashAlgorithm::Sha384 => &RSA_PKCS1_SHA384,
                    HashAlgorithm::Sha512 => &RSA_PKCS1_SHA512,
                };
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(padding, &imported, &mut sig)
                    .map_err(|_| SignError::Failed)?;
                Ok(Signature(sig))
            }
            OtherPair::Ed25519(_) => Err(SignError::DigestWithEd25519),
        }
    }

    fn wrong_hash(&self, hash: HashAlgorithm) -> SignError {
        SignError::WrongHash {
            key: self.algorithm(),
            hash,
            expected: self.signing_hash().unwrap_or(HashAlgorithm::Sha256),
        }
    }

    /// Whether cosign would sign images and attestations with this key the way vouch does: cosign
    /// signs them with Ed25519 key files as Ed25519ph (`pkg/cosign/keys.go`
    /// `GetDefaultLoadOptions`), which vouch does not produce, so Ed25519 keys are refused there.
    pub fn check_image_signing(&self) -> Result<(), SignError> {
        match self.algorithm() {
            KeyAlgorithm::Ed25519 => Err(SignError::Ed25519ph),
            _ => Ok(()),
        }
    }
}

/// `2048, 3072 or 4096 bits`.
fn rsa_sizes() -> String {
    format!("{}, {} or {} bits", RSA_BITS[0], RSA_BITS[1], RSA_BITS[2])
}

/// Why a key could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A digest was given to an Ed25519 key.
    #[error(
        "Ed25519 keys sign whole messages, not digests: sign the content itself (as `sign-blob` does)"
    )]
    DigestWithEd25519,
    /// An Ed25519 key was asked to sign an image or attestation.
    #[error(
        "Ed25519 keys sign images and attestations in cosign as Ed25519ph (pre-hashed Ed25519), which vouch does not produce: sign files with this key (`sign-blob`, pure Ed25519 as cosign's), or use an ECDSA or RSA key for images"
    )]
    Ed25519ph,
    /// A digest of another hash than the key signs with.
    #[error("{} keys sign {} digests (as cosign does), not {}", key.name(), expected.name(), hash.name())]
    WrongHash {
        /// The key's algorithm.
        key: KeyAlgorithm,
        /// The hash given.
        hash: HashAlgorithm,
        /// The hash this key signs.
        expected: HashAlgorithm,
    },
    /// A digest of the wrong length for its algorithm.
    #[error("a {} digest is {} bytes, found {found}", hash.name(), hash.digest_len())]
    DigestLength {
        /// The hash named.
        hash: HashAlgorithm,
        /// The bytes given.
        found: usize,
    },
    /// The cryptographic library failed to sign.
    #[error("the signing operation failed")]
    Failed,
    /// A signing service (keyless: Fulcio, a timestamp authority, Rekor) failed or lied, or
    /// what it returned did not verify; the message names the service.
    #[error("{message}")]
    Service {
        /// What went wrong, naming the service.
        message: String,
        /// Unavailable services are [`ErrorClass::Registry`], lies [`ErrorClass::Verification`].
        class: ErrorClass,
    },
}

impl Classify for SignError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Service { class, .. } => *class,
            _ => ErrorClass::Input,
        }
    }
}
