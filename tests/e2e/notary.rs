//! Notary Project signatures on an image in an OCI layout: an envelope made by an independent
//! producer (keys-test/notary_sign.py, Python `cryptography`, from the specification) for the
//! image's manifest, attached as an OCI 1.1 referrer of artifact type
//! `application/vnd.cncf.notary.signature`, then `vouch verify --notation-trust-policy` and
//! `vouch tree`.

use std::path::Path;

use vouch_core::digest::Sha256Digest;
use vouch_core::notary::envelope::{ARTIFACT_TYPE, MEDIA_TYPE_JWS};
use vouch_core::oci::Target;
use vouch_core::oci::layout::Layout;
use vouch_core::oci::manifest::{Descriptor, OCI_MANIFEST};

use crate::support::image::{client, image_parts, layout_image, push_image, registry_ref};
pub(crate) use crate::support::notary::{
    SIGNER, attach, attach_to, produce, produce_timestamped_pss, store,
};
use crate::support::registry::Registry;
use crate::support::vouch_in;

/// Attaches `envelope` as `notation sign --oci-layout` leaves it (oras-go's OCI store): the
/// signature manifest an untagged entry of index.json, no fallback tag; here in the older
/// form, without `artifactType`, the config's media type saying what it is.
fn attach_untagged(layout_dir: &Path, subject: &Descriptor, envelope: &[u8]) {
    let layout = Layout::open_or_create(layout_dir).unwrap();
    let config = layout.write_blob(b"{}").unwrap();
    let env = layout.write_blob(envelope).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": ARTIFACT_TYPE, "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": MEDIA_TYPE_JWS, "digest": env.to_string(), "size": envelope.len()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest.to_string(), "size": subject.size},
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    layout.write_blob(&bytes).unwrap();
    let lock = layout.lock().unwrap();
    let mut index = layout.index().unwrap();
    index.manifests.push(Descriptor::of(OCI_MANIFEST, &bytes));
    layout.write_index(&index, &lock).unwrap();
}

pub(crate) fn image(dir: &Path) -> Descriptor {
    let layout = dir.join("layout");
    let digest: Sha256Digest = layout_image(&layout, "v1");
    let bytes = std::fs::read(layout.join("blobs/sha256").join(digest.hex())).unwrap();
    Descriptor::of(OCI_MANIFEST, &bytes)
}

fn policy(dir: &Path, identity: &str) -> String {
    let p = dir.join(format!("trustpolicy-{}.json", identity.len()));
    std::fs::write(
        &p,
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"e2e","registryScopes":["*"],
            "signatureVerification":{{"level":"strict"}},"trustStores":["ca:e2e"],
            "trustedIdentities":["x509.subject:{identity}"]}}]}}"#
        ),
    )
    .unwrap();
    p.display().to_string()
}

fn verify(dir: &Path, policy: &str, store: &str, extra: &[&str]) -> crate::support::Run {
    let image = format!("oci:{}:v1", dir.join("layout").display());
    let mut args = vec![
        "verify",
        "--notation-trust-policy",
        policy,
        "--notation-trust-store",
        store,
    ];
    args.extend_from_slice(extra);
    args.push(&image);
    vouch_in(dir, None, args)
}

