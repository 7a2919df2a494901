//! The registry requests a run reports (`"requests"` in `--output json`, and the
//! `VOUCH_LOG=debug` line on stderr) are the requests the registry received: counted here by a
//! pass-through proxy in front of the real registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::image::registry_ref;
use crate::support::image::{client, push_image};
use crate::support::proxy::FaultProxy;
use crate::support::registry::{Registry, RegistryKind};
use crate::support::{run, vouch};
use bytes::Bytes;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::manifest::Descriptor;
use vouch_core::oci::registry::{Access, RequestKind};

/// A proxy that forwards everything and counts what it forwards.
fn counting_proxy(upstream: String) -> (FaultProxy, Arc<AtomicU64>) {
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let proxy = FaultProxy::start(upstream, move |_, _| {
        s.fetch_add(1, Ordering::SeqCst);
        false
    });
    (proxy, seen)
}

/// The counts of the `vouch: debug: registry requests {…}` line.
fn logged(stderr: &str) -> serde_json::Value {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("vouch: debug: registry requests "))
        .unwrap_or_else(|| panic!("no request line in {stderr}"));
    serde_json::from_str(line).unwrap()
}

crate::on_each_registry! {
async fn reported_requests_are_the_requests_the_registry_received(kind) {
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(vouch().current_dir(d).env("VOUCH_PASSWORD", "pw").args(["generate-key-pair"])).ok();
    let digest = push_image(&client(), &reg.host(), "app/counted", "v1").await;
    let (proxy, seen) = counting_proxy(reg.host());
    let image = format!("{}/app/counted@{digest}", proxy.host);

    for format in ["bundle", "legacy"] {
        // sign: the JSON report and the debug line both say what the proxy saw.
        seen.store(0, Ordering::SeqCst);
        let out = run(vouch().current_dir(d).env("VOUCH_PASSWORD", "pw").env("VOUCH_LOG", "debug").args([
            "sign", "--key", "vouch.key", "--format", format, "--output", "json", &image,
        ]))
        .ok();
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let received = seen.load(Ordering::SeqCst);
        assert_eq!(doc["images"][0]["outcome"], "added", "{format}: {doc}");
        assert_eq!(doc["requests"]["total"], received, "{format}: {doc}");
        let by: u64 = doc["requests"]["by"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(by, received, "{format}: {doc}");
        assert!(doc["requests"]["by"]["manifest PUT"].as_u64().unwrap() >= 1, "{doc}");
        assert_eq!(logged(&out.stderr), doc["requests"], "{format}");
        let by = &doc["requests"]["by"];
        if kind == RegistryKind::ReferrersApi {
            // Small blobs in one POST each; the registry's OCI-Subject answer says it lists
            // referrers itself: no probe.
            assert!(by.get("blob PUT").is_none(), "{format}: {doc}");
            assert!(by.get("referrers GET").is_none(), "{format}: {doc}");
        } else {
            // distribution 2.8 opens a session for a single POST: the bytes follow in a PUT.
            assert_eq!(by["blob POST"], by["blob PUT"], "{format}: {doc}");
        }

        // verify --key: the debug line (its JSON is cosign's list of images).
        seen.store(0, Ordering::SeqCst);
        let out = run(vouch().current_dir(d).env("VOUCH_LOG", "debug").args([
            "verify", "--key", "vouch.pub", "--output", "json", &image,
        ]))
        .ok();
        let counts = logged(&out.stderr);
        assert_eq!(counts["total"], seen.load(Ordering::SeqCst), "{format}: {counts}");
        assert!(counts["total"].as_u64().unwrap() > 0);
        assert!(counts["by"].get("manifest PUT").is_none(), "verify writes nothing: {counts}");
    }

    // attest: the JSON report.
    std::fs::write(d.join("predicate.json"), br#"{"built":"here"}"#).unwrap();
    seen.store(0, Ordering::SeqCst);
    let out = run(vouch().current_dir(d).env("VOUCH_PASSWORD", "pw").args([
        "attest", "--key", "vouch.key", "--predicate", "predicate.json", "--output", "json", &image,
    ]))
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["outcome"], "added", "{doc}");
    assert_eq!(doc["requests"]["total"], seen.load(Ordering::SeqCst), "{doc}");

    // verify --policy: the JSON report.
    std::fs::write(
        d.join("policy.yaml"),
        "version: 1\nimages:\n  - match: \"**\"\n    signatures:\n      authorities: [{key: vouch.pub}]\n",
    )
    .unwrap();
    seen.store(0, Ordering::SeqCst);
    let out = run(vouch().current_dir(d).args([
        "verify", "--policy", "policy.yaml", "--output", "json", &image,
    ]))
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["allowed"], true, "{doc}");
    assert_eq!(doc["requests"]["total"], seen.load(Ordering::SeqCst), "{doc}");
}
}

