//! Benchmark (not a test): `vouch serve`, the admission webhook, under load over HTTPS
//! (keep-alive connections, a local docker-registry, images signed by vouch).
//!
//!     cargo bench -p vouch --bench webhook [-- SECONDS CONCURRENCY]     (defaults 10 and 16)
//!     scripts/bench-webhook
//!
//! a. cached verdicts: a Pod of one signed image, reviewed over and over (CONCURRENCY
//!    requests in flight for SECONDS): reviews/s, p50, p99.
//! b. uncached: a Pod of 8 distinct images, each with a signature and three attestations (SLSA
//!    provenance, a Trivy scan, a CycloneDX SBOM) all checked by the policy, with
//!    `--verdict-ttl 0 --tag-ttl 0` (every review resolves 8 tags, fetches and verifies 8
//!    signatures and 24 attestations and evaluates their conditions), one review at a time, then
//!    4 at a time: reviews/s, p50, p99.
//!
//! Then the server's resident memory after all of that (well over 100,000 reviews).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub,
    dead_code
)]

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const NOW: &str = "2026-11-27T12:00:00Z";

fn vouch(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(dir)
        .env("VOUCH_NOW", NOW)
        .env("VOUCH_PASSWORD", "bench")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(dir)
        .args([
            "serve",
            "--policy",
            "policy.yaml",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "b.crt",
            "--tls-key",
            "b.key",
        ])
        .args(extra)
        .env("VOUCH_NOW", NOW)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("vouch serve exited").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        if v["msg"] == "listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    // Drain the log (one line per review) so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server(child, format!("https://{addr}/validate"))
}

fn review(images: &[String]) -> Vec<u8> {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "namespace": "prod", "operation": "CREATE",
                    "object": {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": containers}}}
    }))
    .unwrap()
}

async fn one(c: &reqwest::Client, url: &str, body: &[u8]) -> Duration {
    let t = Instant::now();
    let r = c.post(url).body(body.to_vec()).send().await.unwrap();
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v}");
    t.elapsed()
}

/// CONCURRENCY loops sending `body` until `seconds` (or `max` reviews) have passed.
async fn load(
    c: &reqwest::Client,
    url: &str,
    body: &[u8],
    seconds: f64,
    concurrency: usize,
    max: usize,
) -> (f64, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let per = max.div_ceil(concurrency);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (c, url, body, stop) = (c.clone(), url.to_owned(), body.to_vec(), stop.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) && lat.len() < per {
                    lat.push(one(&c, &url, &body).await);
                }
                lat
            })
        })
        .collect();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    stopper.abort();
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

fn pct(v: &[Duration], p: f64) -> f64 {
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn report(label: &str, (rate, lat): &(f64, Vec<Duration>)) {
    println!(
        "{label:<58} {:>8.0} reviews/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} reviews)",
        rate,
        pct(lat, 0.5),
        pct(lat, 0.99),
        lat.len()
    );
}

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seconds = args.first().copied().unwrap_or(10.0);
    let concurrency = args.get(1).copied().unwrap_or(16.0) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reg = support::registry::Registry::start();
    let host = reg.host();
    let client = support::image::client();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vouch(d, &["generate-key-pair", "--output-key-prefix", "release"]);
    support::tls::make_certs(d, "b");
    let mut images = Vec::new();
    for i in 0..9 {
        let digest = rt.block_on(support::image::push_image(
            &client,
            &host,
            &format!("bench/app{i}"),
            "v1",
        ));
        vouch(
            d,
            &[
                "sign",
                "--key",
                "release.key",
                &format!("{host}/bench/app{i}@{digest}"),
            ],
        );
        images.push(format!("{host}/bench/app{i}:v1"));
    }
    std::fs::write(
        d.join("policy.yaml"),
        format!("version: 1\nimages:\n  - match: \"{host}/bench/*\"\n    signatures:\n      authorities: [{{key: release.pub}}]\n"),
    )
    .unwrap();
    let cert = reqwest::Certificate::from_pem(&std::fs::read(d.join("b-ca.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([cert])
        .build()
        .unwrap();
    println!("vouch serve, {} s per run, registry {host}", seconds);

    let cached = serve(d, &[]);
    let body = review(&images[..1]);
    rt.block_on(one(&http, &cached.1, &body));
    let r = rt.block_on(load(
        &http,
        &cached.1,
        &body,
        seconds,
        concurrency,
        usize::MAX,
    ));
    report(
        &format!("a. cached verdict, 1 image, {concurrency} in flight"),
        &r,
    );
    let r = rt.block_on(load(&http, &cached.1, &body, seconds, 1, usize::MAX));
    report("a. cached verdict, 1 image, 1 in flight", &r);
    let body8 = review(&images[1..]);
    rt.block_on(one(&http, &cached.1, &body8));
    let r = rt.block_on(load(
        &http,
        &cached.1,
        &body8,
        seconds,
        concurrency,
        usize::MAX,
    ));
    report(
        &format!("a. cached verdicts, 8 images, {concurrency} in flight"),
        &r,
    );
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", cached.0.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map_or("?".to_owned(), |v| v.trim().to_owned())
    };
    println!(
        "a. server memory after the reviews above: RSS {} (peak {})",
        field("VmRSS:"),
        field("VmHWM:")
    );
    drop(cached);

    let uncached = serve(d, &["--verdict-ttl", "0", "--tag-ttl", "0"]);
    let r = rt.block_on(load(&http, &uncached.1, &body8, seconds, 1, usize::MAX));
    report(
        "b. uncached, 8 images x (signature + 3 attestations), 1 in flight",
        &r,
    );
    let r = rt.block_on(load(&http, &uncached.1, &body8, seconds, 4, usize::MAX));
    report(
        "b. uncached, 8 images x (signature + 3 attestations), 4 in flight",
        &r,
    );
}
