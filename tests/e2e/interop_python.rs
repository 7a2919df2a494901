//! Interop with an implementation we did not write against vouch's code: keys-test/cosign_keys.py
//! (Python `cryptography` + `pynacl` + `hashlib.scrypt`). Keys and signatures cross both ways.

use std::fs;
use std::path::Path;

use crate::support::{py_cosign, run, vouch_in, workspace};

fn py(dir: &Path, password: Option<&str>, args: &[&str]) -> crate::support::Run {
    let mut cmd = py_cosign();
    cmd.current_dir(dir).args(args);
    if let Some(pw) = password {
        cmd.env("COSIGN_PASSWORD", pw);
    }
    run(&mut cmd)
}

#[test]
fn python_key_signs_in_vouch_and_verifies_in_python() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("blob"), b"interop payload\n").unwrap();
    py(dir.path(), Some("py-pw"), &["generate", "py"]).ok();
    // vouch reads the Python-made key file and derives the same public key.
    let out = vouch_in(dir.path(), Some("py-pw"), ["public-key", "--key", "py.key"]).ok();
    assert_eq!(
        out.stdout,
        fs::read_to_string(dir.path().join("py.pub")).unwrap()
    );
    // A wrong password is still an input error naming the file.
    let out = vouch_in(dir.path(), Some("nope"), ["public-key", "--key", "py.key"]).code(2);
    assert!(out.stderr.contains("py.key"), "{out:?}");
    // vouch signs with it; Python verifies the signature and the bundle.
    vouch_in(
        dir.path(),
        Some("py-pw"),
        [
            "sign-blob",
            "--key",
            "py.key",
            "--output-signature",
            "blob.sig",
            "--bundle",
            "blob.bundle",
            "blob",
        ],
    )
    .ok();
    py(dir.path(), None, &["verify", "py.pub", "blob.sig", "blob"]).ok();
    py(
        dir.path(),
        None,
        &["verify-bundle", "py.pub", "blob.bundle", "blob"],
    )
    .ok();
    // And Python rejects it for a changed file (the check is real).
    fs::write(dir.path().join("blob"), b"interop payload?\n").unwrap();
    py(dir.path(), None, &["verify", "py.pub", "blob.sig", "blob"]).code(1);
    py(
        dir.path(),
        None,
        &["verify-bundle", "py.pub", "blob.bundle", "blob"],
    )
    .code(1);
}

#[test]
fn vouch_key_signs_in_python_and_verifies_in_vouch() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("blob"), b"interop payload\n").unwrap();
    vouch_in(dir.path(), Some("v-pw"), ["generate-key-pair"]).ok();
    // Python reads vouch's key file (N=65536) and derives the same public key.
    let out = py(dir.path(), Some("v-pw"), &["public-key", "vouch.key"]).ok();
    assert_eq!(
        out.stdout,
        fs::read_to_string(dir.path().join("vouch.pub")).unwrap()
    );
    py(dir.path(), Some("wrong"), &["public-key", "vouch.key"]).code(1);
    // Python signs with it; vouch verifies.
    let out = py(dir.path(), Some("v-pw"), &["sign", "vouch.key", "blob"]).ok();
    fs::write(dir.path().join("blob.sig"), out.stdout.trim()).unwrap();
    vouch_in(
        dir.path(),
        None,
        [
            "verify-blob",
            "--key",
            "vouch.pub",
            "--signature",
            "blob.sig",
            "blob",
        ],
    )
    .ok();
    fs::write(dir.path().join("blob"), b"changed\n").unwrap();
    vouch_in(
        dir.path(),
        None,
        [
            "verify-blob",
            "--key",
            "vouch.pub",
            "--signature",
            "blob.sig",
            "blob",
        ],
    )
    .code(1);
}

