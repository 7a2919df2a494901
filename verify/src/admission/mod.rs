//! Kubernetes admission (`vouch serve`): the same policy as `vouch verify --policy` and
//! `vouch promote`, applied to the images of Pods and workloads as the API server creates them.
//!
//! - [`review`]: `admission.k8s.io/v1` AdmissionReview in, response out (`/validate`,
//!   `/mutate`).
//! - [`imagepolicy`]: `imagepolicy.k8s.io/v1alpha1` ImageReview (`/imagepolicy`).
//! - [`patch`]: the JSONPatch pinning images to the digests judged.
//! - [`judge`]: names → digests → verdicts, cached, shared, under a deadline.
//! - [`metrics`], [`server`]: the HTTPS service.

pub mod imagepolicy;
pub mod judge;
pub mod metrics;
pub mod patch;
pub mod review;
pub mod server;

pub use judge::{FailureMode, ImageVerdict, Judge, JudgeOptions};

/// A review that cannot be judged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdmissionError {
    /// Not the review expected, or a field missing or of the wrong type.
    #[error("malformed review: {0}")]
    Malformed(String),
    /// Larger than the limit.
    #[error("the review is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// More images than the limit.
    #[error("the object has more than {limit} images")]
    TooManyImages {
        /// The limit.
        limit: usize,
    },
    /// A kind with no pod spec vouch knows of.
    #[error(
        "vouch judges Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers and PodTemplates, not `{0}`: remove it from the webhook's rules"
    )]
    UnsupportedKind(String),
}
