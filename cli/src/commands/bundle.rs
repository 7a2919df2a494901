//! `verify-bundle`: sigstore's conformance-suite command line.
//!
//! `vouch verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL |
//! --key PUB) [--trusted-root FILE] FILE_OR_DIGEST`

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{ArgGroup, Args};
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::files::{self, ReadError};
use vouch_core::limits::Limits;
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_verify::sigstore_bundle::{Matcher, Signer, verify};

use crate::commands::blob::Output;
use crate::exit::UsageError;

#[derive(Args)]
#[command(group(ArgGroup::new("who").required(true).args(["key", "certificate_identity", "certificate_identity_regexp"])))]
pub(crate) struct VerifyBundleArgs {
    /// The sigstore bundle (v0.1–v0.3).
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// Verify with this public key (PEM) instead of a certificate identity.
    #[arg(long, value_name = "PUB")]
    key: Option<PathBuf>,
    /// The signer's identity (the certificate's SAN), exactly.
    #[arg(long, value_name = "ID")]
    certificate_identity: Option<String>,
    /// The signer's identity, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// Trusted root (default: the embedded public-good root).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// Result format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    /// The artifact: a file, or `sha256:<64 hex>`.
    #[arg(value_name = "FILE_OR_DIGEST")]
    artifact: String,
}

fn artifact_digest(arg: &str) -> Result<Sha256Digest> {
    if arg.starts_with("sha256:") && !Path::new(arg).exists() {
        return Ok(arg.parse()?);
    }
    let file = std::fs::File::open(arg).with_context(|| format!("cannot open {arg}"))?;
    let (d, _) = Sha256Digest::of_reader(file).with_context(|| format!("cannot read {arg}"))?;
    Ok(d)
}

pub(crate) fn verify_bundle(args: VerifyBundleArgs) -> Result<()> {
    let limits = Limits::DEFAULT;
    let root = match &args.trusted_root {
        Some(path) => {
            let bytes =
                files::read_bounded(path, "the trusted root", 16 << 20).map_err(|e| match e {
                    ReadError::Io(e) => {
                        anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
                    }
                    ReadError::TooLarge(t) => UsageError(format!("{}: {t}", path.display())).into(),
                })?;
            TrustedRoot::parse(&bytes)
                .map_err(|e| UsageError(format!("{}: {e}", path.display())))?
        }
        None => TrustedRoot::public_good().map_err(|e| UsageError(e.to_string()))?,
    };
    let bundle =
        files::read_bounded(&args.bundle, "the bundle", limits.envelope).map_err(|e| match e {
            ReadError::Io(e) => {
                anyhow::Error::new(e).context(format!("cannot read {}", args.bundle.display()))
            }
            ReadError::TooLarge(t) => UsageError(format!("{}: {t}", args.bundle.display())).into(),
        })?;
    let digest = artifact_digest(&args.artifact)?;
    let key;
    let (subject, issuer);
    let signer = match &args.key {
        Some(path) => {
            key = files::load_public_key(path, &limits)?;
            Signer::Key(&key)
        }
        None => {
            subject = match (
                &args.certificate_identity,
                &args.certificate_identity_regexp,
            ) {
                (Some(id), None) => Matcher::Exact(id.clone()),
                (None, Some(re)) => Matcher::regex(re)?,
                _ => {
                    return Err(UsageError(
                        "give one of --certificate-identity and --certificate-identity-regexp"
                            .into(),
                    )
                    .into());
                }
            };
            issuer = match (
                &args.certificate_oidc_issuer,
                &args.certificate_oidc_issuer_regexp,
            ) {
                (Some(i), None) => Matcher::Exact(i.clone()),
                (None, Some(re)) => Matcher::regex(re)?,
                _ => {
                    return Err(UsageError(
                        "give one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp".into(),
                    )
                    .into());
                }
            };
            Signer::Identity {
                subject: &subject,
                issuer: &issuer,
            }
        }
    };
    let v = verify(&bundle, &digest, &signer, &root, &limits)
        .with_context(|| args.bundle.display().to_string())?;
    match args.output {
        Output::Text => match v.identity() {
            Some(id) => eprintln!(
                "Verified OK: {} ({}) signed by {} ({}), log index {}",
                args.artifact,
                v.artifact(),
                id.san,
                id.issuer.as_deref().unwrap_or("no issuer"),
                v.log_index()
            ),
            None => eprintln!(
                "Verified OK: {} ({}) signed by key {}, log index {}",
                args.artifact,
                v.artifact(),
                v.key_hint(),
                v.log_index()
            ),
        },
        Output::Json => writeln!(
            io::stdout(),
            "{}",
            serde_json::json!({
                "schema": "vouch/verify-bundle/v1",
                "verified": true,
                "artifact": v.artifact().to_string(),
                "key": v.key_hint(),
                "identity": v.identity().map(|i| i.san.clone()),
                "issuer": v.identity().and_then(|i| i.issuer.clone()),
                "logIndex": v.log_index(),
                "integratedTime": v.signing_time(),
            })
        )?,
    }
    Ok(())
}
