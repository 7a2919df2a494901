//! `vouch promote --policy P SRC DST`: resolve SRC to a digest once, judge that digest by the
//! policy, and only if it is allowed copy exactly that digest — manifests, blobs, signatures,
//! attestations and referrers — to DST, tagging DST last.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
#[cfg(debug_assertions)]
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use vouch_core::cosign::AttachOutcome;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::reference::ImageRef;
use vouch_core::sign::{AsyncSigner, KeySigner};
use vouch_verify::policy::{Policy, Verdict};
use vouch_verify::promote::copy::{
    BlobOutcome, CopyPlan, CopyProgress, CopyReport, ManifestOutcome, NoProgress,
};
use vouch_verify::promote::{self as lib, BatchOptions, Judged, Promoted, Promotion, StepError};

use crate::args::{
    Output, RegistryArgs, attachments_repository, client, parse_images, settle_options,
};
use crate::exit::{UsageError, VerificationFailed};
use crate::progress::Bars;

/// Blobs copied at once (and, besides them, as many blobs of signatures and attestations).
const COPY_CONCURRENCY: usize = 6;

#[derive(Args)]
pub(crate) struct PromoteArgs {
    /// The policy every source image must pass (docs/policy.md).
    #[arg(long, value_name = "POLICY.yaml")]
    policy: PathBuf,
    /// Judge and show what would be copied; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Sign a promotion record (source, digest, policy digest, verdict, time) with this key
    /// and attach it to the promoted image (predicate https://vouch.dev/attestation/promotion/v1):
    /// a key file, or a key in a token or key service (`pkcs11:…`, `hashivault://KEY`,
    /// `awskms://…`).
    #[arg(long, value_name = "KEY")]
    attest_key: Option<PathBuf>,
    /// Result format (JSON on stdout; human text always on stderr).
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    /// Never draw progress bars (they are drawn only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// SRC DST (or several pairs: SRC1 DST1 SRC2 DST2 …). SRC: HOST[:PORT]/REPO[:TAG|@sha256:HEX]
    /// or oci:DIR[:TAG|@…]; DST the same, its tag (if any) written last; a DST digest must be
    /// the one verified.
    #[arg(value_name = "SRC DST", required = true, num_args = 2..)]
    pairs: Vec<String>,
}

