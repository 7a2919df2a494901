//! cosign 3's referrer format in a real registry without a referrers API (Debian's
//! distribution 2.8: the fallback tag index), in one with it (ferro-oci-server: OCI distribution
//! 1.1) and in OCI layouts: attach, list, no lost writes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use vouch_core::cosign::{AttachOutcome, SettleOptions};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::layout::Layout;
use vouch_core::oci::manifest::{Descriptor, Manifest, OCI_MANIFEST};
use vouch_core::oci::reference::{ImageRef, RegistryRef};
use vouch_core::oci::registry::{Access, RegistryClient, RegistryOptions};
use vouch_core::oci::{OciLimits, Target};
use vouch_core::referrers::{
    BUNDLE_ARTIFACT_TYPE, PREDICATE_TYPE_ANNOTATION, Referrer, attach_referrers, referrer,
};

use crate::support::image::{client, layout_image};
use crate::support::registry::{Registry, assert_fallback_index_as_kind};
use crate::support::vectors;

/// The real cosign 3 bundle from tests/data/vectors and its subject.
fn cosign3_bundle() -> (Bytes, Sha256Digest) {
    let b =
        std::fs::read(vectors().join(
            "more/03-cosign-sigstore-artifacts/cosign/testdata/oci-attestation.sigstore.json",
        ))
        .unwrap();
    let subject = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
        .parse()
        .unwrap();
    (Bytes::from(b), subject)
}

fn referrer_for(subject: &Sha256Digest, n: usize) -> Referrer {
    let (bundle, _) = cosign3_bundle();
    let mut desc = Descriptor::of(OCI_MANIFEST, b"x");
    desc.digest = *subject;
    desc.size = 1234;
    referrer(
        desc,
        bundle,
        "https://cosign.sigstore.dev/attestation/v1",
        &format!("2025-02-28T19:18:{:02}Z", n % 60),
    )
}

fn fast() -> SettleOptions {
    SettleOptions {
        window: Duration::from_millis(300),
        settle: Duration::from_millis(600),
        rounds: 40,
    }
}

async fn check_listing(target: &Target, subject: &Sha256Digest, n: usize) {
    let limits = OciLimits::default();
    let found = target
        .referrers(
            subject,
            Some(BUNDLE_ARTIFACT_TYPE),
            Access::Pull,
            limits.manifest,
        )
        .await
        .unwrap();
    assert_eq!(found.len(), n);
    assert!(
        target
            .referrers(
                subject,
                Some("application/other"),
                Access::Pull,
                limits.manifest
            )
            .await
            .unwrap()
            .is_empty()
    );
    // Each entry is a referrer manifest in cosign's shape, whose layer is the bundle.
    let d = &found[0];
    assert_eq!(
        d.annotations[PREDICATE_TYPE_ANNOTATION],
        "https://cosign.sigstore.dev/attestation/v1"
    );
    let m = target
        .manifest(
            vouch_core::oci::ManifestRef::Digest(&d.digest),
            Access::Pull,
            limits.manifest,
        )
        .await
        .unwrap()
        .unwrap();
    let Manifest::Image(m) = Manifest::parse(&m.bytes, Some(&m.media_type)).unwrap() else {
        panic!()
    };
    assert_eq!(m.artifact_type.as_deref(), Some(BUNDLE_ARTIFACT_TYPE));
    assert_eq!(m.subject.as_ref().unwrap().digest, *subject);
    assert_eq!(m.config.media_type, "application/vnd.oci.empty.v1+json");
    let bundle = target
        .blob(&m.layers[0], Access::Pull, 1 << 20)
        .await
        .unwrap();
    assert_eq!(bundle, cosign3_bundle().0.to_vec());
}

