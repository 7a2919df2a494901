//! Evaluating a policy for one image: the first block whose pattern matches the image's
//! `HOST/REPO` applies; everything attached to the digest is fetched once (each manifest and
//! blob checked against its digest), verified against the rules' authorities, and only what
//! verified reaches the conditions and the Rego module.

use std::collections::BTreeMap;

use serde::Serialize;
use vouch_core::cosign::Attachment;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::{OciLimits, Target};
use vouch_core::referrers::COSIGN_SIGN_PREDICATE;

use super::file::{AttestationRule, Policy, PolicyAuthority, SignatureRule};
use super::report::{Check, MAX_REJECTIONS_LISTED, Status, cap_details, codes};
use super::rules::{ImageContext, Mode};
use super::tags::BatchTags;
use crate::VerifyError;
use crate::attached::LayerError;
use crate::attestation::{VerifiedAttestation, is_type, root_for_keys};
use crate::image::VerifiedImageSignature;
use crate::notary::VerifiedNotarySignature;
use vouch_core::notary::envelope::NotaryLimits;

/// The image to judge: its name for matching, its digest, and where its attachments live.
#[derive(Debug)]
pub struct ImageSource<'a> {
    /// `HOST/REPO` with docker's defaults and Docker Hub as `docker.io`
    /// (`RegistryRef::name`), or `oci:DIR` for a layout: what `match` patterns are matched
    /// against.
    pub name: String,
    /// The digest to judge (resolved once by the caller).
    pub digest: Sha256Digest,
    /// Where the `.sig` / `.att` tags are (the image's repository, or `VOUCH_REPOSITORY`).
    pub attachments: &'a Target,
    /// The image's repository, for OCI 1.1 referrers (cosign 3 bundles).
    pub referrers: &'a Target,
}

/// The verdict for one image.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The image name matched.
    pub image: String,
    /// The digest judged: the one to deploy or promote.
    pub digest: String,
    /// Whether the policy allows it (no enforced check failed).
    pub allowed: bool,
    /// The block that applied: its pattern and line in the policy file.
    #[serde(rename = "match")]
    pub matched: Option<MatchedBlock>,
    /// Every check, in policy order.
    pub checks: Vec<Check>,
}

/// Which block of the policy applied.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedBlock {
    /// Its `match` pattern.
    pub pattern: String,
    /// Its line in the policy file.
    pub line: u32,
}

impl Verdict {
    /// The failed checks (enforced).
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }
    /// The reported-only failures.
    pub fn warnings(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Warn)
    }
}

mod material;
use material::{Material, fetch_material};

/// Caps a list of rejection reasons (see [`MAX_REJECTIONS_LISTED`]).
fn capped(v: Vec<String>) -> Vec<String> {
    cap_details(v, MAX_REJECTIONS_LISTED)
}

/// A signature verified by one of the policy's authorities.
pub(crate) struct SignedBy<'p> {
    pub(crate) authority: &'p PolicyAuthority,
    pub(crate) signature: VerifiedImageSignature,
}

/// An attestation verified by one of the policy's authorities.
pub(crate) struct AttestedBy<'p> {
    pub(crate) authority: &'p PolicyAuthority,
    pub(crate) attestation: VerifiedAttestation,
}

fn verify_signatures<'p>(
    m: &Material,
    image: &Sha256Digest,
    authority: &'p PolicyAuthority,
    limits: &OciLimits,
    reasons: &mut Vec<String>,
) -> Result<Vec<SignedBy<'p>>, VerifyError> {
    let none = BTreeMap::new();
    let Some(a) = authority.authority() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (desc, payload) in &m.sig_layers {
        let r = match payload {
            Ok(p) => crate::image::verify_layer(image, desc, p.clone(), a, &none, limits)
                .and_then(|v| authority.check_claims(v.identity()).map(|()| v)),
            Err(e) => Err(e.clone()),
        };
        match r {
            Ok(signature) => out.push(SignedBy {
                authority,
                signature,
            }),
            Err(e) => reasons.push(format!(
                "{}: .sig layer {}: {e}",
                authority.label, desc.digest
            )),
        }
    }
    let root = root_for_keys(a)?;
    for r in &m.referrers {
        let t = Material::referrer_type(r);
        if t.is_some_and(|t| t != COSIGN_SIGN_PREDICATE) {
            continue;
        }
        let v = match &r.content {
            Ok((annotations, bundle)) => crate::attestation::verify_referrer(
                image,
                &r.desc,
                annotations,
                bundle,
                a,
                root,
                Some(COSIGN_SIGN_PREDICATE),
                limits,
            )
            .and_then(|v| authority.check_claims(v.identity()).map(|()| v)),
            Err(e) => Err(e.clone()),
        };
        match v {
            Ok(att) => out.push(SignedBy {
                authority,
                signature: VerifiedImageSignature::from_bundle(att),
            }),
            Err(e) => reasons.push(format!(
                "{}: bundle referrer {}: {e}",
                authority.label, r.desc.digest
            )),
        }
    }
    Ok(out)
}