#[test]
fn checked_in_keys_cross_load() {
    let keys = workspace().join("keys-test");
    let dir = tempfile::tempdir().unwrap();
    // The Python-made key in keys-test/ (password in keys-test/README.md).
    let out = vouch_in(
        dir.path(),
        Some("vouch-test-python"),
        [
            "public-key".as_ref(),
            "--key".as_ref(),
            keys.join("python-cosign.key").as_os_str(),
        ],
    )
    .ok();
    assert_eq!(
        out.stdout,
        fs::read_to_string(keys.join("python-cosign.pub")).unwrap()
    );
    // The vouch-made key in keys-test/, read by Python.
    let key = keys.join("vouch-test.key");
    let out = py(
        dir.path(),
        Some("vouch-test"),
        &["public-key", key.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        out.stdout,
        fs::read_to_string(keys.join("vouch-test.pub")).unwrap()
    );
}

/// Image signatures in cosign's tag format, through the real registry, both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_signatures_cross_verify_through_the_registry() {
    use crate::support::image::{client, push_image};
    use crate::support::registry::Registry;

    let reg = Registry::start();
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(d, Some("py-pw"), &["generate", "py"]).ok();
    vouch_in(d, Some("v-pw"), ["generate-key-pair"]).ok();
    let c = client();
    let a = push_image(&c, &host, "interop/a", "v1").await;
    let b = push_image(&c, &host, "interop/b", "v1").await;
    let image_a = format!("{host}/interop/a@{a}");
    let (a_s, b_s) = (a.to_string(), b.to_string());

    // Python signs; vouch verifies. vouch signs; Python verifies. Both signatures coexist.
    py(
        d,
        Some("py-pw"),
        &["sign-image", "py.key", &host, "interop/a", &a_s],
    )
    .ok();
    vouch_in(d, None, ["verify", "--key", "py.pub", &image_a]).ok();
    vouch_in(
        d,
        Some("v-pw"),
        ["sign", "--format", "legacy", "--key", "vouch.key", &image_a],
    )
    .ok();
    py(
        d,
        None,
        &["verify-image", "vouch.pub", &host, "interop/a", &a_s],
    )
    .ok();
    py(
        d,
        None,
        &["verify-image", "py.pub", &host, "interop/a", &a_s],
    )
    .ok();
    vouch_in(d, None, ["verify", "--key", "py.pub", &image_a]).ok();

    // A wrong key: both reject.
    let image_b = format!("{host}/interop/b@{b}");
    vouch_in(
        d,
        Some("v-pw"),
        ["sign", "--format", "legacy", "--key", "vouch.key", &image_b],
    )
    .ok();
    let out = vouch_in(d, None, ["verify", "--key", "py.pub", &image_b]).code(1);
    assert!(
        out.stderr.contains("does not match the content and key"),
        "{out:?}"
    );
    py(
        d,
        None,
        &["verify-image", "py.pub", &host, "interop/b", &b_s],
    )
    .code(1);

    // A valid signature over another digest, stored under this image's .sig: both reject.
    py(
        d,
        Some("py-pw"),
        &[
            "sign-image",
            "py.key",
            &host,
            "interop/b",
            &b_s,
            "--payload-digest",
            &a_s,
        ],
    )
    .ok();
    let out = vouch_in(d, None, ["verify", "--key", "py.pub", &image_b]).code(1);
    assert!(
        out.stderr
            .contains(&format!("the payload signs {a}, not this image {b}")),
        "{out:?}"
    );
    py(
        d,
        None,
        &["verify-image", "py.pub", &host, "interop/b", &b_s],
    )
    .code(1);

    // A payload changed after signing: both reject.
    let c2 = push_image(&c, &host, "interop/c", "v1").await;
    py(
        d,
        Some("py-pw"),
        &[
            "sign-image",
            "py.key",
            &host,
            "interop/c",
            &c2.to_string(),
            "--tamper-payload",
        ],
    )
    .ok();
    let out = vouch_in(
        d,
        None,
        [
            "verify",
            "--key",
            "py.pub",
            &format!("{host}/interop/c@{c2}"),
        ],
    )
    .code(1);
    assert!(
        out.stderr.contains("does not match the content and key"),
        "{out:?}"
    );
    py(
        d,
        None,
        &[
            "verify-image",
            "py.pub",
            &host,
            "interop/c",
            &c2.to_string(),
        ],
    )
    .code(1);
}

