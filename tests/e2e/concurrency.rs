//! No signature is ever lost: 8 signers with 8 keys sign the same digest at once, 20 rounds,
//! against the real registry; afterwards every one of the 160 signatures is there and verifies.

use std::process::{Command, Stdio};

use crate::support::image::{client, push_image};
use crate::support::registry::Registry;
use crate::support::vouch_in;

const SIGNERS: usize = 8;
const ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_signers_lose_nothing() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    for k in 0..SIGNERS {
        vouch_in(
            dir.path(),
            Some("pw"),
            ["generate-key-pair", "--output-key-prefix", &format!("k{k}")],
        )
        .ok();
    }
    let digest = push_image(&client(), &reg.host(), "race/app", "v1").await;
    let image = format!("{}/race/app@{digest}", reg.host());
    let started = std::time::Instant::now();
    for round in 0..ROUNDS {
        let children: Vec<_> = (0..SIGNERS)
            .map(|k| {
                Command::new(env!("CARGO_BIN_EXE_vouch"))
                    .current_dir(dir.path())
                    .env("VOUCH_PASSWORD", "pw")
                    // 1 s instead of the default 1.5 s (window = settle / 2 = 500 ms): on loopback
                    // a read-modify-write takes milliseconds, so the margin stays wide.
                    .env("VOUCH_SETTLE_MS", "1000")
                    .env_remove("COSIGN_PASSWORD")
                    .args([
                        "sign",
                        "--format",
                        "legacy",
                        "--key",
                        &format!("k{k}.key"),
                        "-a",
                        &format!("round={round}"),
                        &image,
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    eprintln!(
        "{} signatures by {SIGNERS} concurrent signers in {:?}",
        SIGNERS * ROUNDS,
        started.elapsed()
    );
    // Every signer's every round is there and verifies.
    let mut total = 0;
    for k in 0..SIGNERS {
        let out = vouch_in(
            dir.path(),
            None,
            [
                "verify",
                "--key",
                &format!("k{k}.pub"),
                "--output",
                "json",
                &image,
            ],
        )
        .ok();
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let mut rounds: Vec<usize> = doc[0]["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["payload"]["optional"]["round"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        rounds.sort_unstable();
        assert_eq!(
            rounds,
            (0..ROUNDS).collect::<Vec<_>>(),
            "signer {k} lost signatures"
        );
        total += rounds.len();
    }
    assert_eq!(total, SIGNERS * ROUNDS);
}

crate::on_each_registry! {
/// The same with cosign 3's format: 8 `vouch sign` processes with 8 keys on one image at once
/// (4 rounds, a new image each round); the fallback referrers index keeps every signature.
async fn concurrent_bundle_signers_lose_nothing(kind) {
    const ROUNDS_BUNDLE: usize = 4;
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    for k in 0..SIGNERS {
        vouch_in(
            dir.path(),
            Some("pw"),
            ["generate-key-pair", "--output-key-prefix", &format!("k{k}")],
        )
        .ok();
    }
    let mut images = Vec::new();
    for round in 0..ROUNDS_BUNDLE {
        let digest = push_image(&client(), &reg.host(), "race/bundles", &format!("r{round}")).await;
        let image = format!("{}/race/bundles@{digest}", reg.host());
        let children: Vec<_> = (0..SIGNERS)
            .map(|k| {
                Command::new(env!("CARGO_BIN_EXE_vouch"))
                    .current_dir(dir.path())
                    .env("VOUCH_PASSWORD", "pw")
                    .env("VOUCH_SETTLE_MS", "1000")
                    .env_remove("COSIGN_PASSWORD")
                    .args([
                        "sign",
                        "--format",
                        "bundle",
                        "--key",
                        &format!("k{k}.key"),
                        &image,
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        images.push(image);
    }
    for image in &images {
        for k in 0..SIGNERS {
            vouch_in(
                dir.path(),
                None,
                ["verify", "--key", &format!("k{k}.pub"), image],
            )
            .ok();
        }
    }
}
}
