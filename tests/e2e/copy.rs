//! The copy engine (vouch_verify::promote::copy) between two real registries and OCI layouts: signatures,
//! attestations and referrers travel with the image and verify at the destination; indexes
//! bring their platforms' own signatures; the air-gap round trip through a layout; idempotence;
//! resuming after a failure midway; a lying source is rejected before anything is tagged; a
//! destination's own signatures are kept.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use vouch_core::Classify as _;
use vouch_core::ErrorClass;
use vouch_core::cosign::SettleOptions;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::Target;
use vouch_core::oci::layout::Layout;
use vouch_core::oci::manifest::{Descriptor, ImageManifest, OCI_CONFIG, OCI_MANIFEST, to_bytes};
use vouch_core::oci::registry::{Access, RegistryClient, RegistryOptions, RetryPolicy};
use vouch_verify::promote::copy::{
    BlobOutcome, BlobRecord, CopyError, CopyOptions, CopyPlan, CopyProgress, CopyReport,
    ManifestOutcome, ManifestRole, NoProgress, execute_copy,
};

use crate::support::image::{bulk, client, layout_image, push_image, push_index, registry_ref};
use crate::support::proxy::FaultProxy;
use crate::support::registry::Registry;
use crate::support::{Run, run, vouch, workspace};

// ---- helpers -------------------------------------------------------------------------------

/// The engine copies only admitted images: these tests admit with an allow-all policy.
async fn admitted(src: &Target, digest: &Sha256Digest) -> vouch_verify::policy::Admission {
    use vouch_verify::policy::{Decision, ImageSource, Policy, admit};
    let policy = Policy::parse(
        b"version: 1\ndefault: allow\nimages: []\n",
        "allow-all.yaml",
        Path::new("."),
    )
    .unwrap();
    let image = ImageSource {
        name: "copy-test".into(),
        digest: *digest,
        attachments: src,
        referrers: src,
    };
    match admit(&policy, &image, 0, &vouch_core::oci::OciLimits::default())
        .await
        .unwrap()
    {
        Decision::Allowed(a) => a,
        Decision::Denied(v) => panic!("allow-all policy denied {}", v.digest),
    }
}

