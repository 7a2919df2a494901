//! Unencrypted key material: PKCS#8, SEC1 and PKCS#1 private keys, and naming the
//! key types cosign does not import.

use p256::pkcs8::der::Decode as _;
use p256::pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfoRef};
use p256::pkcs8::{DecodePrivateKey as _, SubjectPublicKeyInfoRef};

use super::pem::{COSIGN_LABEL, SIGSTORE_LABEL, decode_pem};
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

/// A PKCS#8 private key of a type cosign imports (Go's `x509.ParsePKCS8PrivateKey`, then
/// sigstore's `ValidatePubKey`): RSA, ECDSA P-256/P-384/P-521, Ed25519.
pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
    use super::KeyAlgorithm as A;
    let info = PrivateKeyInfoRef::from_der(der).map_err(|e| KeyError::NotPkcs8(e.to_string()))?;
    match describe_algorithm(&info.algorithm).as_str() {
        "ECDSA P-256" => {
            let inner = p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| {
                KeyError::UnsupportedKeyType(format!("unreadable P-256 PKCS#8 key: {e}"))
            })?;
            Ok(SigningKey::from_p256(inner))
        }
        "ECDSA P-384" => SigningKey::ecdsa_from_der(A::EcdsaP384, der),
        "ECDSA P-521" => SigningKey::ecdsa_from_der(A::EcdsaP521, der),
        "RSA" => SigningKey::rsa_from_der(der, false),
        "Ed25519" => SigningKey::ed25519_from_pkcs8(der),
        other => Err(KeyError::UnsupportedKeyType(other.to_owned())),
    }
}

/// A SEC1 `EC PRIVATE KEY` (Go's `x509.ParseECPrivateKey`): P-256, P-384 or P-521, named by its
/// curve parameter (cosign's keys always carry it).
fn from_sec1_der(der: &[u8]) -> Result<SigningKey, KeyError> {
    use super::KeyAlgorithm as A;
    let parsed = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| KeyError::Pem(format!("not a SEC1 EC private key: {e}")))?;
    let Some(curve) = parsed.parameters.and_then(|p| p.named_curve()) else {
        return Err(KeyError::UnsupportedKeyType(
            "an EC private key without a named curve".into(),
        ));
    };
    let name = algorithm_name(&curve)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("EC curve {curve}"));
    match name.as_str() {
        "ECDSA P-256" => {
            let secret = p256::SecretKey::from_sec1_der(der).map_err(|e| {
                KeyError::UnsupportedKeyType(format!("unreadable P-256 SEC1 key: {e}"))
            })?;
            Ok(SigningKey::from_p256(secret.into()))
        }
        "ECDSA P-384" => SigningKey::ecdsa_from_der(A::EcdsaP384, der),
        "ECDSA P-521" => SigningKey::ecdsa_from_der(A::EcdsaP521, der),
        _ => Err(KeyError::UnsupportedKeyType(name)),
    }
}

/// An unencrypted private key PEM, as `cosign import-key-pair` reads it (`pkg/cosign/keys.go`
/// `ImportKeyPair`): `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1), `PRIVATE KEY` (PKCS#8).
pub(crate) fn from_unencrypted_pem(text: &[u8]) -> Result<SigningKey, KeyError> {
    let (label, der) = decode_pem(text)?;
    let der = zeroize::Zeroizing::new(der);
    match label.as_str() {
        "PRIVATE KEY" => from_pkcs8_der(&der),
        "EC PRIVATE KEY" => from_sec1_der(&der),
        "RSA PRIVATE KEY" => SigningKey::rsa_from_der(&der, true),
        SIGSTORE_LABEL | COSIGN_LABEL => Err(KeyError::UnexpectedLabel {
            expected: "PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY (unencrypted; this key is already in cosign's format)",
            found: label,
        }),
        _ => Err(KeyError::UnexpectedLabel {
            expected: "PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY",
            found: label,
        }),
    }
}

/// The algorithm of a DER SubjectPublicKeyInfo and the key bytes inside it.
pub(crate) fn spki_algorithm(der: &[u8]) -> Result<(super::KeyAlgorithm, Vec<u8>), KeyError> {
    use super::KeyAlgorithm as A;
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| KeyError::Pem(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    let algorithm = match describe_algorithm(&spki.algorithm).as_str() {
        "ECDSA P-256" => A::EcdsaP256,
        "ECDSA P-384" => A::EcdsaP384,
        "ECDSA P-521" => A::EcdsaP521,
        "RSA" => A::Rsa,
        "Ed25519" => A::Ed25519,
        other => return Err(KeyError::UnsupportedKeyType(other.to_owned())),
    };
    let raw = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| KeyError::Pem("the public key's bit string has unused bits".into()))?;
    Ok((algorithm, raw.to_vec()))
}
