//! Copying one image, exactly by digest, with everything attached to it, between registries and
//! OCI layouts (the copy engine of `vouch promote`).
//!
//! The caller resolves the source reference to a digest once (see [`vouch_core::oci::resolve`]),
//! verifies it, and copies that digest: a tag is never read again here. The copy is two steps,
//! which callers may also run apart:
//!
//! 1. [`plan_copy`] reads the source only: the manifest (or the index and, recursively, every
//!    manifest it lists), and for each of them cosign's `sha256-<hex>.sig` / `.att` / `.sbom`
//!    manifests and every OCI 1.1 referrer (cosign 3 bundles, other artifacts). Every manifest
//!    is checked against its digest and capped in size ([`OciLimits::manifest`]).
//! 2. [`execute_copy`] writes the destination, in an order that keeps it consistent whatever
//!    fails midway:
//!    - first one probe per manifest, not per blob: a `HEAD` of the image's manifest and, when
//!      the destination has it, its referrer listing — a manifest stored means its blobs are
//!      (an index's children excepted), a manifest absent means its small (or mountable) blobs
//!      are sent without asking (and its referrers are taken as absent: stored again by
//!      digest, listed by the fallback update); other blobs are asked about with a `HEAD`;
//!    - every blob, several at once ([`CopyOptions::concurrency`]): skipped when the
//!      destination has it, mounted from the source repository when both are
//!      repositories of one registry; else a small one (at most [`SMALL_PUT`], 1 MiB) is read
//!      whole, checked, and stored in the fewest requests the registry allows (one `POST`
//!      where it takes a whole blob, else `POST` and `PUT`; a blob that several destination
//!      repositories of one registry need is sent once and mounted into the others); a larger
//!      one is streamed in one `PATCH` — never held whole in memory — while it is hashed and
//!      counted (one `PATCH` per chunk cost registries that copy the upload on each, as
//!      ferro-oci-server does, a copy per chunk). A blob
//!      whose bytes do not match its descriptor (digest, or more or fewer bytes) is abandoned
//!      before it is sent or committed (the registry verifies the digest once more);
//!    - then the manifests of the image, children before the index that lists them;
//!    - side by side with the image's blobs and manifests (they name the image only by digest,
//!      and a registry accepts a referrer before its subject, OCI distribution spec 1.1), the
//!      attachments, each after its own blobs: `.sig`/`.att`/`.sbom` manifests are merged into
//!      what the destination already holds under that tag (its layers kept, the source's
//!      missing ones added) with the no-lost-write protocol of [`vouch_core::cosign`]; referrers are
//!      pushed by digest and, where the destination has no referrers API (distribution 2.8,
//!      layouts), added to its `sha256-<hex>` fallback index by [`index_referrers`] — so the
//!      settle wait of that protocol runs while the layers are still being copied;
//!    - the destination tag last, if one is asked for, once all of the above is written.
//!
//!    [`copy_images`] / [`execute_copies`] do the same for a batch of images, with one settle
//!    wait for all of their attachment tags and fallback indexes.
//!
//!    A failure stops the copy before the tag is written; running it again completes it (what is
//!    there already is skipped). A second run over a complete copy writes nothing.
//!
//! Nothing is printed: [`CopyProgress`] receives events (a progress bar per blob), and
//! [`CopyReport`] lists what was copied, skipped and mounted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use vouch_core::cosign::{
    AttachOutcome, Attachment, Merged, SettleOptions, TagUpdate, build_manifest, update_all,
};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::layout::{KIND_IMAGE, KIND_IMAGE_INDEX};
use vouch_core::oci::manifest::{
    Descriptor, ImageManifest, MANIFEST_MEDIA_TYPES, Manifest, OCI_INDEX, OCI_MANIFEST,
};
use vouch_core::oci::registry::{Access, FetchedManifest};
use vouch_core::oci::{
    ManifestRef, MountOutcome, OciError, OciLimits, SMALL_PUT, Target, UpdateGuard,
};
use vouch_core::referrers::{StoredReferrer, index_referrers};
use vouch_core::{Classify, ErrorClass};

use crate::policy::Admission;

