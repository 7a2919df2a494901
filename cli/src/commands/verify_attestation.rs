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
    let mut out = vec![b'['];
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
            let attestations = atts
                .verified
                .iter()
                .map(|a| {
                    Ok(JsonAttestation {
                        predicate_type: a.predicate_type(),
                        layer: a.layer().to_string(),
                        key: a.key_hint(),
                        statement: serde_json::from_slice(a.statement_bytes())
                            .context("a verified statement that is not JSON")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let entry = JsonImage {
                image: image.to_string(),
                digest: atts.digest.to_string(),
                verified: atts.ok(),
                attestations,
            };
            push_json_image(&mut out, n, &entry)?;
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

/// One image in `--output json`.
#[derive(serde::Serialize)]
struct JsonImage<'a> {
    image: String,
    digest: String,
    verified: bool,
    attestations: Vec<JsonAttestation<'a>>,
}

/// One verified attestation in `--output json`: the statement as signed (borrowed, not
/// re-encoded: it can be a 100 MB SBOM).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonAttestation<'a> {
    predicate_type: &'a str,
    layer: String,
    /// The key's hint, or the keyless certificate identity (a SAN: any string).
    key: &'a str,
    statement: &'a serde_json::value::RawValue,
}

/// Appends the `n`th element of the `--output json` array (compact; written image by image, so
/// only one image's statements are held at a time).
fn push_json_image(out: &mut Vec<u8>, n: usize, image: &JsonImage<'_>) -> Result<()> {
    if n > 0 {
        out.push(b',');
    }
    serde_json::to_writer(&mut *out, image)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_a_keyless_identity_and_keeps_the_statement() -> Result<()> {
        let statement = br#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":[1,2]}}"#;
        let images = [JsonImage {
            image: "registry.example/app:1".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            verified: true,
            attestations: vec![JsonAttestation {
                predicate_type: "https://slsa.dev/provenance/v1",
                layer: format!("sha256:{}", "b".repeat(64)),
                key: r#"dev"ops\team@example.com"#,
                statement: serde_json::from_slice(statement)?,
            }],
        }];
        let mut out = vec![b'['];
        for (n, image) in images.iter().enumerate() {
            push_json_image(&mut out, n, image)?;
        }
        out.push(b']');
        let v: serde_json::Value = serde_json::from_slice(&out)?;
        assert_eq!(
            v[0]["attestations"][0]["key"],
            r#"dev"ops\team@example.com"#
        );
        assert_eq!(
            v[0]["attestations"][0]["predicateType"],
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(v[0]["verified"], true);
        let text = String::from_utf8(out)?;
        assert!(text.contains(
            r#""statement":{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":[1,2]}}"#
        ));
        Ok(())
    }
}
