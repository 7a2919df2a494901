//! Issue 19: revocation of Notary Project signatures checked against CRLs the verifier supplies.
//! The independent producer (keys-test/notary_sign.py --crls, Python `cryptography`) makes a
//! leaf → intermediate → root chain, a JWS envelope for the image and CRLs (empty, revoking
//! the leaf, revoking the intermediate, expired, signed by another key); the envelope is
//! attached as notation does to an image in a real docker-registry (and in an OCI layout), and
//! `vouch verify` judges it through `--notation-trust-policy … --notation-crl …` and through a
//! vouch policy whose `notation` authority lists `crls:`.

use std::fs;
use std::path::Path;

use serde_json::Value;
use vouch_core::oci::Target;
use vouch_core::oci::manifest::{Descriptor, OCI_MANIFEST};

use crate::notary::{SIGNER, attach, image, store};
use crate::support::image::{client, image_parts, push_image, registry_ref};
use crate::support::notary::{attach_to, produce_with_crls};
use crate::support::registry::Registry;
use crate::support::{Run, vouch_in};

fn trust_policy(dir: &Path, name: &str, level: &str) -> String {
    fs::write(
        dir.join(name),
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"crl-e2e","registryScopes":["*"],
            "signatureVerification":{{"level":"{level}"}},"trustStores":["ca:e2e"],
            "trustedIdentities":["x509.subject:{SIGNER}"]}}]}}"#
        ),
    )
    .unwrap();
    name.to_owned()
}

