//! `attest` and `verify-attestation`: in-toto statements in DSSE envelopes, cosign's `.att` tag.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use futures_util::stream::{self, StreamExt};
use vouch_core::cosign::{
    AttachOutcome, AttachRequest, Attachment, NewLayer, SIGNATURE_ANNOTATION, attach_all,
};
use vouch_core::keys::files::{ReadError, read_bounded};
use vouch_core::oci::registry::Access;
use vouch_core::oci::resolve;
use vouch_core::payload::dsse::{DSSE_MEDIA_TYPE, Envelope, sign_pae};
use vouch_core::payload::intoto::{INTOTO_PAYLOAD_TYPE, Statement, Subject};
use vouch_core::predicate::{self, VULN, check_predicate};
use vouch_core::scan;
use vouch_verify::attestation::{PREDICATE_TYPE_ANNOTATION, verify_attestations};

use crate::commands::blob::Output;
use crate::commands::image::{
    CONCURRENCY, RegistryArgs, attachment_target, attachment_target_of, client, parse_images,
    settle_options,
};
use crate::exit::{UsageError, VerificationFailed};
use crate::password::load_signing_key;
use vouch_core::oci::Target;
use vouch_core::oci::reference::ImageRef;

/// The largest predicate file read (an SBOM; the envelope is a third larger).
const PREDICATE_LIMIT: usize = 192 << 20;

#[derive(Args)]
pub(crate) struct AttestArgs {
    /// Encrypted private key (cosign's format).
    #[arg(long, short = 'k', value_name = "KEY")]
    key: PathBuf,
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
    format: crate::commands::image::Format,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE")]
    image: String,
}

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
    let key = load_signing_key(&args.key)?;
    key.check_image_signing()?;
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
    let statement = Statement::encode_raw(&[subject], &predicate_type, &predicate);
    drop(predicate);
    let sig = sign_pae(&key, INTOTO_PAYLOAD_TYPE, &statement)?;
    let envelope = Envelope::new(INTOTO_PAYLOAD_TYPE, statement, sig.as_der().to_vec());
    if args.format == crate::commands::image::Format::Bundle {
        let bundle = vouch_core::bundle::Bundle::dsse_v03(&key.public_key(), &envelope);
        drop(envelope);
        let name = format!("{}@{}", resolved.identity, resolved.digest);
        return attach_bundle(
            &resolved,
            Bytes::from(bundle),
            &predicate_type,
            &limits,
            &name,
            "Attested",
        )
        .await;
    }
    let envelope = envelope.to_json();
    let request = AttachRequest {
        target: attachment_target(&resolved, &client)?,
        image: resolved.digest,
        attachment: Attachment::Attestations,
        layer: NewLayer {
            media_type: DSSE_MEDIA_TYPE.into(),
            blob: Bytes::from(envelope),
            annotations: BTreeMap::from([
                (PREDICATE_TYPE_ANNOTATION.to_owned(), predicate_type.clone()),
                (SIGNATURE_ANNOTATION.to_owned(), String::new()),
            ]),
        },
        replace_predicate_type: args.replace.then(|| predicate_type.clone()),
    };
    let name = format!("{}@{}", resolved.identity, resolved.digest);
    match attach_all(std::slice::from_ref(&request), settle_options(), &limits, 1)
        .await
        .remove(0)
        .with_context(|| name.clone())?
    {
        AttachOutcome::Added => eprintln!("Attested {name} ({predicate_type})"),
        AttachOutcome::AlreadyPresent => eprintln!("Already attested identically: {name}"),
    }
    Ok(())
}

/// The cosign 3 referrer of `bundle` for `resolved`.
pub(crate) fn referrer_for(
    resolved: &vouch_core::oci::ResolvedImage,
    bundle: Bytes,
    predicate_type: &str,
) -> vouch_core::referrers::Referrer {
    let mut subject = vouch_core::oci::manifest::Descriptor::of(
        &resolved.manifest.media_type,
        &resolved.manifest.bytes,
    );
    if subject.media_type.is_empty() {
        subject.media_type = vouch_core::oci::manifest::OCI_MANIFEST.into();
    }
    let created = predicate::rfc3339(std::time::SystemTime::now());
    vouch_core::referrers::referrer(subject, bundle, predicate_type, &created)
}

/// Attaches a bundle to the image as a cosign 3 referrer (in the image's repository).
pub(crate) async fn attach_bundle(
    resolved: &vouch_core::oci::ResolvedImage,
    bundle: Bytes,
    predicate_type: &str,
    limits: &vouch_core::oci::OciLimits,
    name: &str,
    verb: &str,
) -> Result<()> {
    let r = referrer_for(resolved, bundle, predicate_type);
    let outcome = vouch_core::referrers::attach_referrers(
        &resolved.target,
        &[(resolved.digest, r)],
        settle_options(),
        limits,
        1,
    )
    .await
    .remove(0)
    .with_context(|| name.to_owned())?;
    match outcome {
        AttachOutcome::Added => eprintln!("{verb} {name} ({predicate_type}, bundle referrer)"),
        AttachOutcome::AlreadyPresent => eprintln!("Already present: {name}"),
    }
    Ok(())
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
