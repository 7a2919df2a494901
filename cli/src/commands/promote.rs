//! `vouch promote --policy P SRC DST`: resolve SRC to a digest once, judge that digest by the
//! policy, and only if it is allowed copy exactly that digest — manifests, blobs, signatures,
//! attestations and referrers — to DST, tagging DST last.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
#[cfg(debug_assertions)]
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use futures_util::stream::{self, StreamExt};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::reference::ImageRef;
use vouch_core::sign::KeySigner;
use vouch_verify::policy::{Policy, Verdict};
use vouch_verify::promote::copy::{
    BlobOutcome, CopyProgress, CopyReport, ManifestOutcome, NoProgress, copy_images,
};
use vouch_verify::promote::{self as lib, Judged};

use crate::args::{
    Output, RegistryArgs, attachments_repository, client, parse_images, settle_options,
};
use crate::exit::{UsageError, VerificationFailed};
use crate::progress::Bars;

/// Sources resolved and judged at once.
const PROMOTIONS_AT_ONCE: usize = 32;

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
    /// and attach it to the promoted image (predicate https://vouch.dev/attestation/promotion/v1).
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

/// One promotion's outcome, for the report.
struct Outcome {
    copy: Option<CopyReport>,
    plan: Option<serde_json::Value>,
    record: Option<String>,
}

/// Judges one pair, printing the verdict.
async fn judge_one(
    src: &ImageRef,
    dst: &ImageRef,
    policy: &Policy,
    cx: &lib::Context<'_>,
) -> Result<(Judged, Outcome)> {
    let judged = lib::judge(src, dst, cx).await?;
    let verdict = judged.decision.verdict();
    crate::commands::policy::print_text(&src.to_string(), policy, verdict);
    if judged.admission().is_none() {
        eprintln!(
            "Not promoted: {src} ({}) was denied; nothing was written to {dst}",
            judged.source.digest
        );
    }
    Ok((
        judged,
        Outcome {
            copy: None,
            plan: None,
            record: None,
        },
    ))
}

