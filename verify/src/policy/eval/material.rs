//! Fetching what is attached to the image's digest (`.sig`/`.att` layers, bundle referrers,
//! Notary Project signatures), each read checked against its digest; nothing here is verified.

use super::super::file::Block;
use super::super::tags::BatchTags;
use super::ImageSource;
use crate::VerifyError;
use crate::attached::LayerError;
use crate::attestation::{FetchedReferrer, ReferrerFilter, fetch_listed_referrers, is_type};
use crate::notary::NotaryReferrer;
use bytes::Bytes;
use futures_util::future;
use vouch_core::cosign::{Attachment, read_attached};
use vouch_core::digest::Sha256Digest;
use vouch_core::notary::envelope::{NotaryLimits, TargetDescriptor};
use vouch_core::oci::manifest::Descriptor;
use vouch_core::oci::registry::{Access, TagList};
use vouch_core::oci::{OciError, OciLimits, Target};
use vouch_core::referrers::{BUNDLE_ARTIFACT_TYPE, COSIGN_SIGN_PREDICATE};
use vouch_core::{Classify, ErrorClass};

/// Fetched but not yet verified.
pub(super) struct Material {
    /// `.sig` layers with their payloads, or why they could not be read.
    pub(super) sig_layers: Vec<(Descriptor, Result<Bytes, LayerError>)>,
    /// `.att` layers with their envelopes.
    pub(super) att_layers: Vec<(Descriptor, Result<Vec<u8>, LayerError>)>,
    /// Bundle referrers.
    pub(super) referrers: Vec<FetchedReferrer>,
    /// Problems with the tags or the listing themselves.
    pub(super) notes: Vec<String>,
    /// Notary Project signatures: the image's manifest as every signature must name it, and
    /// the signature referrers (read only when a `notation` authority asks for them).
    pub(super) notary: Option<NotaryMaterial>,
}

pub(super) struct NotaryMaterial {
    /// The image manifest's descriptor (media type, digest, size), or why it cannot be read.
    pub(super) subject: Result<TargetDescriptor, String>,
    pub(super) referrers: Vec<NotaryReferrer>,
}

/// Reads the image manifest (its media type and size are signed) and its Notary Project
/// signature referrers.
async fn fetch_notary(
    src: &ImageSource<'_>,
    listed: Vec<Descriptor>,
    limits: &OciLimits,
) -> Result<NotaryMaterial, VerifyError> {
    use vouch_core::oci::ManifestRef;
    let subject = match src
        .referrers
        .manifest(
            ManifestRef::Digest(&src.digest),
            Access::Pull,
            limits.manifest,
        )
        .await
    {
        Ok(Some(m)) => {
            let d = Descriptor::of(&m.media_type, &m.bytes);
            if d.digest == src.digest {
                Ok(TargetDescriptor {
                    media_type: d.media_type,
                    digest: d.digest.to_string(),
                    size: d.size,
                    annotations: Default::default(),
                })
            } else {
                Err(format!(
                    "the image manifest read has digest {}, not {}",
                    d.digest, src.digest
                ))
            }
        }
        Ok(None) => Err(format!("the image manifest {} is not found", src.digest)),
        Err(e) if e.class() == ErrorClass::Registry => return Err(e.into()),
        Err(e) => Err(format!("the image manifest {}: {e}", src.digest)),
    };
    let referrers = crate::notary::notary_referrers_listed(
        src.referrers,
        &src.digest,
        listed,
        limits,
        &NotaryLimits::DEFAULT,
    )
    .await?;
    Ok(NotaryMaterial { subject, referrers })
}

impl Material {
    pub(super) fn referrer_type(r: &FetchedReferrer) -> Option<&str> {
        r.desc
            .annotations
            .get(vouch_core::referrers::PREDICATE_TYPE_ANNOTATION)
            .map(String::as_str)
    }
}

async fn fetch_tag_layers<T, F, Fut>(
    target: &Target,
    image: &Sha256Digest,
    attachment: Attachment,
    known: Option<&TagList>,
    limits: &OciLimits,
    keep: impl Fn(&Descriptor) -> bool,
    fetch: F,
) -> Result<(Vec<(Descriptor, Result<T, LayerError>)>, Option<String>), VerifyError>
where
    F: Fn(Descriptor) -> Fut,
    Fut: std::future::Future<Output = Result<(Descriptor, Result<T, LayerError>), VerifyError>>,
{
    use futures_util::stream::{self, StreamExt};
    let tag = attachment.tag(image);
    // Listed for the batch, and not among the tags: there is no such tag.
    if known.is_some_and(|t| !t.may_have(&tag)) {
        return Ok((Vec::new(), None));
    }
    let manifest = match read_attached(target, &tag, Access::Pull, limits).await {
        Ok(Some((_, m))) => m,
        Ok(None) => return Ok((Vec::new(), None)),
        Err(e) if e.class() == ErrorClass::Registry => return Err(e.into()),
        Err(e @ (OciError::Manifest { .. } | OciError::TooLarge { .. })) => {
            return Ok((Vec::new(), Some(format!("tag {tag}: {e}"))));
        }
        Err(e) => return Err(e.into()),
    };
    let layers: Vec<_> = manifest.layers.into_iter().filter(|d| keep(d)).collect();
    let fetched: Vec<_> = stream::iter(layers).map(fetch).buffered(8).collect().await;
    Ok((fetched.into_iter().collect::<Result<Vec<_>, _>>()?, None))
}

