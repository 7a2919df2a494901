//! sign / verify / tree on images in a real registry and in OCI layouts.

use std::fs;

use crate::support::image::{client, layout_image, push_image, push_index};
use crate::support::registry::Registry;
use crate::support::{run, vouch, vouch_in};

fn keys(dir: &std::path::Path) {
    vouch_in(dir, Some("pw"), ["generate-key-pair"]).ok();
    vouch_in(
        dir,
        Some("pw"),
        ["generate-key-pair", "--output-key-prefix", "other"],
    )
    .ok();
}

crate::on_each_registry! {
async fn sign_verify_in_registry(kind) {
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let digest = push_image(&c, &reg.host(), "app/one", "v1").await;
    let by_tag = format!("{}/app/one:v1", reg.host());
    let by_digest = format!("{}/app/one@{digest}", reg.host());

    // Unsigned: exit 1, saying there is nothing.
    let out = vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", &by_digest],
    )
    .code(1);
    assert!(out.stderr.contains("no signatures found"), "{out:?}");

    // Signing by tag warns and names the digest.
    let out = vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "vouch.key",
            "-a",
            "env=prod",
            &by_tag,
        ],
    )
    .ok();
    assert!(
        out.stderr.contains("warning") && out.stderr.contains(&digest.to_string()),
        "{out:?}"
    );
    // The same signature again is not added twice.
    let out = vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "vouch.key",
            "-a",
            "env=prod",
            &by_digest,
        ],
    )
    .ok();
    assert!(out.stderr.contains("Already signed"), "{out:?}");

    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify",
            "--key",
            "vouch.pub",
            "--output",
            "json",
            &by_digest,
        ],
    )
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc[0]["digest"], digest.to_string());
    let payload = &doc[0]["signatures"][0]["payload"];
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest.to_string()
    );
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        format!("{}/app/one", reg.host())
    );
    assert_eq!(
        payload["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(payload["optional"]["env"], "prod");

    // Required annotations.
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", "-a", "env=prod", &by_digest],
    )
    .ok();
    let out = vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", "-a", "env=dev", &by_digest],
    )
    .code(1);
    assert!(
        out.stderr
            .contains("annotation `env` is `prod`, required `dev`"),
        "{out:?}"
    );
    // Another key: exit 1 with the reason per layer.
    let out = vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "other.pub", &by_digest],
    )
    .code(1);
    assert!(
        out.stderr.contains("layer 0") && out.stderr.contains("does not match"),
        "{out:?}"
    );

    // A second signer keeps the first signature.
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "other.key",
            &by_digest,
        ],
    )
    .ok();
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", &by_digest],
    )
    .ok();
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "other.pub", &by_digest],
    )
    .ok();
    let out = run(vouch().args(["tree", &by_digest]));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("signatures: 2"), "{}", out.stdout);
}
}

crate::on_each_registry! {
async fn recursive_sign_and_verify_of_an_index(kind) {
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let (index, platforms) = push_index(&c, &reg.host(), "multi/app", "v1").await;
    let by_digest = format!("{}/multi/app@{index}", reg.host());
    // Only the index signed: recursive verification fails on the platform manifests.
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "vouch.key",
            &by_digest,
        ],
    )
    .ok();
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", &by_digest],
    )
    .ok();
    let out = vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", "--recursive", &by_digest],
    )
    .code(1);
    assert!(out.stderr.contains(&platforms[0].to_string()), "{out:?}");
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "vouch.key",
            "--recursive",
            &by_digest,
        ],
    )
    .ok();
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", "--recursive", &by_digest],
    )
    .ok();
    for p in &platforms {
        vouch_in(
            dir.path(),
            None,
            [
                "verify",
                "--key",
                "vouch.pub",
                &format!("{}/multi/app@{p}", reg.host()),
            ],
        )
        .ok();
    }
}
}

