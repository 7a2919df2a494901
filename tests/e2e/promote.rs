//! `vouch promote`: two real docker-registry instances and OCI layouts. Sign and attest in the
//! first, promote to the second, verify there; a failing policy copies nothing; the digest
//! copied is the digest verified even when the source tag moves in between; the air-gapped
//! round trip through a layout; dry runs; the promotion record.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::image::{client, push_image, push_index};
use crate::support::registry::Registry;
use crate::support::{Run, run, vectors, vouch};

fn vouch_in(dir: &Path, args: &[&str]) -> Run {
    run(vouch()
        .current_dir(dir)
        .env("VOUCH_PASSWORD", "pw")
        .env("VOUCH_SETTLE_MS", "100")
        .env("VOUCH_NOW", "2026-11-27T12:00:00Z")
        .args(args))
}

fn keys(dir: &Path) {
    for k in ["release", "scanner", "promoter"] {
        vouch_in(dir, &["generate-key-pair", "--output-key-prefix", k]).ok();
    }
}

/// Signs and attests (an SBOM and a scan) `image`, in both formats.
fn sign_and_attest(dir: &Path, image: &str) {
    let v = vectors();
    vouch_in(dir, &["sign", "--key", "release.key", image]).ok();
    vouch_in(
        dir,
        &["sign", "--key", "release.key", "--format", "legacy", image],
    )
    .ok();
    let sbom = v.join("sboms/trivy-npm.cdx.json").display().to_string();
    let scan = v.join("scans/grype/image.json").display().to_string();
    vouch_in(
        dir,
        &[
            "attest",
            "--key",
            "release.key",
            "--type",
            "cyclonedx",
            "--predicate",
            &sbom,
            image,
        ],
    )
    .ok();
    vouch_in(
        dir,
        &[
            "attest",
            "--key",
            "scanner.key",
            "--format",
            "legacy",
            "--type",
            "vuln",
            "--predicate",
            &scan,
            "--scan-finished-on",
            "2026-11-27T08:00:00Z",
            image,
        ],
    )
    .ok();
}

/// A policy for `pattern`; `critical` is the CRITICAL limit (the Grype scan has one).
fn policy(dir: &Path, pattern: &str, critical: u32) -> String {
    let p = format!(
        "version: 1\nimages:\n  - match: \"{pattern}\"\n    signatures:\n      authorities: [{{key: release.pub}}]\n    attestations:\n      - type: cyclonedx\n        sbom:\n          bannedPackages: [\"pkg:npm/event-stream@3.3.6\"]\n      - type: vuln\n        authorities: [{{key: scanner.pub}}]\n        vulnerabilities:\n          maxAge: 24h\n          limits: {{critical: {critical}}}\n"
    );
    let name = format!("policy-{critical}.yaml");
    fs::write(dir.join(&name), p).unwrap();
    name
}

/// Blocking work off the async test's runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn verify_at(dir: &Path, policy: &str, image: &str) -> Run {
    vouch_in(dir, &["verify", "--policy", policy, image])
}

