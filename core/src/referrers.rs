//! cosign 3's format: sigstore bundles attached to an image as OCI 1.1 referrers (cosign
//! `pkg/oci/remote/write.go`, `WriteReferrer`): an image manifest with
//! `artifactType: application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config, one layer
//! (the bundle), `subject` = the image, and annotations for the creation time, the content kind
//! and the predicate type. Pushed by digest; where the registry has no referrers API, the
//! fallback index tagged `sha256-<hex>` lists it, updated with the no-lost-write protocol.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::cosign::{AttachOutcome, BlobRace, Merged, SettleOptions, TagUpdate, update_all};
use crate::digest::Sha256Digest;
use crate::oci::manifest::{
    Descriptor, ImageIndex, ImageManifest, Manifest, OCI_INDEX, OCI_MANIFEST, to_bytes,
};
use crate::oci::registry::{Access, FetchedManifest};
use crate::oci::{OciError, OciLimits, Target};

/// The artifact type (and layer media type) of sigstore bundle referrers.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The empty config's media type.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Annotation: what the bundle holds.
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// Annotation: the predicate type of the bundle's statement.
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// Annotation: when the referrer was made.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// The predicate type of cosign 3 image signatures.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

const EMPTY_CONFIG: &[u8] = b"{}";

/// A referrer to attach.
#[derive(Debug, Clone)]
pub struct Referrer {
    /// The manifest bytes.
    pub manifest: Bytes,
    /// The bundle bytes (its one layer).
    pub bundle: Bytes,
    /// Its entry for the fallback index.
    pub entry: Descriptor,
}

/// The referrer manifest for a DSSE bundle about `subject`, as cosign 3 writes it.
pub fn referrer(
    subject: Descriptor,
    bundle: Bytes,
    predicate_type: &str,
    created: &str,
) -> Referrer {
    let mut config = Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_CONFIG);
    config.artifact_type = None;
    let layer = Descriptor::of(BUNDLE_ARTIFACT_TYPE, &bundle);
    let annotations = BTreeMap::from([
        (CREATED_ANNOTATION.to_owned(), created.to_owned()),
        (CONTENT_ANNOTATION.to_owned(), "dsse-envelope".to_owned()),
        (
            PREDICATE_TYPE_ANNOTATION.to_owned(),
            predicate_type.to_owned(),
        ),
    ]);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: Some(BUNDLE_ARTIFACT_TYPE.into()),
        config,
        layers: vec![layer],
        subject: Some(subject),
        annotations: annotations.clone(),
        other: serde_json::Map::new(),
    };
    let bytes = Bytes::from(to_bytes(&manifest));
    let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
    entry.artifact_type = Some(BUNDLE_ARTIFACT_TYPE.into());
    entry.annotations = annotations;
    Referrer {
        manifest: bytes,
        bundle,
        entry,
    }
}

/// The fallback tag of `subject`'s referrers.
pub fn fallback_tag(subject: &Sha256Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// Adding one referrer to the fallback index of its subject.
struct FallbackUpdate<'a> {
    target: &'a Target,
    subject: Sha256Digest,
    referrer: &'a Referrer,
}

fn index_of(current: &FetchedManifest) -> Result<ImageIndex, OciError> {
    match Manifest::parse(&current.bytes, Some(&current.media_type)) {
        Ok(Manifest::Index(i)) => Ok(i),
        Ok(Manifest::Image(_)) => Err(OciError::Manifest {
            what: "the referrers fallback tag".into(),
            source: crate::payload::PayloadError::Field {
                what: "manifest",
                field: "mediaType",
                reason: "expected an image index, found an image manifest; not overwriting it"
                    .into(),
            },
        }),
        Err(source) => Err(OciError::Manifest {
            what: "the referrers fallback tag".into(),
            source,
        }),
    }
}

