//! `vouch verify --policy`: each image judged by a policy file, every check explained.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::stream::{self, StreamExt};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::reference::ImageRef;
use vouch_core::oci::registry::{Access, RegistryClient};
use vouch_core::oci::{OciLimits, Target, resolve};
use vouch_verify::policy::report::Status;
use vouch_verify::policy::{BatchTags, ImageSource, Policy, Verdict, evaluate_among};

use crate::args::{
    CONCURRENCY, Output, RegistryArgs, attachment_target_of, client, image_digest, parse_images,
    requests_json,
};
use crate::exit::{UsageError, VerificationFailed};

/// The evaluation clock: `VOUCH_NOW` (RFC 3339; for tests and for replaying a past decision),
/// else the system clock.
pub(crate) fn now() -> Result<i64> {
    match std::env::var("VOUCH_NOW") {
        Ok(s) if !s.is_empty() => vouch_core::time::parse_rfc3339(&s).ok_or_else(|| {
            UsageError(format!(
                "VOUCH_NOW `{s}` is not an RFC 3339 date-time such as 2026-11-27T12:00:00Z"
            ))
            .into()
        }),
        _ => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
    }
}

/// The name a policy's patterns are matched against ([`vouch_verify::promote::policy_name`]).
pub(crate) fn policy_name(image: &ImageRef) -> Result<String> {
    Ok(vouch_verify::promote::policy_name(image)?)
}

/// Loads a policy file; its errors are input errors (exit 2) naming the line and field.
pub(crate) fn load(path: &Path) -> Result<Policy> {
    Ok(Policy::load(path)?)
}

/// Judges the image at `digest` in `image_target` (already resolved: the digest is what will be
/// deployed or promoted), named `name` ([`policy_name`]) for the policy's patterns; `batch`
/// holds the tags listed for the batch.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn judge(
    policy: &Policy,
    batch: &BatchTags,
    name: &str,
    digest: &Sha256Digest,
    image_target: &Target,
    client: &Arc<RegistryClient>,
    limits: &OciLimits,
    now: i64,
) -> Result<Verdict> {
    let attachments = attachment_target_of(image_target, client)?;
    let src = ImageSource {
        name: name.to_owned(),
        digest: *digest,
        attachments: &attachments,
        referrers: image_target,
    };
    Ok(evaluate_among(policy, &src, None, Some(batch), now, limits).await?)
}

async fn judge_ref(
    policy: &Policy,
    batch: &BatchTags,
    image: &ImageRef,
    client: &Arc<RegistryClient>,
    limits: &OciLimits,
    now: i64,
) -> Result<Verdict> {
    // Pinned by digest in a registry: nothing to resolve.
    if let (ImageRef::Registry(r), Some(digest)) = (image, image_digest(image)) {
        let target = Target::registry(client.clone(), r);
        return judge(
            policy,
            batch,
            &policy_name(image)?,
            &digest,
            &target,
            client,
            limits,
            now,
        )
        .await;
    }
    let resolved = resolve(image, client, Access::Pull, limits).await?;
    judge(
        policy,
        batch,
        &policy_name(image)?,
        &resolved.digest,
        &resolved.target,
        client,
        limits,
        now,
    )
    .await
}

/// The verdict for people, on stderr.
pub(crate) fn print_text(reference: &str, policy: &Policy, v: &Verdict) {
    let mut out = String::new();
    let head = if v.allowed { "ALLOWED" } else { "DENIED" };
    let block = match &v.matched {
        Some(m) => format!("block `{}` at line {}", m.pattern, m.line),
        None => "no block matched".to_owned(),
    };
    out.push_str(&format!(
        "{head} {reference} ({}@{}) by {}, {block}\n",
        v.image,
        v.digest,
        policy.source()
    ));
    for c in &v.checks {
        out.push_str("  ");
        out.push_str(&c.line());
        out.push('\n');
    }
    let failed = v.failures().count();
    let warned = v.warnings().count();
    if failed > 0 || warned > 0 {
        out.push_str(&format!("  {failed} failure(s), {warned} warning(s)\n"));
    }
    let _ = io::stderr().write_all(out.as_bytes());
}

/// The verdicts as one JSON document.
pub(crate) fn json_report(policy: &Policy, items: &[(String, &Verdict)]) -> serde_json::Value {
    serde_json::json!({
        "policy": {"path": policy.source(), "digest": policy.digest().to_string()},
        "allowed": items.iter().all(|(_, v)| v.allowed),
        "images": items.iter().map(|(reference, v)| {
            let mut doc = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
            if let Some(o) = doc.as_object_mut() {
                o.insert("reference".into(), serde_json::Value::String(reference.clone()));
                o.insert(
                    "failures".into(),
                    v.checks.iter().filter(|c| c.status == Status::Fail).map(|c| c.code).collect::<Vec<_>>().into(),
                );
            }
            doc
        }).collect::<Vec<_>>(),
    })
}

/// `vouch verify --policy P IMAGE...`.
pub(crate) async fn verify(
    policy_path: &Path,
    images: &[String],
    registry: &RegistryArgs,
    output: Output,
) -> Result<()> {
    let policy = load(policy_path)?;
    let limits = registry.limits();
    let images = parse_images(images)?;
    let client = client(registry)?;
    let now = now()?;
    // Each repository's tags are listed once for the whole batch.
    let batch = BatchTags::for_images(images.len());
    let outcomes: Vec<_> = stream::iter(&images)
        .map(|image| judge_ref(&policy, &batch, image, &client, &limits, now))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut verdicts = Vec::new();
    for (image, outcome) in images.iter().zip(outcomes) {
        let v = outcome.with_context(|| format!("{image}"))?;
        // People read stderr whatever the format; machines read --output json on stdout.
        print_text(&image.to_string(), &policy, &v);
        verdicts.push((image.to_string(), v));
    }
    if output == Output::Json {
        let items: Vec<(String, &Verdict)> = verdicts.iter().map(|(r, v)| (r.clone(), v)).collect();
        let mut doc = json_report(&policy, &items);
        if let Some(o) = doc.as_object_mut() {
            o.insert("requests".into(), requests_json(&client));
        }
        writeln!(io::stdout(), "{doc}")?;
    }
    let denied = verdicts.iter().filter(|(_, v)| !v.allowed).count();
    if denied > 0 {
        let codes: std::collections::BTreeSet<&str> = verdicts
            .iter()
            .flat_map(|(_, v)| v.failures().map(|c| c.code))
            .collect();
        return Err(VerificationFailed(format!(
            "{denied} of {} image(s) denied by {} ({})",
            verdicts.len(),
            policy.source(),
            codes.into_iter().collect::<Vec<_>>().join(", ")
        ))
        .into());
    }
    Ok(())
}
