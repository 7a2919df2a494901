//! `vouch verify-attestation`: an image's attestations against one authority.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::Args;
use futures_util::stream::{self, StreamExt};
use vouch_core::cosign::Attachment;
use vouch_core::oci::Target;
use vouch_core::oci::reference::ImageRef;
use vouch_core::oci::registry::Access;
use vouch_core::oci::resolve;
use vouch_core::predicate::{self};
use vouch_verify::attestation::verify_attestations;

use crate::args::{CONCURRENCY, Output, RegistryArgs, attachment_target_of, client, parse_images};
use crate::exit::VerificationFailed;

#[derive(Args)]
pub(crate) struct VerifyAttestationArgs {
    #[command(flatten)]
    authority: crate::commands::authority::AuthorityArgs,
    /// Only attestations of this predicate type (a name as for `attest`, or a URI).
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
    /// Result format; `json` prints the verified statements.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Images: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

pub(crate) async fn verify_attestation(args: VerifyAttestationArgs) -> Result<()> {
    let limits = args.registry.limits();
    let wanted = args
        .kind
        .as_deref()
        .map(predicate::predicate_type)
        .transpose()?;
    let images = parse_images(&args.images)?;
    let loaded = args.authority.load()?;
    let key = loaded.authority();
    let client = client(&args.registry)?;
    let outcomes: Vec<_> = stream::iter(&images)
        .map(|image| {
            let (client, wanted) = (&client, wanted.as_deref());
            async move {
                // Pinned by digest in a registry: nothing to resolve.
                let (identity, digest, image_target) = match image {
                    ImageRef::Registry(r) if let Some(d) = r.digest => {
                        (r.docker_reference(), d, Target::registry(client.clone(), r))
                    }
                    _ => {
                        let resolved = resolve(image, client, Access::Pull, &limits).await?;
                        (resolved.identity, resolved.digest, resolved.target)
                    }
                };
                let target = attachment_target_of(&image_target, client)?;
                let atts =
                    verify_attestations(&target, &image_target, &digest, key, wanted, &limits)
                        .await?;
                anyhow::Ok((identity, atts))
            }
        })
        .buffered(CONCURRENCY.min(8))
        .collect()
        .await;
    let mut out = Vec::new();
    out.push(b'[');
    let mut failed = 0usize;
    for (n, (image, outcome)) in images.iter().zip(outcomes).enumerate() {
        let (identity, atts) = outcome.with_context(|| format!("{image}"))?;
        let name = format!("{identity}@{}", atts.digest);
        if atts.ok() {
            if args.output == Output::Text {
                for a in &atts.verified {
                    eprintln!(
                        "Verified {name}: {} attestation (layer {})",
                        a.predicate_type(),
                        a.layer()
                    );
                }
            }
        } else {
            failed += 1;
            if !atts.found {
                eprintln!(
                    "vouch: {name}: no attestations found (no {} tag)",
                    Attachment::Attestations.tag(&atts.digest)
                );
            } else {
                eprintln!(
                    "vouch: {name}: no valid attestation{}:",
                    match &wanted {
                        Some(w) => format!(" of type {w}"),
                        None => String::new(),
                    }
                );
            }
            for f in &atts.failures {
                eprintln!("  layer {} ({}): {}", f.index, f.digest, f.reason);
            }
        }
        if args.output == Output::Json {
            // Written piece by piece: a statement can be a 100 MB SBOM.
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(
                format!(
                    r#"{{"image":{},"digest":"{}","verified":{},"attestations":["#,
                    serde_json::Value::from(image.to_string()),
                    atts.digest,
                    atts.ok()
                )
                .as_bytes(),
            );
            for (i, a) in atts.verified.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(
                    format!(
                        r#"{{"predicateType":{},"layer":"{}","key":"{}","statement":"#,
                        serde_json::Value::from(a.predicate_type()),
                        a.layer(),
                        a.key_hint()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(a.statement_bytes());
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
    }
    out.extend_from_slice(b"]\n");
    if args.output == Output::Json {
        io::stdout().write_all(&out)?;
    }
    if failed > 0 {
        return Err(VerificationFailed(format!(
            "{failed} image(s) without a valid attestation for {}",
            loaded.describe()
        ))
        .into());
    }
    Ok(())
}