mod attachments;
mod blobs;
mod plan;
mod probe;
mod referrers;

use attachments::*;
use blobs::*;
pub use plan::plan_copy;
#[cfg(test)]
use plan::plan_digest;
use probe::*;
use referrers::*;

/// How deep indexes may nest (an index listing indexes…).
const MAX_INDEX_DEPTH: usize = 4;

/// Errors of a copy. Nothing after the failing step was written; the destination tag is never
/// written after an error. Running the copy again completes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// The image is not in the source.
    #[error(
        "{what} is not in {target}: check the digest and the repository (a digest resolved from \
         a tag that has moved since may have been deleted)"
    )]
    NotFound {
        /// The source.
        target: String,
        /// What was looked for.
        what: String,
    },
    /// Reading the source failed.
    #[error("reading {what} from {target}: {error}")]
    Source {
        /// The source.
        target: String,
        /// What was being read.
        what: String,
        /// Why.
        error: Box<OciError>,
    },
    /// Writing the destination failed.
    #[error(
        "writing {what} to {target}: {error}; the destination tag was not written, run the copy \
         again to complete it"
    )]
    Destination {
        /// The destination.
        target: String,
        /// What was being written.
        what: String,
        /// Why.
        error: Box<OciError>,
    },
    /// A blob whose bytes are not what its descriptor names.
    #[error(
        "blob {digest} from {target}: expected {expected_size} bytes with that digest, found \
         {found}; the source does not hold what its manifest names, so nothing was stored for \
         this blob and the destination tag was not written"
    )]
    BlobMismatch {
        /// The source.
        target: String,
        /// The digest expected.
        digest: Sha256Digest,
        /// The size expected.
        expected_size: u64,
        /// What arrived.
        found: String,
    },
    /// A manifest of the source that vouch cannot copy faithfully.
    #[error("{what} in {target}: {reason}")]
    Manifest {
        /// The source.
        target: String,
        /// Which manifest.
        what: String,
        /// What is wrong, and what was expected.
        reason: String,
    },
}

impl Classify for CopyError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NotFound { .. } => ErrorClass::Input,
            Self::Source { error, .. } | Self::Destination { error, .. } => error.class(),
            Self::BlobMismatch { .. } | Self::Manifest { .. } => ErrorClass::Verification,
        }
    }
}

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Size caps of manifests and attachment manifests read from the source.
    pub limits: OciLimits,
    /// Timing of the no-lost-write protocol for attachment tags and fallback indexes.
    pub settle: SettleOptions,
    /// Blobs (and manifest reads) in flight at once. Default 4.
    pub concurrency: usize,
    /// A blob up to this size is held and sent with its commit; a larger one goes in one
    /// `PATCH`, streamed as it is read (a few reads in memory at a time). Default 8 MiB.
    pub chunk_size: usize,
    /// Copy the `.sig`/`.att`/`.sbom` manifests and the referrers. Default true.
    pub attachments: bool,
    /// Try cross-repository mounts within one registry. Default true.
    pub mount: bool,
    /// Where the source's `.sig`/`.att`/`.sbom` tags live when not beside the image
    /// (`VOUCH_REPOSITORY`). Referrers are always beside the image.
    pub source_attachments: Option<Target>,
    /// Where the destination's `.sig`/`.att`/`.sbom` tags go when not beside the image.
    pub destination_attachments: Option<Target>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            limits: OciLimits::default(),
            settle: SettleOptions::default(),
            concurrency: 4,
            chunk_size: 8 << 20,
            attachments: true,
            mount: true,
            source_attachments: None,
            destination_attachments: None,
        }
    }
}

/// What happened to a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BlobOutcome {
    /// Sent (streamed) to the destination.
    Copied,
    /// The destination had it already.
    Skipped,
    /// Linked from another repository of the same registry, without sending it.
    Mounted,
}

/// What happened to a manifest or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ManifestOutcome {
    /// Written as it is in the source.
    Written,
    /// The destination had it already.
    Present,
    /// An attachment tag the destination had already, with other layers: the source's missing
    /// layers were added, the destination's kept.
    Merged,
}

