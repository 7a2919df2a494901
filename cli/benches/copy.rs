//! Benchmark (not a test): the copy engine on a 200 MB image of 5 layers between two local
//! docker-registry instances, then to an OCI layout and back, with default options; the peak
//! memory added by the copies shows the blobs are streamed, not held. Prints figures (and
//! skopeo's time on the same image when skopeo is installed); asserts nothing about speed.
//!
//!     cargo bench -p vouch --bench copy
//!
//! `scripts/bench-promote` measures the whole `vouch promote` against skopeo.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub,
    dead_code
)]

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use support::image::{bulk, client, registry_ref};
use support::registry::Registry;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::Target;
use vouch_core::oci::layout::Layout;
use vouch_core::oci::manifest::{Descriptor, ImageManifest, OCI_CONFIG, OCI_MANIFEST, to_bytes};
use vouch_verify::promote::copy::{CopyError, CopyOptions, CopyProgress, CopyReport, NoProgress};

fn target(
    c: &std::sync::Arc<vouch_core::oci::registry::RegistryClient>,
    host: &str,
    repo: &str,
) -> Target {
    Target::registry(c.clone(), &registry_ref(host, repo))
}

/// The engine copies only admitted images: admitted here by an allow-all policy.
async fn copy_image(
    src: &Target,
    digest: &Sha256Digest,
    dst: &Target,
    tag: Option<&str>,
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Result<CopyReport, CopyError> {
    use vouch_verify::policy::{Decision, ImageSource, Policy, admit};
    let policy = Policy::parse(
        b"version: 1\ndefault: allow\nimages: []\n",
        "allow-all.yaml",
        std::path::Path::new("."),
    )
    .unwrap();
    let image = ImageSource {
        name: "bench".into(),
        digest: *digest,
        attachments: src,
        referrers: src,
    };
    let Decision::Allowed(a) = admit(&policy, &image, 0, &opts.limits).await.unwrap() else {
        panic!("denied");
    };
    vouch_verify::promote::copy::copy_image(src, &a, dst, tag, opts, progress).await
}

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let (a, b) = (Registry::start(), Registry::start());
    let c = client();
    let r = registry_ref(&a.host(), "big/app");
    let mut layers = Vec::new();
    for i in 0..5 {
        // One layer in memory at a time.
        let l = bulk(&format!("big layer {i}"), 40 << 20);
        layers.push(Descriptor::of("application/vnd.oci.image.layer.v1.tar", &l));
        c.put_blob(&r, Bytes::from(l)).await.unwrap();
    }
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    c.put_blob(&r, Bytes::from_static(config)).await.unwrap();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(OCI_CONFIG, config),
        layers,
        subject: None,
        annotations: BTreeMap::new(),
        other: Default::default(),
    };
    let digest = c
        .put_manifest(&r, "v1", Bytes::from(to_bytes(&manifest)), OCI_MANIFEST)
        .await
        .unwrap();
    let before = peak_rss_kib();
    let o = CopyOptions::default();
    let src = target(&c, &a.host(), "big/app");
    let t = Instant::now();
    let rep = copy_image(
        &src,
        &digest,
        &target(&c, &b.host(), "big/app"),
        Some("v1"),
        &o,
        &NoProgress,
    )
    .await
    .unwrap();
    let reg = t.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    copy_image(
        &src,
        &digest,
        &Target::Layout(Layout::open_or_create(dir.path()).unwrap()),
        Some("v1"),
        &o,
        &NoProgress,
    )
    .await
    .unwrap();
    let to_layout = t.elapsed();
    let t = Instant::now();
    copy_image(
        &Target::Layout(Layout::open(dir.path()).unwrap()),
        &digest,
        &target(&c, &b.host(), "again/app"),
        Some("v1"),
        &o,
        &NoProgress,
    )
    .await
    .unwrap();
    let from_layout = t.elapsed();
    let t = Instant::now();
    copy_image(
        &src,
        &digest,
        &target(&c, &b.host(), "big/app"),
        Some("v1"),
        &o,
        &NoProgress,
    )
    .await
    .unwrap();
    let noop = t.elapsed();
    let after = peak_rss_kib();
    // skopeo (which verifies nothing), when installed, on the same image to a fresh repository.
    let t = Instant::now();
    let skopeo = std::process::Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{}/big/app:v1", a.host()),
            &format!("docker://{}/skopeo/app:v1", b.host()),
        ])
        .status();
    match skopeo {
        Ok(s) if s.success() => println!("skopeo copy registry→registry: {:?}", t.elapsed()),
        other => eprintln!("skopeo not run: {other:?}"),
    }
    println!(
        "200 MB image, 5 layers ({} bytes): registry→registry {reg:?}, registry→layout \
         {to_layout:?}, layout→registry {from_layout:?}, second run (all skipped) {noop:?}; \
         peak RSS {before} KiB before the copies, {after} KiB after (+{} KiB)",
        rep.bytes_copied(),
        after.saturating_sub(before)
    );
}
