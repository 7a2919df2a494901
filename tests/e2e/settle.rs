//! The no-lost-write protocol's two bounds (core/src/cosign.rs) against a slow registry: a real
//! docker-registry behind a proxy that delays requests. Writers whose config push takes over half
//! the window re-check the tag and still lose nothing; a registry too slow for the window is an
//! error naming the knob, and nothing is written.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::image::{client, push_image};
use crate::support::proxy::FaultProxy;
use crate::support::registry::Registry;
use crate::support::{run, vouch_in};

fn keys(dir: &std::path::Path, n: usize) {
    for k in 0..n {
        vouch_in(
            dir,
            Some("pw"),
            ["generate-key-pair", "--output-key-prefix", &format!("k{k}")],
        )
        .ok();
    }
}

fn sign(dir: &std::path::Path, key: usize, round: usize, image: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    cmd.current_dir(dir)
        .env("VOUCH_PASSWORD", "pw")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("VOUCH_SETTLE_MS")
        .args([
            "sign",
            "--format",
            "legacy",
            "--key",
            &format!("k{key}.key"),
            "-a",
            &format!("round={round}"),
            image,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn rounds_signed_by(dir: &std::path::Path, key: usize, image: &str) -> Vec<usize> {
    let out = vouch_in(
        dir,
        None,
        [
            "verify",
            "--key",
            &format!("k{key}.pub"),
            "--output",
            "json",
            image,
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
    rounds
}

/// 4 concurrent signers, default timing (window 400 ms), each blob upload delayed 250 ms: the
/// config push after the read overruns half the window, so every writer re-checks the tag with a
/// HEAD before its PUT. No signature is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_make_writers_recheck_and_nothing_is_lost() {
    const SIGNERS: usize = 4;
    const ROUNDS: usize = 2;
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path(), SIGNERS);
    let digest = push_image(&client(), &reg.host(), "slow/app", "v1").await;
    let proxy = FaultProxy::start(reg.host(), |method, path| {
        if matches!(method, "POST" | "PUT" | "PATCH") && path.contains("/blobs/uploads") {
            std::thread::sleep(Duration::from_millis(250));
        }
        false
    });
    let through_proxy = format!("{}/slow/app@{digest}", proxy.host);
    for round in 0..ROUNDS {
        let children: Vec<_> = (0..SIGNERS)
            .map(|k| sign(dir.path(), k, round, &through_proxy).spawn().unwrap())
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
    let direct = format!("{}/slow/app@{digest}", reg.host());
    for k in 0..SIGNERS {
        assert_eq!(
            rounds_signed_by(dir.path(), k, &direct),
            (0..ROUNDS).collect::<Vec<_>>(),
            "signer {k} lost signatures"
        );
    }
}

/// Every read of the signature tag takes 150 ms while the window is 100 ms (`VOUCH_SETTLE_MS`
/// 200): no write can keep the window, so the signer gives up with an error (exit 3) that names
/// the knob, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_too_slow_for_the_window_is_an_error_and_nothing_is_written() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path(), 1);
    let digest = push_image(&client(), &reg.host(), "slow/app", "v1").await;
    let proxy = FaultProxy::start(reg.host(), |method, path| {
        if matches!(method, "GET" | "HEAD") && path.contains("/manifests/sha256-") {
            std::thread::sleep(Duration::from_millis(150));
        }
        false
    });
    let image = format!("{}/slow/app@{digest}", proxy.host);
    let out = run(sign(dir.path(), 0, 0, &image).env("VOUCH_SETTLE_MS", "200")).code(3);
    assert!(
        out.stderr.contains("too slow for the no-lost-write window")
            && out.stderr.contains("VOUCH_SETTLE_MS"),
        "{out:#?}"
    );
    // Nothing was written: the signature tag does not exist.
    let tag = format!("sha256-{}.sig", digest.hex());
    let resp = reqwest::Client::new()
        .head(format!("http://{}/v2/slow/app/manifests/{tag}", reg.host()))
        .header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

/// A tag PUT answered later than the transit bound (`VOUCH_SETTLE_MS` 200: window 100 ms, transit
/// 100 ms; the proxy holds each signature-tag PUT 150 ms): the signature is written and confirmed,
/// and the run warns that the assumption the wait rests on did not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_slower_than_the_transit_bound_is_reported() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path(), 1);
    let digest = push_image(&client(), &reg.host(), "slow/app", "v1").await;
    let proxy = FaultProxy::start(reg.host(), |method, path| {
        if method == "PUT" && path.contains("/manifests/sha256-") {
            std::thread::sleep(Duration::from_millis(150));
        }
        false
    });
    let image = format!("{}/slow/app@{digest}", proxy.host);
    let out = run(sign(dir.path(), 0, 0, &image).env("VOUCH_SETTLE_MS", "200")).ok();
    assert!(
        out.stderr
            .contains("took longer than the no-lost-write protocol allows to answer 1 tag write"),
        "{out:#?}"
    );
    let direct = format!("{}/slow/app@{digest}", reg.host());
    assert_eq!(rounds_signed_by(dir.path(), 0, &direct), vec![0]);
}
