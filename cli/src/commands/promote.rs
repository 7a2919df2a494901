//! `vouch promote --policy P SRC DST`: resolve SRC to a digest once, judge that digest by the
//! policy, and only if it is allowed copy exactly that digest — manifests, blobs, signatures,
//! attestations and referrers — to DST, tagging DST last.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use futures_util::stream::{self, StreamExt};
use vouch_core::copy::{
    BlobOutcome, BlobRecord, CopyJob, CopyOptions, CopyProgress, CopyReport, ManifestOutcome,
    NoProgress, copy_images, plan_copy,
};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::layout::Layout;
use vouch_core::oci::manifest::Descriptor;
use vouch_core::oci::reference::{ImageRef, LayoutRef};
use vouch_core::oci::registry::{Access, RegistryClient};
use vouch_core::oci::{OciLimits, ResolvedImage, Target, resolve};
use vouch_core::payload::dsse::{Envelope, sign_pae};
use vouch_core::payload::intoto::{INTOTO_PAYLOAD_TYPE, Statement, Subject};
use vouch_verify::policy::{Policy, Verdict};

use crate::commands::blob::Output;
use crate::commands::image::{RegistryArgs, attachment_target_of, client, settle_options};
use crate::exit::{UsageError, VerificationFailed};

/// The predicate type of vouch's promotion record (see docs/promotion.md).
pub(crate) const PROMOTION_PREDICATE: &str = "https://vouch.dev/attestation/promotion/v1";

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

/// One promotion's outcome.
struct Outcome {
    source: String,
    destination: String,
    verdict: Verdict,
    copy: Option<CopyReport>,
    plan: Option<serde_json::Value>,
    record: Option<String>,
}

/// Progress bars, one per blob in flight, when stderr is a terminal.
struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<std::collections::BTreeMap<Sha256Digest, indicatif::ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        Self {
            multi: indicatif::MultiProgress::new(),
            bars: Mutex::new(Default::default()),
        }
    }
}

impl CopyProgress for Bars {
    fn blob_started(&self, desc: &Descriptor) {
        let bar = self.multi.add(indicatif::ProgressBar::new(desc.size));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:19} [{bar:30}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let hex = desc.digest.to_string();
        bar.set_message(hex.get(..19).unwrap_or(&hex).to_owned());
        if let Ok(mut b) = self.bars.lock() {
            b.insert(desc.digest, bar);
        }
    }
    fn blob_bytes(&self, digest: &Sha256Digest, bytes: u64) {
        if let Ok(b) = self.bars.lock()
            && let Some(bar) = b.get(digest)
        {
            bar.inc(bytes);
        }
    }
    fn blob_done(&self, record: &BlobRecord) {
        if let Ok(mut b) = self.bars.lock()
            && let Some(bar) = b.remove(&record.digest)
        {
            let what = match record.outcome {
                BlobOutcome::Copied => "copied",
                BlobOutcome::Skipped => "already there",
                BlobOutcome::Mounted => "mounted",
            };
            bar.set_position(record.size);
            bar.finish_with_message(format!(
                "{} {what}",
                record.digest.to_string().get(..19).unwrap_or_default()
            ));
        }
    }
    fn blob_failed(&self, digest: &Sha256Digest) {
        if let Ok(mut b) = self.bars.lock()
            && let Some(bar) = b.remove(digest)
        {
            bar.abandon();
        }
    }
}

/// The destination: where to write, and the tag to write last.
fn destination(dst: &ImageRef, client: &Arc<RegistryClient>) -> Result<(Target, Option<String>)> {
    Ok(match dst {
        ImageRef::Registry(r) => (Target::registry(client.clone(), r), r.tag.clone()),
        ImageRef::Layout(l) => (
            Target::Layout(
                Layout::open_or_create(&l.dir)
                    .with_context(|| format!("destination layout {}", l.dir.display()))?,
            ),
            l.tag.clone(),
        ),
    })
}

