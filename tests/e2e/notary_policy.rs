//! Issue 19: one policy for both signing worlds. An image in a real docker-registry signed with
//! a cosign key (`vouch sign`) and with a Notary Project signature (made by the independent
//! producer keys-test/notary_sign.py, attached as notation does: a referrer of artifact type
//! `application/vnd.cncf.notary.signature`, through the fallback tag on distribution); policies
//! with a `notation` authority alone and in a 2-of-2 threshold with the key; a trust store that
//! does not hold the signer; an image with only the cosign signature; `vouch promote` by a
//! notation-only policy, and the verdict again at the destination; `vouch serve` (the admission
//! webhook) by a notation-only policy.

use std::fs;
use std::path::Path;

use serde_json::Value;
use vouch_core::oci::Target;
use vouch_core::oci::manifest::{Descriptor, OCI_MANIFEST};

use crate::notary::{SIGNER, attach, attach_to, image, produce, store};
use crate::support::image::{client, image_parts, layout_image, push_image, registry_ref};
use crate::support::registry::Registry;
use crate::support::tls::make_certs;
use crate::support::{Run, vouch_in};
use crate::webhook::{Server, admission, https, pod, review};

fn judge(dir: &Path, policy: &str, image: &str) -> (Run, Value) {
    let out = vouch_in(
        dir,
        None,
        ["verify", "--policy", policy, "--output", "json", image],
    );
    assert!(out.code == 0 || out.code == 1, "{out:#?}");
    let doc: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"));
    assert_eq!(doc["allowed"] == true, out.code == 0, "{out:#?}");
    (out, doc)
}