crate::on_each_registry! {
async fn small_blobs_take_one_request_where_the_registry_allows(kind) {
    let reg = Registry::start_kind(kind);
    let r = registry_ref(&reg.host(), "blobs/small");
    let c = client();
    let (a, b) = (Bytes::from_static(b"first small blob"), Bytes::from_static(b"second"));
    let stored = |bytes: &Bytes| Descriptor::of("application/octet-stream", bytes);
    let posts = |c: &vouch_core::oci::registry::RegistryClient| {
        let n = c.requests();
        (n.of(RequestKind::BlobPost), n.of(RequestKind::BlobPut), n.total)
    };
    assert_eq!(c.put_blob(&r, a.clone()).await.unwrap(), Sha256Digest::of(&a));
    assert_eq!(c.put_blob(&r, b.clone()).await.unwrap(), Sha256Digest::of(&b));
    // Stored, whatever way it went.
    for bytes in [&a, &b] {
        assert_eq!(c.get_blob(&r, &stored(bytes), Access::Pull, 1 << 10).await.unwrap(), bytes.to_vec());
    }
    let before = posts(&c);
    // Again: a registry with single POST takes it in one request; distribution 2.8 has it
    // mounted from the repository itself, in one request too.
    c.put_blob(&r, a.clone()).await.unwrap();
    let after = posts(&c);
    assert_eq!((after.0 - before.0, after.1 - before.1, after.2 - before.2), (1, 0, 1), "{kind:?}");
    match kind {
        // Two new blobs: one request each.
        RegistryKind::ReferrersApi => assert_eq!(before, (2, 0, 4), "{kind:?}"),
        // A single POST answered 202 then PUT; a mount answered 202 then PUT.
        RegistryKind::Distribution => assert_eq!(before, (2, 2, 6), "{kind:?}"),
    }
}
}

/// Behind basic authentication every first request is challenged (401) and sent again: both
/// count, as the registry received both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenged_requests_count_as_the_registry_received_them() {
    use crate::support::docker_config;
    use vouch_core::oci::registry::RegistryClient;
    use vouch_core::oci::registry::credentials::DockerConfig;

    let reg = Registry::start_with_auth("carol", "carols-pw");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(vouch()
        .current_dir(d)
        .env("VOUCH_PASSWORD", "pw")
        .args(["generate-key-pair"]))
    .ok();
    let (proxy, seen) = counting_proxy(reg.host());
    let cfg = docker_config(d, &proxy.host, "carol", "carols-pw");
    let authed = Arc::new(
        RegistryClient::with_config(
            Default::default(),
            DockerConfig::from_json(&std::fs::read_to_string(cfg.join("config.json")).unwrap())
                .unwrap(),
        )
        .unwrap(),
    );
    let digest = push_image(&authed, &proxy.host, "private/app", "v1").await;
    let image = format!("{}/private/app@{digest}", proxy.host);
    seen.store(0, Ordering::SeqCst);
    let out = run(vouch()
        .current_dir(d)
        .env("VOUCH_PASSWORD", "pw")
        .env("DOCKER_CONFIG", &cfg)
        .args([
            "sign",
            "--key",
            "vouch.key",
            "--format",
            "legacy",
            "--output",
            "json",
            &image,
        ]))
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        doc["requests"]["total"],
        seen.load(Ordering::SeqCst),
        "{doc}"
    );
    assert!(doc["requests"]["total"].as_u64().unwrap() > 1, "{doc}");
}