/// The destination as it is judged and written, computed once: a layout's directory is its
/// canonical path (`vouch_core::oci::layout::canonical_dir`), so `oci:/x/staging/../prod/app`
/// or a symlinked folder is judged under the name of the folder the image lands in, and the
/// writer opens exactly that path. A registry reference is already canonical.
fn canonical_destination(dst: &ImageRef) -> Result<ImageRef> {
    Ok(match dst {
        ImageRef::Layout(l) => ImageRef::Layout(LayoutRef {
            dir: vouch_core::oci::layout::canonical_dir(&l.dir)
                .with_context(|| format!("destination {dst}"))?,
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

fn dst_digest(dst: &ImageRef) -> Option<Sha256Digest> {
    match dst {
        ImageRef::Registry(r) => r.digest,
        ImageRef::Layout(l) => l.digest,
    }
}

/// A test hook (`VOUCH_TEST_PAUSE_AFTER_VERIFY=DIR`): after the verdicts and before any copy,
/// write `DIR/verified` (the allowed digests, one per line) and wait for `DIR/continue`, so a
/// test can move a source tag in between and show that what was verified is what is copied.
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

/// The promotion record: an in-toto statement about the promoted digest, signed, attached to
/// the destination as a cosign 3 bundle referrer.
async fn attach_record(
    key: &vouch_core::keys::SigningKey,
    dst: &ImageRef,
    source: &ResolvedImage,
    policy: &Policy,
    verdict: &Verdict,
    client: &Arc<RegistryClient>,
    limits: &OciLimits,
) -> Result<String> {
    let digest = &source.digest;
    // The destination image, read back by digest (and so checked against it).
    let pinned: ImageRef = match dst {
        ImageRef::Registry(r) => {
            let mut r = r.clone();
            r.tag = None;
            r.digest = Some(*digest);
            ImageRef::Registry(r)
        }
        ImageRef::Layout(l) => {
            let mut l = l.clone();
            l.tag = None;
            l.digest = Some(*digest);
            ImageRef::Layout(l)
        }
    };
    let resolved = resolve(&pinned, client, Access::Push, limits).await?;
    let now = vouch_core::predicate::rfc3339(std::time::SystemTime::now());
    let predicate = serde_json::json!({
        "source": {"reference": source.reference.to_string(), "name": source.identity, "digest": source.digest.to_string()},
        "destination": {"reference": dst.to_string(), "name": resolved.identity, "digest": digest.to_string()},
        "policy": {"path": policy.source(), "digest": policy.digest().to_string()},
        "verdict": {
            "allowed": verdict.allowed,
            "checks": verdict.checks.len(),
            "warnings": verdict.warnings().map(|c| c.code).collect::<Vec<_>>(),
        },
        "promotedAt": now,
        "promoter": {"name": "vouch", "version": env!("CARGO_PKG_VERSION")},
    });
    let predicate = serde_json::to_vec(&predicate)?;
    let subject = Subject::sha256(Some(resolved.identity.clone()), digest);
    let statement = Statement::encode_raw(&[subject], PROMOTION_PREDICATE, &predicate);
    let sig = sign_pae(key, INTOTO_PAYLOAD_TYPE, &statement)?;
    let envelope = Envelope::new(INTOTO_PAYLOAD_TYPE, statement, sig.as_der().to_vec());
    let bundle = vouch_core::bundle::Bundle::dsse_v03(&key.public_key(), &envelope);
    let name = format!("{}@{}", resolved.identity, digest);
    crate::commands::attest::attach_bundle(
        &resolved,
        Bytes::from(bundle),
        PROMOTION_PREDICATE,
        limits,
        &name,
        "Recorded the promotion on",
    )
    .await?;
    Ok(name)
}

/// A source resolved once and judged.
struct Judged {
    resolved: ResolvedImage,
    outcome: Outcome,
}

/// Resolves `src` once and judges that digest; from here on only the digest.
async fn judge_one(
    src: &ImageRef,
    dst: &ImageRef,
    policy: &Policy,
    client: &Arc<RegistryClient>,
    limits: &OciLimits,
    now: i64,
) -> Result<Judged> {
    let resolved = resolve(src, client, Access::Pull, limits)
        .await
        .with_context(|| format!("source {src}"))?;
    let digest = resolved.digest;
    if let Some(d) = dst_digest(dst)
        && d != digest
    {
        return Err(UsageError(format!(
            "the destination names {d}, but the source is {digest}: give the destination a tag or no reference"
        ))
        .into());
    }
    // The verdict on that digest under the name it will have at the destination: the gate
    // guards what enters DST, as an admission controller guards what runs there.
    let verdict = crate::commands::policy::judge(
        policy,
        &judged_name(dst),
        &digest,
        &resolved.target,
        client,
        limits,
        now,
    )
    .await
    .with_context(|| format!("source {src}"))?;
    crate::commands::policy::print_text(&src.to_string(), policy, &verdict);
    if !verdict.allowed {
        eprintln!("Not promoted: {src} ({digest}) was denied; nothing was written to {dst}");
    }
    Ok(Judged {
        resolved,
        outcome: Outcome {
            source: src.to_string(),
            destination: dst.to_string(),
            verdict,
            copy: None,
            plan: None,
            record: None,
        },
    })
}

/// What would be copied (`--dry-run`).
async fn dry_run(
    src: &ImageRef,
    dst: &ImageRef,
    judged: &mut Judged,
    opts: &CopyOptions,
) -> Result<()> {
    let digest = judged.resolved.digest;
    let plan = plan_copy(&judged.resolved.target, &digest, opts)
        .await
        .with_context(|| format!("source {src}"))?;
    let blobs = plan.blobs().count();
    let manifests = plan.manifests();
    eprintln!(
        "Would promote {src} ({digest}) to {dst}: {} manifest(s) (image and attachments), {blobs} blob(s), {} bytes at most (dry run: nothing written)",
        manifests.len(),
        plan.total_bytes()
    );
    judged.outcome.plan = Some(serde_json::json!({
        "digest": digest.to_string(),
        "manifests": manifests.iter().map(|(d, role, subject)| serde_json::json!({
            "digest": d.to_string(),
            "role": role,
            "subject": subject.map(|s| s.to_string()),
        })).collect::<Vec<_>>(),
        "blobs": plan.blobs().map(|b| serde_json::json!({"digest": b.digest.to_string(), "size": b.size})).collect::<Vec<_>>(),
        "totalBytes": plan.total_bytes(),
        "warnings": plan.warnings(),
    }));
    Ok(())
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
    let limits = args.registry.limits();
    let refs = crate::commands::image::parse_images(&args.pairs)?;
    // Each destination in the one form that is both judged and written.
    let pairs: Vec<(ImageRef, ImageRef)> = refs
        .chunks(2)
        .map(|c| Ok((c[0].clone(), canonical_destination(&c[1])?)))
        .collect::<Result<_>>()?;
    let key = match &args.attest_key {
        Some(k) if !args.dry_run => {
            let key = crate::password::load_signing_key(k)?;
            key.check_image_signing()?;
            Some(key)
        }
        _ => None,
    };
    let client = client(&args.registry)?;
    let now = crate::commands::policy::now()?;
    let bars = (!args.no_progress && io::stderr().is_terminal()).then(Bars::new);
    let progress: &dyn CopyProgress = match &bars {
        Some(b) => b,
        None => &NoProgress,
    };
    // 1. Every source resolved once and judged.
    let judged: Vec<Result<Judged>> = stream::iter(&pairs)
        .map(|(src, dst)| judge_one(src, dst, &policy, &client, &limits, now))
        .buffered(PROMOTIONS_AT_ONCE)
        .collect()
        .await;
    let mut judged: Vec<Result<Judged>> = judged;
    let allowed: Vec<Sha256Digest> = judged
        .iter()
        .filter_map(|j| j.as_ref().ok())
        .filter(|j| j.outcome.verdict.allowed)
        .map(|j| j.resolved.digest)
        .collect();
    if !allowed.is_empty() {
        test_pause(&allowed).await?;
    }
    let settle = settle_options();
    let source_opts = |j: &Judged| -> Result<CopyOptions> {
        Ok(CopyOptions {
            limits,
            settle,
            concurrency: COPY_CONCURRENCY,
            source_attachments: Some(attachment_target_of(&j.resolved.target, &client)?),
            ..CopyOptions::default()
        })
    };
    if args.dry_run {
        // 2. What would be copied.
        let planned: Vec<Result<()>> = stream::iter(pairs.iter().zip(judged.iter_mut()))
            .map(|((src, dst), j)| async move {
                let Ok(j) = j else { return Ok(()) };
                if !j.outcome.verdict.allowed {
                    return Ok(());
                }
                let opts = source_opts(j)?;
                dry_run(src, dst, j, &opts).await
            })
            .buffered(PROMOTIONS_AT_ONCE)
            .collect()
            .await;
        for (j, p) in judged.iter_mut().zip(planned) {
            if let (Ok(_), Err(e)) = (&j, p) {
                *j = Err(e);
            }
        }
    } else {
        // 2. The allowed images, copied in one batch: exactly the digests judged; every
        // destination tag last. Denied ones are left alone.
        let mut jobs = Vec::new();
        let mut job_of = Vec::new();
        for (i, ((src, dst), j)) in pairs.iter().zip(judged.iter_mut()).enumerate() {
            let Ok(jd) = j else { continue };
            if !jd.outcome.verdict.allowed {
                continue;
            }
            let job = (|| -> Result<CopyJob> {
                let (destination, tag) = destination(dst, &client)?;
                Ok(CopyJob {
                    source: jd.resolved.target.clone(),
                    digest: jd.resolved.digest,
                    source_attachments: Some(attachment_target_of(&jd.resolved.target, &client)?),
                    destination_attachments: Some(attachment_target_of(&destination, &client)?),
                    destination,
                    tag,
                })
            })();
            match job {
                Ok(job) => {
                    jobs.push(job);
                    job_of.push(i);
                }
                Err(e) => *j = Err(e.context(format!("promoting {src} to {dst}"))),
            }
        }
        let opts = CopyOptions {
            limits,
            settle,
            concurrency: COPY_CONCURRENCY,
            ..CopyOptions::default()
        };
        let reports = copy_images(&jobs, &opts, progress).await;
        for (i, report) in job_of.iter().zip(reports) {
            let (src, dst) = &pairs[*i];
            let Some(slot) = judged.get_mut(*i) else {
                continue;
            };
            match report {
                Ok(report) => {
                    if let Ok(j) = slot {
                        print_promoted(src, dst, &j.resolved.digest, &report);
                        j.outcome.copy = Some(report);
                    }
                }
                Err(e) => {
                    *slot = Err(anyhow::Error::new(e).context(format!("promoting {src} to {dst}")));
                }
            }
        }
        // 3. The promotion records.
        if let Some(key) = key.as_ref() {
            let records: Vec<Result<()>> = stream::iter(pairs.iter().zip(judged.iter_mut()))
                .map(|((_, dst), j)| {
                    let (client, limits, policy) = (&client, &limits, &policy);
                    async move {
                        let Ok(j) = j else { return Ok(()) };
                        if j.outcome.copy.is_none() {
                            return Ok(());
                        }
                        let name = attach_record(
                            key,
                            dst,
                            &j.resolved,
                            policy,
                            &j.outcome.verdict,
                            client,
                            limits,
                        )
                        .await
                        .with_context(|| format!("promotion record on {dst}"))?;
                        j.outcome.record = Some(name);
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
    let outcomes: Vec<Result<Outcome>> = judged.into_iter().map(|j| j.map(|j| j.outcome)).collect();
    let mut done = Vec::new();
    let mut first_err = None;
    for ((src, _), o) in pairs.iter().zip(outcomes) {
        match o {
            Ok(o) => done.push(o),
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
            "promoted": done.iter().all(|o| o.verdict.allowed) && first_err.is_none(),
            "promotions": done.iter().map(|o| serde_json::json!({
                "source": o.source,
                "destination": o.destination,
                "digest": o.verdict.digest,
                "allowed": o.verdict.allowed,
                "failures": o.verdict.failures().map(|c| c.code).collect::<Vec<_>>(),
                "verdict": o.verdict,
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
    let denied = done.iter().filter(|o| !o.verdict.allowed).count();
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
