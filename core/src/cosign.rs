//! cosign's tag format: signatures under `sha256-<hex>.sig`, attestations under `.att`, SBOMs
//! under `.sbom`, each an OCI image manifest with one layer per item, and how to add a layer
//! without ever losing someone else's.
//!
//! # No lost writes
//!
//! Adding a layer is a read-modify-write of a tag, and distribution registries have no
//! conditional PUT. cosign simply writes, so two racing signers lose one signature. vouch:
//!
//! 1. reads the tag, appends its layer, and PUTs the result only if no more than `window` has
//!    passed since the read (else it reads again) — so every writer's PUT lands within `window`
//!    of its read;
//! 2. after its PUT, waits `settle` (> `window`) and reads the tag again: any writer that read
//!    before our PUT has PUT by then, so if our layer survived this read, no stale writer is left
//!    to remove it; if it did not, we merge again (bounded rounds, then an error, exit 3).
//!
//! Batches of images share the waiting (write all, settle once, confirm all). In an OCI layout,
//! the read-modify-write happens under the layout's file lock and needs no settling.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::digest::Sha256Digest;
use crate::oci::layout::{KIND_ATTS, KIND_SIGS};
use crate::oci::manifest::{
    Descriptor, ImageManifest, Manifest, OCI_CONFIG, OCI_MANIFEST, to_bytes,
};
use crate::oci::registry::{Access, FetchedManifest, RegistryError};
use crate::oci::{ManifestRef, OciError, OciLimits, Target};

/// The layer annotation holding a base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation naming a legacy `.att` layer's predicate type (cosign's `predicateType`; a
/// bundle referrer's is [`crate::referrers::PREDICATE_TYPE_ANNOTATION`]).
pub const LEGACY_PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// The layer annotation holding a PEM certificate (keyless).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The layer annotation holding a PEM chain (keyless).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The layer annotation holding a Rekor bundle (SET).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The layer annotation with RFC 3161 timestamps (`{"SignedRFC3161Timestamp": base64 DER}`).
pub const RFC3161_TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// Which attachment a tag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// `.sig`.
    Signatures,
    /// `.att`.
    Attestations,
    /// `.sbom`.
    Sbom,
}

impl Attachment {
    /// `sha256-<hex>.<suffix>`.
    pub fn tag(self, image: &Sha256Digest) -> String {
        let suffix = match self {
            Self::Signatures => "sig",
            Self::Attestations => "att",
            Self::Sbom => "sbom",
        };
        format!("sha256-{}.{suffix}", image.hex())
    }

    /// The `kind` annotation `cosign save` gives the manifest in a layout.
    pub fn layout_kind(self) -> Option<&'static str> {
        match self {
            Self::Signatures => Some(KIND_SIGS),
            Self::Attestations => Some(KIND_ATTS),
            Self::Sbom => None,
        }
    }
}

/// A layer to add.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// Its media type.
    pub media_type: String,
    /// Its content.
    pub blob: Bytes,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

impl NewLayer {
    fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::of(&self.media_type, &self.blob);
        d.annotations = self.annotations.clone();
        d
    }
}

/// The manifest and config cosign writes for a list of layers (go-containerregistry's
/// `empty.Image` with layers appended): returns (config bytes, manifest bytes).
pub fn build_manifest(layers: &[Descriptor]) -> (Bytes, Bytes) {
    let history: Vec<_> = layers
        .iter()
        .map(|_| serde_json::json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    // Field order of go-containerregistry's ConfigFile.
    let config = format!(
        r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":{},"os":"","rootfs":{{"type":"layers","diff_ids":{}}},"config":{{}}}}"#,
        serde_json::Value::from(history),
        serde_json::Value::from(diff_ids),
    );
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(OCI_CONFIG, config.as_bytes()),
        layers: layers.to_vec(),
        subject: None,
        annotations: BTreeMap::new(),
        other: serde_json::Map::new(),
    };
    (Bytes::from(config), Bytes::from(to_bytes(&manifest)))
}

/// Reads the attachment manifest `tag`: `None` if absent; an error if the tag holds something
/// else than an image manifest (vouch never overwrites what it does not understand).
pub async fn read_attached(
    target: &Target,
    tag: &str,
    access: Access,
    limits: &OciLimits,
) -> Result<Option<(Sha256Digest, ImageManifest)>, OciError> {
    let Some(fetched) = target
        .manifest(ManifestRef::Tag(tag), access, limits.manifest)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        fetched.digest,
        image_manifest(&fetched, tag, target, limits)?,
    )))
}

