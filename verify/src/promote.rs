//! Promotion: resolve a source once, judge that digest by a policy, and only if it is admitted
//! copy exactly that digest (with everything attached to it) to a destination, tagging it last;
//! then, optionally, attach a signed promotion record.
//!
//! The same calls serve `vouch promote` and any program embedding vouch (an admission webhook):
//! [`judge`] → [`Judged::admission`] → [`copy::copy_images`] / [`plan`] → [`record::attach`],
//! or for many pairs at once [`promote_all`] ([`judge_all`] then [`complete`]).
//! The copy engine takes only an [`Admission`], which only an allowed evaluation builds.

mod batch;
pub mod copy;
pub mod record;

use std::sync::Arc;

use vouch_core::cosign::SettleOptions;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::layout::{Layout, canonical_dir};
use vouch_core::oci::reference::{ImageRef, LayoutRef, RegistryRef};
use vouch_core::oci::registry::{Access, RegistryClient};
use vouch_core::oci::{OciError, OciLimits, ResolvedImage, Target, resolve};
use vouch_core::{Classify, ErrorClass};

use crate::VerifyError;
use crate::policy::{Admission, Decision, ImageSource, Policy, admit};

pub use batch::{
    BatchOptions, PROMOTIONS_AT_ONCE, Promoted, Promotion, StepError, complete, judge_all,
    promote_all,
};
pub use copy::{CopyError, CopyJob, CopyOptions, CopyPlan, CopyProgress, CopyReport, NoProgress};

/// Why a promotion step failed (a denial is no error: see [`Decision::Denied`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromoteError {
    /// The source could not be resolved.
    #[error("source {reference}: {error}")]
    Source {
        /// The source as given.
        reference: String,
        /// Why.
        error: Box<OciError>,
    },
    /// The destination could not be opened or named.
    #[error("destination {reference}: {error}")]
    Destination {
        /// The destination as given.
        reference: String,
        /// Why.
        error: Box<OciError>,
    },
    /// The destination names a digest other than the source's.
    #[error(
        "the destination names {named}, but the source is {source_digest}: give the destination a tag or no reference"
    )]
    DigestMismatch {
        /// The destination's digest.
        named: Sha256Digest,
        /// The source's digest.
        source_digest: Sha256Digest,
    },
    /// The policy could not be evaluated.
    #[error("source {reference}: {error}")]
    Judge {
        /// The source as given.
        reference: String,
        /// Why.
        error: Box<VerifyError>,
    },
}

impl Classify for PromoteError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Source { error, .. } | Self::Destination { error, .. } => error.class(),
            Self::DigestMismatch { .. } => ErrorClass::Input,
            Self::Judge { error, .. } => error.class(),
        }
    }
}

/// The name a policy's patterns are matched against: the canonical `HOST/REPO`, or for a layout
/// `oci:` and its canonical path ([`canonical_dir`]: `oci:/media/usb/../x` is judged as what it
/// is; a layout that does not exist yet, a promotion's destination, as the place it will be
/// written to). The one naming rule of `verify --policy`, `promote` and embedders.
pub fn policy_name(image: &ImageRef) -> Result<String, OciError> {
    Ok(match image {
        ImageRef::Registry(r) => r.name(),
        ImageRef::Layout(l) => format!("oci:{}", canonical_dir(&l.dir)?.display()),
    })
}

/// The destination in the one form that is both judged and written: a layout's directory is its
/// canonical path, so `oci:/x/staging/../prod/app` or a symlinked folder is judged under the
/// name of the folder the image lands in, and the writer opens exactly that path.
pub fn canonical_destination(dst: &ImageRef) -> Result<ImageRef, PromoteError> {
    Ok(match dst {
        ImageRef::Layout(l) => ImageRef::Layout(LayoutRef {
            dir: canonical_dir(&l.dir).map_err(|source| PromoteError::Destination {
                reference: dst.to_string(),
                error: Box::new(source),
            })?,
            ..l.clone()
        }),
        ImageRef::Registry(_) => dst.clone(),
    })
}

/// The name a canonical destination is judged under (no second resolution of the path).
fn judged_name(dst: &ImageRef) -> String {
    match dst {
        ImageRef::Registry(r) => r.name(),
        ImageRef::Layout(l) => format!("oci:{}", l.dir.display()),
    }
}

/// Where an image's `.sig`/`.att`/`.sbom` tags live: beside it, or for a registry image in
/// `repository` when one is given (`COSIGN_REPOSITORY`).
pub fn attachment_target(
    target: &Target,
    client: &Arc<RegistryClient>,
    repository: Option<&RegistryRef>,
) -> Target {
    match (target, repository) {
        (Target::Registry { .. }, Some(r)) => Target::registry(client.clone(), r),
        _ => target.clone(),
    }
}