/// Pushes `images` small images to a registry A of `kind`, each in its own repository, signs
/// them in `format`, and promotes them in one run to a registry B of the same kind, through
/// counting proxies: the run's JSON report, whose request counts are checked against what A
/// and B received. What was promoted verifies at B.
async fn promote_counted(kind: RegistryKind, format: &str, images: u64) -> serde_json::Value {
    let (a, b) = (Registry::start_kind(kind), Registry::start_kind(kind));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(vouch()
        .current_dir(d)
        .env("VOUCH_PASSWORD", "pw")
        .args(["generate-key-pair"]))
    .ok();
    let c = client();
    let mut sign = vec!["sign".to_owned(), "--key".into(), "vouch.key".into()];
    sign.extend(["--format".into(), format.to_owned()]);
    for i in 0..images {
        push_image(&c, &a.host(), &format!("small{i}"), "v1").await;
        sign.push(format!("{}/small{i}:v1", a.host()));
    }
    run(vouch()
        .current_dir(d)
        .env("VOUCH_PASSWORD", "pw")
        .args(&sign))
    .ok();
    std::fs::write(
        d.join("policy.yaml"),
        "version: 1\nimages:\n  - match: \"**\"\n    signatures:\n      authorities: [{key: vouch.pub}]\n",
    )
    .unwrap();
    let (pa, seen_a) = counting_proxy(a.host());
    let (pb, seen_b) = counting_proxy(b.host());
    let mut args = vec![
        "promote".to_owned(),
        "--policy".into(),
        "policy.yaml".into(),
    ];
    args.extend(["--output".into(), "json".into()]);
    for i in 0..images {
        args.push(format!("{}/small{i}:v1", pa.host));
        args.push(format!("{}/small{i}:v1", pb.host));
    }
    let out = run(vouch().current_dir(d).args(&args)).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let received = seen_a.load(Ordering::SeqCst) + seen_b.load(Ordering::SeqCst);
    assert_eq!(doc["requests"]["total"], received, "{format}: {doc}");
    for i in 0..images {
        run(vouch().current_dir(d).args([
            "verify",
            "--policy",
            "policy.yaml",
            &format!("{}/small{i}:v1", b.host()),
        ]))
        .ok();
    }
    doc
}

