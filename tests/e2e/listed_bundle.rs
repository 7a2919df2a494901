//! Bundles fetched straight from the referrers listing: vouch's referrer manifests name their
//! bundle in annotations (`dev.vouch.bundle.digest`, `dev.vouch.bundle.size`), which the listing
//! carries, so the policy gate reads one blob per referrer instead of a manifest and a blob. The
//! annotations are as untrusted as the rest of the listing: a listing that names a missing blob
//! is read the long way (through the manifest), and one that names another image's bundle gets
//! that bundle refused, never accepted.

use bytes::Bytes;
use vouch_core::oci::manifest::{Descriptor, ImageIndex, Manifest, OCI_INDEX};
use vouch_core::oci::registry::Access;
use vouch_core::referrers::{
    BUNDLE_DIGEST_ANNOTATION, BUNDLE_SIZE_ANNOTATION, PREDICATE_TYPE_ANNOTATION, fallback_tag,
};

use crate::support::image::{client, push_image, registry_ref};
use crate::support::registry::{Registry, RegistryKind};
use crate::support::{run, vouch};

const POLICY: &str = "version: 1
images:
  - match: \"**\"
    signatures:
      authorities: [{key: vouch.pub}]
    attestations:
      - type: https://example.com/built/v1
        authorities: [{key: vouch.pub}]
";

/// Signs and attests `image` (bundle format) with the key in `d`.
fn sign_and_attest(d: &std::path::Path, image: &str) {
    run(vouch().current_dir(d).env("VOUCH_PASSWORD", "pw").args([
        "sign",
        "--key",
        "vouch.key",
        "--format",
        "bundle",
        image,
    ]))
    .ok();
    run(vouch().current_dir(d).env("VOUCH_PASSWORD", "pw").args([
        "attest",
        "--key",
        "vouch.key",
        "--format",
        "bundle",
        "--predicate",
        "built.json",
        "--type",
        "https://example.com/built/v1",
        image,
    ]))
    .ok();
}

/// `verify --policy --output json`: (exit code, the report).
fn judge(d: &std::path::Path, image: &str) -> (i32, serde_json::Value) {
    let out = run(vouch().current_dir(d).args([
        "verify",
        "--policy",
        "policy.yaml",
        "--output",
        "json",
        image,
    ]));
    let doc = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, doc)
}

crate::on_each_registry! {
async fn the_gate_reads_one_blob_per_referrer(kind) {
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(vouch().current_dir(d).env("VOUCH_PASSWORD", "pw").args(["generate-key-pair"])).ok();
    std::fs::write(d.join("built.json"), br#"{"built":"here"}"#).unwrap();
    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    let digest = push_image(&client(), &reg.host(), "app/listed", "v1").await;
    let image = format!("{}/app/listed@{digest}", reg.host());
    sign_and_attest(d, &image);

    let (code, doc) = judge(d, &image);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["allowed"], true, "{doc}");
    let by = &doc["requests"]["by"];
    // Two referrers (the signature and the attestation): one blob each, no referrer manifest.
    assert_eq!(by["blob GET"], 2, "{doc}");
    if kind == RegistryKind::ReferrersApi {
        // The probe of the API, then the listing; no manifest at all.
        assert_eq!(by["referrers GET"], 2, "{doc}");
        assert!(by.get("manifest GET").is_none(), "{doc}");
    } else {
        // The fallback index is the only manifest read.
        assert_eq!(by["manifest GET"], 1, "{doc}");
    }
}
}

/// Where vouch writes the listing itself (the fallback index on distribution 2.8), a registry
/// or anyone with push access could rewrite it: the annotations then lead nowhere useful.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_names_the_wrong_bundle_gains_nothing() {
    let reg = Registry::start_kind(RegistryKind::Distribution);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(vouch()
        .current_dir(d)
        .env("VOUCH_PASSWORD", "pw")
        .args(["generate-key-pair"]))
    .ok();
    std::fs::write(d.join("built.json"), br#"{"built":"here"}"#).unwrap();
    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    let c = client();
    let a = push_image(&c, &reg.host(), "app/lying", "a").await;
    let b = push_image(&c, &reg.host(), "app/lying", "b").await;
    let image_a = format!("{}/app/lying@{a}", reg.host());
    let image_b = format!("{}/app/lying@{b}", reg.host());
    sign_and_attest(d, &image_a);
    sign_and_attest(d, &image_b);
    let r = registry_ref(&reg.host(), "app/lying");
    let index_of = |subject| {
        let c = c.clone();
        let r = r.clone();
        async move {
            let m = c
                .get_manifest(&r, &fallback_tag(&subject), Access::Pull, 1 << 20)
                .await
                .unwrap()
                .unwrap();
            match Manifest::parse(&m.bytes, Some(&m.media_type)).unwrap() {
                Manifest::Index(i) => i,
                Manifest::Image(_) => panic!("the fallback tag is an index"),
            }
        }
    };
    let original: ImageIndex = index_of(a).await;
    let other: ImageIndex = index_of(b).await;
    let rewrite = |index: &ImageIndex, to: &dyn Fn(usize, &Descriptor) -> (String, String)| {
        let mut index = index.clone();
        for (k, e) in index.manifests.iter_mut().enumerate() {
            let (digest, size) = to(k, e);
            e.annotations
                .insert(BUNDLE_DIGEST_ANNOTATION.to_owned(), digest);
            e.annotations
                .insert(BUNDLE_SIZE_ANNOTATION.to_owned(), size);
        }
        Bytes::from(serde_json::to_vec(&index).unwrap())
    };
    assert_eq!(original.manifests.len(), 2);

    // Blobs that do not exist: read through the manifests, allowed as before.
    let missing = rewrite(&original, &|k, _| {
        (
            vouch_core::digest::Sha256Digest::of(format!("missing {k}").as_bytes()).to_string(),
            "100".to_owned(),
        )
    });
    c.put_manifest(&r, &fallback_tag(&a), missing, OCI_INDEX)
        .await
        .unwrap();
    let (code, doc) = judge(d, &image_a);
    assert_eq!(
        (code, &doc["allowed"]),
        (0, &serde_json::json!(true)),
        "{doc}"
    );
    assert_eq!(doc["requests"]["by"]["manifest GET"], 3, "{doc}");

    // Image b's bundles, of the same types and by the same key: refused for image a (their
    // statements are about b), so image a is not allowed on them.
    let theirs = rewrite(&original, &|_, ours| {
        let kind = |e: &Descriptor| e.annotations.get(PREDICATE_TYPE_ANNOTATION).cloned();
        let e = other
            .manifests
            .iter()
            .find(|e| kind(e) == kind(ours))
            .unwrap();
        (
            e.annotations[BUNDLE_DIGEST_ANNOTATION].clone(),
            e.annotations[BUNDLE_SIZE_ANNOTATION].clone(),
        )
    });
    c.put_manifest(&r, &fallback_tag(&a), theirs, OCI_INDEX)
        .await
        .unwrap();
    let (code, doc) = judge(d, &image_a);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["allowed"], false, "{doc}");
}