/// What a manifest is, in the copied image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ManifestRole {
    /// The image manifest copied.
    Image,
    /// The image index copied.
    Index,
    /// A manifest listed by the index (a platform image, or a nested index).
    Platform,
    /// cosign's `.sig` manifest of `subject`.
    Signatures,
    /// cosign's `.att` manifest of `subject`.
    Attestations,
    /// cosign's `.sbom` manifest of `subject`.
    Sbom,
    /// An OCI 1.1 referrer of `subject` (cosign 3 bundles and other artifacts).
    Referrer,
}

/// A blob of the copy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobRecord {
    /// Its digest.
    #[serde(serialize_with = "ser::digest")]
    pub digest: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// What happened.
    pub outcome: BlobOutcome,
}

/// A manifest of the copy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestRecord {
    /// Its digest (for a merged attachment tag: the source's manifest).
    #[serde(serialize_with = "ser::digest")]
    pub digest: Sha256Digest,
    /// Its media type.
    pub media_type: String,
    /// What it is.
    pub role: ManifestRole,
    /// The manifest it is attached to (attachments and referrers).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_digest"
    )]
    pub subject: Option<Sha256Digest>,
    /// Its tag at the destination (attachments), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Its artifact type (referrers), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// What happened.
    pub outcome: ManifestOutcome,
}

/// The destination tag.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagRecord {
    /// The tag.
    pub tag: String,
    /// Written, or already pointing at the digest.
    pub outcome: ManifestOutcome,
}

/// What a copy did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyReport {
    /// The source ([`Target::describe`]).
    pub source: String,
    /// The destination.
    pub destination: String,
    /// The digest copied.
    #[serde(serialize_with = "ser::digest")]
    pub digest: Sha256Digest,
    /// Every blob, in the order they finished.
    pub blobs: Vec<BlobRecord>,
    /// Every manifest, in the order written: the image's, then attachments and referrers.
    pub manifests: Vec<ManifestRecord>,
    /// The destination tag, if one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagRecord>,
    /// What was left out, and why (e.g. a referrer that is an index).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl CopyReport {
    /// Blobs with this outcome: (count, bytes).
    pub fn blobs_with(&self, outcome: BlobOutcome) -> (usize, u64) {
        self.blobs
            .iter()
            .filter(|b| b.outcome == outcome)
            .fold((0, 0), |(n, s), b| (n + 1, s + b.size))
    }

    /// Bytes sent to the destination.
    pub fn bytes_copied(&self) -> u64 {
        self.blobs_with(BlobOutcome::Copied).1
    }

    /// Manifests with this outcome.
    pub fn manifests_with(&self, outcome: ManifestOutcome) -> usize {
        self.manifests
            .iter()
            .filter(|m| m.outcome == outcome)
            .count()
    }
}

mod ser {
    use serde::Serializer;

    use vouch_core::digest::Sha256Digest;

    pub(super) fn digest<S: Serializer>(d: &Sha256Digest, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub(super) fn opt_digest<S: Serializer>(
        d: &Option<Sha256Digest>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(d),
            None => s.serialize_none(),
        }
    }
}

/// Events of a copy, for a progress display. Called from the copying tasks (several blobs at
/// once): implementations must be cheap and thread-safe. Every method does nothing by default.
pub trait CopyProgress: Send + Sync {
    /// A blob is about to be checked and, if needed, sent.
    fn blob_started(&self, _desc: &Descriptor) {}
    /// `bytes` more bytes of blob `digest` were sent.
    fn blob_bytes(&self, _digest: &Sha256Digest, _bytes: u64) {}
    /// A blob is done.
    fn blob_done(&self, _record: &BlobRecord) {}
    /// A blob failed (the copy stops; the error is returned).
    fn blob_failed(&self, _digest: &Sha256Digest) {}
    /// A manifest is done.
    fn manifest_done(&self, _record: &ManifestRecord) {}
}

/// A [`CopyProgress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl CopyProgress for NoProgress {}

