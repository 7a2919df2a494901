//! Keyless signing with Rekor v2 (issue 15) against the local stack's Rekor v2 log
//! (`keys-test/sigstore-stack/rekor_v2.js`: a real RFC 6962 tree, inclusion proofs, Ed25519-signed
//! C2SP checkpoints, `hashedrekord` 0.0.2 bodies as rekor-tiles writes them). The stack's v2
//! signing config lists the v2 log before the v1 one: vouch, like sigstore-python 4, picks v2.
//! vouch's bundles verify in vouch, sigstore-python 4.5.1 and sigstore-js (@sigstore/verify);
//! sigstore-python's v2 bundles (blob and DSSE) verify in vouch. Faults: a log that logs another
//! entry, a broken proof, a checkpoint not signed by the trusted key, a refusal, the log down —
//! each a named error, and no bundle written.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::keyless_sign::{
    Rewrite, artifact, library_signed_statement, lying_proxy, no_proxy, python_verify, vouch_verify,
};
use crate::support::sigstore_stack::SigstoreStack;
use crate::support::{Run, python, run, vouch, workspace};

/// `vouch sign-blob` keyless with `--signing-config sc --trusted-root root`.
fn vouch_sign(stack: &SigstoreStack, sc: &Path, root: &Path, bundle: &Path, file: &Path) -> Run {
    let token = stack.email_token("alice@example.test");
    let mut cmd = vouch();
    no_proxy(&mut cmd)
        .arg("sign-blob")
        .arg("--identity-token")
        .arg(&token)
        .arg("--signing-config")
        .arg(sc)
        .arg("--trusted-root")
        .arg(root)
        .arg("--bundle")
        .arg(bundle)
        .arg(file);
    run(&mut cmd)
}

