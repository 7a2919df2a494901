//! `sign`, `verify`, `tree`: images in registries and OCI layouts, cosign's tag format.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use futures_util::stream::{self, StreamExt};
use vouch_core::cosign::{
    AttachOutcome, AttachRequest, Attachment, NewLayer, SIGNATURE_ANNOTATION, SettleOptions,
    attach_all, read_attached,
};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::manifest::Manifest;
use vouch_core::oci::reference::ImageRef;
use vouch_core::oci::registry::{Access, RegistryClient, RegistryOptions};
use vouch_core::oci::{OciLimits, ResolvedImage, Target, resolve};
use vouch_core::payload::simple_signing::{SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning};
use vouch_verify::image::{ImageSignatures, verify_signatures};

/// Images handled at once (requests in flight to one registry stay below this).
pub(crate) const CONCURRENCY: usize = 64;

use crate::commands::blob::Output;
use crate::exit::{UsageError, VerificationFailed};
use crate::password::load_signing_key;

/// How signatures and attestations are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// cosign 3's format: a sigstore bundle attached as an OCI 1.1 referrer of the image.
    /// Key-signed bundles are offline: they carry no transparency-log entry.
    Bundle,
    /// cosign 1–2's format: layers of the `sha256-<hex>.sig` / `.att` tags.
    Legacy,
}

/// Registry options shared by the image commands.
#[derive(Args, Clone)]
pub(crate) struct RegistryArgs {
    /// Allow plain HTTP to this registry (HOST[:PORT]); loopback registries always use it.
    #[arg(long = "allow-http-registry", value_name = "HOST[:PORT]")]
    allow_http: Vec<String>,
    /// Refuse manifests larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = OciLimits::default().manifest)]
    max_manifest_size: u64,
    /// Refuse signature layers (payloads) larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = OciLimits::default().signature_layer)]
    max_signature_size: u64,
}

impl RegistryArgs {
    pub(crate) fn limits(&self) -> OciLimits {
        OciLimits {
            manifest: self.max_manifest_size,
            signature_layer: self.max_signature_size,
            ..OciLimits::default()
        }
    }
}

#[derive(Args)]
pub(crate) struct SignArgs {
    /// Encrypted private key (cosign's format).
    #[arg(long, short = 'k', value_name = "KEY")]
    key: PathBuf,
    /// Annotation to put in the signed payload's `optional` map.
    #[arg(long = "annotations", short = 'a', value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Also sign every platform manifest of an image index.
    #[arg(long)]
    recursive: bool,
    /// Storage format: `bundle` (cosign 3's default: a sigstore bundle referrer; key-signed
    /// bundles are offline, with no transparency-log entry) or `legacy` (`.sig`/`.att` tags).
    #[arg(long, value_enum, default_value = "bundle")]
    format: Format,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Images: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) authority: crate::commands::authority::AuthorityArgs,
    /// Judge each image by this policy (YAML; see docs/policy.md) instead of one authority:
    /// signatures (k of n authorities), provenance, vulnerability scans, VEX, SBOMs, Rego.
    /// Exit 1 when any image is denied.
    #[arg(long, value_name = "POLICY.yaml", conflicts_with_all = ["key", "certificate_identity", "certificate_identity_regexp", "annotations", "recursive"])]
    pub(crate) policy: Option<PathBuf>,
    /// Require this annotation in the signed payload.
    #[arg(long = "annotations", short = 'a', value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// For an image index, require the index and every platform manifest to verify.
    #[arg(long)]
    recursive: bool,
    /// Result format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) output: Output,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Images: HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci:DIR[:TAG|@sha256:HEX].
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) images: Vec<String>,
}

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

pub(crate) fn client(args: &RegistryArgs) -> Result<Arc<RegistryClient>> {
    // In the registries' one spelling, as references are: `LOCALHOST:05000` is `localhost:5000`.
    let allow_http = args
        .allow_http
        .iter()
        .map(|h| {
            vouch_core::oci::reference::canonical_registry(h).map_err(|e| {
                UsageError(format!(
                    "--allow-http-registry `{h}`: expected HOST[:PORT]; {e}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(RegistryClient::new(RegistryOptions {
        allow_http,
        ..Default::default()
    })?))
}

fn parse_annotations(list: &[String]) -> Result<BTreeMap<String, String>> {
    list.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| UsageError(format!("annotation `{a}` is not KEY=VALUE")).into())
        })
        .collect()
}

pub(crate) fn parse_images(list: &[String]) -> Result<Vec<ImageRef>> {
    list.iter()
        .map(|s| s.parse::<ImageRef>().map_err(anyhow::Error::from))
        .collect()
}

/// Where the image's `.sig`/`.att` tags live: its own repository, or `VOUCH_REPOSITORY` /
/// `COSIGN_REPOSITORY` (registry images only).
pub(crate) fn attachment_target(
    image: &ResolvedImage,
    client: &Arc<RegistryClient>,
) -> Result<Target> {
    attachment_target_of(&image.target, client)
}