/// The first of `authorities` that verifies an attestation (with its GitHub claims) claims it:
/// `Some` when it is of type `wanted`, `None` when it verified but is of another type (an
/// un-annotated layer that is no candidate for this rule), `Err` with every authority's reason.
fn first_authority<'p>(
    authorities: &'p [PolicyAuthority],
    wanted: &str,
    verify: impl Fn(usize, &'p PolicyAuthority) -> Result<VerifiedAttestation, LayerError>,
) -> Result<Option<AttestedBy<'p>>, String> {
    let mut why = Vec::new();
    for (i, authority) in authorities.iter().enumerate() {
        match verify(i, authority).and_then(|v| authority.check_claims(v.identity()).map(|()| v)) {
            Ok(v) if is_type(v.predicate_type(), wanted) => {
                return Ok(Some(AttestedBy {
                    authority,
                    attestation: v,
                }));
            }
            Ok(_) => return Ok(None),
            Err(e) => why.push(format!("{}: {e}", authority.label)),
        }
    }
    Err(why.join("; "))
}

/// Every attestation of predicate type `wanted` that one of `authorities` verifies (the first
/// authority that verifies a layer claims it).
fn verify_attestations<'p>(
    m: &Material,
    image: &Sha256Digest,
    wanted: &str,
    authorities: &'p [PolicyAuthority],
    limits: &OciLimits,
    reasons: &mut Vec<String>,
) -> Result<Vec<AttestedBy<'p>>, VerifyError> {
    let roots = authorities
        .iter()
        .map(|a| {
            a.authority()
                .map(root_for_keys)
                .transpose()
                .map(Option::flatten)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (desc, blob) in &m.att_layers {
        let annotated = desc
            .annotations
            .get(crate::attestation::PREDICATE_TYPE_ANNOTATION);
        if annotated.is_some_and(|t| !is_type(t, wanted)) {
            continue;
        }
        let blob = match blob {
            Ok(b) => b,
            Err(e) => {
                reasons.push(format!(".att layer {}: {e}", desc.digest));
                continue;
            }
        };
        let claimed = first_authority(authorities, wanted, |_, authority| {
            crate::attestation::verify_layer(
                image,
                desc,
                blob,
                cosign_authority(authority)?,
                None,
                limits,
            )
        });
        match claimed {
            Ok(Some(a)) => out.push(a),
            Ok(None) => {}
            Err(why) => reasons.push(format!(".att layer {}: {why}", desc.digest)),
        }
    }
    for r in &m.referrers {
        let t = Material::referrer_type(r);
        if t.is_some_and(|t| !is_type(t, wanted)) || t == Some(COSIGN_SIGN_PREDICATE) {
            continue;
        }
        let (annotations, bundle) = match &r.content {
            Ok(c) => c,
            Err(e) => {
                reasons.push(format!("bundle referrer {}: {e}", r.desc.digest));
                continue;
            }
        };
        let claimed = first_authority(authorities, wanted, |i, authority| {
            crate::attestation::verify_referrer(
                image,
                &r.desc,
                annotations,
                bundle,
                cosign_authority(authority)?,
                roots.get(i).copied().flatten(),
                None,
                limits,
            )
        });
        match claimed {
            Ok(Some(a)) => out.push(a),
            Ok(None) => {}
            Err(why) => reasons.push(format!("bundle referrer {}: {why}", r.desc.digest)),
        }
    }
    Ok(out)
}

/// The cosign verifiers' authority; a `notation` one (which the policy never lets verify an
/// attestation) verifies nothing.
fn cosign_authority(a: &PolicyAuthority) -> Result<crate::attestation::Authority<'_>, LayerError> {
    a.authority().ok_or_else(|| {
        LayerError::Unreadable(format!(
            "{}: a notation authority verifies Notary Project signatures only",
            a.label
        ))
    })
}

