//! Keys that never leave their vault: signing with a key held by a PKCS#11 token, HashiCorp
//! Vault / OpenBao transit, or AWS KMS, named as cosign names them.
//!
//! | reference | backend |
//! | --- | --- |
//! | `pkcs11:token=T;object=O?module-path=/usr/lib/softhsm/libsofthsm2.so` | a PKCS#11 token (RFC 7512 URI; `id=` instead of `object=`; the PIN from `pin-value=` or `VOUCH_PKCS11_PIN`, or one the caller asks for: [`Pkcs11Uri::set_pin`]) |
//! | `hashivault://KEY` | Vault / OpenBao transit (`VAULT_ADDR`, `VAULT_TOKEN` or `~/.vault-token`, `TRANSIT_SECRET_ENGINE_PATH`) |
//! | `awskms:///KEY-ID`, `awskms:///alias/NAME`, `awskms:///arn:aws:kms:…`, `awskms://HOST:PORT/…` | AWS KMS (`AWS_REGION`, environment or `~/.aws/credentials` credentials, `AWS_ENDPOINT_URL`) |
//!
//! `gcpkms://` and `azurekms://` are recognised and refused ([`KmsError::Unsupported`]).
//!
//! vouch computes the SHA-256 digest (a file is hashed as a stream) and sends only the digest;
//! every signature is verified against the key's public key before it is returned, so a
//! misconfigured key never yields a signature that does not verify.
//!
//! ```no_run
//! # async fn f() -> Result<(), vouch_core::kms::KmsError> {
//! use vouch_core::digest::Sha256Digest;
//! use vouch_core::kms::{KeyRef, RemoteKey};
//!
//! let key = RemoteKey::connect(&KeyRef::parse("hashivault://release")?).await?;
//! let sig = key.sign_digest(&Sha256Digest::of(b"hello")).await?;
//! assert!(key.public_key().verify_digest(&Sha256Digest::of(b"hello"), sig.as_der()).is_ok());
//! # Ok(()) }
//! ```

mod aws;
mod pkcs11;
mod sigv4;
mod vault;

use std::fmt;

use crate::digest::Sha256Digest;
use crate::error::{Classify, ErrorClass};
use crate::keys::SignError;
use crate::keys::{KeyAlgorithm, PublicKey, Signature};
use crate::payload::dsse::pae_digest;
use crate::sign::{AsyncSigner, SignFuture, Signed, VerificationMaterial};

pub use aws::AwsKeyRef;
pub use pkcs11::Pkcs11Uri;
pub use vault::VaultKeyRef;

/// Why a key service or token could not be used. No variant carries a PIN or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// A scheme cosign knows that vouch does not implement yet.
    #[error(
        "{scheme}:// keys are not supported yet: use a pkcs11:, hashivault:// or awskms:// key, or a key file"
    )]
    Unsupported {
        /// `gcpkms` or `azurekms`.
        scheme: String,
    },
    /// The reference cannot be parsed.
    #[error("invalid key reference {reference:?}: {reason}")]
    BadReference {
        /// The reference, without any PIN.
        reference: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A setting the backend needs is missing (an environment variable, a module path).
    #[error("{0}")]
    MissingSetting(String),
    /// The token refused the PIN.
    #[error(
        "the PKCS#11 token {token:?} refused the PIN: check pin-value= or VOUCH_PKCS11_PIN (a token locks after repeated failures)"
    )]
    WrongPin {
        /// The token's label.
        token: String,
    },
    /// No token with that label (or slot).
    #[error("no PKCS#11 token {token:?} in {module}: tokens present: {present}")]
    TokenNotFound {
        /// The label asked for.
        token: String,
        /// The module searched.
        module: String,
        /// The labels found.
        present: String,
    },
    /// The key does not exist.
    #[error("{service}: no key {key}: {hint}")]
    KeyNotFound {
        /// The backend.
        service: &'static str,
        /// The key asked for.
        key: String,
        /// What to do.
        hint: String,
    },
    /// The key exists but is not one vouch signs with.
    #[error("{service}: key {key} is {found}, expected an ECDSA P-256 signing key")]
    WrongKeyType {
        /// The backend.
        service: &'static str,
        /// The key.
        key: String,
        /// Its type, as the backend names it.
        found: String,
    },
    /// The service cannot be reached.
    #[error("{service} at {address} cannot be reached: {detail}")]
    Unreachable {
        /// The backend.
        service: &'static str,
        /// Where vouch looked.
        address: String,
        /// The transport error.
        detail: String,
    },
    /// The service refused the credentials or the operation.
    #[error("{service} denied {operation}: {detail}; {hint}")]
    Denied {
        /// The backend.
        service: &'static str,
        /// What was asked.
        operation: &'static str,
        /// The service's reason.
        detail: String,
        /// What to do.
        hint: &'static str,
    },
    /// The service or token failed or answered something vouch cannot use.
    #[error("{service}: {detail}")]
    Service {
        /// The backend.
        service: &'static str,
        /// What happened.
        detail: String,
    },
    /// The service returned a signature that does not verify with the key's public key.
    #[error(
        "{service} returned a signature that does not verify with key {key}'s public key: the key is misconfigured (or the service does not sign digests as asked); nothing was written"
    )]
    BadSignature {
        /// The backend.
        service: &'static str,
        /// The key.
        key: String,
    },
    /// The backend cannot create keys this way.
    #[error("{0}")]
    CannotCreate(String),
}