pub(crate) fn attachment_target_of(
    target: &Target,
    client: &Arc<RegistryClient>,
) -> Result<Target> {
    let over = std::env::var("VOUCH_REPOSITORY")
        .ok()
        .or_else(|| std::env::var("COSIGN_REPOSITORY").ok())
        .filter(|s| !s.is_empty());
    match (target, over) {
        (Target::Registry { .. }, Some(repo)) => match repo.parse::<ImageRef>() {
            Ok(ImageRef::Registry(r)) if r.tag.is_none() && r.digest.is_none() => {
                Ok(Target::registry(client.clone(), &r))
            }
            _ => Err(UsageError(format!(
                "VOUCH_REPOSITORY/COSIGN_REPOSITORY `{repo}` is not HOST/REPO"
            ))
            .into()),
        },
        _ => Ok(target.clone()),
    }
}

/// The image and, with `recursive`, the platform manifests of an index.
async fn with_children(
    image: ResolvedImage,
    recursive: bool,
    limits: &OciLimits,
) -> Result<Vec<ResolvedImage>> {
    let mut out = Vec::new();
    if recursive && let Manifest::Index(idx) = &image.parsed {
        for desc in &idx.manifests {
            out.push(image.child(desc, limits).await?);
        }
    }
    out.insert(0, image);
    Ok(out)
}