/// A Notary Project signature of the image verified by a `notation` authority of the policy.
pub(crate) struct NotarySignedBy<'p> {
    pub(crate) authority: &'p PolicyAuthority,
    /// The signature's referrer manifest.
    pub(crate) referrer: Sha256Digest,
    pub(crate) signature: VerifiedNotarySignature,
}

/// The image's Notary Project signatures that `authority` (a `notation` one) verifies, with
/// the reason code and reasons when none does.
fn verify_notary<'p>(
    m: &Material,
    name: &str,
    image: &Sha256Digest,
    authority: &'p PolicyAuthority,
    now: i64,
    reasons: &mut Vec<String>,
) -> (Vec<NotarySignedBy<'p>>, &'static str) {
    let Some(n) = authority.notation() else {
        return (Vec::new(), codes::NOTATION_MISSING);
    };
    let Some(notary) = &m.notary else {
        return (Vec::new(), codes::NOTATION_MISSING);
    };
    if notary.referrers.is_empty() {
        reasons.push(format!(
            "{}: no Notary Project signature (no referrer of artifact type {})",
            authority.label,
            vouch_core::notary::envelope::ARTIFACT_TYPE
        ));
        return (Vec::new(), codes::NOTATION_MISSING);
    }
    let expected = match &notary.subject {
        Ok(s) => s,
        Err(e) => {
            reasons.push(format!("{}: {e}", authority.label));
            return (Vec::new(), codes::NOTATION_UNTRUSTED);
        }
    };
    let image_name = format!("{name}@{image}");
    let limits = NotaryLimits::DEFAULT;
    let mut out = Vec::new();
    let mut revoked = false;
    for r in &notary.referrers {
        let v = match &r.envelope {
            Ok((bytes, media_type)) => crate::notary::verify_envelope_with_crls(
                bytes,
                media_type,
                &n.policy,
                &n.store,
                &image_name,
                expected,
                now,
                &limits,
                &n.crls,
            )
            .map_err(|e| {
                if let crate::notary::NotaryError::Failed { failure, .. } = &e
                    && matches!(failure.error, crate::notary::CheckError::Revoked { .. })
                {
                    revoked = true;
                }
                e.to_string()
            }),
            Err(e) => Err(e.clone()),
        };
        match v {
            Ok(signature) => out.push(NotarySignedBy {
                authority,
                referrer: r.manifest.digest,
                signature,
            }),
            Err(e) => reasons.push(format!(
                "{}: Notary Project signature {}: {e}",
                authority.label, r.manifest.digest
            )),
        }
    }
    let code = if revoked && out.is_empty() {
        codes::NOTATION_REVOKED
    } else {
        codes::NOTATION_UNTRUSTED
    };
    (out, code)
}

/// Who made a signature: its certificate identity, or its key.
fn signer_id(s: &VerifiedImageSignature) -> String {
    match s.identity() {
        Some(i) => format!("{} from {}", i.san, i.issuer.as_deref().unwrap_or("?")),
        None => format!("key {}", s.key_hint()),
    }
}