impl Classify for KmsError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Unreachable { .. } | Self::Service { .. } | Self::BadSignature { .. } => {
                ErrorClass::Registry
            }
            _ => ErrorClass::Input,
        }
    }
}

/// A reference to a key held by a token or a key service.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRef {
    /// `pkcs11:…`
    Pkcs11(Pkcs11Uri),
    /// `hashivault://KEY`
    Vault(VaultKeyRef),
    /// `awskms://…`
    Aws(AwsKeyRef),
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRef({self})")
    }
}

impl fmt::Display for KeyRef {
    /// The reference as cosign spells it, without any PIN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pkcs11(u) => u.fmt(f),
            Self::Vault(v) => v.fmt(f),
            Self::Aws(a) => a.fmt(f),
        }
    }
}

const UNSUPPORTED: [&str; 2] = ["gcpkms", "azurekms"];

impl KeyRef {
    /// Whether `s` names a key service or token rather than a key file (a key file whose name
    /// starts with `pkcs11:` must be spelled `./pkcs11:…`).
    pub fn is_reference(s: &str) -> bool {
        s.starts_with("pkcs11:")
            || ["hashivault", "awskms"]
                .iter()
                .chain(UNSUPPORTED.iter())
                .any(|scheme| s.starts_with(&format!("{scheme}://")))
    }

    /// Parses a reference in cosign's spellings.
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        if let Some(rest) = s.strip_prefix("pkcs11:") {
            return Ok(Self::Pkcs11(Pkcs11Uri::parse(rest)?));
        }
        if let Some(rest) = s.strip_prefix("hashivault://") {
            return Ok(Self::Vault(VaultKeyRef::parse(rest)?));
        }
        if let Some(rest) = s.strip_prefix("awskms://") {
            return Ok(Self::Aws(AwsKeyRef::parse(rest)?));
        }
        for scheme in UNSUPPORTED {
            if s.starts_with(&format!("{scheme}://")) {
                return Err(KmsError::Unsupported {
                    scheme: scheme.into(),
                });
            }
        }
        Err(KmsError::BadReference {
            reference: s.chars().take(40).collect(),
            reason: "expected pkcs11:, hashivault:// or awskms://".into(),
        })
    }
}

enum Backend {
    Pkcs11(pkcs11::Pkcs11Key),
    Vault(vault::VaultKey),
    Aws(aws::AwsKey),
}

/// A signing key held by a token or a key service, with its public key (read at connection).
pub struct RemoteKey {
    reference: KeyRef,
    backend: Backend,
    public: PublicKey,
    hint: String,
}

impl fmt::Debug for RemoteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKey")
            .field("reference", &self.reference.to_string())
            .field("public", &self.hint)
            .finish()
    }
}

fn require_p256(service: &'static str, key: &str, public: &PublicKey) -> Result<(), KmsError> {
    if public.algorithm() == KeyAlgorithm::EcdsaP256 {
        Ok(())
    } else {
        Err(KmsError::WrongKeyType {
            service,
            key: key.into(),
            found: public.algorithm().name().into(),
        })
    }
}

impl RemoteKey {
    /// Opens the token or reaches the service, and reads the key's public key.
    pub async fn connect(reference: &KeyRef) -> Result<Self, KmsError> {
        let (backend, public) = match reference {
            KeyRef::Pkcs11(uri) => {
                let k = pkcs11::Pkcs11Key::open(uri)?;
                let p = k.public_key()?;
                (Backend::Pkcs11(k), p)
            }
            KeyRef::Vault(r) => {
                let k = vault::VaultKey::new(r)?;
                let p = k.public_key().await?;
                (Backend::Vault(k), p)
            }
            KeyRef::Aws(r) => {
                let k = aws::AwsKey::new(r)?;
                let p = k.public_key().await?;
                (Backend::Aws(k), p)
            }
        };
        require_p256(service_name(reference), &reference.to_string(), &public)?;
        let hint = public.hint();
        Ok(Self {
            reference: reference.clone(),
            backend,
            public,
            hint,
        })
    }

