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
    /// Create the key in a key service instead of files, as `cosign generate-key-pair --kms`:
    /// `hashivault://KEY` (transit, ecdsa-p256) or `awskms:///alias/NAME` (ECC_NIST_P256,
    /// SIGN_VERIFY); prints the public key (or writes it to PREFIX.pub with
    /// --output-key-prefix). An existing key is kept.
    #[arg(long, value_name = "REF")]
    kms: Option<String>,
    /// Write PREFIX.key (encrypted, mode 0600) and PREFIX.pub.
    #[arg(long, value_name = "PREFIX")]
    output_key_prefix: Option<PathBuf>,
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
    /// Encrypted private key (cosign's format), or a key in a token or key service
    /// (`pkcs11:…`, `hashivault://KEY`, `awskms://…`).
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
    if let Some(kms) = &args.kms {
        let reference = vouch_core::kms::KeyRef::parse(kms)?;
        let key = super::kms::block_on(vouch_core::kms::RemoteKey::create(&reference))?;
        let pem = key.public_key().to_pem();
        eprintln!("Key {reference} is ready");
        return match &args.output_key_prefix {
            Some(prefix) => {
                let mut path = prefix.clone().into_os_string();
                path.push(".pub");
                let path = PathBuf::from(path);
                files::write_atomic(&path, pem.as_bytes(), 0o644, overwrite(args.force))?;
                eprintln!("Public key written to {}", path.display());
                Ok(())
            }
            None => Ok(std::io::stdout().write_all(pem.as_bytes())?),
        };
    }
    let key = SigningKey::generate()?;
    let prefix = args
        .output_key_prefix
        .unwrap_or_else(|| PathBuf::from("vouch"));
    write_pair(&key, &prefix, args.force)
}

pub(crate) fn import(args: ImportArgs) -> Result<()> {
    let key = files::load_unencrypted_key(&args.key, &Limits::DEFAULT)?;
    write_pair(&key, &args.output_key_prefix, args.force)
}

pub(crate) fn public_key(args: PublicKeyArgs) -> Result<()> {
    let pem = match super::kms::reference(&args.key)? {
        Some(reference) => super::kms::block_on(vouch_core::kms::RemoteKey::connect(&reference))?
            .public_key()
            .to_pem(),
        None => load_signing_key(&args.key)?.public_key().to_pem(),
    };
    match args.outfile {
        Some(path) => {
            files::write_atomic(&path, pem.as_bytes(), 0o644, Overwrite::Replace)?;
            eprintln!("Public key written to {}", path.display());
        }
        None => std::io::stdout().write_all(pem.as_bytes())?,
    }
    Ok(())
}
