//! Unencrypted key material: PEM framing, PKCS#8 and SEC1 private keys, and naming the key types
//! vouch does not sign with.

use p256::pkcs8::der::Decode as _;
use p256::pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfoRef};
use p256::pkcs8::{DecodePrivateKey as _, SubjectPublicKeyInfoRef};

use super::{KeyError, SigningKey};

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// Names for the key algorithms and curves people actually bring.
fn algorithm_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    Some(match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10045.3.1.7" => "ECDSA P-256",
        "1.3.132.0.33" => "ECDSA P-224",
        "1.3.132.0.34" => "ECDSA P-384",
        "1.3.132.0.35" => "ECDSA P-521",
        "1.3.132.0.10" => "ECDSA secp256k1",
        _ => return None,
    })
}

fn describe_algorithm(alg: &AlgorithmIdentifierRef<'_>) -> String {
    let oid = if alg.oid.to_string() == OID_EC_PUBLIC_KEY {
        match alg.parameters_oid() {
            Ok(curve) => curve,
            Err(_) => return "an EC key without a named curve".into(),
        }
    } else {
        alg.oid
    };
    match algorithm_name(&oid) {
        Some(name) => name.into(),
        None => format!("algorithm {oid}"),
    }
}

const KNOWN_LABELS: &[&str] = &[
    "CERTIFICATE",
    "PUBLIC KEY",
    "PRIVATE KEY",
    "EC PRIVATE KEY",
    "RSA PRIVATE KEY",
    super::encrypted::SIGSTORE_LABEL,
    super::encrypted::COSIGN_LABEL,
];

/// Decodes the first PEM block in `text`, skipping anything before it (as Go's `pem.Decode`
/// does), and returns its label and body. Windows line endings are accepted.
pub fn decode_pem(text: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    let start = find(text, b"-----BEGIN ")
        .ok_or_else(|| KeyError::Pem("no `-----BEGIN` line found".into()))?;
    let block = &text[start..];
    let label_line = &block[11..];
    let label_end = find(label_line, b"-----")
        .ok_or_else(|| KeyError::Pem("unterminated `-----BEGIN` line".into()))?;
    let label = String::from_utf8_lossy(&label_line[..label_end]).into_owned();
    if !KNOWN_LABELS.contains(&label.as_str()) {
        return Err(KeyError::UnexpectedLabel {
            expected: "a key PEM block (PUBLIC KEY, PRIVATE KEY, EC PRIVATE KEY, ENCRYPTED SIGSTORE PRIVATE KEY)",
            found: label,
        });
    }
    let (label, body) = pem_rfc7468::decode_vec(block).or_else(|first_err| {
        // pem-rfc7468 is strict about what follows the END line; retry on the block alone.
        let end = find(block, b"-----END ").ok_or_else(|| KeyError::Pem(first_err.to_string()))?;
        let tail = &block[end + 9..];
        let close = find(tail, b"-----")
            .ok_or_else(|| KeyError::Pem("unterminated `-----END` line".into()))?;
        let only = &block[..end + 9 + close + 5];
        pem_rfc7468::decode_vec(only).map_err(|e| KeyError::Pem(e.to_string()))
    })?;
    Ok((label.to_owned(), body))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
    let info = PrivateKeyInfoRef::from_der(der).map_err(|e| KeyError::NotPkcs8(e.to_string()))?;
    let name = describe_algorithm(&info.algorithm);
    if name != "ECDSA P-256" {
        return Err(KeyError::UnsupportedKeyType(name));
    }
    let inner = p256::ecdsa::SigningKey::from_pkcs8_der(der)
        .map_err(|e| KeyError::UnsupportedKeyType(format!("unreadable P-256 PKCS#8 key: {e}")))?;
    Ok(SigningKey::from_inner(inner))
}

fn from_sec1_der(der: &[u8]) -> Result<SigningKey, KeyError> {
    let parsed = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| KeyError::Pem(format!("not a SEC1 EC private key: {e}")))?;
    if let Some(curve) = parsed.parameters.and_then(|p| p.named_curve()) {
        let name = algorithm_name(&curve)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("EC curve {curve}"));
        if name != "ECDSA P-256" {
            return Err(KeyError::UnsupportedKeyType(name));
        }
    }
    let secret = p256::SecretKey::from_sec1_der(der)
        .map_err(|e| KeyError::UnsupportedKeyType(format!("unreadable P-256 SEC1 key: {e}")))?;
    Ok(SigningKey::from_inner(secret.into()))
}

pub(crate) fn from_unencrypted_pem(text: &[u8]) -> Result<SigningKey, KeyError> {
    let (label, der) = decode_pem(text)?;
    let der = zeroize::Zeroizing::new(der);
    match label.as_str() {
        "PRIVATE KEY" => from_pkcs8_der(&der),
        "EC PRIVATE KEY" => from_sec1_der(&der),
        "RSA PRIVATE KEY" => Err(KeyError::UnsupportedKeyType("RSA".into())),
        super::encrypted::SIGSTORE_LABEL | super::encrypted::COSIGN_LABEL => {
            Err(KeyError::UnexpectedLabel {
                expected: "PRIVATE KEY or EC PRIVATE KEY (unencrypted; this key is already in cosign's format)",
                found: label,
            })
        }
        _ => Err(KeyError::UnexpectedLabel {
            expected: "PRIVATE KEY or EC PRIVATE KEY",
            found: label,
        }),
    }
}

/// The error for a SubjectPublicKeyInfo that is not P-256, naming what it is.
pub(crate) fn describe_unsupported_spki(der: &[u8]) -> KeyError {
    match SubjectPublicKeyInfoRef::from_der(der) {
        Ok(spki) => {
            let name = describe_algorithm(&spki.algorithm);
            if name == "ECDSA P-256" {
                KeyError::UnsupportedKeyType("a malformed ECDSA P-256 public key".into())
            } else {
                KeyError::UnsupportedKeyType(name)
            }
        }
        Err(e) => KeyError::Pem(format!("not a DER SubjectPublicKeyInfo: {e}")),
    }
}
