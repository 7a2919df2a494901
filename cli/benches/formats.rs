//! Benchmark (not a test): a digest-pinned verify of an image with one signature and three
//! attestations, in cosign 3's bundle format and in the tag format, against a local
//! docker-registry (no referrers API: the fallback index) and a local ferro-oci-server (the OCI
//! 1.1 referrers API). Prints, per registry and format, the time of `vouch sign` of the one image,
//! the registry round trips (counted by a pass-through proxy) and the median wall time of `vouch
//! verify` + `vouch verify-attestation` (direct, no proxy).
//!
//!     cargo bench -p vouch --bench formats [-- RUNS]
//!
//! Issue 6: cosign 3 lists all referrers and fetches each serially (2 + 2N round trips).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub,
    dead_code
)]

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn vouch(dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(dir)
        .env("VOUCH_PASSWORD", "bench")
        .args(args)
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "vouch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = support::image::client();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vouch(d, &["generate-key-pair"]);
    let examples = support::workspace().join("examples");
    let sbom = examples.join("sbom.cdx.json");
    let scan = examples.join("scan.trivy.json");
    std::fs::write(d.join("custom.json"), br#"{"reviewed":true}"#).unwrap();

    println!(
        "one signature + three attestations (cyclonedx, vuln, custom), digest-pinned, registries on loopback, median of {runs}"
    );
    println!(
        "registry          format   sign (1 image)  round trips (verify + verify-attestation)   wall time (verify + verify-attestation)"
    );
    use support::registry::{Registry, RegistryKind};
    let mut promotes = Vec::new();
    for (name, kind) in [
        ("docker-registry", RegistryKind::Distribution),
        ("ferro-oci-server", RegistryKind::ReferrersApi),
    ] {
        let reg = Registry::start_kind(kind);
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let proxy = support::proxy::FaultProxy::start(reg.host(), move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            false
        });
        for format in ["bundle", "legacy"] {
            let repo = format!("bench/{format}");
            let digest = rt.block_on(support::image::push_image(
                &client,
                &reg.host(),
                &repo,
                "v1",
            ));
            let image = format!("{}/{repo}@{digest}", reg.host());
            let sign = vouch(
                d,
                &["sign", "--format", format, "--key", "vouch.key", &image],
            );
            for (kind, file) in [
                ("cyclonedx", sbom.as_path()),
                ("vuln", scan.as_path()),
                ("custom", d.join("custom.json").as_path()),
            ] {
                vouch(
                    d,
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
                        &image,
                    ],
                );
            }
            let via_proxy = format!("{}/{repo}@{digest}", proxy.host);
            let mut trips = Vec::new();
            for cmd in ["verify", "verify-attestation"] {
                count.store(0, Ordering::SeqCst);
                vouch(d, &[cmd, "--key", "vouch.pub", &via_proxy]);
                trips.push(count.load(Ordering::SeqCst));
            }
            let mut times: Vec<[Duration; 2]> = (0..runs)
                .map(|_| {
                    [
                        vouch(d, &["verify", "--key", "vouch.pub", &image]),
                        vouch(d, &["verify-attestation", "--key", "vouch.pub", &image]),
                    ]
                })
                .collect();
            let median = |i: usize, times: &mut Vec<[Duration; 2]>| {
                times.sort_by_key(|t| t[i]);
                times[times.len() / 2][i]
            };
            let (v, a) = (median(0, &mut times), median(1, &mut times));
            println!(
                "{name:<17} {format:<8} {sign:>13.2?}  {:>3} + {:<3} = {:<28} {v:>8.2?} + {a:>8.2?}",
                trips[0],
                trips[1],
                trips[0] + trips[1],
            );
        }
        promotes.push((name, promote(d, &reg, kind)));
    }
    for (name, took) in promotes {
        println!(
            "promote of the bundle-format image (1 signature + 3 attestations as referrers), {name} to {name}: {took:.2?}"
        );
    }
}

/// `vouch promote` of `bench/bundle:v1` in `src` to a new registry of `kind`, by a policy that
/// requires the signature: its wall time.
fn promote(
    d: &Path,
    src: &support::registry::Registry,
    kind: support::registry::RegistryKind,
) -> Duration {
    let dst = support::registry::Registry::start_kind(kind);
    std::fs::write(
        d.join("promote.yaml"),
        "version: 1\nimages:\n  - match: \"127.0.0.1:*/**\"\n    signatures:\n      authorities: [{key: vouch.pub}]\n",
    )
    .unwrap();
    vouch(
        d,
        &[
            "promote",
            "--policy",
            "promote.yaml",
            &format!("{}/bench/bundle:v1", src.host()),
            &format!("{}/prod/app:v1", dst.host()),
        ],
    )
}
