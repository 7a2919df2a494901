//! Unencrypted key material: PEM framing, PKCS#8 and SEC1 private keys, and naming the key types
//! vouch does not sign with.

use p256::pkcs8::der::Decode as _;
use p256::pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfoRef};
use p256::pkcs8::{DecodePrivateKey as _, SubjectPublicKeyInfoRef};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

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

/// Decodes the first PEM block in `text` and returns its label and body, as Go's
/// `encoding/pem.Decode` (which cosign uses) reads it — RFC 7468 §3: "parsers SHOULD be lenient":
/// anything before the block is skipped, the base64 may be wrapped at any width (64, 76, one
/// line…), with spaces, tabs and Windows line endings; the END line must name the same label.
/// Legacy encrypted PEM (RFC 1421 headers such as `Proc-Type`) is refused by name.
pub fn decode_pem(text: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    // The BEGIN line starts a line (Go: at the start, or after a newline).
    let mut from = 0;
    let start = loop {
        let i = find(&text[from..], BEGIN)
            .map(|i| i + from)
            .ok_or_else(|| KeyError::Pem("no `-----BEGIN` line found".into()))?;
        if i == 0 || text[i - 1] == b'\n' {
            break i;
        }
        from = i + 1;
    };
    let after_begin = &text[start + BEGIN.len()..];
    let line_end = after_begin
        .iter()
        .position(|&c| c == b'\n')
        .unwrap_or(after_begin.len());
    let label_line = trim_end(&after_begin[..line_end]);
    let label = label_line
        .strip_suffix(b"-----")
        .ok_or_else(|| KeyError::Pem("unterminated `-----BEGIN` line".into()))?;
    let label = String::from_utf8_lossy(label).into_owned();
    if !KNOWN_LABELS.contains(&label.as_str()) {
        return Err(KeyError::UnexpectedLabel {
            expected: "a key PEM block (PUBLIC KEY, PRIVATE KEY, EC PRIVATE KEY, ENCRYPTED SIGSTORE PRIVATE KEY)",
            found: label,
        });
    }
    let body_and_rest = &after_begin[(line_end + 1).min(after_begin.len())..];
    let end_line = format!("-----END {label}-----");
    let mut from = 0;
    let end = loop {
        let i = find(&body_and_rest[from..], end_line.as_bytes())
            .map(|i| i + from)
            .ok_or_else(|| KeyError::Pem(format!("no `{end_line}` line after the BEGIN line")))?;
        if i == 0 || body_and_rest[i - 1] == b'\n' {
            break i;
        }
        from = i + 1;
    };
    let body = &body_and_rest[..end];
    if body
        .split(|&c| c == b'\n')
        .next()
        .is_some_and(|l| l.contains(&b':'))
    {
        return Err(KeyError::Pem(format!(
            "the `{label}` block has RFC 1421 headers (a legacy encrypted PEM?); \
             expected a plain base64 body: re-export the key without PEM encryption"
        )));
    }
    let b64: Vec<u8> = body
        .iter()
        .copied()
        .filter(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    let der = B64
        .decode(&b64)
        .map_err(|e| KeyError::Pem(format!("the `{label}` block is not valid base64: {e}")))?;
    Ok((label, der))
}

fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t' | b'\r'))
        .map_or(0, |e| e + 1);
    &line[..end]
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
