//! What the destination holds already, learnt with one request per manifest instead of one per
//! blob: a registry stores a manifest only once every blob it names is stored (and vouch writes
//! them in that order), so a manifest present means its blobs are, and a manifest absent means
//! its small blobs are cheaper sent than asked about.

use super::*;

/// How one blob is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlobMode {
    /// The destination holds a manifest naming it: nothing to do, no request.
    Present,
    /// Ask the destination first (`HEAD`), send only if absent.
    Check,
    /// Small (or mountable), and the manifest naming it is absent: send (or mount) it without
    /// asking.
    Send,
}

impl BlobMode {
    /// The mode of a blob needed by two copies of a batch (same repositories): known present
    /// by either wins; else asking first wins over sending blindly.
    pub(super) fn combine(self, other: Self) -> Self {
        match (self, other) {
            (Self::Present, _) | (_, Self::Present) => Self::Present,
            (Self::Check, _) | (_, Self::Check) => Self::Check,
            _ => Self::Send,
        }
    }
}

/// What one copy's destination was found to hold before writing.
#[derive(Debug, Default)]
pub(super) struct Known {
    /// Whether the destination holds the image's root manifest; `None`: could not tell (every
    /// blob is then asked about, as without a probe).
    pub(super) root: Option<bool>,
    /// The root is an index.
    index: bool,
    /// The destination's referrers of each subject of the plan's referrers; `None`: not read
    /// (then [`store_referrers`] reads them, and reports any error).
    pub(super) referrers: Option<HashMap<Sha256Digest, HashSet<Sha256Digest>>>,
    /// Referrer blobs known stored at the destination.
    present: HashSet<Sha256Digest>,
    /// Referrer blobs whose referrer the destination lacks.
    absent: HashSet<Sha256Digest>,
}

impl Known {
    /// How to copy `desc`, needed by `lane` of this copy; `mountable`: the destination can
    /// mount it from the source (same registry), one request whatever its size; `beside`: the
    /// destination's attachment tags are in the image's repository.
    pub(super) fn mode(
        &self,
        side: Side,
        lane: Lane,
        desc: &Descriptor,
        mountable: bool,
        beside: bool,
    ) -> BlobMode {
        let small = desc.size <= SMALL_BLOB || mountable;
        match lane {
            Lane::Image => match self.root {
                // An image manifest stored means its blobs are; an index stored says nothing
                // of its children's blobs (another tool may have copied some platforms only).
                Some(true) if !self.index => BlobMode::Present,
                Some(false) if small => BlobMode::Send,
                _ => BlobMode::Check,
            },
            // Referrers live beside the image (`Side::Image`); the `.sig`/`.att`/`.sbom` blobs
            // are asked about where the destination has the image (their tag may hold a merge
            // of them), or where their tag lives in another repository (another copy may have
            // written it). Beside an image the destination lacks, small ones are sent without
            // asking (sent again, at worst, where a copy that failed midway left them).
            Lane::Attached if side == Side::Image && self.present.contains(&desc.digest) => {
                BlobMode::Present
            }
            Lane::Attached
                if side == Side::Image && small && self.absent.contains(&desc.digest) =>
            {
                BlobMode::Send
            }
            Lane::Attached if beside && small && self.root == Some(false) => BlobMode::Send,
            Lane::Attached => BlobMode::Check,
        }
    }
}

/// One `HEAD` of the image's root manifest at the destination and, when the plan has
/// referrers and the destination has the image, the destination's list of them (which
/// [`store_referrers`] needs anyway; a destination without the image is taken to have none of
/// them, see below). Errors
/// leave the answer unknown: the copy then asks as it would without the probe, and reports
/// the error where it would have.
pub(super) async fn probe(c: &CopyTo<'_>, _dst_attachments: &Target, opts: &CopyOptions) -> Known {
    let plan = c.plan;
    let dst = c.destination;
    let limits = &opts.limits;
    let root = dst.has_manifest(&plan.digest, Access::Push);
    let listing = async {
        if plan.referrers.is_empty() {
            return None;
        }
        let subjects: HashSet<Sha256Digest> =
            plan.referrers.iter().filter_map(|m| m.subject).collect();
        let listed: Result<HashMap<Sha256Digest, HashSet<Sha256Digest>>, OciError> =
            stream::iter(subjects)
                .map(|subject| async move {
                    let list = dst
                        .referrers(&subject, None, Access::Push, limits.manifest)
                        .await?;
                    Ok::<_, OciError>((subject, list.into_iter().map(|d| d.digest).collect()))
                })
                .buffered(opts.concurrency.max(1))
                .try_collect()
                .await;
        listed.ok()
    };
    // A destination without the image is taken to lack its referrers too, without asking:
    // they are stored again by digest (a registry takes a manifest it has again) and listed by
    // the fallback index update, which reads the index itself and keeps what it holds. One
    // request less per image where the image is new, the common case of a promotion.
    let root = root.await;
    let referrers = match root {
        Ok(false) if !plan.referrers.is_empty() => Some(HashMap::new()),
        _ => listing.await,
    };
    let mut known = Known {
        root: root.ok(),
        index: plan.images.len() > 1
            || plan
                .images
                .first()
                .is_some_and(|m| m.role == ManifestRole::Index),
        referrers,
        ..Known::default()
    };
    if let Some(listed) = &known.referrers {
        for m in &plan.referrers {
            let Some(subject) = m.subject else { continue };
            let Ok(Manifest::Image(i)) = Manifest::parse(&m.fetched.bytes, Some(&m.media_type))
            else {
                continue;
            };
            let stored = listed
                .get(&subject)
                .is_some_and(|l| l.contains(&m.fetched.digest));
            let set = if stored {
                &mut known.present
            } else {
                &mut known.absent
            };
            set.extend(plan::image_blobs(&i).map(|d| d.digest));
        }
        // A blob named by a stored referrer and by one not stored is stored.
        let present = &known.present;
        known.absent.retain(|d| !present.contains(d));
    }
    known
}
