//! The registry fixture: a real docker-registry answers, two run at once, and a blob and a
//! manifest go in and come back out byte for byte.

use bytes::Bytes;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::manifest::{Descriptor, OCI_MANIFEST};
use vouch_core::oci::reference::ImageRef;
use vouch_core::oci::registry::Access;

use crate::support::image::{client, image_parts};
use crate::support::registry::Registry;

fn reference(host: &str, repo: &str) -> vouch_core::oci::reference::RegistryRef {
    match format!("{host}/{repo}").parse::<ImageRef>().unwrap() {
        ImageRef::Registry(r) => r,
        ImageRef::Layout(_) => unreachable!(),
    }
}

async fn push_and_pull(registry: &Registry, repo: &str) {
    let c = client();
    let r = reference(&registry.host(), repo);
    let (config, layer, manifest) = image_parts(repo);
    c.put_blob(&r, Bytes::from(config)).await.unwrap();
    c.put_blob(&r, Bytes::from(layer.clone())).await.unwrap();
    let d = c
        .put_manifest(&r, "v1", Bytes::from(manifest.clone()), OCI_MANIFEST)
        .await
        .unwrap();
    assert_eq!(d, Sha256Digest::of(&manifest));
    let got = c
        .get_manifest(&r, "v1", Access::Pull, 4 << 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes.as_ref(), manifest.as_slice());
    assert_eq!(got.digest, d);
    assert_eq!(got.media_type, OCI_MANIFEST);
    let blob = c
        .get_blob(&r, &Descriptor::of("x", &layer), Access::Pull, 1 << 20)
        .await
        .unwrap();
    assert_eq!(blob, layer);
}

#[tokio::test]
async fn two_registries_push_and_pull() {
    let a = Registry::start();
    let b = Registry::start();
    assert_ne!(a.host(), b.host());
    push_and_pull(&a, "smoke/a").await;
    push_and_pull(&b, "smoke/b").await;
    // The instances are independent: b does not have a's repository.
    let missing = client()
        .get_manifest(
            &reference(&b.host(), "smoke/a"),
            "v1",
            Access::Pull,
            4 << 20,
        )
        .await
        .unwrap();
    assert!(missing.is_none());
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
