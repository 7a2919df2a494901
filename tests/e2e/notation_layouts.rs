//! Issue 19: signatures `notation` itself made, in the OCI layouts of notation's own e2e tests
//! (tests/data/notation-e2e, copied from notaryproject/notation: see its README), with the
//! trust policies and certificates those tests use. Each verdict is the one notation's e2e
//! suite asserts (test/e2e/suite/trustpolicy/verification_level.go, trust_store.go,
//! command/inspect.go, list.go), its message quoted; where vouch's verdict differs, the test
//! says so and why. Then one layout pushed into a real docker-registry (by `vouch promote`
//! under a notation-only policy) and verified there.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::registry::Registry;
use crate::support::{Run, vouch_in, workspace};

/// The subject image of every layout (`v1`), as notation's tests name it.
const SUBJECT: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

fn data() -> PathBuf {
    workspace().join("tests/data/notation-e2e")
}

fn policy(name: &str) -> String {
    data()
        .join("trustpolicies")
        .join(name)
        .display()
        .to_string()
}

/// A trust store `dir/name` with `ca/e2e` holding `ca` (PEM) and, if given, `tsa/e2e` `tsa`.
fn store(dir: &Path, name: &str, ca: &[u8], tsa: Option<&[u8]>) -> String {
    let s = dir.join(name);
    std::fs::create_dir_all(s.join("x509/ca/e2e")).unwrap();
    std::fs::write(s.join("x509/ca/e2e/cert.pem"), ca).unwrap();
    if let Some(tsa) = tsa {
        std::fs::create_dir_all(s.join("x509/tsa/e2e")).unwrap();
        std::fs::write(s.join("x509/tsa/e2e/cert.pem"), tsa).unwrap();
    }
    s.display().to_string()
}

/// notation's e2e certificates (test/e2e/testdata/config/localkeys).
fn localkey(name: &str) -> Vec<u8> {
    std::fs::read(data().join("localkeys").join(name)).unwrap()
}

fn layout(name: &str) -> String {
    format!("oci:{}:v1", data().join("oci_layout").join(name).display())
}

/// `vouch verify --notation-trust-policy P --notation-trust-store S --output json IMAGE`:
/// the run and its report for the one image.
fn verify(dir: &Path, policy: &str, store: &str, image: &str) -> (Run, Value) {
    let r = vouch_in(
        dir,
        None,
        [
            "verify",
            "--notation-trust-policy",
            policy,
            "--notation-trust-store",
            store,
            "--output",
            "json",
            image,
        ],
    );
    assert!(r.code == 0 || r.code == 1, "{r:#?}");
    let doc: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:#?}"));
    let doc = doc[0].clone();
    assert_eq!(doc["verified"] == true, r.code == 0, "{r:#?}");
    (r, doc)
}

