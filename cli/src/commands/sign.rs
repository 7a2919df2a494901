//! `vouch sign`: cosign image signatures (a bundle referrer, or the legacy `.sig` tag).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use futures_util::stream::{self, StreamExt};
use vouch_core::cosign::AttachOutcome;
use vouch_core::oci::registry::Access;
use vouch_core::oci::resolve;
use vouch_core::sign::{SignJob, SignatureFormat, sign_images};

use super::keyless::{Trust, image_signer};
use crate::args::{
    CONCURRENCY, Format, KeylessArgs, Output, RegistryArgs, attachment_target, client,
    parse_annotations, parse_images, requests_json, settle_options, with_children,
};
use crate::exit::UsageError;

/// Keyless signatures made at once (each a timestamp and a Rekor entry).
const KEYLESS_CONCURRENCY: usize = 8;

#[derive(Args)]
pub(crate) struct SignArgs {
    /// Encrypted private key (cosign's format). Without it, vouch signs keylessly: one Fulcio
    /// certificate for the run, a timestamp and a Rekor entry per signature.
    #[arg(long, short = 'k', value_name = "KEY")]
    key: Option<PathBuf>,
    #[command(flatten)]
    keyless: KeylessArgs,
    /// Annotation to put in the signed payload's `optional` map.
    #[arg(long = "annotations", short = 'a', value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Also sign every platform manifest of an image index.
    #[arg(long)]
    recursive: bool,
    /// Storage format: `bundle` (cosign 3's default: a sigstore bundle referrer; key-signed
    /// bundles are offline, with no transparency-log entry) or `legacy` (`.sig`/`.att` tags;
    /// keyless material in cosign's annotations).
    #[arg(long, value_enum, default_value = "bundle")]
    format: Format,
    /// Result format: `json` prints on stdout each image's outcome and the registry requests
    /// the run sent.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Images: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

pub(crate) async fn sign(args: SignArgs) -> Result<()> {
    let limits = args.registry.limits();
    let images = parse_images(&args.images)?;
    let annotations = parse_annotations(&args.annotations)?;
    if args.format == Format::Bundle && !annotations.is_empty() {
        return Err(UsageError(
            "annotations (-a) are only written in the .sig tag format: add --format legacy".into(),
        )
        .into());
    }
    let trust = Trust::load(
        args.key.as_ref(),
        &args.keyless,
        args.format == Format::Legacy,
    )?;
    let client = client(&args.registry)?;

    // Resolve every reference once; from here on only digests are used.
    let resolved: Vec<_> = stream::iter(&images)
        .map(|i| resolve(i, &client, Access::Push, &limits))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut jobs = Vec::new();
    for (image, r) in images.iter().zip(resolved) {
        let r = r.with_context(|| format!("{image}"))?;
        if r.by_tag {
            eprintln!(
                "vouch: warning: {image} is a tag; signing the digest it names now, {} (sign by digest to be sure what you sign)",
                r.digest
            );
        }
        let attachments = attachment_target(&r, &client)?;
        for image in with_children(r, args.recursive, &limits).await? {
            jobs.push(SignJob {
                image,
                attachments: attachments.clone(),
            });
        }
    }
    let format = match args.format {
        Format::Bundle => SignatureFormat::Bundle,
        Format::Legacy => SignatureFormat::Legacy,
    };
    // The key (or the keyless certificate) only once the images are known.
    let signer = image_signer(args.key.as_ref(), &args.keyless, trust.as_ref()).await?;
    let concurrency = match args.key {
        Some(_) => CONCURRENCY,
        None => KEYLESS_CONCURRENCY,
    };
    let results = sign_images(
        signer.as_ref(),
        &jobs,
        format,
        &annotations,
        settle_options(),
        &limits,
        concurrency,
    )
    .await?;
    let mut first_err = None;
    let mut report = Vec::new();
    for (name, result) in results {
        let outcome = match result {
            Ok(AttachOutcome::Added) => {
                eprintln!("Signed {name}");
                serde_json::json!({"image": name, "outcome": "added"})
            }
            Ok(AttachOutcome::AlreadyPresent) => {
                eprintln!("Already signed with this key and payload: {name}");
                serde_json::json!({"image": name, "outcome": "alreadyPresent"})
            }
            Err(e) => {
                eprintln!("vouch: {name}: {e}");
                let doc =
                    serde_json::json!({"image": name, "outcome": "error", "error": e.to_string()});
                first_err.get_or_insert(anyhow::Error::from(e).context(name));
                doc
            }
        };
        report.push(outcome);
    }
    if args.output == Output::Json {
        let doc = serde_json::json!({"images": report, "requests": requests_json(&client)});
        writeln!(std::io::stdout(), "{doc}")?;
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