crate::on_each_registry! {
async fn referrers_in_registry_and_layout(kind) {
    let limits = OciLimits::default();
    let (_, subject) = cosign3_bundle();
    // Registry (the fallback index, or the registry's referrers API).
    let reg = Registry::start_kind(kind);
    let r = match format!("{}/cosign3/repo", reg.host())
        .parse::<ImageRef>()
        .unwrap()
    {
        ImageRef::Registry(r) => r,
        ImageRef::Layout(_) => unreachable!(),
    };
    let target = Target::registry(client(), &r);
    let refs: Vec<_> = (0..2)
        .map(|n| (subject, referrer_for(&subject, n)))
        .collect();
    for res in attach_referrers(&target, &refs, fast(), &limits, 4).await {
        assert_eq!(res.unwrap(), AttachOutcome::Added);
    }
    assert_fallback_index_as_kind(kind, &r, &subject).await;
    // Again: nothing duplicated.
    for res in attach_referrers(&target, &refs, fast(), &limits, 4).await {
        assert_eq!(res.unwrap(), AttachOutcome::AlreadyPresent);
    }
    check_listing(&target, &subject, 2).await;
    // Layout: referrers of the layout's own image, and `tree` lists them by format.
    let dir = tempfile::tempdir().unwrap();
    let layout_dir = dir.path().join("layout");
    let image = layout_image(&layout_dir, "v1");
    let target = Target::Layout(Layout::open(&layout_dir).unwrap());
    let refs: Vec<_> = (0..2).map(|n| (image, referrer_for(&image, n))).collect();
    for res in attach_referrers(&target, &refs, fast(), &limits, 4).await {
        assert_eq!(res.unwrap(), AttachOutcome::Added);
    }
    check_listing(&target, &image, 2).await;
    let out = crate::support::run(crate::support::vouch().args([
        "tree",
        "--output",
        "json",
        &format!("oci:{}:v1", layout_dir.display()),
    ]));
    assert_eq!(out.code, 0, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let referrers = doc["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["format"] == "referrer")
        .unwrap();
    assert_eq!(referrers["entries"].as_array().unwrap().len(), 2);
    assert_eq!(
        referrers["entries"][0]["predicateType"],
        "https://cosign.sigstore.dev/attestation/v1"
    );
}
}

crate::on_each_registry! {
/// The fallback index is a read-modify-write too: 8 writers (own clients, as separate processes
/// would be) adding referrers to one subject at once, 3 rounds: all 24 are listed.
async fn concurrent_writers_keep_every_referrer(kind) {
    let reg = Registry::start_kind(kind);
    let (_, subject) = cosign3_bundle();
    let r: RegistryRef = match format!("{}/race/referrers", reg.host())
        .parse::<ImageRef>()
        .unwrap()
    {
        ImageRef::Registry(r) => r,
        ImageRef::Layout(_) => unreachable!(),
    };
    for round in 0..3 {
        let writers = (0..8).map(|w| {
            let r = r.clone();
            async move {
                let own = Arc::new(RegistryClient::new(RegistryOptions::default()).unwrap());
                let target = Target::registry(own, &r);
                let refs = vec![(subject, referrer_for(&subject, round * 8 + w))];
                attach_referrers(&target, &refs, fast(), &OciLimits::default(), 1)
                    .await
                    .remove(0)
            }
        });
        for outcome in futures_util::future::join_all(writers).await {
            assert_eq!(outcome.unwrap(), AttachOutcome::Added);
        }
    }
    let target = Target::registry(client(), &r);
    let found = target
        .referrers(&subject, Some(BUNDLE_ARTIFACT_TYPE), Access::Pull, 4 << 20)
        .await
        .unwrap();
    assert_eq!(found.len(), 24);
    assert_fallback_index_as_kind(kind, &r, &subject).await;
}
}

crate::on_each_registry! {
/// Real cosign 3 output attached as cosign 3 attaches it, verified by `vouch
/// verify-attestation` through the fallback index (registry) and in a layout; another identity
/// is rejected.
async fn verify_attestation_reads_cosign_3_referrers(kind) {
    use crate::support::{run, vouch};
    let reg = Registry::start_kind(kind);
    let (_, subject) = cosign3_bundle();
    let r = match format!("{}/cosign3/app", reg.host())
        .parse::<ImageRef>()
        .unwrap()
    {
        ImageRef::Registry(r) => r,
        ImageRef::Layout(_) => unreachable!(),
    };
    let target = Target::registry(client(), &r);
    let refs = vec![(subject, referrer_for(&subject, 0))];
    attach_referrers(&target, &refs, fast(), &OciLimits::default(), 1)
        .await
        .remove(0)
        .unwrap();
    let image = format!("{}/cosign3/app@{subject}", reg.host());
    let verify = |id: &str| {
        run(vouch().args([
            "verify-attestation",
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            "--type",
            "custom",
            "--output",
            "json",
            &image,
        ]))
    };
    let out = verify("cody@soyland.com");
    assert_eq!(out.code, 0, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let att = &doc[0]["attestations"][0];
    assert_eq!(att["key"], "cody@soyland.com");
    assert_eq!(
        att["statement"]["predicate"]["Data"],
        "{\"foo\": \"bar\"}\n"
    );
    let out = verify("mallory@example.com");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("bundle referrer") && out.stderr.contains("identity"),
        "{out:?}"
    );
}
}

crate::on_each_registry! {
/// `--format bundle` end to end, in the registry and in a layout: sign and attest write cosign 3
/// referrers; verify and verify-attestation read them (beside the tag format); tree shows them.
async fn bundle_format_sign_attest_verify(kind) {
    use crate::support::{run, vouch, vouch_in};
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vouch_in(d, Some("pw"), ["generate-key-pair"]).ok();
    vouch_in(
        d,
        Some("pw"),
        ["generate-key-pair", "--output-key-prefix", "other"],
    )
    .ok();
    let digest = crate::support::image::push_image(&client(), &reg.host(), "fmt/app", "v1").await;
    let layout = d.join("layout");
    let ldigest = layout_image(&layout, "v1");
    let sbom = vectors().join("sboms/trivy-npm.cdx.json");
    for image in [
        format!("{}/fmt/app@{digest}", reg.host()),
        format!("oci:{}@{ldigest}", layout.display()),
    ] {
        vouch_in(
            d,
            Some("pw"),
            ["sign", "--format", "bundle", "--key", "vouch.key", &image],
        )
        .ok();
        vouch_in(
            d,
            Some("pw"),
            [
                "attest".as_ref(),
                "--format".as_ref(),
                "bundle".as_ref(),
                "--key".as_ref(),
                "vouch.key".as_ref(),
                "--type".as_ref(),
                "cyclonedx".as_ref(),
                "--predicate".as_ref(),
                sbom.as_os_str(),
                image.as_ref(),
            ],
        )
        .ok();
        // Nothing under the tags: everything is a referrer.
        let out = run(vouch().args(["tree", "--output", "json", &image]));
        assert_eq!(out.code, 0, "{out:?}");
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let count = |format: &str| -> usize {
            doc["attachments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["format"] == format)
                .map(|a| a["entries"].as_array().unwrap().len())
                .sum()
        };
        assert_eq!((count("tag"), count("referrer")), (0, 2), "{doc}");
        // verify reads the bundle signature.
        let out = vouch_in(
            d,
            None,
            ["verify", "--key", "vouch.pub", "--output", "json", &image],
        )
        .ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            v[0]["signatures"][0]["payload"]["predicateType"],
            "https://sigstore.dev/cosign/sign/v1"
        );
        vouch_in(d, None, ["verify", "--key", "other.pub", &image]).code(1);
        // verify-attestation reads the SBOM attestation, and only it for --type cyclonedx.
        let out = vouch_in(
            d,
            None,
            [
                "verify-attestation",
                "--key",
                "vouch.pub",
                "--type",
                "cyclonedx",
                "--output",
                "json",
                &image,
            ],
        )
        .ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v[0]["attestations"].as_array().unwrap().len(), 1);
        assert_eq!(
            v[0]["attestations"][0]["statement"]["predicate"]["bomFormat"],
            "CycloneDX"
        );
        vouch_in(
            d,
            None,
            ["verify-attestation", "--key", "other.pub", &image],
        )
        .code(1);
        // The legacy format still works beside it, and both are seen.
        vouch_in(
            d,
            Some("pw"),
            ["sign", "--format", "legacy", "--key", "other.key", &image],
        )
        .ok();
        let out = vouch_in(
            d,
            None,
            ["verify", "--key", "other.pub", "--output", "json", &image],
        )
        .ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v[0]["signatures"].as_array().unwrap().len(), 1);
        vouch_in(d, None, ["verify", "--key", "vouch.pub", &image]).ok();
    }
}
}