/// What every step of a promotion shares.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The policy to judge by.
    pub policy: &'a Policy,
    /// The registry client.
    pub client: Arc<RegistryClient>,
    /// Caps on what is read.
    pub limits: OciLimits,
    /// The evaluation time (Unix seconds).
    pub now: i64,
    /// Where `.sig`/`.att`/`.sbom` tags live when not beside the images.
    pub attachments: Option<RegistryRef>,
    /// The no-lost-write protocol's waits.
    pub settle: SettleOptions,
    /// Blobs copied at once.
    pub concurrency: usize,
}

impl Context<'_> {
    fn attachments_of(&self, target: &Target) -> Target {
        attachment_target(target, &self.client, self.attachments.as_ref())
    }

    /// Copy options for these images.
    pub fn copy_options(&self) -> CopyOptions {
        CopyOptions {
            limits: self.limits,
            settle: self.settle,
            concurrency: self.concurrency,
            ..CopyOptions::default()
        }
    }
}

/// A source resolved once and judged, for one destination.
#[derive(Debug)]
pub struct Judged {
    /// The source, resolved: from here on only its digest.
    pub source: ResolvedImage,
    /// The destination (canonical, see [`canonical_destination`]).
    pub destination: ImageRef,
    /// The policy's decision about the source digest under the destination's name.
    pub decision: Decision,
}

impl Judged {
    /// The admission, when the policy allowed the image.
    pub fn admission(&self) -> Option<&Admission> {
        self.decision.admission()
    }
}

/// Resolves `src` once and judges that digest under the name it will have at `dst` (the gate
/// guards what enters the destination, as an admission controller guards what runs there).
pub async fn judge(
    src: &ImageRef,
    dst: &ImageRef,
    cx: &Context<'_>,
) -> Result<Judged, PromoteError> {
    let destination = canonical_destination(dst)?;
    let resolved = resolve(src, &cx.client, Access::Pull, &cx.limits)
        .await
        .map_err(|source| PromoteError::Source {
            reference: src.to_string(),
            error: Box::new(source),
        })?;
    let digest = resolved.digest;
    let named = match &destination {
        ImageRef::Registry(r) => r.digest,
        ImageRef::Layout(l) => l.digest,
    };
    if let Some(d) = named
        && d != digest
    {
        return Err(PromoteError::DigestMismatch {
            named: d,
            source_digest: digest,
        });
    }
    let attachments = cx.attachments_of(&resolved.target);
    // One listing of the attachment tags' repository instead of a probe of each of `.sig`
    // (the gate), `.att` and `.sbom` (the copy) when they are absent (inside the promotion's
    // scope of remembered reads; elsewhere nothing).
    attachments.remember_tags().await;
    let image = ImageSource {
        name: judged_name(&destination),
        digest,
        attachments: &attachments,
        referrers: &resolved.target,
    };
    let decision = admit(cx.policy, &image, cx.now, &cx.limits)
        .await
        .map_err(|source| PromoteError::Judge {
            reference: src.to_string(),
            error: Box::new(source),
        })?;
    Ok(Judged {
        source: resolved,
        destination,
        decision,
    })
}

/// Where to write `dst`, and the tag to write last.
pub fn destination(
    dst: &ImageRef,
    client: &Arc<RegistryClient>,
) -> Result<(Target, Option<String>), PromoteError> {
    Ok(match dst {
        ImageRef::Registry(r) => (Target::registry(client.clone(), r), r.tag.clone()),
        ImageRef::Layout(l) => (
            Target::Layout(Layout::open_or_create(&l.dir).map_err(|source| {
                PromoteError::Destination {
                    reference: dst.to_string(),
                    error: Box::new(source),
                }
            })?),
            l.tag.clone(),
        ),
    })
}

/// The copy job of an admitted image.
pub fn job<'a>(
    judged: &Judged,
    admission: &'a Admission,
    cx: &Context<'_>,
) -> Result<CopyJob<'a>, PromoteError> {
    let (destination, tag) = destination(&judged.destination, &cx.client)?;
    Ok(CopyJob {
        source: judged.source.target.clone(),
        admission,
        source_attachments: Some(cx.attachments_of(&judged.source.target)),
        destination_attachments: Some(cx.attachments_of(&destination)),
        destination,
        tag,
        manifest: Some(judged.source.manifest.clone()),
    })
}

/// What the copy of an admitted image would read and write (`--dry-run`): writes nothing.
pub async fn plan(
    judged: &Judged,
    admission: &Admission,
    cx: &Context<'_>,
) -> Result<CopyPlan, CopyError> {
    let opts = CopyOptions {
        source_attachments: Some(cx.attachments_of(&judged.source.target)),
        ..cx.copy_options()
    };
    copy::plan_copy(&judged.source.target, admission, &opts).await
}