/// A manifest read from the source.
#[derive(Debug, Clone)]
struct PlannedManifest {
    fetched: FetchedManifest,
    /// A media type usable for writing it (the source's, else the descriptor's, else guessed).
    media_type: String,
    role: ManifestRole,
    subject: Option<Sha256Digest>,
    /// Index nesting depth (image tree only; 0 = the root).
    depth: usize,
    /// The referrer's descriptor in the source's listing (artifact type, annotations).
    entry: Option<Descriptor>,
    /// For attachments: which one, and its layers.
    attachment: Option<(Attachment, Vec<Descriptor>)>,
}

/// Which pair of targets a blob moves between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    /// Source image repository → destination image repository.
    Image,
    /// Where `.sig`/`.att`/`.sbom` live, when moved elsewhere (`VOUCH_REPOSITORY`).
    Attachments,
}

/// Which part of a copy needs a blob: the image (its tag waits for it), or what is attached
/// to it (written, and settled, while the image's blobs are still on their way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Lane {
    Image,
    Attached,
}

/// Everything to copy, read from the source by [`plan_copy`] (nothing written yet).
#[derive(Debug, Clone)]
pub struct CopyPlan {
    source: Target,
    source_attachments: Target,
    digest: Sha256Digest,
    /// The image tree, root first (breadth first).
    images: Vec<PlannedManifest>,
    attachments: Vec<PlannedManifest>,
    referrers: Vec<PlannedManifest>,
    blobs: Vec<(Side, Lane, Descriptor)>,
    warnings: Vec<String>,
}

impl CopyPlan {
    /// The digest to copy.
    pub fn digest(&self) -> &Sha256Digest {
        &self.digest
    }

    /// The root manifest's media type.
    pub fn media_type(&self) -> &str {
        self.images
            .first()
            .map(|m| m.media_type.as_str())
            .unwrap_or_default()
    }

    /// The root manifest's exact bytes.
    pub fn manifest_bytes(&self) -> Bytes {
        self.images
            .first()
            .map(|m| m.fetched.bytes.clone())
            .unwrap_or_default()
    }

    /// Every blob to copy (each digest once per repository pair).
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        let mut seen = HashSet::new();
        self.blobs
            .iter()
            .filter(move |(side, _, d)| seen.insert((*side, d.digest)))
            .map(|(_, _, d)| d)
    }

    /// The total size of the blobs.
    pub fn total_bytes(&self) -> u64 {
        self.blobs().map(|d| d.size).sum()
    }

    /// Every manifest to copy: (digest, role, subject).
    pub fn manifests(&self) -> Vec<(Sha256Digest, ManifestRole, Option<Sha256Digest>)> {
        self.images
            .iter()
            .chain(&self.attachments)
            .chain(&self.referrers)
            .map(|m| (m.fetched.digest, m.role.clone(), m.subject))
            .collect()
    }

    /// What will be left out, and why.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

fn src_err(target: &Target, what: impl Into<String>) -> impl FnOnce(OciError) -> CopyError {
    let target = target.describe();
    let what = what.into();
    move |source| CopyError::Source {
        target,
        what,
        error: Box::new(source),
    }
}

fn dst_err(target: &Target, what: impl Into<String>) -> impl FnOnce(OciError) -> CopyError {
    let target = target.describe();
    let what = what.into();
    move |source| CopyError::Destination {
        target,
        what,
        error: Box::new(source),
    }
}

