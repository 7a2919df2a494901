//! `vouch serve`, the admission webhook: real AdmissionReviews and ImageReviews over HTTPS
//! (a test CA), images in a real registry signed by vouch; certificate rotation on disk; a
//! registry that is down; the deploy/ manifests validated offline (kubernetes-validate).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::image::{client, push_image};
use crate::support::proxy::FaultProxy;
use crate::support::registry::Registry;
use crate::support::tls::make_certs;
use crate::support::{python, run, vouch, workspace};

/// A running `vouch serve`, killed when dropped; its JSON log lines collected.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    pub(crate) logs: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    /// The Prometheus text of `/metrics`.
    pub(crate) async fn metrics(&self, c: &reqwest::Client) -> String {
        c.get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = vouch()
            .current_dir(dir)
            .args([
                "serve",
                "--policy",
                "policy.yaml",
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                "tls.crt",
                "--tls-key",
                "tls.key",
                "--watch-interval-ms",
                "100",
            ])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"msg": "not JSON", "line": line}));
                if v["msg"] == "listening" {
                    let _ = tx.send(v["addr"].as_str().unwrap_or("").to_owned());
                }
                sink.lock().unwrap().push(v);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("vouch serve did not start: {:#?}", logs.lock().unwrap()));
        Server {
            child,
            url: format!("https://{addr}"),
            logs,
        }
    }

    pub(crate) fn logged(&self, f: impl Fn(&Value) -> bool) -> bool {
        self.logs.lock().unwrap().iter().any(f)
    }
}

pub(crate) fn https(ca: &Path) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .build()
        .unwrap()
}

async fn post(c: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    let r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

pub(crate) async fn review(c: &reqwest::Client, url: &str, doc: &Value) -> Value {
    let (status, body) = post(c, url, serde_json::to_vec(doc).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

pub(crate) fn admission(uid: &str, ns: &str, kind: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": if kind == "Pod" { "" } else { "apps" }, "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": format!("{}s", kind.to_lowercase())},
            "namespace": ns,
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": object,
            "dryRun": false
        }
    })
}

pub(crate) fn pod(containers: &[&str], init: &[&str]) -> Value {
    let c = |list: &[&str]| -> Vec<Value> {
        list.iter()
            .enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
            .collect()
    };
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": c(containers), "initContainers": c(init)}})
}

pub(crate) fn image_review(ns: &str, images: &[&str]) -> Value {
    json!({
        "apiVersion": "imagepolicy.k8s.io/v1alpha1",
        "kind": "ImageReview",
        "spec": {
            "containers": images.iter().map(|i| json!({"image": i})).collect::<Vec<_>>(),
            "annotations": {"ticket.image-policy.k8s.io/id": "1"},
            "namespace": ns
        }
    })
}

fn vouch_ok(dir: &Path, args: &[&str]) {
    run(vouch()
        .current_dir(dir)
        .env("VOUCH_PASSWORD", "pw")
        .env("VOUCH_SETTLE_MS", "50")
        .args(args))
    .ok();
}

pub(crate) fn policy(host: &str) -> String {
    format!(
        r#"version: 1
images:
  # Exempt: the cluster's own namespace.
  - match: "**"
    namespaces: ["kube-system"]
  - match: "{host}/warn/*"
    signatures:
      mode: warn
      authorities: [{{key: release.pub}}]
  - match: "{host}/team/*"
    signatures:
      authorities: [{{key: release.pub}}]
default: deny
"#
    )
}

pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    _reg: Registry,
    pub(crate) host: String,
    pub(crate) good_digest: String,
}