fn failures(doc: &Value) -> Vec<String> {
    doc["images"][0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

fn check<'a>(doc: &'a Value, code: &str) -> &'a Value {
    doc["images"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no check {code} in {doc:#}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    fs::write(dir.join(name), text).unwrap();
    name.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_mixes_cosign_keys_and_notary_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let (reg, dst_reg) = (Registry::start(), Registry::start());
    let (host, dst_host) = (reg.host(), dst_reg.host());
    let c = client();
    let digest = push_image(&c, &host, "np/app", "v1").await;
    push_image(&c, &host, "np/cosign-only", "v1").await;
    let (_, _, manifest) = image_parts(&format!("{host}/np/app:v1"));
    let subject = Descriptor::of(OCI_MANIFEST, &manifest);
    assert_eq!(subject.digest, digest);
    let (root, envelope) = produce(&dir, &subject);
    let target = Target::registry(c.clone(), &registry_ref(&host, "np/app"));
    attach_to(&target, &subject, &envelope).await;
    store(&dir, "store", &root);
    let (other_root, _) = produce(&dir.join("other"), &subject);
    store(&dir, "other-store", &other_root);

    let d = dir.clone();
    tokio::task::spawn_blocking(move || {
        let dir = d.as_path();
        vouch_in(dir, Some("pw"), ["generate-key-pair", "--output-key-prefix", "release"]).ok();
        let app = format!("{host}/np/app:v1");
        let cosign_only = format!("{host}/np/cosign-only:v1");
        for image in [&app, &cosign_only] {
            vouch_in(dir, Some("pw"), ["sign", "--key", "release.key", image]).ok();
        }
        // The trust policy document notation users already have (paths beside the policy).
        write(
            dir,
            "trustpolicy.json",
            &format!(
                r#"{{"version":"1.0","trustPolicies":[{{"name":"acme","registryScopes":["*"],
                "signatureVerification":{{"level":"strict"}},"trustStores":["ca:e2e"],
                "trustedIdentities":["x509.subject:{SIGNER}"]}}]}}"#
            ),
        );
        let head = "version: 1\nimages:\n  - match: \"127.0.0.1:*/**\"\n    signatures:\n";
        // (a) Notary alone, by the trust policy file.
        let notation_only = write(
            dir,
            "notation-only.yaml",
            &format!(
                "{head}      authorities:\n        - name: acme notary\n          notation:\n            trustStore: store\n            trustPolicy: trustpolicy.json\n"
            ),
        );
        let (_, doc) = judge(dir, &notation_only, &app);
        assert_eq!(doc["allowed"], true, "{doc:#}");
        let c = check(&doc, "notation.untrusted");
        assert_eq!(c["status"], "pass", "{doc:#}");
        assert!(
            c["found"].as_str().unwrap().contains("CN=vouch notary signer"),
            "{doc:#}"
        );
        // (b) 2 of {key, notation}, the statement inline.
        let inline = format!(
            "          notation:\n            trustStore: {{STORE}}\n            trustStores: [\"ca:e2e\"]\n            trustedIdentities: [\"x509.subject: {SIGNER}\"]\n"
        );
        let both = write(
            dir,
            "both.yaml",
            &format!(
                "{head}      threshold: 2\n      authorities:\n        - key: release.pub\n        - name: acme notary\n{}",
                inline.replace("{STORE}", "store")
            ),
        );
        let (_, doc) = judge(dir, &both, &app);
        assert_eq!(doc["allowed"], true, "{doc:#}");
        let found = check(&doc, "signature.threshold-not-met")["found"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            found.starts_with("2 authority(ies)") && found.contains("acme notary"),
            "{doc:#}"
        );
        // (c) A trust store without the signer's root: denied, untrusted.
        let untrusted = write(
            dir,
            "untrusted.yaml",
            &format!(
                "{head}      authorities:\n        - name: acme notary\n{}",
                inline.replace("{STORE}", "other-store")
            ),
        );
        let (out, doc) = judge(dir, &untrusted, &app);
        assert_eq!(out.code, 1);
        assert!(
            failures(&doc).contains(&"notation.untrusted".to_owned()),
            "{doc:#}"
        );
        let c = check(&doc, "notation.untrusted");
        assert_eq!(c["status"], "fail");
        assert!(
            c["details"][0].as_str().unwrap().contains("authenticity"),
            "{doc:#}"
        );
        // The key alone would do for this image; the notation authority is what fails.
        let (_, doc) = judge(dir, &both, &cosign_only);
        // (d) 2 of {key, notation} with only the cosign signature: denied, the Notary one missing.
        assert_eq!(doc["allowed"], false, "{doc:#}");
        let f = failures(&doc);
        assert!(
            f.contains(&"signature.threshold-not-met".to_owned())
                && f.contains(&"notation.signature-missing".to_owned()),
            "{doc:#}"
        );
        // And without a notation authority no Notary signature is looked for: the key alone.
        let key_only = write(
            dir,
            "key-only.yaml",
            &format!("{head}      authorities: [{{key: release.pub}}]\n"),
        );
        let (_, doc) = judge(dir, &key_only, &cosign_only);
        assert_eq!(doc["allowed"], true, "{doc:#}");

        // `vouch promote` by the notation-only policy: denied for the cosign-only image…
        let dst = format!("{dst_host}/prod/app:v1");
        let out = vouch_in(
            dir,
            None,
            ["promote", "--policy", &notation_only, &cosign_only, &dst],
        )
        .code(1);
        assert!(
            out.stderr.contains("notation.signature-missing"),
            "{}",
            out.stderr
        );
        // …copied for the Notary-signed one, its signature with it: the same verdict at the
        // destination, and notation's own check there.
        let out = vouch_in(
            dir,
            None,
            ["promote", "--policy", &notation_only, &app, &dst],
        )
        .ok();
        assert!(out.stderr.contains("Promoted"), "{}", out.stderr);
        let (_, doc) = judge(dir, &notation_only, &dst);
        assert_eq!(doc["allowed"], true, "{doc:#}");
        assert_eq!(doc["images"][0]["digest"], digest.to_string());
        vouch_in(
            dir,
            None,
            [
                "verify",
                "--notation-trust-policy",
                "trustpolicy.json",
                "--notation-trust-store",
                "store",
                &dst,
            ],
        )
        .ok();
    })
    .await
    .unwrap();
}

