//! Benchmark (not a test): batch-sign and batch-verify N images (default 1,000) in a local
//! docker-registry with one `vouch sign` / `vouch verify` invocation each. Prints images/s.
//!
//!     cargo bench -p vouch --bench images [-- N]
//!
//! Targets (issue 3): sign >= 200 images/s, verify >= 500 images/s on 2 cores.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub,
    dead_code
)]

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

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
    let t = Instant::now();
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
    eprintln!("pushed {n} images in {:.2?}", t.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let vouch = env!("CARGO_BIN_EXE_vouch");
    let ok = Command::new(vouch)
        .current_dir(dir.path())
        .env("VOUCH_PASSWORD", "bench")
        .args(["generate-key-pair"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let refs: Vec<String> = digests
        .iter()
        .map(|d| format!("{host}/bench/app@{d}"))
        .collect();

    let t = Instant::now();
    let out = Command::new(vouch)
        .current_dir(dir.path())
        .env("VOUCH_PASSWORD", "bench")
        // The tag format, as measured for issue 3 (`benches/formats.rs` compares the two).
        .args(["sign", "--format", "legacy", "--key", "vouch.key"])
        .args(&refs)
        .output()
        .unwrap();
    let sign = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let t = Instant::now();
    let out = Command::new(vouch)
        .current_dir(dir.path())
        .args(["verify", "--key", "vouch.pub", "--output", "json"])
        .args(&refs)
        .output()
        .unwrap();
    let verify = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), n);

    let t = Instant::now();
    let out = Command::new(vouch)
        .current_dir(dir.path())
        .args(["verify", "--key", "vouch.pub", &refs[0]])
        .output()
        .unwrap();
    let single = t.elapsed();
    assert!(out.status.success());

    println!(
        "images: {n}, registry: docker-registry on loopback, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "batch sign   {n:>5} images in {:>8.2?}  {:>7.0} images/s  (target >= 200; includes one {} ms settle wait)",
        sign,
        n as f64 / sign.as_secs_f64(),
        1500
    );
    println!(
        "batch verify {n:>5} images in {:>8.2?}  {:>7.0} images/s  (target >= 500)",
        verify,
        n as f64 / verify.as_secs_f64()
    );
    println!("single verify (process start, key load, 2 round trips): {single:.2?}");
}
