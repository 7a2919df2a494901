//! `vouch serve` against a registry that lies: a rewriting proxy in front of the real
//! docker-registry answers a tag with a digest that is not the one it serves, serves manifests
//! whose bytes do not hash to the digest asked for, and blobs (the signature's) whose bytes do
//! not match their digest. Every lie is denied under either failure mode: a tag whose content
//! does not match its digest as `registry.digest-mismatch` (never the failure mode's allow); a
//! signature manifest or blob that does not match is no signature (`signature.none-valid`).
//! Nothing allowed is cached from a lie: the honest registry is then judged afresh and allowed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::Value;
use vouch_core::digest::Sha256Digest;

use crate::support::proxy::read_request;
use crate::webhook::{Server, admission, fixture, https, image_review, pod, policy, review};

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
                let m = c
                    .get(format!("{}/metrics", server.url))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
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
