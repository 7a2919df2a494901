//! Many promotions at once (`vouch promote SRC1 DST1 SRC2 DST2 …`): every source resolved once
//! and judged ([`judge_all`]), then the admitted ones planned (dry run) or copied in one batch
//! and their records attached ([`complete`]); [`promote_all`] does both. Each pair keeps its own
//! outcome: one failing pair does not stop the others, and a denied image never reaches the
//! copy engine.

use futures_util::stream::{self, StreamExt};
use vouch_core::cosign::AttachOutcome;
use vouch_core::oci::reference::ImageRef;
use vouch_core::sign::AsyncSigner;
use vouch_core::{Classify, ErrorClass};

use super::copy::{CopyError, CopyPlan, CopyProgress, CopyReport, copy_images};
use super::record::{self, RecordError};
use super::{Context, Judged, PromoteError, job, judge, plan};

/// Sources resolved and judged (and plans made, records attached) at once.
pub const PROMOTIONS_AT_ONCE: usize = 32;

/// One SRC → DST pair of a batch, and how far it got.
#[derive(Debug)]
pub struct Promotion {
    /// The source, as given.
    pub source: ImageRef,
    /// The destination, as given (see [`super::canonical_destination`]).
    pub destination: ImageRef,
    /// What was done, or the step that failed.
    pub result: Result<Promoted, StepError>,
}

/// What was done for one pair: judged always; planned (dry run) or copied and recorded when
/// the image was admitted.
#[derive(Debug)]
pub struct Promoted {
    /// The source resolved and the policy's decision.
    pub judged: Judged,
    /// What the copy would read and write (dry run only).
    pub plan: Option<CopyPlan>,
    /// What the copy did.
    pub copy: Option<CopyReport>,
    /// The promotion record attached: the referrer's name and whether it was new.
    pub record: Option<(String, AttachOutcome)>,
}

impl Promoted {
    /// Whether the policy admitted the image.
    pub fn admitted(&self) -> bool {
        self.judged.admission().is_some()
    }
}

/// The step of a promotion that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// Resolving or judging the source.
    #[error(transparent)]
    Judge(PromoteError),
    /// Planning the copy (dry run).
    #[error(transparent)]
    Plan(CopyError),
    /// Opening the destination.
    #[error(transparent)]
    Destination(PromoteError),
    /// Copying.
    #[error(transparent)]
    Copy(CopyError),
    /// Attaching the promotion record.
    #[error(transparent)]
    Record(RecordError),
}

impl Classify for StepError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Judge(e) | Self::Destination(e) => e.class(),
            Self::Plan(e) | Self::Copy(e) => e.class(),
            Self::Record(e) => e.class(),
        }
    }
}

/// What to do with the admitted images.
#[derive(Clone, Copy, Default)]
pub struct BatchOptions<'a> {
    /// Plan only: read the sources, write nothing.
    pub dry_run: bool,
    /// Sign a promotion record with this signer and attach it to each promoted image (not in
    /// a dry run).
    pub signer: Option<&'a dyn AsyncSigner>,
}

impl std::fmt::Debug for BatchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("dry_run", &self.dry_run)
            .field("signer", &self.signer.map(|_| "…"))
            .finish()
    }
}

/// Resolves every source once and judges it for its destination, [`PROMOTIONS_AT_ONCE`] at a
/// time; the promotions in the order of `pairs`.
pub async fn judge_all(pairs: &[(ImageRef, ImageRef)], cx: &Context<'_>) -> Vec<Promotion> {
    stream::iter(pairs)
        .map(|(src, dst)| async move {
            let result = judge(src, dst, cx)
                .await
                .map(|judged| Promoted {
                    judged,
                    plan: None,
                    copy: None,
                    record: None,
                })
                .map_err(StepError::Judge);
            Promotion {
                source: src.clone(),
                destination: dst.clone(),
                result,
            }
        })
        .buffered(PROMOTIONS_AT_ONCE)
        .collect()
        .await
}

