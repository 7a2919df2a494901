//! Admission: the only value that lets an image be copied or promoted.
//!
//! [`admit`] evaluates a policy and returns [`Decision::Allowed`] with an [`Admission`] only
//! when the verdict allows the image. An `Admission` has private fields and no public
//! constructor, `Deserialize` or `Default`: the copy engine ([`crate::promote::copy`]) and the
//! promotion ([`crate::promote`]) accept nothing else, so a denied image cannot reach them.

use vouch_core::digest::Sha256Digest;
use vouch_core::oci::OciLimits;

use super::eval::{ImageSource, Verdict, evaluate};
use super::file::Policy;
use crate::VerifyError;

/// An image the policy allowed: the digest judged, and the verdict that allowed it.
#[derive(Debug, Clone)]
pub struct Admission {
    digest: Sha256Digest,
    verdict: Verdict,
}

impl Admission {
    /// The digest judged and allowed: the one to copy, exactly.
    pub fn digest(&self) -> &Sha256Digest {
        &self.digest
    }

    /// The verdict that allowed it (every check, for the report and the promotion record).
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }
}

/// The outcome of [`admit`].
#[derive(Debug, Clone)]
pub enum Decision {
    /// The policy allows the image.
    Allowed(Admission),
    /// The policy denies it: the verdict says why.
    Denied(Verdict),
}

impl Decision {
    /// The verdict, either way.
    pub fn verdict(&self) -> &Verdict {
        match self {
            Self::Allowed(a) => &a.verdict,
            Self::Denied(v) => v,
        }
    }

    /// The admission, when allowed.
    pub fn admission(&self) -> Option<&Admission> {
        match self {
            Self::Allowed(a) => Some(a),
            Self::Denied(_) => None,
        }
    }
}

/// Judges `src` by `policy` (see [`evaluate`]); an allowed verdict becomes an [`Admission`].
pub async fn admit(
    policy: &Policy,
    src: &ImageSource<'_>,
    now: i64,
    limits: &OciLimits,
) -> Result<Decision, VerifyError> {
    let verdict = evaluate(policy, src, now, limits).await?;
    Ok(if verdict.allowed {
        Decision::Allowed(Admission {
            digest: src.digest,
            verdict,
        })
    } else {
        Decision::Denied(verdict)
    })
}
