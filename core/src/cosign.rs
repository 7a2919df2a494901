//! cosign's tag format: signatures under `sha256-<hex>.sig`, attestations under `.att`, SBOMs
//! under `.sbom`, each an OCI image manifest with one layer per item, and how to add a layer
//! without ever losing someone else's.
//!
//! # No lost writes
//!
//! Adding a layer is a read-modify-write of a tag, and distribution registries have no
//! conditional PUT. cosign simply writes, so two racing signers lose one signature. vouch's
//! writers follow a protocol whose only price is a wait, and this is the argument for how long.
//!
//! **Names.** A writer *A* reads the tag (the request is sent at `r`), builds the merged document,
//! sends its PUT at `s` and gets the answer at `e`; the registry applies the PUT at some `a` with
//! `s ≤ a ≤ e`. All durations are measured on the writer's own monotonic clock; no clocks are
//! compared between machines.
//!
//! **What loses a layer.** *A*'s layer is lost only if another writer *B* applies a document
//! without it after `a_A`. A document lacks *A*'s layer only if it was merged from a read served
//! before `a_A`, so `r_B < a_A ≤ e_A`: *B* was *stale* when *A* wrote.
//!
//! **Two bounds every vouch writer keeps.**
//! 1. *Window* `W` ([`SettleOptions::window`]): a writer sends its PUT no later than `W` after
//!    the read its document was merged from, `s - r ≤ W`, enforced before sending: when the read
//!    and the config push took longer than `W`, the writer re-checks the tag with one `HEAD` (the
//!    window then starts at that check, and a changed tag means merging again), and when even
//!    that is over `W` it reads again — after a few such attempts it gives up with an error
//!    naming the round trip it measured. Within `W` the PUT is sent at once: the bound holds, and
//!    a re-check would only cost a round trip on a registry already slow (under a batch's load a
//!    read may take over half the window, and re-checking from there added a `HEAD` to one image
//!    in six of a 200-image batch on docker-registry 2.8).
//! 2. *Transit* `T` (`settle - window`): the registry applies a PUT no later than `T` after it
//!    was sent, `a - s ≤ T`. This one is an assumption about the network, not something a writer
//!    can enforce, so every writer checks it afterwards on its own PUTs (`e - s`) and reports a
//!    PUT answered later than `T` in [`SettleReport::late_puts`] and on its client
//!    ([`RegistryClient::late_puts`](crate::oci::registry::RegistryClient::late_puts); the CLI
//!    prints a warning) — a violated assumption is made visible, never silent.
//!
//! **The wait.** From the two bounds, a stale *B* applies at `a_B ≤ r_B + W + T < e_A + W + T`.
//! So *A* waits `W + T` after its PUT was answered and reads the tag again: if *A*'s layer is in
//! what that read returns, every writer that could drop it has already applied, and none can drop
//! it later; if not, *A* merges again (bounded rounds, then an error, exit 3). That is the least
//! wait the argument allows: any shorter one admits a stale writer that keeps both bounds and
//! still lands after the check. The wait is stretched when *this* run measures slow PUTs
//! (`W` + twice the slowest PUT round trip seen, when that exceeds the configured settle): other
//! writers of the same registry are then likely slow too.
//!
//! **The figures.** `W` = 400 ms and `T` = 200 ms (settle 600 ms, was 1.5 s) by default.
//! Measured with `cargo bench -p vouch --bench settle` (8 concurrent writers on one tag of a
//! docker-registry 2.8 on loopback, 2 cores busy with builds): read → PUT sent p50 65 ms, p99
//! 196 ms; PUT sent → answered p50 32 ms, p99 96 ms; no re-check, no late PUT, and all 40 layers
//! kept. `W` is sized for a registry round trip, not for loopback: with the `HEAD` re-check the
//! window holds one round trip, and 400 ms covers an intercontinental one (150–300 ms) with room
//! for a TCP retransmission. `T` covers a manifest's transit and the registry's write of it
//! (twice the p99 above). Writers that must go further tune both with `VOUCH_SETTLE_MS` (settle;
//! window = half), the same value for every writer of that registry.
//!
//! **Where no wait is needed.** Batches of images share the wait (write all, wait once, confirm
//! all). In an OCI layout the read-modify-write happens under the layout's file lock and needs
//! no settling. On a registry with the OCI 1.1 referrers API, bundle signatures are referrers:
//! each is its own manifest, no shared document is rewritten, and there is nothing to wait for
//! ([`crate::referrers`]).

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
    /// `W`: the longest time from the read a document was merged from to sending its PUT.
    pub window: Duration,
    /// `W + T`: the wait after a PUT was answered before confirming; must exceed `window` (the
    /// difference is `T`, the longest a PUT may take to be applied after it was sent).
    pub settle: Duration,
    /// Rounds of write + confirm before giving up.
    pub rounds: u32,
}

impl Default for SettleOptions {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(400),
            settle: Duration::from_millis(600),
            rounds: 30,
        }
    }
}

impl SettleOptions {
    /// `T`: how long after sending a PUT the registry is assumed to have applied it.
    pub fn transit(&self) -> Duration {
        self.settle.saturating_sub(self.window)
    }

