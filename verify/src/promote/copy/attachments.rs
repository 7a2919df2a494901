//! Attachments: the `.sig`/`.att`/`.sbom` tags of a batch, merged into what the destination
//! holds with the no-lost-write protocol.

use super::*;

/// The attachments and referrers of every copy of a batch (see [`execute_copies`]).
pub(super) async fn write_attached<'a>(
    copies: &'a [CopyTo<'a>],
    dst_attachments: &[&'a Target],
    lanes: &[(Vec<SharedBlob<'_>>, Vec<SharedBlob<'_>>)],
    known: &[Known],
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Vec<Result<AttachedDone, CopyError>> {
    let concurrency = opts.concurrency.max(1);
    // Blobs, then the referrer manifests by digest.
    type Stored<'p> = Vec<(&'p PlannedManifest, Descriptor)>;
    let prepared: Vec<Result<(AttachedDone, Stored<'a>), CopyError>> =
        stream::iter(copies.iter().zip(lanes).zip(known))
            .map(|((c, (_, blobs)), k)| async move {
                let blobs = blobs_done(blobs.clone()).await?;
                let (present, stored) =
                    store_referrers(c.plan, c.destination, k.referrers.as_ref(), opts, progress)
                        .await?;
                Ok((
                    AttachedDone {
                        blobs,
                        attachments: Vec::new(),
                        referrers: present,
                    },
                    stored,
                ))
            })
            .buffered(COPIES_AT_ONCE)
            .collect()
            .await;
    // Every attachment tag and every referrer to list, of the whole batch.
    let mut merges: Vec<AttachmentMerge<'_>> = Vec::new();
    let mut merge_of: Vec<(usize, &PlannedManifest)> = Vec::new();
    let mut listed: Vec<StoredReferrer<'_>> = Vec::new();
    let mut listed_of: Vec<(usize, &PlannedManifest)> = Vec::new();
    let mut out: Vec<Result<AttachedDone, CopyError>> = Vec::with_capacity(copies.len());
    for (i, (p, c)) in prepared.into_iter().zip(copies).enumerate() {
        let (done, stored) = match p {
            Ok(p) => p,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        out.push(Ok(done));
        for m in &c.plan.attachments {
            let (Some((kind, layers)), Some(subject), Some(target)) =
                (m.attachment.as_ref(), m.subject, dst_attachments.get(i))
            else {
                continue;
            };
            merges.push(AttachmentMerge {
                target,
                tag: kind.tag(&subject),
                kind: *kind,
                source: &m.fetched,
                media_type: MANIFEST_MEDIA_TYPES
                    .iter()
                    .find(|t| **t == m.media_type)
                    .copied()
                    .unwrap_or(OCI_MANIFEST),
                layers,
                merged: AtomicBool::new(false),
            });
            merge_of.push((i, m));
        }
        for (m, entry) in stored {
            if let Some(subject) = m.subject {
                listed.push(StoredReferrer {
                    target: c.destination,
                    subject,
                    entry,
                });
                listed_of.push((i, m));
            }
        }
    }
    // One settle wait for all.
    let (merge_results, listed_results) = futures_util::future::join(
        update_all(&merges, opts.settle, &opts.limits, concurrency),
        index_referrers(&listed, opts.settle, &opts.limits, concurrency),
    )
    .await;
    for ((merge, (i, m)), result) in merges.iter().zip(merge_of).zip(merge_results) {
        let Some(slot) = out.get_mut(i) else { continue };
        let Ok(done) = slot else { continue };
        let outcome = match result {
            Ok(AttachOutcome::AlreadyPresent) => ManifestOutcome::Present,
            Ok(AttachOutcome::Added) if merge.merged.load(Ordering::Relaxed) => {
                ManifestOutcome::Merged
            }
            Ok(AttachOutcome::Added) => ManifestOutcome::Written,
            Err(e) => {
                *slot = Err(dst_err(merge.target, merge.tag.clone())(e));
                continue;
            }
        };
        let record = ManifestRecord {
            digest: m.fetched.digest,
            media_type: m.media_type.clone(),
            role: m.role.clone(),
            subject: m.subject,
            tag: Some(merge.tag.clone()),
            artifact_type: None,
            outcome,
        };
        progress.manifest_done(&record);
        done.attachments.push(record);
    }
    for ((item, (i, m)), result) in listed.iter().zip(listed_of).zip(listed_results) {
        let Some(slot) = out.get_mut(i) else { continue };
        let Ok(done) = slot else { continue };
        let outcome = match result {
            Ok(AttachOutcome::AlreadyPresent) => ManifestOutcome::Present,
            Ok(AttachOutcome::Added) => ManifestOutcome::Written,
            Err(e) => {
                *slot = Err(dst_err(
                    item.target,
                    format!("referrer {}", m.fetched.digest),
                )(e));
                continue;
            }
        };
        let record = referrer_record(m, outcome);
        progress.manifest_done(&record);
        done.referrers.push(record);
    }
    out
}

/// A `.sig`/`.att`/`.sbom` manifest of the source into the destination's tag: written as it is
/// when the tag is absent, else the source's missing layers added to the destination's.
pub(super) struct AttachmentMerge<'a> {
    target: &'a Target,
    tag: String,
    kind: Attachment,
    source: &'a FetchedManifest,
    media_type: &'static str,
    layers: &'a [Descriptor],
    merged: AtomicBool,
}

pub(super) fn same_layer(a: &Descriptor, b: &Descriptor) -> bool {
    a.digest == b.digest && a.annotations == b.annotations && a.media_type == b.media_type
}

impl AttachmentMerge<'_> {
    fn current_layers(
        &self,
        current: &FetchedManifest,
        limits: &OciLimits,
    ) -> Result<Vec<Descriptor>, OciError> {
        let reject = |reason: String| OciError::Manifest {
            what: format!("{} in {}", self.tag, self.target.describe()),
            error: vouch_core::payload::PayloadError::Field {
                what: "manifest",
                field: "mediaType",
                reason,
            },
        };
        match Manifest::parse(&current.bytes, Some(&current.media_type)) {
            Ok(Manifest::Image(m)) if m.layers.len() <= limits.layers => Ok(m.layers),
            Ok(Manifest::Image(m)) => Err(OciError::TooLarge {
                what: format!("{} ({} layers)", self.tag, m.layers.len()),
                limit: limits.layers as u64,
            }),
            Ok(Manifest::Index(_)) => Err(reject(
                "expected a cosign image manifest, found an image index; not overwriting it".into(),
            )),
            Err(e) => Err(reject(e.to_string())),
        }
    }
}

