//! sigstore's client conformance cases (shared/vectors/sigstore-conformance), run through the
//! CLI exactly as the suite drives a client. Every case gives its expected verdict, except the
//! bundles carrying RFC 3161 timestamps: vouch does not verify those yet and must refuse them as
//! unsupported (exit 2 saying so) — never verify them by ignoring the timestamps.

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
    let (mut passed, mut pending) = (Vec::new(), Vec::new());
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
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap())
                .unwrap_or_default();
        let timestamped = bundle
            .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps")
            .and_then(|t| t.as_array())
            .is_some_and(|t| !t.is_empty());
        if timestamped && !(keyed && out.stderr.contains("key file")) {
            assert_eq!(out.code, 2, "{name}: {out:?}");
            assert!(out.stderr.contains("RFC 3161"), "{name}: {out:?}");
            pending.push(name);
        } else {
            assert_eq!(out.code == 0, expect_ok, "{name}: {out:?}");
            passed.push(name);
        }
    }
    eprintln!(
        "conformance: {} cases give the expected verdict; {} pending (RFC 3161 timestamps)",
        passed.len(),
        pending.len()
    );
    assert!(passed.len() >= 25, "{passed:?}");
}