#[tokio::test]
async fn notary_signature_in_an_oci_layout_verifies_with_its_trust_store_and_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let subject = image(dir);
    let (root, envelope) = produce(dir, &subject);
    attach(&dir.join("layout"), &subject, &envelope).await;
    let good_store = store(dir, "store", &root);
    let good = policy(dir, SIGNER);

    let r = verify(dir, &good, &good_store, &["--output", "json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc[0]["verified"], true, "{doc}");
    assert_eq!(doc[0]["digest"], subject.digest.to_string());
    let sig = &doc[0]["notarySignatures"][0];
    assert_eq!(sig["statement"], "e2e");
    assert_eq!(sig["signingScheme"], "notary.x509");
    assert!(
        sig["signer"]
            .as_str()
            .unwrap()
            .contains("CN=vouch notary signer")
    );
    verify(dir, &good, &good_store, &[]).ok();

    // Another root: authenticity fails.
    let (other_root, _) = produce(&dir.join("other"), &subject);
    let other_store = store(dir, "other-store", &other_root);
    let r = verify(dir, &good, &other_store, &[]).code(1);
    assert!(r.stderr.contains("authenticity"), "{}", r.stderr);

    // Another identity.
    let other = policy(dir, "CN=someone else,O=vouch-test,L=Seattle,ST=WA,C=US");
    let r = verify(dir, &other, &good_store, &[]).code(1);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);

    // `vouch tree` lists it beside cosign's attachments.
    let image_ref = format!("oci:{}:v1", dir.join("layout").display());
    let r = vouch_in(dir, None, ["tree", "--output", "json", &image_ref]).ok();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let notary = doc["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "notary signatures")
        .unwrap();
    assert_eq!(notary["entries"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(notary["entries"][0]["artifactType"], ARTIFACT_TYPE);
    let r = vouch_in(dir, None, ["tree", &image_ref]).ok();
    assert!(r.stdout.contains("notary signatures: 1"), "{}", r.stdout);
}

/// A signature whose timestamp countersignature is an RFC 3161 token signed with RSASSA-PSS
/// (made by OpenSSL, keys-test/openssl_tsa.py): the policy asks for it to be verified
/// (`verifyTimestamp: always` with a `tsa` trust store), as notation's tspclient-go would.
#[tokio::test]
async fn notary_signature_with_an_rsa_pss_timestamp_countersignature() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let subject = image(dir);
    let (root, tsa_root, envelope) = produce_timestamped_pss(dir, &subject);
    attach(&dir.join("layout"), &subject, &envelope).await;
    let with_tsa = |name: &str, tsa: &[u8]| {
        let s = store(dir, name, &root);
        let t = Path::new(&s).join("x509/tsa/e2e-tsa");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("root.pem"), tsa).unwrap();
        s
    };
    let policy = dir.join("trustpolicy-tsa.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"e2e","registryScopes":["*"],
            "signatureVerification":{{"level":"strict","verifyTimestamp":"always"}},
            "trustStores":["ca:e2e","tsa:e2e-tsa"],"trustedIdentities":["x509.subject:{SIGNER}"]}}]}}"#
        ),
    )
    .unwrap();
    let policy = policy.display().to_string();

    let r = verify(
        dir,
        &policy,
        &with_tsa("store", &tsa_root),
        &["--output", "json"],
    )
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc[0]["verified"], true, "{doc}");
    assert_eq!(doc[0]["notarySignatures"].as_array().unwrap().len(), 1);

    // The tsa trust store holds another root (the signing root): the timestamp is not trusted.
    let r = verify(dir, &policy, &with_tsa("other-tsa", &root), &[]).code(1);
    assert!(
        r.stderr.contains("timestamp") && r.stderr.contains("tsa trust store"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn tampered_notary_payload_fails_integrity() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let subject = image(dir);
    let (root, envelope) = produce(dir, &subject);
    // The same target, one annotation more: the signature no longer covers the payload.
    let mut env: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
    let payload = serde_json::json!({"targetArtifact": {
        "mediaType": subject.media_type, "digest": subject.digest.to_string(),
        "size": subject.size, "annotations": {"tampered": "yes"}}});
    use base64::Engine as _;
    env["payload"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&payload).unwrap())
        .into();
    attach(
        &dir.join("layout"),
        &subject,
        &serde_json::to_vec(&env).unwrap(),
    )
    .await;
    let r = verify(dir, &policy(dir, SIGNER), &store(dir, "store", &root), &[]).code(1);
    assert!(r.stderr.contains("integrity"), "{}", r.stderr);
}

#[test]
fn notary_signature_as_an_untagged_layout_entry_in_the_older_form() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let subject = image(dir);
    let (root, envelope) = produce(dir, &subject);
    attach_untagged(&dir.join("layout"), &subject, &envelope);
    let good_store = store(dir, "store", &root);
    let r = verify(
        dir,
        &policy(dir, SIGNER),
        &good_store,
        &["--output", "json"],
    )
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc[0]["verified"], true, "{doc}");
    assert_eq!(doc[0]["notarySignatures"].as_array().unwrap().len(), 1);
    let image_ref = format!("oci:{}:v1", dir.join("layout").display());
    let r = vouch_in(dir, None, ["tree", &image_ref]).ok();
    assert!(r.stdout.contains("notary signatures: 1"), "{}", r.stdout);
    // Another image of the same layout is not signed by it.
    let other: Sha256Digest = layout_image(&dir.join("layout"), "v2");
    let image = format!("oci:{}@{other}", dir.join("layout").display());
    let r = vouch_in(
        dir,
        None,
        [
            "verify",
            "--notation-trust-policy",
            &policy(dir, SIGNER),
            "--notation-trust-store",
            &good_store,
            &image,
        ],
    )
    .code(1);
    assert!(
        r.stderr.contains("no Notary Project signatures found"),
        "{}",
        r.stderr
    );
}

crate::on_each_registry! {
/// In a registry without a referrers API (distribution 2.8: the fallback tag index) and in one
/// with it (ferro-oci-server: the registry lists the signature itself).
async fn notary_signature_in_a_registry(kind) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reg = Registry::start_kind(kind);
    let host = reg.host();
    let c = client();
    let digest = push_image(&c, &host, "notary/app", "v1").await;
    let (_, _, manifest) = image_parts(&format!("{host}/notary/app:v1"));
    let subject = Descriptor::of(OCI_MANIFEST, &manifest);
    assert_eq!(subject.digest, digest);
    let (root, envelope) = produce(dir, &subject);
    let target = Target::registry(c.clone(), &registry_ref(&host, "notary/app"));
    attach_to(&target, &subject, &envelope).await;
    crate::support::registry::assert_fallback_index_as_kind(
        kind,
        &registry_ref(&host, "notary/app"),
        &digest,
    )
    .await;
    let store = store(dir, "store", &root);
    let image = format!("{host}/notary/app:v1");
    let r = vouch_in(
        dir,
        None,
        [
            "verify",
            "--notation-trust-policy",
            &policy(dir, SIGNER),
            "--notation-trust-store",
            &store,
            "--output",
            "json",
            &image,
        ],
    )
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc[0]["verified"], true, "{doc}");
    let other = policy(dir, "CN=someone else,O=vouch-test,L=Seattle,ST=WA,C=US");
    vouch_in(
        dir,
        None,
        [
            "verify",
            "--notation-trust-policy",
            &other,
            "--notation-trust-store",
            &store,
            &image,
        ],
    )
    .code(1);
}
}
