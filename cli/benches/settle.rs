//! Benchmark (not a test): what the no-lost-write protocol (core/src/cosign.rs) measures on a
//! real docker-registry 2.8 on loopback — the figures its window and transit bounds are argued
//! from. WRITERS writers (each with its own client, as separate processes would be) add a layer
//! to one image's `.sig` tag at once, ROUNDS times, with the default timing; prints the read →
//! PUT window and the PUT round trips they measured, the re-checks, late PUTs, lost-write rounds
//! and the wall time of a write including its wait. Asserts only that nothing was lost.
//!
//!     cargo bench -p vouch --bench settle [-- ROUNDS [WRITERS]]     (defaults 10 and 8)

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
use std::time::{Duration, Instant};

use bytes::Bytes;
use vouch_core::cosign::{
    AttachRequest, Attachment, NewLayer, SettleOptions, SettleReport, read_attached,
    update_all_report,
};
use vouch_core::oci::registry::Access;
use vouch_core::oci::{OciLimits, Target};

use support::registry::Registry;

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(10).max(1);
    let writers = args.get(1).copied().unwrap_or(8).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reg = Registry::start();
    let settle = SettleOptions::default();
    let (reports, walls, layers) = rt.block_on(async {
        let digest =
            support::image::push_image(&support::image::client(), &reg.host(), "settle/app", "v1")
                .await;
        let repo = support::image::registry_ref(&reg.host(), "settle/app");
        let mut reports: Vec<SettleReport> = Vec::new();
        let mut walls = Vec::new();
        for round in 0..rounds {
            let tasks: Vec<_> = (0..writers)
                .map(|w| {
                    let target = Target::Registry {
                        client: support::image::client(),
                        repo: repo.clone(),
                    };
                    let req = AttachRequest {
                        target,
                        image: digest,
                        attachment: Attachment::Signatures,
                        layer: NewLayer {
                            media_type: "application/vnd.dev.cosign.simplesigning.v1+json".into(),
                            blob: Bytes::from(format!("{{\"writer\":{w},\"round\":{round}}}")),
                            annotations: BTreeMap::from([(
                                "dev.cosignproject.cosign/signature".to_owned(),
                                format!("w{w}r{round}"),
                            )]),
                        },
                        replace_predicate_type: None,
                    };
                    async move {
                        let t = Instant::now();
                        let (results, report) =
                            update_all_report(&[req], settle, &OciLimits::default(), 1).await;
                        for r in results {
                            r.unwrap();
                        }
                        (report, t.elapsed())
                    }
                })
                .collect();
            for (report, wall) in futures_util::future::join_all(tasks).await {
                reports.push(report);
                walls.push(wall);
            }
        }
        let target = Target::Registry {
            client: support::image::client(),
            repo,
        };
        let (_, m) = read_attached(
            &target,
            &Attachment::Signatures.tag(&digest),
            Access::Pull,
            &OciLimits::default(),
        )
        .await
        .unwrap()
        .unwrap();
        (reports, walls, m.layers.len())
    });
    assert_eq!(layers, rounds * writers, "a write was lost");
    let mut windows: Vec<Duration> = reports.iter().map(|r| r.longest_window).collect();
    let mut puts: Vec<Duration> = reports.iter().map(|r| r.slowest_put).collect();
    let mut walls = walls;
    let rechecks: u32 = reports.iter().map(|r| r.rechecks).sum();
    let late: u32 = reports.iter().map(|r| r.late_puts).sum();
    let extra_rounds: u32 = reports.iter().map(|r| r.rounds.saturating_sub(1)).sum();
    println!(
        "{writers} concurrent writers x {rounds} rounds on docker-registry 2.8 (loopback), window {} / settle {}:",
        ms(settle.window),
        ms(settle.settle)
    );
    println!("  layers kept: {layers} of {}", rounds * writers);
    println!(
        "  read -> PUT sent (window used): p50 {}  p99 {}  max {}",
        ms(quantile(&mut windows, 0.5)),
        ms(quantile(&mut windows, 0.99)),
        ms(quantile(&mut windows, 1.0))
    );
    println!(
        "  PUT sent -> answered:           p50 {}  p99 {}  max {}",
        ms(quantile(&mut puts, 0.5)),
        ms(quantile(&mut puts, 0.99)),
        ms(quantile(&mut puts, 1.0))
    );
    println!(
        "  write wall (incl. wait):        p50 {}  p99 {}  max {}",
        ms(quantile(&mut walls, 0.5)),
        ms(quantile(&mut walls, 0.99)),
        ms(quantile(&mut walls, 1.0))
    );
    println!(
        "  HEAD re-checks: {rechecks}   late PUTs (> T): {late}   extra rounds after a lost write: {extra_rounds}"
    );
}
