//! Step 1 of a copy: reading the source (the image tree, its attachments and referrers) into a
//! [`CopyPlan`]; nothing is written.

use super::*;

pub(super) fn parse(
    target: &Target,
    m: &FetchedManifest,
    what: &str,
) -> Result<Manifest, CopyError> {
    Manifest::parse(&m.bytes, Some(&m.media_type)).map_err(|e| CopyError::Manifest {
        target: target.describe(),
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

/// The media type to write `m` with.
pub(super) fn media_type_of(m: &FetchedManifest, parsed: &Manifest, hint: Option<&str>) -> String {
    if !m.media_type.is_empty() {
        return m.media_type.clone();
    }
    if let Some(h) = hint.filter(|h| !h.is_empty()) {
        return h.to_owned();
    }
    let declared = match parsed {
        Manifest::Image(i) => i.media_type.clone(),
        Manifest::Index(i) => i.media_type.clone(),
    };
    declared.unwrap_or_else(|| match parsed {
        Manifest::Image(_) => OCI_MANIFEST.to_owned(),
        Manifest::Index(_) => OCI_INDEX.to_owned(),
    })
}

pub(super) fn image_blobs(m: &ImageManifest) -> impl Iterator<Item = Descriptor> + '_ {
    std::iter::once(m.config.clone()).chain(m.layers.iter().cloned())
}

/// Reads from `src` everything the copy of the admitted digest needs: the image tree, its
/// attachments and referrers (with `opts.attachments`), every manifest checked against its
/// digest. Writes nothing. Only an [`Admission`] (an allowed policy evaluation) can be
/// planned, and only a plan can be written: a denied image never reaches the writer.
pub async fn plan_copy(
    src: &Target,
    admission: &Admission,
    opts: &CopyOptions,
) -> Result<CopyPlan, CopyError> {
    plan_digest(src, admission.digest(), None, opts).await
}

/// [`plan_copy`] of any digest (only this crate's tests pass one not admitted), given the
/// root manifest when the caller read it already (by digest, when resolving the source): then
/// it is not read again.
pub(crate) async fn plan_digest(
    src: &Target,
    digest: &Sha256Digest,
    root: Option<&FetchedManifest>,
    opts: &CopyOptions,
) -> Result<CopyPlan, CopyError> {
    let limits = &opts.limits;
    let concurrency = opts.concurrency.max(1);
    let mut images: Vec<PlannedManifest> = Vec::new();
    let mut warnings = Vec::new();
    let mut blobs: Vec<(Side, Lane, Descriptor)> = Vec::new();

    // The image tree, level by level.
    let mut level: Vec<(Sha256Digest, Option<String>)> = vec![(*digest, None)];
    let mut seen: HashSet<Sha256Digest> = HashSet::from([*digest]);
    for depth in 0..=MAX_INDEX_DEPTH {
        if level.is_empty() {
            break;
        }
        let fetched: Vec<(FetchedManifest, Option<String>)> = stream::iter(level.drain(..))
            .map(|(d, hint)| async move {
                let what = if depth == 0 {
                    format!("image {d}")
                } else {
                    format!("platform manifest {d}")
                };
                if let Some(m) =
                    root.filter(|m| depth == 0 && m.digest == d && Sha256Digest::of(&m.bytes) == d)
                {
                    return Ok((m.clone(), hint));
                }
                let m = src
                    .manifest(ManifestRef::Digest(&d), Access::Pull, limits.manifest)
                    .await
                    .map_err(src_err(src, what.clone()))?
                    .ok_or_else(|| CopyError::NotFound {
                        target: src.describe(),
                        what,
                    })?;
                Ok::<_, CopyError>((m, hint))
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        for (m, hint) in fetched {
            let parsed = parse(src, &m, &format!("manifest {}", m.digest))?;
            let media_type = media_type_of(&m, &parsed, hint.as_deref());
            let role = match (&parsed, depth) {
                (_, d) if d > 0 => ManifestRole::Platform,
                (Manifest::Image(_), _) => ManifestRole::Image,
                (Manifest::Index(_), _) => ManifestRole::Index,
            };
            match &parsed {
                Manifest::Image(i) => {
                    blobs.extend(image_blobs(i).map(|d| (Side::Image, Lane::Image, d)));
                }
                Manifest::Index(i) => {
                    if depth == MAX_INDEX_DEPTH {
                        return Err(CopyError::Manifest {
                            target: src.describe(),
                            what: format!("index {}", m.digest),
                            reason: format!(
                                "indexes nest more than {MAX_INDEX_DEPTH} levels deep; refused"
                            ),
                        });
                    }
                    for child in &i.manifests {
                        if seen.insert(child.digest) {
                            level.push((child.digest, Some(child.media_type.clone())));
                        }
                    }
                }
            }
            images.push(PlannedManifest {
                fetched: m,
                media_type,
                role,
                subject: None,
                depth,
                entry: None,
                attachment: None,
            });
        }
    }

    let source_attachments = opts
        .source_attachments
        .clone()
        .unwrap_or_else(|| src.clone());
    let att_side = if opts.source_attachments.is_some() || opts.destination_attachments.is_some() {
        Side::Attachments
    } else {
        Side::Image
    };
    let mut attachments = Vec::new();
    let mut referrers = Vec::new();
    if opts.attachments {
        let subjects: Vec<Sha256Digest> = images.iter().map(|m| m.fetched.digest).collect();
        // cosign's tags.
        let kinds = [
            Attachment::Signatures,
            Attachment::Attestations,
            Attachment::Sbom,
        ];
        let jobs: Vec<(Sha256Digest, Attachment)> = subjects
            .iter()
            .flat_map(|s| kinds.iter().map(move |k| (*s, *k)))
            .collect();
        let sat = &source_attachments;
        let found: Vec<Option<(Vec<Descriptor>, PlannedManifest)>> = stream::iter(jobs)
            .map(|(subject, kind)| async move {
                let tag = kind.tag(&subject);
                let Some(m) = sat
                    .manifest(ManifestRef::Tag(&tag), Access::Pull, limits.manifest)
                    .await
                    .map_err(src_err(sat, tag.clone()))?
                else {
                    return Ok(None);
                };
                let layers = match parse(sat, &m, &tag)? {
                    Manifest::Image(i) if i.layers.len() <= limits.layers => i,
                    Manifest::Image(i) => {
                        return Err(CopyError::Manifest {
                            target: sat.describe(),
                            what: tag,
                            reason: format!(
                                "{} layers, more than the limit of {}",
                                i.layers.len(),
                                limits.layers
                            ),
                        });
                    }
                    Manifest::Index(_) => {
                        return Err(CopyError::Manifest {
                            target: sat.describe(),
                            what: tag,
                            reason: "expected a cosign image manifest, found an image index".into(),
                        });
                    }
                };
                let blobs: Vec<Descriptor> = image_blobs(&layers).collect();
                let parsed = Manifest::Image(layers.clone());
                Ok::<_, CopyError>(Some((
                    blobs,
                    PlannedManifest {
                        media_type: media_type_of(&m, &parsed, None),
                        fetched: m,
                        role: match kind {
                            Attachment::Signatures => ManifestRole::Signatures,
                            Attachment::Attestations => ManifestRole::Attestations,
                            Attachment::Sbom => ManifestRole::Sbom,
                        },
                        subject: Some(subject),
                        depth: 0,
                        entry: None,
                        attachment: Some((kind, layers.layers.clone())),
                    },
                )))
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        for (b, m) in found.into_iter().flatten() {
            blobs.extend(b.into_iter().map(|d| (att_side, Lane::Attached, d)));
            attachments.push(m);
        }

        // Referrers, beside the image.
        let listed: Vec<(Sha256Digest, Vec<Descriptor>)> = stream::iter(subjects.iter().copied())
            .map(|subject| async move {
                let list = src
                    .referrers(&subject, None, Access::Pull, limits.manifest)
                    .await
                    .map_err(src_err(src, format!("referrers of {subject}")))?;
                if list.len() > limits.layers {
                    return Err(CopyError::Manifest {
                        target: src.describe(),
                        what: format!("referrers of {subject}"),
                        reason: format!(
                            "{} referrers, more than the limit of {}",
                            list.len(),
                            limits.layers
                        ),
                    });
                }
                Ok::<_, CopyError>((subject, list))
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        let wanted: Vec<(Sha256Digest, Descriptor)> = listed
            .into_iter()
            .flat_map(|(s, list)| list.into_iter().map(move |d| (s, d)))
            .collect();
        let fetched: Vec<(Sha256Digest, Descriptor, Option<FetchedManifest>)> =
            stream::iter(wanted)
                .map(|(subject, entry)| async move {
                    let m = src
                        .manifest(
                            ManifestRef::Digest(&entry.digest),
                            Access::Pull,
                            limits.manifest,
                        )
                        .await
                        .map_err(src_err(src, format!("referrer {}", entry.digest)))?;
                    Ok::<_, CopyError>((subject, entry, m))
                })
                .buffered(concurrency)
                .try_collect()
                .await?;
        for (subject, entry, m) in fetched {
            let Some(m) = m else {
                warnings.push(format!(
                    "referrer {} of {subject} is listed but not stored in {}: left out",
                    entry.digest,
                    src.describe()
                ));
                continue;
            };
            let parsed = parse(src, &m, &format!("referrer {}", entry.digest))?;
            let Manifest::Image(i) = &parsed else {
                warnings.push(format!(
                    "referrer {} of {subject} is an image index; vouch copies image-manifest \
                     referrers only: left out",
                    entry.digest
                ));
                continue;
            };
            if i.subject.as_ref().map(|s| s.digest) != Some(subject) {
                return Err(CopyError::Manifest {
                    target: src.describe(),
                    what: format!("referrer {}", entry.digest),
                    reason: format!(
                        "listed as a referrer of {subject}, but its subject is {}",
                        i.subject
                            .as_ref()
                            .map_or_else(|| "absent".to_owned(), |s| s.digest.to_string())
                    ),
                });
            }
            blobs.extend(image_blobs(i).map(|d| (Side::Image, Lane::Attached, d)));
            referrers.push(PlannedManifest {
                media_type: media_type_of(&m, &parsed, Some(&entry.media_type)),
                fetched: m,
                role: ManifestRole::Referrer,
                subject: Some(subject),
                depth: 0,
                entry: Some(entry),
                attachment: None,
            });
        }
    }

    // Each blob once per repository pair (the first descriptor seen wins; they name the same
    // bytes, and a size disagreement is caught when the blob is read).
    let mut unique = HashSet::new();
    blobs.retain(|(side, lane, d)| unique.insert((*side, *lane, d.digest)));

    Ok(CopyPlan {
        source: src.clone(),
        source_attachments,
        digest: *digest,
        images,
        attachments,
        referrers,
        blobs,
        warnings,
    })
}
