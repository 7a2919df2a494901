//! Who must have signed: `--key`, or a keyless certificate identity (`--certificate-identity`
//! / `-regexp` and `--certificate-oidc-issuer` / `-regexp`) checked against `--trusted-root`
//! (default: the embedded public-good root).

use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgGroup, Args};
use vouch_core::keys::PublicKey;
use vouch_core::keys::files::{self, ReadError};
use vouch_core::limits::Limits;
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_verify::attestation::Authority;
use vouch_verify::sigstore_bundle::{Matcher, Signer};

use crate::exit::UsageError;

#[derive(Args, Clone)]
#[command(group(ArgGroup::new("authority").args(["key", "certificate_identity", "certificate_identity_regexp"])))]
pub(crate) struct AuthorityArgs {
    /// Public key (PEM `PUBLIC KEY`).
    #[arg(long, short = 'k', value_name = "PUB")]
    key: Option<PathBuf>,
    /// Keyless: the signer's identity (the certificate's SAN), exactly.
    #[arg(long, value_name = "ID")]
    certificate_identity: Option<String>,
    /// Keyless: the signer's identity, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// Keyless: the OIDC issuer, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// Trusted root for keyless verification (default: the embedded public-good root).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
}

/// Loaded once per command.
pub(crate) enum Loaded {
    Key(PublicKey, PathBuf),
    Keyless {
        subject: Matcher,
        issuer: Matcher,
        root: TrustedRoot,
    },
}

fn matcher(exact: &Option<String>, regex: &Option<String>, what: &str) -> Result<Matcher> {
    match (exact, regex) {
        (Some(x), None) => Ok(Matcher::Exact(x.clone())),
        (None, Some(r)) => Ok(Matcher::regex(r)?),
        _ => Err(UsageError(format!("give one of --{what} and --{what}-regexp")).into()),
    }
}

pub(crate) fn trusted_root(path: &Option<PathBuf>) -> Result<TrustedRoot> {
    Ok(match path {
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
    })
}

impl AuthorityArgs {
    /// The trusted root named by `--trusted-root`, or the embedded one.
    pub(crate) fn root(&self) -> Result<TrustedRoot> {
        trusted_root(&self.trusted_root)
    }

    /// Whether any authority flag was given.
    pub(crate) fn given(&self) -> bool {
        self.key.is_some()
            || self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
    }

    pub(crate) fn load(&self) -> Result<Loaded> {
        if !self.given() {
            return Err(UsageError(
                "who must have signed? give --key PUB, or --certificate-identity[-regexp] ID with --certificate-oidc-issuer[-regexp] URL (or, for `verify`, --policy FILE)".into(),
            )
            .into());
        }
        if let Some(path) = &self.key {
            return Ok(Loaded::Key(
                files::load_public_key(path, &Limits::DEFAULT)?,
                path.clone(),
            ));
        }
        Ok(Loaded::Keyless {
            subject: matcher(
                &self.certificate_identity,
                &self.certificate_identity_regexp,
                "certificate-identity",
            )?,
            issuer: matcher(
                &self.certificate_oidc_issuer,
                &self.certificate_oidc_issuer_regexp,
                "certificate-oidc-issuer",
            )?,
            root: trusted_root(&self.trusted_root)?,
        })
    }
}

impl Loaded {
    pub(crate) fn authority(&self) -> Authority<'_> {
        match self {
            Loaded::Key(k, _) => Authority::Key(k),
            Loaded::Keyless {
                subject,
                issuer,
                root,
            } => Authority::Keyless {
                subject,
                issuer,
                root,
            },
        }
    }

    pub(crate) fn signer(&self) -> Signer<'_> {
        match self {
            Loaded::Key(k, _) => Signer::Key(k),
            Loaded::Keyless {
                subject, issuer, ..
            } => Signer::Identity { subject, issuer },
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Loaded::Key(_, path) => format!("key {}", path.display()),
            other => other.authority().describe(),
        }
    }
}