crate::on_each_registry! {
/// `vouch promote` of small signed images (cosign 3 bundles) between two registries of one
/// kind: the requests it reports are those the registries received, and they are the fewest
/// the copy needs (each counted below), so that a change that adds a round trip per image
/// shows here.
async fn promote_of_small_signed_images_takes_the_fewest_requests(kind) {
    const IMAGES: u64 = 2;
    let doc = promote_counted(kind, "bundle", IMAGES).await;
    let by = &doc["requests"]["by"];
    let n = |k: &str| by.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    // Per image, from the source: the tag resolved (manifest GET); its repository's tags
    // listed once (tags list GET), so that the absent `.sig` (the gate), `.att` and `.sbom`
    // (the copy) are not asked for; the bundle's layer (blob GET), read by the gate straight
    // from the listing (vouch's bundle annotations) and not again by the copy, and the bundle's
    // manifest (manifest GET), read by the copy; the image's config and layer
    // (blob GET). To the destination: whether it holds the image (manifest HEAD); the image's
    // two blobs and the bundle's two (its empty `{}` config read from nowhere); the bundle's
    // manifest, the image's manifest and the tag (manifest PUT). A destination without the
    // image is not asked for the image's referrers: they are stored anyway.
    assert_eq!(n("tags list GET"), IMAGES, "{doc}");
    assert_eq!(n("blob GET"), 3 * IMAGES, "{doc}");
    assert!(by.get("blob HEAD").is_none() && by.get("blob PATCH").is_none(), "{doc}");
    match kind {
        RegistryKind::ReferrersApi => {
            // Every blob in one POST; the source's referrers listed by the gate (referrers
            // GET); the destination says it lists referrers itself when the bundle's manifest
            // is stored: no fallback index.
            assert_eq!(n("blob POST"), 4 * IMAGES, "{doc}");
            assert!(by.get("blob PUT").is_none(), "{doc}");
            assert_eq!(n("referrers GET"), IMAGES, "{doc}");
            assert_eq!(n("manifest GET"), 2 * IMAGES, "{doc}");
            assert_eq!(n("manifest HEAD"), IMAGES, "{doc}");
            assert_eq!(n("manifest PUT"), 3 * IMAGES, "{doc}");
            assert_eq!(doc["requests"]["total"], 15 * IMAGES, "{doc}");
        }
        RegistryKind::Distribution => {
            // distribution 2.8 takes no whole blob in a POST: each blob is a POST then a PUT,
            // except the bundles' shared `{}`, sent once and mounted (one POST) into the other
            // repositories. The referrers API is asked once per registry (404). The fallback
            // index `sha256-<hex>`: read at the source (the gate) and at the destination by its
            // no-lost-write update (manifest GET), written (manifest PUT) and checked after the
            // settle wait (manifest HEAD).
            assert_eq!(n("blob POST"), 4 * IMAGES, "{doc}");
            assert_eq!(n("blob PUT"), 3 * IMAGES + 1, "{doc}");
            assert_eq!(n("referrers GET"), 2, "{doc}");
            assert_eq!(n("manifest GET"), 4 * IMAGES, "{doc}");
            assert_eq!(n("manifest HEAD"), 2 * IMAGES, "{doc}");
            assert_eq!(n("manifest PUT"), 4 * IMAGES, "{doc}");
            assert_eq!(doc["requests"]["total"], 21 * IMAGES + 3, "{doc}");
        }
    }
}
}

crate::on_each_registry! {
/// The same with legacy `.sig` signatures: the signature manifest's config and layer go like
/// the image's blobs, without a `HEAD` first (the destination lacks the image).
async fn promote_of_small_legacy_signed_images_takes_the_fewest_requests(kind) {
    const IMAGES: u64 = 2;
    let doc = promote_counted(kind, "legacy", IMAGES).await;
    let by = &doc["requests"]["by"];
    let n = |k: &str| by.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    // Per image, from the source: the tag resolved and the `.sig` manifest (manifest GET), the
    // repository's tags listed once (tags list GET: no `.att`, `.sbom` nor fallback index to
    // ask for), the signature's layer (the gate), its config and the image's two blobs (blob
    // GET). To the destination: whether it holds the image (manifest HEAD); four blobs; the
    // `.sig` tag read by its no-lost-write merge (manifest GET), the image's manifest, the
    // `.sig` manifest and the tag (manifest PUT), the `.sig` tag checked after the settle
    // wait (manifest HEAD).
    assert_eq!(n("tags list GET"), IMAGES, "{doc}");
    assert_eq!(n("blob GET"), 4 * IMAGES, "{doc}");
    assert_eq!(n("blob POST"), 4 * IMAGES, "{doc}");
    assert_eq!(n("manifest GET"), 3 * IMAGES, "{doc}");
    assert_eq!(n("manifest HEAD"), 2 * IMAGES, "{doc}");
    assert_eq!(n("manifest PUT"), 3 * IMAGES, "{doc}");
    assert!(by.get("blob HEAD").is_none() && by.get("blob PATCH").is_none(), "{doc}");
    match kind {
        RegistryKind::ReferrersApi => {
            // The gate lists the source's referrers (referrers GET); every blob in one POST.
            assert_eq!(n("referrers GET"), IMAGES, "{doc}");
            assert!(by.get("blob PUT").is_none(), "{doc}");
            assert_eq!(doc["requests"]["total"], 18 * IMAGES, "{doc}");
        }
        RegistryKind::Distribution => {
            // The referrers API asked once (404, remembered); a blob is a POST then a PUT.
            assert_eq!(n("referrers GET"), 1, "{doc}");
            assert_eq!(n("blob PUT"), 4 * IMAGES, "{doc}");
            assert_eq!(doc["requests"]["total"], 21 * IMAGES + 1, "{doc}");
        }
    }
}
}

