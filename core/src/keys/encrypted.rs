//! cosign's encrypted private key file (go-securesystemslib `encrypted`): a PEM block
//! `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) whose body is
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<b64>"},"ciphertext":"<b64>"}
//! ```
//!
//! where the secretbox key is scrypt(password, salt, N, r, p, 32) and the plaintext is the PKCS#8
//! DER of the private key.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KeyError, SigningKey, base64_field};
use crate::limits::{Limits, check_size};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

pub use super::pem::{COSIGN_LABEL, SIGSTORE_LABEL};

/// scrypt cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// log2(N).
    pub log_n: u8,
    /// Block size r.
    pub r: u32,
    /// Parallelism p.
    pub p: u32,
}

impl KdfParams {
    /// What current cosign writes (go-securesystemslib's default): N=65536, r=8, p=1.
    pub const COSIGN: KdfParams = KdfParams {
        log_n: 16,
        r: 8,
        p: 1,
    };
    /// What cosign wrote before (and many keys in use have): N=32768, r=8, p=1.
    pub const COSIGN_LEGACY: KdfParams = KdfParams {
        log_n: 15,
        r: 8,
        p: 1,
    };

    fn from_file(n: u64, r: u64, p: u64) -> Result<Self, KeyError> {
        let bad = || KeyError::KdfParams { n, r, p };
        if n < 2 || !n.is_power_of_two() || n > 1 << 20 || !(1..=32).contains(&r) {
            return Err(bad());
        }
        if !(1..=16).contains(&p) || 128 * n * r > 1 << 30 {
            return Err(bad());
        }
        Ok(Self {
            log_n: n.trailing_zeros() as u8,
            r: r as u32,
            p: p as u32,
        })
    }

    fn derive(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let params =
            scrypt::Params::new(self.log_n, self.r, self.p).map_err(|_| KeyError::KdfParams {
                n: 1 << self.log_n,
                r: self.r.into(),
                p: self.p.into(),
            })?;
        let mut key = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(password, salt, &params, key.as_mut()).map_err(|_| KeyError::KdfParams {
            n: 1 << self.log_n,
            r: self.r.into(),
            p: self.p.into(),
        })?;
        Ok(key)
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// Encrypts `key` under `password` and returns the PEM text of cosign's key file.
pub fn encrypt(
    key: &SigningKey,
    password: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<String>, KeyError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut salt).map_err(|_| KeyError::Random)?;
    getrandom::fill(&mut nonce).map_err(|_| KeyError::Random)?;
    let secret = params.derive(password, &salt)?;
    let plaintext = key.to_pkcs8_der()?;
    let ciphertext = XSalsa20Poly1305::new(secret.as_ref().into())
        .encrypt(&Nonce::from(nonce), plaintext.as_slice())
        .map_err(|_| KeyError::Encode("secretbox encryption failed".into()))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1 << params.log_n,
                r: params.r.into(),
                p: params.p.into(),
            },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(ciphertext),
    };
    let json = serde_json::to_vec(&envelope).map_err(|e| KeyError::Encode(e.to_string()))?;
    let pem = pem_rfc7468::encode_string(SIGSTORE_LABEL, pem_rfc7468::LineEnding::LF, &json)
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    Ok(Zeroizing::new(pem))
}

/// The parsed, still encrypted key file: checked for shape and limits before any scrypt work.
#[derive(Debug)]
pub struct EncryptedKey {
    params: KdfParams,
    salt: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl EncryptedKey {
    /// Parses cosign's key file (either label).
    pub fn parse(text: &[u8], limits: &Limits) -> Result<Self, KeyError> {
        check_size("the key file", text.len(), limits.key_file)?;
        let (label, body) = super::pem::decode_pem(text)?;
        if label != SIGSTORE_LABEL && label != COSIGN_LABEL {
            return Err(KeyError::UnexpectedLabel {
                expected: SIGSTORE_LABEL,
                found: label,
            });
        }
        let env: Envelope = serde_json::from_slice(&body).map_err(|e| KeyError::Malformed {
            field: "(document)",
            reason: e.to_string(),
        })?;
        if env.kdf.name != "scrypt" {
            return Err(KeyError::UnsupportedKdf(env.kdf.name));
        }
        if env.cipher.name != "nacl/secretbox" {
            return Err(KeyError::UnsupportedCipher(env.cipher.name));
        }
        let params = KdfParams::from_file(env.kdf.params.n, env.kdf.params.r, env.kdf.params.p)?;
        let salt = base64_field("kdf.salt", &env.kdf.salt)?;
        let nonce: [u8; NONCE_LEN] = base64_field("cipher.nonce", &env.cipher.nonce)?
            .try_into()
            .map_err(|v: Vec<u8>| KeyError::Malformed {
                field: "cipher.nonce",
                reason: format!("expected {NONCE_LEN} bytes, found {}", v.len()),
            })?;
        let ciphertext = base64_field("ciphertext", &env.ciphertext)?;
        Ok(Self {
            params,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// The scrypt parameters found in the file.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// Decrypts with `password`. A wrong password is [`KeyError::WrongPassword`].
    pub fn decrypt(&self, password: &[u8]) -> Result<SigningKey, KeyError> {
        let secret = self.params.derive(password, &self.salt)?;
        let plaintext = XSalsa20Poly1305::new(secret.as_ref().into())
            .decrypt(&Nonce::from(self.nonce), self.ciphertext.as_slice())
            .map_err(|_| KeyError::WrongPassword)?;
        let plaintext = Zeroizing::new(plaintext);
        match SigningKey::from_pkcs8_der(&plaintext) {
            Err(KeyError::NotPkcs8(_)) if sec1_shaped(&plaintext) => Err(KeyError::NotPkcs8(
                "it is a SEC1 `EC PRIVATE KEY`; re-import it with `vouch import-key-pair`".into(),
            )),
            other => other,
        }
    }
}

/// SEC1 ECPrivateKey DER starts SEQUENCE { INTEGER 1, OCTET STRING ... }.
fn sec1_shaped(der: &[u8]) -> bool {
    let body = match der {
        [0x30, 0x81, _, rest @ ..] => rest,
        [0x30, len, rest @ ..] if *len < 0x80 => rest,
        _ => return false,
    };
    body.starts_with(&[0x02, 0x01, 0x01, 0x04])
}
