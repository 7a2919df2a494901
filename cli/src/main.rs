//! vouch: sign, attest and verify container images and files, wire-compatible with cosign.
//!
//! This binary only parses arguments, calls `vouch-core` / `vouch-verify` and prints.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod exit;
mod password;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: a batch judges thousands of documents, and glibc's malloc/free took about a sixth
/// of the CPU of `verify --policy` in a profile (issue 16).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  verification or policy failure (a signature, digest or policy check did not pass)
  2  usage or input error (bad flags, unreadable or malformed files, wrong password)
  3  registry or network error

Passwords for private keys come from VOUCH_PASSWORD, else COSIGN_PASSWORD, else a prompt on
the terminal. Set the variable to \"\" to use an empty password.";

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "Sign, attest and verify container images and files; cosign-compatible",
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an ECDSA P-256 key pair in cosign's format (PREFIX.key, PREFIX.pub).
    GenerateKeyPair(commands::keys::GenerateArgs),
    /// Encrypt an existing unencrypted P-256 private key (PKCS#8 or SEC1 PEM) into cosign's format.
    ImportKeyPair(commands::keys::ImportArgs),
    /// Print the public key of an encrypted private key.
    PublicKey(commands::keys::PublicKeyArgs),
    /// Sign a file (streamed) with a private key.
    SignBlob(commands::blob::SignArgs),
    /// Verify a file's signature or sigstore bundle against a public key.
    VerifyBlob(commands::blob::VerifyArgs),
    /// Verify a sigstore bundle offline against a trusted root (sigstore's conformance CLI).
    VerifyBundle(commands::bundle::VerifyBundleArgs),
    /// Sign images (a bundle referrer or cosign's `.sig` tag), with a key or keyless, in a
    /// registry or an OCI layout.
    Sign(commands::sign::SignArgs),
    /// Verify images' signatures against a public key, or judge them by a policy (--policy).
    Verify(commands::verify::VerifyArgs),
    /// Show what is attached to an image: signatures, attestations, SBOMs.
    Tree(commands::tree::TreeArgs),
    /// Attach a signed in-toto attestation (SBOM, scan, provenance…) to an image.
    Attest(commands::attest::AttestArgs),
    /// Verify an image's attestations against a public key.
    VerifyAttestation(commands::verify_attestation::VerifyAttestationArgs),
    /// Judge an image by a policy and, only if it passes, copy exactly that digest (with its
    /// signatures, attestations and referrers) to another registry or OCI layout.
    Promote(commands::promote::PromoteArgs),
    /// Serve a Kubernetes admission webhook (HTTPS) that judges every Pod's images by a policy.
    Serve(commands::serve::ServeArgs),
}

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(f)
}

/// One thread for commands that mostly wait on the registry and judge what comes back: a
/// second worker only adds wake-ups between threads (about a seventh of the CPU of a batch
/// `verify --policy` in a profile, issue 16); the registry, not vouch, is the bound.
fn block_on_one_thread<F: std::future::Future<Output = anyhow::Result<()>>>(
    f: F,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::GenerateKeyPair(args) => commands::keys::generate(args),
        Command::ImportKeyPair(args) => commands::keys::import(args),
        Command::PublicKey(args) => commands::keys::public_key(args),
        Command::SignBlob(args) => commands::blob::sign(args),
        Command::VerifyBlob(args) => commands::blob::verify(args),
        Command::VerifyBundle(args) => commands::bundle::verify_bundle(args),
        Command::Sign(args) => block_on(commands::sign::sign(args)),
        Command::Verify(args) => block_on_one_thread(commands::verify::verify(args)),
        Command::Tree(args) => block_on(commands::tree::tree(args)),
        Command::Attest(args) => block_on(commands::attest::attest(args)),
        Command::VerifyAttestation(args) => {
            block_on(commands::verify_attestation::verify_attestation(args))
        }
        Command::Promote(args) => block_on(commands::promote::promote(args)),
        Command::Serve(args) => block_on(commands::serve::serve(args)),
    };
    args::log_requests();
    args::warn_late_puts();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}