crate::on_each_registry! {
async fn promote_between_registries_then_verify_there(kind) {
    let (a, b) = (Registry::start_kind(kind), Registry::start_kind(kind));
    let (ha, hb) = (a.host(), b.host());
    let digest = push_image(&client(), &ha, "staging/app", "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    blocking(move || {
        keys(&d);
        let src = format!("{ha}/staging/app:v1");
        sign_and_attest(&d, &src);
        let ok_policy = policy(&d, "127.0.0.1:*/**", 1);
        let deny_policy = policy(&d, "127.0.0.1:*/**", 0);

        // A failing policy copies nothing, exit 1.
        let dst = format!("{hb}/prod/app:v1");
        let out = vouch_in(&d, &["promote", "--policy", &deny_policy, &src, &dst]).code(1);
        assert!(out.stderr.contains("vuln.limit-exceeded"), "{}", out.stderr);
        assert!(out.stderr.contains("Not promoted"), "{}", out.stderr);
        let tree = vouch_in(&d, &["tree", &dst]);
        assert_ne!(
            tree.code, 0,
            "nothing may exist at the destination: {tree:#?}"
        );

        // A dry run judges and plans, and writes nothing.
        let out = vouch_in(
            &d,
            &[
                "promote",
                "--dry-run",
                "--output",
                "json",
                "--policy",
                &ok_policy,
                &src,
                &dst,
            ],
        )
        .ok();
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["dryRun"], true);
        let plan = &doc["promotions"][0]["plan"];
        assert!(plan["manifests"].as_array().unwrap().len() >= 5, "{plan:#}");
        assert_ne!(vouch_in(&d, &["tree", &dst]).code, 0);

        // The real promotion, with a promotion record.
        let out = vouch_in(
            &d,
            &[
                "promote",
                "--policy",
                &ok_policy,
                "--attest-key",
                "promoter.key",
                "--output",
                "json",
                &src,
                &dst,
            ],
        )
        .ok();
        assert!(out.stderr.contains("Promoted"), "{}", out.stderr);
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let p = &doc["promotions"][0];
        assert_eq!(p["digest"], digest.to_string());
        assert_eq!(p["copy"]["tag"]["tag"], "v1");
        // At the destination: the same verdict by the same policy, and the tag names the digest.
        let out = verify_at(&d, &ok_policy, &dst).ok();
        assert!(out.stderr.contains(&digest.to_string()), "{}", out.stderr);
        vouch_in(&d, &["verify", "--key", "release.pub", &dst]).ok();
        // The record: signed by the promoter, about this digest, naming source and policy.
        let out = vouch_in(
            &d,
            &[
                "verify-attestation",
                "--key",
                "promoter.pub",
                "--type",
                "https://vouch.dev/attestation/promotion/v1",
                "--output",
                "json",
                &dst,
            ],
        )
        .ok();
        let rec: Value = serde_json::from_str(&out.stdout).unwrap();
        let pred = &rec[0]["attestations"][0]["statement"]["predicate"];
        assert_eq!(pred["source"]["digest"], digest.to_string());
        assert_eq!(pred["source"]["reference"], src);
        assert_eq!(pred["verdict"]["allowed"], true);
        let pol = fs::read(d.join(&ok_policy)).unwrap();
        assert_eq!(
            pred["policy"]["digest"],
            vouch_core::digest::Sha256Digest::of(&pol).to_string()
        );
        // Again: idempotent, nothing copied.
        let out = vouch_in(
            &d,
            &[
                "promote", "--policy", &ok_policy, "--output", "json", &src, &dst,
            ],
        )
        .ok();
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        for b in doc["promotions"][0]["copy"]["blobs"].as_array().unwrap() {
            assert_eq!(b["outcome"], "skipped", "{b:#}");
        }
    })
    .await;
}
}

crate::on_each_registry! {
async fn the_digest_copied_is_the_digest_verified_when_the_tag_moves(kind) {
    let (a, b) = (Registry::start_kind(kind), Registry::start_kind(kind));
    let (ha, hb) = (a.host(), b.host());
    let c = client();
    let verified = push_image(&c, &ha, "staging/app", "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let pause = tempfile::tempdir().unwrap();
    let src = format!("{ha}/staging/app:v1");
    let dst = format!("{hb}/prod/app:v1");
    let (d2, src2) = (d.clone(), src.clone());
    let pol = blocking(move || {
        keys(&d2);
        sign_and_attest(&d2, &src2);
        policy(&d2, "127.0.0.1:*/**", 1)
    })
    .await;
    let child = vouch()
        .current_dir(&d)
        .env("VOUCH_PASSWORD", "pw")
        .env("VOUCH_SETTLE_MS", "100")
        .env("VOUCH_NOW", "2026-11-27T12:00:00Z")
        .env("VOUCH_TEST_PAUSE_AFTER_VERIFY", pause.path())
        .args(["promote", "--policy", &pol, "--output", "json", &src, &dst])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !pause.path().join("verified").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "promote never paused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fs::read_to_string(pause.path().join("verified"))
            .unwrap()
            .trim(),
        verified.to_string()
    );
    // Another process moves the source tag to an unsigned image.
    let moved = {
        let (config, layer, manifest) = crate::support::image::image_parts("moved");
        let r = match format!("{ha}/staging/app").parse().unwrap() {
            vouch_core::oci::reference::ImageRef::Registry(r) => r,
            _ => unreachable!(),
        };
        c.put_blob(&r, config.into()).await.unwrap();
        c.put_blob(&r, layer.into()).await.unwrap();
        c.put_manifest(
            &r,
            "v1",
            manifest.into(),
            vouch_core::oci::manifest::OCI_MANIFEST,
        )
        .await
        .unwrap()
    };
    assert_ne!(moved, verified);
    fs::write(pause.path().join("continue"), b"").unwrap();
    let out = blocking(move || child.wait_with_output().unwrap()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["promotions"][0]["digest"], verified.to_string());
    // The destination tag names the verified digest, not the one the tag moved to.
    let d3 = d.clone();
    let out = blocking(move || {
        vouch_in(
            &d3,
            &["verify", "--key", "release.pub", "--output", "json", &dst],
        )
        .ok()
    })
    .await;
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["digest"], verified.to_string());
}
}

