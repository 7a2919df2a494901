//! Credentials from docker's config.json and the token flow, against a scripted registry that
//! demands them; and a registry failing mid-push leaves the previous signatures intact.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use vouch_core::digest::Sha256Digest;

use crate::support::fake_registry::{FakeRegistry, Reply};
use crate::support::image::{client, image_parts, push_image};
use crate::support::proxy::FaultProxy;
use crate::support::registry::Registry;
use crate::support::{docker_config, run, vouch, vouch_in};

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

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
    vouch_in(
        dir.path(),
        Some("pw"),
        ["sign", "--format", "legacy", "--key", "a.key", &direct],
    )
    .ok();
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
            ["sign", "--format", "legacy", "--key", "b.key", &via_proxy],
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
    vouch_in(
        dir.path(),
        Some("pw"),
        ["sign", "--format", "legacy", "--key", "b.key", &direct],
    )
    .ok();
    vouch_in(dir.path(), None, ["verify", "--key", "a.pub", &direct]).ok();
    vouch_in(dir.path(), None, ["verify", "--key", "b.pub", &direct]).ok();
}

/// The real registry with htpasswd: credentials from `auths`, a `credHelpers` helper and a
/// `credsStore`, all through docker's config.json; none, or a wrong one, is exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_registry_with_basic_auth() {
    let reg = Registry::start_with_auth("carol", "carols-pw");
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    vouch_in(dir.path(), Some("pw"), ["generate-key-pair"]).ok();

    // Push the test image with a client that has the credentials.
    let cfg = docker_config(dir.path(), &host, "carol", "carols-pw");
    let authed = std::sync::Arc::new(
        vouch_core::oci::registry::RegistryClient::with_config(
            Default::default(),
            vouch_core::oci::registry::credentials::DockerConfig::from_json(
                &std::fs::read_to_string(cfg.join("config.json")).unwrap(),
            )
            .unwrap(),
        )
        .unwrap(),
    );
    let digest = push_image(&authed, &host, "private/app", "v1").await;
    let image = format!("{host}/private/app@{digest}");

    let with = |cfg: &std::path::Path, args: &[&str], pw: Option<&str>| {
        let mut cmd = vouch();
        cmd.current_dir(dir.path())
            .env("DOCKER_CONFIG", cfg)
            .args(args);
        if let Some(pw) = pw {
            cmd.env("VOUCH_PASSWORD", pw);
        }
        run(&mut cmd)
    };
    // auths entry.
    let out = with(
        &cfg,
        &["sign", "--format", "legacy", "--key", "vouch.key", &image],
        Some("pw"),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        with(&cfg, &["verify", "--key", "vouch.pub", &image], None).code,
        0
    );
    assert!(!out.stderr.contains("carols-pw"));

    // A credential helper on PATH, per registry and as the default store.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-vouchtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\necho \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"carol\\\",\\\"Secret\\\":\\\"carols-pw\\\"}\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (name, json) in [
        (
            "helpers",
            format!(r#"{{"credHelpers":{{"{host}":"vouchtest"}}}}"#),
        ),
        ("store", r#"{"credsStore":"vouchtest"}"#.to_owned()),
    ] {
        let c = dir.path().join(name);
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("config.json"), json).unwrap();
        let out = run(vouch()
            .current_dir(dir.path())
            .env("DOCKER_CONFIG", &c)
            .env("PATH", &path)
            .args(["verify", "--key", "vouch.pub", &image]));
        assert_eq!(out.code, 0, "{name}: {out:?}");
    }

    // No credentials, or wrong ones: exit 3, with advice, and no secret printed.
    let out = with(
        &dir.path().join("nothing"),
        &["verify", "--key", "vouch.pub", &image],
        None,
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("docker login"), "{out:?}");
    let wrong = docker_config(&dir.path().join("wrong"), &host, "carol", "not-it");
    let out = with(&wrong, &["verify", "--key", "vouch.pub", &image], None);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(!out.stderr.contains("not-it"), "{out:?}");
}