/// A test hook, compiled into debug builds only (`VOUCH_TEST_PAUSE_AFTER_VERIFY=DIR`): after
/// the verdicts and before any copy, write `DIR/verified` (the allowed digests, one per line)
/// and wait for `DIR/continue`, so a test can move a source tag in between and show that what
/// was verified is what is copied.
#[cfg(debug_assertions)]
async fn test_pause(digests: &[Sha256Digest]) -> Result<()> {
    let Some(dir) = std::env::var_os("VOUCH_TEST_PAUSE_AFTER_VERIFY") else {
        return Ok(());
    };
    let dir = PathBuf::from(dir);
    let lines: Vec<String> = digests.iter().map(ToString::to_string).collect();
    std::fs::write(dir.join("verified"), lines.join("\n"))?;
    for _ in 0..600 {
        if dir.join("continue").exists() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(UsageError("VOUCH_TEST_PAUSE_AFTER_VERIFY: no `continue` file after 60 s".into()).into())
}

#[cfg(not(debug_assertions))]
async fn test_pause(_: &[Sha256Digest]) -> Result<()> {
    Ok(())
}

/// Prints the verdict of a judged pair, and that a denied one is not promoted.
fn print_judged(src: &ImageRef, dst: &ImageRef, policy: &Policy, judged: &Judged) {
    crate::commands::policy::print_text(&src.to_string(), policy, judged.decision.verdict());
    if judged.admission().is_none() {
        eprintln!(
            "Not promoted: {src} ({}) was denied; nothing was written to {dst}",
            judged.source.digest
        );
    }
}

/// What would be copied (`--dry-run`): the line on stderr, the JSON for the report.
fn print_plan(
    src: &ImageRef,
    dst: &ImageRef,
    judged: &Judged,
    plan: &CopyPlan,
) -> serde_json::Value {
    let digest = judged.source.digest;
    let blobs = plan.blobs().count();
    let manifests = plan.manifests();
    eprintln!(
        "Would promote {src} ({digest}) to {dst}: {} manifest(s) (image and attachments), {blobs} blob(s), {} bytes at most (dry run: nothing written)",
        manifests.len(),
        plan.total_bytes()
    );
    serde_json::json!({
        "digest": digest.to_string(),
        "manifests": manifests.iter().map(|(d, role, subject)| serde_json::json!({
            "digest": d.to_string(),
            "role": role,
            "subject": subject.map(|s| s.to_string()),
        })).collect::<Vec<_>>(),
        "blobs": plan.blobs().map(|b| serde_json::json!({"digest": b.digest.to_string(), "size": b.size})).collect::<Vec<_>>(),
        "totalBytes": plan.total_bytes(),
        "warnings": plan.warnings(),
    })
}

/// The record line of a promotion.
fn print_record(name: &str, outcome: AttachOutcome) {
    match outcome {
        AttachOutcome::Added => eprintln!(
            "Recorded the promotion on {name} ({}, bundle referrer)",
            lib::record::PROMOTION_PREDICATE
        ),
        AttachOutcome::AlreadyPresent => eprintln!("Already present: {name}"),
    }
}

/// A failed step as the CLI reports it: copy steps name the pair, planning the source.
fn step_error(e: StepError, src: &ImageRef, dst: &ImageRef) -> anyhow::Error {
    match e {
        StepError::Judge(e) => e.into(),
        StepError::Record(e) => e.into(),
        StepError::Plan(e) => anyhow::Error::new(e).context(format!("source {src}")),
        StepError::Destination(e) => {
            anyhow::Error::new(e).context(format!("promoting {src} to {dst}"))
        }
        StepError::Copy(e) => anyhow::Error::new(e).context(format!("promoting {src} to {dst}")),
        other => other.into(),
    }
}

/// One promotion's outcome, for the report.
struct Outcome {
    copy: Option<CopyReport>,
    plan: Option<serde_json::Value>,
    record: Option<String>,
}

/// The summary line of a promotion.
fn print_promoted(src: &ImageRef, dst: &ImageRef, digest: &Sha256Digest, report: &CopyReport) {
    let (copied, bytes) = report.blobs_with(BlobOutcome::Copied);
    let (skipped, _) = report.blobs_with(BlobOutcome::Skipped);
    let (mounted, _) = report.blobs_with(BlobOutcome::Mounted);
    eprintln!(
        "Promoted {src} ({digest}) to {dst}: blobs {copied} copied ({bytes} bytes), {skipped} already there, {mounted} mounted; manifests {} written, {} already there, {} merged{}",
        report.manifests_with(ManifestOutcome::Written),
        report.manifests_with(ManifestOutcome::Present),
        report.manifests_with(ManifestOutcome::Merged),
        match &report.tag {
            Some(t) => format!("; tag {} → {digest}", t.tag),
            None => String::new(),
        }
    );
    for w in &report.warnings {
        eprintln!("vouch: warning: {w}");
    }
}

pub(crate) async fn promote(args: PromoteArgs) -> Result<()> {
    // What the gate reads of each source (manifest, signatures, attestations) is what the copy
    // reads again: remembered once for the whole run.
    vouch_core::oci::remember_reads(promote_remembering(args)).await
}

async fn promote_remembering(args: PromoteArgs) -> Result<()> {
    if !args.pairs.len().is_multiple_of(2) {
        return Err(UsageError(format!(
            "expected SRC DST pairs, got {} reference(s): {}",
            args.pairs.len(),
            args.pairs.join(" ")
        ))
        .into());
    }
    let policy = crate::commands::policy::load(&args.policy)?;
    let refs = parse_images(&args.pairs)?;
    let pairs: Vec<(ImageRef, ImageRef)> = refs
        .chunks(2)
        .map(|c| Ok((c[0].clone(), lib::canonical_destination(&c[1])?)))
        .collect::<Result<_>>()?;
    let signer: Option<Box<dyn AsyncSigner>> = match &args.attest_key {
        Some(k) if !args.dry_run => Some(match super::kms::reference(k)? {
            // pkcs11:, hashivault://, awskms://: the key stays in its token or service.
            Some(r) => Box::new(vouch_core::kms::RemoteKey::connect(&r).await?),
            None => Box::new(KeySigner::for_images(crate::password::load_signing_key(
                k,
            )?)?),
        }),
        _ => None,
    };
    let cx = lib::Context {
        policy: &policy,
        client: client(&args.registry)?,
        limits: args.registry.limits(),
        now: crate::commands::policy::now()?,
        attachments: attachments_repository()?,
        settle: settle_options(),
        concurrency: COPY_CONCURRENCY,
    };
    let bars = (!args.no_progress && io::stderr().is_terminal()).then(Bars::new);
    let progress: &dyn CopyProgress = match &bars {
        Some(b) => b,
        None => &NoProgress,
    };
    // 1. Every source resolved once and judged.
    let mut promotions = lib::judge_all(&pairs, &cx).await;
    for p in &promotions {
        if let Ok(done) = &p.result {
            print_judged(&p.source, &p.destination, &policy, &done.judged);
        }
    }
    let allowed: Vec<Sha256Digest> = promotions
        .iter()
        .filter_map(|p| {
            p.result
                .as_ref()
                .ok()?
                .judged
                .admission()
                .map(|a| *a.digest())
        })
        .collect();
    if !allowed.is_empty() {
        test_pause(&allowed).await?;
    }
    // 2. The admitted images planned (dry run), or copied in one batch and recorded.
    let opts = BatchOptions {
        dry_run: args.dry_run,
        signer: signer.as_deref(),
    };
    lib::complete(&mut promotions, opts, &cx, progress).await;
    let mut plans = Vec::new();
    for p in &promotions {
        let plan = match &p.result {
            Ok(done) => match (&done.plan, &done.copy) {
                (Some(plan), _) => Some(print_plan(&p.source, &p.destination, &done.judged, plan)),
                (None, Some(report)) => {
                    print_promoted(
                        &p.source,
                        &p.destination,
                        &done.judged.source.digest,
                        report,
                    );
                    None
                }
                (None, None) => None,
            },
            Err(_) => None,
        };
        plans.push(plan);
    }
    for p in &promotions {
        if let Ok(Promoted {
            record: Some((name, outcome)),
            ..
        }) = &p.result
        {
            print_record(name, *outcome);
        }
    }
    report(&args, &policy, promotions, plans, &cx.client)
}

/// The JSON report and the exit status.
fn report(
    args: &PromoteArgs,
    policy: &Policy,
    promotions: Vec<Promotion>,
    plans: Vec<Option<serde_json::Value>>,
    client: &vouch_core::oci::registry::RegistryClient,
) -> Result<()> {
    let mut done: Vec<(ImageRef, ImageRef, Verdict, Outcome)> = Vec::new();
    let mut first_err = None;
    for (p, plan) in promotions.into_iter().zip(plans) {
        match p.result {
            Ok(o) => done.push((
                p.source,
                p.destination,
                o.judged.decision.verdict().clone(),
                Outcome {
                    copy: o.copy,
                    plan,
                    record: o.record.map(|(name, _)| name),
                },
            )),
            Err(e) => {
                let e = step_error(e, &p.source, &p.destination);
                eprintln!("vouch: {}: {e:#}", p.source);
                first_err.get_or_insert(e);
            }
        }
    }
    if args.output == Output::Json {
        let doc = serde_json::json!({
            "policy": {"path": policy.source(), "digest": policy.digest().to_string()},
            "dryRun": args.dry_run,
            "promoted": done.iter().all(|o| o.2.allowed) && first_err.is_none(),
            "promotions": done.iter().map(|(src, dst, v, o)| serde_json::json!({
                "source": src.to_string(),
                "destination": dst.to_string(),
                "digest": v.digest,
                "allowed": v.allowed,
                "failures": v.failures().map(|c| c.code).collect::<Vec<_>>(),
                "verdict": v,
                "copy": o.copy,
                "plan": o.plan,
                "record": o.record,
            })).collect::<Vec<_>>(),
            "requests": crate::args::requests_json(client),
        });
        writeln!(io::stdout(), "{doc}")?;
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let denied = done.iter().filter(|o| !o.2.allowed).count();
    if denied > 0 {
        return Err(VerificationFailed(format!(
            "{denied} of {} image(s) denied by {}: not promoted",
            done.len(),
            policy.source()
        ))
        .into());
    }
    Ok(())
}