/// In an OCI layout (`notation sign --oci-layout` / a referrer in index.json): the same
/// authority, an image of the layout without a Notary signature denied as missing.
#[tokio::test]
async fn a_notation_authority_in_an_oci_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let subject = image(dir);
    let (root, envelope) = produce(dir, &subject);
    attach(&dir.join("layout"), &subject, &envelope).await;
    store(dir, "store", &root);
    layout_image(&dir.join("layout"), "v2");
    let policy = write(
        dir,
        "p.yaml",
        &format!(
            "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities:\n        - notation: {{trustStore: store, trustStores: [\"ca:e2e\"], trustedIdentities: [\"x509.subject: {SIGNER}\"]}}\n"
        ),
    );
    let layout = dir.join("layout").display().to_string();
    let (_, doc) = judge(dir, &policy, &format!("oci:{layout}:v1"));
    assert_eq!(doc["allowed"], true, "{doc:#}");
    assert_eq!(doc["images"][0]["digest"], subject.digest.to_string());
    let (out, doc) = judge(dir, &policy, &format!("oci:{layout}:v2"));
    assert_eq!(out.code, 1);
    let f = failures(&doc);
    assert!(
        f.contains(&"notation.signature-missing".to_owned())
            && f.contains(&"signature.none-valid".to_owned()),
        "{doc:#}"
    );
    // The text report explains it.
    let out = vouch_in(
        dir,
        None,
        ["verify", "--policy", &policy, &format!("oci:{layout}:v2")],
    )
    .code(1);
    assert!(
        out.stderr.contains("[notation.signature-missing]")
            && out.stderr.contains("no Notary Project signature"),
        "{}",
        out.stderr
    );
}

/// `vouch serve` (the admission webhook) by a notation-only policy, the images in a real
/// docker-registry: a Pod of the Notary-signed image is admitted; a Pod of an image signed only
/// with a cosign key is denied, the reason `notation.signature-missing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_honours_a_notation_authority() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let reg = Registry::start();
    let host = reg.host();
    let c = client();
    push_image(&c, &host, "np/app", "v1").await;
    push_image(&c, &host, "np/cosign-only", "v1").await;
    let (_, _, manifest) = image_parts(&format!("{host}/np/app:v1"));
    let subject = Descriptor::of(OCI_MANIFEST, &manifest);
    let (root, envelope) = produce(&dir, &subject);
    let target = Target::registry(c.clone(), &registry_ref(&host, "np/app"));
    attach_to(&target, &subject, &envelope).await;
    store(&dir, "store", &root);
    let app = format!("{host}/np/app:v1");
    let cosign_only = format!("{host}/np/cosign-only:v1");

    let server = tokio::task::spawn_blocking({
        let (dir, cosign_only) = (dir.clone(), cosign_only.clone());
        move || {
            let dir = dir.as_path();
            vouch_in(dir, Some("pw"), ["generate-key-pair", "--output-key-prefix", "release"]).ok();
            vouch_in(dir, Some("pw"), ["sign", "--key", "release.key", &cosign_only]).ok();
            make_certs(dir, "one");
            fs::copy(dir.join("one.crt"), dir.join("tls.crt")).unwrap();
            fs::copy(dir.join("one.key"), dir.join("tls.key")).unwrap();
            write(
                dir,
                "policy.yaml",
                &format!(
                    "version: 1\nimages:\n  - match: \"127.0.0.1:*/**\"\n    signatures:\n      authorities:\n        - name: acme notary\n          notation:\n            trustStore: store\n            trustStores: [\"ca:e2e\"]\n            trustedIdentities: [\"x509.subject: {SIGNER}\"]\ndefault: deny\n"
                ),
            );
            Server::start(dir, &[])
        }
    })
    .await
    .unwrap();
    let https = https(&dir.join("one-ca.pem"));
    let validate = format!("{}/validate", server.url);

    let r = review(
        &https,
        &validate,
        &admission("uid-notary", "prod", "Pod", pod(&[&app], &[])),
    )
    .await;
    assert_eq!(r["response"]["uid"], "uid-notary");
    assert_eq!(r["response"]["allowed"], true, "{r}");

    let r = review(
        &https,
        &validate,
        &admission("uid-cosign", "prod", "Pod", pod(&[&cosign_only], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert_eq!(r["response"]["status"]["code"], 403);
    let msg = r["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("{cosign_only} (sha256:"))
            && msg.contains("notation.signature-missing"),
        "{msg}"
    );
}