pub(crate) async fn fixture() -> Fixture {
    let reg = Registry::start();
    let host = reg.host();
    let c = client();
    let good = push_image(&c, &host, "team/good", "v1").await;
    push_image(&c, &host, "team/bad", "v1").await;
    push_image(&c, &host, "warn/app", "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let image = format!("{host}/team/good@{good}");
    tokio::task::spawn_blocking(move || {
        vouch_ok(&d, &["generate-key-pair", "--output-key-prefix", "release"]);
        vouch_ok(&d, &["sign", "--key", "release.key", &image]);
        make_certs(&d, "one");
        make_certs(&d, "two");
    })
    .await
    .unwrap();
    let p = dir.path();
    std::fs::copy(p.join("one.crt"), p.join("tls.crt")).unwrap();
    std::fs::copy(p.join("one.key"), p.join("tls.key")).unwrap();
    std::fs::write(p.join("policy.yaml"), policy(&host)).unwrap();
    Fixture {
        dir,
        _reg: reg,
        host,
        good_digest: good.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_validates_mutates_and_reviews_images() {
    let f = fixture().await;
    let (host, dir) = (f.host.clone(), f.dir.path());
    let server = tokio::task::spawn_blocking({
        let d = dir.to_owned();
        move || Server::start(&d, &[])
    })
    .await
    .unwrap();
    let c = https(&dir.join("one-ca.pem"));
    let validate = format!("{}/validate", server.url);
    let mutate = format!("{}/mutate", server.url);
    let good = format!("{host}/team/good:v1");
    let bad = format!("{host}/team/bad:v1");
    let warned = format!("{host}/warn/app:v1");

    // A Pod of a signed image: allowed, the uid echoed.
    let r = review(
        &c,
        &validate,
        &admission("uid-allow", "prod", "Pod", pod(&[&good], &[])),
    )
    .await;
    assert_eq!(r["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(r["kind"], "AdmissionReview");
    assert_eq!(r["response"]["uid"], "uid-allow");
    assert_eq!(r["response"]["allowed"], true, "{r}");
    assert!(r["response"].get("warnings").is_none(), "{r}");

    // A Pod with an unsigned image too: denied, naming that image and its reason code only.
    let r = review(
        &c,
        &validate,
        &admission("uid-deny", "prod", "Pod", pod(&[&good, &bad], &[])),
    )
    .await;
    assert_eq!(r["response"]["uid"], "uid-deny");
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert_eq!(r["response"]["status"]["code"], 403);
    let msg = r["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("{bad} (sha256:")), "{msg}");
    assert!(msg.contains("signature.none-valid"), "{msg}");
    assert!(msg.contains("1 of 2 image(s)"), "{msg}");
    assert!(!msg.contains(&format!("{good} (")), "{msg}");

    // A CronJob whose init container is unsigned (spec.jobTemplate.spec.template): denied.
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": pod(&[&good], &[&bad])}}}});
    let r = review(
        &c,
        &validate,
        &admission("uid-cron", "prod", "CronJob", cron),
    )
    .await;
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains(&bad)
    );

    // A Deployment of an image under a `mode: warn` rule: allowed, with a warning.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": pod(&[&warned], &[])}});
    let r = review(
        &c,
        &validate,
        &admission("uid-warn", "prod", "Deployment", deploy.clone()),
    )
    .await;
    assert_eq!(r["response"]["allowed"], true, "{r}");
    let warnings = r["response"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains(&warned)
                && w.as_str().unwrap().contains("signature.none-valid")),
        "{r}"
    );

    // The exempt namespace: the unsigned image is admitted there.
    let r = review(
        &c,
        &validate,
        &admission("uid-ks", "kube-system", "Pod", pod(&[&bad], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], true, "{r}");

    // /mutate pins tags to the digests judged; pinned images are left alone.
    let pinned = format!("{host}/team/good@{}", f.good_digest);
    let r = review(
        &c,
        &mutate,
        &admission("uid-mut", "prod", "Pod", pod(&[&good, &pinned], &[&good])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], true, "{r}");
    assert_eq!(r["response"]["patchType"], "JSONPatch");
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(r["response"]["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let want = format!("{good}@{}", f.good_digest);
    assert_eq!(
        patch,
        json!([
            {"op": "replace", "path": "/spec/containers/0/image", "value": want},
            {"op": "replace", "path": "/spec/initContainers/0/image", "value": want},
        ])
    );
    let r = review(
        &c,
        &mutate,
        &admission("uid-mut2", "prod", "Pod", pod(&[&pinned], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], true, "{r}");
    assert!(r["response"].get("patch").is_none(), "{r}");
    // /mutate does not pin (or admit) a denied image.
    let r = review(
        &c,
        &mutate,
        &admission("uid-mut3", "prod", "Pod", pod(&[&bad], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(r["response"].get("patch").is_none(), "{r}");

    // ImageReview (the ImagePolicyWebhook plugin's contract).
    let ir = format!("{}/imagepolicy", server.url);
    let r = review(&c, &ir, &image_review("prod", &[&good])).await;
    assert_eq!(r["apiVersion"], "imagepolicy.k8s.io/v1alpha1");
    assert_eq!(r["kind"], "ImageReview");
    assert_eq!(r["status"]["allowed"], true, "{r}");
    assert!(
        r["status"]["auditAnnotations"]["vouch-policy-digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{r}"
    );
    let r = review(&c, &ir, &image_review("prod", &[&good, &bad])).await;
    assert_eq!(r["status"]["allowed"], false, "{r}");
    let reason = r["status"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&bad) && reason.contains("signature.none-valid"),
        "{reason}"
    );

    // Malformed reviews: a clear 400, never a crash; a review with a uid is answered in kind.
    let (status, body) = post(&c, &validate, b"{not json".to_vec()).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("expected an AdmissionReview in JSON"),
        "{body}"
    );
    let (status, body) = post(
        &c,
        &validate,
        br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("admissionReviewVersions"), "{body}");
    let svc = json!({"apiVersion": "v1", "kind": "Service", "spec": {}});
    let r = review(&c, &validate, &admission("uid-svc", "prod", "Service", svc)).await;
    assert_eq!(r["response"]["uid"], "uid-svc");
    assert_eq!(r["response"]["allowed"], false);
    assert_eq!(r["response"]["status"]["code"], 400);
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("`Service`"),
        "{r}"
    );
    let no_image = pod(&[], &[]);
    let mut no_image = admission("uid-noimg", "prod", "Pod", no_image);
    no_image["request"]["object"]["spec"]["containers"] = json!([{"name": "x"}]);
    let r = review(&c, &validate, &no_image).await;
    assert_eq!(r["response"]["allowed"], false);
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("/spec/containers/0/image"),
        "{r}"
    );
    let (status, _) = post(&c, &validate, vec![b' '; 5 << 20]).await;
    assert_eq!(status, 413);
    let (status, body) = post(&c, &ir, b"[]".to_vec()).await;
    assert_eq!(status, 400, "{body}");

    // Concurrent reviews of one image not judged yet (a new namespace is a new cache key):
    // one evaluation, shared or then cached.
    let metric = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    };
    let metrics_url = format!("{}/metrics", server.url);
    let before = c
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reviews = (0..8).map(|i| {
        let doc = admission(
            &format!("uid-c{i}"),
            "concurrent",
            "Pod",
            pod(&[&good], &[]),
        );
        let (c, validate) = (c.clone(), validate.clone());
        async move { review(&c, &validate, &doc).await }
    });
    for r in futures_util::future::join_all(reviews).await {
        assert_eq!(r["response"]["allowed"], true, "{r}");
    }
    let after = c
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let delta = |name: &str| metric(&after, name) - metric(&before, name);
    assert_eq!(
        delta("vouch_cache_misses_total{cache=\"verdict\"}"),
        1,
        "{after}"
    );
    assert_eq!(
        delta("vouch_cache_hits_total{cache=\"verdict\"}")
            + delta("vouch_cache_hits_total{cache=\"shared\"}"),
        7,
        "{after}"
    );

    // Health, readiness, metrics.
    for p in ["healthz", "readyz"] {
        let r = c.get(format!("{}/{p}", server.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let m = server.metrics(&c).await;
    assert!(
        m.contains("vouch_reviews_total{endpoint=\"validate\",result=\"denied\"}"),
        "{m}"
    );
    assert!(
        m.contains("vouch_verdicts_total{reason=\"signature.none-valid\"}"),
        "{m}"
    );
    assert!(
        m.contains("vouch_cache_hits_total{cache=\"verdict\"}"),
        "{m}"
    );
    assert!(
        m.contains("vouch_review_duration_seconds_bucket{endpoint=\"validate\",le=\"+Inf\"}"),
        "{m}"
    );
    // JSON logs name the review's uid.
    assert!(
        server.logged(|v| v["msg"] == "review" && v["uid"] == "uid-deny" && v["allowed"] == false)
    );

    // The policy: a broken file keeps the one in force; a new one applies (the warn rule now
    // enforced).
    std::fs::write(
        dir.join("policy.yaml"),
        "version: 1\nimages: [{match: \"Bad\"}]\n",
    )
    .unwrap();
    wait_for(|| server.logged(|v| v["msg"] == "policy reload failed; keeping the one in force"));
    let r = review(
        &c,
        &validate,
        &admission("uid-after-bad", "prod", "Deployment", deploy.clone()),
    )
    .await;
    assert_eq!(r["response"]["allowed"], true, "{r}");
    std::fs::write(
        dir.join("policy.yaml"),
        policy(&host).replace("mode: warn", "mode: enforce"),
    )
    .unwrap();
    wait_for(|| server.logged(|v| v["msg"] == "policy reloaded"));
    let r = review(
        &c,
        &validate,
        &admission("uid-enforced", "prod", "Deployment", deploy),
    )
    .await;
    assert_eq!(r["response"]["allowed"], false, "{r}");

    // SIGHUP re-reads the policy (and the keys it names) even when the file did not change.
    let hup = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for(|| server.logged(|v| v["msg"] == "policy reloaded" && v["signal"] == true));
    let r = review(
        &c,
        &validate,
        &admission("uid-after-hup", "prod", "Pod", pod(&[&good], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], true, "{r}");

    // The certificate replaced on disk (another CA): served without a restart.
    let c2 = https(&dir.join("two-ca.pem"));
    assert!(
        c2.get(format!("{}/healthz", server.url))
            .send()
            .await
            .is_err()
    );
    std::fs::copy(dir.join("two.key"), dir.join("tls.key")).unwrap();
    std::fs::copy(dir.join("two.crt"), dir.join("tls.crt")).unwrap();
    let started = Instant::now();
    loop {
        if let Ok(r) = c2.get(format!("{}/healthz", server.url)).send().await {
            assert_eq!(r.status().as_u16(), 200);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the new certificate was never served: {:#?}",
            server.logs.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.logged(|v| v["msg"] == "certificate reloaded"));
}

/// Polls `cond` (file watching is asynchronous) for at most 30 s.
pub(crate) fn wait_for(cond: impl Fn() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "condition never held"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_registry_down_applies_the_failure_mode() {
    let f = fixture().await;
    let dir = f.dir.path().to_owned();
    // A registry that answered once and is gone: its port refuses connections.
    let gone = {
        let reg = Registry::start();
        reg.host()
    };
    std::fs::write(dir.join("policy.yaml"), policy(&gone)).unwrap();
    let image = format!("{gone}/team/app:v1");
    let c = https(&dir.join("one-ca.pem"));
    for (mode, allowed) in [("deny", false), ("allow", true)] {
        let server = tokio::task::spawn_blocking({
            let d = dir.clone();
            move || Server::start(&d, &["--failure-mode", mode, "--deadline-ms", "3000"])
        })
        .await
        .unwrap();
        let r = review(
            &c,
            &format!("{}/validate", server.url),
            &admission("uid-down", "prod", "Pod", pod(&[&image], &[])),
        )
        .await;
        assert_eq!(r["response"]["allowed"], allowed, "{mode}: {r}");
        if allowed {
            let w = r["response"]["warnings"][0].as_str().unwrap();
            assert!(
                w.contains(&image) && w.contains("failure mode allow"),
                "{w}"
            );
        } else {
            assert_eq!(r["response"]["status"]["code"], 500, "{r}");
            let msg = r["response"]["status"]["message"].as_str().unwrap();
            assert!(
                msg.contains(&image) && msg.contains("service.unavailable"),
                "{msg}"
            );
        }
        let m = server.metrics(&c).await;
        assert!(m.contains("vouch_registry_errors_total{kind="), "{m}");
    }

    // A registry that answers, slowly (every request held 5 s): the deadline answers first.
    let slow = FaultProxy::start(f.host.clone(), |_, _| {
        std::thread::sleep(Duration::from_secs(5));
        false
    });
    std::fs::write(dir.join("policy.yaml"), policy(&slow.host)).unwrap();
    let image = format!("{}/team/good:v1", slow.host);
    let server = tokio::task::spawn_blocking({
        let d = dir.clone();
        move || Server::start(&d, &["--deadline-ms", "1000"])
    })
    .await
    .unwrap();
    let r = review(
        &c,
        &format!("{}/validate", server.url),
        &admission("uid-slow", "prod", "Pod", pod(&[&image], &[])),
    )
    .await;
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let msg = r["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&image) && msg.contains("not judged within the 1000 ms deadline"),
        "{msg}"
    );
    let m = server.metrics(&c).await;
    assert!(
        m.contains("vouch_registry_errors_total{kind=\"deadline\"} 1"),
        "{m}"
    );
}

#[test]
fn serve_refuses_a_bad_certificate_or_policy() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("policy.yaml"), "version: 1\n").unwrap();
    std::fs::write(p.join("tls.crt"), "not a certificate").unwrap();
    std::fs::write(p.join("tls.key"), "not a key").unwrap();
    let out = run(vouch().current_dir(p).args([
        "serve",
        "--policy",
        "policy.yaml",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "tls.crt",
        "--tls-key",
        "tls.key",
    ]))
    .code(2);
    assert!(out.stderr.contains("tls.crt"), "{out:#?}");
    std::fs::write(p.join("policy.yaml"), "version: 2\n").unwrap();
    let out = run(vouch().current_dir(p).args([
        "serve",
        "--policy",
        "policy.yaml",
        "--tls-cert",
        "tls.crt",
        "--tls-key",
        "tls.key",
    ]))
    .code(2);
    assert!(out.stderr.contains("version"), "{out:#?}");
}

/// deploy/*.yaml validated against the Kubernetes OpenAPI schemas, offline
/// (`kubernetes-validate`, from keys-test/requirements.txt).
#[test]
fn deploy_manifests_are_valid_kubernetes() {
    let py = python();
    let has = Command::new(&py)
        .args(["-c", "import kubernetes_validate"])
        .status()
        .unwrap();
    assert!(
        has.success(),
        "{} has no kubernetes-validate: recreate the venv from keys-test/requirements.txt (scripts/test does when it changes)",
        py.display()
    );
    let deploy: PathBuf = workspace().join("deploy");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&deploy)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let out = run(Command::new(&py)
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(&files));
    assert_eq!(out.code, 0, "{out:#?}");
}