/// Annotations exist only in the `.sig` format: with the default bundle format, `-a` is a usage
/// error that names the fix, before any key is read or image resolved.
#[test]
fn annotations_need_the_legacy_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::vouch_in(
        dir.path(),
        None,
        [
            "sign",
            "--key",
            "missing.key",
            "-a",
            "team=web",
            "oci:nowhere@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ],
    )
    .code(2);
    assert!(out.stderr.contains("--format legacy"), "{out:?}");
}

/// A registry with the referrers API (scripted: distribution 2.8 has none) that does not apply
/// the `artifactType` filter: vouch filters the listing itself, fetches only the wanted
/// referrer, never reads the fallback tag, and the real cosign 3 bundle verifies.
#[test]
fn referrers_api_is_used_where_the_registry_has_it() {
    use crate::support::fake_registry::{FakeRegistry, Reply};
    use crate::support::{run, vouch};

    let (bundle, subject) = cosign3_bundle();
    let wanted = referrer_for(&subject, 0);
    let mut other = Descriptor::of(OCI_MANIFEST, b"some other artifact");
    other.artifact_type = Some("application/vnd.example.other".into());
    let mut listing = vouch_core::oci::manifest::ImageIndex::new();
    listing.manifests = vec![other.clone(), wanted.entry.clone()];
    let listing = vouch_core::oci::manifest::to_bytes(&listing);
    let bundle_digest = Sha256Digest::of(&bundle);
    let (manifest, manifest_digest) = (wanted.manifest.clone(), wanted.entry.digest);
    let fake = FakeRegistry::start(move |req, _| {
        let path = req.path.split('?').next().unwrap_or("");
        if path == format!("/v2/app/referrers/{subject}") {
            Reply::new(200, listing.clone())
                .header("Content-Type", vouch_core::oci::manifest::OCI_INDEX)
        } else if path == format!("/v2/app/manifests/{manifest_digest}") {
            Reply::new(200, manifest.to_vec()).header("Content-Type", OCI_MANIFEST)
        } else if path == format!("/v2/app/blobs/{bundle_digest}") {
            Reply::new(200, bundle.to_vec())
        } else {
            Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#,
            )
        }
    });
    let out = run(vouch().args([
        "verify-attestation",
        "--certificate-identity",
        "cody@soyland.com",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
        "--type",
        "custom",
        &format!("{}/app@{subject}", fake.host),
    ]));
    assert_eq!(out.code, 0, "{out:?}");
    let hits = fake.hits.lock().unwrap().clone();
    assert!(
        hits.keys().any(|k| k.contains("/referrers/")),
        "the referrers API was not asked: {hits:?}"
    );
    let fallback = format!(
        "/v2/app/manifests/{}",
        vouch_core::referrers::fallback_tag(&subject)
    );
    assert!(
        !hits.keys().any(|k| k.ends_with(&fallback)),
        "the fallback tag was read although the API answered: {hits:?}"
    );
    assert!(
        !hits.keys().any(|k| k.contains(&other.digest.to_string())),
        "a referrer of another artifact type was fetched: {hits:?}"
    );
}

