//! Benchmark (not a test; asserts nothing): the registry requests per image of `vouch sign`,
//! `attest`, `verify --key`, `verify --policy` (the gate) and `promote` (with a signed
//! promotion record), in both formats (cosign 3 bundle referrers and the legacy `.sig`/`.att`
//! tags), on a docker-registry 2.8 (no referrers API: fallback tag indexes) and on
//! ferro-oci-server (the OCI 1.1 referrers API; skipped without it), for 1 image and for a
//! batch of BATCH images (default 100) in one run. The counts are the runs' own
//! (`--output json` `"requests"`, or the `VOUCH_LOG=debug` line for verify --key), which
//! tests/e2e/requests.rs checks against what the registry received. `attest` takes one image per
//! run: its figure is per run.
//!
//!     cargo bench -p vouch --bench requests [-- BATCH]   (or scripts/bench-requests [BATCH])

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

use serde_json::Value;
use support::image::{client, push_image};
use support::registry::{Registry, RegistryKind};

/// Runs vouch in `dir` with `VOUCH_LOG=debug`; returns (stdout JSON if any, logged counts).
fn vouch(dir: &Path, args: &[&str]) -> (Option<Value>, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(dir)
        .env("VOUCH_PASSWORD", "bench")
        .env("VOUCH_LOG", "debug")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vouch {args:?}: {stderr}");
    let logged = stderr
        .lines()
        .find_map(|l| l.strip_prefix("vouch: debug: registry requests "))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or(Value::Null);
    (serde_json::from_slice(&out.stdout).ok(), logged)
}

/// The `"requests"` of a JSON report (checked against the logged line: the same run).
fn reported(doc: &Option<Value>, logged: &Value) -> Value {
    match doc.as_ref().and_then(|d| d.get("requests")) {
        Some(r) => {
            assert_eq!(r, logged, "the report and the log differ");
            r.clone()
        }
        None => logged.clone(),
    }
}

fn by(counts: &Value) -> String {
    counts["by"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

struct Row {
    registry: &'static str,
    format: &'static str,
    images: usize,
    command: &'static str,
    total: u64,
    runs: usize,
    by: String,
}

fn main() {
    let batch: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(100)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    vouch(d, &["generate-key-pair"]);
    std::fs::write(d.join("predicate.json"), br#"{"built":"here"}"#).unwrap();
    std::fs::write(
        d.join("policy.yaml"),
        "version: 1\nimages:\n  - match: \"**\"\n    signatures:\n      authorities: [{key: vouch.pub}]\n    attestations:\n      - type: custom\n        authorities: [{key: vouch.pub}]\n",
    )
    .unwrap();
    let mut kinds = vec![(RegistryKind::Distribution, "docker-registry 2.8")];
    if std::env::var_os("VOUCH_TEST_FERRO_BIN").is_some() {
        kinds.push((RegistryKind::ReferrersApi, "ferro-oci-server"));
    } else {
        eprintln!("(VOUCH_TEST_FERRO_BIN unset: ferro-oci-server skipped)");
    }
    let mut rows = Vec::new();
    for (kind, registry) in kinds {
        for format in ["bundle", "legacy"] {
            for n in [1, batch] {
                let (src, dst) = (Registry::start_kind(kind), Registry::start_kind(kind));
                let c = client();
                let images: Vec<String> = rt.block_on(async {
                    let mut out = Vec::new();
                    for i in 0..n {
                        let digest =
                            push_image(&c, &src.host(), "bench/app", &format!("t{i}")).await;
                        out.push(format!("{}/bench/app@{digest}", src.host()));
                    }
                    out
                });
                let refs: Vec<&str> = images.iter().map(String::as_str).collect();
                let mut row = |command, runs, counts: &Value| {
                    rows.push(Row {
                        registry,
                        format,
                        images: n,
                        command,
                        total: counts["total"].as_u64().unwrap_or(0),
                        runs,
                        by: by(counts),
                    })
                };
                let mut args = vec![
                    "sign",
                    "--key",
                    "vouch.key",
                    "--format",
                    format,
                    "--output",
                    "json",
                ];
                args.extend(&refs);
                let (doc, logged) = vouch(d, &args);
                row("sign", 1, &reported(&doc, &logged));
                // attest: one image per run; the first image's run.
                let (doc, logged) = vouch(
                    d,
                    &[
                        "attest",
                        "--key",
                        "vouch.key",
                        "--predicate",
                        "predicate.json",
                        "--format",
                        format,
                        "--output",
                        "json",
                        refs[0],
                    ],
                );
                row("attest", 1, &reported(&doc, &logged));
                if n > 1 {
                    // The others attested too (not counted), for the verifiers below.
                    for r in &refs[1..] {
                        vouch(
                            d,
                            &[
                                "attest",
                                "--key",
                                "vouch.key",
                                "--predicate",
                                "predicate.json",
                                "--format",
                                format,
                                r,
                            ],
                        );
                    }
                }
                let mut args = vec!["verify", "--key", "vouch.pub", "--output", "json"];
                args.extend(&refs);
                let (_, logged) = vouch(d, &args);
                row("verify --key", 1, &logged);
                let mut args = vec!["verify", "--policy", "policy.yaml", "--output", "json"];
                args.extend(&refs);
                let (doc, logged) = vouch(d, &args);
                row("verify --policy", 1, &reported(&doc, &logged));
                let mut args = vec![
                    "promote",
                    "--policy",
                    "policy.yaml",
                    "--attest-key",
                    "vouch.key",
                    "--no-progress",
                    "--output",
                    "json",
                ];
                let dsts: Vec<String> = (0..n)
                    .map(|i| format!("{}/prod/app:t{i}", dst.host()))
                    .collect();
                for (s, t) in refs.iter().zip(&dsts) {
                    args.push(s);
                    args.push(t);
                }
                let (doc, logged) = vouch(d, &args);
                row("promote", 1, &reported(&doc, &logged));
            }
        }
    }
    println!(
        "{:<20} {:<7} {:>6}  {:<16} {:>7} {:>9}  by kind (whole run)",
        "registry", "format", "images", "command", "total", "per image"
    );
    for r in &rows {
        let per = if r.command == "attest" {
            r.total as f64 / r.runs as f64
        } else {
            r.total as f64 / r.images as f64
        };
        println!(
            "{:<20} {:<7} {:>6}  {:<16} {:>7} {:>9.2}  {}",
            r.registry, r.format, r.images, r.command, r.total, per, r.by
        );
    }
}