/// Timing of the settle protocol (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct SettleOptions {
    /// Longest time from reading the tag to writing it.
    pub window: Duration,
    /// Wait after writing before confirming; must exceed `window`.
    pub settle: Duration,
    /// Rounds of write + confirm before giving up.
    pub rounds: u32,
}

impl Default for SettleOptions {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(1000),
            settle: Duration::from_millis(1500),
            rounds: 30,
        }
    }
}

/// One attachment to make: add `layer` to `attachment` of `image` in `target`.
#[derive(Debug, Clone)]
pub struct AttachRequest {
    /// Where the tag lives (the image's repository, or `COSIGN_REPOSITORY`).
    pub target: Target,
    /// The image.
    pub image: Sha256Digest,
    /// `.sig`, `.att`…
    pub attachment: Attachment,
    /// The layer.
    pub layer: NewLayer,
    /// Existing layers for which this returns true are dropped (`attest --replace`).
    pub replace_predicate_type: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachOutcome {
    /// The layer was added.
    Added,
    /// An identical layer was already there.
    AlreadyPresent,
}

fn same_layer(a: &Descriptor, b: &Descriptor) -> bool {
    a.digest == b.digest && a.annotations == b.annotations && a.media_type == b.media_type
}

fn replaced(layer: &Descriptor, req: &AttachRequest) -> bool {
    req.replace_predicate_type
        .as_deref()
        .is_some_and(|t| layer.annotations.get("predicateType").map(String::as_str) == Some(t))
}

/// The new document for a tag.
pub struct Merged {
    /// The manifest or index bytes.
    pub document: Bytes,
    /// Their media type.
    pub media_type: &'static str,
    /// Blobs the document needs that are not pushed beforehand (a config).
    pub blobs: Vec<Bytes>,
}

/// A read-modify-write of one tag, done with the no-lost-write protocol of this module.
pub trait TagUpdate {
    /// Where the tag lives.
    fn target(&self) -> &Target;
    /// The tag.
    fn tag(&self) -> String;
    /// cosign's `kind` for the index entry in a layout.
    fn layout_kind(&self) -> Option<&'static str>;
    /// Blobs pushed before any read (the payloads); pushed again after a blob race.
    fn blobs(&self) -> Vec<Bytes>;
    /// The new document given the current one (`None`: absent). `Ok(None)` when our change is
    /// already in it.
    fn merge(
        &self,
        current: Option<&FetchedManifest>,
        limits: &OciLimits,
    ) -> Result<Option<Merged>, OciError>;
    /// Whether `current` holds our change.
    fn holds(&self, current: &FetchedManifest, limits: &OciLimits) -> bool;
}

fn image_manifest(
    current: &FetchedManifest,
    tag: &str,
    target: &Target,
    limits: &OciLimits,
) -> Result<ImageManifest, OciError> {
    match Manifest::parse(&current.bytes, Some(&current.media_type)) {
        Ok(Manifest::Image(m)) if m.layers.len() <= limits.layers => Ok(m),
        Ok(Manifest::Image(m)) => Err(OciError::TooLarge {
            what: format!("{tag} ({} layers)", m.layers.len()),
            limit: limits.layers as u64,
        }),
        Ok(Manifest::Index(_)) => Err(OciError::Manifest {
            what: format!("{tag} in {}", target.describe()),
            error: crate::payload::PayloadError::Field {
                what: "manifest",
                field: "mediaType",
                reason: "expected a cosign image manifest, found an image index".into(),
            },
        }),
        Err(source) => Err(OciError::Manifest {
            what: format!("{tag} in {}", target.describe()),
            error: source,
        }),
    }
}

impl TagUpdate for AttachRequest {
    fn target(&self) -> &Target {
        &self.target
    }

    fn tag(&self) -> String {
        self.attachment.tag(&self.image)
    }

    fn layout_kind(&self) -> Option<&'static str> {
        self.attachment.layout_kind()
    }

    fn blobs(&self) -> Vec<Bytes> {
        vec![self.layer.blob.clone()]
    }

