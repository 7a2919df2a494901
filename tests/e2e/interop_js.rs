//! Interop with sigstore-js: @sigstore/oci (what GitHub's `actions/attest` uses) attaches a
//! bundle made by the independent Python checker as an OCI 1.1 referrer, updating the fallback
//! index vouch already wrote; vouch reads both.

use crate::support::image::push_image;
use crate::support::registry::Registry;
use crate::support::{docker_config, js_attach, py_cosign, run, vouch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstore_js_referrers_verify_in_vouch() {
    // @sigstore/oci needs an auth challenge to sign in: a registry with basic auth.
    let reg = Registry::start_with_auth("js", "js-pw");
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = docker_config(d, &host, "js", "js-pw");
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
    let digest = push_image(&authed, &host, "interop/js", "v1").await;
    let image = format!("{host}/interop/js@{digest}");
    let vouch_at = |args: &[&str]| {
        run(vouch()
            .current_dir(d)
            .env("DOCKER_CONFIG", &cfg)
            .env("VOUCH_PASSWORD", "v-pw")
            .args(args))
    };
    vouch_at(&["generate-key-pair"]).ok();
    run(py_cosign()
        .current_dir(d)
        .env("COSIGN_PASSWORD", "py-pw")
        .args(["generate", "py"]))
    .ok();

    // vouch signs first (bundle format): the fallback index exists with vouch's entry.
    vouch_at(&["sign", "--key", "vouch.key", &image]).ok();

    // Python makes a key-signed SBOM attestation bundle; sigstore-js attaches it.
    let sbom = crate::support::vectors().join("sboms/trivy-npm.cdx.json");
    run(py_cosign()
        .current_dir(d)
        .env("COSIGN_PASSWORD", "py-pw")
        .args([
            "make-bundle".as_ref(),
            "py.key".as_ref(),
            digest.to_string().as_ref(),
            "https://cyclonedx.org/bom".as_ref(),
            sbom.as_os_str(),
            "sbom.bundle.json".as_ref(),
        ]))
    .ok();
    let out = run(js_attach()
        .current_dir(d)
        .env("REGISTRY_USER", "js")
        .env("REGISTRY_PASSWORD", "js-pw")
        .args([
            &format!("{host}/interop/js"),
            &digest.to_string(),
            "sbom.bundle.json",
            "https://cyclonedx.org/bom",
        ]))
    .ok();
    assert!(out.stdout.contains("sha256:"), "{out:?}");

    // Both referrers are listed: sigstore-js kept vouch's entry, vouch reads sigstore-js's.
    let out = vouch_at(&["tree", "--output", "json", &image]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let referrers: usize = doc["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["format"] == "referrer")
        .map(|a| a["entries"].as_array().unwrap().len())
        .sum();
    assert_eq!(referrers, 2, "{doc}");
    vouch_at(&["verify", "--key", "vouch.pub", &image]).ok();
    let out = vouch_at(&[
        "verify-attestation",
        "--key",
        "py.pub",
        "--type",
        "cyclonedx",
        "--output",
        "json",
        &image,
    ])
    .ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v[0]["attestations"][0]["statement"]["predicateType"], "https://cyclonedx.org/bom",
        "{v}"
    );
    // Signed by Python's key, not vouch's.
    vouch_at(&[
        "verify-attestation",
        "--key",
        "vouch.pub",
        "--type",
        "cyclonedx",
        &image,
    ])
    .code(1);
}
