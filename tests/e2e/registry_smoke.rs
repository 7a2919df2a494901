//! The registry fixture: a real docker-registry answers, two run at once, and a blob and a
//! manifest go in and come back out byte for byte (through oci-client, the client vouch uses).

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest as _, Sha256};

use crate::support::registry::Registry;

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

async fn push_and_pull(registry: &Registry, repo: &str) {
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let auth = RegistryAuth::Anonymous;
    let reference: Reference = format!("{}/{repo}:v1", registry.host()).parse().unwrap();

    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = format!("layer of {repo}").into_bytes();
    client
        .push_blob(&reference, config.to_vec(), &digest(config))
        .await
        .unwrap();
    client
        .push_blob(&reference, layer.clone(), &digest(&layer))
        .await
        .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest(&layer), "size": layer.len()}],
    });
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    client
        .push_manifest_raw(
            &reference,
            manifest_bytes.clone(),
            http::HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json"),
        )
        .await
        .unwrap();

    let (pulled, pulled_digest) = client
        .pull_manifest_raw(
            &reference,
            &auth,
            &["application/vnd.oci.image.manifest.v1+json"],
        )
        .await
        .unwrap();
    assert_eq!(pulled.as_ref(), manifest_bytes.as_slice());
    assert_eq!(pulled_digest, digest(&manifest_bytes));

    let mut out = Vec::new();
    client
        .pull_blob(&reference, digest(&layer).as_str(), &mut out)
        .await
        .unwrap();
    assert_eq!(out, layer);
}

#[tokio::test]
async fn two_registries_push_and_pull() {
    let a = Registry::start();
    let b = Registry::start();
    assert_ne!(a.host(), b.host());
    push_and_pull(&a, "smoke/a").await;
    push_and_pull(&b, "smoke/b").await;
    // The instances are independent: b does not have a's repository.
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let missing: Reference = format!("{}/smoke/a:v1", b.host()).parse().unwrap();
    assert!(
        client
            .pull_manifest_raw(
                &missing,
                &RegistryAuth::Anonymous,
                &["application/vnd.oci.image.manifest.v1+json"]
            )
            .await
            .is_err()
    );
}

#[test]
fn registry_stops_when_dropped() {
    let r = Registry::start();
    let host = r.host();
    drop(r);
    assert!(
        std::net::TcpStream::connect(&host).is_err(),
        "{host} still answers"
    );
}
