//! `generate-key-pair`, `import-key-pair`, `public-key`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use vouch_core::keys::SigningKey;
use vouch_core::keys::encrypted::KdfParams;
use vouch_core::keys::files::{self, Overwrite};
use vouch_core::limits::Limits;

use crate::password::{Purpose, load_signing_key, password};

#[derive(Args)]
pub(crate) struct GenerateArgs {
    /// Write PREFIX.key (encrypted, mode 0600) and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "vouch")]
    output_key_prefix: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// Unencrypted P-256 private key: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM.
    #[arg(long, short = 'k', value_name = "PEM")]
    key: PathBuf,
    /// Write PREFIX.key (encrypted, mode 0600) and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "import-vouch")]
    output_key_prefix: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub(crate) struct PublicKeyArgs {
    /// Encrypted private key (cosign's format).
    #[arg(long, short = 'k', value_name = "KEY")]
    key: PathBuf,
    /// Write the PEM here instead of stdout.
    #[arg(long, value_name = "FILE")]
    outfile: Option<PathBuf>,
}

fn overwrite(force: bool) -> Overwrite {
    if force {
        Overwrite::Replace
    } else {
        Overwrite::Never
    }
}

fn write_pair(key: &SigningKey, prefix: &std::path::Path, force: bool) -> Result<()> {
    let pw = password(Purpose::Encrypt)?;
    let paths = files::write_key_pair(prefix, key, &pw, KdfParams::COSIGN, overwrite(force))?;
    eprintln!(
        "Private key written to {}\nPublic key written to {}",
        paths.private_key.display(),
        paths.public_key.display()
    );
    Ok(())
}

pub(crate) fn generate(args: GenerateArgs) -> Result<()> {
    let key = SigningKey::generate()?;
    write_pair(&key, &args.output_key_prefix, args.force)
}

pub(crate) fn import(args: ImportArgs) -> Result<()> {
    let key = files::load_unencrypted_key(&args.key, &Limits::DEFAULT)?;
    write_pair(&key, &args.output_key_prefix, args.force)
}

pub(crate) fn public_key(args: PublicKeyArgs) -> Result<()> {
    let key = load_signing_key(&args.key)?;
    let pem = key.public_key().to_pem();
    match args.outfile {
        Some(path) => {
            files::write_atomic(&path, pem.as_bytes(), 0o644, Overwrite::Replace)?;
            eprintln!("Public key written to {}", path.display());
        }
        None => std::io::stdout().write_all(pem.as_bytes())?,
    }
    Ok(())
}
