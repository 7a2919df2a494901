//! `sign-blob` and `verify-blob`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{ArgGroup, Args};
use vouch_core::bundle::Bundle;
use vouch_core::digest::{HashAlgorithm, Sha256Digest};
use vouch_core::keys::files::{self, Overwrite, ReadError};
use vouch_core::limits::Limits;
use vouch_verify::blob::{self as verify_blob, SignatureForm};

use crate::args::Output;
use crate::exit::UsageError;
use crate::password::load_signing_key;

#[derive(Args)]
pub(crate) struct SignArgs {
    /// Encrypted private key (cosign's format), or a key in a token or key service:
    /// `pkcs11:token=T;object=O?module-path=…`, `hashivault://KEY`, `awskms:///alias/NAME`.
    /// Without it, vouch signs keylessly (needs --bundle).
    #[arg(long, short = 'k', value_name = "KEY")]
    key: Option<PathBuf>,
    #[command(flatten)]
    keyless: crate::args::KeylessArgs,
    /// Write the base64 signature here instead of stdout.
    #[arg(long, value_name = "FILE")]
    output_signature: Option<PathBuf>,
    /// Also write a sigstore bundle (v0.3) here.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// The file to sign (`-` for stdin). It is hashed as a stream.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Args)]
#[command(group(ArgGroup::new("sig").required(true).args(["signature", "bundle"])))]
pub(crate) struct VerifyArgs {
    /// Public key (PEM `PUBLIC KEY`).
    #[arg(long, short = 'k', value_name = "PUB")]
    key: PathBuf,
    /// Detached signature (base64, as `sign-blob` writes it).
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
    /// Sigstore bundle (v0.1–v0.3) with a message signature or a DSSE envelope.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Result format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    /// The signed file (`-` for stdin).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn open_input(path: &Path) -> Result<Box<dyn Read>> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(UsageError(format!(
            "{} is a directory, expected a file",
            path.display()
        ))
        .into());
    }
    Ok(Box::new(file))
}

/// Signs the file as `cosign sign-blob --key` does without a transparency log
/// (`cmd/cosign/cli/sign/sign_blob.go`): over its digest under the key's hash (SHA-256 for P-256
/// and RSA, SHA-384 for P-384, SHA-512 for P-521), hashed as a stream; with Ed25519, over the
/// whole file (pure Ed25519, read into memory as cosign reads it), and a bundle whose
/// `messageDigest` is empty.
pub(crate) fn sign(args: SignArgs) -> Result<()> {
    let Some(key_path) = &args.key else {
        let bundle = args.bundle.as_deref().ok_or_else(|| {
            UsageError(
                "keyless signing writes a bundle: give --bundle FILE (or sign with --key)".into(),
            )
        })?;
        return super::keyless::sign_blob_keyless(&args.keyless, &args.file, bundle);
    };
    if let Some(reference) = super::kms::reference(key_path)? {
        return sign_remote(&args, &reference);
    }
    let key = load_signing_key(key_path)?;
    let unreadable = || format!("cannot read {}", args.file.display());
    let (sig, digest) = match key.signing_hash() {
        Some(HashAlgorithm::Sha256) => {
            let (digest, _) =
                Sha256Digest::of_reader(open_input(&args.file)?).with_context(unreadable)?;
            let sig = key.sign_digest(&digest)?;
            (
                sig,
                Some((HashAlgorithm::Sha256, digest.as_bytes().to_vec())),
            )
        }
        Some(hash) => {
            let (digest, _) = hash
                .of_reader(open_input(&args.file)?)
                .with_context(unreadable)?;
            (key.sign_prehashed(hash, &digest)?, Some((hash, digest)))
        }
        None => {
            let mut message = Vec::new();
            open_input(&args.file)?
                .read_to_end(&mut message)
                .with_context(unreadable)?;
            (key.sign(&message)?, None)
        }
    };
    let digest = digest.as_ref().map(|(h, d)| (*h, d.as_slice()));
    write_signature(&args, &key.public_key(), digest, &sig)
}