/// `vouch verify --notation-trust-policy POLICY --notation-trust-store store
/// [--notation-crl crl/F]… --output json IMAGE`.
fn verify(dir: &Path, policy: &str, crls: &[&str], image: &str) -> Run {
    let mut args: Vec<String> = vec![
        "verify".into(),
        "--notation-trust-policy".into(),
        policy.into(),
        "--notation-trust-store".into(),
        "store".into(),
        "--output".into(),
        "json".into(),
    ];
    for c in crls {
        args.push("--notation-crl".into());
        args.push(format!("producer-crl/crl/{c}"));
    }
    args.push(image.into());
    vouch_in(dir, None, args)
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notation_crls_through_the_trust_policy_and_a_vouch_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let reg = Registry::start();
    let host = reg.host();
    let c = client();
    push_image(&c, &host, "crl/app", "v1").await;
    let (_, _, manifest) = image_parts(&format!("{host}/crl/app:v1"));
    let subject = Descriptor::of(OCI_MANIFEST, &manifest);
    let (root, envelope, _, leaf_serial) = produce_with_crls(&dir, &subject);
    let target = Target::registry(c.clone(), &registry_ref(&host, "crl/app"));
    attach_to(&target, &subject, &envelope).await;
    store(&dir, "store", &root);

    let d = dir.clone();
    tokio::task::spawn_blocking(move || {
        let dir = d.as_path();
        let app = format!("{host}/crl/app:v1");
        let strict = trust_policy(dir, "strict.json", "strict");
        let permissive = trust_policy(dir, "permissive.json", "permissive");

        // CRLs that revoke nothing: verified, revocation checked.
        let r = verify(dir, &strict, &["int-empty.crl", "root-empty.crl"], &app).ok();
        let doc = json(&r);
        assert_eq!(doc[0]["verified"], true, "{doc:#}");
        let sig = &doc[0]["notarySignatures"][0];
        assert_eq!(sig["revocationChecked"], true, "{doc:#}");
        assert!(
            sig["logged"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["check"] != "revocation"),
            "{doc:#}"
        );

        // Without CRLs: verified, revocation reported as not checked.
        let r = verify(dir, &strict, &[], &app).ok();
        let doc = json(&r);
        let sig = &doc[0]["notarySignatures"][0];
        assert_eq!(sig["revocationChecked"], false, "{doc:#}");
        assert!(
            sig["logged"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["check"] == "revocation" && l["revocation"]["status"] == "not checked"),
            "{doc:#}"
        );

        // The leaf revoked (the CRL in PEM): strict fails, naming the certificate and serial.
        let r = verify(dir, &strict, &["int-revokes-leaf.pem", "root-empty.crl"], &app).code(1);
        let doc = json(&r);
        let f = &doc[0]["failures"][0];
        assert_eq!(f["check"], "revocation", "{doc:#}");
        assert_eq!(f["revocation"]["status"], "revoked", "{doc:#}");
        assert_eq!(f["revocation"]["serial"], leaf_serial.as_str(), "{doc:#}");
        assert_eq!(f["revocation"]["reasonCode"], "keyCompromise", "{doc:#}");
        assert!(
            f["revocation"]["subject"]
                .as_str()
                .unwrap()
                .contains("CN=vouch notary signer"),
            "{doc:#}"
        );
        assert!(
            r.stderr.contains("revocation verification failed: signing certificate with subject")
                && r.stderr.contains("is revoked"),
            "{}",
            r.stderr
        );
        // The intermediate revoked by the root's CRL.
        let r = verify(dir, &strict, &["int-empty.crl", "root-revokes-int.crl"], &app).code(1);
        let doc = json(&r);
        let f = &doc[0]["failures"][0];
        assert_eq!(f["revocation"]["reasonCode"], "cACompromise", "{doc:#}");
        assert!(
            f["revocation"]["subject"]
                .as_str()
                .unwrap()
                .contains("intermediate"),
            "{doc:#}"
        );
        // permissive: revoked is logged, the signature verifies.
        let r = verify(dir, &permissive, &["int-revokes-leaf.crl", "root-empty.crl"], &app).ok();
        let doc = json(&r);
        let logged = &doc[0]["notarySignatures"][0]["logged"];
        assert!(
            logged
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["check"] == "revocation" && l["revocation"]["status"] == "revoked"),
            "{doc:#}"
        );

        // Unknown under strict: an expired CRL, a CRL signed by another key, no CRL for the
        // root's certificates (the intermediate names a distribution point).
        for (crls, why) in [
            (&["int-expired.crl", "root-empty.crl"][..], "expired CRL"),
            (&["int-wrong-key.crl", "root-empty.crl"][..], "is not signed by CA"),
            (&["int-empty.crl"][..], "no CRL was supplied"),
        ] {
            let r = verify(dir, &strict, crls, &app).code(1);
            let doc = json(&r);
            let f = &doc[0]["failures"][0];
            assert_eq!(f["revocation"]["status"], "unknown", "{crls:?} {doc:#}");
            assert!(
                f["revocation"]["why"].as_str().unwrap().contains(why),
                "{crls:?} {doc:#}"
            );
            assert!(
                r.stderr.contains("revocation status is unknown"),
                "{}",
                r.stderr
            );
        }

        // Not a CRL: an input error.
        let r = vouch_in(
            dir,
            None,
            [
                "verify",
                "--notation-trust-policy",
                &strict,
                "--notation-trust-store",
                "store",
                "--notation-crl",
                "producer-crl/root.pem",
                &app,
            ],
        )
        .code(2);
        assert!(r.stderr.contains("not X509 CRL"), "{}", r.stderr);

        // A vouch policy: the notation authority with `crls:` (relative to the policy).
        let head = "version: 1\nimages:\n  - match: \"127.0.0.1:*/**\"\n    signatures:\n      authorities:\n        - name: acme notary\n          notation:\n            trustStore: store\n            trustStores: [\"ca:e2e\"]\n";
        let policy = |name: &str, extra: &str, crls: &[&str]| {
            let list: Vec<String> = crls
                .iter()
                .map(|c| format!("producer-crl/crl/{c}"))
                .collect();
            fs::write(
                dir.join(name),
                format!(
                    "{head}            trustedIdentities: [\"x509.subject: {SIGNER}\"]\n{extra}            crls: [{}]\n",
                    list.join(", ")
                ),
            )
            .unwrap();
            name.to_owned()
        };
        let judge = |p: &str| {
            let out = vouch_in(dir, None, ["verify", "--policy", p, "--output", "json", &app]);
            assert!(out.code == 0 || out.code == 1, "{out:#?}");
            let doc = json(&out);
            assert_eq!(doc["allowed"] == true, out.code == 0, "{out:#?}");
            doc
        };
        let failures = |doc: &Value| -> Vec<String> {
            doc["images"][0]["failures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect()
        };
        let check = |doc: &Value, code: &str| -> Value {
            doc["images"][0]["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["code"] == code)
                .cloned()
                .unwrap_or_else(|| panic!("no check {code} in {doc:#}"))
        };
        let good = policy("good.yaml", "", &["int-empty.crl", "root-empty.crl"]);
        let doc = judge(&good);
        assert_eq!(doc["allowed"], true, "{doc:#}");
        let revoked = policy(
            "revoked.yaml",
            "",
            &["int-revokes-leaf.crl", "root-empty.crl"],
        );
        let doc = judge(&revoked);
        assert_eq!(doc["allowed"], false, "{doc:#}");
        assert!(
            failures(&doc).contains(&"notation.revoked".to_owned()),
            "{doc:#}"
        );
        let c = check(&doc, "notation.revoked");
        assert_eq!(c["status"], "fail");
        let detail = c["details"][0].as_str().unwrap();
        assert!(
            detail.contains("is revoked") && detail.contains(&leaf_serial),
            "{doc:#}"
        );
        // The override logs it: allowed.
        let logged = policy(
            "logged.yaml",
            "            override: {revocation: log}\n",
            &["int-revokes-leaf.crl", "root-empty.crl"],
        );
        assert_eq!(judge(&logged)["allowed"], true);
        // Unknown (expired CRL): untrusted, the detail says why.
        let expired = policy("expired.yaml", "", &["int-expired.crl", "root-empty.crl"]);
        let doc = judge(&expired);
        assert!(
            failures(&doc).contains(&"notation.untrusted".to_owned()),
            "{doc:#}"
        );
        let c = check(&doc, "notation.untrusted");
        let detail = c["details"][0].as_str().unwrap();
        assert!(
            detail.contains("revocation status is unknown") && detail.contains("expired CRL"),
            "{doc:#}"
        );
        // A CRL file that is not one: the policy does not load (input error, its line).
        let bad = policy("bad.yaml", "", &["../root.pem"]);
        let r = vouch_in(dir, None, ["verify", "--policy", &bad, &app]).code(2);
        assert!(
            r.stderr.contains("notation.crls[0]") && r.stderr.contains("not X509 CRL"),
            "{}",
            r.stderr
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn notation_crl_in_an_oci_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let subject = image(dir);
    let (root, envelope, _, _) = produce_with_crls(dir, &subject);
    attach(&dir.join("layout"), &subject, &envelope).await;
    store(dir, "store", &root);
    let strict = trust_policy(dir, "strict.json", "strict");
    let image = format!("oci:{}:v1", dir.join("layout").display());
    verify(dir, &strict, &["int-empty.crl", "root-empty.crl"], &image).ok();
    let r = verify(
        dir,
        &strict,
        &["int-empty.crl", "root-revokes-int.crl"],
        &image,
    )
    .code(1);
    assert_eq!(
        json(&r)[0]["failures"][0]["revocation"]["status"],
        "revoked"
    );
}