/// [`vouch_verify::promote::copy::copy_image`] of a digest, admitted first.
async fn copy_image(
    src: &Target,
    digest: &Sha256Digest,
    dst: &Target,
    tag: Option<&str>,
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Result<CopyReport, CopyError> {
    let a = admitted(src, digest).await;
    vouch_verify::promote::copy::copy_image(src, &a, dst, tag, opts, progress).await
}

/// [`vouch_verify::promote::copy::plan_copy`] of a digest, admitted first.
async fn plan_copy(
    src: &Target,
    digest: &Sha256Digest,
    opts: &CopyOptions,
) -> Result<CopyPlan, CopyError> {
    let a = admitted(src, digest).await;
    vouch_verify::promote::copy::plan_copy(src, &a, opts).await
}

fn target(c: &Arc<RegistryClient>, host: &str, repo: &str) -> Target {
    Target::registry(c.clone(), &registry_ref(host, repo))
}

fn layout_target(dir: &Path) -> Target {
    Target::Layout(Layout::open_or_create(dir).unwrap())
}

/// Small chunks so that every streamed blob of these tests takes several `PATCH`es, and a
/// short settle time.
fn opts() -> CopyOptions {
    CopyOptions {
        settle: SettleOptions {
            window: Duration::from_millis(100),
            settle: Duration::from_millis(250),
            rounds: 20,
        },
        chunk_size: 256 << 10,
        ..CopyOptions::default()
    }
}

/// vouch with the password `pw`, a short settle time, in `dir`.
fn vouch_run(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = vouch();
    cmd.current_dir(dir)
        .env("VOUCH_PASSWORD", "pw")
        .env("VOUCH_SETTLE_MS", "200")
        .env_remove("VOUCH_REPOSITORY")
        .env_remove("COSIGN_REPOSITORY")
        .args(args);
    run(&mut cmd)
}

fn keys(dir: &Path) {
    vouch_run(dir, &["generate-key-pair"]).ok();
    vouch_run(dir, &["generate-key-pair", "--output-key-prefix", "other"]).ok();
}

fn sign(dir: &Path, key: &str, format: &str, image: &str) {
    vouch_run(
        dir,
        &[
            "sign",
            "--format",
            format,
            "--key",
            &format!("{key}.key"),
            image,
        ],
    )
    .ok();
}

/// Attests the example SBOM (`cyclonedx`) or scan report (`vuln`) shipped in examples/.
fn attest(dir: &Path, format: &str, kind: &str, image: &str) {
    let file = match kind {
        "cyclonedx" => workspace().join("examples/sbom.cdx.json"),
        "vuln" => workspace().join("examples/scan.trivy.json"),
        other => panic!("no example for {other}"),
    };
    vouch_run(
        dir,
        &[
            "attest",
            "--format",
            format,
            "--key",
            "vouch.key",
            "--type",
            kind,
            "--predicate",
            file.to_str().unwrap(),
            image,
        ],
    )
    .ok();
}

fn verify(dir: &Path, key: &str, image: &str) -> Run {
    vouch_run(
        dir,
        &[
            "verify",
            "--key",
            &format!("{key}.pub"),
            "--output",
            "json",
            image,
        ],
    )
}

fn verify_attestation(dir: &Path, kind: &str, image: &str) -> Run {
    vouch_run(
        dir,
        &[
            "verify-attestation",
            "--key",
            "vouch.pub",
            "--type",
            kind,
            image,
        ],
    )
}

/// Signed in both formats, with an attestation in each: (signatures, attestations) verified
/// by `vouch verify` / `verify-attestation` at `image`.
fn sign_and_attest_both_formats(dir: &Path, image: &str) {
    sign(dir, "vouch", "legacy", image);
    sign(dir, "vouch", "bundle", image);
    attest(dir, "legacy", "cyclonedx", image);
    attest(dir, "bundle", "vuln", image);
}

fn check_verifies_both_formats(dir: &Path, image: &str) {
    let out = verify(dir, "vouch", image).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let sigs = doc[0]["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "one .sig layer and one bundle: {doc:#}");
    verify_attestation(dir, "cyclonedx", image).ok();
    verify_attestation(dir, "vuln", image).ok();
}

/// An image with two layers of `size` bytes each, pushed as `host/repo:tag`.
async fn push_big_image(
    c: &RegistryClient,
    host: &str,
    repo: &str,
    tag: &str,
    size: usize,
) -> Sha256Digest {
    let r = registry_ref(host, repo);
    let layers: Vec<Vec<u8>> = (0..2)
        .map(|i| bulk(&format!("{host}/{repo}:{tag}/{i}"), size))
        .collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        Sha256Digest::of(&layers[0]),
        Sha256Digest::of(&layers[1])
    )
    .into_bytes();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(OCI_CONFIG, &config),
        layers: layers
            .iter()
            .map(|l| Descriptor::of("application/vnd.oci.image.layer.v1.tar", l))
            .collect(),
        subject: None,
        annotations: BTreeMap::new(),
        other: Default::default(),
    };
    c.put_blob(&r, Bytes::from(config)).await.unwrap();
    for l in layers {
        c.put_blob(&r, Bytes::from(l)).await.unwrap();
    }
    c.put_manifest(&r, tag, Bytes::from(to_bytes(&manifest)), OCI_MANIFEST)
        .await
        .unwrap()
}

/// Counts the progress events.
#[derive(Default)]
struct Counting {
    started: AtomicU64,
    bytes: AtomicU64,
    done: AtomicU64,
    manifests: AtomicU64,
}

impl CopyProgress for Counting {
    fn blob_started(&self, _desc: &Descriptor) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }
    fn blob_bytes(&self, _digest: &Sha256Digest, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    fn blob_done(&self, _record: &BlobRecord) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
    fn manifest_done(&self, _record: &vouch_verify::promote::copy::ManifestRecord) {
        self.manifests.fetch_add(1, Ordering::Relaxed);
    }
}

fn roles(report: &CopyReport, role: ManifestRole) -> usize {
    report.manifests.iter().filter(|m| m.role == role).count()
}

/// A second run over a complete copy: every blob skipped, every manifest present, nothing
/// written.
fn assert_nothing_to_do(report: &CopyReport) {
    assert!(
        report
            .blobs
            .iter()
            .all(|b| b.outcome == BlobOutcome::Skipped),
        "{report:#?}"
    );
    assert!(
        report
            .manifests
            .iter()
            .all(|m| m.outcome == ManifestOutcome::Present),
        "{report:#?}"
    );
    if let Some(t) = &report.tag {
        assert_eq!(t.outcome, ManifestOutcome::Present);
    }
}

// ---- tests ---------------------------------------------------------------------------------

/// registry → registry: the image, its `.sig`/`.att` (legacy) and its bundle referrers arrive,
/// verify at the destination by tag; the second run skips every blob and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_to_registry_with_signatures_and_attestations() {
    let (a, b) = (Registry::start(), Registry::start());
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let digest = push_big_image(&c, &a.host(), "staging/app", "v1", 600 << 10).await;
    let src_image = format!("{}/staging/app@{digest}", a.host());
    sign_and_attest_both_formats(dir.path(), &src_image);

    let src = target(&c, &a.host(), "staging/app");
    let dst = target(&c, &b.host(), "prod/app");
    let progress = Counting::default();
    let started = Instant::now();
    let report = copy_image(&src, &digest, &dst, Some("v1"), &opts(), &progress)
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!(
        "copied {} blobs ({} bytes), {} manifests in {took:?}",
        report.blobs.len(),
        report.bytes_copied(),
        report.manifests.len()
    );
    // What travelled: the image, one .sig and one .att manifest, two bundle referrers.
    assert_eq!(roles(&report, ManifestRole::Image), 1);
    assert_eq!(roles(&report, ManifestRole::Signatures), 1);
    assert_eq!(roles(&report, ManifestRole::Attestations), 1);
    assert_eq!(roles(&report, ManifestRole::Referrer), 2);
    assert!(
        report
            .blobs
            .iter()
            .all(|b| b.outcome == BlobOutcome::Copied),
        "{report:#?}"
    );
    assert_eq!(
        report.tag.as_ref().unwrap().outcome,
        ManifestOutcome::Written
    );
    // The progress events add up.
    assert_eq!(
        progress.started.load(Ordering::Relaxed),
        report.blobs.len() as u64
    );
    assert_eq!(
        progress.done.load(Ordering::Relaxed),
        report.blobs.len() as u64
    );
    assert_eq!(
        progress.bytes.load(Ordering::Relaxed),
        report.bytes_copied()
    );
    assert_eq!(
        progress.manifests.load(Ordering::Relaxed),
        report.manifests.len() as u64
    );
    // The JSON summary names digests as strings.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["digest"], digest.to_string());
    assert_eq!(json["tag"]["tag"], "v1");

    // At the destination, by tag: the same digest, every signature and attestation verifies.
    let dst_image = format!("{}/prod/app:v1", b.host());
    let out = verify(dir.path(), "vouch", &dst_image).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc[0]["digest"], digest.to_string());
    check_verifies_both_formats(dir.path(), &dst_image);

    // Idempotent: nothing left to do.
    let again = copy_image(&src, &digest, &dst, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(again.blobs.len(), report.blobs.len());
    assert_nothing_to_do(&again);
    assert_eq!(again.bytes_copied(), 0);
}

