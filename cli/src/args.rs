//! What several subcommands share: registry options, output and storage formats, image
//! references, and the environment they read (`VOUCH_REPOSITORY`, `VOUCH_SETTLE_MS`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use vouch_core::cosign::SettleOptions;
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::files;
use vouch_core::oci::manifest::Manifest;
use vouch_core::oci::reference::{ImageRef, RegistryRef};
use vouch_core::oci::registry::{RegistryClient, RegistryOptions};
use vouch_core::oci::{OciLimits, ResolvedImage, Target};
use vouch_core::sigstore::http::HttpLimits;
use vouch_core::sigstore::signing_config::{ClientTrustConfig, MAX_CONFIG_LEN, SigningConfig};
use vouch_core::sigstore::trusted_root::TrustedRoot;

use crate::exit::UsageError;

/// Output format for results.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub(crate) enum Output {
    /// Human text on stderr.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Images handled at once (requests in flight to one registry stay below this).
pub(crate) const CONCURRENCY: usize = 64;

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
    let client = Arc::new(RegistryClient::new(RegistryOptions {
        allow_http,
        ..Default::default()
    })?);
    if let Ok(mut all) = CLIENTS.lock() {
        all.push(client.clone());
    }
    Ok(client)
}

/// Every registry client of this run, for the request counts logged at its end.
static CLIENTS: std::sync::Mutex<Vec<Arc<RegistryClient>>> = std::sync::Mutex::new(Vec::new());

/// The requests `client` sent, for a command's `--output json` (`"requests"`).
pub(crate) fn requests_json(client: &RegistryClient) -> serde_json::Value {
    serde_json::to_value(client.requests()).unwrap_or(serde_json::Value::Null)
}

/// Whether `VOUCH_LOG=debug`: debug lines on stderr.
pub(crate) fn debug() -> bool {
    std::env::var("VOUCH_LOG").is_ok_and(|v| v.eq_ignore_ascii_case("debug"))
}

/// At the end of a run with `VOUCH_LOG=debug`: the registry requests it sent, on stderr, as
/// `vouch: debug: registry requests {"total":N,"by":{…}}` (one line, JSON after the prefix).
pub(crate) fn log_requests() {
    if !debug() {
        return;
    }
    let Ok(all) = CLIENTS.lock() else { return };
    if all.is_empty() {
        return;
    }
    let mut sum = vouch_core::oci::registry::RequestCounts::default();
    for c in all.iter() {
        let counts = c.requests();
        sum.total += counts.total;
        for (k, n) in counts.by {
            *sum.by.entry(k).or_default() += n;
        }
    }
    eprintln!(
        "vouch: debug: registry requests {}",
        serde_json::to_string(&sum).unwrap_or_default()
    );
}

/// At the end of a run: a warning when a tag PUT took longer than the no-lost-write protocol's
/// transit bound (a concurrent writer's change may then have been overwritten after it
/// confirmed; see `vouch_core::cosign`).
pub(crate) fn warn_late_puts() {
    let Ok(all) = CLIENTS.lock() else { return };
    let late: u32 = all.iter().map(|c| c.late_puts()).sum();
    if late > 0 {
        eprintln!(
            "vouch: warning: the registry took longer than the no-lost-write protocol allows to answer {late} tag write(s); a signature that another signer added at the same moment may have been overwritten: check with `vouch verify` or `vouch tree`, and raise VOUCH_SETTLE_MS (the same value for every writer) if the registry is this slow"
        );
    }
}

pub(crate) fn parse_annotations(list: &[String]) -> Result<BTreeMap<String, String>> {
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
    Ok(vouch_verify::promote::attachment_target(
        target,
        client,
        attachments_repository()?.as_ref(),
    ))
}

