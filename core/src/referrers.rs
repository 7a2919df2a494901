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
/// Annotation (vouch's, ignored by other readers): the digest of the referrer's one layer, the
/// bundle. It reaches the referrers listing with the manifest's other annotations, so that a
/// verifier can fetch the bundle without the manifest first (one request less per referrer;
/// the bundle is checked by its digest and its signature, as when reached through the
/// manifest).
pub const BUNDLE_DIGEST_ANNOTATION: &str = "dev.vouch.bundle.digest";
/// Annotation (vouch's): the size in bytes of the bundle named by [`BUNDLE_DIGEST_ANNOTATION`].
pub const BUNDLE_SIZE_ANNOTATION: &str = "dev.vouch.bundle.size";
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
        (
            BUNDLE_DIGEST_ANNOTATION.to_owned(),
            layer.digest.to_string(),
        ),
        (BUNDLE_SIZE_ANNOTATION.to_owned(), layer.size.to_string()),
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

/// The bundle a listing entry names with vouch's annotations ([`BUNDLE_DIGEST_ANNOTATION`],
/// [`BUNDLE_SIZE_ANNOTATION`]), as the descriptor to fetch it by; `None` when the entry is not
/// a bundle referrer or does not name its bundle so (then read the manifest). Untrusted: what
/// is fetched by it is checked by digest and verified like any bundle.
pub fn listed_bundle(entry: &Descriptor) -> Option<Descriptor> {
    if entry.artifact_type.as_deref() != Some(BUNDLE_ARTIFACT_TYPE) {
        return None;
    }
    let digest = entry
        .annotations
        .get(BUNDLE_DIGEST_ANNOTATION)?
        .parse()
        .ok()?;
    let size = entry
        .annotations
        .get(BUNDLE_SIZE_ANNOTATION)?
        .parse()
        .ok()?;
    Some(Descriptor {
        media_type: BUNDLE_ARTIFACT_TYPE.to_owned(),
        size,
        digest,
        annotations: BTreeMap::new(),
        platform: None,
        artifact_type: None,
    })
}

/// The fallback tag of `subject`'s referrers.
pub fn fallback_tag(subject: &Sha256Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// Adding referrers (one subject's, all at once) to the fallback index of that subject.
struct FallbackUpdate<'a> {
    target: &'a Target,
    subject: Sha256Digest,
    entries: Vec<Descriptor>,
}

fn index_of(current: &FetchedManifest) -> Result<ImageIndex, OciError> {
    match Manifest::parse(&current.bytes, Some(&current.media_type)) {
        Ok(Manifest::Index(i)) => Ok(i),
        Ok(Manifest::Image(_)) => Err(OciError::Manifest {
            what: "the referrers fallback tag".into(),
            error: crate::payload::PayloadError::Field {
                what: "manifest",
                field: "mediaType",
                reason: "expected an image index, found an image manifest; not overwriting it"
                    .into(),
            },
        }),
        Err(source) => Err(OciError::Manifest {
            what: "the referrers fallback tag".into(),
            error: source,
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
        let missing: Vec<Descriptor> = self
            .entries
            .iter()
            .filter(|e| !index.manifests.iter().any(|d| d.digest == e.digest))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        index.manifests.extend(missing);
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
            self.entries
                .iter()
                .all(|e| i.manifests.iter().any(|d| d.digest == e.digest))
        })
    }
}