crate::on_each_registry! {
/// `vouch sign` sends the fewest requests the protocol allows, by kind, for a batch of fresh
/// images and for one image (the figures of issue 16; `scripts/bench-registry-requests` prints
/// what each kind costs the registry). Per image of a batch of `n` in one repository:
/// - both kinds: the image manifest `GET` (resolve: its media type and size are the subject's
///   descriptor, and it proves the image exists);
/// - bundle on distribution 2.8: the bundle blob (a mount answered 202, then `PUT`: 2.8 has no
///   single `POST`), the referrer manifest `PUT` by digest, and the fallback index `sha256-<hex>`
///   read, written and confirmed after the one settle wait (`GET`, `PUT`, `HEAD`): 7;
/// - bundle with the referrers API: the `HEAD` that says whether this referrer was stored (and
///   so listed) before (`alreadyPresent`), the bundle blob in one `POST`, the referrer `PUT`: 4;
/// - legacy (`.sig` tag, settled on both kinds): the payload blob, the tag read, its config blob
///   (its `diff_ids` name this image's payload, so one per image), the tag `PUT`, the confirming
///   `HEAD`: 8 on distribution (each blob `POST` + `PUT`), 6 with single `POST`.
/// Once per batch: the shared empty config `{}` and one referrers probe.
async fn sign_sends_the_fewest_requests_by_kind(kind) {
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(vouch().current_dir(d).env("VOUCH_PASSWORD", "pw").args(["generate-key-pair"])).ok();
    let c = client();
    let n: u64 = 3;
    let mut batch = Vec::new();
    for i in 0..n {
        let digest = push_image(&c, &reg.host(), "app/batch", &format!("v{i}")).await;
        batch.push(format!("{}/app/batch@{digest}", reg.host()));
    }
    let single = push_image(&c, &reg.host(), "app/single", "v1").await;
    let single = vec![format!("{}/app/single@{single}", reg.host())];
    let by_kind = |format: &str, images: &[String]| {
        // A long settle keeps the window's re-check (a `HEAD` when a read takes over half the
        // window) out of reach on a loaded machine: these are the counts of the protocol itself.
        let out = run(vouch()
            .current_dir(d)
            .env("VOUCH_PASSWORD", "pw")
            .env("VOUCH_SETTLE_MS", "4000")
            .args(["sign", "--key", "vouch.key", "--format", format, "--output", "json"])
            .args(images))
        .ok();
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        for image in doc["images"].as_array().unwrap() {
            assert_eq!(image["outcome"], "added", "{format}: {doc}");
        }
        let by: std::collections::BTreeMap<String, u64> = doc["requests"]["by"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(by.values().sum::<u64>(), doc["requests"]["total"].as_u64().unwrap());
        by
    };
    let expect = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
        pairs.iter().filter(|(_, v)| *v > 0).map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    match kind {
        RegistryKind::Distribution => {
            assert_eq!(by_kind("bundle", &batch), expect(&[
                ("manifest GET", 2 * n),  // resolve; the fallback index read
                ("blob POST", n + 1),     // each bundle (a mount answered 202); `{}` once
                ("blob PUT", n + 1),      // ... its bytes
                ("referrers GET", 1),     // the probe, once per batch (404: fallback index)
                ("manifest PUT", 2 * n),  // the referrer by digest; the fallback index
                ("manifest HEAD", n),     // the confirmation after the settle wait
            ]), "bundle, batch of {n}");
            assert_eq!(by_kind("legacy", &batch), expect(&[
                ("manifest GET", 2 * n),  // resolve; the .sig tag read
                ("blob POST", 2 * n),     // the payload; the config
                ("blob PUT", 2 * n),
                ("manifest PUT", n),      // the .sig tag
                ("manifest HEAD", n),     // the confirmation
            ]), "legacy, batch of {n}");
            // One image: whether the registry has the referrers API is not known before the
            // referrer is stored, so the `HEAD` of the API registries is sent too (the `PUT`'s
            // answer then has no `OCI-Subject`, and the probe asks): 11.
            assert_eq!(by_kind("bundle", &single), expect(&[
                ("manifest GET", 2),
                ("blob POST", 2),
                ("blob PUT", 2),
                ("referrers GET", 1),
                ("manifest PUT", 2),
                ("manifest HEAD", 2),
            ]), "bundle, one image");
        }
        RegistryKind::ReferrersApi => {
            assert_eq!(by_kind("bundle", &batch), expect(&[
                ("manifest GET", n),      // resolve
                ("referrers GET", 1),     // the probe, once per batch (200: the API)
                ("manifest HEAD", n),     // stored (listed) before?
                ("blob POST", n + 1),     // each bundle in one POST; `{}` once
                ("manifest PUT", n),      // the referrer by digest: nothing to settle
            ]), "bundle, batch of {n}");
            assert_eq!(by_kind("legacy", &batch), expect(&[
                ("manifest GET", 2 * n),
                ("blob POST", 2 * n),
                ("manifest PUT", n),
                ("manifest HEAD", n),
            ]), "legacy, batch of {n}");
            // One image: the referrer `PUT`'s `OCI-Subject` answer says the registry lists it,
            // so no probe: 5.
            assert_eq!(by_kind("bundle", &single), expect(&[
                ("manifest GET", 1),
                ("manifest HEAD", 1),
                ("blob POST", 2),
                ("manifest PUT", 1),
            ]), "bundle, one image");
        }
    }
}
}

/// A tag read that takes over half the window but not all of it (the proxy holds it 600 ms;
/// `VOUCH_SETTLE_MS` 2000: window 1 s): the PUT is sent within the window without re-checking
/// the tag: one `HEAD`, the confirmation (two before, when a read over half the window was
/// re-checked). A re-check is sent only when the window would otherwise be overrun
/// (tests/e2e/settle.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_within_the_window_is_not_rechecked() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(vouch()
        .current_dir(d)
        .env("VOUCH_PASSWORD", "pw")
        .args(["generate-key-pair"]))
    .ok();
    let digest = push_image(&client(), &reg.host(), "app/slowread", "v1").await;
    let proxy = FaultProxy::start(reg.host(), |method, path| {
        if method == "GET" && path.contains("/manifests/sha256-") {
            std::thread::sleep(std::time::Duration::from_millis(600));
        }
        false
    });
    let image = format!("{}/app/slowread@{digest}", proxy.host);
    let out = run(vouch()
        .current_dir(d)
        .env("VOUCH_PASSWORD", "pw")
        .env("VOUCH_SETTLE_MS", "2000")
        .args([
            "sign",
            "--key",
            "vouch.key",
            "--format",
            "legacy",
            "--output",
            "json",
            &image,
        ]))
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["images"][0]["outcome"], "added", "{doc}");
    let by = &doc["requests"]["by"];
    // The confirmation only; one read of the tag (resolve and the tag read), one write.
    assert_eq!(by["manifest HEAD"], 1, "{doc}");
    assert_eq!(by["manifest GET"], 2, "{doc}");
    assert_eq!(by["manifest PUT"], 1, "{doc}");
}

