//! Keyless `sign-blob` (no `--key`). The flags (shared with `sign` and `attest`) are
//! [`crate::args::KeylessArgs`]; the signing itself is `vouch_verify::keyless`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::files::{self, Overwrite};
use vouch_core::sign::{AsyncSigner, KeySigner};
use vouch_core::sigstore::http::HttpLimits;
use vouch_core::sigstore::oauth::{BrowserFlow, open_in_browser};
use vouch_core::sigstore::oidc::{IdentityToken, OidcError, find_token, now};
use vouch_core::sigstore::signing_config::SigningConfig;
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_verify::keyless::{KeylessContext, KeylessSigner, sign_blob};

use crate::args::KeylessArgs;
use crate::exit::UsageError;
use crate::password::load_signing_key;

/// The trust a keyless image signer borrows (loaded before the signer is made).
pub(crate) struct Trust {
    root: TrustedRoot,
    config: SigningConfig,
}

impl Trust {
    /// Loads the trust when signing keylessly (no `key`); refuses keyless flags with a key.
    /// `legacy`: cosign's `.sig`/`.att` layers, which need a Rekor v1 log.
    pub(crate) fn load(
        key: Option<&PathBuf>,
        args: &KeylessArgs,
        legacy: bool,
    ) -> Result<Option<Self>> {
        match key {
            Some(_) if args.any() => Err(UsageError(
                "--key signs with a key; --identity-token, --trust-config, --signing-config and \
                 --trusted-root are for keyless signing: give one or the other"
                    .into(),
            )
            .into()),
            Some(_) => Ok(None),
            None => {
                let (root, mut config) = args.trust()?;
                if legacy {
                    config = config
                        .rekor_v1_only()
                        .map_err(|e| UsageError(format!("--format legacy: {e}")))?;
                }
                Ok(Some(Self { root, config }))
            }
        }
    }
}

/// The image signer: the key file's, or a keyless one (a Fulcio certificate for the run).
pub(crate) async fn image_signer<'a>(
    key: Option<&PathBuf>,
    args: &KeylessArgs,
    trust: Option<&'a Trust>,
) -> Result<Box<dyn AsyncSigner + 'a>> {
    match (key, trust) {
        (Some(k), _) => match super::kms::reference(k)? {
            // pkcs11:, hashivault://, awskms://: the key stays in its token or service.
            Some(r) => Ok(Box::new(vouch_core::kms::RemoteKey::connect(&r).await?)),
            None => Ok(Box::new(KeySigner::for_images(load_signing_key(k)?)?)),
        },
        (None, Some(t)) => {
            let http = args.http();
            let token = identity_token(args, &t.config, &http).await?;
            let ctx = KeylessContext {
                trusted_root: &t.root,
                signing_config: &t.config,
                http,
            };
            let signer = KeylessSigner::new(&token, &ctx).await?;
            let id = signer.identity();
            eprintln!(
                "Signing keylessly as {} (issuer {})",
                id.san,
                id.issuer.as_deref().unwrap_or("?")
            );
            Ok(Box::new(signer))
        }
        (None, None) => Err(UsageError("no key and no keyless trust".into()).into()),
    }
}

/// The identity token: `--identity-token`, `SIGSTORE_ID_TOKEN` or GitHub Actions' token; else,
/// when stdin is a terminal, the browser sign-in at the issuer of `--oidc-issuer` or `config`.
/// The sign-in URL is printed to stderr (for a machine without a browser) and opened with
/// `$BROWSER` or `xdg-open`.
pub(crate) async fn identity_token(
    args: &KeylessArgs,
    config: &SigningConfig,
    http: &HttpLimits,
) -> Result<IdentityToken> {
    let found = find_token(
        args.identity_token.as_deref(),
        |k| std::env::var(k).ok(),
        http,
    )
    .await;
    match found {
        Err(OidcError::Missing) if std::io::stdin().is_terminal() => {}
        found => return found.map_err(|e| UsageError(e.to_string()).into()),
    }
    let issuer = match &args.oidc_issuer {
        Some(i) => i.clone(),
        None => BrowserFlow::issuer_of(config, now())?,
    };
    let mut flow = BrowserFlow::new(issuer);
    if let Some(id) = &args.oidc_client_id {
        flow.client_id.clone_from(id);
    }
    if let Some(s) = args.oidc_timeout {
        flow.timeout = Duration::from_secs(s);
    }
    let token = flow
        .run(http, |url| {
            eprintln!(
                "Sign in to {} in your browser to sign keylessly; if no browser opens, open:\n\n    \
                 {url}\n",
                flow.issuer
            );
            if let Err(e) = open_in_browser(url, std::env::var("BROWSER").ok().as_deref()) {
                eprintln!("(could not open a browser: {e})");
            }
        })
        .await?;
    Ok(token)
}

/// Signs `file` keylessly and writes the bundle to `bundle`.
pub(crate) fn sign_blob_keyless(args: &KeylessArgs, file: &Path, bundle: &Path) -> Result<()> {
    let (root, config) = args.trust()?;
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let (digest, _) = Sha256Digest::of_reader(input)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let http = args.http();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signed = rt.block_on(async {
        let token = identity_token(args, &config, &http).await?;
        let ctx = KeylessContext {
            trusted_root: &root,
            signing_config: &config,
            http,
        };
        anyhow::Ok(sign_blob(&digest, &token, &ctx).await?)
    })?;
    files::write_atomic(bundle, signed.bytes(), 0o644, Overwrite::Replace)?;
    if let Some(id) = signed.identity() {
        eprintln!(
            "Signed as {} (issuer {}); wrote bundle to {}",
            id.san,
            id.issuer.as_deref().unwrap_or("?"),
            bundle.display()
        );
    }
    Ok(())
}