/// Completes judged promotions: for the admitted ones, the plan (dry run), or the copy — all
/// in one batch, exactly the digests judged, every destination tag last — and then the
/// promotion record. Denied and failed ones are left as they are.
pub async fn complete(
    promotions: &mut [Promotion],
    opts: BatchOptions<'_>,
    cx: &Context<'_>,
    progress: &dyn CopyProgress,
) {
    if opts.dry_run {
        let plans: Vec<Option<Result<CopyPlan, CopyError>>> = stream::iter(promotions.iter())
            .map(|p| async move {
                let j = &p.result.as_ref().ok()?.judged;
                Some(plan(j, j.admission()?, cx).await)
            })
            .buffered(PROMOTIONS_AT_ONCE)
            .collect()
            .await;
        for (p, planned) in promotions.iter_mut().zip(plans) {
            match planned {
                Some(Ok(plan)) => {
                    if let Ok(done) = &mut p.result {
                        done.plan = Some(plan);
                    }
                }
                Some(Err(e)) => p.result = Err(StepError::Plan(e)),
                None => {}
            }
        }
        return;
    }
    // The copy jobs of the admitted images; the jobs borrow the admissions, so the outcomes
    // are gathered first and stored after.
    let mut jobs = Vec::new();
    let mut job_of = Vec::new();
    let mut failed: Vec<(usize, StepError)> = Vec::new();
    for (i, p) in promotions.iter().enumerate() {
        let Ok(done) = &p.result else { continue };
        let Some(admission) = done.judged.admission() else {
            continue;
        };
        match job(&done.judged, admission, cx) {
            Ok(job) => {
                jobs.push(job);
                job_of.push(i);
            }
            Err(e) => failed.push((i, StepError::Destination(e))),
        }
    }
    let reports = copy_images(&jobs, &cx.copy_options(), progress).await;
    drop(jobs);
    for (i, report) in job_of.into_iter().zip(reports) {
        match report {
            Ok(report) => {
                if let Some(Ok(done)) = promotions.get_mut(i).map(|p| &mut p.result) {
                    done.copy = Some(report);
                }
            }
            Err(e) => failed.push((i, StepError::Copy(e))),
        }
    }
    for (i, e) in failed {
        if let Some(p) = promotions.get_mut(i) {
            p.result = Err(e);
        }
    }
    let Some(signer) = opts.signer else {
        return;
    };
    let records: Vec<Option<Result<(String, AttachOutcome), RecordError>>> =
        stream::iter(promotions.iter())
            .map(|p| async move {
                let done = p.result.as_ref().ok()?;
                let admission = done.judged.admission()?;
                done.copy.as_ref()?;
                let j = &done.judged;
                Some(record::attach(signer, &j.source, &j.destination, admission, cx).await)
            })
            .buffered(PROMOTIONS_AT_ONCE)
            .collect()
            .await;
    for (p, r) in promotions.iter_mut().zip(records) {
        match r {
            Some(Ok(record)) => {
                if let Ok(done) = &mut p.result {
                    done.record = Some(record);
                }
            }
            Some(Err(e)) => p.result = Err(StepError::Record(e)),
            None => {}
        }
    }
}

/// [`judge_all`] then [`complete`]: promotes every pair whose source the policy admits. What
/// the gate read of each source is not read again by the copy
/// ([`vouch_core::oci::remember_reads`]; callers of the two steps apart can do the same).
pub async fn promote_all(
    pairs: &[(ImageRef, ImageRef)],
    opts: BatchOptions<'_>,
    cx: &Context<'_>,
    progress: &dyn CopyProgress,
) -> Vec<Promotion> {
    vouch_core::oci::remember_reads(async {
        let mut promotions = judge_all(pairs, cx).await;
        complete(&mut promotions, opts, cx, progress).await;
        promotions
    })
    .await
}
