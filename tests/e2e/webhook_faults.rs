//! `vouch serve` against a registry that lies: a rewriting proxy in front of the real
//! docker-registry answers a tag with a digest that is not the one it serves, serves manifests
//! whose bytes do not hash to the digest asked for, and blobs (the signature's) whose bytes do
//! not match their digest. Every lie is denied under either failure mode: a tag whose content
//! does not match its digest as `registry.digest-mismatch` (never the failure mode's allow); a
//! signature manifest or blob that does not match is no signature (`signature.none-valid`).
//! Nothing allowed is cached from a lie: the honest registry is then judged afresh and allowed.
//! Also: the ImageReview break-glass annotation (honoured only with `--allow-break-glass`), and
//! `/readyz` across a failed policy reload.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::Value;
use vouch_core::digest::Sha256Digest;

use crate::support::proxy::read_request;
use crate::webhook::{
    Server, admission, fixture, https, image_review, pod, policy, review, wait_for,
};

const HONEST: u8 = 0;
/// The tag answers with another digest (Docker-Content-Digest rewritten).
const TAG: u8 = 1;
/// Every manifest served is one byte longer than the one stored (its digest no longer matches).
const MANIFEST: u8 = 2;
/// Every blob served has its first byte changed.
const BLOB: u8 = 3;

struct LyingProxy {
    host: String,
    mode: Arc<AtomicU8>,
}

impl LyingProxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let mode = Arc::new(AtomicU8::new(HONEST));
        let m = mode.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (upstream, m) = (upstream.clone(), m.clone());
                std::thread::spawn(move || {
                    let _ = lie(client, &upstream, m.load(Ordering::SeqCst));
                });
            }
        });
        Self { host, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

fn lie(mut client: TcpStream, upstream: &str, mode: u8) -> std::io::Result<()> {
    let req = read_request(&client)?;
    let mut parts = req.line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(req.line.as_bytes())?;
    for h in req
        .headers
        .iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("connection:"))
    {
        up.write_all(h.as_bytes())?;
    }
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&req.body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return client.write_all(&response);
    };
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut body = response[split + 4..].to_vec();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let ok = head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200");
    let is_get = method == "GET";
    let mut lines: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
    let mut changed = false;
    if ok && !chunked {
        match mode {
            TAG if path.ends_with("/manifests/v1") => {
                let forged = Sha256Digest::of(b"not the manifest served").to_string();
                for l in &mut lines {
                    if l.to_ascii_lowercase().starts_with("docker-content-digest:") {
                        *l = format!("Docker-Content-Digest: {forged}");
                    }
                }
            }
            MANIFEST if is_get && path.contains("/manifests/") => {
                body.push(b'\n');
                changed = true;
            }
            BLOB if is_get && path.contains("/blobs/sha256:") && !body.is_empty() => {
                body[0] ^= 0x20;
                changed = true;
            }
            _ => {}
        }
    }
    if changed {
        for l in &mut lines {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                *l = format!("Content-Length: {}", body.len());
            }
        }
    }
    client.write_all(lines.join("\r\n").as_bytes())?;
    client.write_all(b"\r\n\r\n")?;
    client.write_all(&body)
}