/// `VOUCH_REPOSITORY`, else `COSIGN_REPOSITORY`: where `.sig`/`.att` tags live when not beside
/// the image.
pub(crate) fn attachments_repository() -> Result<Option<RegistryRef>> {
    let over = std::env::var("VOUCH_REPOSITORY")
        .ok()
        .or_else(|| std::env::var("COSIGN_REPOSITORY").ok())
        .filter(|s| !s.is_empty());
    let Some(repo) = over else { return Ok(None) };
    match repo.parse::<ImageRef>() {
        Ok(ImageRef::Registry(r)) if r.tag.is_none() && r.digest.is_none() => Ok(Some(r)),
        _ => Err(UsageError(format!(
            "VOUCH_REPOSITORY/COSIGN_REPOSITORY `{repo}` is not HOST/REPO"
        ))
        .into()),
    }
}

/// The image and, with `recursive`, the platform manifests of an index.
pub(crate) async fn with_children(
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

pub(crate) fn image_digest(image: &ImageRef) -> Option<Sha256Digest> {
    match image {
        ImageRef::Registry(r) => r.digest,
        ImageRef::Layout(l) => l.digest,
    }
}

/// Keyless signing (`sign-blob`, `sign`, `attest` without `--key`): where the identity token
/// and the sigstore instance come from.
#[derive(Args, Debug, Default)]
pub(crate) struct KeylessArgs {
    /// OIDC identity token, or `@FILE` holding one (else `SIGSTORE_ID_TOKEN`, else GitHub
    /// Actions' token). Never printed.
    #[arg(long, value_name = "TOKEN")]
    pub(crate) identity_token: Option<String>,
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
    pub(crate) oidc_issuer: Option<String>,
    /// The OAuth client id of the browser sign-in. Default: sigstore.
    #[arg(long, value_name = "ID")]
    pub(crate) oidc_client_id: Option<String>,
    /// How long the browser sign-in waits for the browser, in seconds. Default: 120.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) oidc_timeout: Option<u64>,
    /// How long one request to Fulcio, Rekor, a TSA or the OIDC issuer may take, in seconds,
    /// before the run fails (exit 3, the service named, nothing written). Default: 60.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) service_timeout: Option<u64>,
}

impl KeylessArgs {
    /// Whether any keyless flag was given (they contradict `--key`).
    pub(crate) fn any(&self) -> bool {
        self.identity_token.is_some()
            || self.trust_config.is_some()
            || self.signing_config.is_some()
            || self.trusted_root.is_some()
            || self.oidc_issuer.is_some()
            || self.oidc_client_id.is_some()
            || self.oidc_timeout.is_some()
            || self.service_timeout.is_some()
    }

    /// The limits of every request to the sigstore services (`--service-timeout`).
    pub(crate) fn http(&self) -> HttpLimits {
        let mut http = HttpLimits::DEFAULT;
        if let Some(s) = self.service_timeout {
            http.request_timeout = Duration::from_secs(s);
            http.connect_timeout = http.connect_timeout.min(http.request_timeout);
        }
        http
    }

    /// The trusted root and signing config: `--trust-config`, `--signing-config` with
    /// `--trusted-root`, or the embedded sigstore.dev public-good instance.
    pub(crate) fn trust(&self) -> Result<(TrustedRoot, SigningConfig)> {
        Ok(
            match (&self.trust_config, &self.signing_config, &self.trusted_root) {
                (Some(tc), None, None) => {
                    let c = ClientTrustConfig::parse(&read_config(tc)?)
                        .map_err(|e| UsageError(format!("{}: {e}", tc.display())))?;
                    (c.trusted_root, c.signing_config)
                }
                (None, Some(sc), Some(tr)) => (
                    TrustedRoot::parse(&read_config(tr)?)
                        .map_err(|e| UsageError(format!("{}: {e}", tr.display())))?,
                    SigningConfig::parse(&read_config(sc)?)
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
            },
        )
    }
}

fn read_config(path: &Path) -> Result<Vec<u8>> {
    files::read_bounded(path, "the configuration", MAX_CONFIG_LEN).map_err(|e| match e {
        files::ReadError::Io(e) => {
            anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
        }
        files::ReadError::TooLarge(t) => UsageError(format!("{}: {t}", path.display())).into(),
    })
}
