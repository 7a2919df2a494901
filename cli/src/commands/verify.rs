//! `vouch verify`: image signatures against one authority, or a policy (`--policy`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use futures_util::stream::{self, StreamExt};
use vouch_core::cosign::Attachment;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::reference::ImageRef;
use vouch_core::oci::registry::{Access, RegistryClient};
use vouch_core::oci::{OciLimits, Target, resolve};
use vouch_verify::image::{ImageSignatures, verify_signatures};

use crate::args::{
    CONCURRENCY, Output, RegistryArgs, attachment_target, attachment_target_of, client,
    image_digest, parse_annotations, parse_images, with_children,
};
use crate::exit::VerificationFailed;

#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) authority: crate::commands::authority::AuthorityArgs,
    /// Judge each image by this policy (YAML; see docs/policy.md) instead of one authority:
    /// signatures (k of n authorities), provenance, vulnerability scans, VEX, SBOMs, Rego.
    /// Exit 1 when any image is denied.
    #[arg(long, value_name = "POLICY.yaml", conflicts_with_all = ["key", "certificate_identity", "certificate_identity_regexp", "annotations", "recursive"])]
    pub(crate) policy: Option<PathBuf>,
    /// Verify the images' Notary Project signatures (notation, OCI referrers) against this trust
    /// policy (trustpolicy.json version 1.0) instead of cosign signatures. Exit 1 when an image
    /// has no signature that passes its statement.
    #[arg(long, value_name = "FILE", requires = "notation_trust_store", conflicts_with_all = ["policy", "key", "certificate_identity", "certificate_identity_regexp", "annotations", "recursive"])]
    pub(crate) notation_trust_policy: Option<PathBuf>,
    /// The notation trust store the trust policy names: `x509/{ca,signingAuthority,tsa}/NAME/`.
    #[arg(long, value_name = "DIR", requires = "notation_trust_policy")]
    pub(crate) notation_trust_store: Option<PathBuf>,
    /// With --notation-trust-policy: check revocation against this CRL (DER or PEM X.509 v2
    /// CRL; repeatable, one for each CA of the signing chains). Enforced, logged or skipped as
    /// the statement's level says; without CRLs revocation is reported as not checked.
    #[arg(
        long = "notation-crl",
        value_name = "FILE",
        requires = "notation_trust_policy"
    )]
    pub(crate) notation_crls: Vec<PathBuf>,
    /// Require this annotation in the signed payload.
    #[arg(long = "annotations", short = 'a', value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// For an image index, require the index and every platform manifest to verify.
    #[arg(long)]
    recursive: bool,
    /// Result format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) output: Output,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Images: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) images: Vec<String>,
}

/// One image's verification, and with `--recursive` its platform manifests'.
async fn verify_one(
    image: &ImageRef,
    client: &Arc<RegistryClient>,
    key: vouch_verify::image::Authority<'_>,
    required: &BTreeMap<String, String>,
    recursive: bool,
    limits: &OciLimits,
) -> Result<Vec<(String, Sha256Digest, ImageSignatures)>> {
    // Pinned by digest: nothing to resolve; 2 sequential round trips (the .sig manifest, then
    // its blobs in parallel).
    if let (ImageRef::Registry(r), Some(digest), false) = (image, &image_digest(image), recursive) {
        let image_target = Target::registry(client.clone(), r);
        let target = attachment_target_of(&image_target, client)?;
        let sigs = verify_signatures(&target, &image_target, digest, key, required, limits).await?;
        return Ok(vec![(
            format!("{}@{digest}", r.docker_reference()),
            *digest,
            sigs,
        )]);
    }
    let resolved = resolve(image, client, Access::Pull, limits).await?;
    let target = attachment_target(&resolved, client)?;
    let mut out = Vec::new();
    for img in with_children(resolved, recursive, limits).await? {
        let sigs =
            verify_signatures(&target, &img.target, &img.digest, key, required, limits).await?;
        out.push((format!("{}@{}", img.identity, img.digest), img.digest, sigs));
    }
    Ok(out)
}

pub(crate) async fn verify(args: VerifyArgs) -> Result<()> {
    if let Some(policy) = &args.policy {
        return crate::commands::policy::verify(policy, &args.images, &args.registry, args.output)
            .await;
    }
    if let (Some(policy), Some(store)) = (&args.notation_trust_policy, &args.notation_trust_store) {
        return verify_notation(&args, policy, store).await;
    }
    let limits = args.registry.limits();
    let images = parse_images(&args.images)?;
    let required = parse_annotations(&args.annotations)?;
    let loaded = args.authority.load()?;
    let key = loaded.authority();
    let client = client(&args.registry)?;
    let outcomes: Vec<_> = stream::iter(&images)
        .map(|image| verify_one(image, &client, key, &required, args.recursive, &limits))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut report = Vec::new();
    let mut failed = 0usize;
    for (image, outcome) in images.iter().zip(outcomes) {
        for (name, digest, sigs) in outcome.with_context(|| format!("{image}"))? {
            if sigs.ok() {
                if args.output == Output::Text {
                    eprintln!(
                        "Verified {name}: {} of {} signature(s) valid for {}",
                        sigs.verified.len(),
                        sigs.verified.len() + sigs.failures.len(),
                        key.describe()
                    );
                }
            } else {
                failed += 1;
                if !sigs.found {
                    eprintln!(
                        "vouch: {name}: no signatures found (no {} tag)",
                        Attachment::Signatures.tag(&digest)
                    );
                } else {
                    eprintln!("vouch: {name}: no valid signature:");
                }
                for f in &sigs.failures {
                    eprintln!("  layer {} ({}): {}", f.index, f.digest, f.reason);
                }
            }
            report.push(serde_json::json!({
                "image": image.to_string(),
                "digest": digest.to_string(),
                "verified": sigs.ok(),
                "signatures": sigs.verified.iter().map(|v| serde_json::json!({
                    "payload": serde_json::from_slice::<serde_json::Value>(v.payload_bytes())
                        .unwrap_or(serde_json::Value::Null),
                    "key": v.key_hint(),
                    "layer": v.layer().to_string(),
                })).collect::<Vec<_>>(),
                "failures": sigs.failures.iter().map(|f| serde_json::json!({
                    "layer": f.digest.to_string(), "reason": f.reason.to_string(),
                })).collect::<Vec<_>>(),
            }));
        }
    }
    if args.output == Output::Json {
        writeln!(io::stdout(), "{}", serde_json::Value::from(report))?;
    }
    if failed > 0 {
        return Err(VerificationFailed(format!(
            "{failed} image(s) without a valid signature for {}",
            loaded.describe()
        ))
        .into());
    }
    Ok(())
}