#[test]
fn sign_verify_in_oci_layout() {
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let layout = dir.path().join("layout");
    let digest = layout_image(&layout, "v1");
    let r = format!("oci:{}:v1", layout.display());
    vouch_in(dir.path(), None, ["verify", "--key", "vouch.pub", &r]).code(1);
    vouch_in(
        dir.path(),
        Some("pw"),
        ["sign", "--format", "legacy", "--key", "vouch.key", &r],
    )
    .ok();
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "other.key",
            &format!("oci:{}@{digest}", layout.display()),
        ],
    )
    .ok();
    vouch_in(dir.path(), None, ["verify", "--key", "vouch.pub", &r]).ok();
    vouch_in(dir.path(), None, ["verify", "--key", "other.pub", &r]).ok();
    // Signature layers over the (configurable) size limit are refused, not read.
    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify",
            "--key",
            "vouch.pub",
            "--max-signature-size",
            "50",
            &r,
        ],
    )
    .code(1);
    assert!(out.stderr.contains("exceeds the 50-byte limit"), "{out:?}");
    // Stored the way `cosign save` stores it.
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let sigs: Vec<_> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/sigs")
        .collect();
    assert_eq!(sigs.len(), 1, "{index}");
    assert_eq!(
        sigs[0]["annotations"]["org.opencontainers.image.ref.name"],
        format!("sha256-{}.sig", digest.hex())
    );
    // A tampered signature blob in the layout is caught.
    let sig_manifest = sigs[0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(&sig_manifest)).unwrap())
            .unwrap();
    let payload = m["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let p = layout.join("blobs/sha256").join(payload);
    let mut bytes = fs::read(&p).unwrap();
    bytes[5] ^= 1;
    fs::write(&p, bytes).unwrap();
    let out = vouch_in(dir.path(), None, ["verify", "--key", "vouch.pub", &r]).code(1);
    assert!(out.stderr.contains("expected digest"), "{out:?}");
}

#[test]
fn reads_the_layout_cosign_saved() {
    // tests/data/vectors: a layout written by `cosign save` (an index and its attestations).
    let src = crate::support::vectors()
        .join("cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch");
    let out = run(vouch().args(["tree", &format!("oci:{}", src.display())]));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("sha256:e0a0a765d690a5104331cfbac88ebbbf01736c1f87aaa3cd455c516a5ea586a5"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("attestations: 1"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("predicateType https://slsa.dev/provenance/v0.2"),
        "{}",
        out.stdout
    );
}

crate::on_each_registry! {
async fn signatures_in_another_repository(kind) {
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let digest = push_image(&client(), &reg.host(), "app/main", "v1").await;
    let image = format!("{}/app/main@{digest}", reg.host());
    let sigs = format!("{}/signatures/store", reg.host());
    for var in ["VOUCH_REPOSITORY", "COSIGN_REPOSITORY"] {
        let out = run(vouch()
            .current_dir(dir.path())
            .env("VOUCH_PASSWORD", "pw")
            .env(var, &sigs)
            .args(["sign", "--format", "legacy", "--key", "vouch.key", &image]));
        assert_eq!(out.code, 0, "{var}: {out:?}");
        let out = run(vouch().current_dir(dir.path()).env(var, &sigs).args([
            "verify",
            "--key",
            "vouch.pub",
            &image,
        ]));
        assert_eq!(out.code, 0, "{var}: {out:?}");
    }
    // Nothing in the image's own repository.
    let out = vouch_in(dir.path(), None, ["verify", "--key", "vouch.pub", &image]).code(1);
    assert!(out.stderr.contains("no signatures found"), "{out:?}");
    let out = run(vouch()
        .current_dir(dir.path())
        .env("VOUCH_REPOSITORY", "not a repo")
        .args(["verify", "--key", "vouch.pub", &image]));
    assert_eq!(out.code, 2, "{out:?}");
}
}

/// Signing inside a layout `cosign save` wrote (an index with a platform manifest and an
/// attestation): recursive signing covers both, and cosign's own entries stay.
#[test]
fn recursive_sign_in_a_cosign_saved_layout() {
    let src = crate::support::vectors()
        .join("cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch");
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let layout = dir.path().join("saved");
    fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    for f in ["oci-layout", "index.json"] {
        fs::copy(src.join(f), layout.join(f)).unwrap();
    }
    for e in fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), layout.join("blobs/sha256").join(e.file_name())).unwrap();
    }
    let r = format!("oci:{}", layout.display());
    vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "vouch.key",
            "--recursive",
            &r,
        ],
    )
    .ok();
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", "--recursive", &r],
    )
    .ok();
    let out = run(vouch().args(["tree", &r]));
    assert!(
        out.stdout.contains("signatures: 1") && out.stdout.contains("attestations: 1"),
        "{out:?}"
    );
    let platform = format!(
        "oci:{}@sha256:ae01bed04d3f41efa80182824a50345cd1430f4d1a9308eda4369122bd94c85e",
        layout.display()
    );
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "vouch.pub", &platform],
    )
    .ok();
    vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "other.pub", "--recursive", &r],
    )
    .code(1);
}