/// `sign-blob --key REF`: the file is hashed as a stream here and only its SHA-256 digest is
/// sent to the token or key service (P-256 keys sign SHA-256 digests, as cosign's do).
fn sign_remote(args: &SignArgs, reference: &vouch_core::kms::KeyRef) -> Result<()> {
    let (digest, _) = Sha256Digest::of_reader(open_input(&args.file)?)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let (public, sig) = super::kms::block_on(async {
        let key = vouch_core::kms::RemoteKey::connect(reference).await?;
        let sig = key.sign_digest(&digest).await?;
        Ok::<_, vouch_core::kms::KmsError>((key.public_key().clone(), sig))
    })?;
    write_signature(
        args,
        &public,
        Some((HashAlgorithm::Sha256, digest.as_bytes())),
        &sig,
    )
}

fn write_signature(
    args: &SignArgs,
    public: &vouch_core::keys::PublicKey,
    digest: Option<(HashAlgorithm, &[u8])>,
    sig: &vouch_core::keys::Signature,
) -> Result<()> {
    if let Some(path) = &args.bundle {
        let bundle = Bundle::message_signature_v03_with(public, digest, sig);
        files::write_atomic(path, &bundle, 0o644, Overwrite::Replace)?;
        eprintln!("Wrote bundle to {}", path.display());
    }
    match &args.output_signature {
        Some(path) => {
            files::write_atomic(path, sig.to_base64().as_bytes(), 0o644, Overwrite::Replace)?;
            eprintln!("Wrote signature to {}", path.display());
        }
        None => writeln!(io::stdout(), "{}", sig.to_base64())?,
    }
    Ok(())
}

pub(crate) fn read_small(path: &Path, what: &'static str, limit: usize) -> Result<Vec<u8>> {
    files::read_bounded(path, what, limit).map_err(|e| match e {
        ReadError::Io(e) => {
            anyhow::Error::new(e).context(format!("cannot read {what} {}", path.display()))
        }
        ReadError::TooLarge(t) => UsageError(format!("{}: {t}", path.display())).into(),
    })
}

pub(crate) fn verify(args: VerifyArgs) -> Result<()> {
    let limits = Limits::DEFAULT;
    let key = files::load_public_key(&args.key, &limits)?;
    let artifact = open_input(&args.file)?;
    let verified = match (&args.signature, &args.bundle) {
        (Some(sig_path), None) => {
            let sig = read_small(sig_path, "the signature", limits.signature_file)?;
            verify_blob::verify_detached(&key, &sig, artifact, &limits)
        }
        (None, Some(bundle_path)) => {
            let bundle = read_small(bundle_path, "the bundle", limits.envelope)?;
            verify_blob::verify_bundle(&key, &bundle, artifact, &limits)
        }
        _ => return Err(UsageError("give exactly one of --signature and --bundle".into()).into()),
    }
    .with_context(|| format!("{}", args.file.display()))?;
    match args.output {
        Output::Text => eprintln!(
            "Verified OK: {} ({}, {} bytes)",
            args.file.display(),
            verified.digest(),
            verified.size()
        ),
        Output::Json => {
            let form = match verified.form() {
                SignatureForm::Detached => "detached-signature",
                SignatureForm::BundleMessageSignature => "bundle-message-signature",
                SignatureForm::BundleDsse => "bundle-dsse",
            };
            let doc = serde_json::json!({
                "schema": "vouch/verify-blob/v1",
                "verified": true,
                "file": args.file.display().to_string(),
                "digest": verified.digest().to_string(),
                "size": verified.size(),
                "keyHint": verified.key_hint(),
                "signatureForm": form,
            });
            writeln!(io::stdout(), "{doc}")?;
        }
    }
    Ok(())
}