pub(super) async fn fetch_material(
    src: &ImageSource<'_>,
    block: &Block,
    batch: Option<&BatchTags>,
    limits: &OciLimits,
) -> Result<Material, VerifyError> {
    // cosign signatures (`.sig`, bundle referrers) only for a rule with a cosign authority;
    // Notary Project signatures only for one with a `notation` authority.
    let want_sigs = block
        .signatures
        .as_ref()
        .is_some_and(|s| s.authorities.iter().any(|a| a.notation().is_none()));
    let mut types: Vec<&str> = block
        .attestations
        .iter()
        .map(|a| a.predicate_type.as_str())
        .collect();
    if block
        .attestations
        .iter()
        .any(|a| a.vulnerabilities.is_some())
    {
        types.push(vouch_core::predicate::OPENVEX);
        // The verified SBOMs' dependency graphs tie application products of VEX to the image.
        types.push(vouch_core::predicate::CYCLONEDX);
        types.push(vouch_core::predicate::SPDX);
    }
    let want_atts = !types.is_empty();
    let (att_tags, ref_tags) = match batch {
        Some(b) => {
            let a = b.of(src.attachments, &src.digest).await;
            let r = if src.referrers.describe() == src.attachments.describe() {
                a.clone()
            } else {
                b.of(src.referrers, &src.digest).await
            };
            (a, r)
        }
        None => (None, None),
    };
    let (att_tags, ref_tags) = (att_tags.as_deref(), ref_tags.as_deref());
    let image = &src.digest;
    let types_ref = &types;
    let wanted_type = move |t: Option<&String>| -> bool {
        t.is_none_or(|t| types_ref.iter().any(|w| is_type(t, w)))
    };
    let sigs = async {
        if !want_sigs {
            return Ok((Vec::new(), None));
        }
        fetch_tag_layers(
            src.attachments,
            image,
            Attachment::Signatures,
            att_tags,
            limits,
            |_| true,
            |d| async move {
                let r = crate::image::fetch_layer(src.attachments, &d, limits).await?;
                Ok((d, r))
            },
        )
        .await
    };
    let atts = async {
        if !want_atts {
            return Ok((Vec::new(), None));
        }
        fetch_tag_layers(
            src.attachments,
            image,
            Attachment::Attestations,
            att_tags,
            limits,
            |d| {
                wanted_type(
                    d.annotations
                        .get(crate::attestation::PREDICATE_TYPE_ANNOTATION),
                )
            },
            |d| async move {
                let r = crate::attestation::fetch_layer(src.attachments, &d, None, limits).await?;
                Ok((d, r))
            },
        )
        .await
    };
    let mut referrer_types: Vec<&str> = types.clone();
    if want_sigs {
        referrer_types.push(COSIGN_SIGN_PREDICATE);
    }
    let want_notary = block
        .signatures
        .as_ref()
        .is_some_and(|s| s.authorities.iter().any(|a| a.notation().is_some()));
    let want_bundles = !referrer_types.is_empty();
    // One listing of the image's referrers for bundles and Notary signatures alike: of every
    // artifact type when both are wanted (bundles kept by their artifact type here).
    let refs = async {
        if !want_bundles && !want_notary {
            return Ok((Ok(Vec::new()), None));
        }
        let referrer_types = &referrer_types;
        let listed = src
            .referrers
            .referrers_among(
                image,
                (!want_notary).then_some(BUNDLE_ARTIFACT_TYPE),
                Access::Pull,
                limits.manifest,
                ref_tags,
            )
            .await;
        let (bundles, notary) = match listed {
            Ok(all) if want_notary => {
                let bundles: Vec<Descriptor> = all
                    .iter()
                    .filter(|d| d.artifact_type.as_deref() == Some(BUNDLE_ARTIFACT_TYPE))
                    .cloned()
                    .collect();
                (Ok(bundles), Some(all))
            }
            Ok(bundles) => (Ok(bundles), None),
            // Notary signatures cannot be judged without their listing (as before: an error).
            Err(e) if want_notary => return Err(VerifyError::from(e)),
            Err(e) => (Err(e), None),
        };
        let notary = notary.map(|all| fetch_notary(src, all, limits));
        let bundles = async {
            if !want_bundles {
                return Ok(Ok(Vec::new()));
            }
            fetch_listed_referrers(
                src.referrers,
                image,
                bundles,
                ReferrerFilter::AnyOf(referrer_types),
                limits,
            )
            .await
        };
        let (bundles, notary) = future::join(bundles, async {
            match notary {
                Some(n) => n.await.map(Some),
                None => Ok(None),
            }
        })
        .await;
        Ok::<_, VerifyError>((bundles?, notary?))
    };
    let (sigs, atts, refs) = future::join3(sigs, atts, refs).await;
    let (refs, notary) = refs?;
    let (sig_layers, sig_note) = sigs?;
    let (att_layers, att_note) = atts?;
    let mut notes: Vec<String> = sig_note.into_iter().chain(att_note).collect();
    let referrers = match refs {
        Ok(r) => r,
        Err(f) => {
            notes.push(f.reason.to_string());
            Vec::new()
        }
    };
    Ok(Material {
        sig_layers,
        att_layers,
        referrers,
        notes,
        notary,
    })
}