    fn merge(
        &self,
        current: Option<&FetchedManifest>,
        limits: &OciLimits,
    ) -> Result<Option<Merged>, OciError> {
        let tag = self.tag();
        let ours = self.layer.descriptor();
        let mut layers = match current {
            Some(c) => image_manifest(c, &tag, &self.target, limits)?.layers,
            None => Vec::new(),
        };
        if layers.iter().any(|l| same_layer(l, &ours))
            && !layers
                .iter()
                .any(|l| replaced(l, self) && !same_layer(l, &ours))
        {
            return Ok(None);
        }
        layers.retain(|l| !replaced(l, self));
        layers.push(ours);
        if layers.len() > limits.layers {
            return Err(OciError::TooLarge {
                what: format!("{tag} would have {} layers", layers.len()),
                limit: limits.layers as u64,
            });
        }
        let (config, manifest) = build_manifest(&layers);
        Ok(Some(Merged {
            document: manifest,
            media_type: OCI_MANIFEST,
            blobs: vec![config],
        }))
    }

    fn holds(&self, current: &FetchedManifest, limits: &OciLimits) -> bool {
        let ours = self.layer.descriptor();
        image_manifest(current, &self.tag(), &self.target, limits)
            .is_ok_and(|m| m.layers.iter().any(|l| same_layer(l, &ours)))
    }
}

enum Round {
    Present,
    /// Written; the digest of the document we put.
    Written(Sha256Digest),
}

