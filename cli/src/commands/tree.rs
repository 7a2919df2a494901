//! `vouch tree`: what is attached to an image.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::Args;
use vouch_core::cosign::{Attachment, read_attached};
use vouch_core::oci::reference::ImageRef;
use vouch_core::oci::registry::Access;
use vouch_core::oci::resolve;

use crate::args::{Output, RegistryArgs, attachment_target, client};

#[derive(Args)]
pub(crate) struct TreeArgs {
    /// Result format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE")]
    image: String,
}

pub(crate) async fn tree(args: TreeArgs) -> Result<()> {
    use vouch_core::referrers::PREDICATE_TYPE_ANNOTATION as BUNDLE_PREDICATE;
    let limits = args.registry.limits();
    let image: ImageRef = args.image.parse()?;
    let client = client(&args.registry)?;
    let resolved = resolve(&image, &client, Access::Pull, &limits)
        .await
        .with_context(|| format!("{image}"))?;
    let target = attachment_target(&resolved, &client)?;
    // (title, format, where, entries)
    let mut sections = Vec::new();
    for (attachment, title) in [
        (Attachment::Signatures, "signatures"),
        (Attachment::Attestations, "attestations"),
        (Attachment::Sbom, "sboms"),
    ] {
        let tag = attachment.tag(&resolved.digest);
        let layers = match read_attached(&target, &tag, Access::Pull, &limits).await? {
            Some((_, m)) => m.layers,
            None => Vec::new(),
        };
        sections.push((title, "tag", format!("tag {tag}"), layers));
    }
    let referrers = resolved
        .target
        .referrers(&resolved.digest, None, Access::Pull, limits.manifest)
        .await?;
    // Notary Project signatures as verification reads them (also a layout's untagged
    // index.json entries, and the older form typed by its config).
    let notary: Vec<_> = vouch_verify::notary::notary_referrers(
        &resolved.target,
        &resolved.digest,
        &limits,
        &vouch_core::notary::envelope::NotaryLimits::DEFAULT,
    )
    .await?
    .into_iter()
    .map(|r| {
        let mut d = r.manifest;
        d.artifact_type
            .get_or_insert_with(|| vouch_core::notary::envelope::ARTIFACT_TYPE.to_owned());
        d
    })
    .collect();
    let referrers: Vec<_> = referrers
        .into_iter()
        .filter(|d| !notary.iter().any(|n| n.digest == d.digest))
        .collect();
    sections.push((
        "referrers",
        "referrer",
        "cosign 3 bundles and other OCI 1.1 referrers".to_owned(),
        referrers,
    ));
    sections.push((
        "notary signatures",
        "notary",
        "Notary Project signatures, OCI 1.1 referrers".to_owned(),
        notary,
    ));
    let predicate = |d: &vouch_core::oci::manifest::Descriptor| {
        d.annotations
            .get("predicateType")
            .or_else(|| d.annotations.get(BUNDLE_PREDICATE))
            .cloned()
    };
    if args.output == Output::Json {
        let doc = serde_json::json!({
            "image": image.to_string(),
            "digest": resolved.digest.to_string(),
            "attachments": sections.iter().map(|(title, format, place, entries)| serde_json::json!({
                "kind": title,
                "format": format,
                "where": place,
                "entries": entries.iter().map(|l| serde_json::json!({
                    "digest": l.digest.to_string(),
                    "mediaType": l.media_type,
                    "artifactType": l.artifact_type,
                    "size": l.size,
                    "predicateType": predicate(l),
                    "keyless": l.annotations.contains_key(vouch_core::cosign::CERTIFICATE_ANNOTATION),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        writeln!(io::stdout(), "{doc}")?;
        return Ok(());
    }
    let mut out = String::new();
    out.push_str(&format!("{}@{}\n", resolved.identity, resolved.digest));
    let n = sections.len();
    for (i, (title, _, place, entries)) in sections.iter().enumerate() {
        let (branch, pipe) = if i + 1 == n {
            ("└──", "    ")
        } else {
            ("├──", "│   ")
        };
        out.push_str(&format!("{branch} {title}: {} ({place})\n", entries.len()));
        for (j, l) in entries.iter().enumerate() {
            let leaf = if j + 1 == entries.len() {
                "└──"
            } else {
                "├──"
            };
            let detail = match predicate(l) {
                Some(p) => format!("predicateType {p}"),
                None if l
                    .annotations
                    .contains_key(vouch_core::cosign::CERTIFICATE_ANNOTATION) =>
                {
                    format!("{} (keyless)", l.media_type)
                }
                None => l
                    .artifact_type
                    .clone()
                    .unwrap_or_else(|| l.media_type.clone()),
            };
            out.push_str(&format!("{pipe}{leaf} {} {detail}\n", l.digest));
        }
    }
    io::stdout().write_all(out.as_bytes())?;
    Ok(())
}