/// Copies the admitted digest from `src` to `dst` with everything attached to it, then tags it `dst_tag`
/// (in a layout: the `org.opencontainers.image.ref.name` of its `index.json` entry; without a
/// tag a layout gets an untagged entry). [`plan_copy`] then [`execute_copy`]; for several images
/// at once, [`copy_images`].
pub async fn copy_image(
    src: &Target,
    admission: &Admission,
    dst: &Target,
    dst_tag: Option<&str>,
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Result<CopyReport, CopyError> {
    let plan = plan_copy(src, admission, opts).await?;
    execute_copy(&plan, dst, dst_tag, opts, progress).await
}

/// Writes what `plan` read into `dst` (see the module docs for the order), then tags it. A
/// batch of one ([`execute_copies`]).
pub async fn execute_copy(
    plan: &CopyPlan,
    dst: &Target,
    dst_tag: Option<&str>,
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Result<CopyReport, CopyError> {
    let copy = CopyTo {
        plan,
        destination: dst,
        tag: dst_tag,
        destination_attachments: None,
    };
    let mut results = execute_copies(&[copy], opts, progress).await;
    results.pop().unwrap_or_else(|| {
        Err(CopyError::Manifest {
            target: dst.describe(),
            what: format!("image {}", plan.digest),
            reason: "the copy returned no result".into(),
        })
    })
}

/// One image of a batch ([`copy_images`]).
#[derive(Debug, Clone)]
pub struct CopyJob<'a> {
    /// Where the image is.
    pub source: Target,
    /// The image to copy: its digest, admitted by the policy.
    pub admission: &'a Admission,
    /// Where to copy it.
    pub destination: Target,
    /// The destination tag, written last; `None`: none (an untagged entry in a layout).
    pub tag: Option<String>,
    /// Where the source's `.sig`/`.att`/`.sbom` tags live, when not beside the image; `None`:
    /// [`CopyOptions::source_attachments`].
    pub source_attachments: Option<Target>,
    /// Where the destination's `.sig`/`.att`/`.sbom` tags go, when not beside the image;
    /// `None`: [`CopyOptions::destination_attachments`].
    pub destination_attachments: Option<Target>,
    /// The admitted digest's manifest, when the caller read it already (resolving the
    /// source): the copy then does not read it again. Ignored unless its bytes hash to the
    /// admitted digest.
    pub manifest: Option<FetchedManifest>,
}

/// Plans read at once by [`copy_images`] (each reads several manifests at a time).
const PLANS_AT_ONCE: usize = 16;

/// Copies several images, each exactly by digest with everything attached to it, sharing the
/// waits: reads every source ([`plan_copy`]), then writes every destination
/// ([`execute_copies`]): all attachment tags and referrer fallback indexes of the batch settle
/// once, while the images' blobs are being copied. Results are in job order, one per image:
/// an image that fails leaves the others' copies (and their tags) as they would be alone.
pub async fn copy_images(
    jobs: &[CopyJob<'_>],
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Vec<Result<CopyReport, CopyError>> {
    let plans: Vec<Result<CopyPlan, CopyError>> = stream::iter(jobs)
        .map(|job| {
            let o = CopyOptions {
                source_attachments: job
                    .source_attachments
                    .clone()
                    .or_else(|| opts.source_attachments.clone()),
                ..opts.clone()
            };
            async move {
                let root = job.manifest.as_ref();
                plan::plan_digest(&job.source, job.admission.digest(), root, &o).await
            }
        })
        .buffered(PLANS_AT_ONCE)
        .collect()
        .await;
    let copies: Vec<CopyTo<'_>> = jobs
        .iter()
        .zip(&plans)
        .filter_map(|(job, plan)| {
            Some(CopyTo {
                plan: plan.as_ref().ok()?,
                destination: &job.destination,
                tag: job.tag.as_deref(),
                destination_attachments: job.destination_attachments.as_ref(),
            })
        })
        .collect();
    let mut executed = execute_copies(&copies, opts, progress).await.into_iter();
    let mut results = Vec::with_capacity(jobs.len());
    for plan in plans {
        results.push(match plan {
            Ok(_) => executed.next().unwrap_or_else(|| {
                Err(CopyError::Manifest {
                    target: String::new(),
                    what: "a copy of the batch".into(),
                    reason: "the batch returned no result for it".into(),
                })
            }),
            Err(e) => Err(e),
        });
    }
    results
}

/// One copy of a batch ([`execute_copies`]): what [`plan_copy`] read, and where to write it.
#[derive(Debug, Clone, Copy)]
pub struct CopyTo<'a> {
    /// What to copy.
    pub plan: &'a CopyPlan,
    /// Where to.
    pub destination: &'a Target,
    /// The destination tag, written last; `None`: none (an untagged entry in a layout).
    pub tag: Option<&'a str>,
    /// Where the `.sig`/`.att`/`.sbom` tags go, when not beside the image; `None`:
    /// [`CopyOptions::destination_attachments`], else beside the image.
    pub destination_attachments: Option<&'a Target>,
}

/// Copies of a batch in progress at once, per step (their blobs are bounded by
/// [`CopyOptions::concurrency`]).
const COPIES_AT_ONCE: usize = 64;

/// Blobs up to this size are "small" (see [`SMALL_BLOBS_AT_ONCE`]).
const SMALL_BLOB: u64 = 256 << 10;

/// Small blobs copied at once in a batch.
const SMALL_BLOBS_AT_ONCE: usize = 32;

/// What is attached to one image of a batch, once written.
struct AttachedDone {
    blobs: Vec<BlobRecord>,
    attachments: Vec<ManifestRecord>,
    referrers: Vec<ManifestRecord>,
}

/// Writes what each plan read into its destination, sharing the waits (see the module docs for
/// the order of one copy):
///
/// - the images' blobs, then each image's manifests; meanwhile, side by side,
/// - the attachments' and referrers' blobs, the referrer manifests by digest, then every
///   `.sig`/`.att`/`.sbom` merge and every referrer fallback index of the batch, all with one
///   settle wait of the no-lost-write protocol ([`update_all`], [`index_referrers`]): they name
///   the image only by digest, and a registry accepts a referrer before its subject (OCI
///   distribution spec 1.1);
/// - each destination tag last, once everything of its image is written.
///
/// A blob needed by several copies (same source and destination repositories) is copied once.
/// Results are in order, one per copy; a copy that fails does not stop the others, and its tag
/// is not written.
pub async fn execute_copies(
    copies: &[CopyTo<'_>],
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Vec<Result<CopyReport, CopyError>> {
    let concurrency = opts.concurrency.max(1);
    let dst_attachments: Vec<&Target> = copies
        .iter()
        .map(|c| {
            c.destination_attachments
                .or(opts.destination_attachments.as_ref())
                .unwrap_or(c.destination)
        })
        .collect();
    // Blobs of the images and of their attachments have a budget each, so that the small
    // attachment blobs (and the settle wait after them) do not queue behind large layers.
    let image_lane = Semaphore::new(concurrency);
    let attached_lane = Semaphore::new(concurrency);
    // Small blobs (configs, signatures, bundles: a few round trips each, hardly any bytes) of
    // many images of a batch go many at once.
    let small_blobs = Semaphore::new(concurrency.max(SMALL_BLOBS_AT_ONCE));
    // What each destination holds already, learnt with one request per manifest rather than
    // one per blob.
    let known: Vec<Known> = stream::iter(copies.iter().zip(&dst_attachments))
        .map(|(c, dst_att)| probe(c, dst_att, opts))
        .buffered(COPIES_AT_ONCE)
        .collect()
        .await;
    type BlobKey = (String, String, Sha256Digest);
    let key_of = |c: &CopyTo<'_>, dst_att: &Target, side: Side, digest: Sha256Digest| {
        let (from, to): (&Target, &Target) = match side {
            Side::Image => (&c.plan.source, c.destination),
            Side::Attachments => (&c.plan.source_attachments, dst_att),
        };
        (from.describe(), to.describe(), digest)
    };
    // How to copy each blob: known present anywhere in the batch wins; else a small blob whose
    // manifest the destination lacks is sent without asking first.
    let mut modes: HashMap<BlobKey, BlobMode> = HashMap::new();
    for ((c, dst_att), k) in copies.iter().zip(&dst_attachments).zip(&known) {
        for (side, lane, desc) in &c.plan.blobs {
            let (from, to): (&Target, &Target) = match side {
                Side::Image => (&c.plan.source, c.destination),
                Side::Attachments => (&c.plan.source_attachments, dst_att),
            };
            let mountable = opts.mount && to.mount_source(from).is_some();
            let beside = dst_att.describe() == c.destination.describe();
            let mode = k.mode(*side, *lane, desc, mountable, beside);
            modes
                .entry(key_of(c, dst_att, *side, desc.digest))
                .and_modify(|m| *m = m.combine(mode))
                .or_insert(mode);
        }
    }
    let mut shared: HashMap<BlobKey, SharedBlob<'_>> = HashMap::new();
    // A small blob going to several repositories of one registry (the empty config of every
    // cosign 3 bundle): the first copy sends it, the others mount it from there once it is
    // stored (one request, where sending takes two on a registry without single `POST`).
    let mut leaders: HashMap<(String, Sha256Digest), (SharedBlob<'_>, &Target)> = HashMap::new();
    let mut lanes: Vec<(Vec<SharedBlob<'_>>, Vec<SharedBlob<'_>>)> = Vec::new();
    for (c, dst_att) in copies.iter().zip(&dst_attachments) {
        let plan = c.plan;
        let mut image = Vec::new();
        let mut attached = Vec::new();
        for (side, lane, desc) in &plan.blobs {
            let (from, to): (&Target, &Target) = match side {
                Side::Image => (&plan.source, c.destination),
                Side::Attachments => (&plan.source_attachments, dst_att),
            };
            let semaphore = match lane {
                _ if desc.size <= SMALL_BLOB => &small_blobs,
                Lane::Image => &image_lane,
                Lane::Attached => &attached_lane,
            };
            let key = key_of(c, dst_att, *side, desc.digest);
            let mode = modes.get(&key).copied().unwrap_or(BlobMode::Check);
            if let Some(blob) = shared.get(&key) {
                match lane {
                    Lane::Image => image.push(blob.clone()),
                    Lane::Attached => attached.push(blob.clone()),
                }
                continue;
            }
            let group = match to {
                Target::Registry { repo, .. }
                    if desc.size <= SMALL_PUT
                        && !(opts.mount && to.mount_source(from).is_some()) =>
                {
                    Some((repo.registry.clone(), desc.digest))
                }
                _ => None,
            };
            let leader = group
                .as_ref()
                .and_then(|g| leaders.get(g))
                .filter(|(_, t)| to.mount_source(t).is_some())
                .map(|(b, t)| (b.clone(), *t));
            let blob = shared
                .entry(key)
                .or_insert_with(|| {
                    async move {
                        // Stored by the leader first: mount it from there.
                        let sibling = match leader {
                            Some((first, there)) if mode != BlobMode::Present => {
                                first.await.ok().map(|_| there)
                            }
                            _ => None,
                        };
                        if mode == BlobMode::Present {
                            progress.blob_started(desc);
                            let record = BlobRecord {
                                digest: desc.digest,
                                size: desc.size,
                                media_type: desc.media_type.clone(),
                                outcome: BlobOutcome::Skipped,
                            };
                            progress.blob_done(&record);
                            return Ok(record);
                        }
                        let _permit = semaphore.acquire().await.ok();
                        progress.blob_started(desc);
                        let check = mode == BlobMode::Check;
                        match copy_blob(from, to, desc, check, sibling, opts, progress).await {
                            Ok(outcome) => {
                                let record = BlobRecord {
                                    digest: desc.digest,
                                    size: desc.size,
                                    media_type: desc.media_type.clone(),
                                    outcome,
                                };
                                progress.blob_done(&record);
                                Ok(record)
                            }
                            Err(e) => {
                                progress.blob_failed(&desc.digest);
                                Err(SharedError::new(e))
                            }
                        }
                    }
                    .boxed()
                    .shared()
                })
                .clone();
            if let Some(g) = group {
                leaders.entry(g).or_insert_with(|| (blob.clone(), to));
            }
            match lane {
                Lane::Image => image.push(blob),
                Lane::Attached => attached.push(blob),
            }
        }
        lanes.push((image, attached));
    }

    // The images: blobs, then manifests.
    let images = stream::iter(copies.iter().zip(&lanes).zip(&known))
        .map(|((c, (blobs, _)), k)| async move {
            let blobs = blobs_done(blobs.clone()).await?;
            let manifests =
                write_images(c.plan, c.destination, k.root, concurrency, progress).await?;
            Ok::<_, CopyError>((blobs, manifests))
        })
        .buffered(COPIES_AT_ONCE)
        .collect::<Vec<_>>();
    // Side by side, what is attached to them.
    let attached = write_attached(copies, &dst_attachments, &lanes, &known, opts, progress);
    let (images, attached) = futures_util::future::join(images, attached).await;

    // The tags, last.
    type Written = (Vec<BlobRecord>, Vec<ManifestRecord>);
    let done: Vec<Result<Written, CopyError>> = images
        .into_iter()
        .zip(attached)
        .map(|(image, attached)| {
            let (mut blobs, mut manifests) = image?;
            let attached = attached?;
            blobs.extend(attached.blobs);
            manifests.extend(attached.attachments);
            manifests.extend(attached.referrers);
            Ok((blobs, manifests))
        })
        .collect();
    stream::iter(copies.iter().zip(done).zip(&known))
        .map(|((c, done), k)| async move {
            let (blobs, manifests) = done?;
            let tag = write_tag(c.plan, c.destination, c.tag, k.root).await?;
            Ok(CopyReport {
                source: c.plan.source.describe(),
                destination: c.destination.describe(),
                digest: c.plan.digest,
                blobs,
                manifests,
                tag,
                warnings: c.plan.warnings.clone(),
            })
        })
        .buffered(COPIES_AT_ONCE)
        .collect()
        .await
}

/// The image's manifests, deepest first: children before the index listing them.
async fn write_images(
    plan: &CopyPlan,
    dst: &Target,
    root_present: Option<bool>,
    concurrency: usize,
    progress: &dyn CopyProgress,
) -> Result<Vec<ManifestRecord>, CopyError> {
    let mut out = Vec::new();
    let deepest = plan.images.iter().map(|m| m.depth).max().unwrap_or(0);
    for depth in (0..=deepest).rev() {
        let records: Vec<ManifestRecord> =
            stream::iter(plan.images.iter().filter(|m| m.depth == depth))
                .map(|m| async move {
                    let digest = m.fetched.digest;
                    let what = format!("manifest {digest}");
                    let present = match root_present {
                        Some(present) if digest == plan.digest => present,
                        _ => dst
                            .has_manifest(&digest, Access::Push)
                            .await
                            .map_err(dst_err(dst, what.clone()))?,
                    };
                    if !present {
                        dst.push_manifest_by_digest(m.fetched.bytes.clone(), &m.media_type)
                            .await
                            .map_err(dst_err(dst, what))?;
                    }
                    let record = ManifestRecord {
                        digest,
                        media_type: m.media_type.clone(),
                        role: m.role.clone(),
                        subject: None,
                        tag: None,
                        artifact_type: None,
                        outcome: if present {
                            ManifestOutcome::Present
                        } else {
                            ManifestOutcome::Written
                        },
                    };
                    progress.manifest_done(&record);
                    Ok::<_, CopyError>(record)
                })
                .buffered(concurrency)
                .try_collect()
                .await?;
        out.extend(records);
    }
    Ok(out)
}

/// The destination tag (or, without one, the untagged entry of a layout).
async fn write_tag(
    plan: &CopyPlan,
    dst: &Target,
    dst_tag: Option<&str>,
    root_present: Option<bool>,
) -> Result<Option<TagRecord>, CopyError> {
    let Some(root) = plan.images.first() else {
        return Ok(None);
    };
    let kind = match root.role {
        ManifestRole::Index => KIND_IMAGE_INDEX,
        _ => KIND_IMAGE,
    };
    let Some(tag) = dst_tag else {
        let mut desc = Descriptor::of(&root.media_type, &root.fetched.bytes);
        desc.digest = plan.digest;
        dst.add_untagged(desc, Some(kind))
            .map_err(dst_err(dst, "index.json entry"))?;
        return Ok(None);
    };
    let what = format!("tag {tag}");
    // A destination that lacked the image cannot have had the tag pointing at it.
    let current = if root_present == Some(false) {
        None
    } else {
        dst.tag_digest(tag, Access::Push)
            .await
            .map_err(dst_err(dst, what.clone()))?
    };
    let outcome = if current == Some(plan.digest) {
        ManifestOutcome::Present
    } else {
        dst.push_manifest(
            tag,
            root.fetched.bytes.clone(),
            &root.media_type,
            Some(kind),
            &UpdateGuard::None,
        )
        .await
        .map_err(dst_err(dst, what))?;
        ManifestOutcome::Written
    };
    Ok(Some(TagRecord {
        tag: tag.to_owned(),
        outcome,
    }))
}

#[cfg(test)]
mod tests;
