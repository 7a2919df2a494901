//! sigstore's client conformance cases (tests/data/vectors/sigstore-conformance), run through the
//! CLI exactly as the suite drives a client: every case gives its expected verdict (folders
//! ending `_fail` rejected, all others verified). Unit tests in core/ and verify/ check that the
//! rejections happen at the intended step.

use std::path::Path;

use crate::support::{run, vectors, vouch};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
}

#[test]
fn conformance_suite() {
    let root = vectors().join("sigstore-conformance");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bundle.sigstore.json").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 45, "only {} cases found", cases.len());
    let mut passed = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expect_ok = !name.ends_with("_fail");
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            root.join("a.txt")
        };
        let mut cmd = vouch();
        cmd.arg("verify-bundle")
            .arg("--bundle")
            .arg(case.join("bundle.sigstore.json"));
        let keyed = case.join("key.pub").exists();
        if keyed {
            cmd.arg("--key").arg(case.join("key.pub"));
        } else {
            cmd.args([
                "--certificate-identity",
                &read(&case.join("identity")).unwrap_or_else(|| IDENTITY.to_owned()),
                "--certificate-oidc-issuer",
                &read(&case.join("issuer")).unwrap_or_else(|| ISSUER.to_owned()),
            ]);
        }
        if case.join("trusted_root.json").exists() {
            cmd.arg("--trusted-root")
                .arg(case.join("trusted_root.json"));
        }
        cmd.arg(&artifact);
        let out = run(&mut cmd);
        assert!(!out.stderr.contains("panicked"), "{name}: {out:?}");
        assert_eq!(out.code == 0, expect_ok, "{name}: {out:?}");
        if !expect_ok {
            // A verification failure (1), or unusable input such as a malformed key (2).
            assert!(out.code == 1 || out.code == 2, "{name}: {out:?}");
        }
        passed.push(name);
    }
    eprintln!(
        "conformance: {} of {} cases give the expected verdict",
        passed.len(),
        cases.len()
    );
    assert_eq!(passed.len(), cases.len());
}

/// Real cosign 3 output (`cosign attest --new-bundle-format`, tests/data/vectors/more/03-…): a v0.3
/// DSSE bundle, verified offline for its subject digest with its signer's identity, and
/// rejected for another identity or another digest.
#[test]
fn cosign_3_bundle() {
    let bundle = vectors()
        .join("more/03-cosign-sigstore-artifacts/cosign/testdata/oci-attestation.sigstore.json");
    let digest = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
    let verify = |id: &str, artifact: &str| {
        run(vouch().args([
            "verify-bundle",
            "--bundle",
            bundle.to_str().unwrap(),
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            "--output",
            "json",
            artifact,
        ]))
    };
    let out = verify("cody@soyland.com", digest);
    assert_eq!(out.code, 0, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["identity"], "cody@soyland.com");
    assert_eq!(doc["artifact"], digest);
    assert_eq!(verify("mallory@soyland.com", digest).code, 1);
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let out = verify("cody@soyland.com", other);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("subject"), "{out:?}");
}

/// Issue 20: the bundle specification's rules per version, on bundles derived from the suite's
/// keyless happy paths (each changes one thing), with the neighbour that still verifies.
#[test]
fn issue20_bundle_version_rules() {
    let root = vectors().join("sigstore-conformance");
    let dir = tempfile::tempdir().unwrap();
    let load = |case: &str| -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(root.join(case).join("bundle.sigstore.json")).unwrap(),
        )
        .unwrap()
    };
    let mut n = 0;
    let mut verify = |case: &str, bundle: &serde_json::Value| {
        n += 1;
        let path = dir.path().join(format!("{n}.json"));
        std::fs::write(&path, serde_json::to_vec(bundle).unwrap()).unwrap();
        let c = root.join(case);
        let mut cmd = vouch();
        cmd.arg("verify-bundle").arg("--bundle").arg(&path).args([
            "--certificate-identity",
            &read(&c.join("identity")).unwrap_or_else(|| IDENTITY.to_owned()),
            "--certificate-oidc-issuer",
            &read(&c.join("issuer")).unwrap_or_else(|| ISSUER.to_owned()),
        ]);
        if c.join("trusted_root.json").exists() {
            cmd.arg("--trusted-root").arg(c.join("trusted_root.json"));
        }
        cmd.arg(root.join("a.txt"));
        let out = run(&mut cmd);
        assert!(!out.stderr.contains("panicked"), "{out:?}");
        out
    };
    let media = |v: &str| match v {
        "0.3" => "application/vnd.dev.sigstore.bundle.v0.3+json".to_owned(),
        v => format!("application/vnd.dev.sigstore.bundle+json;version={v}"),
    };
    // v0.3 carries a single certificate, not a chain; v0.2 may.
    let mut chain = load("happy-path-v0.3");
    let vm = chain["verificationMaterial"].as_object_mut().unwrap();
    let cert = vm.remove("certificate").unwrap();
    vm.insert(
        "x509CertificateChain".into(),
        serde_json::json!({"certificates": [cert]}),
    );
    let out = verify("happy-path-v0.3", &chain);
    assert!(matches!(out.code, 1 | 2), "{out:?}");
    assert!(out.stderr.contains("x509CertificateChain"), "{out:?}");
    chain["mediaType"] = media("0.3").into();
    assert_ne!(verify("happy-path-v0.3", &chain).code, 0);
    chain["mediaType"] = media("0.2").into();
    assert_eq!(verify("happy-path-v0.3", &chain).code, 0);
    // v0.2 and v0.3 need an inclusion proof: a promise (SET) alone is v0.1's.
    for (case, version) in [("happy-path-v0.2", "0.2"), ("happy-path-v0.3", "0.3")] {
        let mut b = load(case);
        b["mediaType"] = media(version).into();
        assert_eq!(verify(case, &b).code, 0, "{case}");
        b["verificationMaterial"]["tlogEntries"][0]
            .as_object_mut()
            .unwrap()
            .remove("inclusionProof");
        let out = verify(case, &b);
        assert!(matches!(out.code, 1 | 2), "{case}: {out:?}");
        assert!(out.stderr.contains("inclusion proof"), "{out:?}");
        b["mediaType"] = media("0.1").into();
        let ok = verify(case, &b);
        assert_eq!(ok.code, 0, "{case} as v0.1: {ok:?}");
    }
    // v0.1 needs an inclusion promise, even with a proof.
    let case = "trust-root-tlog-validity-end-inclusive";
    let mut b = load(case);
    assert_eq!(verify(case, &b).code, 0);
    b["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    let out = verify(case, &b);
    assert!(matches!(out.code, 1 | 2), "{out:?}");
    assert!(out.stderr.contains("inclusion promise"), "{out:?}");
    // Unknown media types.
    for m in [
        "application/vnd.dev.sigstore.bundle.v0.4+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.4",
        "application/vnd.dev.sigstore.bundle+json",
    ] {
        let mut b = load("happy-path-v0.3");
        b["mediaType"] = m.into();
        assert_ne!(verify("happy-path-v0.3", &b).code, 0, "{m}");
    }
}