/// Attaches each referrer to `subject`s in `target`: blobs, the manifest by digest, and —
/// where the registry has no referrers API (or in a layout) — the fallback index entry, with
/// the no-lost-write protocol (see [`index_referrers`]). Results are in order.
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
    // A batch asks a registry once, first, whether it has the referrers API (one request; a
    // single referrer learns it from its PUT's `OCI-Subject` answer, or asks after).
    if referrers.len() > 1
        && target.referrers_api().is_none()
        && let (Target::Registry { client, repo }, Some((subject, _))) = (target, referrers.first())
        && let Err(e) = client
            .get_referrers(repo, subject, None, Access::Push, limits.manifest)
            .await
    {
        return fail_all(target, referrers.len(), e.into());
    }
    // Whether each referrer manifest was stored before (`true`: not pushed again). Manifests are
    // content-addressed, so one stored by digest is this referrer (OCI distribution 1.1,
    // "Checking if content exists in the registry"); where the registry has a referrers API it
    // lists every stored manifest with a subject ("Listing Referrers"), so stored before is
    // listed before: `AlreadyPresent`, as the fallback index says elsewhere. A registry known
    // to have no API is not asked (a request per referrer, which a new signature always
    // misses): its fallback index says what was listed before, and a manifest stored again is
    // the same content.
    let check = !matches!(target, Target::Registry { .. }) || target.referrers_api() != Some(false);
    let pushed: Vec<Result<bool, OciError>> = stream::iter(referrers)
        .map(|(_, r)| async move {
            if check
                && target
                    .has_manifest(&Sha256Digest::of(&r.manifest), Access::Push)
                    .await?
            {
                return Ok(true);
            }
            let mut race = BlobRace::default();
            loop {
                target.push_blob(r.bundle.clone()).await?;
                match target
                    .push_manifest_by_digest(r.manifest.clone(), OCI_MANIFEST)
                    .await
                {
                    Ok(_) => return Ok(false),
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
    let stored: Vec<(usize, StoredReferrer<'_>)> = referrers
        .iter()
        .zip(&pushed)
        .enumerate()
        .filter(|(_, (_, p))| p.is_ok())
        .map(|(i, ((subject, r), _))| {
            (
                i,
                StoredReferrer {
                    target,
                    subject: *subject,
                    entry: r.entry.clone(),
                },
            )
        })
        .collect();
    let before: Vec<bool> = pushed
        .iter()
        .filter_map(|p| p.as_ref().ok().copied())
        .collect();
    let (positions, items): (Vec<usize>, Vec<StoredReferrer<'_>>) = stored.into_iter().unzip();
    let mut indexed = index_stored(&items, &before, settle, limits, concurrency)
        .await
        .into_iter();
    let mut results: Vec<Result<AttachOutcome, OciError>> = pushed
        .into_iter()
        .map(|p| p.map(|_| AttachOutcome::Added))
        .collect();
    for i in positions {
        if let (Some(slot), Some(r)) = (results.get_mut(i), indexed.next()) {
            *slot = r;
        }
    }
    results
}

/// A referrer manifest stored by digest already (with its blobs), to be listed for its
/// subject.
#[derive(Debug, Clone)]
pub struct StoredReferrer<'a> {
    /// Where it is stored.
    pub target: &'a Target,
    /// Its subject.
    pub subject: Sha256Digest,
    /// Its entry in the fallback index: its digest, size and media type, and the artifact type
    /// and annotations of the manifest.
    pub entry: Descriptor,
}

/// Lists referrers that are stored already: where the target has a referrers API the registry
/// lists them itself (`Added`); elsewhere (distribution 2.8, layouts) each subject's fallback
/// index `sha256-<hex>` gets them, one read-modify-write per (target, subject) for all of that
/// subject's referrers, every index of the batch with the no-lost-write protocol and one settle
/// wait ([`update_all`]). Results are in order: `AlreadyPresent` when the index listed the
/// referrer before.
pub async fn index_referrers(
    items: &[StoredReferrer<'_>],
    settle: SettleOptions,
    limits: &OciLimits,
    concurrency: usize,
) -> Vec<Result<AttachOutcome, OciError>> {
    index_stored(items, &[], settle, limits, concurrency).await
}

/// [`index_referrers`], where `before[i]` says that item `i`'s manifest was stored before this
/// attach: with a referrers API it was listed before (`AlreadyPresent`).
async fn index_stored(
    items: &[StoredReferrer<'_>],
    before: &[bool],
    settle: SettleOptions,
    limits: &OciLimits,
    concurrency: usize,
) -> Vec<Result<AttachOutcome, OciError>> {
    use std::collections::HashMap;

    use futures_util::stream::{self, StreamExt};

    let mut results: Vec<Option<Result<AttachOutcome, OciError>>> =
        items.iter().map(|_| None).collect();
    // Whether each target has a referrers API: known from the answers to the referrers' PUTs
    // (`OCI-Subject`), else asked once per target.
    let mut targets: Vec<(String, &Target, Sha256Digest)> = Vec::new();
    for item in items {
        let key = item.target.describe();
        if !targets.iter().any(|(k, _, _)| *k == key) {
            targets.push((key, item.target, item.subject));
        }
    }
    let mut apis: HashMap<String, Result<bool, OciError>> = stream::iter(targets)
        .map(|(key, target, subject)| async move {
            let api = match (target.referrers_api(), target) {
                (Some(known), _) => Ok(known),
                (None, Target::Registry { client, repo }) => client
                    .get_referrers(repo, &subject, None, Access::Push, limits.manifest)
                    .await
                    .map(|found| found.is_some())
                    .map_err(OciError::from),
                (None, Target::Layout(_)) => Ok(false),
            };
            (key, api)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    // One update per (target, subject).
    let mut groups: Vec<FallbackUpdate<'_>> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut keys: HashMap<(String, Sha256Digest), usize> = HashMap::new();
    let mut failed: HashMap<String, String> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let key = item.target.describe();
        if let Some(reason) = failed.get(&key) {
            results[i] = Some(Err(echo(item.target, reason)));
            continue;
        }
        match apis.get(&key) {
            Some(Ok(true)) => {
                results[i] = Some(Ok(if before.get(i).copied().unwrap_or(false) {
                    AttachOutcome::AlreadyPresent
                } else {
                    AttachOutcome::Added
                }))
            }
            Some(Err(_)) => {
                // The first item of the target carries the error, the others its message.
                if let Some(Err(e)) = apis.remove(&key) {
                    failed.insert(key, e.to_string());
                    results[i] = Some(Err(e));
                }
            }
            Some(Ok(false)) | None => {
                let g = *keys.entry((key, item.subject)).or_insert_with(|| {
                    groups.push(FallbackUpdate {
                        target: item.target,
                        subject: item.subject,
                        entries: Vec::new(),
                    });
                    members.push(Vec::new());
                    groups.len() - 1
                });
                if let Some(group) = groups.get_mut(g)
                    && !group.entries.iter().any(|e| e.digest == item.entry.digest)
                {
                    group.entries.push(item.entry.clone());
                }
                if let Some(m) = members.get_mut(g) {
                    m.push(i);
                }
            }
        }
    }
    let updated = update_all(&groups, settle, limits, concurrency).await;
    for ((group, result), member) in groups.iter().zip(updated).zip(members) {
        match result {
            Ok(outcome) => {
                for i in member {
                    results[i] = Some(Ok(outcome));
                }
            }
            Err(e) => {
                // The first referrer of the subject carries the error, the others its message.
                let reason = e.to_string();
                let mut first = Some(e);
                for i in member {
                    results[i] = Some(Err(first
                        .take()
                        .unwrap_or_else(|| echo(group.target, &reason))));
                }
            }
        }
    }
    results
        .into_iter()
        .zip(items)
        .map(|(r, item)| r.unwrap_or_else(|| Err(echo(item.target, "the referrer was not listed"))))
        .collect()
}

/// An error shared by several referrers, for all but the first.
fn echo(target: &Target, reason: &str) -> OciError {
    OciError::Registry(crate::oci::registry::RegistryError::Invalid {
        registry: target.describe(),
        reason: reason.to_owned(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_entry_names_the_bundle() {
        let subject = Descriptor::of(OCI_MANIFEST, b"image");
        let bundle = Bytes::from_static(br#"{"mediaType":"bundle"}"#);
        let r = referrer(
            subject,
            bundle.clone(),
            "https://example.com/p",
            "2026-12-01T00:00:00Z",
        );
        let named = listed_bundle(&r.entry).expect("named");
        assert_eq!(named, Descriptor::of(BUNDLE_ARTIFACT_TYPE, &bundle));
        // The manifest carries the same annotations (the referrers API lists them).
        let m: ImageManifest = serde_json::from_slice(&r.manifest).unwrap();
        assert_eq!(m.annotations, r.entry.annotations);
        assert_eq!(m.layers, vec![named]);
        // Not a bundle referrer, or not named so: read the manifest.
        let mut other = r.entry.clone();
        other.artifact_type = Some("application/example".into());
        assert_eq!(listed_bundle(&other), None);
        for key in [BUNDLE_DIGEST_ANNOTATION, BUNDLE_SIZE_ANNOTATION] {
            let mut e = r.entry.clone();
            e.annotations.remove(key);
            assert_eq!(listed_bundle(&e), None);
            let mut e = r.entry.clone();
            e.annotations
                .insert(key.to_owned(), "sha256:nope".to_owned());
            assert_eq!(listed_bundle(&e), None);
        }
    }
}