    /// Creates the key in Vault transit (`ecdsa-p256`) or AWS KMS (`ECC_NIST_P256`,
    /// `SIGN_VERIFY`, with the alias the reference names), as `cosign generate-key-pair --kms`
    /// does; an existing key is kept and returned. PKCS#11 keys are made with the token's tools.
    pub async fn create(reference: &KeyRef) -> Result<Self, KmsError> {
        match reference {
            KeyRef::Pkcs11(_) => {
                return Err(KmsError::CannotCreate(
                    "vouch does not create keys in PKCS#11 tokens: make one with the token's tools (e.g. `pkcs11-tool --keypairgen --key-type EC:prime256v1`)".into(),
                ));
            }
            KeyRef::Vault(r) => vault::VaultKey::new(r)?.create().await?,
            KeyRef::Aws(r) => aws::AwsKey::new(r)?.create().await?,
        }
        Self::connect(reference).await
    }

    /// The reference.
    pub fn reference(&self) -> &KeyRef {
        &self.reference
    }

    /// The key's public key (ECDSA P-256).
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs a SHA-256 digest (only the digest leaves vouch); the signature (ASN.1 DER) is
    /// verified with the public key before it is returned.
    pub async fn sign_digest(&self, digest: &Sha256Digest) -> Result<Signature, KmsError> {
        let der = match &self.backend {
            Backend::Pkcs11(k) => k.sign_digest(digest)?,
            Backend::Vault(k) => k.sign_digest(digest).await?,
            Backend::Aws(k) => k.sign_digest(digest).await?,
        };
        if self.public.verify_digest(digest, &der).is_err() {
            return Err(KmsError::BadSignature {
                service: service_name(&self.reference),
                key: self.reference.to_string(),
            });
        }
        Ok(Signature::from_bytes(der))
    }

    fn signed(&self, signature: Signature) -> Signed {
        Signed {
            signature: signature.as_der().to_vec(),
            material: VerificationMaterial::PublicKey {
                hint: self.hint.clone(),
            },
            log_entry: None,
            timestamps: Vec::new(),
        }
    }

    /// Signs a DSSE envelope's PAE(`payload_type`, `payload`), as
    /// [`crate::sign::Signer::sign_dsse`] does.
    pub async fn sign_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<Signed, KmsError> {
        let sig = self.sign_digest(&pae_digest(payload_type, payload)).await?;
        Ok(self.signed(sig))
    }

    /// Signs a legacy `.sig` payload, as [`crate::sign::Signer::sign_payload`] does.
    pub async fn sign_payload(&self, payload: &[u8]) -> Result<Signed, KmsError> {
        let sig = self.sign_digest(&Sha256Digest::of(payload)).await?;
        Ok(self.signed(sig))
    }
}

impl From<KmsError> for SignError {
    /// The service's error as [`SignError::Service`], keeping its message and class (a denied
    /// or misconfigured key is an input error, an unreachable service a service error).
    fn from(e: KmsError) -> Self {
        SignError::Service {
            message: e.to_string(),
            class: e.class(),
        }
    }
}

/// Images and attestations signed by a remote key (`vouch sign/attest --key REF`).
impl AsyncSigner for RemoteKey {
    fn sign_dsse_async<'a>(&'a self, payload_type: &'a str, payload: &'a [u8]) -> SignFuture<'a> {
        Box::pin(async move { Ok(self.sign_dsse(payload_type, payload).await?) })
    }

    fn sign_payload_async<'a>(&'a self, payload: &'a [u8]) -> SignFuture<'a> {
        Box::pin(async move { Ok(self.sign_payload(payload).await?) })
    }
}

fn service_name(r: &KeyRef) -> &'static str {
    match r {
        KeyRef::Pkcs11(_) => pkcs11::SERVICE,
        KeyRef::Vault(_) => vault::SERVICE,
        KeyRef::Aws(_) => aws::SERVICE,
    }
}

/// An environment variable, `None` when unset or empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The HTTP client of the key services: the sigstore clients' timeouts and response bound.
fn http_client(service: &'static str) -> Result<reqwest::Client, KmsError> {
    crate::sigstore::http::client(&crate::sigstore::http::HttpLimits::DEFAULT)
        .map_err(|detail| KmsError::Service { service, detail })
}

/// A response's status and body (bounded), or the transport error as [`KmsError::Unreachable`].
async fn send(
    service: &'static str,
    address: &str,
    req: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, Vec<u8>), KmsError> {
    let unreachable = |detail: String| KmsError::Unreachable {
        service,
        address: address.to_owned(),
        detail,
    };
    let resp = req.send().await.map_err(|e| unreachable(error_chain(&e)))?;
    crate::sigstore::http::read_body(resp, &crate::sigstore::http::HttpLimits::DEFAULT)
        .await
        .map_err(unreachable)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn excerpt(body: &[u8]) -> String {
    crate::sigstore::http::excerpt(body)
}

/// ECDSA P-256 SubjectPublicKeyInfo from an uncompressed SEC1 point.
fn p256_spki(point: &[u8]) -> Vec<u8> {
    const PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let mut v = PREFIX.to_vec();
    v.extend_from_slice(point);
    v
}

#[cfg(test)]
mod tests;
