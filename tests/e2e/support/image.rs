//! Tiny test images, pushed to a registry or written into an OCI layout.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::layout::{KIND_IMAGE, Layout};
use vouch_core::oci::manifest::{
    Descriptor, ImageIndex, ImageManifest, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, to_bytes,
};
use vouch_core::oci::reference::{ImageRef, RegistryRef};
use vouch_core::oci::registry::{RegistryClient, RegistryOptions};

/// A config, a layer and a manifest, distinct per `seed`.
pub fn image_parts(seed: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let layer = format!("layer content for {seed}\n").into_bytes();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"seed":"{seed}"}}}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        Sha256Digest::of(&layer)
    )
    .into_bytes();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(OCI_CONFIG, &config),
        layers: vec![Descriptor::of(
            "application/vnd.oci.image.layer.v1.tar",
            &layer,
        )],
        subject: None,
        annotations: BTreeMap::new(),
        other: Default::default(),
    };
    (config, layer, to_bytes(&manifest))
}

pub fn client() -> Arc<RegistryClient> {
    Arc::new(RegistryClient::new(RegistryOptions::default()).unwrap())
}

/// `host/repo` as a registry reference.
pub fn registry_ref(host: &str, repo: &str) -> RegistryRef {
    match format!("{host}/{repo}").parse::<ImageRef>().unwrap() {
        ImageRef::Registry(r) => r,
        ImageRef::Layout(_) => unreachable!(),
    }
}

/// Pushes a tiny single-platform image as `host/repo:tag`; returns its digest.
pub async fn push_image(
    client: &RegistryClient,
    host: &str,
    repo: &str,
    tag: &str,
) -> Sha256Digest {
    let r = registry_ref(host, repo);
    let (config, layer, manifest) = image_parts(&format!("{host}/{repo}:{tag}"));
    client.put_blob(&r, Bytes::from(config)).await.unwrap();
    client.put_blob(&r, Bytes::from(layer)).await.unwrap();
    client
        .put_manifest(&r, tag, Bytes::from(manifest), OCI_MANIFEST)
        .await
        .unwrap()
}

/// Pushes an index of two platform images as `host/repo:tag`; returns (index, [platforms]).
pub async fn push_index(
    client: &RegistryClient,
    host: &str,
    repo: &str,
    tag: &str,
) -> (Sha256Digest, Vec<Sha256Digest>) {
    let r = registry_ref(host, repo);
    let mut index = ImageIndex::new();
    let mut platforms = Vec::new();
    for arch in ["amd64", "arm64"] {
        let (config, layer, manifest) = image_parts(&format!("{host}/{repo}:{tag}/{arch}"));
        client.put_blob(&r, Bytes::from(config)).await.unwrap();
        client.put_blob(&r, Bytes::from(layer)).await.unwrap();
        let d = client
            .put_manifest(
                &r,
                &Sha256Digest::of(&manifest).to_string(),
                Bytes::from(manifest.clone()),
                OCI_MANIFEST,
            )
            .await
            .unwrap();
        let mut desc = Descriptor::of(OCI_MANIFEST, &manifest);
        desc.platform = Some(serde_json::json!({"architecture": arch, "os": "linux"}));
        index.manifests.push(desc);
        platforms.push(d);
    }
    let bytes = to_bytes(&index);
    let d = client
        .put_manifest(&r, tag, Bytes::from(bytes), OCI_INDEX)
        .await
        .unwrap();
    (d, platforms)
}

/// Writes a tiny image into the layout at `dir` (created if needed), tagged `tag` and marked
/// as cosign marks images; returns its digest.
pub fn layout_image(dir: &Path, tag: &str) -> Sha256Digest {
    let layout = Layout::open_or_create(dir).unwrap();
    let (config, layer, manifest) = image_parts(&format!("{}:{tag}", dir.display()));
    layout.write_blob(&config).unwrap();
    layout.write_blob(&layer).unwrap();
    let digest = layout.write_blob(&manifest).unwrap();
    let lock = layout.lock().unwrap();
    let mut index = layout.index().unwrap();
    Layout::set_tagged(
        &mut index,
        Descriptor::of(OCI_MANIFEST, &manifest),
        tag,
        Some(KIND_IMAGE),
    );
    layout.write_index(&index, &lock).unwrap();
    digest
}

/// Deterministic bytes, distinct per seed (not compressible into one repeated chunk).
pub fn bulk(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Sha256Digest::of(seed.as_bytes());
    while out.len() < len {
        out.extend_from_slice(block.as_bytes());
        block = Sha256Digest::of(block.as_bytes());
    }
    out.truncate(len);
    out
}