/// One read-modify-write. `window` bounds read→write when given.
async fn write_round<U: TagUpdate>(
    req: &U,
    limits: &OciLimits,
    window: Option<Duration>,
) -> Result<Round, OciError> {
    let tag = req.tag();
    let target = req.target();
    let mut race = BlobRace::default();
    loop {
        let guard = target.begin_update()?;
        let started = Instant::now();
        let current = target
            .manifest(ManifestRef::Tag(&tag), Access::Push, limits.manifest)
            .await?;
        let Some(merged) = req.merge(current.as_ref(), limits)? else {
            return Ok(Round::Present);
        };
        for b in merged.blobs {
            target.push_blob(b).await?;
        }
        if window.is_some_and(|w| started.elapsed() > w) {
            continue; // our view may be stale: read again
        }
        match target
            .push_manifest(
                &tag,
                merged.document,
                merged.media_type,
                req.layout_kind(),
                &guard,
            )
            .await
        {
            Ok(digest) => return Ok(Round::Written(digest)),
            Err(e) if race.again(&e).await => {
                for b in req.blobs() {
                    target.push_blob(b).await?;
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// distribution's filesystem driver races when several clients upload the same blob at once
/// (identical payloads from different signers): the manifest PUT then sees a half-written blob
/// link. The cure is to upload the blobs again and retry, a few times.
#[derive(Default)]
pub(crate) struct BlobRace {
    retries: u32,
}

impl BlobRace {
    /// Whether the manifest PUT that failed with `e` should be retried (after re-uploading its
    /// blobs); pauses briefly first.
    pub(crate) async fn again(&mut self, e: &OciError) -> bool {
        let race = matches!(e, OciError::Registry(r)
            if matches!(r.code(), Some("DIGEST_INVALID" | "BLOB_UNKNOWN")));
        if !race || self.retries >= 5 {
            return false;
        }
        self.retries += 1;
        tokio::time::sleep(Duration::from_millis(50 * u64::from(self.retries))).await;
        true
    }
}

/// A uniformly random duration in `[0, max)`.
fn jitter(max: Duration) -> Duration {
    let mut b = [0u8; 8];
    let r = getrandom::fill(&mut b).map_or(0, |()| u64::from_le_bytes(b));
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(r % nanos)
}

/// Adds each request's layer, keeping every other layer, and confirms it stuck (see the module
/// docs). Results are in request order.
pub async fn attach_all(
    requests: &[AttachRequest],
    settle: SettleOptions,
    limits: &OciLimits,
    concurrency: usize,
) -> Vec<Result<AttachOutcome, OciError>> {
    update_all(requests, settle, limits, concurrency).await
}

/// Applies each update with the no-lost-write protocol (see the module docs). Results are in
/// request order.
pub async fn update_all<U: TagUpdate + Sync>(
    requests: &[U],
    settle: SettleOptions,
    limits: &OciLimits,
    concurrency: usize,
) -> Vec<Result<AttachOutcome, OciError>> {
    use futures_util::stream::{self, StreamExt};

    let mut results: Vec<Option<Result<AttachOutcome, OciError>>> =
        (0..requests.len()).map(|_| None).collect();
    // Payload blobs first, outside the read→write window.
    let pushed: Vec<Result<(), OciError>> = stream::iter(requests)
        .map(|r| async move {
            for b in r.blobs() {
                r.target().push_blob(b).await?;
            }
            Ok(())
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut pending: Vec<usize> = Vec::new();
    for (i, p) in pushed.into_iter().enumerate() {
        match p {
            Ok(()) => pending.push(i),
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    let mut added = vec![false; requests.len()];
    let mut written: Vec<Option<Sha256Digest>> = vec![None; requests.len()];
    for round in 0..settle.rounds {
        if pending.is_empty() {
            break;
        }
        let outcomes: Vec<(usize, Result<Round, OciError>)> = stream::iter(pending.clone())
            .map(|i| {
                let req = &requests[i];
                let window =
                    matches!(req.target(), Target::Registry { .. }).then_some(settle.window);
                // After a lost write, spread the retries over the settle time: writers that
                // all retry at once would again overwrite each other.
                let delay = if round > 0 {
                    jitter(settle.settle * round.min(4))
                } else {
                    Duration::ZERO
                };
                async move {
                    tokio::time::sleep(delay).await;
                    (i, write_round(req, limits, window).await)
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        let mut to_confirm = Vec::new();
        for (i, outcome) in outcomes {
            match outcome {
                Ok(Round::Present) if !added[i] && round == 0 => {
                    results[i] = Some(Ok(AttachOutcome::AlreadyPresent));
                }
                Ok(Round::Present) => results[i] = Some(Ok(AttachOutcome::Added)),
                Ok(Round::Written(digest)) => {
                    added[i] = true;
                    written[i] = Some(digest);
                    if matches!(requests[i].target(), Target::Layout(_)) {
                        results[i] = Some(Ok(AttachOutcome::Added)); // under the lock: final
                    } else {
                        to_confirm.push(i);
                    }
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        if to_confirm.is_empty() {
            break;
        }
        tokio::time::sleep(settle.settle).await;
        // Confirm: a fresh read must still hold our change; otherwise merge again next round.
        let checks: Vec<(usize, Result<bool, OciError>)> = stream::iter(to_confirm)
            .map(|i| {
                let req = &requests[i];
                let put = written[i];
                async move {
                    let tag = req.tag();
                    // Still the document we put? Then our change is in it (one HEAD).
                    match req.target().tag_digest(&tag, Access::Push).await {
                        Ok(Some(d)) if Some(d) == put => return (i, Ok(true)),
                        Ok(_) => {}
                        Err(e) => return (i, Err(e)),
                    }
                    let present = req
                        .target()
                        .manifest(ManifestRef::Tag(&tag), Access::Push, limits.manifest)
                        .await
                        .map(|m| m.is_some_and(|m| req.holds(&m, limits)));
                    (i, present)
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        pending.clear();
        for (i, present) in checks {
            match present {
                Ok(true) => results[i] = Some(Ok(AttachOutcome::Added)),
                Ok(false) => pending.push(i),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
    }
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                let req = &requests[i];
                Err(OciError::Registry(RegistryError::Invalid {
                    registry: req.target().describe(),
                    reason: format!(
                        "{} kept losing our change to concurrent writers after {} rounds; nothing else was changed, run again",
                        req.tag(),
                        settle.rounds
                    ),
                }))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_is_what_cosign_writes() {
        // The attestation manifest in tests/data/vectors/cosign-layouts (written by cosign):
        // rebuilding it from its layer gives the same config and manifest bytes.
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
            "../tests/data/vectors/cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch/blobs/sha256",
        );
        let original = std::fs::read(
            dir.join("31cc4fb663c8d34e2e6a0bd5f183d576c2811ee286e0998b4c2965e3b35a0d86"),
        )
        .unwrap();
        let Manifest::Image(m) = Manifest::parse(&original, None).unwrap() else {
            panic!()
        };
        let (config, manifest) = build_manifest(&m.layers);
        let original_config = std::fs::read(dir.join(m.config.digest.hex())).unwrap();
        assert_eq!(config.as_ref(), original_config.as_slice());
        assert_eq!(manifest.as_ref(), original.as_slice());
    }

    #[test]
    fn tags() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            Attachment::Signatures.tag(&d),
            "sha256-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.sig"
        );
        assert!(Attachment::Attestations.tag(&d).ends_with(".att"));
        assert!(Attachment::Sbom.tag(&d).ends_with(".sbom"));
    }
}
