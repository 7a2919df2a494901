//! Referrers: stored by digest, and listed in the fallback index where the destination has no
//! referrers API.

use super::*;

pub(super) fn referrer_record(m: &PlannedManifest, outcome: ManifestOutcome) -> ManifestRecord {
    ManifestRecord {
        digest: m.fetched.digest,
        media_type: m.media_type.clone(),
        role: ManifestRole::Referrer,
        subject: m.subject,
        tag: None,
        artifact_type: m.entry.as_ref().and_then(|e| e.artifact_type.clone()),
        outcome,
    }
}

/// The referrers of a plan the destination does not list yet, stored by digest (their blobs
/// are there): returns the records of those listed already, and the others with their entry
/// for the fallback index.
pub(super) async fn store_referrers<'p>(
    plan: &'p CopyPlan,
    dst: &Target,
    listed: Option<&HashMap<Sha256Digest, HashSet<Sha256Digest>>>,
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Result<(Vec<ManifestRecord>, Vec<(&'p PlannedManifest, Descriptor)>), CopyError> {
    if plan.referrers.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let concurrency = opts.concurrency.max(1);
    // What the destination lists already, per subject.
    let subjects: Vec<Sha256Digest> = plan
        .referrers
        .iter()
        .filter_map(|m| m.subject)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let read;
    let listed = match listed {
        Some(listed) => listed,
        None => {
            read = read_listing(dst, subjects, opts).await?;
            &read
        }
    };

    let mut present = Vec::new();
    let mut missing = Vec::new();
    for m in &plan.referrers {
        let Some(subject) = m.subject else { continue };
        if listed
            .get(&subject)
            .is_some_and(|l| l.contains(&m.fetched.digest))
        {
            let record = referrer_record(m, ManifestOutcome::Present);
            progress.manifest_done(&record);
            present.push(record);
        } else {
            missing.push(m);
        }
    }
    let stored: Vec<(&PlannedManifest, Descriptor)> = stream::iter(missing)
        .map(|m| async move {
            dst.push_manifest_by_digest(m.fetched.bytes.clone(), &m.media_type)
                .await
                .map_err(dst_err(dst, format!("referrer {}", m.fetched.digest)))?;
            // The source's listing entry (artifact type, annotations), with the size of the
            // bytes we hold.
            let mut entry = m
                .entry
                .clone()
                .unwrap_or_else(|| Descriptor::of(&m.media_type, &m.fetched.bytes));
            entry.digest = m.fetched.digest;
            entry.size = m.fetched.bytes.len() as u64;
            entry.media_type.clone_from(&m.media_type);
            Ok::<_, CopyError>((m, entry))
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok((present, stored))
}

/// The destination's referrers of each subject.
async fn read_listing(
    dst: &Target,
    subjects: Vec<Sha256Digest>,
    opts: &CopyOptions,
) -> Result<HashMap<Sha256Digest, HashSet<Sha256Digest>>, CopyError> {
    let limits = &opts.limits;
    let concurrency = opts.concurrency.max(1);
    stream::iter(subjects)
        .map(|subject| async move {
            let list = dst
                .referrers(&subject, None, Access::Push, limits.manifest)
                .await
                .map_err(dst_err(dst, format!("referrers of {subject}")))?;
            Ok::<_, CopyError>((subject, list.into_iter().map(|d| d.digest).collect()))
        })
        .buffered(concurrency)
        .try_collect()
        .await
}