/// `--notation-trust-policy`: each image's Notary Project signatures, verified by the library.
async fn verify_notation(
    args: &VerifyArgs,
    policy_path: &std::path::Path,
    store_dir: &std::path::Path,
) -> Result<()> {
    use vouch_core::notary::envelope::NotaryLimits;
    use vouch_core::notary::policy::TrustPolicyDocument;
    use vouch_core::notary::store::TrustStore;
    use vouch_core::oci::manifest::Descriptor;

    let notary = NotaryLimits::DEFAULT;
    let bytes = crate::commands::blob::read_small(policy_path, "the trust policy", notary.policy)?;
    let policy = TrustPolicyDocument::from_json(&bytes, &notary)
        .with_context(|| format!("{}", policy_path.display()))?;
    let store = TrustStore::new(store_dir, notary);
    let crl_limits = vouch_core::notary::crl::CrlLimits::DEFAULT;
    let mut crls = Vec::new();
    for path in &args.notation_crls {
        let bytes = crate::commands::blob::read_small(path, "the CRL", crl_limits.size)?;
        crls.extend(
            vouch_core::notary::crl::read_crls(&bytes, &crl_limits)
                .with_context(|| format!("{}", path.display()))?,
        );
    }
    let limits = args.registry.limits();
    let images = parse_images(&args.images)?;
    let client = client(&args.registry)?;
    let now = crate::commands::policy::now()?;
    let mut report = Vec::new();
    let mut failed = 0usize;
    for image in &images {
        let resolved = resolve(image, &client, Access::Pull, &limits)
            .await
            .with_context(|| format!("{image}"))?;
        let desc = Descriptor::of(&resolved.manifest.media_type, &resolved.manifest.bytes);
        let name = format!("{}@{}", resolved.identity, resolved.digest);
        let sigs = vouch_verify::notary::verify_image(
            &resolved.target,
            &name,
            &desc,
            &policy,
            &store,
            &crls,
            now,
            &limits,
            &notary,
        )
        .await
        .with_context(|| format!("{image}"))?;
        if sigs.ok() {
            if args.output == Output::Text {
                eprintln!(
                    "Verified {name}: {} of {} Notary Project signature(s) valid for trust policy statement {:?}",
                    sigs.verified.len(),
                    sigs.found,
                    sigs.verified
                        .first()
                        .map(|(_, v)| v.statement())
                        .unwrap_or_default()
                );
            }
        } else {
            failed += 1;
            if sigs.found == 0 {
                eprintln!(
                    "vouch: {name}: no Notary Project signatures found (no referrers of artifact type application/vnd.cncf.notary.signature)"
                );
            } else {
                eprintln!("vouch: {name}: no valid Notary Project signature:");
            }
        }
        for (d, reason) in &sigs.failures {
            if !sigs.ok() || args.output == Output::Text {
                eprintln!("  signature {d}: {reason}");
            }
        }
        report.push(serde_json::json!({
            "image": image.to_string(),
            "digest": resolved.digest.to_string(),
            "verified": sigs.ok(),
            "notarySignatures": sigs.verified.iter().map(|(d, v)| serde_json::json!({
                "referrer": d.to_string(),
                "statement": v.statement(),
                "signer": v.signer(),
                "signingScheme": v.scheme().name(),
                "signingTime": v.signing_time(),
                "revocationChecked": v.revocation_checked(),
                "logged": v.logged().iter().map(|f| {
                    let mut j = serde_json::json!({
                        "check": f.check.name(), "error": f.error.to_string(),
                    });
                    if let Some(r) = f.error.revocation_json() {
                        j["revocation"] = r;
                    }
                    j
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "failures": sigs.failures.iter().map(|(d, reason)| {
                let mut j = serde_json::json!({"referrer": d.to_string(), "reason": reason});
                if let Some((_, f)) = sigs.failed_checks.iter().find(|(c, _)| c == d) {
                    j["check"] = f.check.name().into();
                    if let Some(r) = f.error.revocation_json() {
                        j["revocation"] = r;
                    }
                }
                j
            }).collect::<Vec<_>>(),
        }));
    }
    if args.output == Output::Json {
        writeln!(io::stdout(), "{}", serde_json::Value::from(report))?;
    }
    if failed > 0 {
        return Err(VerificationFailed(format!(
            "{failed} image(s) without a valid Notary Project signature for {}",
            policy_path.display()
        ))
        .into());
    }
    Ok(())
}