/// A maximum matching of authorities (each with the signers it verified) to distinct signers
/// (Kuhn's augmenting paths; a policy has a handful of authorities): for each authority, the
/// signer it is counted with, if any.
fn match_signers(signers: &[Vec<String>]) -> Vec<Option<String>> {
    fn augment(
        a: usize,
        signers: &[Vec<String>],
        owner: &mut BTreeMap<String, usize>,
        seen: &mut std::collections::BTreeSet<String>,
    ) -> bool {
        for s in &signers[a] {
            if !seen.insert(s.clone()) {
                continue;
            }
            let free = match owner.get(s).copied() {
                None => true,
                Some(other) => augment(other, signers, owner, seen),
            };
            if free {
                owner.insert(s.clone(), a);
                return true;
            }
        }
        false
    }
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for a in 0..signers.len() {
        let mut seen = std::collections::BTreeSet::new();
        augment(a, signers, &mut owner, &mut seen);
    }
    let mut out = vec![None; signers.len()];
    for (s, a) in owner {
        out[a] = Some(s);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn signature_checks<'p>(
    rule: &'p SignatureRule,
    m: &Material,
    name: &str,
    image: &Sha256Digest,
    now: i64,
    limits: &OciLimits,
    verified: &mut Vec<SignedBy<'p>>,
    notary_verified: &mut Vec<NotarySignedBy<'p>>,
) -> Result<Vec<Check>, VerifyError> {
    let mut reasons = m.notes.clone();
    // Which signers (a key, or a certificate identity) each authority verified.
    let mut signers: Vec<Vec<String>> = Vec::new();
    // Per notation authority: (its index, the code when unsatisfied, its own reasons).
    let mut notation: Vec<(usize, &'static str, Vec<String>)> = Vec::new();
    for (i, authority) in rule.authorities.iter().enumerate() {
        if authority.notation().is_some() {
            let mut own = Vec::new();
            let (sigs, code) = verify_notary(m, name, image, authority, now, &mut own);
            let mut ids: Vec<String> = sigs
                .iter()
                .map(|s| format!("notary {}", s.signature.signer()))
                .collect();
            ids.sort();
            ids.dedup();
            signers.push(ids);
            reasons.extend(own.iter().cloned());
            notation.push((i, code, own));
            notary_verified.extend(sigs);
            continue;
        }
        let sigs = verify_signatures(m, image, authority, limits, &mut reasons)?;
        let mut ids: Vec<String> = sigs.iter().map(|s| signer_id(&s.signature)).collect();
        ids.sort();
        ids.dedup();
        signers.push(ids);
        verified.extend(sigs);
    }
    // Distinct authorities need distinct signers: one key listed twice, or one identity that
    // two keyless authorities both match, counts once (a maximum matching of authorities to
    // signers).
    let matched = match_signers(&signers);
    let signed_by: Vec<String> = rule
        .authorities
        .iter()
        .zip(&matched)
        .filter_map(|(a, m)| {
            m.as_ref()
                .map(|signer| format!("{} (signer {signer})", a.label))
        })
        .collect();
    let unmatched: Vec<String> = rule
        .authorities
        .iter()
        .zip(&matched)
        .zip(&signers)
        .filter(|((_, m), s)| m.is_none() && !s.is_empty())
        .map(|((a, _), s)| {
            format!(
                "{}: verified only by a signer already counted for another authority ({})",
                a.label,
                s.join(", ")
            )
        })
        .collect();
    reasons.extend(unmatched);
    let expected = format!(
        "signatures by at least {} of {} authorities: {}",
        rule.threshold,
        rule.authorities.len(),
        rule.authorities
            .iter()
            .map(|a| a.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let found_any = !m.sig_layers.is_empty()
        || m.notary.as_ref().is_some_and(|n| !n.referrers.is_empty())
        || m.referrers
            .iter()
            .any(|r| Material::referrer_type(r).is_none_or(|t| t == COSIGN_SIGN_PREDICATE));
    let threshold_met = signed_by.len() >= rule.threshold;
    // Each notation authority explained on its own, with its reason code: satisfied, or (when
    // the rule fails) why not.
    let mut notation_checks = Vec::new();
    for (i, code, own) in notation {
        let a = &rule.authorities[i];
        let path = format!("signatures.authorities[{i}] (notation)");
        let expected = format!("a Notary Project signature trusted by {}", a.label);
        match &matched[i] {
            Some(signer) => notation_checks.push(Check::pass(
                code,
                path,
                expected,
                format!("signed by {signer}"),
            )),
            None if !threshold_met => {
                let found = if code == codes::NOTATION_MISSING {
                    "no Notary Project signature".to_owned()
                } else {
                    "no Notary Project signature it trusts".to_owned()
                };
                notation_checks
                    .push(Check::fail(code, path, expected, found).with_details(capped(own)));
            }
            None => {}
        }
    }
    let check = if signed_by.is_empty() {
        let found = if found_any {
            "no valid signature by any authority".to_owned()
        } else {
            format!(
                "no signatures (no {} tag, no cosign 3 signature referrer)",
                Attachment::Signatures.tag(image)
            )
        };
        Check::fail(codes::SIGNATURE_NONE_VALID, "signatures", expected, found)
            .with_details(capped(reasons))
    } else if signed_by.len() < rule.threshold {
        Check::fail(
            codes::SIGNATURE_THRESHOLD,
            "signatures",
            expected,
            format!(
                "{} authority(ies): {}",
                signed_by.len(),
                signed_by.join(", ")
            ),
        )
        .with_details(capped(reasons))
    } else {
        Check::pass(
            codes::SIGNATURE_THRESHOLD,
            "signatures",
            expected,
            format!(
                "{} authority(ies): {}",
                signed_by.len(),
                signed_by.join(", ")
            ),
        )
    };
    let mut checks = vec![check];
    checks.extend(notation_checks);
    Ok(checks)
}

fn attestation_checks<'p>(
    rule: &'p AttestationRule,
    m: &Material,
    ctx: &ImageContext,
    limits: &OciLimits,
    verified: &mut Vec<AttestedBy<'p>>,
) -> Result<Vec<Check>, VerifyError> {
    let mut reasons = m.notes.clone();
    let atts = verify_attestations(
        m,
        &ctx.digest,
        &rule.predicate_type,
        &rule.authorities,
        limits,
        &mut reasons,
    )?;
    let expected = format!(
        "an attestation of type {} signed by {}",
        rule.predicate_type,
        rule.authorities
            .iter()
            .map(|a| a.label.as_str())
            .collect::<Vec<_>>()
            .join(" or ")
    );
    let mut checks = Vec::new();
    if atts.is_empty() {
        checks.push(
            Check::fail(
                codes::ATTESTATION_MISSING,
                "attestations",
                expected,
                "none verified",
            )
            .with_details(capped(reasons)),
        );
        verified.extend(atts);
        return Ok(checks);
    }
    checks.push(Check::pass(
        codes::ATTESTATION_MISSING,
        "attestations",
        expected,
        format!(
            "{} verified ({})",
            atts.len(),
            atts.iter()
                .map(|a| a.authority.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ));
    let refs: Vec<&VerifiedAttestation> = atts.iter().map(|a| &a.attestation).collect();
    if let Some(p) = &rule.provenance {
        for a in &refs {
            checks.extend(super::provenance::evaluate(a, p));
        }
    }
    if let Some(v) = &rule.vulnerabilities {
        let mut vex_reasons = Vec::new();
        let vex = verify_attestations(
            m,
            &ctx.digest,
            vouch_core::predicate::OPENVEX,
            &rule.authorities,
            limits,
            &mut vex_reasons,
        )?;
        let vex_refs: Vec<&VerifiedAttestation> = vex.iter().map(|a| &a.attestation).collect();
        // SBOMs of this image signed by the rule's authorities: their dependency graphs (with
        // the scan's own) tie a VEX statement's application product to the image.
        let mut sboms = Vec::new();
        if !vex.is_empty() || !v.vex.is_empty() {
            for t in [
                vouch_core::predicate::CYCLONEDX,
                vouch_core::predicate::SPDX,
            ] {
                sboms.extend(verify_attestations(
                    m,
                    &ctx.digest,
                    t,
                    &rule.authorities,
                    limits,
                    &mut vex_reasons,
                )?);
            }
        }
        let sbom_refs: Vec<&VerifiedAttestation> = sboms.iter().map(|a| &a.attestation).collect();
        checks.extend(super::vuln::evaluate_with(
            &refs, &vex_refs, &sbom_refs, v, ctx,
        ));
        verified.extend(vex);
        verified.extend(sboms);
    }
    if let Some(s) = &rule.sbom {
        for a in &refs {
            checks.extend(super::sbom::evaluate(a, s));
        }
    }
    verified.extend(atts);
    Ok(checks)
}

fn time_text(t: i64) -> String {
    let st = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t).unwrap_or(0));
    vouch_core::predicate::rfc3339(st)
}

/// The Rego input: only verified signatures and statements, each converted whole, or an error
/// naming the document that could not be (it fails the check as `rego.error`: a verified
/// statement never reaches Rego as `null`, where a deny rule about it would find nothing).
/// The verifiers accept only JSON every reader reads alike (`vouch_core::payload::strict`), so
/// this error is a second line, not the first.
fn rego_input(
    name: &str,
    digest: &Sha256Digest,
    sigs: &[SignedBy<'_>],
    notary: &[NotarySignedBy<'_>],
    atts: &[AttestedBy<'_>],
) -> Result<regorus::Value, String> {
    use regorus::Value as R;
    use serde_json::json;
    // The small parts as JSON; the signed documents parsed once, straight into Rego values.
    let parsed = |what: &str, bytes: &[u8]| -> Result<R, String> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("{what} cannot be handed to Rego: not UTF-8: {e}"))?;
        R::from_json_str(text)
            .map_err(|e| format!("{what} cannot be handed to Rego: {e}; the image is not judged by a module that cannot see it"))
    };
    let with = |small: serde_json::Value, key: &str, big: R| {
        let mut v = R::from(small);
        if let Ok(o) = v.as_object_mut() {
            o.insert(R::from(key), big);
        }
        v
    };
    let mut seen = std::collections::BTreeSet::new();
    let signatures: Vec<R> = sigs
        .iter()
        .map(|s| {
            Ok(with(
                json!({
                    "authority": s.authority.label,
                    "signer": s.signature.key_hint(),
                    "identity": s.signature.identity().map(|i| json!({"subject": i.san, "issuer": i.issuer})),
                }),
                "payload",
                parsed(
                    &format!("the payload of a signature by {}", s.authority.label),
                    s.signature.payload_bytes(),
                )?,
            ))
        })
        .collect::<Result<_, String>>()?;
    let attestations: Vec<R> = atts
        .iter()
        .filter(|a| seen.insert(*a.attestation.layer()))
        .map(|a| {
            let v = &a.attestation;
            Ok(with(
                json!({
                    "authority": a.authority.label,
                    "signer": v.key_hint(),
                    "predicateType": v.predicate_type(),
                    "verifiedTime": v.verified_time().map(|(t, _)| time_text(t)),
                }),
                "statement",
                parsed(
                    &format!(
                        "the {} statement {} by {}",
                        v.predicate_type(),
                        v.layer(),
                        a.authority.label
                    ),
                    v.statement_bytes(),
                )?,
            ))
        })
        .collect::<Result<_, String>>()?;
    let notary_signatures: Vec<serde_json::Value> = notary
        .iter()
        .map(|s| {
            json!({
                "authority": s.authority.label,
                "referrer": s.referrer.to_string(),
                "signer": s.signature.signer(),
                "statement": s.signature.statement(),
                "signingScheme": s.signature.scheme().name(),
                "signingTime": time_text(s.signature.signing_time()),
            })
        })
        .collect();
    let mut input = R::from(json!({
        "image": name,
        "digest": digest.to_string(),
        "notarySignatures": notary_signatures,
    }));
    if let Ok(o) = input.as_object_mut() {
        o.insert(R::from("signatures"), R::from(signatures));
        o.insert(R::from("attestations"), R::from(attestations));
    }
    Ok(input)
}

fn label(mut checks: Vec<Check>, rule: &str, mode: Mode) -> Vec<Check> {
    for c in &mut checks {
        c.rule = rule.to_owned();
        if mode == Mode::Warn && c.status == Status::Fail {
            c.status = Status::Warn;
        }
    }
    checks
}

/// Judges one image by `policy`: fetches what is attached to `src.digest`, verifies it against
/// the authorities of the block that matches `src.name`, and evaluates every condition on the
/// verified data. `now` (Unix seconds) is the clock for freshness and expiry. Registry errors
/// are errors; everything about the image itself is in the verdict.
pub async fn evaluate(
    policy: &Policy,
    src: &ImageSource<'_>,
    now: i64,
    limits: &OciLimits,
) -> Result<Verdict, VerifyError> {
    evaluate_in(policy, src, None, now, limits).await
}

/// [`evaluate`] for an image reviewed in a Kubernetes `namespace`: only blocks that apply in it
/// (`namespaces`, `excludeNamespaces`) are tried.
pub async fn evaluate_in(
    policy: &Policy,
    src: &ImageSource<'_>,
    namespace: Option<&str>,
    now: i64,
    limits: &OciLimits,
) -> Result<Verdict, VerifyError> {
    evaluate_among(policy, src, namespace, None, now, limits).await
}

/// [`evaluate_in`] for one image of a batch: `batch` lists each repository's tags once for
/// every image of the batch, so that attachment tags absent from a complete listing are not
/// asked for (see [`BatchTags`]).
pub async fn evaluate_among(
    policy: &Policy,
    src: &ImageSource<'_>,
    namespace: Option<&str>,
    batch: Option<&BatchTags>,
    now: i64,
    limits: &OciLimits,
) -> Result<Verdict, VerifyError> {
    let name = src.name.clone();
    let mut verdict = Verdict {
        image: name.clone(),
        digest: src.digest.to_string(),
        allowed: false,
        matched: None,
        checks: Vec::new(),
    };
    let Some(block) = policy
        .blocks
        .iter()
        .find(|b| b.pattern.matches(&name) && b.applies_in(namespace))
    else {
        let patterns: Vec<&str> = policy.blocks.iter().map(|b| b.pattern.as_str()).collect();
        let expected = format!("an image matching one of [{}]", patterns.join(", "));
        let mut c = if policy.default_allow {
            Check::pass(
                codes::NO_MATCH_ALLOWED,
                "images[].match",
                expected,
                format!("{name} (default: allow)"),
            )
        } else {
            Check::fail(
                codes::NO_MATCH,
                "images[].match",
                expected,
                format!("{name} (default: deny)"),
            )
        };
        c.rule = "default".into();
        verdict.allowed = policy.default_allow;
        verdict.checks.push(c);
        return Ok(verdict);
    };
    verdict.matched = Some(MatchedBlock {
        pattern: block.pattern.as_str().to_owned(),
        line: block.line,
    });
    let material = fetch_material(src, block, batch, limits).await?;
    let ctx = ImageContext {
        name: name.clone(),
        digest: src.digest,
        now,
    };
    let mut sigs = Vec::new();
    let mut notary_sigs = Vec::new();
    let mut atts = Vec::new();
    if let Some(rule) = &block.signatures {
        let checks = signature_checks(
            rule,
            &material,
            &name,
            &src.digest,
            now,
            limits,
            &mut sigs,
            &mut notary_sigs,
        )?;
        verdict
            .checks
            .extend(label(checks, "signatures", rule.mode));
    }
    for rule in &block.attestations {
        let checks = attestation_checks(rule, &material, &ctx, limits, &mut atts)?;
        verdict.checks.extend(label(checks, &rule.label, rule.mode));
    }
    if let Some(rego) = &block.rego {
        let result = rego_input(&name, &src.digest, &sigs, &notary_sigs, &atts)
            .and_then(|input| super::rego::evaluate(&rego.prepared, input));
        let checks = match result {
            Ok(msgs) if msgs.is_empty() => vec![Check::pass(
                codes::REGO_DENY,
                "data.vouch.deny",
                "no deny or violation messages",
                "none",
            )],
            Ok(msgs) => msgs
                .into_iter()
                .map(|m| {
                    Check::fail(
                        codes::REGO_DENY,
                        "data.vouch.deny",
                        "no deny or violation messages",
                        m,
                    )
                })
                .collect(),
            Err(e) => vec![Check::fail(
                codes::REGO_ERROR,
                rego.path.clone(),
                "the module to evaluate",
                e,
            )],
        };
        verdict.checks.extend(label(
            checks,
            &format!("rego ({})", rego.path),
            Mode::Enforce,
        ));
    }
    let allowed = verdict.failures().next().is_none();
    verdict.allowed = allowed;
    Ok(verdict)
}

#[cfg(test)]
mod tests;