/// sigstore-js (@sigstore/verify) through keys-test/peers/sigstore_js_verify.js.
fn js_verify(stack: &SigstoreStack, bundle: &Path, identity: &str, file: &Path) -> Run {
    let mut cmd = Command::new("node");
    no_proxy(&mut cmd)
        .arg(workspace().join("keys-test/peers/sigstore_js_verify.js"))
        .args(["verify-bundle", "--bundle"])
        .arg(bundle)
        .arg("--certificate-identity")
        .arg(identity)
        .arg("--certificate-oidc-issuer")
        .arg(stack.oidc_issuer())
        .arg("--trusted-root")
        .arg(stack.trusted_root())
        .arg(file);
    run(&mut cmd)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The trusted root's `logId.keyId` of the stack's Rekor v2 log.
fn v2_log_id(stack: &SigstoreStack) -> String {
    let root = read_json(&stack.trusted_root());
    let log = root["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["baseUrl"] == stack.rekor_v2_url())
        .unwrap()
        .clone();
    assert_eq!(log["publicKey"]["keyDetails"], "PKIX_ED25519");
    log["logId"]["keyId"].as_str().unwrap().to_owned()
}

/// The bundle's one log entry is a Rekor v2 entry of the stack's v2 log; returns it.
fn v2_entry(stack: &SigstoreStack, bundle: &Value) -> Value {
    let entries = bundle["verificationMaterial"]["tlogEntries"]
        .as_array()
        .unwrap();
    assert_eq!(entries.len(), 1);
    let e = entries[0].clone();
    assert_eq!(e["kindVersion"]["kind"], "hashedrekord", "{e:#}");
    assert_eq!(e["kindVersion"]["version"], "0.0.2", "{e:#}");
    assert_eq!(e["logId"]["keyId"], v2_log_id(stack).as_str());
    assert!(e.get("inclusionPromise").is_none_or(Value::is_null));
    let origin = stack.rekor_v2_url().strip_prefix("http://").unwrap();
    let cp = e["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap();
    assert!(cp.starts_with(&format!("{origin}\n")), "{cp}");
    assert!(cp.contains(&format!("\n\u{2014} {origin} ")), "{cp}");
    e
}

/// vouch, sigstore-python and sigstore-js accept `bundle` for `identity`; vouch and
/// sigstore-python refuse another identity.
fn three_verify(stack: &SigstoreStack, bundle: &Path, identity: &str, file: &Path) {
    let r = vouch_verify(stack, bundle, identity, file).ok();
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["verified"], true);
    assert_eq!(out["identity"], identity);
    vouch_verify(stack, bundle, "mallory@example.test", file).code(1);
    let r = python_verify(stack, bundle, identity, file);
    assert_eq!(r.code, 0, "sigstore-python refused: {r:#?}");
    let r = python_verify(stack, bundle, "mallory@example.test", file);
    assert_ne!(
        r.code, 0,
        "sigstore-python accepted another identity: {r:#?}"
    );
    let r = js_verify(stack, bundle, identity, file);
    assert_eq!(r.code, 0, "sigstore-js refused: {r:#?}");
}

#[test]
fn vouch_signs_a_blob_with_rekor_v2_and_three_verifiers_accept_it() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let email = "alice@example.test";
    let sc = stack.signing_config_v2();
    let root = stack.trusted_root();
    // Two signings: the second entry's proof has a sibling hash (tree of 2).
    for (i, name) in ["one", "two"].into_iter().enumerate() {
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).unwrap();
        let file = artifact(&sub);
        let bundle = sub.join("b.sigstore.json");
        vouch_sign(&stack, &sc, &root, &bundle, &file).ok();
        let b = read_json(&bundle);
        let e = v2_entry(&stack, &b);
        assert_eq!(e["logIndex"], i.to_string());
        assert_eq!(e["inclusionProof"]["treeSize"], (i + 1).to_string());
        assert_eq!(e["inclusionProof"]["hashes"].as_array().unwrap().len(), i);
        three_verify(&stack, &bundle, email, &file);
        // A changed artifact: refused.
        let tampered = sub.join("tampered.txt");
        std::fs::write(&tampered, b"signed keylessly by vouch!\n").unwrap();
        vouch_verify(&stack, &bundle, email, &tampered).code(1);
    }
    // The same stack's v1-only signing config still logs in Rekor v1.
    let file = artifact(dir.path());
    let bundle = dir.path().join("v1.sigstore.json");
    vouch_sign(&stack, &stack.signing_config(), &root, &bundle, &file).ok();
    let b = read_json(&bundle);
    let e = &b["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(e["kindVersion"]["version"], "0.0.1");
    assert!(e["inclusionPromise"]["signedEntryTimestamp"].is_string());
    vouch_verify(&stack, &bundle, email, &file).ok();
}

#[test]
fn vouch_signs_a_dsse_statement_with_rekor_v2() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let email = "alice@example.test";
    let (file, bundle, b) =
        library_signed_statement(&stack, &stack.trust_config_v2(), dir.path(), email);
    assert!(b["dsseEnvelope"]["payload"].is_string());
    // Rekor v2 logs the envelope as a hashedrekord of its PAE's digest.
    let e = v2_entry(&stack, &b);
    let body: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            e["canonicalizedBody"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let sig = b["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap();
    assert_eq!(
        body["spec"]["hashedRekordV002"]["signature"]["content"],
        sig
    );
    three_verify(&stack, &bundle, email, &file);
    // Another file: not the statement's subject.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"other\n").unwrap();
    vouch_verify(&stack, &bundle, email, &other).code(1);
}

#[test]
fn sigstore_python_signs_with_rekor_v2_and_vouch_verifies_it() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let email = "bob@example.test";
    let predicate = dir.path().join("predicate.json");
    std::fs::write(
        &predicate,
        r#"{"buildDefinition":{"buildType":"https://example.test/build","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.test/builder"}}}"#,
    )
    .unwrap();
    for (what, extra) in [
        ("sign", vec![]),
        (
            "attest",
            vec![
                "--predicate-type".into(),
                "https://slsa.dev/provenance/v1".into(),
                "--predicate".into(),
                predicate.clone().into_os_string(),
            ],
        ),
    ] {
        let bundle = dir.path().join(format!("{what}.sigstore.json"));
        let token = stack.email_token(email);
        let mut cmd = Command::new(python());
        no_proxy(&mut cmd)
            .args(["-m", "sigstore", "--trust-config"])
            .arg(stack.trust_config_v2())
            .arg(what)
            .args(extra)
            .arg("--identity-token")
            .arg(&token)
            .arg("--bundle")
            .arg(&bundle)
            .arg(&file);
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "sigstore-python {what}: {r:#?}");
        let b = read_json(&bundle);
        v2_entry(&stack, &b);
        assert_eq!(b["dsseEnvelope"].is_object(), what == "attest");
        let r = vouch_verify(&stack, &bundle, email, &file).ok();
        let out: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(out["verified"], true, "{what}");
        vouch_verify(&stack, &bundle, "mallory@example.test", &file).code(1);
    }
}

/// The stack's v2 signing config with the v2 log at `url`.
fn v2_config_with_log(stack: &SigstoreStack, url: &str, dir: &Path) -> PathBuf {
    let mut sc = read_json(&stack.signing_config_v2());
    assert_eq!(sc["rekorTlogUrls"][0]["majorApiVersion"], 2);
    sc["rekorTlogUrls"][0]["url"] = url.into();
    let p = dir.join("signing-config-v2.json");
    std::fs::write(&p, sc.to_string()).unwrap();
    p
}

