//! Benchmark (not a test): `vouch verify --policy` with every condition kind (signature,
//! SLSA provenance with builder ids and base images, vulnerability limits with maxAge, ignores,
//! scanner allow-list and a VEX file, SBOM licenses and banned packages, and a Rego module)
//! against images that each carry a signature and three attestations in a local
//! docker-registry.
//!
//!     cargo bench -p vouch --bench policy [-- N]
//!
//! Targets (issue 7): one image, one process, median wall time <= 20 ms; a batch of N (1,000)
//! images in one invocation >= 500 images/s.

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
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

fn vouch(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(dir)
        .env("VOUCH_PASSWORD", "bench")
        .env("VOUCH_SETTLE_MS", "20")
        // The Trivy report's own scan time is 2021-08-25T12:20:30Z: judged the next day.
        .env("VOUCH_NOW", "2021-08-26T00:00:00Z")
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reg = support::registry::Registry::start();
    let host = reg.host();
    let client = support::image::client();
    let digests: Vec<_> = rt.block_on(
        stream::iter(0..n)
            .map(|i| {
                let client = client.clone();
                let host = host.clone();
                async move {
                    support::image::push_image(&client, &host, "bench/app", &format!("t{i}")).await
                }
            })
            .buffered(32)
            .collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for k in ["release", "builder", "scanner"] {
        ok(vouch(d, &["generate-key-pair", "--output-key-prefix", k]));
    }
    let refs: Vec<String> = digests
        .iter()
        .map(|x| format!("{host}/bench/app@{x}"))
        .collect();

    // Inputs: real data from shared/vectors.
    let v = support::vectors();
    let scan = v.join("scans/trivy/alpine-310.json");
    let sbom = v.join("sboms/trivy-npm.cdx.json");
    let mut prov: serde_json::Value = serde_json::from_slice(
        &std::fs::read(v.join(
            "more/06-slsa-provenance/in-toto-attestation/provenance-v1-predicate-validation/valid-provenance-v1-predicate.json",
        ))
        .unwrap(),
    )
    .unwrap();
    // Derived: a BuildKit-style base image among the resolved dependencies.
    prov["buildDefinition"]["resolvedDependencies"] = serde_json::json!([
        {"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64",
         "digest": {"sha256": "0a2a6a8c2b2a1c3b3a9f5d6c0c5e4b0f0e7a2c4d3b2a1f0e9d8c7b6a5f4e3d2c"}}
    ]);
    let builder_id = prov["runDetails"]["builder"]["id"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    std::fs::write(d.join("prov.json"), serde_json::to_vec(&prov).unwrap()).unwrap();
    std::fs::write(
        d.join("app.openvex.json"),
        std::fs::read(v.join("more/07-vex/openvex/README.example-fixed.json")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("extra.rego"),
        "package vouch\n\ndeny contains msg if {\n  count(input.attestations) < 3\n  msg := \"fewer than three attestations\"\n}\n",
    )
    .unwrap();
    let policy = format!(
        "version: 1
images:
  - match: \"{host}/bench/*\"
    signatures:
      authorities: [{{key: release.pub}}]
    attestations:
      - type: slsaprovenance1
        authorities: [{{key: builder.pub}}]
        provenance:
          builderIds: [\"{builder_id}\"]
          baseImages: [\"docker.io/library/alpine\"]
      - type: vuln
        authorities: [{{key: scanner.pub}}]
        vulnerabilities:
          maxAge: 24h
          limits: {{critical: 0, high: 0, medium: 10}}
          ignore: [{{id: CVE-2019-0001, reason: bench, expires: 2027-01-01}}]
          scanners: [\"pkg:github/aquasecurity/trivy*\"]
          vex: [app.openvex.json]
      - type: cyclonedx
        authorities: [{{key: release.pub}}]
        sbom:
          denyLicenses: [\"GPL-3.0-only\", \"AGPL-*\"]
          bannedPackages: [\"pkg:npm/event-stream@3.3.6\"]
    rego: extra.rego
"
    );
    std::fs::write(d.join("policy.yaml"), policy).unwrap();

    // Sign all in one batch, attest each image (8 processes at a time).
    let t = Instant::now();
    let mut args = vec!["sign", "--key", "release.key"];
    args.extend(refs.iter().map(String::as_str));
    ok(vouch(d, &args));
    let scan_s = scan.display().to_string();
    let sbom_s = sbom.display().to_string();
    let jobs: Vec<Vec<String>> = refs
        .iter()
        .flat_map(|r| {
            [
                vec!["builder.key", "slsaprovenance1", "prov.json"],
                vec!["scanner.key", "vuln", scan_s.as_str()],
                vec!["release.key", "cyclonedx", sbom_s.as_str()],
            ]
            .into_iter()
            .map(move |a| {
                vec![
                    "attest".into(),
                    "--key".into(),
                    a[0].into(),
                    "--type".into(),
                    a[1].into(),
                    "--predicate".into(),
                    a[2].into(),
                    "--scan-finished-on".into(),
                    "2026-11-27T08:00:00Z".into(),
                    r.clone(),
                ]
            })
        })
        .collect();
    std::thread::scope(|s| {
        for chunk in jobs.chunks(jobs.len().div_ceil(8)) {
            s.spawn(move || {
                for j in chunk {
                    let a: Vec<&str> = j.iter().map(String::as_str).collect();
                    ok(vouch(d, &a));
                }
            });
        }
    });
    eprintln!(
        "set up {n} images (1 signature + 3 attestations each) in {:.1?}",
        t.elapsed()
    );

    // One image, one process.
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            ok(vouch(d, &["verify", "--policy", "policy.yaml", &refs[0]]));
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];

    // The batch.
    let t = Instant::now();
    let mut args = vec!["verify", "--policy", "policy.yaml", "--output", "json"];
    args.extend(refs.iter().map(String::as_str));
    let out = ok(vouch(d, &args));
    let batch = t.elapsed();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["images"].as_array().unwrap().len(), n);
    assert_eq!(doc["allowed"], true);

    println!(
        "policy: signature + provenance + vuln (+VEX) + SBOM + Rego; docker-registry on loopback, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "one image, one process: median {median:.2?} of 15 (min {:.2?}, max {:.2?})  (target <= 20 ms)",
        times[0],
        times[times.len() - 1]
    );
    println!(
        "batch {n:>5} images in {batch:>8.2?}  {:>7.0} images/s  (target >= 500)",
        n as f64 / batch.as_secs_f64()
    );
}
