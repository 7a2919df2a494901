//! Keyless (Fulcio + Rekor) verification of a real cosign attestation made in GitHub Actions
//! (tests/data/vectors/cosign-layouts/slsa-generator-v1.10.0), offline against the public-good
//! trusted root; and tampered copies of it, each changed in one place here.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vouch_core::digest::Sha256Digest;

use crate::support::{run, vectors, vouch};

const SAN: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn copy_layout(dir: &Path) -> PathBuf {
    crate::support::copy_slsa_layout(dir, "layout")
}

fn verify(layout: &Path, san: &str, issuer: &str) -> crate::support::Run {
    run(vouch().args([
        "verify-attestation",
        "--certificate-identity",
        san,
        "--certificate-oidc-issuer",
        issuer,
        &format!("oci:{}", layout.display()),
    ]))
}

/// Rewrites the attestation manifest's first layer (annotations and blob) with `edit`.
fn edit_att(layout: &Path, edit: impl FnOnce(&mut Value, &mut Vec<u8>)) {
    let index_path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/atts")
        .unwrap();
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let mut manifest: Value =
        serde_json::from_slice(&fs::read(blob(entry["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    let layer = &mut manifest["layers"][0];
    let mut envelope = fs::read(blob(layer["digest"].as_str().unwrap())).unwrap();
    edit(&mut layer["annotations"], &mut envelope);
    let d = Sha256Digest::of(&envelope);
    fs::write(blob(&d.to_string()), &envelope).unwrap();
    layer["digest"] = d.to_string().into();
    layer["size"] = envelope.len().into();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let md = Sha256Digest::of(&bytes);
    fs::write(blob(&md.to_string()), &bytes).unwrap();
    entry["digest"] = md.to_string().into();
    entry["size"] = bytes.len().into();
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn real_cosign_keyless_attestation_verifies_offline() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let out = verify(&layout, SAN, ISSUER);
    assert_eq!(out.code, 0, "{out:?}");
    // Regexps, anchored.
    let out = run(vouch().args([
        "verify-attestation",
        "--certificate-identity-regexp",
        "https://github\\.com/slsa-framework/slsa-github-generator/.*",
        "--certificate-oidc-issuer-regexp",
        "https://token\\.actions\\.githubusercontent\\.com",
        "--type",
        "slsaprovenance",
        "--output",
        "json",
        &format!("oci:{}", layout.display()),
    ]));
    assert_eq!(out.code, 0, "{out:?}");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let st = &doc[0]["attestations"][0]["statement"];
    assert_eq!(
        st["predicate"]["builder"]["id"], SAN,
        "the SLSA builder is the signing workflow"
    );
    assert_eq!(doc[0]["attestations"][0]["key"], SAN);
    // A regexp matching only a prefix is not a match (anchored).
    let out = run(vouch().args([
        "verify-attestation",
        "--certificate-identity-regexp",
        "https://github\\.com/slsa-framework",
        "--certificate-oidc-issuer",
        ISSUER,
        &format!("oci:{}", layout.display()),
    ]));
    assert_eq!(out.code, 1, "{out:?}");
}

#[test]
fn wrong_identity_or_issuer_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let out = verify(
        &layout,
        "https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main",
        ISSUER,
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("identity check failed"), "{out:?}");
    let out = verify(&layout, SAN, "https://accounts.google.com");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("OIDC issuer"), "{out:?}");
    // A key is not a certificate.
    let out = run(vouch().args([
        "verify-attestation",
        "--key",
        crate::support::workspace()
            .join("keys-test/vouch-test.pub")
            .to_str()
            .unwrap(),
        &format!("oci:{}", layout.display()),
    ]));
    assert_eq!(out.code, 1, "{out:?}");
}

#[test]
fn tampered_copies_are_rejected() {
    type Edit = fn(&mut Value, &mut Vec<u8>);
    let cases: [(&str, Edit, &str); 4] = [
        (
            "a forged signed entry timestamp",
            |a, _| {
                let mut b: Value =
                    serde_json::from_str(a["dev.sigstore.cosign/bundle"].as_str().unwrap())
                        .unwrap();
                let set = b["SignedEntryTimestamp"].as_str().unwrap().to_owned();
                let mut raw =
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &set)
                        .unwrap();
                let n = raw.len();
                raw[n - 5] ^= 1;
                b["SignedEntryTimestamp"] =
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw).into();
                a["dev.sigstore.cosign/bundle"] = b.to_string().into();
            },
            "signed entry timestamp",
        ),
        (
            "a moved integrated time",
            |a, _| {
                let mut b: Value =
                    serde_json::from_str(a["dev.sigstore.cosign/bundle"].as_str().unwrap())
                        .unwrap();
                let t = b["Payload"]["integratedTime"].as_i64().unwrap();
                b["Payload"]["integratedTime"] = (t + 60).into();
                a["dev.sigstore.cosign/bundle"] = b.to_string().into();
            },
            "signed entry timestamp",
        ),
        (
            "a changed statement",
            |_, env| {
                let mut e: Value = serde_json::from_slice(env).unwrap();
                let payload = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    e["payload"].as_str().unwrap(),
                )
                .unwrap();
                let changed = String::from_utf8(payload)
                    .unwrap()
                    .replace("slsa-github-generator", "slsa-github-generat0r");
                e["payload"] =
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, changed)
                        .into();
                *env = serde_json::to_vec(&e).unwrap();
            },
            "signature check failed",
        ),
        (
            "another Fulcio certificate",
            |a, _| {
                // The conformance happy path's leaf: a genuine Fulcio certificate for another key.
                let b: Value = serde_json::from_slice(
                    &fs::read(
                        vectors().join("sigstore-conformance/happy-path-v0.3/bundle.sigstore.json"),
                    )
                    .unwrap(),
                )
                .unwrap();
                let der = b["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap();
                let lines: Vec<String> = der
                    .as_bytes()
                    .chunks(64)
                    .map(|c| String::from_utf8(c.to_vec()).unwrap())
                    .collect();
                a["dev.sigstore.cosign/certificate"] = format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    lines.join("\n")
                )
                .into();
            },
            "signature check failed",
        ),
    ];
    for (what, edit, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let layout = copy_layout(dir.path());
        edit_att(&layout, edit);
        let out = verify(&layout, SAN, ISSUER);
        assert_eq!(out.code, 1, "{what}: {out:?}");
        assert!(
            out.stderr.contains(expect),
            "{what}: expected `{expect}`: {out:?}"
        );
    }
}
