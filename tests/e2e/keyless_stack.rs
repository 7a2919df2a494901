//! The local sigstore stack (keys-test/sigstore-stack) is real enough to sign with: a client we
//! did not write, sigstore-python 4.5.1, signs keylessly against it (OIDC token → Fulcio → TSA →
//! Rekor v1), verifies its own bundle offline with the stack's trust config, and vouch verifies
//! the same bundle with the stack's trusted root.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::sigstore_stack::{SigstoreStack, forge_token, github_claims};
use crate::support::{Run, python, run, vouch};

/// sigstore-python with no proxy for the stack's 127.0.0.1 URLs.
fn sigstore_python(stack: &SigstoreStack) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg("-m")
        .arg("sigstore")
        .arg("--trust-config")
        .arg(stack.trust_config())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    cmd
}

/// `sigstore sign --identity-token TOKEN --bundle FILE.sigstore.json FILE`.
fn python_sign(stack: &SigstoreStack, token: &str, file: &Path) -> (Run, PathBuf) {
    let bundle = file.with_extension("sigstore.json");
    let r = run(sigstore_python(stack)
        .arg("sign")
        .arg("--identity-token")
        .arg(token)
        .arg("--bundle")
        .arg(&bundle)
        .arg(file));
    (r, bundle)
}

/// `sigstore verify identity` with the stack's trust config (offline: nothing is fetched).
fn python_verify(stack: &SigstoreStack, bundle: &Path, identity: &str, file: &Path) -> Run {
    run(sigstore_python(stack)
        .args(["verify", "identity", "--bundle"])
        .arg(bundle)
        .arg("--cert-identity")
        .arg(identity)
        .arg("--cert-oidc-issuer")
        .arg(stack.oidc_issuer())
        .arg(file))
}

/// How many of the bundle's RFC 3161 timestamps sigstore-python verifies against the trust
/// config's TSA (its verifier only logs a timestamp it cannot verify, so ask it directly).
fn python_verified_timestamps(stack: &SigstoreStack, bundle: &Path) -> usize {
    let script = "import sys\n\
        from sigstore.models import Bundle, ClientTrustConfig\n\
        from sigstore.verify import Verifier\n\
        tc = ClientTrustConfig.from_json(open(sys.argv[1]).read())\n\
        b = Bundle.from_json(open(sys.argv[2]).read())\n\
        ts = Verifier(trusted_root=tc.trusted_root)._verify_timestamp_authority(b)\n\
        print(len(ts))\n";
    let r = run(Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(stack.trust_config())
        .arg(bundle))
    .ok();
    r.stdout.trim().parse().unwrap()
}

fn vouch_verify(
    stack: &SigstoreStack,
    bundle: &Path,
    identity: &str,
    issuer: &str,
    file: &Path,
) -> Run {
    run(vouch()
        .arg("verify-bundle")
        .arg("--output")
        .arg("json")
        .arg("--bundle")
        .arg(bundle)
        .arg("--certificate-identity")
        .arg(identity)
        .arg("--certificate-oidc-issuer")
        .arg(issuer)
        .arg("--trusted-root")
        .arg(stack.trusted_root())
        .arg(file))
}