pub(crate) fn settle_options() -> SettleOptions {
    let mut o = SettleOptions::default();
    if let Some(ms) = std::env::var("VOUCH_SETTLE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        o.settle = Duration::from_millis(ms.max(2));
        o.window = Duration::from_millis(ms.max(2) / 2);
    }
    o
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
    let key = load_signing_key(&args.key)?;
    key.check_image_signing()?;
    let client = client(&args.registry)?;

    // Resolve every reference once; from here on only digests are used.
    let resolved: Vec<_> = stream::iter(&images)
        .map(|i| resolve(i, &client, Access::Push, &limits))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut requests = Vec::new();
    let mut names = Vec::new();
    let mut bundles = Vec::new();
    for (image, r) in images.iter().zip(resolved) {
        let r = r.with_context(|| format!("{image}"))?;
        if r.by_tag {
            eprintln!(
                "vouch: warning: {image} is a tag; signing the digest it names now, {} (sign by digest to be sure what you sign)",
                r.digest
            );
        }
        let target = attachment_target(&r, &client)?;
        for img in with_children(r, args.recursive, &limits).await? {
            if args.format == Format::Bundle {
                // cosign 3: an in-toto statement about the digest, DSSE, in a bundle referrer.
                let statement = vouch_core::payload::intoto::Statement::encode_raw(
                    &[vouch_core::payload::intoto::Subject::sha256(
                        None,
                        &img.digest,
                    )],
                    vouch_core::referrers::COSIGN_SIGN_PREDICATE,
                    b"{}",
                );
                let pt = vouch_core::payload::intoto::INTOTO_PAYLOAD_TYPE;
                let sig = vouch_core::payload::dsse::sign_pae(&key, pt, &statement)?;
                let env =
                    vouch_core::payload::dsse::Envelope::new(pt, statement, sig.as_der().to_vec());
                let bundle = vouch_core::bundle::Bundle::dsse_v03(&key.public_key(), &env);
                let name = format!("{}@{}", img.identity, img.digest);
                let r = crate::commands::attest::referrer_for(
                    &img,
                    Bytes::from(bundle),
                    vouch_core::referrers::COSIGN_SIGN_PREDICATE,
                );
                bundles.push((img.target.clone(), img.digest, r, name));
                continue;
            }
            let optional = (!annotations.is_empty()).then(|| {
                annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect()
            });
            let payload = SimpleSigning {
                docker_reference: img.identity.clone(),
                manifest_digest: img.digest,
                optional,
            }
            .to_bytes();
            let sig = key.sign(&payload)?;
            requests.push(AttachRequest {
                target: target.clone(),
                image: img.digest,
                attachment: Attachment::Signatures,
                layer: NewLayer {
                    media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
                    blob: Bytes::from(payload),
                    annotations: BTreeMap::from([(
                        SIGNATURE_ANNOTATION.to_owned(),
                        sig.to_base64(),
                    )]),
                },
                replace_predicate_type: None,
            });
            names.push(format!("{}@{}", img.identity, img.digest));
        }
    }
    let mut results = attach_all(&requests, settle_options(), &limits, CONCURRENCY).await;
    // Bundle referrers, a batch per repository: one settle wait for all.
    type Batch = Vec<(Sha256Digest, vouch_core::referrers::Referrer, String)>;
    let mut groups: BTreeMap<String, (Target, Batch)> = BTreeMap::new();
    for (target, digest, r, name) in bundles {
        groups
            .entry(target.describe())
            .or_insert_with(|| (target, Vec::new()))
            .1
            .push((digest, r, name));
    }
    for (_, (target, batch)) in groups {
        let (refs, batch_names): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|(d, r, n)| ((d, r), n)).unzip();
        names.extend(batch_names);
        results.extend(
            vouch_core::referrers::attach_referrers(
                &target,
                &refs,
                settle_options(),
                &limits,
                CONCURRENCY,
            )
            .await,
        );
    }
    let mut first_err = None;
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(AttachOutcome::Added) => eprintln!("Signed {name}"),
            Ok(AttachOutcome::AlreadyPresent) => {
                eprintln!("Already signed with this key and payload: {name}")
            }
            Err(e) => {
                eprintln!("vouch: {name}: {e}");
                first_err.get_or_insert(anyhow::Error::from(e).context(name.clone()));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One image's verification, and with `--recursive` its platform manifests'.
async fn verify_one(
    image: &ImageRef,
    client: &Arc<RegistryClient>,
    key: vouch_verify::image::Authority<'_>,
    required: &BTreeMap<String, String>,
    recursive: bool,
    limits: &OciLimits,
) -> Result<Vec<(String, Sha256Digest, ImageSignatures)>> {
    // Pinned by digest: nothing to resolve; 2 sequential round trips (the .sig manifest, then
    // its blobs in parallel).
    if let (ImageRef::Registry(r), Some(digest), false) = (image, &image_digest(image), recursive) {
        let image_target = Target::registry(client.clone(), r);
        let target = attachment_target_of(&image_target, client)?;
        let sigs = verify_signatures(&target, &image_target, digest, key, required, limits).await?;
        return Ok(vec![(
            format!("{}@{digest}", r.docker_reference()),
            *digest,
            sigs,
        )]);
    }
    let resolved = resolve(image, client, Access::Pull, limits).await?;
    let target = attachment_target(&resolved, client)?;
    let mut out = Vec::new();
    for img in with_children(resolved, recursive, limits).await? {
        let sigs =
            verify_signatures(&target, &img.target, &img.digest, key, required, limits).await?;
        out.push((format!("{}@{}", img.identity, img.digest), img.digest, sigs));
    }
    Ok(out)
}

pub(crate) fn image_digest(image: &ImageRef) -> Option<Sha256Digest> {
    match image {
        ImageRef::Registry(r) => r.digest,
        ImageRef::Layout(l) => l.digest,
    }
}

pub(crate) async fn verify(args: VerifyArgs) -> Result<()> {
    if let Some(policy) = &args.policy {
        return crate::commands::policy::verify(policy, &args).await;
    }
    let limits = args.registry.limits();
    let images = parse_images(&args.images)?;
    let required = parse_annotations(&args.annotations)?;
    let loaded = args.authority.load()?;
    let key = loaded.authority();
    let client = client(&args.registry)?;
    let outcomes: Vec<_> = stream::iter(&images)
        .map(|image| verify_one(image, &client, key, &required, args.recursive, &limits))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut report = Vec::new();
    let mut failed = 0usize;
    for (image, outcome) in images.iter().zip(outcomes) {
        for (name, digest, sigs) in outcome.with_context(|| format!("{image}"))? {
            if sigs.ok() {
                if args.output == Output::Text {
                    eprintln!(
                        "Verified {name}: {} of {} signature(s) valid for {}",
                        sigs.verified.len(),
                        sigs.verified.len() + sigs.failures.len(),
                        key.describe()
                    );
                }
            } else {
                failed += 1;
                if !sigs.found {
                    eprintln!(
                        "vouch: {name}: no signatures found (no {} tag)",
                        Attachment::Signatures.tag(&digest)
                    );
                } else {
                    eprintln!("vouch: {name}: no valid signature:");
                }
                for f in &sigs.failures {
                    eprintln!("  layer {} ({}): {}", f.index, f.digest, f.reason);
                }
            }
            report.push(serde_json::json!({
                "image": image.to_string(),
                "digest": digest.to_string(),
                "verified": sigs.ok(),
                "signatures": sigs.verified.iter().map(|v| serde_json::json!({
                    "payload": serde_json::from_slice::<serde_json::Value>(v.payload_bytes())
                        .unwrap_or(serde_json::Value::Null),
                    "key": v.key_hint(),
                    "layer": v.layer().to_string(),
                })).collect::<Vec<_>>(),
                "failures": sigs.failures.iter().map(|f| serde_json::json!({
                    "layer": f.digest.to_string(), "reason": f.reason,
                })).collect::<Vec<_>>(),
            }));
        }
    }
    if args.output == Output::Json {
        writeln!(io::stdout(), "{}", serde_json::Value::from(report))?;
    }
    if failed > 0 {
        return Err(VerificationFailed(format!(
            "{failed} image(s) without a valid signature for {}",
            loaded.describe()
        ))
        .into());
    }
    Ok(())
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
    sections.push((
        "referrers",
        "referrer",
        "cosign 3 bundles and other OCI 1.1 referrers".to_owned(),
        referrers,
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
