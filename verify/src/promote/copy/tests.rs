use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use vouch_core::cosign::{AttachRequest, NewLayer, attach_all};
use vouch_core::oci::layout::Layout;
use vouch_core::oci::manifest::{OCI_CONFIG, to_bytes};

/// [`copy_image`] of a digest no policy judged (the engine's own tests).
async fn plan_then_copy(
    src: &Target,
    digest: &Sha256Digest,
    dst: &Target,
    tag: Option<&str>,
    opts: &CopyOptions,
) -> Result<CopyReport, CopyError> {
    let plan = plan_digest(src, digest, None, opts).await?;
    execute_copy(&plan, dst, tag, opts, &NoProgress).await
}

/// A one-layer image in a new layout at `dir`, tagged `v1`.
fn image(dir: &Path, seed: &str) -> (Target, Sha256Digest, Descriptor) {
    let layout = Layout::open_or_create(dir).unwrap();
    let layer = format!("layer {seed}").repeat(1000).into_bytes();
    let config = format!(r#"{{"seed":"{seed}"}}"#).into_bytes();
    let layer_desc = Descriptor::of("application/vnd.oci.image.layer.v1.tar", &layer);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(OCI_CONFIG, &config),
        layers: vec![layer_desc.clone()],
        subject: None,
        annotations: BTreeMap::new(),
        other: serde_json::Map::new(),
    };
    let bytes = to_bytes(&manifest);
    layout.write_blob(&layer).unwrap();
    layout.write_blob(&config).unwrap();
    let digest = layout.write_blob(&bytes).unwrap();
    let lock = layout.lock().unwrap();
    let mut index = layout.index().unwrap();
    Layout::set_tagged(
        &mut index,
        Descriptor::of(OCI_MANIFEST, &bytes),
        "v1",
        Some(KIND_IMAGE),
    );
    layout.write_index(&index, &lock).unwrap();
    (Target::Layout(layout), digest, layer_desc)
}

async fn sign(target: &Target, digest: &Sha256Digest, text: &str) {
    let req = AttachRequest {
        target: target.clone(),
        image: *digest,
        attachment: Attachment::Signatures,
        layer: NewLayer {
            media_type: "application/vnd.dev.cosign.simplesigning.v1+json".into(),
            blob: Bytes::from(text.to_owned()),
            annotations: BTreeMap::from([(
                vouch_core::cosign::SIGNATURE_ANNOTATION.to_owned(),
                text.to_owned(),
            )]),
        },
        replace_predicate_type: None,
    };
    for r in attach_all(&[req], SettleOptions::default(), &OciLimits::default(), 1).await {
        r.unwrap();
    }
}

async fn sig_layers(target: &Target, digest: &Sha256Digest) -> usize {
    let (_, m) = vouch_core::cosign::read_attached(
        target,
        &Attachment::Signatures.tag(digest),
        Access::Pull,
        &OciLimits::default(),
    )
    .await
    .unwrap()
    .unwrap();
    m.layers.len()
}

#[tokio::test]
async fn layout_to_layout_copies_merges_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (src, digest, _) = image(&dir.path().join("src"), "a");
    sign(&src, &digest, "source signature").await;
    let dst = Target::Layout(Layout::open_or_create(&dir.path().join("dst")).unwrap());
    let opts = CopyOptions {
        chunk_size: 1000,
        ..CopyOptions::default()
    };
    // The image first, bare; the destination signs it itself.
    let bare = CopyOptions {
        attachments: false,
        ..opts.clone()
    };
    let r = plan_then_copy(&src, &digest, &dst, None, &bare)
        .await
        .unwrap();
    assert_eq!(r.blobs_with(BlobOutcome::Copied).0, 2);
    sign(&dst, &digest, "destination signature").await;
    // Then with attachments and a tag: the .sig tag is merged.
    let r = plan_then_copy(&src, &digest, &dst, Some("prod"), &opts)
        .await
        .unwrap();
    assert_eq!(r.blobs_with(BlobOutcome::Skipped).0, 2);
    let sig = r
        .manifests
        .iter()
        .find(|m| m.role == ManifestRole::Signatures)
        .unwrap();
    assert_eq!(sig.outcome, ManifestOutcome::Merged);
    assert_eq!(sig_layers(&dst, &digest).await, 2);
    assert_eq!(sig_layers(&src, &digest).await, 1);
    assert_eq!(
        dst.tag_digest("prod", Access::Pull).await.unwrap(),
        Some(digest)
    );
    // Untagged (first copy) and tagged (second): `oci:DIR` still names one image.
    let dst_ref: vouch_core::oci::reference::ImageRef =
        format!("oci:{}", dir.path().join("dst").display())
            .parse()
            .unwrap();
    let client = std::sync::Arc::new(
        vouch_core::oci::registry::RegistryClient::with_config(
            Default::default(),
            Default::default(),
        )
        .unwrap(),
    );
    let resolved = vouch_core::oci::resolve(&dst_ref, &client, Access::Pull, &OciLimits::default())
        .await
        .unwrap();
    assert_eq!(resolved.digest, digest);
    // Nothing left to do.
    let r = plan_then_copy(&src, &digest, &dst, Some("prod"), &opts)
        .await
        .unwrap();
    assert!(r.blobs.iter().all(|b| b.outcome == BlobOutcome::Skipped));
    assert!(
        r.manifests
            .iter()
            .all(|m| m.outcome == ManifestOutcome::Present),
        "{r:#?}"
    );
}

#[tokio::test]
async fn tampered_blob_is_not_stored_and_nothing_is_tagged() {
    let dir = tempfile::tempdir().unwrap();
    let (src, digest, layer) = image(&dir.path().join("src"), "b");
    let file = dir.path().join("src/blobs/sha256").join(layer.digest.hex());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let dst_dir = dir.path().join("dst");
    let dst = Target::Layout(Layout::open_or_create(&dst_dir).unwrap());
    let opts = CopyOptions {
        chunk_size: 1000,
        ..CopyOptions::default()
    };
    let err = plan_then_copy(&src, &digest, &dst, Some("v1"), &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, CopyError::BlobMismatch { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Verification);
    assert_eq!(dst.tag_digest("v1", Access::Pull).await.unwrap(), None);
    let files: Vec<String> = std::fs::read_dir(dst_dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!files.contains(&layer.digest.hex()), "{files:?}");
    assert!(!files.contains(&digest.hex()), "{files:?}");
    assert!(files.iter().all(|f| !f.starts_with('.')), "{files:?}");
}
