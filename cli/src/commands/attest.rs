//! `vouch attest`: a signed in-toto statement (DSSE) in a bundle referrer or the `.att` tag.

use std::path::PathBuf;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use vouch_core::cosign::{AttachOutcome, AttachRequest, Attachment, attach_all};
use vouch_core::keys::files::{ReadError, read_bounded};
use vouch_core::oci::registry::Access;
use vouch_core::oci::resolve;
use vouch_core::payload::intoto::Subject;
use vouch_core::predicate::{self, VULN, check_predicate};
use vouch_core::scan;
use vouch_core::sign::{attach_bundle, sign_statement_async};

use super::keyless::{Trust, image_signer};
use crate::args::{
    Format, KeylessArgs, Output, RegistryArgs, attachment_target, client, parse_images,
    requests_json, settle_options,
};
use crate::exit::UsageError;

/// The largest predicate file read (an SBOM; the envelope is a third larger).
const PREDICATE_LIMIT: usize = 192 << 20;

#[derive(Args)]
pub(crate) struct AttestArgs {
    /// Encrypted private key (cosign's format). Without it, vouch attests keylessly (a Fulcio
    /// certificate, a timestamp and a Rekor `dsse` entry).
    #[arg(long, short = 'k', value_name = "KEY")]
    key: Option<PathBuf>,
    #[command(flatten)]
    keyless: KeylessArgs,
    /// Predicate type: slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson,
    /// cyclonedx, vuln, openvex, custom, link, or a URI.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    kind: String,
    /// The predicate (JSON). With `--type vuln`: a Trivy or Grype JSON report, a SARIF 2.1.0
    /// log from either, or a cosign vuln predicate.
    #[arg(long, value_name = "FILE")]
    predicate: PathBuf,
    /// Drop existing attestations of the same predicate type.
    #[arg(long)]
    replace: bool,
    /// When the scan finished (RFC 3339), for reports that do not say.
    #[arg(long, value_name = "TIME")]
    scan_finished_on: Option<String>,
    /// Storage format: `bundle` (cosign 3's default: a sigstore bundle referrer; key-signed
    /// bundles are offline, with no transparency-log entry) or `legacy` (`.sig`/`.att` tags).
    #[arg(long, value_enum, default_value = "bundle")]
    format: Format,
    /// Result format: `json` prints on stdout the outcome and the registry requests the run
    /// sent.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE")]
    image: String,
}

/// The predicate bytes to attest: scanner reports imported, SBOMs checked against the type.
fn predicate_bytes(args: &AttestArgs, predicate_type: &str) -> Result<Vec<u8>> {
    let bytes =
        read_bounded(&args.predicate, "the predicate", PREDICATE_LIMIT).map_err(|e| match e {
            ReadError::Io(e) => anyhow::Error::new(e).context(format!(
                "cannot read the predicate {}",
                args.predicate.display()
            )),
            ReadError::TooLarge(t) => {
                UsageError(format!("{}: {t}", args.predicate.display())).into()
            }
        })?;
    let name = args.predicate.display();
    if predicate_type == VULN {
        let now = predicate::rfc3339(std::time::SystemTime::now());
        let imported = scan::import(&bytes, args.scan_finished_on.as_deref(), &now)
            .with_context(|| format!("{name}"))?;
        if !imported.normalized {
            eprintln!(
                "Imported {name} as a cosign vuln predicate whose scanner.result is no report vouch \
                 reads: attested as it is, with no findings; a policy with vulnerability \
                 conditions will fail it"
            );
            return Ok(serde_json::to_vec(&imported.predicate)?);
        }
        let counts: Vec<String> = imported
            .counts()
            .iter()
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        eprintln!(
            "Imported {name} as a {} report: {} finding(s){}",
            imported.format.name(),
            imported.findings.len(),
            if counts.is_empty() {
                String::new()
            } else {
                format!(" ({})", counts.join(", "))
            }
        );
        return Ok(serde_json::to_vec(&imported.predicate)?);
    }
    check_predicate(predicate_type, &bytes).with_context(|| format!("{name}"))?;
    Ok(bytes)
}

pub(crate) async fn attest(args: AttestArgs) -> Result<()> {
    let limits = args.registry.limits();
    let predicate_type = predicate::predicate_type(&args.kind)?;
    let image = parse_images(std::slice::from_ref(&args.image))?.remove(0);
    let predicate = predicate_bytes(&args, &predicate_type)?;
    let trust = Trust::load(
        args.key.as_ref(),
        &args.keyless,
        args.format == Format::Legacy,
    )?;
    let client = client(&args.registry)?;
    let resolved = resolve(&image, &client, Access::Push, &limits)
        .await
        .with_context(|| format!("{image}"))?;
    if resolved.by_tag {
        eprintln!(
            "vouch: warning: {image} is a tag; attesting the digest it names now, {}",
            resolved.digest
        );
    }
    let subject = Subject::sha256(Some(resolved.identity.clone()), &resolved.digest);
    let signer = image_signer(args.key.as_ref(), &args.keyless, trust.as_ref()).await?;
    let signed =
        sign_statement_async(signer.as_ref(), &[subject], &predicate_type, &predicate).await?;
    drop(predicate);
    let name = format!("{}@{}", resolved.identity, resolved.digest);
    if args.format == Format::Bundle {
        let bundle = Bytes::from(signed.bundle());
        drop(signed);
        let outcome = attach_bundle(
            &resolved,
            bundle,
            &predicate_type,
            settle_options(),
            &limits,
        )
        .await
        .with_context(|| name.clone())?;
        match outcome {
            AttachOutcome::Added => {
                eprintln!("Attested {name} ({predicate_type}, bundle referrer)")
            }
            AttachOutcome::AlreadyPresent => eprintln!("Already present: {name}"),
        }
        return print_json(args.output, &name, outcome, &client);
    }
    let request = AttachRequest {
        target: attachment_target(&resolved, &client)?,
        image: resolved.digest,
        attachment: Attachment::Attestations,
        layer: signed.legacy_attestation_layer(&predicate_type),
        replace_predicate_type: args.replace.then(|| predicate_type.clone()),
    };
    let outcome = attach_all(std::slice::from_ref(&request), settle_options(), &limits, 1)
        .await
        .remove(0)
        .with_context(|| name.clone())?;
    match outcome {
        AttachOutcome::Added => eprintln!("Attested {name} ({predicate_type})"),
        AttachOutcome::AlreadyPresent => eprintln!("Already attested identically: {name}"),
    }
    print_json(args.output, &name, outcome, &client)
}

/// `--output json`: the outcome and the registry requests the run sent.
fn print_json(
    output: Output,
    name: &str,
    outcome: AttachOutcome,
    client: &vouch_core::oci::registry::RegistryClient,
) -> Result<()> {
    use std::io::Write as _;

    if output == Output::Json {
        let outcome = match outcome {
            AttachOutcome::Added => "added",
            AttachOutcome::AlreadyPresent => "alreadyPresent",
        };
        let doc = serde_json::json!({
            "image": name,
            "outcome": outcome,
            "requests": requests_json(client),
        });
        writeln!(std::io::stdout(), "{doc}")?;
    }
    Ok(())
}