/// Within one registry, another repository: blobs are mounted, not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_registry_mounts_blobs() {
    let a = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let digest = push_big_image(&c, &a.host(), "team/app", "v1", 300 << 10).await;
    sign(
        dir.path(),
        "vouch",
        "legacy",
        &format!("{}/team/app@{digest}", a.host()),
    );
    let src = target(&c, &a.host(), "team/app");
    let dst = target(&c, &a.host(), "mirror/app");
    let report = copy_image(&src, &digest, &dst, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap();
    assert!(
        report
            .blobs
            .iter()
            .all(|b| b.outcome == BlobOutcome::Mounted),
        "{report:#?}"
    );
    assert_eq!(report.bytes_copied(), 0);
    verify(dir.path(), "vouch", &format!("{}/mirror/app:v1", a.host())).ok();
}

/// An index of two platforms, each signed on its own (one per format), and the index signed:
/// all of it arrives; `verify --recursive` passes at the destination; the platform manifests
/// are written before the index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_brings_each_platform_signature() {
    let (a, b) = (Registry::start(), Registry::start());
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let (index, platforms) = push_index(&c, &a.host(), "multi/app", "v2").await;
    let at = |d: &Sha256Digest| format!("{}/multi/app@{d}", a.host());
    sign(dir.path(), "vouch", "legacy", &at(&index));
    sign(dir.path(), "vouch", "legacy", &at(&platforms[0]));
    sign(dir.path(), "vouch", "bundle", &at(&platforms[1]));
    attest(dir.path(), "bundle", "cyclonedx", &at(&platforms[0]));

    let src = target(&c, &a.host(), "multi/app");
    let dst = target(&c, &b.host(), "release/app");
    let report = copy_image(&src, &index, &dst, Some("v2"), &opts(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(roles(&report, ManifestRole::Index), 1);
    assert_eq!(roles(&report, ManifestRole::Platform), 2);
    assert_eq!(roles(&report, ManifestRole::Signatures), 2);
    assert_eq!(roles(&report, ManifestRole::Referrer), 2);
    // Children before the index.
    let pos = |d: &Sha256Digest| {
        report
            .manifests
            .iter()
            .position(|m| &m.digest == d)
            .unwrap()
    };
    assert!(pos(&platforms[0]) < pos(&index) && pos(&platforms[1]) < pos(&index));
    // The referrers (a bundle signature, a bundle attestation) are each attached to their own
    // platform.
    let mut subjects: Vec<_> = report
        .manifests
        .iter()
        .filter(|m| m.role == ManifestRole::Referrer)
        .map(|m| m.subject.unwrap())
        .collect();
    subjects.sort();
    let mut expected = platforms.clone();
    expected.sort();
    assert_eq!(subjects, expected);

    let dst_tag = format!("{}/release/app:v2", b.host());
    verify(dir.path(), "vouch", &dst_tag).ok();
    vouch_run(
        dir.path(),
        &["verify", "--key", "vouch.pub", "--recursive", &dst_tag],
    )
    .ok();
    let bt = |d: &Sha256Digest| format!("{}/release/app@{d}", b.host());
    verify(dir.path(), "vouch", &bt(&platforms[0])).ok();
    verify(dir.path(), "vouch", &bt(&platforms[1])).ok();
    verify_attestation(dir.path(), "cyclonedx", &bt(&platforms[0])).ok();
    // The second platform has no attestation there either.
    verify_attestation(dir.path(), "cyclonedx", &bt(&platforms[1])).code(1);

    let again = copy_image(&src, &index, &dst, Some("v2"), &opts(), &NoProgress)
        .await
        .unwrap();
    assert_nothing_to_do(&again);
}

/// The air-gapped story: registry → OCI layout (verified there, as on a disk carried over) →
/// another registry, verified at the end. Streams in every direction; no temporary file left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn air_gap_round_trip_through_a_layout() {
    let (a, b) = (Registry::start(), Registry::start());
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let digest = push_big_image(&c, &a.host(), "build/app", "v3", 700 << 10).await;
    sign_and_attest_both_formats(dir.path(), &format!("{}/build/app@{digest}", a.host()));

    // Out to a layout.
    let disk = dir.path().join("carry");
    let layout = layout_target(&disk);
    let out = copy_image(
        &target(&c, &a.host(), "build/app"),
        &digest,
        &layout,
        Some("v3"),
        &opts(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(out.bytes_copied() > 1400 << 10);
    let leftovers: Vec<_> = std::fs::read_dir(disk.join("blobs/sha256"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let on_disk = format!("oci:{}:v3", disk.display());
    check_verifies_both_formats(dir.path(), &on_disk);

    // In from the layout, to the other registry (a fresh client: the other side).
    let other_side = client();
    let carried = Target::Layout(Layout::open(&disk).unwrap());
    let dst = target(&other_side, &b.host(), "prod/app");
    let plan = plan_copy(&carried, &digest, &opts()).await.unwrap();
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    assert_eq!(
        plan.total_bytes(),
        out.blobs.iter().map(|b| b.size).sum::<u64>()
    );
    let back = execute_copy(&plan, &dst, Some("prod"), &opts(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(back.bytes_copied(), out.bytes_copied());
    let dst_image = format!("{}/prod/app:prod", b.host());
    check_verifies_both_formats(dir.path(), &dst_image);

    // Layout → layout, without a tag: an untagged entry makes the image findable.
    let copy2 = dir.path().join("copy2");
    copy_image(
        &carried,
        &digest,
        &layout_target(&copy2),
        None,
        &opts(),
        &NoProgress,
    )
    .await
    .unwrap();
    check_verifies_both_formats(dir.path(), &format!("oci:{}", copy2.display()));
}

/// The registry fails midway: first a layer's upload, then the tag. Each time the copy stops
/// with a registry error and the destination tag is not written; what was written is
/// complete; the next run completes the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_a_failure_midway() {
    let (a, b) = (Registry::start(), Registry::start());
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let digest = push_big_image(&c, &a.host(), "app", "v1", 500 << 10).await;
    sign(
        dir.path(),
        "vouch",
        "legacy",
        &format!("{}/app@{digest}", a.host()),
    );
    sign(
        dir.path(),
        "vouch",
        "bundle",
        &format!("{}/app@{digest}", a.host()),
    );
    let src = target(&c, &a.host(), "app");
    let plan = plan_copy(&src, &digest, &opts()).await.unwrap();
    let layer = plan
        .blobs()
        .find(|d| d.size > 400 << 10)
        .unwrap()
        .digest
        .hex();

    // Phase 1: the commit of one layer fails.
    let phase = Arc::new(AtomicU8::new(1));
    let p = phase.clone();
    let proxy = FaultProxy::start(b.host(), move |method, path| {
        match p.load(Ordering::SeqCst) {
            1 => method == "PUT" && path.contains("/blobs/uploads/") && path.contains(&layer),
            2 => method == "PUT" && path.ends_with("/manifests/v1"),
            _ => false,
        }
    });
    let flaky = Arc::new(
        RegistryClient::new(RegistryOptions {
            retry: RetryPolicy {
                retries: 0,
                ..RetryPolicy::default()
            },
            ..Default::default()
        })
        .unwrap(),
    );
    let via_proxy = target(&flaky, &proxy.host, "prod/app");
    let direct = target(&c, &b.host(), "prod/app");
    let err = execute_copy(&plan, &via_proxy, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Registry, "{err}");
    assert!(err.to_string().contains("run the copy again"), "{err}");
    assert_eq!(direct.tag_digest("v1", Access::Pull).await.unwrap(), None);
    // No manifest was written before all its blobs.
    assert!(!direct.has_manifest(&digest, Access::Pull).await.unwrap());

    // Phase 2: everything but the tag goes through.
    phase.store(2, Ordering::SeqCst);
    let err = execute_copy(&plan, &via_proxy, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Registry, "{err}");
    assert_eq!(direct.tag_digest("v1", Access::Pull).await.unwrap(), None);
    assert!(direct.has_manifest(&digest, Access::Pull).await.unwrap());

    // Phase 3: the registry is well again; the copy completes, skipping what is there.
    phase.store(3, Ordering::SeqCst);
    let report = execute_copy(&plan, &via_proxy, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap();
    assert!(
        report
            .blobs
            .iter()
            .all(|b| b.outcome == BlobOutcome::Skipped),
        "{report:#?}"
    );
    assert_eq!(
        report.tag.as_ref().unwrap().outcome,
        ManifestOutcome::Written
    );
    let out = verify(dir.path(), "vouch", &format!("{}/prod/app:v1", b.host())).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc[0]["signatures"].as_array().unwrap().len(), 2);
}

/// A source whose blob is not what its manifest names: in a layout (same size, other bytes;
/// then more bytes) and in a registry's storage. The copy fails as a verification failure;
/// the blob is not stored at the destination and nothing is tagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_source_is_rejected_and_nothing_is_tagged() {
    let (a, b) = (Registry::start(), Registry::start());
    let dir = tempfile::tempdir().unwrap();
    let c = client();

    // A layout with a tampered layer.
    let src_dir = dir.path().join("src");
    let digest = layout_image(&src_dir, "v1");
    let src = Target::Layout(Layout::open(&src_dir).unwrap());
    let plan = plan_copy(&src, &digest, &opts()).await.unwrap();
    let layer = plan
        .blobs()
        .find(|d| d.media_type.contains("layer"))
        .unwrap()
        .clone();
    let file = src_dir.join("blobs/sha256").join(layer.digest.hex());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();

    let dst = target(&c, &b.host(), "prod/app");
    let dst_dir = dir.path().join("dst");
    let dst_layout = layout_target(&dst_dir);
    for to in [&dst, &dst_layout] {
        let err = copy_image(&src, &digest, to, Some("v1"), &opts(), &NoProgress)
            .await
            .unwrap_err();
        assert!(matches!(err, CopyError::BlobMismatch { .. }), "{err}");
        assert_eq!(err.class(), ErrorClass::Verification);
        assert!(err.to_string().contains(&layer.digest.to_string()), "{err}");
        assert_eq!(to.tag_digest("v1", Access::Pull).await.unwrap(), None);
        assert!(!to.has_blob(&layer.digest, Access::Pull).await.unwrap());
        assert!(!to.has_manifest(&digest, Access::Pull).await.unwrap());
    }
    // No temporary file left in the destination layout.
    let names: Vec<_> = std::fs::read_dir(dst_dir.join("blobs/sha256"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    // More bytes than the descriptor says.
    bytes[0] ^= 0x20;
    bytes.extend_from_slice(b"trailing bytes");
    std::fs::write(&file, &bytes).unwrap();
    let err = copy_image(&src, &digest, &dst, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Verification, "{err}");
    assert_eq!(dst.tag_digest("v1", Access::Pull).await.unwrap(), None);

    // A registry whose stored layer was altered (large enough to be sent in several chunks).
    let digest = push_big_image(&c, &a.host(), "app", "v1", 600 << 10).await;
    let src = target(&c, &a.host(), "app");
    let plan = plan_copy(&src, &digest, &opts()).await.unwrap();
    let layer = plan.blobs().find(|d| d.size > 500 << 10).unwrap().clone();
    let hex = layer.digest.hex();
    let data = a
        .storage()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(&hex)
        .join("data");
    let mut stored = std::fs::read(&data).unwrap();
    let last = stored.len() - 1;
    stored[last] ^= 1; // the very last byte: only the full hash can tell
    std::fs::write(&data, &stored).unwrap();
    let err = execute_copy(&plan, &dst, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, CopyError::BlobMismatch { .. }), "{err}");
    assert_eq!(dst.tag_digest("v1", Access::Pull).await.unwrap(), None);
    assert!(!dst.has_blob(&layer.digest, Access::Pull).await.unwrap());
    assert!(!dst.has_manifest(&digest, Access::Pull).await.unwrap());
}

/// The destination already holds other signatures for the image, in its `.sig` tag and as a
/// bundle referrer: after the copy both its own and the source's verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_keeps_its_own_signatures() {
    let (a, b) = (Registry::start(), Registry::start());
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let digest = push_image(&c, &a.host(), "app", "v1").await;
    let src_image = format!("{}/app@{digest}", a.host());
    sign(dir.path(), "vouch", "legacy", &src_image);
    sign(dir.path(), "vouch", "bundle", &src_image);

    // The image reached the destination earlier, without attachments, and was signed there
    // with another key, in both formats.
    let src = target(&c, &a.host(), "app");
    let dst = target(&c, &b.host(), "prod/app");
    let bare = CopyOptions {
        attachments: false,
        ..opts()
    };
    let first = copy_image(&src, &digest, &dst, None, &bare, &NoProgress)
        .await
        .unwrap();
    assert!(
        first
            .manifests
            .iter()
            .all(|m| m.role == ManifestRole::Image)
    );
    let dst_image = format!("{}/prod/app@{digest}", b.host());
    sign(dir.path(), "other", "legacy", &dst_image);
    sign(dir.path(), "other", "bundle", &dst_image);
    verify(dir.path(), "vouch", &dst_image).code(1);
    let src_sig = src
        .tag_digest(
            &vouch_core::cosign::Attachment::Signatures.tag(&digest),
            Access::Pull,
        )
        .await
        .unwrap()
        .unwrap();

    let report = copy_image(&src, &digest, &dst, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap();
    let sig = report
        .manifests
        .iter()
        .find(|m| m.role == ManifestRole::Signatures)
        .unwrap();
    assert_eq!(sig.outcome, ManifestOutcome::Merged);
    for key in ["vouch", "other"] {
        let out = verify(dir.path(), key, &dst_image).ok();
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            doc[0]["signatures"].as_array().unwrap().len(),
            2,
            "{key}: {doc:#}"
        );
    }
    // The merged tag holds both layers: running again changes nothing.
    let again = copy_image(&src, &digest, &dst, Some("v1"), &opts(), &NoProgress)
        .await
        .unwrap();
    assert_nothing_to_do(&again);
    // The source is untouched: its `.sig` tag still holds its one signature.
    let sig_tag = vouch_core::cosign::Attachment::Signatures.tag(&digest);
    assert_eq!(
        src.tag_digest(&sig_tag, Access::Pull).await.unwrap(),
        Some(src_sig)
    );
    verify(dir.path(), "other", &src_image).code(1);
}

/// `.sig`/`.att` tags kept in another repository (`VOUCH_REPOSITORY`) on both sides: they are
/// read from the source's and written to the destination's; referrers stay beside the image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_in_another_repository() {
    let (a, b) = (Registry::start(), Registry::start());
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let c = client();
    let digest = push_image(&c, &a.host(), "app", "v1").await;
    let with_repo = |repo: String, args: &[&str]| {
        let mut cmd = vouch();
        cmd.current_dir(dir.path())
            .env("VOUCH_PASSWORD", "pw")
            .env("VOUCH_SETTLE_MS", "200")
            .env("VOUCH_REPOSITORY", repo)
            .args(args);
        run(&mut cmd)
    };
    let src_image = format!("{}/app@{digest}", a.host());
    with_repo(
        format!("{}/signatures", a.host()),
        &[
            "sign",
            "--format",
            "legacy",
            "--key",
            "vouch.key",
            &src_image,
        ],
    )
    .ok();
    sign(dir.path(), "vouch", "bundle", &src_image);

    let o = CopyOptions {
        source_attachments: Some(target(&c, &a.host(), "signatures")),
        destination_attachments: Some(target(&c, &b.host(), "prod/signatures")),
        ..opts()
    };
    let report = copy_image(
        &target(&c, &a.host(), "app"),
        &digest,
        &target(&c, &b.host(), "prod/app"),
        Some("v1"),
        &o,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(roles(&report, ManifestRole::Signatures), 1);
    assert_eq!(roles(&report, ManifestRole::Referrer), 1);
    let dst_image = format!("{}/prod/app:v1", b.host());
    let out = with_repo(
        format!("{}/prod/signatures", b.host()),
        &[
            "verify",
            "--key",
            "vouch.pub",
            "--output",
            "json",
            &dst_image,
        ],
    )
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc[0]["signatures"].as_array().unwrap().len(), 2, "{doc:#}");
    // Not beside the image: there only the bundle is found.
    let out = verify(dir.path(), "vouch", &dst_image).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc[0]["signatures"].as_array().unwrap().len(), 1, "{doc:#}");
}

/// The caller resolves the source tag once and copies that digest: the tag moving in between
/// (another image pushed under it) changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_source_tag_after_resolution_changes_nothing() {
    let (a, b) = (Registry::start(), Registry::start());
    let c = client();
    let first = push_image(&c, &a.host(), "app", "latest").await;
    let resolved = vouch_core::oci::resolve(
        &format!("{}/app:latest", a.host()).parse().unwrap(),
        &c,
        Access::Pull,
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(resolved.digest, first);
    // Another process moves the tag.
    let moved = push_big_image(&c, &a.host(), "app", "latest", 1000).await;
    assert_ne!(moved, first);
    let dst = target(&c, &b.host(), "app");
    let report = copy_image(
        &resolved.target,
        &resolved.digest,
        &dst,
        Some("latest"),
        &opts(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(report.digest, first);
    assert_eq!(
        dst.tag_digest("latest", Access::Pull).await.unwrap(),
        Some(first)
    );
    assert!(!dst.has_manifest(&moved, Access::Pull).await.unwrap());
}

/// A digest the source does not hold is an input error naming it; nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_digest_is_an_input_error() {
    let b = Registry::start();
    let c = client();
    let dir = tempfile::tempdir().unwrap();
    let src_dir = dir.path().join("src");
    layout_image(&src_dir, "v1");
    let missing = Sha256Digest::of(b"not there");
    let err = copy_image(
        &Target::Layout(Layout::open(&src_dir).unwrap()),
        &missing,
        &target(&c, &b.host(), "app"),
        Some("v1"),
        &opts(),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Input, "{err}");
    assert!(err.to_string().contains(&missing.to_string()), "{err}");
}
