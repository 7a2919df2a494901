//! vouch signs and attests IMAGES keylessly (issue 15) against the local sigstore stack: one
//! Fulcio certificate per run, a timestamp and a Rekor entry per signature; cosign 3's bundle
//! referrers (a Rekor `dsse` entry) and cosign 2's legacy `.sig` / `.att` layers (a
//! `hashedrekord` / `dsse` entry, cosign's keyless annotations), on a real docker-registry and in
//! OCI layouts. Everything is verified by vouch with identity flags and by a policy with a
//! keyless authority; the bundles also by sigstore-python. Faults: a Fulcio that is down or
//! lies, a Rekor that is down for the second image — a named error, and nothing attached.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

use crate::keyless_sign::{Rewrite, lying_proxy, no_proxy, python_verify, signing_config_with};
use crate::support::image::{client, image_parts, layout_image, push_image};
use crate::support::registry::Registry;
use crate::support::sigstore_stack::SigstoreStack;
use crate::support::{Run, run, vouch};

const EMAIL: &str = "alice@example.test";

fn cmd() -> Command {
    let mut c = vouch();
    no_proxy(&mut c);
    c
}

/// `vouch <sub> --identity-token T --trust-config TC [extra…] IMAGE…` (sign or attest).
fn keyless(stack: &SigstoreStack, token: &str, sub: &str, extra: &[&str], images: &[&str]) -> Run {
    run(cmd()
        .arg(sub)
        .arg("--identity-token")
        .arg(token)
        .arg("--trust-config")
        .arg(stack.trust_config())
        .args(extra)
        .args(images))
}

/// `vouch <sub> --certificate-identity ID --certificate-oidc-issuer ISS --trusted-root R …`.
fn verify_as(stack: &SigstoreStack, sub: &str, identity: &str, extra: &[&str], image: &str) -> Run {
    run(cmd()
        .arg(sub)
        .arg("--certificate-identity")
        .arg(identity)
        .arg("--certificate-oidc-issuer")
        .arg(stack.oidc_issuer())
        .arg("--trusted-root")
        .arg(stack.trusted_root())
        .args(extra)
        .arg(image))
}

/// A policy whose images must be signed keylessly by `subject` (the stack's issuer and root).
fn keyless_policy(stack: &SigstoreStack, dir: &Path, subject: &str) -> PathBuf {
    let p = dir.join(format!("policy-{}.yaml", subject.replace(['@', '.'], "-")));
    std::fs::write(
        &p,
        format!(
            "version: 1\nimages:\n  - match: \"**\"\n    signatures:\n      authorities:\n        - keyless:\n            issuer: \"{}\"\n            subject: \"{subject}\"\n            trustedRoot: \"{}\"\n",
            stack.oidc_issuer(),
            stack.trusted_root().display()
        ),
    )
    .unwrap();
    p
}

/// `vouch tree --output json IMAGE`.
fn tree(image: &str) -> Value {
    let r = run(cmd().args(["tree", "--output", "json", image])).ok();
    serde_json::from_str(&r.stdout).unwrap()
}

/// The image's signatures and attestations verify keylessly for EMAIL, by flags and by a
/// policy; another identity is refused.
fn verify_image(stack: &SigstoreStack, dir: &Path, image: &str) {
    let r = verify_as(stack, "verify", EMAIL, &["--output", "json"], image).ok();
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        !doc[0]["signatures"].as_array().unwrap().is_empty(),
        "{doc:#}"
    );
    let r = verify_as(stack, "verify", "mallory@example.test", &[], image).code(1);
    assert!(r.stderr.contains("mallory@example.test"), "{r:#?}");
    let ok = keyless_policy(stack, dir, EMAIL);
    run(cmd().arg("verify").arg("--policy").arg(&ok).arg(image)).ok();
    let other = keyless_policy(stack, dir, "mallory@example.test");
    run(cmd().arg("verify").arg("--policy").arg(&other).arg(image)).code(1);
}

