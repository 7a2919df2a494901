//! A registry that lies or fails gets an error, never a wrong result.

use vouch_core::digest::Sha256Digest;

use crate::support::fake_registry::{FakeRegistry, Reply};
use crate::support::image::image_parts;
use crate::support::vouch_in;

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

#[test]
fn manifest_that_does_not_match_its_digest_is_refused() {
    let (_, _, honest) = image_parts("honest");
    let (_, _, other) = image_parts("forged");
    let digest = Sha256Digest::of(&honest);
    // Asked for the signed image by digest, the registry serves another manifest.
    // Asked by tag, it announces the honest digest and serves the forged bytes.
    let announced = digest.to_string();
    let fake = FakeRegistry::start(move |req, _| {
        let path = req.path.as_str();
        if path.contains("/manifests/") {
            Reply::new(200, other.clone())
                .header("Content-Type", OCI)
                .header("Docker-Content-Digest", &announced)
        } else {
            Reply::new(404, "{}")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    vouch_in(dir.path(), Some("pw"), ["generate-key-pair"]).ok();
    let image = format!("{}/app@{digest}", fake.host);
    let out = vouch_in(
        dir.path(),
        Some("pw"),
        ["sign", "--format", "legacy", "--key", "vouch.key", &image],
    )
    .code(1);
    assert!(out.stderr.contains("expected digest"), "{out:?}");
    let out = vouch_in(
        dir.path(),
        Some("pw"),
        [
            "sign",
            "--format",
            "legacy",
            "--key",
            "vouch.key",
            &format!("{}/app:v1", fake.host),
        ],
    )
    .code(1);
    assert!(
        out.stderr.contains(&format!("expected digest {digest}")),
        "{out:?}"
    );
    // Nothing was written: the fake saw no upload or manifest PUT.
    assert_eq!(fake.hits("POST /v2/app/blobs/uploads/"), 0);
}

#[test]
fn oversized_manifest_is_refused_without_reading_it_all() {
    let huge = vec![b' '; 5 << 20];
    let fake = FakeRegistry::start(move |req, _| {
        let path = req.path.as_str();
        if path.contains("/manifests/") {
            Reply::new(200, huge.clone()).header("Content-Type", OCI)
        } else {
            Reply::new(404, "{}")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    vouch_in(dir.path(), Some("pw"), ["generate-key-pair"]).ok();
    let out = vouch_in(dir.path(), None, ["tree", &format!("{}/app:v1", fake.host)]).code(1);
    assert!(out.stderr.contains("larger than the limit"), "{out:?}");
    // The limit is configurable: raised, the 5 MiB document is read (and then refused as JSON).
    let out = vouch_in(
        dir.path(),
        None,
        [
            "tree",
            "--max-manifest-size",
            "6000000",
            &format!("{}/app:v1", fake.host),
        ],
    );
    assert!(!out.stderr.contains("larger than the limit"), "{out:?}");
}

#[test]
fn transient_errors_are_retried_and_persistent_ones_exit_3() {
    let (_, _, manifest) = image_parts("retry");
    let digest = Sha256Digest::of(&manifest);
    let d = digest.to_string();
    // 503, then 429 (Retry-After: 0), then the manifest.
    let fake = FakeRegistry::start(move |req, n| {
        let path = req.path.as_str();
        if path.ends_with("/manifests/v1") {
            match n {
                1 => Reply::new(503, "{}"),
                2 => Reply::new(429, "{}").header("Retry-After", "0"),
                _ => Reply::new(200, manifest.clone())
                    .header("Content-Type", OCI)
                    .header("Docker-Content-Digest", &d),
            }
        } else {
            Reply::new(
                500,
                r#"{"errors":[{"code":"UNKNOWN","message":"always down"}]}"#,
            )
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = vouch_in(dir.path(), None, ["tree", &format!("{}/app:v1", fake.host)]);
    // The manifest came through after two retries; the .sig tag never does: exit 3.
    assert_eq!(fake.hits("GET /v2/app/manifests/v1"), 3, "{out:?}");
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("HTTP 500"), "{out:?}");
}

#[test]
fn unreachable_registry_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    vouch_in(dir.path(), Some("pw"), ["generate-key-pair"]).ok();
    let out = vouch_in(
        dir.path(),
        None,
        [
            "verify",
            "--key",
            "vouch.pub",
            &format!("127.0.0.1:{port}/app:v1"),
        ],
    )
    .code(3);
    assert!(out.stderr.contains("cannot reach registry"), "{out:?}");
}