crate::on_each_registry! {
async fn air_gapped_promotion_through_a_layout_and_an_index(kind) {
    let (a, b) = (Registry::start_kind(kind), Registry::start_kind(kind));
    let (ha, hb) = (a.host(), b.host());
    let (index, platforms) = push_index(&client(), &ha, "staging/multi", "v2").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    blocking(move || {
        keys(&d);
        let src = format!("{ha}/staging/multi:v2");
        sign_and_attest(&d, &src);
        // Each platform brings its own signature.
        for p in &platforms {
            vouch_in(
                &d,
                &[
                    "sign",
                    "--key",
                    "release.key",
                    &format!("{ha}/staging/multi@{p}"),
                ],
            )
            .ok();
        }
        let pol = policy(&d, "**", 1);
        // Registry → layout (carried over on disk) → registry on the other side.
        let carry = d.join("carry");
        let on_disk = format!("oci:{}:v2", carry.display());
        vouch_in(&d, &["promote", "--policy", &pol, &src, &on_disk]).ok();
        verify_at(&d, &pol, &on_disk).ok();
        let dst = format!("{hb}/prod/multi:v2");
        let out = vouch_in(&d, &["promote", "--policy", &pol, &on_disk, &dst]).ok();
        assert!(out.stderr.contains(&index.to_string()), "{}", out.stderr);
        verify_at(&d, &pol, &dst).ok();
        for p in &platforms {
            vouch_in(
                &d,
                &[
                    "verify",
                    "--key",
                    "release.pub",
                    &format!("{hb}/prod/multi@{p}"),
                ],
            )
            .ok();
        }
        vouch_in(&d, &["verify", "--key", "release.pub", "--recursive", &dst]).ok();
    })
    .await;
}
}

crate::on_each_registry! {
async fn several_pairs_each_judged_denied_ones_untouched(kind) {
    let (a, b) = (Registry::start_kind(kind), Registry::start_kind(kind));
    let (ha, hb) = (a.host(), b.host());
    let c = client();
    let signed = push_image(&c, &ha, "staging/one", "v1").await;
    let _unsigned = push_image(&c, &ha, "staging/two", "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    blocking(move || {
        keys(&d);
        sign_and_attest(&d, &format!("{ha}/staging/one:v1"));
        let pol = policy(&d, "**", 1);
        let out = vouch_in(
            &d,
            &[
                "promote",
                "--policy",
                &pol,
                "--output",
                "json",
                &format!("{ha}/staging/one:v1"),
                &format!("{hb}/prod/one:v1"),
                &format!("{ha}/staging/two:v1"),
                &format!("{hb}/prod/two:v1"),
            ],
        )
        .code(1);
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["promotions"][0]["allowed"], true);
        assert_eq!(doc["promotions"][0]["digest"], signed.to_string());
        assert_eq!(doc["promotions"][1]["allowed"], false);
        assert!(
            doc["promotions"][1]["failures"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "signature.none-valid"),
            "{doc:#}"
        );
        verify_at(&d, &pol, &format!("{hb}/prod/one:v1")).ok();
        assert_ne!(
            vouch_in(&d, &["tree", &format!("{hb}/prod/two:v1")]).code,
            0
        );
        // The block is chosen by the destination's name: a policy for the staging repositories
        // only does not let anything into production.
        let staging_only = policy(&d, &format!("{ha}/staging/*"), 1);
        let out = vouch_in(
            &d,
            &[
                "promote",
                "--policy",
                &staging_only,
                &format!("{ha}/staging/one:v1"),
                &format!("{hb}/prod/three:v1"),
            ],
        )
        .code(1);
        assert!(out.stderr.contains("policy.no-match"), "{}", out.stderr);
        assert_ne!(
            vouch_in(&d, &["tree", &format!("{hb}/prod/three:v1")]).code,
            0
        );
        // An odd number of references is a usage error.
        vouch_in(
            &d,
            &["promote", "--policy", &pol, &format!("{ha}/staging/one:v1")],
        )
        .code(2);
    })
    .await;
}
}