/// Writing to a registry with the referrers API: blobs and the manifest by digest, and no
/// fallback index (neither read nor written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_skips_the_fallback_index_where_the_api_exists() {
    use crate::support::fake_registry::{FakeRegistry, Reply};

    let (_, subject) = cosign3_bundle();
    let fake = FakeRegistry::start(move |req, _| {
        let path = req.path.split('?').next().unwrap_or("").to_owned();
        match (req.method.as_str(), path.as_str()) {
            ("HEAD", p) if p.starts_with("/v2/app/blobs/") => Reply::new(200, ""),
            ("POST", "/v2/app/blobs/uploads/") => {
                Reply::new(202, "").header("Location", "/v2/app/blobs/uploads/u1")
            }
            ("PUT", "/v2/app/blobs/uploads/u1") => Reply::new(201, ""),
            ("PUT", p) if p.starts_with("/v2/app/manifests/sha256:") => {
                let digest = p.trim_start_matches("/v2/app/manifests/").to_owned();
                Reply::new(201, "").header("Docker-Content-Digest", &digest)
            }
            ("GET", p) if p == format!("/v2/app/referrers/{subject}") => {
                Reply::new(200, r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#)
                    .header("Content-Type", vouch_core::oci::manifest::OCI_INDEX)
            }
            _ => Reply::new(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#),
        }
    });
    let r = match format!("{}/app", fake.host).parse::<ImageRef>().unwrap() {
        ImageRef::Registry(r) => r,
        ImageRef::Layout(_) => unreachable!(),
    };
    let target = Target::registry(client(), &r);
    let refs = vec![(subject, referrer_for(&subject, 0))];
    let outcome = attach_referrers(&target, &refs, fast(), &OciLimits::default(), 1)
        .await
        .remove(0)
        .unwrap();
    assert_eq!(outcome, AttachOutcome::Added);
    let hits = fake.hits.lock().unwrap().clone();
    let manifest_put = format!("PUT /v2/app/manifests/{}", refs[0].1.entry.digest);
    assert_eq!(hits.get(&manifest_put), Some(&1), "{hits:?}");
    let fallback = vouch_core::referrers::fallback_tag(&subject);
    assert!(
        !hits.keys().any(|k| k.ends_with(&fallback)),
        "the fallback index was touched although the API exists: {hits:?}"
    );
}

/// cosign 3's `cosign sign` (issue 13, defect 1): the bundle referrer's in-toto statement of type
/// `https://sigstore.dev/cosign/sign/v1` has no `predicate` at all and a subject without a name,
/// exactly as cosign writes it (the real one is the corpus case
/// sigstore-rs/cosign3-sign-bundle-v0.3). Here with a key so it can be attached to our own image:
/// `verify`, the policy gate and `promote` accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosign3_signature_without_predicate_verifies_judges_and_promotes() {
    use vouch_core::bundle::Bundle;
    use vouch_core::keys::SigningKey;
    use vouch_core::payload::dsse::{Envelope, pae_digest};
    use vouch_core::payload::intoto::INTOTO_PAYLOAD_TYPE;
    use vouch_core::referrers::COSIGN_SIGN_PREDICATE;

    use crate::support::{run, vouch};

    let dir = tempfile::tempdir().unwrap();
    let layout_dir = dir.path().join("layout");
    let image = layout_image(&layout_dir, "v1");
    let key = SigningKey::generate().unwrap();
    std::fs::write(dir.path().join("k.pub"), key.public_key().to_pem()).unwrap();
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}}}}],"predicateType":"{COSIGN_SIGN_PREDICATE}"}}"#,
        image.hex()
    );
    let sig = key
        .sign_digest(&pae_digest(INTOTO_PAYLOAD_TYPE, statement.as_bytes()))
        .unwrap();
    let envelope = Envelope::new(
        INTOTO_PAYLOAD_TYPE,
        statement.into_bytes(),
        sig.as_der().to_vec(),
    );
    let bundle = Bundle::dsse_v03(&key.public_key(), &envelope);
    let manifest = std::fs::read(layout_dir.join("blobs/sha256").join(image.hex())).unwrap();
    let subject = Descriptor::of(OCI_MANIFEST, &manifest);
    assert_eq!(subject.digest, image);
    let r = referrer(
        subject,
        Bytes::from(bundle),
        COSIGN_SIGN_PREDICATE,
        "2026-11-30T00:00:00Z",
    );
    let target = Target::Layout(Layout::open(&layout_dir).unwrap());
    for res in attach_referrers(&target, &[(image, r)], fast(), &OciLimits::default(), 1).await {
        assert_eq!(res.unwrap(), AttachOutcome::Added);
    }

    let reference = format!("oci:{}@{image}", layout_dir.display());
    let out = run(vouch()
        .current_dir(dir.path())
        .args(["verify", "--key", "k.pub", &reference]));
    assert_eq!(out.code, 0, "{out:?}");
    std::fs::write(
        dir.path().join("policy.yaml"),
        "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities: [{key: k.pub}]\n",
    )
    .unwrap();
    let out = run(vouch().current_dir(dir.path()).args([
        "verify",
        "--policy",
        "policy.yaml",
        &reference,
    ]));
    assert_eq!(out.code, 0, "{out:?}");
    let dst = format!("oci:{}:v1", dir.path().join("promoted").display());
    let out = run(vouch().current_dir(dir.path()).args([
        "promote",
        "--policy",
        "policy.yaml",
        &reference,
        &dst,
    ]));
    assert_eq!(out.code, 0, "{out:?}");
    let promoted = format!("oci:{}@{image}", dir.path().join("promoted").display());
    let out = run(vouch()
        .current_dir(dir.path())
        .args(["verify", "--key", "k.pub", &promoted]));
    assert_eq!(out.code, 0, "{out:?}");
}