fn message(r: &Value) -> String {
    r["response"]["status"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_denies_what_a_lying_registry_serves() {
    let f = fixture().await;
    let dir = f.dir.path().to_owned();
    let proxy = LyingProxy::start(f.host.clone());
    std::fs::write(dir.join("policy.yaml"), policy(&proxy.host)).unwrap();
    let image = format!("{}/team/good:v1", proxy.host);
    let pinned = format!("{}/team/good@{}", proxy.host, f.good_digest);
    let c = https(&dir.join("one-ca.pem"));
    for failure_mode in ["deny", "allow"] {
        for (mode, img, expect) in [
            (TAG, &image, "registry.digest-mismatch"),
            (MANIFEST, &pinned, "found no signatures"),
            (BLOB, &pinned, "found no valid signature"),
        ] {
            // A fresh server each time: an empty cache, so the lie is what gets judged.
            let server = tokio::task::spawn_blocking({
                let d = dir.clone();
                move || Server::start(&d, &["--failure-mode", failure_mode, "--tag-ttl", "0"])
            })
            .await
            .unwrap();
            let validate = format!("{}/validate", server.url);
            proxy.set(mode);
            let r = review(
                &c,
                &validate,
                &admission("uid-lie", "prod", "Pod", pod(&[img], &[])),
            )
            .await;
            let msg = message(&r);
            assert_eq!(
                r["response"]["allowed"], false,
                "mode {mode}, failure mode {failure_mode}: {r}"
            );
            assert!(
                msg.contains(img.as_str()) && msg.contains(expect),
                "mode {mode}: {msg}"
            );
            let ir = review(
                &c,
                &format!("{}/imagepolicy", server.url),
                &image_review("prod", &[img]),
            )
            .await;
            assert_eq!(ir["status"]["allowed"], false, "mode {mode}: {ir}");
            if mode == TAG {
                let m = server.metrics(&c).await;
                assert!(
                    m.contains("vouch_registry_errors_total{kind=\"digest-mismatch\"}"),
                    "{m}"
                );
            }
            // The registry turns honest: judged afresh and allowed (no lie was cached).
            proxy.set(HONEST);
            let r = review(
                &c,
                &validate,
                &admission("uid-honest", "honest", "Pod", pod(&[img], &[])),
            )
            .await;
            assert_eq!(r["response"]["allowed"], true, "mode {mode}: {r}");
            assert!(
                !server.logged(|v| v["msg"] == "not JSON"),
                "{:#?}",
                server.logs.lock().unwrap()
            );
        }
    }
}

fn break_glass(images: &[&str]) -> Value {
    let mut doc = image_review("prod", images);
    doc["spec"]["annotations"]["alpha.image-policy.k8s.io/break-glass"] = "true".into();
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_break_glass_is_opt_in_and_audited() {
    let f = fixture().await;
    let dir = f.dir.path().to_owned();
    let good = format!("{}/team/good:v1", f.host);
    let bad = format!("{}/team/bad:v1", f.host);
    let c = https(&dir.join("one-ca.pem"));

    // Off (the default): the annotation is ignored, the unsigned image denied, and said so.
    let server = tokio::task::spawn_blocking({
        let d = dir.clone();
        move || Server::start(&d, &[])
    })
    .await
    .unwrap();
    let ir = format!("{}/imagepolicy", server.url);
    let r = review(&c, &ir, &break_glass(&[&bad])).await;
    assert_eq!(r["status"]["allowed"], false, "{r}");
    let reason = r["status"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("alpha.image-policy.k8s.io/break-glass annotation was ignored")
            && reason.contains("--allow-break-glass")
            && reason.contains("signature.none-valid"),
        "{reason}"
    );
    assert_eq!(
        r["status"]["auditAnnotations"]["vouch-break-glass"],
        "ignored"
    );
    assert!(server.logged(|v| v["msg"] == "break-glass review"
        && v["level"] == "warn"
        && v["honoured"] == false));
    drop(server);

    // On: what the policy denies is admitted, the bypass and the verdict it overrode audited.
    let server = tokio::task::spawn_blocking({
        let d = dir.clone();
        move || Server::start(&d, &["--allow-break-glass"])
    })
    .await
    .unwrap();
    let ir = format!("{}/imagepolicy", server.url);
    let r = review(&c, &ir, &break_glass(&[&good, &bad])).await;
    assert_eq!(r["status"]["allowed"], true, "{r}");
    let reason = r["status"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("admitted by break-glass") && reason.contains("policy bypassed"),
        "{reason}"
    );
    let audit = &r["status"]["auditAnnotations"];
    assert_eq!(audit["vouch-break-glass"], "policy bypassed", "{r}");
    let verdict = audit["vouch-bypassed-verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("denied: ")
            && verdict.contains(&bad)
            && verdict.contains("signature.none-valid"),
        "{verdict}"
    );
    assert!(server.logged(|v| v["msg"] == "break-glass review"
        && v["level"] == "warn"
        && v["honoured"] == true
        && v["allowed"] == true
        && v["images"][1] == bad.as_str()));
    // The flag alone admits nothing: without the annotation the image is denied.
    let r = review(&c, &ir, &image_review("prod", &[&bad])).await;
    assert_eq!(r["status"]["allowed"], false, "{r}");
    assert!(
        r["status"]["auditAnnotations"]
            .get("vouch-break-glass")
            .is_none()
    );
    // Another value than "true" is no break-glass.
    let mut doc = break_glass(&[&bad]);
    doc["spec"]["annotations"]["alpha.image-policy.k8s.io/break-glass"] = "yes".into();
    assert_eq!(review(&c, &ir, &doc).await["status"]["allowed"], false);
    // A signed image needs no glass broken.
    let r = review(&c, &ir, &break_glass(&[&good])).await;
    assert_eq!(r["status"]["allowed"], true, "{r}");
    assert_eq!(
        r["status"]["auditAnnotations"]["vouch-break-glass"],
        "not needed"
    );
    // Break-glass is an ImageReview contract only: /validate judges as usual under the flag.
    let r = review(
        &c,
        &format!("{}/validate", server.url),
        &admission("uid-bg", "prod", "Pod", pod(&[&bad], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let m = server.metrics(&c).await;
    assert!(
        m.contains("vouch_reviews_total{endpoint=\"imagepolicy\",result=\"break-glass\"} 1"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_readiness_survives_a_failed_policy_reload() {
    let f = fixture().await;
    let dir = f.dir.path().to_owned();
    let server = tokio::task::spawn_blocking({
        let d = dir.clone();
        move || Server::start(&d, &[])
    })
    .await
    .unwrap();
    let c = https(&dir.join("one-ca.pem"));
    let get = |p: &'static str| {
        let (c, url) = (c.clone(), format!("{}/{p}", server.url));
        async move {
            let r = c.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("healthz").await, (200, "ok\n".to_owned()));
    let (status, body) = get("readyz").await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with("ready: policy policy.yaml (sha256:") && body.contains("generation"),
        "{body}"
    );
    assert!(!body.contains("reload failed"), "{body}");

    // A broken policy: the reload fails, the old policy keeps serving, still ready, and
    // /readyz says why the new file is not in force.
    std::fs::write(dir.join("policy.yaml"), "version: 1\nimages: [").unwrap();
    wait_for(|| server.logged(|v| v["msg"] == "policy reload failed; keeping the one in force"));
    let (status, body) = get("readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("last policy reload failed, the policy above is still serving"),
        "{body}"
    );
    let good = format!("{}/team/good:v1", f.host);
    let r = review(
        &c,
        &format!("{}/validate", server.url),
        &admission("uid-old", "prod", "Pod", pod(&[&good], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], true, "{r}");

    // Fixed: reloaded, the failure no longer reported.
    std::fs::write(dir.join("policy.yaml"), policy(&f.host)).unwrap();
    wait_for(|| server.logged(|v| v["msg"] == "policy reloaded"));
    let (status, body) = get("readyz").await;
    assert_eq!(status, 200);
    assert!(!body.contains("reload failed"), "{body}");
    assert_eq!(get("healthz").await.0, 200);
}