/// The checks a verified signature logged, but revocation (what vouch logs of it depends on
/// whether the certificates name a CRL or OCSP responder, which these do not; its own tests
/// are elsewhere).
fn logged(sig: &Value) -> Vec<&str> {
    sig["logged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["check"].as_str().unwrap())
        .filter(|c| *c != "revocation")
        .collect()
}

/// Passes, every signature that verified having logged exactly `logged` (check names).
#[track_caller]
fn passes(dir: &Path, policy: &str, store: &str, image: &str, checks: &[&str]) -> Value {
    let (r, doc) = verify(dir, policy, store, image);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(doc["digest"], SUBJECT, "{doc:#}");
    for sig in doc["notarySignatures"].as_array().unwrap() {
        assert_eq!(logged(sig), checks, "{doc:#}");
    }
    doc
}

/// Fails, the (one) signature's reason containing every one of `words`.
#[track_caller]
fn fails(dir: &Path, policy: &str, store: &str, image: &str, words: &[&str]) -> String {
    let (r, doc) = verify(dir, policy, store, image);
    assert_eq!(r.code, 1, "{r:#?}");
    let reason = doc["failures"][0]["reason"].as_str().unwrap().to_owned();
    for w in words {
        assert!(reason.contains(w), "{w:?} not in {reason:?}");
    }
    reason
}

fn tree(dir: &Path, image: &str) -> Value {
    let r = vouch_in(dir, None, ["tree", "--output", "json", image]).ok();
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    doc["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "notary signatures")
        .unwrap()["entries"]
        .clone()
}

/// `e2e-valid-signature` (signed by notation with localkeys/e2e.crt): verifies with that
/// certificate; another one (new_e2e.crt) fails authenticity at strict and permissive and is
/// only logged at audit and when overridden (notation: "authenticity validation failed";
/// audit: `Warning: authenticity was set to "log"`, "the signature's certificate chain does
/// not contain any trusted certificate").
#[test]
fn notations_valid_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = store(dir, "good", &localkey("e2e.crt"), None);
    let other = store(dir, "other", &localkey("new_e2e.crt"), None);
    let image = layout("e2e-valid-signature");

    let doc = passes(dir, &policy("trustpolicy.json"), &good, &image, &[]);
    let sig = &doc["notarySignatures"][0];
    assert_eq!(
        sig["referrer"],
        "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f"
    );
    assert_eq!(sig["signer"], "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US");
    assert_eq!(sig["signingScheme"], "notary.x509");

    for p in ["trustpolicy.json", "permissive_trustpolicy.json"] {
        fails(
            dir,
            &policy(p),
            &other,
            &image,
            &[
                "authenticity",
                "the signature's certificate chain does not contain any trusted certificate",
            ],
        );
    }
    for p in ["audit_trustpolicy.json", "override_strict_trustpolicy.json"] {
        passes(dir, &policy(p), &other, &image, &["authenticity"]);
    }
    // The trust store holding both certificates (trust_store.go: multiple certificates).
    let both = store(dir, "both", &localkey("new_e2e.crt"), None);
    std::fs::write(
        Path::new(&both).join("x509/ca/e2e/e2e.crt"),
        localkey("e2e.crt"),
    )
    .unwrap();
    passes(dir, &policy("trustpolicy.json"), &both, &image, &[]);

    // list.go: `notation list` shows the one signature; so does `vouch tree`.
    let entries = tree(dir, &image);
    assert_eq!(entries.as_array().unwrap().len(), 1, "{entries:#}");
    assert_eq!(
        entries[0]["digest"],
        "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f"
    );
}

/// `e2e-invalid-signature`: the signature manifest's one layer is a text file
/// (`application/vnd.oci.image.layer.v1.tar`, "invalid signature"). notation: "integrity
/// validation failed" at strict, permissive and audit. vouch fails it at every level too; its
/// message names the layer's media type (notation reports the envelope it cannot parse as an
/// integrity failure; vouch refuses the layer before parsing, as not an envelope).
/// notation's `skip` level passes without verifying ("Trust policy is configured to skip
/// signature verification"); vouch refuses `skip` (it verifies nothing): a deliberate
/// difference (docs/policy.md).
#[test]
fn notations_invalid_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = store(dir, "good", &localkey("e2e.crt"), None);
    let image = layout("e2e-invalid-signature");
    for p in [
        "trustpolicy.json",
        "permissive_trustpolicy.json",
        "audit_trustpolicy.json",
    ] {
        fails(
            dir,
            &policy(p),
            &good,
            &image,
            &[
                "application/vnd.oci.image.layer.v1.tar",
                "not a Notary Project envelope",
            ],
        );
    }
    let r = vouch_in(
        dir,
        None,
        [
            "verify",
            "--notation-trust-policy",
            &policy("skip_trustpolicy.json"),
            "--notation-trust-store",
            &good,
            &layout("e2e-valid-signature"),
        ],
    )
    .code(1);
    assert!(
        r.stderr.contains("skips signature verification"),
        "{}",
        r.stderr
    );
}

/// `e2e-expired-signature` (its `io.cncf.notary.expiry` in 2023): notation: "expiry
/// validation failed" at strict and when permissive's expiry is enforced; logged ("digital
/// signature has expired", `expiry was set to "log"`) at permissive, audit and when strict's
/// is overridden.
#[test]
fn notations_expired_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = store(dir, "good", &localkey("e2e.crt"), None);
    let image = layout("e2e-expired-signature");
    fails(
        dir,
        &policy("trustpolicy.json"),
        &good,
        &image,
        &["expiry", "digital signature has expired"],
    );
    for p in [
        "permissive_trustpolicy.json",
        "audit_trustpolicy.json",
        "override_strict_trustpolicy.json",
    ] {
        let doc = passes(dir, &policy(p), &good, &image, &["expiry"]);
        let expiry = doc["notarySignatures"][0]["logged"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["check"] == "expiry")
            .unwrap();
        assert!(
            expiry["error"]
                .as_str()
                .unwrap()
                .contains("digital signature has expired"),
            "{expiry}"
        );
    }
}

