//! Benchmark (not a test): `vouch verify --policy` with every condition kind (signature,
//! SLSA provenance with builder ids and base images, vulnerability limits with maxAge, ignores,
//! scanner allow-list and a VEX file, SBOM licenses and banned packages, and a Rego module)
//! against images that each carry a signature and three attestations in a local
//! docker-registry.
//!
//!     cargo bench -p vouch --bench policy [-- N]
//!
//! It also counts the batch's registry requests by kind (through a pass-through proxy).
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

    // Inputs: real data from tests/data/vectors.
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

    // Sign all in one batch (the CLI), then attest in-process: 3,000 `vouch attest` processes
    // would each pay scrypt for the key (minutes); the attestations are the same bytes that
    // `vouch attest` writes (in-toto statement, DSSE, bundle v0.3, cosign 3 referrer).
    let t = Instant::now();
    let mut args = vec!["sign", "--key", "release.key"];
    args.extend(refs.iter().map(String::as_str));
    ok(vouch(d, &args));
    let load = |k: &str| {
        vouch_core::keys::files::load_signing_key(
            &d.join(format!("{k}.key")),
            b"bench",
            &vouch_core::limits::Limits::DEFAULT,
        )
        .unwrap()
    };
    let (builder, scanner, release) = (load("builder"), load("scanner"), load("release"));
    let scan_predicate =
        vouch_core::scan::import(&std::fs::read(&scan).unwrap(), None, "2026-11-27T08:00:00Z")
            .unwrap()
            .predicate;
    let predicates: Vec<(&vouch_core::keys::SigningKey, &str, Vec<u8>)> = vec![
        (
            &builder,
            vouch_core::predicate::SLSA_PROVENANCE_V1,
            serde_json::to_vec(&prov).unwrap(),
        ),
        (
            &scanner,
            vouch_core::predicate::VULN,
            serde_json::to_vec(&scan_predicate).unwrap(),
        ),
        (
            &release,
            vouch_core::predicate::CYCLONEDX,
            std::fs::read(&sbom).unwrap(),
        ),
    ];
    let repo = match format!("{host}/bench/app")
        .parse::<vouch_core::oci::reference::ImageRef>()
        .unwrap()
    {
        vouch_core::oci::reference::ImageRef::Registry(r) => r,
        _ => unreachable!(),
    };
    let target = vouch_core::oci::Target::registry(client.clone(), &repo);
    let mut batch = Vec::new();
    for (i, digest) in digests.iter().enumerate() {
        let (_, _, manifest) = support::image::image_parts(&format!("{host}/bench/app:t{i}"));
        let subject = vouch_core::oci::manifest::Descriptor::of(
            vouch_core::oci::manifest::OCI_MANIFEST,
            &manifest,
        );
        assert_eq!(subject.digest, *digest);
        for (key, ptype, predicate) in &predicates {
            let statement = vouch_core::payload::intoto::Statement::encode_raw(
                &[vouch_core::payload::intoto::Subject::sha256(
                    Some(format!("{host}/bench/app")),
                    digest,
                )],
                ptype,
                predicate,
            );
            let pt = vouch_core::payload::intoto::INTOTO_PAYLOAD_TYPE;
            let sig = key
                .sign_digest(&vouch_core::payload::dsse::pae_digest(pt, &statement))
                .expect("signs");
            let env =
                vouch_core::payload::dsse::Envelope::new(pt, statement, sig.as_der().to_vec());
            let bundle = vouch_core::bundle::Bundle::dsse_v03(&key.public_key(), &env);
            let r = vouch_core::referrers::referrer(
                subject.clone(),
                bytes::Bytes::from(bundle),
                ptype,
                "2026-11-27T08:00:00Z",
            );
            batch.push((*digest, r));
        }
    }
    let settle = vouch_core::cosign::SettleOptions {
        window: Duration::from_millis(50),
        settle: Duration::from_millis(120),
        ..Default::default()
    };
    for r in rt.block_on(vouch_core::referrers::attach_referrers(
        &target,
        &batch,
        settle,
        &vouch_core::oci::OciLimits::default(),
        32,
    )) {
        r.unwrap();
    }
    eprintln!(
        "set up {n} images (1 signature + 3 attestations each) in {:.1?}",
        t.elapsed()
    );

    // For profiling by hand: keep the registry and the images for a while.
    if let Some(secs) = std::env::var("VOUCH_BENCH_HOLD")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        std::fs::write(d.join("refs.txt"), refs.join("\n")).unwrap();
        eprintln!(
            "holding {secs} s: policy and keys in {}, images in refs.txt",
            d.display()
        );
        std::thread::sleep(Duration::from_secs(secs));
    }

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
    let batch_run = |policy: &str| {
        let t = Instant::now();
        let mut args = vec!["verify", "--policy", policy, "--output", "json"];
        args.extend(refs.iter().map(String::as_str));
        let out = ok(vouch(d, &args));
        let took = t.elapsed();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["images"].as_array().unwrap().len(), n);
        assert_eq!(doc["allowed"], true);
        took
    };
    let batch = batch_run("policy.yaml");

    // Who spent the CPU during the batch: vouch (getrusage of the child, via /usr/bin/time)
    // and the registry (its /proc stat).
    let registry_pid = std::fs::read_dir("/proc").ok().and_then(|dir| {
        let config = reg.storage().with_file_name("config.yml");
        dir.flatten().find_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmd)
                .contains(&*config.to_string_lossy())
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
    });
    let registry_cpu = || -> Option<f64> {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", registry_pid.as_ref()?)).ok()?;
        let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    };
    let cpu_of = |policy: &str| -> Option<(f64, f64, f64)> {
        let before = registry_cpu()?;
        let mut args: Vec<String> = [
            "-f",
            "%U %S",
            env!("CARGO_BIN_EXE_vouch"),
            "verify",
            "--policy",
            policy,
            "--output",
            "json",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(refs.iter().cloned());
        let t = Instant::now();
        let out = Command::new("/usr/bin/time")
            .current_dir(d)
            .env("VOUCH_NOW", "2021-08-26T00:00:00Z")
            .args(&args)
            .output()
            .ok()?;
        let wall = t.elapsed().as_secs_f64();
        let registry = registry_cpu()? - before;
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last()?;
        let mut it = last.split_whitespace().map(|x| x.parse::<f64>().ok());
        let vouch_cpu = it.next()?? + it.next()??;
        Some((wall, vouch_cpu, registry))
    };
    let cpu_split = cpu_of("policy.yaml");

    // Round trips of the batch: the same batch through a counting pass-through proxy, by kind.
    let kinds = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        usize,
    >::new()));
    let counter = kinds.clone();
    let proxy = support::proxy::FaultProxy::start(host.clone(), move |method, path| {
        let path = path.split('?').next().unwrap_or(path);
        let kind = if path.contains("/tags/list") {
            "tags/list".to_owned()
        } else if path.contains("/referrers/") {
            "referrers API".to_owned()
        } else if let Some((_, r)) = path.split_once("/manifests/") {
            if r.starts_with("sha256:") {
                "manifest by digest".to_owned()
            } else if r.ends_with(".sig") || r.ends_with(".att") {
                format!("tag .{}", &r[r.len() - 3..])
            } else if r.starts_with("sha256-") {
                "tag sha256-<hex> (referrers fallback)".to_owned()
            } else {
                "tag (other)".to_owned()
            }
        } else if path.contains("/blobs/") {
            "blob".to_owned()
        } else {
            path.to_owned()
        };
        *counter
            .lock()
            .unwrap()
            .entry(format!("{method} {kind}"))
            .or_default() += 1;
        false
    });
    {
        let proxied: Vec<String> = refs
            .iter()
            .map(|r| r.replacen(&host, &proxy.host, 1))
            .collect();
        let policy = std::fs::read_to_string(d.join("policy.yaml"))
            .unwrap()
            .replacen(&host, &proxy.host, 1);
        std::fs::write(d.join("proxied.yaml"), policy).unwrap();
        let mut args = vec!["verify", "--policy", "proxied.yaml", "--output", "json"];
        args.extend(proxied.iter().map(String::as_str));
        ok(vouch(d, &args));
    }
    let trips = kinds.lock().unwrap().clone();

    // Where the time goes: the same batch with the policy cut down, kind by kind.
    let full = std::fs::read_to_string(d.join("policy.yaml")).unwrap();
    let cut = |upto: &str| {
        let i = full.find(upto).unwrap_or(full.len());
        full[..i].to_owned()
    };
    let variants = [
        ("signature only", cut("    attestations:")),
        ("+ provenance", cut("      - type: vuln")),
        ("+ vuln (VEX)", cut("      - type: cyclonedx")),
        ("+ SBOM", cut("    rego:")),
    ];
    let mut breakdown = Vec::new();
    // VOUCH_BENCH_NO_BREAKDOWN=1: the full policy only (quicker, when iterating).
    let skip = std::env::var_os("VOUCH_BENCH_NO_BREAKDOWN").is_some();
    for (name, text) in variants.into_iter().filter(|_| !skip) {
        std::fs::write(d.join("variant.yaml"), text).unwrap();
        let mut single: Vec<Duration> = (0..9)
            .map(|_| {
                let t = Instant::now();
                ok(vouch(d, &["verify", "--policy", "variant.yaml", &refs[0]]));
                t.elapsed()
            })
            .collect();
        single.sort();
        let cpu = cpu_of("variant.yaml").map(|(_, v, _)| v);
        breakdown.push((
            name,
            batch_run("variant.yaml"),
            single[single.len() / 2],
            cpu,
        ));
    }
    breakdown.push((
        "+ Rego (the full policy)",
        batch,
        median,
        cpu_split.map(|(_, v, _)| v),
    ));

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
    if let Some((wall, v, r)) = cpu_split {
        println!(
            "CPU during a batch of {n} ({wall:.2} s wall, 2 cores = {:.2} core-s): vouch {v:.2} s ({:.2} ms/image), docker-registry {r:.2} s ({:.2} ms/image)",
            2.0 * wall,
            1000.0 * v / n as f64,
            1000.0 * r / n as f64
        );
    }
    let total: usize = trips.values().sum();
    println!(
        "requests during a batch of {n} (pass-through proxy): {total} ({:.2} per image)",
        total as f64 / n as f64
    );
    for (kind, count) in &trips {
        println!(
            "  {kind:<44} {count:>7}  {:>6.2} per image",
            *count as f64 / n as f64
        );
    }
    println!(
        "breakdown (the same images, the policy cut down): batch, vouch's CPU per image in a batch, and one image per process (median)"
    );
    for (name, t, one, cpu) in breakdown {
        let cpu = cpu.map_or("?".to_owned(), |v| {
            format!("{:.2} ms", 1000.0 * v / n as f64)
        });
        println!(
            "  {name:<26} {t:>8.2?}  {:>7.0} images/s   vouch CPU {cpu:>8}/image   one image {one:>8.2?}",
            n as f64 / t.as_secs_f64()
        );
    }
}