    /// The wait before confirming, given the slowest PUT round trip this run measured: the
    /// configured settle, stretched to `W` + twice that round trip when the registry is slow.
    pub fn wait_for(&self, slowest_put: Duration) -> Duration {
        self.settle.max(self.window + slowest_put * 2)
    }
}

/// What the protocol measured in one [`update_all_report`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettleReport {
    /// Total time spent waiting before confirming.
    pub waited: Duration,
    /// Write rounds run (1 when nothing was lost to a concurrent writer).
    pub rounds: u32,
    /// Manifest PUTs written.
    pub puts: u32,
    /// The slowest PUT round trip (sent → answered).
    pub slowest_put: Duration,
    /// PUTs answered later than `T` after they were sent: the transit assumption did not hold
    /// for them, so a concurrent writer's change may have been overwritten after it confirmed.
    /// Zero in a healthy run.
    pub late_puts: u32,
    /// The longest read → PUT time of a written document (always within the window).
    pub longest_window: Duration,
    /// Re-checks of a tag by `HEAD` because the read and the config push took over the window.
    pub rechecks: u32,
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
    /// Written: the digest of the document we put, and what the write measured.
    Written(Sha256Digest, WriteTimes),
}

#[derive(Debug, Clone, Copy, Default)]
struct WriteTimes {
    /// Read (or re-check) → PUT sent.
    window: Duration,
    /// PUT sent → answered.
    put: Duration,
    rechecks: u32,
}

/// Attempts at keeping the window before a writer gives up on a registry too slow for it.
const SLOW_ATTEMPTS: u32 = 8;

/// One read-modify-write. `window` bounds read→send when given (a registry); see the module
/// docs for the argument.
async fn write_round<U: TagUpdate>(
    req: &U,
    limits: &OciLimits,
    window: Option<Duration>,
) -> Result<Round, OciError> {
    let tag = req.tag();
    let target = req.target();
    let mut race = BlobRace::default();
    let mut rechecks = 0u32;
    let mut slow = 0u32;
    loop {
        let guard = target.begin_update()?;
        let mut read_at = Instant::now();
        let current = target
            .manifest(ManifestRef::Tag(&tag), Access::Push, limits.manifest)
            .await?;
        let read_took = read_at.elapsed();
        let Some(merged) = req.merge(current.as_ref(), limits)? else {
            return Ok(Round::Present);
        };
        for b in merged.blobs {
            target.push_blob(b).await?;
        }
        if let Some(w) = window {
            if read_at.elapsed() > w {
                // The read and the config push took longer than the window: check the tag still
                // holds what we merged from; the window then starts at this check.
                rechecks += 1;
                let checked_at = Instant::now();
                let now = target.tag_digest(&tag, Access::Push).await?;
                if now != current.as_ref().map(|c| c.digest) {
                    continue; // changed meanwhile: merge again
                }
                read_at = checked_at;
            }
            if read_at.elapsed() > w {
                slow += 1;
                if slow >= SLOW_ATTEMPTS {
                    return Err(OciError::Registry(RegistryError::Invalid {
                        registry: target.describe(),
                        reason: format!(
                            "{tag}: {SLOW_ATTEMPTS} attempts could not write within {} ms of reading (the last read took {} ms); the registry is too slow for the no-lost-write window: raise VOUCH_SETTLE_MS (the same value for every writer of this registry)",
                            w.as_millis(),
                            read_took.as_millis()
                        ),
                    }));
                }
                continue; // our view may be stale: read again
            }
        }
        let sent = Instant::now();
        let window_used = sent - read_at;
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
            Ok(digest) => {
                return Ok(Round::Written(
                    digest,
                    WriteTimes {
                        window: window_used,
                        put: sent.elapsed(),
                        rechecks,
                    },
                ));
            }
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
    update_all_report(requests, settle, limits, concurrency)
        .await
        .0
}

/// [`update_all`], with what the protocol measured.
pub async fn update_all_report<U: TagUpdate + Sync>(
    requests: &[U],
    settle: SettleOptions,
    limits: &OciLimits,
    concurrency: usize,
) -> (Vec<Result<AttachOutcome, OciError>>, SettleReport) {
    use futures_util::stream::{self, StreamExt};

    let mut report = SettleReport::default();

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
        report.rounds = round + 1;
        let outcomes: Vec<(usize, Result<Round, OciError>)> = stream::iter(pending.clone())
            .map(|i| {
                let req = &requests[i];
                let window = on_registry(req).then_some(settle.window);
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
                Ok(Round::Written(digest, times)) => {
                    report.puts += 1;
                    report.slowest_put = report.slowest_put.max(times.put);
                    report.longest_window = report.longest_window.max(times.window);
                    report.rechecks += times.rechecks;
                    if let Target::Registry { client, .. } = requests[i].target()
                        && times.put > settle.transit()
                    {
                        report.late_puts += 1;
                        client.note_late_put();
                    }
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
        let wait = settle.wait_for(report.slowest_put);
        report.waited += wait;
        tokio::time::sleep(wait).await;
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
    let results = results
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
        .collect();
    (results, report)
}

/// Whether the window applies: a registry (a layout's update happens under its lock).
fn on_registry<U: TagUpdate>(req: &U) -> bool {
    matches!(req.target(), Target::Registry { .. })
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