/// Signs `file` with sigstore-python and `token`, then checks the bundle's shape and that
/// sigstore-python and vouch both accept it for `identity`, and both reject another identity.
fn sign_and_cross_verify(
    stack: &SigstoreStack,
    token: &str,
    identity: &str,
    file: &Path,
) -> PathBuf {
    let (r, bundle) = python_sign(stack, token, file);
    let r = r.ok();
    let b: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap())
        .unwrap_or_else(|e| panic!("bundle: {e}; sign said {r:#?}"));
    assert_eq!(
        b["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let vm = &b["verificationMaterial"];
    assert!(vm["certificate"]["rawBytes"].is_string(), "{vm:#}");
    assert_eq!(vm["tlogEntries"].as_array().unwrap().len(), 1);
    assert_eq!(vm["tlogEntries"][0]["kindVersion"]["kind"], "hashedrekord");
    assert!(vm["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(vm["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"].is_string());
    assert_eq!(
        vm["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the TSA's timestamp is missing: {vm:#}"
    );
    assert_eq!(python_verified_timestamps(stack, &bundle), 1);

    // sigstore-python, offline, with the stack's trust config.
    python_verify(stack, &bundle, identity, file).ok();
    let r = python_verify(stack, &bundle, "mallory@example.test", file);
    assert_ne!(
        r.code, 0,
        "sigstore-python accepted another identity: {r:#?}"
    );

    // vouch, with the stack's trusted root.
    let r = vouch_verify(stack, &bundle, identity, stack.oidc_issuer(), file).ok();
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["verified"], true);
    assert_eq!(out["identity"], identity);
    assert_eq!(out["issuer"], stack.oidc_issuer());
    vouch_verify(
        stack,
        &bundle,
        "mallory@example.test",
        stack.oidc_issuer(),
        file,
    )
    .code(1);
    vouch_verify(
        stack,
        &bundle,
        identity,
        "https://accounts.google.com",
        file,
    )
    .code(1);
    bundle
}

#[test]
fn python_signs_with_an_email_token_and_vouch_verifies() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("artifact.txt");
    std::fs::write(&file, b"signed against the local sigstore stack\n").unwrap();
    let email = "alice@example.test";
    let token = stack.email_token(email);
    let bundle = sign_and_cross_verify(&stack, &token, email, &file);

    // A changed artifact: both reject.
    let tampered = dir.path().join("tampered.txt");
    std::fs::write(&tampered, b"signed against the local sigstore stacK\n").unwrap();
    vouch_verify(&stack, &bundle, email, stack.oidc_issuer(), &tampered).code(1);
    let r = python_verify(&stack, &bundle, email, &tampered);
    assert_ne!(
        r.code, 0,
        "sigstore-python accepted a changed artifact: {r:#?}"
    );

    // Another stack (other keys) is not trusted by this bundle.
    let other = SigstoreStack::start();
    vouch_verify(&other, &bundle, email, stack.oidc_issuer(), &file).code(1);
}

#[test]
fn python_signs_with_a_github_actions_token_and_vouch_verifies() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("release.tar");
    std::fs::write(&file, b"a release built by a workflow\n").unwrap();
    let claims = github_claims(
        "octo/app",
        ".github/workflows/release.yml",
        "refs/heads/main",
    );
    let token = stack.mint_token(&claims);
    let identity = "https://github.com/octo/app/.github/workflows/release.yml@refs/heads/main";
    sign_and_cross_verify(&stack, &token, identity, &file);
}

#[test]
fn fulcio_refuses_a_forged_token() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("artifact.txt");
    std::fs::write(&file, b"x\n").unwrap();
    // The issuer's signature no longer covers the claims: sigstore-python does not check it
    // (Fulcio's job), the stack's Fulcio must.
    let forged = forge_token(&stack.email_token("alice@example.test"), |c| {
        c["email"] = "mallory@example.test".into();
        c["sub"] = "mallory@example.test".into();
    });
    let (r, bundle) = python_sign(&stack, &forged, &file);
    assert_ne!(r.code, 0, "signed with a forged token: {r:#?}");
    assert!(r.stderr.contains("FulcioClientError"), "{r:#?}");
    assert!(!bundle.exists());
}

/// With no inclusion promise, the bundle's only signing time is the TSA's: sigstore-python
/// accepts it, and so does vouch. The mock TSA writes `genTime` with fractional seconds
/// (`20261130214802.223Z`, which RFC 3161 §2.4.2 allows; vouch once refused it).
#[test]
fn the_tsa_time_alone_suffices() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("artifact.txt");
    std::fs::write(&file, b"timestamped by the TSA only\n").unwrap();
    let email = "alice@example.test";
    let (r, bundle) = python_sign(&stack, &stack.email_token(email), &file);
    r.ok();
    let mut b: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let entry = &mut b["verificationMaterial"]["tlogEntries"][0];
    entry
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise")
        .unwrap();
    let no_promise = dir.path().join("no-promise.sigstore.json");
    std::fs::write(&no_promise, b.to_string()).unwrap();
    python_verify(&stack, &no_promise, email, &file).ok();
    vouch_verify(&stack, &no_promise, email, stack.oidc_issuer(), &file).ok();
}
