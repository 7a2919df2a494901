use std::path::PathBuf;

use super::encrypted::{self, EncryptedKey, KdfParams};
use super::*;
use crate::limits::Limits;

/// The test vectors checked in under `tests/data/vectors` (origins in its MANIFEST.md).
fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/vectors")
}

fn artifact(rel: &str) -> Vec<u8> {
    let p = vectors()
        .join("more/03-cosign-sigstore-artifacts")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Fast parameters for round trips in tests; real files are tested below with their own.
const FAST: KdfParams = KdfParams {
    log_n: 10,
    r: 8,
    p: 1,
};

#[test]
fn encrypt_decrypt_round_trip() {
    let key = SigningKey::generate().unwrap();
    let pem = encrypted::encrypt(&key, b"correct horse", FAST).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let parsed = EncryptedKey::parse(pem.as_bytes(), &Limits::DEFAULT).unwrap();
    assert_eq!(parsed.params(), FAST);
    let back = parsed.decrypt(b"correct horse").unwrap();
    assert_eq!(back.public_key(), key.public_key());
    assert_eq!(
        parsed.decrypt(b"wrong").unwrap_err(),
        KeyError::WrongPassword
    );
    // An empty password is a password like any other.
    let pem = encrypted::encrypt(&key, b"", FAST).unwrap();
    let parsed = EncryptedKey::parse(pem.as_bytes(), &Limits::DEFAULT).unwrap();
    assert_eq!(parsed.decrypt(b"").unwrap().public_key(), key.public_key());
}

#[test]
fn writes_cosign_json_shape() {
    let key = SigningKey::generate().unwrap();
    let pem = encrypted::encrypt(&key, b"pw", KdfParams::COSIGN).unwrap();
    let (_, body) = pem::decode_pem(pem.as_bytes()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["kdf"]["name"], "scrypt");
    assert_eq!(
        v["kdf"]["params"],
        serde_json::json!({"N": 65536, "r": 8, "p": 1})
    );
    assert_eq!(v["cipher"]["name"], "nacl/secretbox");
    assert_eq!(
        base64_field("s", v["kdf"]["salt"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        base64_field("n", v["cipher"]["nonce"].as_str().unwrap())
            .unwrap()
            .len(),
        24
    );
    // Go's json.Marshal field order, so that the file is byte-for-byte what cosign writes.
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.starts_with(r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#)
    );
    assert!(text.contains(r#""},"cipher":{"name":"nacl/secretbox","nonce":""#));
}

#[test]
fn reads_real_cosign_keys() {
    // sigstore-rs's test key: label ENCRYPTED COSIGN PRIVATE KEY, N=32768, password 123.
    let k = EncryptedKey::parse(
        &artifact("sigstore-rs/keys/ecdsa_encrypted_private.key"),
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(k.params(), KdfParams::COSIGN_LEGACY);
    k.decrypt(b"123").unwrap();
    assert_eq!(k.decrypt(b"1234").unwrap_err(), KeyError::WrongPassword);

    // sigstore-rs key_pair_import. tests/data/vectors' MANIFEST says these files hold one key pair;
    // they hold different keys. The expected hint of the decrypted key was computed
    // independently with Python's hashlib.scrypt + pynacl + cryptography.
    let k = EncryptedKey::parse(
        &artifact("sigstore-rs/key_pair_import/ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.key"),
        &Limits::DEFAULT,
    )
    .unwrap()
    .decrypt(b"password")
    .unwrap();
    assert_eq!(
        k.public_key().hint(),
        "FlFm+AxHCy4/npH9nCxXYzti4sT9JQSFFM5gNuT2Hio="
    );
    SigningKey::from_unencrypted_pem(&artifact(
        "sigstore-rs/key_pair_import/ECDSA_P256_ASN1_PRIVATE_PEM.key",
    ))
    .unwrap();
    let der = artifact("sigstore-rs/key_pair_import/ECDSA_P256_ASN1_PRIVATE_DER.key");
    SigningKey::from_pkcs8_der(&der).unwrap();
    PublicKey::from_pem(&artifact(
        "sigstore-rs/key_pair_import/ECDSA_P256_ASN1_PUBLIC_PEM.pub",
    ))
    .unwrap();
    let public_der = artifact("sigstore-rs/key_pair_import/ECDSA_P256_ASN1_PUBLIC_DER.pub");
    PublicKey::from_spki_der(&public_der).unwrap();

    // cosign's keys_test.go pemcosignkey (password hello).
    EncryptedKey::parse(
        &artifact("cosign/keys_test_go/pemcosignkey.key"),
        &Limits::DEFAULT,
    )
    .unwrap()
    .decrypt(b"hello")
    .unwrap();
}

#[test]
fn rejects_sec1_inside_encrypted_key() {
    // cosign rejects this one too: the plaintext is SEC1, not PKCS#8 (N=65536).
    let k = EncryptedKey::parse(
        &artifact("cosign/keys_test_go/pemcosigneckey.key"),
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(k.params(), KdfParams::COSIGN);
    let err = k.decrypt(b"hello").unwrap_err();
    assert!(
        matches!(err, KeyError::NotPkcs8(ref m) if m.contains("SEC1")),
        "{err}"
    );
}

#[test]
fn sigstore_rs_rsa_and_ed25519_keys_decrypt() {
    for (file, algorithm) in [
        (
            "sigstore-rs/keys/ed25519_encrypted_private.key",
            KeyAlgorithm::Ed25519,
        ),
        (
            "sigstore-rs/keys/rsa_encrypted_private.key",
            KeyAlgorithm::Rsa,
        ),
    ] {
        let key = EncryptedKey::parse(&artifact(file), &Limits::DEFAULT)
            .unwrap()
            .decrypt(b"123")
            .unwrap();
        assert_eq!(key.algorithm(), algorithm, "{file}");
    }
}

fn keys_test_go(f: &str) -> Vec<u8> {
    artifact(&format!("cosign/keys_test_go/{f}"))
}

/// cosign's `TestImportPrivateKey` keys: what cosign imports, vouch imports; what it refuses,
/// vouch refuses, naming the key type.
#[test]
fn imports_cosign_import_vectors() {
    let ok = [
        ("validecp256.pem", KeyAlgorithm::EcdsaP256),
        ("validecpkcs8.pem", KeyAlgorithm::EcdsaP256),
        ("validecp384.pem", KeyAlgorithm::EcdsaP384),
        ("validecp521.pem", KeyAlgorithm::EcdsaP521),
        ("ed25519key.pem", KeyAlgorithm::Ed25519),
        ("validrsapkcs8.pem", KeyAlgorithm::Rsa),
        ("validrsa.pem", KeyAlgorithm::Rsa),
        ("validrsapkcs1.pem", KeyAlgorithm::Rsa),
    ];
    for (f, algorithm) in ok {
        let key = SigningKey::from_unencrypted_pem(&keys_test_go(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(key.algorithm(), algorithm, "{f}");
        // Signs as cosign does, verifies, and survives cosign's encrypted file.
        let sig = key.sign(b"payload").unwrap();
        key.public_key().verify(b"payload", sig.as_der()).unwrap();
        let pem = encrypted::encrypt(&key, b"pw", FAST).unwrap();
        let back = EncryptedKey::parse(pem.as_bytes(), &Limits::DEFAULT)
            .unwrap()
            .decrypt(b"pw")
            .unwrap();
        assert_eq!(back.public_key(), key.public_key(), "{f}");
        assert_eq!(back.to_pkcs8_der().unwrap(), key.to_pkcs8_der().unwrap());
    }
    let err = SigningKey::from_unencrypted_pem(&keys_test_go("invalidecp224.pem")).unwrap_err();
    assert_eq!(err, KeyError::UnsupportedKeyType("ECDSA P-224".into()));
    // RSA-1024 (aws-lc-rs refuses under 2048) and RSA-5120 (cosign: 2048, 3072 or 4096 only).
    for f in ["invalidrsasmallkey.pem", "invalidrsalargekey.pem"] {
        match SigningKey::from_unencrypted_pem(&keys_test_go(f)).unwrap_err() {
            KeyError::UnsupportedKeyType(name) => assert!(name.starts_with("RSA"), "{f}: {name}"),
            other => panic!("{f}: {other}"),
        }
    }
    for f in ["invalidkey.pem", "invalidrsawithpubkey.pem"] {
        let err = SigningKey::from_unencrypted_pem(&keys_test_go(f)).unwrap_err();
        assert!(
            matches!(err, KeyError::UnexpectedLabel { .. }),
            "{f}: {err}"
        );
    }
    let err =
        SigningKey::from_unencrypted_pem(&keys_test_go("invalidecunsupported.pem")).unwrap_err();
    assert!(!matches!(err, KeyError::WrongPassword), "{err}");
}

/// Each key type signs with cosign's hash: P-384 SHA-384 and P-521 SHA-512 digests (not
/// SHA-256), RSA any SHA-2 digest, Ed25519 no digest at all.
#[test]
fn each_key_type_signs_its_hash() {
    use crate::digest::HashAlgorithm::{Sha256, Sha384, Sha512};
    let load = |f: &str| SigningKey::from_unencrypted_pem(&keys_test_go(f)).unwrap();
    for (f, hash) in [
        ("validecp256.pem", Some(Sha256)),
        ("validecp384.pem", Some(Sha384)),
        ("validecp521.pem", Some(Sha512)),
        ("validrsa.pem", Some(Sha256)),
        ("ed25519key.pem", None),
    ] {
        let key = load(f);
        assert_eq!(key.signing_hash(), hash, "{f}");
        let public = key.public_key();
        match hash {
            Some(h) => {
                let d = h.hash(b"m");
                let sig = key.sign_prehashed(h, &d).unwrap();
                public.verify_prehashed(h, &d, sig.as_der()).unwrap();
                // `sign` is the same signature scheme: it verifies as a message signature.
                public.verify(b"m", sig.as_der()).unwrap();
                assert!(matches!(
                    key.sign_prehashed(h, &d[1..]),
                    Err(SignError::DigestLength { .. })
                ));
            }
            None => {
                let d = Sha256Digest::of(b"m");
                assert_eq!(key.sign_digest(&d), Err(SignError::DigestWithEd25519));
                assert_eq!(key.check_image_signing(), Err(SignError::Ed25519ph));
            }
        }
    }
    assert!(matches!(
        load("validecp384.pem").sign_digest(&Sha256Digest::of(b"m")),
        Err(SignError::WrongHash {
            key: KeyAlgorithm::EcdsaP384,
            hash: Sha256,
            expected: Sha384
        })
    ));
    let rsa = load("validrsapkcs8.pem");
    let d = Sha512.hash(b"m");
    let sig = rsa.sign_prehashed(Sha512, &d).unwrap();
    rsa.public_key()
        .verify_prehashed(Sha512, &d, sig.as_der())
        .unwrap();
}

#[test]
fn real_cosign_signature_verifies() {
    // A signature cosign made over a simple-signing payload (sigstore-rs busybox test).
    let dir = "sigstore-rs/extracted/busybox-key-signed";
    let payload = artifact(&format!("{dir}/payload.json"));
    let sig_b64 = String::from_utf8(artifact(&format!("{dir}/signature.b64"))).unwrap();
    let sig = base64_field("sig", sig_b64.trim()).unwrap();
    let key = PublicKey::from_pem(&artifact(&format!("{dir}/cosign.pub"))).unwrap();
    key.verify(&payload, &sig).unwrap();
    let mut tampered = payload.clone();
    tampered[10] ^= 1;
    assert_eq!(
        key.verify(&tampered, &sig).unwrap_err(),
        SignatureError::Mismatch
    );
    let wrong = PublicKey::from_pem(&artifact(&format!("{dir}/wrong-key.pub"))).unwrap();
    assert_eq!(
        wrong.verify(&payload, &sig).unwrap_err(),
        SignatureError::Mismatch
    );
    assert_eq!(
        key.verify(&payload, b"\x30\x00").unwrap_err(),
        SignatureError::Malformed
    );
}

#[test]
fn hostile_files_fail_cleanly() {
    let limits = Limits::DEFAULT;
    let wrap = |json: &str| {
        pem_rfc7468::encode_string(
            encrypted::SIGSTORE_LABEL,
            pem_rfc7468::LineEnding::LF,
            json.as_bytes(),
        )
        .unwrap()
    };
    let huge_n = wrap(
        r#"{"kdf":{"name":"scrypt","params":{"N":4294967296,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":""}"#,
    );
    assert!(matches!(
        EncryptedKey::parse(huge_n.as_bytes(), &limits),
        Err(KeyError::KdfParams { .. })
    ));
    let not_pow2 = wrap(
        r#"{"kdf":{"name":"scrypt","params":{"N":1000,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":""}"#,
    );
    assert!(matches!(
        EncryptedKey::parse(not_pow2.as_bytes(), &limits),
        Err(KeyError::KdfParams { .. })
    ));
    let argon = wrap(
        r#"{"kdf":{"name":"argon2","params":{"N":1024,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}"#,
    );
    assert_eq!(
        EncryptedKey::parse(argon.as_bytes(), &limits).unwrap_err(),
        KeyError::UnsupportedKdf("argon2".into())
    );
    let short_nonce = wrap(
        r#"{"kdf":{"name":"scrypt","params":{"N":1024,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":"AAAA"},"ciphertext":""}"#,
    );
    assert!(matches!(
        EncryptedKey::parse(short_nonce.as_bytes(), &limits),
        Err(KeyError::Malformed {
            field: "cipher.nonce",
            ..
        })
    ));
    let empty_ct = wrap(
        r#"{"kdf":{"name":"scrypt","params":{"N":1024,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":""}"#,
    );
    assert_eq!(
        EncryptedKey::parse(empty_ct.as_bytes(), &limits)
            .unwrap()
            .decrypt(b"x")
            .unwrap_err(),
        KeyError::WrongPassword
    );
    assert!(matches!(
        EncryptedKey::parse(b"garbage", &limits),
        Err(KeyError::Pem(_))
    ));
    let big = vec![b'a'; limits.key_file + 1];
    assert!(matches!(
        EncryptedKey::parse(&big, &limits),
        Err(KeyError::TooLarge(_))
    ));
    let public = SigningKey::generate().unwrap().public_key().to_pem();
    assert!(matches!(
        EncryptedKey::parse(public.as_bytes(), &limits),
        Err(KeyError::UnexpectedLabel { .. })
    ));
}

#[test]
fn public_key_pem_round_trip_and_hint() {
    let key = SigningKey::generate().unwrap();
    let pem = key.public_key().to_pem();
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
            && pem.ends_with("-----END PUBLIC KEY-----\n")
    );
    assert_eq!(
        PublicKey::from_pem(pem.as_bytes()).unwrap(),
        key.public_key()
    );
    // Leading text and CRLF line endings are tolerated, as Go's pem.Decode tolerates them.
    let messy = format!("comment line\r\n{}", pem.replace('\n', "\r\n"));
    assert_eq!(
        PublicKey::from_pem(messy.as_bytes()).unwrap(),
        key.public_key()
    );
    assert_eq!(key.public_key().hint().len(), 44);
    let dbg = format!("{key:?}");
    assert!(
        dbg.contains("public_key_hint") && !dbg.contains("secret"),
        "{dbg}"
    );
}

/// RFC 7468 §3 ("parsers SHOULD be lenient"), as Go's `encoding/pem` reads what cosign loads:
/// base64 wrapped at 76 columns (Python's `base64.encodebytes`, MIME tools), on one line, with
/// CRLF, trailing blanks, text before the block; the END label must match.
#[test]
fn pem_is_read_laxly() {
    use base64::Engine as _;
    let key = SigningKey::generate().unwrap();
    let pem = encrypted::encrypt(&key, b"pw", FAST).unwrap();
    let (label, body) = pem::decode_pem(pem.as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&body);
    let wrap = |width: usize, eol: &str| {
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(width)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----{eol}{}{eol}-----END {label}-----{eol}",
            lines.join(eol)
        )
    };
    for text in [
        wrap(76, "\n"),
        wrap(76, "\r\n"),
        wrap(b64.len(), "\n"),
        wrap(16, "\n"),
        format!("comment before the block\n{}", wrap(64, "\n")),
        wrap(64, " \t\n"),
    ] {
        let (l, b) = pem::decode_pem(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!((l.as_str(), &b), (label.as_str(), &body));
        let parsed = EncryptedKey::parse(text.as_bytes(), &Limits::DEFAULT).unwrap();
        assert_eq!(
            parsed.decrypt(b"pw").unwrap().public_key(),
            key.public_key()
        );
    }
    // What stays refused: another END label, no END line, broken base64, RFC 1421 headers.
    let mismatched =
        wrap(64, "\n").replace("-----END ENCRYPTED SIGSTORE", "-----END ENCRYPTED COSIGN");
    for bad in [
        mismatched,
        wrap(64, "\n").replace("-----END", "----END"),
        wrap(64, "\n").replacen("\ney", "\n*y", 1),
        wrap(64, "\n").replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1),
    ] {
        assert!(
            matches!(pem::decode_pem(bad.as_bytes()), Err(KeyError::Pem(_))),
            "{bad}"
        );
    }
}
