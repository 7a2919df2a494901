//! sign-blob and verify-blob: detached signatures and bundles, tampering, bad input.

use std::fs;

use crate::support::{vouch_in, workspace};

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    vouch_in(dir.path(), Some("pw"), ["generate-key-pair"]).ok();
    fs::write(dir.path().join("artifact.txt"), b"hello, vouch\n").unwrap();
    dir
}

#[test]
fn sign_to_stdout_and_verify() {
    let dir = setup();
    let out = vouch_in(
        dir.path(),
        Some("pw"),
        ["sign-blob", "--key", "vouch.key", "artifact.txt"],
    )
    .ok();
    let sig = out.stdout.trim();
    assert!(sig.starts_with("ME"), "base64 of a DER SEQUENCE: {sig}");
    fs::write(dir.path().join("artifact.sig"), sig).unwrap();
    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify-blob",
            "--key",
            "vouch.pub",
            "--signature",
            "artifact.sig",
            "artifact.txt",
        ],
    )
    .ok();
    assert!(out.stderr.contains("Verified OK"), "{out:?}");
}

#[test]
fn tampered_file_fails_with_exit_1() {
    let dir = setup();
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign-blob",
            "--key",
            "vouch.key",
            "--output-signature",
            "a.sig",
            "--bundle",
            "a.bundle",
            "artifact.txt",
        ],
    )
    .ok();
    fs::write(dir.path().join("artifact.txt"), b"hello, vouch!\n").unwrap();
    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify-blob",
            "--key",
            "vouch.pub",
            "--signature",
            "a.sig",
            "artifact.txt",
        ],
    )
    .code(1);
    assert!(out.stderr.contains("signature check failed"), "{out:?}");
    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify-blob",
            "--key",
            "vouch.pub",
            "--bundle",
            "a.bundle",
            "artifact.txt",
        ],
    )
    .code(1);
    assert!(out.stderr.contains("digest check failed"), "{out:?}");
}

#[test]
fn bundle_is_v03_with_hint_and_verifies_as_json() {
    let dir = setup();
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign-blob",
            "--key",
            "vouch.key",
            "--bundle",
            "a.bundle",
            "--output-signature",
            "a.sig",
            "artifact.txt",
        ],
    )
    .ok();
    let bundle: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("a.bundle")).unwrap()).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        bundle["messageSignature"]["messageDigest"]["algorithm"],
        "SHA2_256"
    );
    let sig = fs::read_to_string(dir.path().join("a.sig")).unwrap();
    assert_eq!(bundle["messageSignature"]["signature"], sig.trim());
    assert!(
        bundle["verificationMaterial"]["publicKey"]["hint"]
            .as_str()
            .is_some_and(|h| h.len() == 44)
    );
    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify-blob",
            "--key",
            "vouch.pub",
            "--bundle",
            "a.bundle",
            "--output",
            "json",
            "artifact.txt",
        ],
    )
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["verified"], true);
    let expected = {
        use sha2::Digest as _;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(b"hello, vouch\n"))
        )
    };
    assert_eq!(doc["digest"], expected);
    assert_eq!(doc["signatureForm"], "bundle-message-signature");
}

#[test]
fn wrong_key_and_malformed_inputs() {
    let dir = setup();
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign-blob",
            "--key",
            "vouch.key",
            "--output-signature",
            "a.sig",
            "artifact.txt",
        ],
    )
    .ok();
    // Another key: a verification failure (1).
    let other = workspace().join("keys-test/python-cosign.pub");
    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify-blob".as_ref(),
            "--key".as_ref(),
            other.as_os_str(),
            "--signature".as_ref(),
            "a.sig".as_ref(),
            "artifact.txt".as_ref(),
        ],
    )
    .code(1);
    assert!(out.stderr.contains("verification failed"), "{out:?}");
    // Garbage signature, bundle, key, missing file: input errors (2) that name the problem.
    fs::write(dir.path().join("junk"), b"not base64 !!").unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "verify-blob",
                "--key",
                "vouch.pub",
                "--signature",
                "junk",
                "artifact.txt",
            ],
            "base64",
        ),
        (
            &[
                "verify-blob",
                "--key",
                "vouch.pub",
                "--bundle",
                "junk",
                "artifact.txt",
            ],
            "sigstore bundle is not valid",
        ),
        (
            &[
                "verify-blob",
                "--key",
                "junk",
                "--signature",
                "a.sig",
                "artifact.txt",
            ],
            "key file junk",
        ),
        (
            &[
                "verify-blob",
                "--key",
                "vouch.pub",
                "--signature",
                "a.sig",
                "missing.txt",
            ],
            "missing.txt",
        ),
        (
            &[
                "verify-blob",
                "--key",
                "vouch.key",
                "--signature",
                "a.sig",
                "artifact.txt",
            ],
            "PUBLIC KEY",
        ),
    ];
    for (args, needle) in cases {
        let out = vouch_in(dir.path(), None, args).code(2);
        assert!(out.stderr.contains(needle), "{args:?}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "{out:?}");
    }
}

#[test]
fn signs_stdin_and_large_file_in_a_stream() {
    let dir = setup();
    // 64 MiB of zeros, sparse: signing must not depend on reading the file whole.
    let big = dir.path().join("big.bin");
    fs::File::create(&big).unwrap().set_len(64 << 20).unwrap();
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign-blob",
            "--key",
            "vouch.key",
            "--output-signature",
            "big.sig",
            "big.bin",
        ],
    )
    .ok();
    vouch_in(
        dir.path(),
        None,
        [
            "verify-blob",
            "--key",
            "vouch.pub",
            "--signature",
            "big.sig",
            "big.bin",
        ],
    )
    .ok();
    // `-` reads stdin.
    let mut cmd = crate::support::vouch();
    cmd.current_dir(dir.path())
        .args([
            "verify-blob",
            "--key",
            "vouch.pub",
            "--signature",
            "big.sig",
            "-",
        ])
        .stdin(fs::File::open(&big).unwrap());
    crate::support::run(&mut cmd).ok();
}