/// A TCP relay in front of a registry that counts the connections made through it (bytes pass
/// both ways unchanged, so a client can keep a connection open for many requests).
fn connection_counter(upstream: String) -> (String, Arc<AtomicU64>) {
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(up) = TcpStream::connect(&upstream) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), up.try_clone().unwrap());
            pipe(up, client);
        }
    });
    (host, count)
}

/// A client keeps the connections a burst of requests opened for the next burst: a batch (the
/// gate, promote, sign) sends its requests in waves as far apart as a registry round trip, and
/// each connection opened again costs the registry an accept and a handshake (with an idle pool
/// of 32, a gate batch of 1,000 images with a signature and three attestations opened 1,951
/// connections for its 5,000 requests; with the pool sized for the batch's concurrency, 317).
/// Here 128 blob reads at once, twice, through a relay that counts connections: the second
/// wave finds the first wave's connections idle and opens none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_reuses_the_connections_of_the_last() {
    const AT_ONCE: usize = 128;
    let reg = Registry::start();
    let c = client();
    let bytes = Bytes::from_static(b"a blob read by every request");
    let r = registry_ref(&reg.host(), "conn/burst");
    c.put_blob(&r, bytes.clone()).await.unwrap();
    let (relay, opened) = connection_counter(reg.host());
    let relayed = registry_ref(&relay, "conn/burst");
    let desc = Descriptor::of("application/octet-stream", &bytes);
    let wave = || {
        futures_util::future::join_all(
            (0..AT_ONCE).map(|_| c.get_blob(&relayed, &desc, Access::Pull, 1 << 10)),
        )
    };
    for read in wave().await {
        assert_eq!(read.unwrap(), bytes.to_vec());
    }
    let first = opened.load(Ordering::SeqCst);
    assert!(first >= 1, "the relay saw no connection");
    // The first wave's connections are idle now, and reused.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for read in wave().await {
        assert_eq!(read.unwrap(), bytes.to_vec());
    }
    let second = opened.load(Ordering::SeqCst) - first;
    assert!(
        second <= first / 8,
        "the second wave of {AT_ONCE} opened {second} connections (the first opened {first})"
    );
}