/// What would be copied (`--dry-run`).
async fn dry_run(
    src: &ImageRef,
    dst: &ImageRef,
    judged: &Judged,
    cx: &lib::Context<'_>,
) -> Result<Option<serde_json::Value>> {
    let Some(admission) = judged.admission() else {
        return Ok(None);
    };
    let digest = admission.digest();
    let plan = lib::plan(judged, admission, cx)
        .await
        .with_context(|| format!("source {src}"))?;
    let blobs = plan.blobs().count();
    let manifests = plan.manifests();
    eprintln!(
        "Would promote {src} ({digest}) to {dst}: {} manifest(s) (image and attachments), {blobs} blob(s), {} bytes at most (dry run: nothing written)",
        manifests.len(),
        plan.total_bytes()
    );
    Ok(Some(serde_json::json!({
        "digest": digest.to_string(),
        "manifests": manifests.iter().map(|(d, role, subject)| serde_json::json!({
            "digest": d.to_string(),
            "role": role,
            "subject": subject.map(|s| s.to_string()),
        })).collect::<Vec<_>>(),
        "blobs": plan.blobs().map(|b| serde_json::json!({"digest": b.digest.to_string(), "size": b.size})).collect::<Vec<_>>(),
        "totalBytes": plan.total_bytes(),
        "warnings": plan.warnings(),
    })))
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
    let signer = match &args.attest_key {
        Some(k) if !args.dry_run => Some(KeySigner::for_images(
            crate::password::load_signing_key(k)?,
        )?),
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
    let mut judged: Vec<Result<(Judged, Outcome)>> = stream::iter(&pairs)
        .map(|(src, dst)| judge_one(src, dst, &policy, &cx))
        .buffered(PROMOTIONS_AT_ONCE)
        .collect()
        .await;
    let allowed: Vec<Sha256Digest> = judged
        .iter()
        .filter_map(|j| j.as_ref().ok()?.0.admission().map(|a| *a.digest()))
        .collect();
    if !allowed.is_empty() {
        test_pause(&allowed).await?;
    }
    if args.dry_run {
        // 2. What would be copied.
        let planned: Vec<Result<Option<serde_json::Value>>> =
            stream::iter(pairs.iter().zip(judged.iter()))
                .map(|((src, dst), j)| {
                    let cx = &cx;
                    async move {
                        match j {
                            Ok((j, _)) => dry_run(src, dst, j, cx).await,
                            Err(_) => Ok(None),
                        }
                    }
                })
                .buffered(PROMOTIONS_AT_ONCE)
                .collect()
                .await;
        for (j, p) in judged.iter_mut().zip(planned) {
            match (j.as_mut(), p) {
                (Ok((_, o)), Ok(plan)) => o.plan = plan,
                (Ok(_), Err(e)) => *j = Err(e),
                _ => {}
            }
        }
    } else {
        // 2. The admitted images, copied in one batch: exactly the digests judged; every
        // destination tag last. Denied ones never reach the copy engine.
        let mut jobs = Vec::new();
        let mut job_of = Vec::new();
        let mut job_errors = Vec::new();
        for (i, ((src, dst), j)) in pairs.iter().zip(judged.iter()).enumerate() {
            let Ok((jd, _)) = j else { continue };
            let Some(admission) = jd.admission() else {
                continue;
            };
            match lib::job(jd, admission, &cx) {
                Ok(job) => {
                    jobs.push(job);
                    job_of.push(i);
                }
                Err(e) => job_errors.push((
                    i,
                    anyhow::Error::new(e).context(format!("promoting {src} to {dst}")),
                )),
            }
        }
        let reports = copy_images(&jobs, &cx.copy_options(), progress).await;
        drop(jobs);
        let mut copied: Vec<(usize, Result<CopyReport>)> = job_of
            .into_iter()
            .zip(reports)
            .map(|(i, r)| {
                let (src, dst) = &pairs[i];
                (
                    i,
                    r.map_err(|e| {
                        anyhow::Error::new(e).context(format!("promoting {src} to {dst}"))
                    }),
                )
            })
            .collect();
        copied.extend(job_errors.into_iter().map(|(i, e)| (i, Err(e))));
        for (i, report) in copied {
            let (src, dst) = &pairs[i];
            let Some(slot) = judged.get_mut(i) else {
                continue;
            };
            match report {
                Ok(report) => {
                    if let Ok((j, o)) = slot {
                        print_promoted(src, dst, &j.source.digest, &report);
                        o.copy = Some(report);
                    }
                }
                Err(e) => *slot = Err(e),
            }
        }
        // 3. The promotion records.
        if let Some(signer) = signer.as_ref() {
            let records: Vec<Result<()>> = stream::iter(judged.iter_mut())
                .map(|j| {
                    let cx = &cx;
                    async move {
                        let Ok((j, o)) = j else { return Ok(()) };
                        let (Some(admission), Some(_)) = (j.admission(), &o.copy) else {
                            return Ok(());
                        };
                        let (name, outcome) =
                            lib::record::attach(signer, &j.source, &j.destination, admission, cx)
                                .await?;
                        match outcome {
                            vouch_core::cosign::AttachOutcome::Added => eprintln!(
                                "Recorded the promotion on {name} ({}, bundle referrer)",
                                lib::record::PROMOTION_PREDICATE
                            ),
                            vouch_core::cosign::AttachOutcome::AlreadyPresent => {
                                eprintln!("Already present: {name}")
                            }
                        }
                        o.record = Some(name);
                        Ok(())
                    }
                })
                .buffered(PROMOTIONS_AT_ONCE)
                .collect()
                .await;
            for (j, r) in judged.iter_mut().zip(records) {
                if let (Ok(_), Err(e)) = (&j, r) {
                    *j = Err(e);
                }
            }
        }
    }
    report(&args, &policy, &pairs, judged)
}

/// The JSON report and the exit status.
fn report(
    args: &PromoteArgs,
    policy: &Policy,
    pairs: &[(ImageRef, ImageRef)],
    judged: Vec<Result<(Judged, Outcome)>>,
) -> Result<()> {
    let mut done: Vec<(&ImageRef, &ImageRef, Verdict, Outcome)> = Vec::new();
    let mut first_err = None;
    for ((src, dst), o) in pairs.iter().zip(judged) {
        match o {
            Ok((j, o)) => done.push((src, dst, j.decision.verdict().clone(), o)),
            Err(e) => {
                eprintln!("vouch: {src}: {e:#}");
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