/// DSSE attestations cross-checked with the independent Python implementation, both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attestations_cross_verify_through_the_registry() {
    use crate::support::image::{client, push_image};
    use crate::support::registry::Registry;

    let reg = Registry::start();
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(d, Some("py-pw"), &["generate", "py"]).ok();
    vouch_in(d, Some("v-pw"), ["generate-key-pair"]).ok();
    let digest = push_image(&client(), &host, "interop/att", "v1").await;
    let image = format!("{host}/interop/att@{digest}");
    let sbom = crate::support::vectors().join("sboms/trivy-npm.cdx.json");
    let scan = crate::support::vectors().join("scans/grype/image.json");

    // vouch attests an SBOM and a scan; Python verifies the DSSE envelopes and subjects.
    for (kind, file) in [("cyclonedx", &sbom), ("vuln", &scan)] {
        vouch_in(
            d,
            Some("v-pw"),
            [
                "attest".as_ref(),
                "--format".as_ref(),
                "legacy".as_ref(),
                "--key".as_ref(),
                "vouch.key".as_ref(),
                "--type".as_ref(),
                kind.as_ref(),
                "--predicate".as_ref(),
                file.as_os_str(),
                image.as_ref(),
            ],
        )
        .ok();
    }
    let out = py(
        d,
        None,
        &[
            "verify-attestation",
            "vouch.pub",
            &host,
            "interop/att",
            &digest.to_string(),
        ],
    )
    .ok();
    assert!(out.stdout.contains("https://cyclonedx.org/bom"), "{out:?}");
    assert!(
        out.stdout
            .contains("https://cosign.sigstore.dev/attestation/vuln/v1"),
        "{out:?}"
    );
    py(
        d,
        None,
        &[
            "verify-attestation",
            "py.pub",
            &host,
            "interop/att",
            &digest.to_string(),
        ],
    )
    .code(1);

    // Python attests; vouch verifies, next to its own attestations.
    py(
        d,
        Some("py-pw"),
        &[
            "attest-image",
            "py.key",
            &host,
            "interop/att",
            &digest.to_string(),
            "https://spdx.dev/Document",
            crate::support::vectors()
                .join("sboms/trivy-conda.spdx.json")
                .to_str()
                .unwrap(),
        ],
    )
    .ok();
    let out = vouch_in(
        d,
        None,
        [
            "verify-attestation",
            "--key",
            "py.pub",
            "--type",
            "spdx",
            "--output",
            "json",
            &image,
        ],
    )
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc[0]["attestations"].as_array().unwrap().len(), 1);
    vouch_in(
        d,
        None,
        [
            "verify-attestation",
            "--key",
            "vouch.pub",
            "--type",
            "cyclonedx",
            &image,
        ],
    )
    .ok();
    // Python's attestation under this image's tag whose statement is about another digest:
    // rejected by vouch (and by Python).
    let dir2 = d.join("b");
    std::fs::create_dir_all(&dir2).unwrap();
    let other = push_image(&client(), &host, "interop/att2", "v1").await;
    let image2 = format!("{host}/interop/att2@{other}");
    py(
        d,
        Some("py-pw"),
        &[
            "attest-image",
            "py.key",
            &host,
            "interop/att2",
            &other.to_string(),
            "https://example.com/p",
            scan.to_str().unwrap(),
            "--subject-digest",
            &digest.to_string(),
        ],
    )
    .ok();
    let out = vouch_in(d, None, ["verify-attestation", "--key", "py.pub", &image2]).code(1);
    assert!(
        out.stderr.contains("subjects do not include this image"),
        "{out:?}"
    );
    py(
        d,
        None,
        &[
            "verify-attestation",
            "py.pub",
            &host,
            "interop/att2",
            &other.to_string(),
        ],
    )
    .code(1);
}

/// cosign 3's format: vouch signs and attests with the default (`bundle`); the Python checker
/// finds the referrers through the fallback index, checks each manifest and bundle against its
/// digest, the key hint, the DSSE signature and the statement's subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_referrers_verify_in_python() {
    use crate::support::image::{client, push_image};
    use crate::support::registry::Registry;

    let reg = Registry::start();
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(d, Some("py-pw"), &["generate", "py"]).ok();
    vouch_in(d, Some("v-pw"), ["generate-key-pair"]).ok();
    let digest = push_image(&client(), &host, "interop/ref", "v1").await;
    let image = format!("{host}/interop/ref@{digest}");
    let sbom = crate::support::vectors().join("sboms/trivy-npm.cdx.json");
    vouch_in(d, Some("v-pw"), ["sign", "--key", "vouch.key", &image]).ok();
    vouch_in(
        d,
        Some("v-pw"),
        [
            "attest".as_ref(),
            "--key".as_ref(),
            "vouch.key".as_ref(),
            "--type".as_ref(),
            "cyclonedx".as_ref(),
            "--predicate".as_ref(),
            sbom.as_os_str(),
            image.as_ref(),
        ],
    )
    .ok();
    let digest = digest.to_string();
    let check = |key: &str, wanted: Option<&str>| {
        let mut args = vec!["verify-referrers", key, &host, "interop/ref", &digest];
        args.extend(wanted);
        py(d, None, &args)
    };
    let out = check("vouch.pub", None).ok();
    let mut found: Vec<&str> = out.stdout.lines().collect();
    found.sort_unstable();
    assert_eq!(
        found,
        [
            "https://cyclonedx.org/bom",
            "https://sigstore.dev/cosign/sign/v1"
        ],
        "{out:?}"
    );
    let out = check("vouch.pub", Some("https://cyclonedx.org/bom")).ok();
    assert_eq!(out.stdout.trim(), "https://cyclonedx.org/bom", "{out:?}");
    // Another key: nothing verifies.
    let out = check("py.pub", None).code(1);
    assert!(
        out.stderr.contains("not a v0.3 bundle for this key"),
        "{out:?}"
    );
}