impl TagUpdate for FallbackUpdate<'_> {
    fn target(&self) -> &Target {
        self.target
    }

    fn tag(&self) -> String {
        fallback_tag(&self.subject)
    }

    fn layout_kind(&self) -> Option<&'static str> {
        None
    }

    fn blobs(&self) -> Vec<Bytes> {
        Vec::new()
    }

    fn merge(
        &self,
        current: Option<&FetchedManifest>,
        limits: &OciLimits,
    ) -> Result<Option<Merged>, OciError> {
        let mut index = match current {
            Some(c) => index_of(c)?,
            None => ImageIndex::new(),
        };
        if index
            .manifests
            .iter()
            .any(|d| d.digest == self.referrer.entry.digest)
        {
            return Ok(None);
        }
        index.manifests.push(self.referrer.entry.clone());
        if index.manifests.len() > limits.layers {
            return Err(OciError::TooLarge {
                what: format!(
                    "{} would list {} referrers",
                    self.tag(),
                    index.manifests.len()
                ),
                limit: limits.layers as u64,
            });
        }
        Ok(Some(Merged {
            document: Bytes::from(to_bytes(&index)),
            media_type: OCI_INDEX,
            blobs: Vec::new(),
        }))
    }

    fn holds(&self, current: &FetchedManifest, _limits: &OciLimits) -> bool {
        index_of(current).is_ok_and(|i| {
            i.manifests
                .iter()
                .any(|d| d.digest == self.referrer.entry.digest)
        })
    }
}

/// Attaches each referrer to `subject`s in `target`: blobs, the manifest by digest, and —
/// where the registry has no referrers API (or in a layout) — the fallback index entry, with
/// the no-lost-write protocol. Results are in order.
pub async fn attach_referrers(
    target: &Target,
    referrers: &[(Sha256Digest, Referrer)],
    settle: SettleOptions,
    limits: &OciLimits,
    concurrency: usize,
) -> Vec<Result<AttachOutcome, OciError>> {
    use futures_util::stream::{self, StreamExt};

    if referrers.is_empty() {
        return Vec::new();
    }
    // Every referrer has the same empty config: store it once.
    if let Err(e) = target.push_blob(Bytes::from_static(EMPTY_CONFIG)).await {
        return fail_all(target, referrers.len(), e);
    }
    let pushed: Vec<Result<(), OciError>> = stream::iter(referrers)
        .map(|(_, r)| async move {
            let mut race = BlobRace::default();
            loop {
                target.push_blob(r.bundle.clone()).await?;
                match target
                    .push_manifest_by_digest(r.manifest.clone(), OCI_MANIFEST)
                    .await
                {
                    Ok(_) => return Ok(()),
                    // The race may have hit the shared config too: store it again.
                    Err(e) if race.again(&e).await => {
                        target.push_blob(Bytes::from_static(EMPTY_CONFIG)).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    // With a referrers API the registry lists them itself.
    let api = match (target, referrers.first()) {
        (Target::Registry { client, repo }, Some((subject, _))) => {
            match client
                .get_referrers(repo, subject, None, Access::Push, limits.manifest)
                .await
            {
                Ok(found) => found.is_some(),
                Err(e) => return fail_all(target, referrers.len(), e.into()),
            }
        }
        _ => false,
    };
    if api {
        return pushed
            .into_iter()
            .map(|p| p.map(|()| AttachOutcome::Added))
            .collect();
    }
    let updates: Vec<FallbackUpdate<'_>> = referrers
        .iter()
        .map(|(subject, r)| FallbackUpdate {
            target,
            subject: *subject,
            referrer: r,
        })
        .collect();
    let mut results = update_all(&updates, settle, limits, concurrency).await;
    for (r, p) in results.iter_mut().zip(pushed) {
        if let Err(e) = p {
            *r = Err(e);
        }
    }
    results
}

/// A step shared by all `n` referrers failed with `e`: the first result carries it, the others
/// its message.
fn fail_all(target: &Target, n: usize, e: OciError) -> Vec<Result<AttachOutcome, OciError>> {
    let reason = e.to_string();
    std::iter::once(Err(e))
        .chain((1..n).map(|_| {
            Err(OciError::Registry(
                crate::oci::registry::RegistryError::Invalid {
                    registry: target.describe(),
                    reason: reason.clone(),
                },
            ))
        }))
        .collect()
}