#[test]
fn a_rekor_v2_log_that_lies_refuses_or_is_down_writes_nothing() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let root = stack.trusted_root();
    let keep: Rewrite = Arc::new(|b: &[u8]| b.to_vec());
    let a = dir.path().join("a");
    std::fs::create_dir(&a).unwrap();
    let file_a = artifact(&a);
    let file_b = dir.path().join("b.txt");
    std::fs::write(&file_b, b"another artifact\n").unwrap();
    let bundle = dir.path().join("b.sigstore.json");

    // A log that logs another (valid, signed) entry: the proxy keeps the first request it sees
    // (sending the log an empty one, which it refuses) and sends it in place of the second.
    let first: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
    let replay: Rewrite = Arc::new(move |b: &[u8]| {
        let mut f = first.lock().unwrap();
        match f.as_ref() {
            None => {
                *f = Some(b.to_vec());
                b"{}".to_vec()
            }
            Some(kept) => kept.clone(),
        }
    });
    let proxy = lying_proxy(stack.rekor_v2_url(), replay, keep.clone());
    let sc = v2_config_with_log(&stack, &proxy, dir.path());
    let bundle_a = a.join("a.sigstore.json");
    let r = vouch_sign(&stack, &sc, &root, &bundle_a, &file_a).code(1);
    assert!(r.stderr.contains("refused the entry (HTTP 400)"), "{r:#?}");
    assert!(!bundle_a.exists());
    let r = vouch_sign(&stack, &sc, &root, &bundle, &file_b).code(1);
    assert!(
        r.stderr.contains(&format!("Rekor at {proxy}")) && r.stderr.contains("not ours"),
        "{r:#?}"
    );
    assert!(!bundle.exists());
    // The same entry again: the log refuses a duplicate (409, as rekor-tiles' antispam does).
    let r = vouch_sign(&stack, &sc, &root, &bundle, &file_b).code(1);
    assert!(r.stderr.contains("refused the entry (HTTP 409)"), "{r:#?}");
    assert!(!bundle.exists());

    // A broken inclusion proof: a sibling hash or the root hash changed.
    for field in ["hashes", "rootHash"] {
        let lie: Rewrite = Arc::new(move |b: &[u8]| {
            let mut v: Value = serde_json::from_slice(b).unwrap();
            let p = &mut v["inclusionProof"];
            let target = if field == "hashes" {
                &mut p["hashes"][0]
            } else {
                &mut p["rootHash"]
            };
            assert!(target.is_string(), "{field} in {v:#}");
            *target = "ERERERERERERERERERERERERERERERERERERERERERE=".into();
            v.to_string().into_bytes()
        });
        let proxy = lying_proxy(stack.rekor_v2_url(), keep.clone(), lie);
        let sc = v2_config_with_log(&stack, &proxy, dir.path());
        let r = vouch_sign(&stack, &sc, &root, &bundle, &file_b).code(1);
        assert!(
            r.stderr.contains("Rekor at")
                && r.stderr.contains("does not vouch")
                && r.stderr.contains("inclusion proof"),
            "{field}: {r:#?}"
        );
        assert!(!bundle.exists());
    }

    // A checkpoint signed by another key than the trusted root's for that log: the root names
    // another stack's Rekor v2 key under this log's ID.
    let other = SigstoreStack::start();
    let theirs = read_json(&other.trusted_root());
    let their_key = theirs["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["baseUrl"] == other.rekor_v2_url())
        .unwrap()["publicKey"]
        .clone();
    let mut ours = read_json(&root);
    for l in ours["tlogs"].as_array_mut().unwrap() {
        if l["baseUrl"] == stack.rekor_v2_url() {
            l["publicKey"] = their_key.clone();
        }
    }
    let other_root = dir.path().join("other-root.json");
    std::fs::write(&other_root, ours.to_string()).unwrap();
    let r = vouch_sign(
        &stack,
        &stack.signing_config_v2(),
        &other_root,
        &bundle,
        &file_b,
    )
    .code(1);
    assert!(
        r.stderr
            .contains(&format!("Rekor at {}", stack.rekor_v2_url()))
            && r.stderr.contains("checkpoint"),
        "{r:#?}"
    );
    assert!(!bundle.exists());

    // A log that refuses the entry (its signature, changed on the way, does not verify).
    let bad_sig: Rewrite = Arc::new(|b: &[u8]| {
        let mut v: Value = serde_json::from_slice(b).unwrap();
        v["hashedRekordRequestV002"]["signature"]["content"] = "MEUCIQ==".into();
        v.to_string().into_bytes()
    });
    let proxy = lying_proxy(stack.rekor_v2_url(), bad_sig, keep);
    let sc = v2_config_with_log(&stack, &proxy, dir.path());
    let r = vouch_sign(&stack, &sc, &root, &bundle, &file_b).code(1);
    assert!(
        r.stderr.contains("Rekor at") && r.stderr.contains("refused the entry (HTTP 400)"),
        "{r:#?}"
    );
    assert!(!bundle.exists());

    // The log down: exit 3, named.
    let sc = v2_config_with_log(&stack, "http://127.0.0.1:9", dir.path());
    let r = vouch_sign(&stack, &sc, &root, &bundle, &file_b).code(3);
    assert!(r.stderr.contains("Rekor at http://127.0.0.1:9"), "{r:#?}");
    assert!(!bundle.exists());
}