crate::on_each_registry! {
/// A blob larger than a chunk whose size is known (every blob the copy engine streams) goes in
/// one `PATCH`, streamed as it is written, not one per chunk: ferro-oci-server copies the
/// whole upload on each `PATCH`, and 8 MiB chunks made a 200 MB promote slower than skopeo's
/// one `PATCH` per layer. Fewer bytes than announced, or an abandoned blob, store nothing.
async fn a_large_blob_goes_in_one_streamed_patch(kind) {
    let reg = Registry::start_kind(kind);
    let c = client();
    let r = registry_ref(&reg.host(), "blobs/streamed");
    let target = vouch_core::oci::Target::registry(c.clone(), &r);
    let blob: Vec<u8> = (0..(1u32 << 20) + 12_345).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let desc = Descriptor::of("application/octet-stream", &blob);
    let counts = |c: &vouch_core::oci::registry::RegistryClient| {
        let n = c.requests();
        [RequestKind::BlobPost, RequestKind::BlobPatch, RequestKind::BlobPut].map(|k| n.of(k))
    };

    let before = counts(&c);
    let mut w = target.blob_writer(256 << 10).unwrap().with_size(blob.len() as u64);
    for piece in blob.chunks(64 << 10) {
        w.write(piece).await.unwrap();
    }
    w.commit(&desc.digest).await.unwrap();
    let after = counts(&c);
    assert_eq!(
        [after[0] - before[0], after[1] - before[1], after[2] - before[2]],
        [1, 1, 1],
        "{kind:?}: POST, PATCH, PUT"
    );
    assert_eq!(c.get_blob(&r, &desc, Access::Pull, 4 << 20).await.unwrap(), blob);

    // Fewer bytes than announced: the PATCH fails, the commit fails, nothing is stored.
    let other: Vec<u8> = blob.iter().map(|b| b ^ 0x5a).collect();
    let other_desc = Descriptor::of("application/octet-stream", &other);
    let mut w = target.blob_writer(256 << 10).unwrap().with_size(other.len() as u64);
    for piece in other[..other.len() - 1000].chunks(64 << 10) {
        w.write(piece).await.unwrap();
    }
    assert!(w.commit(&other_desc.digest).await.is_err(), "{kind:?}");
    assert!(!target.has_blob(&other_desc.digest, Access::Push).await.unwrap(), "{kind:?}");

    // Abandoned midway (a source that lied): nothing is stored.
    let mut w = target.blob_writer(256 << 10).unwrap().with_size(other.len() as u64);
    for piece in other[..600 << 10].chunks(64 << 10) {
        w.write(piece).await.unwrap();
    }
    w.abort().await;
    assert!(!target.has_blob(&other_desc.digest, Access::Push).await.unwrap(), "{kind:?}");
}
}