crate::on_each_registry! {
/// Issue 20: every destination is judged under the name of the place it is written to, and
/// every spelling of a registry under its canonical name. The policy lets images into
/// `staging`, `fresh` and `link` (signed by release) but into `prod` only with a signature
/// nobody made, and allows anything no block names: a name judged anywhere but where the image
/// lands would let it into `prod`.
async fn issue20_judged_where_it_lands_under_one_name(kind) {
    let a = Registry::start_kind(kind);
    let ha = a.host();
    let c = client();
    push_image(&c, &ha, "staging/app", "v1").await;
    push_image(&c, &ha, "prod/app", "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let d = fs::canonicalize(dir.path()).unwrap();
    blocking(move || {
        keys(&d);
        vouch_in(&d, &["generate-key-pair", "--output-key-prefix", "nobody"]).ok();
        let src = format!("{ha}/staging/app:v1");
        vouch_in(&d, &["sign", "--key", "release.key", &src]).ok();
        vouch_in(&d, &["sign", "--key", "release.key", &format!("{ha}/prod/app:v1")]).ok();
        let root = d.display();
        let text = format!(
            "version: 1\nimages:\n  - match: \"oci:{root}/staging/**\"\n    signatures: {{authorities: [{{key: release.pub}}]}}\n  - match: \"oci:{root}/fresh/**\"\n    signatures: {{authorities: [{{key: release.pub}}]}}\n  - match: \"oci:{root}/link/**\"\n    signatures: {{authorities: [{{key: release.pub}}]}}\n  - match: \"oci:{root}/prod/**\"\n    signatures: {{authorities: [{{key: nobody.pub}}]}}\n  - match: \"{ha}/prod/*\"\n    signatures: {{authorities: [{{key: nobody.pub}}]}}\ndefault: allow\n"
        );
        let pol = d.join("issue20.yaml");
        fs::write(&pol, text).unwrap();
        let pol = pol.display().to_string();
        let promote = |dst: &str| vouch_in(&d, &["promote", "--policy", &pol, &src, dst]);
        // The control: into staging, as typed.
        promote(&format!("oci:{root}/staging/ok:v1")).ok();
        // `fresh` does not exist: `..` removes it, so this is prod: denied, nothing written,
        // and no stray `fresh` folder.
        let out = promote(&format!("oci:{root}/fresh/../prod/app:v1")).code(1);
        assert!(
            out.stderr.contains(&format!("oci:{root}/prod/**")),
            "{}",
            out.stderr
        );
        assert!(!d.join("prod/app").exists() && !d.join("fresh").exists());
        // A symlinked folder is its target.
        fs::create_dir(d.join("prod")).unwrap();
        std::os::unix::fs::symlink(d.join("prod"), d.join("link")).unwrap();
        let out = promote(&format!("oci:{root}/link/app:v1")).code(1);
        assert!(out.stderr.contains("signature.none-valid"), "{}", out.stderr);
        assert!(!d.join("prod/app").exists());
        // A dangling link would be written elsewhere: refused before anything is judged.
        std::os::unix::fs::symlink(d.join("nowhere"), d.join("staging/dangling")).unwrap();
        promote(&format!("oci:{root}/staging/dangling/app:v1")).code(2);
        assert!(!d.join("nowhere").exists());
        // Other spellings of the registry are judged by its block, for verify and promote.
        let port = ha.rsplit_once(':').unwrap().1;
        for spelling in [
            format!("127.0.0.1:0{port}"),
            format!("127.0.0.1:000{port}"),
            format!("127.1:{port}"),
            format!("0x7f.0.0.1:{port}"),
            "2130706433:".to_owned() + port,
        ] {
            let image = format!("{spelling}/prod/app:v1");
            let out = vouch_in(&d, &["verify", "--policy", &pol, &image]).code(1);
            assert!(
                out.stderr.contains(&format!("block `{ha}/prod/*`")),
                "{image}: {}",
                out.stderr
            );
            let out = promote(&format!("{spelling}/prod/copy:v1")).code(1);
            assert!(out.stderr.contains("signature.none-valid"), "{}", out.stderr);
        }
        // Not a port, an upper-case repository: refused, not matched as another name.
        for bad in [
            format!("127.0.0.1:{port}0000/prod/app:v1"),
            format!("{ha}/Prod/app:v1"),
        ] {
            vouch_in(&d, &["verify", "--policy", &pol, &bad]).code(2);
        }
    })
    .await;
}
}
