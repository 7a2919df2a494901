//! Credentials from docker's config.json and the token flow, against a scripted registry that
//! demands them; and a registry failing mid-push leaves the previous signatures intact.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use vouch_core::digest::Sha256Digest;

use crate::support::fake_registry::{FakeRegistry, Reply};
use crate::support::image::{client, image_parts, push_image};
use crate::support::proxy::FaultProxy;
use crate::support::registry::Registry;
use crate::support::{run, vouch, vouch_in};

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

fn docker_config(dir: &std::path::Path, host: &str, user: &str, pass: &str) -> std::path::PathBuf {
    let cfg = dir.join("docker");
    std::fs::create_dir_all(&cfg).unwrap();
    let auth = B64.encode(format!("{user}:{pass}"));
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    cfg
}

#[test]
fn bearer_token_fetched_once_per_scope_with_basic_credentials() {
    let (_, _, manifest) = image_parts("auth");
    let digest = Sha256Digest::of(&manifest).to_string();
    let expected_basic = format!("Basic {}", B64.encode("alice:s3cret-pw"));
    let fake = FakeRegistry::start(move |req, _| {
        let auth = req
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        assert!(
            matches!(req.method.as_str(), "GET" | "HEAD"),
            "a read-only command wrote: {}",
            req.method
        );
        if req.path.starts_with("/token?") {
            if auth != expected_basic {
                return Reply::new(401, "{}");
            }
            assert!(
                req.path.contains("scope=repository%3Aapp%3Apull"),
                "{}",
                req.path
            );
            assert!(req.path.contains("service=fake"), "{}", req.path);
            return Reply::new(200, r#"{"token":"tok-123"}"#);
        }
        if auth != "Bearer tok-123" {
            let host = req.headers.get("host").cloned().unwrap_or_default();
            return Reply::new(401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
                .header(
                    "WWW-Authenticate",
                    &format!(r#"Bearer realm="http://{host}/token",service="fake",scope="repository:app:pull""#),
                );
        }
        if req.path == "/v2/app/manifests/v1" {
            Reply::new(200, manifest.clone())
                .header("Content-Type", OCI)
                .header("Docker-Content-Digest", &digest)
        } else {
            Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}"#,
            )
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = docker_config(dir.path(), &fake.host, "alice", "s3cret-pw");
    let out = run(vouch()
        .env("DOCKER_CONFIG", &cfg)
        .args(["tree", &format!("{}/app:v1", fake.host)]));
    assert_eq!(out.code, 0, "{out:?}");
    // Four reads (the image, .sig, .att, .sbom), one token.
    assert_eq!(
        fake.hits("GET /token?scope=repository%3Aapp%3Apull&service=fake"),
        1
    );
    assert!(!out.stderr.contains("s3cret") && !out.stdout.contains("s3cret"));

    // Without credentials: exit 3 and advice to log in, without a secret in sight.
    let out = run(vouch()
        .env("DOCKER_CONFIG", dir.path().join("none"))
        .args(["tree", &format!("{}/app:v1", fake.host)]));
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("docker login"), "{out:?}");
}

#[test]
fn basic_challenge_uses_config_credentials() {
    let (_, _, manifest) = image_parts("basic");
    let expected = format!("Basic {}", B64.encode("bob:pw"));
    let fake = FakeRegistry::start(move |req, _| {
        if req.headers.get("authorization") != Some(&expected) {
            return Reply::new(401, "{}").header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        if req.path == "/v2/app/manifests/v1" {
            Reply::new(200, manifest.clone()).header("Content-Type", OCI)
        } else {
            Reply::new(404, "{}")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = docker_config(dir.path(), &fake.host, "bob", "pw");
    let out = run(vouch()
        .env("DOCKER_CONFIG", &cfg)
        .args(["tree", &format!("{}/app:v1", fake.host)]));
    assert_eq!(out.code, 0, "{out:?}");
    let wrong = docker_config(&dir.path().join("w"), &fake.host, "bob", "nope");
    let out = run(vouch()
        .env("DOCKER_CONFIG", &wrong)
        .args(["tree", &format!("{}/app:v1", fake.host)]));
    assert_eq!(out.code, 3, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_push_leaves_previous_signatures_intact() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    vouch_in(
        dir.path(),
        Some("pw"),
        ["generate-key-pair", "--output-key-prefix", "a"],
    )
    .ok();
    vouch_in(
        dir.path(),
        Some("pw"),
        ["generate-key-pair", "--output-key-prefix", "b"],
    )
    .ok();
    let digest = push_image(&client(), &reg.host(), "fail/app", "v1").await;
    let direct = format!("{}/fail/app@{digest}", reg.host());
    vouch_in(dir.path(), Some("pw"), ["sign", "--key", "a.key", &direct]).ok();
    let sig_tag = format!("/manifests/sha256-{}.sig", digest.hex());
    let before = run(vouch().args(["tree", "--output", "json", &direct]))
        .ok()
        .stdout;

    for failing in ["manifest PUT", "blob upload"] {
        let tag = sig_tag.clone();
        let proxy = FaultProxy::start(reg.host(), move |method, path| match failing {
            "manifest PUT" => method == "PUT" && path.ends_with(&tag),
            _ => method == "PUT" && path.contains("/blobs/uploads/"),
        });
        let via_proxy = format!("{}/fail/app@{digest}", proxy.host);
        let out = vouch_in(
            dir.path(),
            Some("pw"),
            ["sign", "--key", "b.key", &via_proxy],
        )
        .code(3);
        assert!(
            out.stderr.contains("injected failure"),
            "{failing}: {out:?}"
        );
        // The .sig manifest is exactly what it was: a's signature, and only it.
        let after = run(vouch().args(["tree", "--output", "json", &direct]))
            .ok()
            .stdout;
        assert_eq!(after, before, "{failing}");
        vouch_in(dir.path(), None, ["verify", "--key", "a.pub", &direct]).ok();
        vouch_in(dir.path(), None, ["verify", "--key", "b.pub", &direct]).code(1);
    }
    // Once the registry works again, the signature goes through and both verify.
    vouch_in(dir.path(), Some("pw"), ["sign", "--key", "b.key", &direct]).ok();
    vouch_in(dir.path(), None, ["verify", "--key", "a.pub", &direct]).ok();
    vouch_in(dir.path(), None, ["verify", "--key", "b.pub", &direct]).ok();
}