impl TagUpdate for AttachmentMerge<'_> {
    fn target(&self) -> &Target {
        self.target
    }

    fn tag(&self) -> String {
        self.tag.clone()
    }

    fn layout_kind(&self) -> Option<&'static str> {
        self.kind.layout_kind()
    }

    fn blobs(&self) -> Vec<Bytes> {
        Vec::new() // copied beforehand, streamed
    }

    fn merge(
        &self,
        current: Option<&FetchedManifest>,
        limits: &OciLimits,
    ) -> Result<Option<Merged>, OciError> {
        let Some(current) = current else {
            return Ok(Some(Merged {
                document: self.source.bytes.clone(),
                media_type: self.media_type,
                blobs: Vec::new(),
            }));
        };
        if current.digest == self.source.digest {
            return Ok(None);
        }
        let mut layers = self.current_layers(current, limits)?;
        let missing: Vec<Descriptor> = self
            .layers
            .iter()
            .filter(|l| !layers.iter().any(|c| same_layer(c, l)))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        layers.extend(missing);
        if layers.len() > limits.layers {
            return Err(OciError::TooLarge {
                what: format!("{} would have {} layers", self.tag, layers.len()),
                limit: limits.layers as u64,
            });
        }
        self.merged.store(true, Ordering::Relaxed);
        let (config, manifest) = build_manifest(&layers);
        Ok(Some(Merged {
            document: manifest,
            media_type: OCI_MANIFEST,
            blobs: vec![config],
        }))
    }

    fn holds(&self, current: &FetchedManifest, limits: &OciLimits) -> bool {
        current.digest == self.source.digest
            || self.current_layers(current, limits).is_ok_and(|have| {
                self.layers
                    .iter()
                    .all(|l| have.iter().any(|c| same_layer(c, l)))
            })
    }
}
