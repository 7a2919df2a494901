//! The keyless flags of `sign-blob` (no `--key`): where the identity token and the sigstore
//! instance come from. The signing itself is `vouch_verify::keyless`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::files::{self, Overwrite};
use vouch_core::sigstore::http::HttpLimits;
use vouch_core::sigstore::oauth::{BrowserFlow, open_in_browser};
use vouch_core::sigstore::oidc::{IdentityToken, OidcError, find_token, now};
use vouch_core::sigstore::signing_config::{ClientTrustConfig, MAX_CONFIG_LEN, SigningConfig};
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_verify::keyless::{KeylessContext, sign_blob};

use crate::exit::UsageError;

/// Keyless signing (used when no `--key` is given).
#[derive(Args, Debug, Default)]
pub(crate) struct KeylessArgs {
    /// OIDC identity token, or `@FILE` holding one (else `SIGSTORE_ID_TOKEN`, else GitHub
    /// Actions' token). Never printed.
    #[arg(long, value_name = "TOKEN")]
    identity_token: Option<String>,
    /// A sigstore ClientTrustConfig (trusted root + signing config), as sigstore-python's
    /// `--trust-config`. Default: the embedded sigstore.dev public-good instance.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["signing_config", "trusted_root"])]
    trust_config: Option<PathBuf>,
    /// A SigningConfig v0.2 (with --trusted-root), as cosign 3's `--signing-config`.
    #[arg(long, value_name = "FILE", requires = "trusted_root")]
    signing_config: Option<PathBuf>,
    /// The trusted root (with --signing-config).
    #[arg(long, value_name = "FILE", requires = "signing_config")]
    trusted_root: Option<PathBuf>,
    /// The OIDC issuer of the browser sign-in (run at a terminal when no token is found).
    /// Default: the signing config's (sigstore.dev: https://oauth2.sigstore.dev/auth).
    #[arg(long, value_name = "URL")]
    oidc_issuer: Option<String>,
    /// The OAuth client id of the browser sign-in. Default: sigstore.
    #[arg(long, value_name = "ID")]
    oidc_client_id: Option<String>,
    /// How long the browser sign-in waits for the browser, in seconds. Default: 120.
    #[arg(long, value_name = "SECONDS")]
    oidc_timeout: Option<u64>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    files::read_bounded(path, "the configuration", MAX_CONFIG_LEN).map_err(|e| match e {
        files::ReadError::Io(e) => {
            anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
        }
        files::ReadError::TooLarge(t) => UsageError(format!("{}: {t}", path.display())).into(),
    })
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
    let (root, config) = match (&args.trust_config, &args.signing_config, &args.trusted_root) {
        (Some(tc), None, None) => {
            let c = ClientTrustConfig::parse(&read(tc)?)
                .map_err(|e| UsageError(format!("{}: {e}", tc.display())))?;
            (c.trusted_root, c.signing_config)
        }
        (None, Some(sc), Some(tr)) => (
            TrustedRoot::parse(&read(tr)?)
                .map_err(|e| UsageError(format!("{}: {e}", tr.display())))?,
            SigningConfig::parse(&read(sc)?)
                .map_err(|e| UsageError(format!("{}: {e}", sc.display())))?,
        ),
        (None, None, None) => (TrustedRoot::public_good()?, SigningConfig::public_good()?),
        _ => {
            return Err(UsageError(
                "give --trust-config FILE, or --signing-config FILE with --trusted-root FILE, \
                 or neither (sigstore.dev public good)"
                    .into(),
            )
            .into());
        }
    };
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let (digest, _) = Sha256Digest::of_reader(input)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let http = HttpLimits::DEFAULT;
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