/// The annotations of every manifest layer stored under `root` (a layout, a registry's storage).
fn layer_annotations(root: &Path, out: &mut Vec<Value>) {
    for e in std::fs::read_dir(root).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            layer_annotations(&p, out);
        } else if e.metadata().is_ok_and(|m| m.len() < 1 << 20)
            && let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap())
            && let Some(layers) = v["layers"].as_array()
        {
            out.extend(layers.iter().map(|l| l["annotations"].clone()));
        }
    }
}

/// A legacy layer under `root` with the signature annotation carries cosign's keyless
/// annotations: the leaf and chain PEM, the Rekor bundle (SET + entry of `kind`) and a
/// timestamp; `predicate_type` is set for `.att` layers. Returns the annotations.
fn assert_cosign_annotations(root: &Path, kind: &str, predicate_type: Option<&str>) -> Value {
    let mut all = Vec::new();
    layer_annotations(root, &mut all);
    let found = all.iter().find(|a| {
        a["dev.sigstore.cosign/bundle"].is_string() && a["predicateType"].as_str() == predicate_type
    });
    let Some(a) = found else {
        panic!("no keyless {kind} layer under {}: {all:#?}", root.display())
    };
    let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
    assert!(
        s("dev.sigstore.cosign/certificate").starts_with("-----BEGIN CERTIFICATE-----"),
        "{a:#}"
    );
    assert!(
        s("dev.sigstore.cosign/chain")
            .matches("-----BEGIN CERTIFICATE-----")
            .count()
            >= 1,
        "{a:#}"
    );
    let bundle: Value = serde_json::from_str(&s("dev.sigstore.cosign/bundle")).unwrap();
    assert!(bundle["SignedEntryTimestamp"].is_string(), "{bundle:#}");
    assert!(bundle["Payload"]["logIndex"].is_i64(), "{bundle:#}");
    assert!(bundle["Payload"]["integratedTime"].is_i64(), "{bundle:#}");
    assert_eq!(bundle["Payload"]["logID"].as_str().map(str::len), Some(64));
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD
        .decode(bundle["Payload"]["body"].as_str().unwrap())
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["kind"], kind, "{body:#}");
    let ts: Value = serde_json::from_str(&s("dev.sigstore.cosign/rfc3161timestamp")).unwrap();
    assert!(ts["SignedRFC3161Timestamp"].is_string(), "{ts:#}");
    if predicate_type.is_none() {
        assert!(!s("dev.cosignproject.cosign/signature").is_empty(), "{a:#}");
    }
    a.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_sign_in_both_formats_in_a_registry_and_a_layout() {
    let stack = SigstoreStack::start();
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = client();
    let token = stack.email_token(EMAIL);
    for format in ["bundle", "legacy"] {
        let repo = format!("keyless/{format}");
        let digest = push_image(&c, &reg.host(), &repo, "v1").await;
        let in_registry = format!("{}/{repo}@{digest}", reg.host());
        let layout = d.join(format!("layout-{format}"));
        let ld = layout_image(&layout, "v1");
        let in_layout = format!("oci:{}@{ld}", layout.display());
        // One run signs both images with one certificate.
        let r = keyless(
            &stack,
            &token,
            "sign",
            &["--format", format],
            &[&in_registry, &in_layout],
        )
        .ok();
        assert!(!r.stderr.contains(&token) && !r.stdout.contains(&token));
        assert!(
            r.stderr.contains(EMAIL) && r.stderr.matches("Signed ").count() == 2,
            "{r:#?}"
        );
        for image in [&in_registry, &in_layout] {
            verify_image(&stack, d, image);
        }
        if format == "legacy" {
            // One certificate for the run; each signature its own Rekor entry.
            let a = assert_cosign_annotations(&reg.storage(), "hashedrekord", None);
            let b = assert_cosign_annotations(&layout, "hashedrekord", None);
            let cert = "dev.sigstore.cosign/certificate";
            assert_eq!(a[cert], b[cert]);
            let index = |v: &Value| {
                let rekor = v["dev.sigstore.cosign/bundle"].as_str().unwrap();
                serde_json::from_str::<Value>(rekor).unwrap()["Payload"]["logIndex"].clone()
            };
            assert_ne!(index(&a), index(&b));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_attest_in_both_formats() {
    let stack = SigstoreStack::start();
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let predicate = d.join("predicate.json");
    std::fs::write(&predicate, br#"{"reviewed":"yes","by":"alice"}"#).unwrap();
    let token = stack.email_token(EMAIL);
    let c = client();
    for format in ["bundle", "legacy"] {
        let repo = format!("attest/{format}");
        let digest = push_image(&c, &reg.host(), &repo, "v1").await;
        let in_registry = format!("{}/{repo}@{digest}", reg.host());
        let layout = d.join(format!("layout-{format}"));
        let ld = layout_image(&layout, "v1");
        let in_layout = format!("oci:{}@{ld}", layout.display());
        for image in [&in_registry, &in_layout] {
            let pred = predicate.to_str().unwrap();
            let r = keyless(
                &stack,
                &token,
                "attest",
                &["--type", "custom", "--predicate", pred, "--format", format],
                &[image],
            )
            .ok();
            assert!(r.stderr.contains("Attested"), "{r:#?}");
            let r = verify_as(
                &stack,
                "verify-attestation",
                EMAIL,
                &["--type", "custom", "--output", "json"],
                image,
            )
            .ok();
            assert!(r.stdout.contains("reviewed"), "{r:#?}");
            verify_as(
                &stack,
                "verify-attestation",
                "mallory@example.test",
                &["--type", "custom"],
                image,
            )
            .code(1);
        }
        if format == "legacy" {
            let custom = Some("https://cosign.sigstore.dev/attestation/v1");
            assert_cosign_annotations(&reg.storage(), "dsse", custom);
            assert_cosign_annotations(&layout, "dsse", custom);
        }
    }
}

/// The bundles of vouch's keyless referrers have a `dsse` entry, a certificate and a timestamp;
/// sigstore-python verifies the attestation's bundle over the image manifest. (It refuses the
/// signature's statement before any signature check: cosign's `sign/v1` statement names its
/// subject by digest only, and sigstore-python's in-toto model requires `subject.name`.)
#[test]
fn keyless_bundle_referrers_and_sigstore_python() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let layout = d.join("layout");
    let digest = layout_image(&layout, "v1");
    let image = format!("oci:{}@{digest}", layout.display());
    let token = stack.email_token(EMAIL);
    keyless(&stack, &token, "sign", &[], &[&image]).ok();
    let predicate = d.join("predicate.json");
    std::fs::write(&predicate, br#"{"reviewed":"yes"}"#).unwrap();
    let pred = predicate.to_str().unwrap();
    keyless(&stack, &token, "attest", &["--predicate", pred], &[&image]).ok();
    let (_, _, manifest) = image_parts(&format!("{}:v1", layout.display()));
    let manifest_file = d.join("manifest.json");
    std::fs::write(&manifest_file, &manifest).unwrap();
    let bundles = find_bundles(&layout, d);
    assert_eq!(bundles.len(), 2, "{bundles:#?}");
    let mut attestation = None;
    for (path, b) in &bundles {
        let vm = &b["verificationMaterial"];
        assert_eq!(vm["tlogEntries"][0]["kindVersion"]["kind"], "dsse");
        assert!(vm["certificate"]["rawBytes"].is_string(), "{vm:#}");
        assert_eq!(
            vm["timestampVerificationData"]["rfc3161Timestamps"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        use base64::Engine as _;
        let statement = base64::engine::general_purpose::STANDARD
            .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let statement: Value = serde_json::from_slice(&statement).unwrap();
        assert_eq!(
            statement["subject"][0]["digest"]["sha256"],
            digest.hex(),
            "{statement:#}"
        );
        if statement["predicateType"] == "https://cosign.sigstore.dev/attestation/v1" {
            attestation = Some(path.clone());
        } else {
            assert_eq!(
                statement["predicateType"],
                "https://sigstore.dev/cosign/sign/v1"
            );
        }
    }
    let bundle = attestation.expect("no attestation bundle");
    let r = python_verify(&stack, &bundle, EMAIL, &manifest_file);
    assert_eq!(r.code, 0, "sigstore-python refused vouch's bundle: {r:#?}");
    let r = python_verify(&stack, &bundle, "mallory@example.test", &manifest_file);
    assert_ne!(r.code, 0, "sigstore-python accepted another identity");
}

/// The sigstore bundles stored in the layout, each copied to a file in `out`.
fn find_bundles(layout: &Path, out: &Path) -> Vec<(PathBuf, Value)> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let bytes = std::fs::read(e.path()).unwrap();
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if v["mediaType"]
            .as_str()
            .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle"))
        {
            let p = out.join(format!("bundle-{}.sigstore.json", found.len()));
            std::fs::write(&p, &bytes).unwrap();
            found.push((p, v));
        }
    }
    found
}

/// Nothing signed nor attested: no signature, no attestation, no referrer.
fn assert_nothing_attached(image: &str) {
    let t = tree(image);
    let text = t.to_string();
    assert!(
        !text.contains("simplesigning")
            && !text.contains("dsse")
            && !text.contains("sigstore.bundle"),
        "something was attached: {t:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulcio_down_or_lying_and_rekor_down_attach_nothing() {
    let stack = SigstoreStack::start();
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = client();
    let one = push_image(&c, &reg.host(), "faults/one", "v1").await;
    let two = push_image(&c, &reg.host(), "faults/two", "v1").await;
    let images = [
        format!("{}/faults/one@{one}", reg.host()),
        format!("{}/faults/two@{two}", reg.host()),
    ];
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    let token = stack.email_token(EMAIL);
    let via = |sc: &Path, sub: &str, extra: &[&str]| {
        run(cmd()
            .arg(sub)
            .arg("--identity-token")
            .arg(&token)
            .arg("--signing-config")
            .arg(sc)
            .arg("--trusted-root")
            .arg(stack.trusted_root())
            .args(extra)
            .args(&images))
    };
    // Fulcio down: exit 3, named.
    let sc = signing_config_with(&stack, "caUrls", "http://127.0.0.1:9", d);
    for format in ["bundle", "legacy"] {
        let r = via(&sc, "sign", &["--format", format]).code(3);
        assert!(r.stderr.contains("Fulcio at http://127.0.0.1:9"), "{r:#?}");
    }
    // Fulcio certifying another identity (a proxy hands it mallory's token): exit 1.
    let mallory = stack.email_token("mallory@example.test");
    let swap: Rewrite = Arc::new(move |b: &[u8]| {
        let mut v: Value = serde_json::from_slice(b).unwrap();
        v["credentials"]["oidcIdentityToken"] = mallory.clone().into();
        v.to_string().into_bytes()
    });
    let proxy = lying_proxy(stack.fulcio_url(), swap, Arc::new(|b: &[u8]| b.to_vec()));
    let sc = signing_config_with(&stack, "caUrls", &proxy, d);
    let r = via(&sc, "sign", &[]).code(1);
    assert!(
        r.stderr.contains("Fulcio at") && r.stderr.contains("mallory@example.test"),
        "{r:#?}"
    );
    // Rekor answers the first entry and is down from the second: nothing is attached, not
    // even the first image's signature.
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = count.clone();
    let second_fails: Rewrite = Arc::new(move |b: &[u8]| {
        if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            b.to_vec()
        } else {
            b"not json".to_vec()
        }
    });
    let proxy = lying_proxy(
        stack.rekor_url(),
        second_fails,
        Arc::new(|b: &[u8]| b.to_vec()),
    );
    let sc = signing_config_with(&stack, "rekorTlogUrls", &proxy, d);
    let r = via(&sc, "sign", &["--format", "legacy"]).code(1);
    assert!(r.stderr.contains("Rekor at"), "{r:#?}");
    let sc = signing_config_with(&stack, "rekorTlogUrls", "http://127.0.0.1:9", d);
    let pred = d.join("p.json");
    std::fs::write(&pred, b"{}").unwrap();
    let r = run(cmd()
        .arg("attest")
        .arg("--identity-token")
        .arg(&token)
        .arg("--signing-config")
        .arg(&sc)
        .arg("--trusted-root")
        .arg(stack.trusted_root())
        .arg("--predicate")
        .arg(&pred)
        .arg(images[0]))
    .code(3);
    assert!(r.stderr.contains("Rekor at http://127.0.0.1:9"), "{r:#?}");
    for image in &images {
        assert_nothing_attached(image);
    }
    // A key and keyless flags together: a usage error.
    let r = run(cmd()
        .args(["sign", "--key", "vouch.key", "--identity-token", "x"])
        .arg(images[0]))
    .code(2);
    assert!(r.stderr.contains("keyless"), "{r:#?}");
}

/// With a signing config that lists a Rekor v2 log (before v1), bundle referrers are logged to
/// Rekor v2 (a `hashedrekord` 0.0.2 entry of the statement's PAE, as cosign 3 and
/// sigstore-python log DSSE there) and verify; legacy layers keep to the config's Rekor v1 log
/// (cosign's `bundle` annotation carries a v1 signed entry timestamp), and a config whose only
/// log is v2 is refused for them up front (exit 2, nothing attached).
#[test]
fn keyless_images_with_rekor_v2() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let token = stack.email_token(EMAIL);
    let sign_v2 = |extra: &[&str], image: &str, config: &Path| -> Run {
        run(cmd()
            .arg("sign")
            .arg("--identity-token")
            .arg(&token)
            .arg("--signing-config")
            .arg(config)
            .arg("--trusted-root")
            .arg(stack.trusted_root())
            .args(extra)
            .arg(image))
    };
    // Bundle referrer → Rekor v2.
    let layout = d.join("layout-v2");
    let ld = layout_image(&layout, "v1");
    let image = format!("oci:{}@{ld}", layout.display());
    sign_v2(&[], &image, &stack.signing_config_v2()).ok();
    verify_image(&stack, d, &image);
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let bundles = find_bundles(&layout, &out);
    assert_eq!(bundles.len(), 1);
    let entry = &bundles[0].1["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord", "{entry:#}");
    assert_eq!(entry["kindVersion"]["version"], "0.0.2", "{entry:#}");
    assert!(entry.get("inclusionPromise").is_none_or(Value::is_null));
    // Legacy layers with the same config → its Rekor v1 log, with a SET.
    let legacy = d.join("layout-legacy");
    let ld = layout_image(&legacy, "v1");
    let image = format!("oci:{}@{ld}", legacy.display());
    sign_v2(&["--format", "legacy"], &image, &stack.signing_config_v2()).ok();
    verify_image(&stack, d, &image);
    assert_cosign_annotations(&legacy, "hashedrekord", None);
    // A config with only the v2 log: legacy is refused before anything is signed.
    let mut sc: Value =
        serde_json::from_slice(&std::fs::read(stack.signing_config_v2()).unwrap()).unwrap();
    sc["rekorTlogUrls"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["majorApiVersion"] == 2);
    assert_eq!(sc["rekorTlogUrls"].as_array().unwrap().len(), 1, "{sc:#}");
    let only_v2 = d.join("signing-config-only-v2.json");
    std::fs::write(&only_v2, sc.to_string()).unwrap();
    let other = d.join("layout-refused");
    let ld = layout_image(&other, "v1");
    let image = format!("oci:{}@{ld}", other.display());
    let r = sign_v2(&["--format", "legacy"], &image, &only_v2).code(2);
    assert!(
        r.stderr.contains("Rekor v1") && r.stderr.contains("bundle format"),
        "{r:#?}"
    );
    assert_nothing_attached(&image);
}
