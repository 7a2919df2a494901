//! `vouch serve`: the Kubernetes admission webhook (docs/admission.md). Parses the flags and
//! runs [`vouch_verify::admission::server::serve`]; every decision is in the library.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use vouch_verify::admission::server::{ServeOptions, serve as run};
use vouch_verify::admission::{FailureMode, Judge, JudgeOptions};

use crate::args::{RegistryArgs, attachments_repository, client};
use crate::commands::policy::{load, now};
use crate::exit::UsageError;

#[derive(Clone, Copy, ValueEnum)]
enum Failure {
    Deny,
    Allow,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The policy (docs/policy.md); re-read when the file changes and on SIGHUP.
    #[arg(long, value_name = "POLICY.yaml")]
    policy: PathBuf,
    /// The address to listen on (HTTPS only).
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// PEM certificate chain; re-read when it changes.
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// PEM private key; re-read when it changes.
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// Time to judge a review's images; keep it below the webhook's timeoutSeconds (10 s by
    /// default).
    #[arg(long, value_name = "MS", default_value_t = 8000)]
    deadline_ms: u64,
    /// What an image gets when it could not be judged in time (registry down, deadline).
    #[arg(long, value_enum, default_value = "deny")]
    failure_mode: Failure,
    /// How long a verdict is reused.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    verdict_ttl: u64,
    /// The most verdicts kept.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    verdict_cache_size: usize,
    /// How long a tag's digest is reused.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    tag_ttl: u64,
    /// The most evaluations and tag resolutions in flight against one registry.
    #[arg(long, value_name = "N", default_value_t = 32)]
    registry_concurrency: usize,
    /// How often the certificate, key and policy files are checked for changes.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    watch_interval_ms: u64,
    /// Honour the ImageReview annotation `alpha.image-policy.k8s.io/break-glass: "true"`:
    /// admit what the policy denies, with an audit annotation and a warning logged. Off by
    /// default: the annotation is ignored and the answer says so.
    #[arg(long)]
    allow_break_glass: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `vouch serve`.
pub(crate) async fn serve(args: ServeArgs) -> Result<()> {
    let policy = load(&args.policy)?;
    now()?;
    if args.deadline_ms == 0 {
        return Err(UsageError("--deadline-ms must be at least 1".into()).into());
    }
    let opts = JudgeOptions {
        limits: args.registry.limits(),
        verdict_ttl: Duration::from_secs(args.verdict_ttl),
        verdict_capacity: args.verdict_cache_size,
        tag_ttl: Duration::from_secs(args.tag_ttl),
        deadline: Duration::from_millis(args.deadline_ms),
        failure_mode: match args.failure_mode {
            Failure::Deny => FailureMode::Deny,
            Failure::Allow => FailureMode::Allow,
        },
        attachments_repository: attachments_repository()?,
        registry_concurrency: args.registry_concurrency.max(1),
    };
    let clock = Arc::new(|| now().unwrap_or(0));
    let judge = Arc::new(Judge::new(policy, client(&args.registry)?, opts, clock));
    let log = Arc::new(|v: serde_json::Value| {
        let mut line = v.to_string();
        line.push('\n');
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
    run(
        ServeOptions {
            listen: args.listen,
            tls_cert: args.tls_cert,
            tls_key: args.tls_key,
            policy: args.policy,
            watch_interval: Duration::from_millis(args.watch_interval_ms.max(50)),
            allow_break_glass: args.allow_break_glass,
        },
        judge,
        log,
        |_| {},
    )
    .await?;
    Ok(())
}