/// `e2e-with-expired-cert`, signed with localkeys/expired_e2e.crt (valid one day in June
/// 2023), no timestamp: notation: "authenticTimestamp validation failed" at strict; logged at
/// permissive, audit and when overridden (`Warning: authenticTimestamp was set to "log"`,
/// "... it was expired at Tue, 27 Jun 2023 06:10:00 +0000").
#[test]
fn notations_signature_with_an_expired_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let expired = store(dir, "expired", &localkey("expired_e2e.crt"), None);
    let image = layout("e2e-with-expired-cert");
    fails(
        dir,
        &policy("trustpolicy.json"),
        &expired,
        &image,
        &[
            "authenticTimestamp",
            "C=AU,ST=Some-State,O=Internet Widgits Pty Ltd",
            "valid from 1687759800 to 1687846200",
        ],
    );
    for p in [
        "permissive_trustpolicy.json",
        "audit_trustpolicy.json",
        "override_strict_trustpolicy.json",
    ] {
        passes(dir, &policy(p), &expired, &image, &["authenticTimestamp"]);
    }
}

/// `e2e-valid-multiple-signatures`: two notation signatures, one by e2e.crt, one by another
/// key: notation verifies the image (one valid signature is enough); `vouch tree` lists both.
#[test]
fn notations_two_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = store(dir, "good", &localkey("e2e.crt"), None);
    let image = layout("e2e-valid-multiple-signatures");
    let doc = passes(dir, &policy("trustpolicy.json"), &good, &image, &[]);
    assert_eq!(doc["notarySignatures"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["failures"][0]["referrer"],
        "sha256:c3ebe4a20b6832328fc5078a7795ddc1114b896e13fca2add38109c3866b5fbf"
    );
    let entries = tree(dir, &image);
    assert_eq!(entries.as_array().unwrap().len(), 2, "{entries:#}");
    // The unsigned layout `e2e`: nothing to verify ("has no associated signature").
    let (r, _) = verify(dir, &policy("trustpolicy.json"), &good, &layout("e2e"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no Notary Project signatures found"),
        "{}",
        r.stderr
    );
    assert!(tree(dir, &layout("e2e")).as_array().unwrap().is_empty());
}

/// The self-signed signing certificate a layout's envelope carries (notation's e2e used its
/// own testcert7; its trust store is not in notation's repository), as PEM.
fn envelope_certificate(layout_name: &str, envelope_digest: &str) -> Vec<u8> {
    use base64::Engine as _;
    let path = data()
        .join("oci_layout")
        .join(layout_name)
        .join("blobs/sha256")
        .join(envelope_digest);
    let env: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(env["header"]["x5c"][0].as_str().unwrap())
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem.into_bytes()
}

/// `e2e-with-timestamped-signature`: a PS256 JWS by testcert7 (valid one day, January 2025),
/// expiring three hours after signing, countersigned by Microsoft's public TSA (RSA PKCS #1
/// token, chain to "Microsoft Identity Verification Root Certificate Authority 2020", which
/// notation's repository does not ship). notation's e2e only inspects it (inspect.go); by its
/// rules: expiry fails at strict; at permissive expiry and authenticTimestamp are logged; with
/// `verifyTimestamp: always`, a `tsa` store without Microsoft's root and expiry logged, the
/// countersignature is read and its signature verified, but its chain reaches no trusted
/// root: authenticTimestamp fails.
#[test]
fn notations_timestamped_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let testcert7 = envelope_certificate(
        "e2e-with-timestamped-signature",
        "603ff134e97a79cd7a15560b76137c2c4a10451daab11327a7c6f86dac250fee",
    );
    let s = store(dir, "t7", &testcert7, Some(&localkey("e2e.crt")));
    let image = layout("e2e-with-timestamped-signature");
    let subject = "sha256:53b0191218aed9a3c1f7c661736ac40cfc8eb928642348fd843ba3f0483c0c20";
    fails(
        dir,
        &policy("trustpolicy.json"),
        &s,
        &image,
        &["expiry", "digital signature has expired"],
    );
    let (r, doc) = verify(dir, &policy("permissive_trustpolicy.json"), &s, &image);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(doc["digest"], subject);
    assert_eq!(
        logged(&doc["notarySignatures"][0]),
        ["expiry", "authenticTimestamp"],
        "{doc:#}"
    );

    let p = dir.join("timestamp-expiry-logged.json");
    std::fs::write(
        &p,
        r#"{"version":"1.0","trustPolicies":[{"name":"e2e","registryScopes":["*"],
        "signatureVerification":{"level":"strict","override":{"expiry":"log"},"verifyTimestamp":"always"},
        "trustStores":["ca:e2e","tsa:e2e"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    fails(
        dir,
        &p.display().to_string(),
        &s,
        &image,
        &[
            "authenticTimestamp",
            "timestamp countersignature",
            "CN=Microsoft Public RSA Timestamping CA 2020",
        ],
    );
    let entries = tree(dir, &image);
    assert_eq!(
        entries[0]["digest"],
        "sha256:6a5cd3a886707a317935dcaf13954fc80ef9aeb665262b6ae4fe469ad7ea3aea"
    );
}

/// `e2e-with-invalid-timestamped-signature`: its countersignature is not DER (notation's
/// inspect: "failed to parse timestamp countersignature: ... decoding BER length octets").
/// With timestamp_trustpolicy.json (`verifyTimestamp: always`) authenticTimestamp fails on
/// it; without a `tsa` store, on the certificate expired at verification time.
#[test]
fn notations_signature_with_an_invalid_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let testcert7 = envelope_certificate(
        "e2e-with-invalid-timestamped-signature",
        "8d2e70ffc2af68b7f2df6f30dfefcb7bcda1db5f9ac2566fc8c6c2248c8d4c5f",
    );
    let s = store(dir, "t7", &testcert7, Some(&localkey("e2e.crt")));
    let image = layout("e2e-with-invalid-timestamped-signature");
    fails(
        dir,
        &policy("timestamp_trustpolicy.json"),
        &s,
        &image,
        &[
            "authenticTimestamp",
            "failed to verify the timestamp countersignature",
            "RFC 3161",
        ],
    );
    fails(
        dir,
        &policy("trustpolicy.json"),
        &s,
        &image,
        &["authenticTimestamp", "CN=testcert7", "(verification time)"],
    );
}

crate::on_each_registry! {
/// `e2e-valid-signature` pushed into a real registry by `vouch promote` under a notation-only
/// policy (the image, then its signature as a referrer: through the fallback tag on
/// docker-registry, distribution 2.8; listed by the registry itself on ferro-oci-server), and
/// verified there as in the layout.
async fn notations_valid_signature_in_a_registry(kind) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reg = Registry::start_kind(kind);
    let host = reg.host();
    let good = store(dir, "good", &localkey("e2e.crt"), None);
    let other = store(dir, "other", &localkey("new_e2e.crt"), None);
    std::fs::write(
        dir.join("promote.yaml"),
        "version: 1\nimages:\n  - match: \"**\"\n    signatures:\n      authorities:\n        - notation: {trustStore: good, trustStores: [\"ca:e2e\"], trustedIdentities: [\"*\"]}\n",
    )
    .unwrap();
    let dst = format!("{host}/notation/e2e:v1");
    let r = vouch_in(
        dir,
        None,
        [
            "promote",
            "--policy",
            "promote.yaml",
            &layout("e2e-valid-signature"),
            &dst,
        ],
    )
    .ok();
    assert!(r.stderr.contains("Promoted"), "{}", r.stderr);
    crate::support::registry::assert_fallback_index_as_kind(
        kind,
        &crate::support::image::registry_ref(&host, "notation/e2e"),
        &SUBJECT.parse().unwrap(),
    )
    .await;
    let (r, doc) = verify(dir, &policy("trustpolicy.json"), &good, &dst);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(doc["digest"], SUBJECT);
    assert_eq!(
        doc["notarySignatures"][0]["referrer"],
        "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f"
    );
    fails(
        dir,
        &policy("trustpolicy.json"),
        &other,
        &dst,
        &["authenticity"],
    );
    assert_eq!(tree(dir, &dst).as_array().unwrap().len(), 1);
}
}
