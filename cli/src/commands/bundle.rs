//! `verify-bundle`: sigstore's conformance-suite command line.
//!
//! `vouch verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL |
//! --key PUB) [--trusted-root FILE] FILE_OR_DIGEST`

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use vouch_core::digest::ArtifactDigests;
use vouch_core::keys::files::{self, ReadError};
use vouch_core::limits::Limits;
use vouch_verify::sigstore_bundle::verify;

use crate::commands::authority::{AuthorityArgs, Loaded};

use crate::args::Output;
use crate::exit::UsageError;

#[derive(Args)]
pub(crate) struct VerifyBundleArgs {
    /// The sigstore bundle (v0.1–v0.3).
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    authority: AuthorityArgs,
    /// Result format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    /// The artifact: a file, or its digest `sha256:<64 hex>` (`sha384:` and `sha512:` too).
    #[arg(value_name = "FILE_OR_DIGEST")]
    artifact: String,
}

fn artifact_digest(arg: &str) -> Result<ArtifactDigests> {
    let is_digest = ["sha256:", "sha384:", "sha512:"]
        .iter()
        .any(|p| arg.starts_with(p));
    if is_digest && !Path::new(arg).exists() {
        return Ok(arg.parse()?);
    }
    let file = std::fs::File::open(arg).with_context(|| format!("cannot open {arg}"))?;
    ArtifactDigests::of_reader(file).with_context(|| format!("cannot read {arg}"))
}

fn logged(index: Option<i64>) -> String {
    match index {
        Some(i) => format!("log index {i}"),
        None => "not in a transparency log (offline, trusted through the key)".into(),
    }
}

pub(crate) fn verify_bundle(args: VerifyBundleArgs) -> Result<()> {
    let limits = Limits::DEFAULT;
    let loaded = args.authority.load()?;
    let root = match &loaded {
        Loaded::Keyless { root, .. } => root.clone(),
        Loaded::Key(..) => args.authority.root()?,
    };
    let bundle =
        files::read_bounded(&args.bundle, "the bundle", limits.envelope).map_err(|e| match e {
            ReadError::Io(e) => {
                anyhow::Error::new(e).context(format!("cannot read {}", args.bundle.display()))
            }
            ReadError::TooLarge(t) => UsageError(format!("{}: {t}", args.bundle.display())).into(),
        })?;
    let digest = artifact_digest(&args.artifact)?;
    let signer = loaded.signer();
    let v = verify(&bundle, &digest, &signer, &root, &limits)
        .with_context(|| args.bundle.display().to_string())?;
    match args.output {
        Output::Text => match v.identity() {
            Some(id) => eprintln!(
                "Verified OK: {} ({}) signed by {} ({}), {}",
                args.artifact,
                v.artifact(),
                id.san,
                id.issuer.as_deref().unwrap_or("no issuer"),
                logged(v.log_index())
            ),
            None => eprintln!(
                "Verified OK: {} ({}) signed by key {}, {}",
                args.artifact,
                v.artifact(),
                v.key_hint(),
                logged(v.log_index())
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
