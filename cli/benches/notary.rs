//! Benchmark (not a test): `vouch verify` of a Notary-signed image beside a cosign-signed one
//! (issue 19). In a local docker-registry (no referrers API: the fallback tag index) and a local
//! ferro-oci-server (the OCI 1.1 referrers API), three images: one signed by `vouch sign` with a
//! cosign key, one with a Notary Project signature (keys-test/notary_sign.py, attached as
//! notation does), one with both. Times RUNS runs (default 20) of `vouch verify --key`,
//! `vouch verify --notation-trust-policy/--notation-trust-store`, and `vouch verify --policy`
//! with a key authority, a notation authority and a 2-of-2 threshold of both; prints the
//! registry round trips of one run (counted by a pass-through proxy) and the median / min wall
//! time (direct, no proxy; each a whole process: start, policy and key load, registry, verify).
//!
//!     cargo bench -p vouch --bench notary [-- RUNS]      (or scripts/bench-notary [RUNS])

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

use support::notary::{SIGNER, attach_to, produce};
use support::registry::{Registry, RegistryKind};
use vouch_core::oci::Target;
use vouch_core::oci::manifest::{Descriptor, OCI_MANIFEST};

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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(20)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = support::image::client();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    vouch(d, &["generate-key-pair"]);
    std::fs::write(
        d.join("trustpolicy.json"),
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"bench","registryScopes":["*"],
            "signatureVerification":{{"level":"strict"}},"trustStores":["ca:bench"],
            "trustedIdentities":["x509.subject:{SIGNER}"]}}]}}"#
        ),
    )
    .unwrap();
    let head = "version: 1\nimages:\n  - match: \"127.0.0.1:*/**\"\n    signatures:\n";
    let notation = "        - name: notary\n          notation: {trustStore: store, trustPolicy: trustpolicy.json}\n";
    for (file, body) in [
        (
            "key.yaml",
            format!("{head}      authorities:\n        - key: vouch.pub\n"),
        ),
        (
            "notation.yaml",
            format!("{head}      authorities:\n{notation}"),
        ),
        (
            "both.yaml",
            format!(
                "{head}      threshold: 2\n      authorities:\n        - key: vouch.pub\n{notation}"
            ),
        ),
    ] {
        std::fs::write(d.join(file), body).unwrap();
    }

    println!(
        "vouch verify of one digest-pinned image, registries on loopback, {} cores; round trips of one run (pass-through proxy), wall time of {runs} runs (direct)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<17} {:<44} {:>11} {:>11} {:>9}",
        "registry", "command (image signed with)", "round trips", "median ms", "min ms"
    );
    for (name, kind) in [
        ("docker-registry", RegistryKind::Distribution),
        ("ferro-oci-server", RegistryKind::ReferrersApi),
    ] {
        let reg = Registry::start_kind(kind);
        let host = reg.host();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let proxy = support::proxy::FaultProxy::start(host.clone(), move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            false
        });
        // bench/cosign: the key; bench/notary: Notary; bench/both: the two.
        let mut digests = Vec::new();
        for repo in ["bench/cosign", "bench/notary", "bench/both"] {
            let digest = rt.block_on(support::image::push_image(&client, &host, repo, "v1"));
            let image = format!("{host}/{repo}@{digest}");
            if repo != "bench/notary" {
                vouch(d, &["sign", "--key", "vouch.key", &image]);
            }
            if repo != "bench/cosign" {
                let (_, _, manifest) = support::image::image_parts(&format!("{host}/{repo}:v1"));
                let subject = Descriptor::of(OCI_MANIFEST, &manifest);
                assert_eq!(subject.digest, digest);
                let (root, envelope) = produce(&d.join(repo), &subject);
                let target =
                    Target::registry(client.clone(), &support::image::registry_ref(&host, repo));
                rt.block_on(attach_to(&target, &subject, &envelope));
                // notary_sign.py makes a fresh root per run: the one trust store holds each.
                let certs = d.join("store/x509/ca/bench");
                std::fs::create_dir_all(&certs).unwrap();
                std::fs::write(certs.join(format!("{name}-{}.pem", &repo[6..])), &root).unwrap();
            }
            digests.push((repo, digest));
        }
        let image = |h: &str, repo: &str| {
            let digest = digests.iter().find(|(r, _)| *r == repo).unwrap().1;
            format!("{h}/{repo}@{digest}")
        };
        let cases: [(&str, &str, Vec<&str>); 5] = [
            (
                "verify --key (cosign)",
                "bench/cosign",
                vec!["--key", "vouch.pub"],
            ),
            (
                "verify --notation-trust-policy (Notary)",
                "bench/notary",
                vec![
                    "--notation-trust-policy",
                    "trustpolicy.json",
                    "--notation-trust-store",
                    "store",
                ],
            ),
            (
                "verify --policy key (cosign)",
                "bench/cosign",
                vec!["--policy", "key.yaml"],
            ),
            (
                "verify --policy notation (Notary)",
                "bench/notary",
                vec!["--policy", "notation.yaml"],
            ),
            (
                "verify --policy 2 of {key, notation} (both)",
                "bench/both",
                vec!["--policy", "both.yaml"],
            ),
        ];
        for (label, repo, flags) in &cases {
            let run = |h: &str| {
                let target = image(h, repo);
                let mut args = vec!["verify"];
                args.extend(flags.iter().copied());
                args.push(&target);
                vouch(d, &args)
            };
            count.store(0, Ordering::SeqCst);
            run(&proxy.host);
            let trips = count.load(Ordering::SeqCst);
            let mut times: Vec<Duration> = (0..runs).map(|_| run(&host)).collect();
            times.sort();
            println!(
                "{name:<17} {label:<44} {trips:>11} {:>11.1} {:>9.1}",
                ms(times[times.len() / 2]),
                ms(times[0])
            );
        }
    }
}
