//! Keyless signing, end to end: an OIDC identity token → a Fulcio certificate for an ephemeral
//! P-256 key (verified against the trusted root before the key signs anything) → the signature
//! → RFC 3161 timestamps from the signing config's TSAs (each verified) → a Rekor v2 entry, or
//! a Rekor v1 entry when the signing config has no v2 log (verified: proof, checkpoint, the
//! SET for v1, our entry) → a sigstore bundle v0.3, which must then pass
//! vouch's own keyless bundle verifier for the token's identity before it is returned. A
//! failing or lying service is a [`KeylessError`] naming it; no bundle exists then.
//!
//! The ephemeral key lives in memory only, for one signing, and is zeroized when dropped.
//! Not built yet: logging to more than one log (a bundle carries one entry),
//! the interactive browser flow for tokens.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use vouch_core::bundle::BUNDLE_V03_MEDIA_TYPE;
use vouch_core::digest::{ArtifactDigests, Sha256Digest};
use vouch_core::keys::SigningKey;
use vouch_core::limits::Limits;
use vouch_core::payload::dsse::Envelope;
use vouch_core::sigstore::certificate::CertIdentity;
use vouch_core::sigstore::fulcio_client::{FulcioError, SigningCertificate, request_certificate};
use vouch_core::sigstore::http::HttpLimits;
use vouch_core::sigstore::oidc::{IdentityToken, now};
use vouch_core::sigstore::rekor_client::{Proposed, RekorError, log_entry};
use vouch_core::sigstore::signing_config::{SigningConfig, SigningConfigError};
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_core::sigstore::tsa_client::{TsaError, timestamp};
use vouch_core::{Classify, ErrorClass};

use crate::sigstore_bundle::{Matcher, Signer, VerifiedSigstoreBundle, verify};

/// Why keyless signing failed. Nothing was signed into a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// No usable service in the signing config.
    #[error(transparent)]
    Config(#[from] SigningConfigError),
    /// Fulcio failed or lied.
    #[error(transparent)]
    Fulcio(#[from] FulcioError),
    /// A TSA failed or lied.
    #[error(transparent)]
    Tsa(#[from] TsaError),
    /// Rekor failed or lied.
    #[error(transparent)]
    Rekor(#[from] RekorError),
    /// The ephemeral key could not be made or sign.
    #[error("the ephemeral signing key: {0}")]
    Key(String),
    /// The finished bundle does not pass vouch's own verifier (a service's answer that each
    /// check alone let through).
    #[error("the keyless bundle does not verify: {0}")]
    SelfCheck(String),
}

impl Classify for KeylessError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Config(_) => ErrorClass::Input,
            Self::Fulcio(FulcioError::Unavailable { .. })
            | Self::Rekor(RekorError::Unavailable { .. })
            | Self::Tsa(TsaError::Unavailable { .. }) => ErrorClass::Registry,
            _ => ErrorClass::Verification,
        }
    }
}

/// Where and with what trust to sign.
#[derive(Debug, Clone, Copy)]
pub struct KeylessContext<'a> {
    /// The trusted root every answer is verified with.
    pub trusted_root: &'a TrustedRoot,
    /// Where the services are.
    pub signing_config: &'a SigningConfig,
    /// Timeouts and response sizes.
    pub http: HttpLimits,
}

/// A keyless bundle that passed vouch's verifier for the token's identity.
#[derive(Debug)]
pub struct KeylessBundle {
    bytes: Vec<u8>,
    verified: VerifiedSigstoreBundle,
}

impl KeylessBundle {
    /// The bundle (v0.3 JSON, newline-terminated).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The bundle, consumed.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
    /// What the verifier established (identity, signing time, log index).
    pub fn verified(&self) -> &VerifiedSigstoreBundle {
        &self.verified
    }
    /// The certified identity.
    pub fn identity(&self) -> Option<&CertIdentity> {
        self.verified.identity()
    }
}

/// What is signed.
enum Content<'a> {
    Blob(&'a Sha256Digest),
    Dsse {
        payload_type: &'a str,
        payload: &'a [u8],
    },
}

/// Signs the blob with SHA-256 digest `digest` keylessly; returns a `messageSignature` bundle.
pub async fn sign_blob(
    digest: &Sha256Digest,
    token: &IdentityToken,
    ctx: &KeylessContext<'_>,
) -> Result<KeylessBundle, KeylessError> {
    sign(
        Content::Blob(digest),
        &ArtifactDigests::from(*digest),
        token,
        ctx,
    )
    .await
}

/// Signs `statement` (an in-toto Statement about `subject`) keylessly in a DSSE envelope;
/// returns a `dsseEnvelope` bundle (attestations, cosign 3 image signatures).
pub async fn sign_statement(
    statement: &[u8],
    subject: &ArtifactDigests,
    token: &IdentityToken,
    ctx: &KeylessContext<'_>,
) -> Result<KeylessBundle, KeylessError> {
    let content = Content::Dsse {
        payload_type: vouch_core::payload::intoto::INTOTO_PAYLOAD_TYPE,
        payload: statement,
    };
    sign(content, subject, token, ctx).await
}

async fn sign(
    content: Content<'_>,
    artifact: &ArtifactDigests,
    token: &IdentityToken,
    ctx: &KeylessContext<'_>,
) -> Result<KeylessBundle, KeylessError> {
    let root = ctx.trusted_root;
    let services = ctx.signing_config.select(now())?;
    // 1. The certificate, verified before the key signs anything.
    let key = SigningKey::generate().map_err(|e| KeylessError::Key(e.to_string()))?;
    let cert: SigningCertificate =
        request_certificate(&services.fulcio, &key, token, root, now(), &ctx.http).await?;
    let cert_der = cert.leaf().der().to_vec();
    // 2. The signature.
    let (signature, envelope) = match &content {
        Content::Blob(d) => (
            key.sign_digest(d)
                .map_err(|e| KeylessError::Key(e.to_string()))?
                .as_der()
                .to_vec(),
            None,
        ),
        Content::Dsse {
            payload_type,
            payload,
        } => {
            let unsigned = Envelope::new(payload_type, payload.to_vec(), Vec::new());
            let sig = key
                .sign_digest(&unsigned.pae_digest())
                .map_err(|e| KeylessError::Key(e.to_string()))?
                .as_der()
                .to_vec();
            (
                sig.clone(),
                Some(Envelope::new(payload_type, payload.to_vec(), sig)),
            )
        }
    };
    drop(key);
    // 3. Timestamps over the signature.
    let mut stamps = Vec::with_capacity(services.tsas.len());
    for tsa in &services.tsas {
        let t = timestamp(tsa, &signature, root, &ctx.http).await?;
        stamps.push(json!({ "signedTimestamp": B64.encode(t.response()) }));
    }
    // 4. The transparency log (the first log selected: a bundle carries one entry).
    let rekor = services
        .rekor
        .first()
        .ok_or(SigningConfigError::NoService {
            kind: "Rekor",
            supported: "Rekor v1 or v2",
        })?;
    let proposed = match (&content, &envelope) {
        (Content::Blob(d), _) => Proposed::MessageSignature {
            digest: d,
            signature: &signature,
        },
        (_, Some(env)) => Proposed::Dsse(env),
        (Content::Dsse { .. }, None) => {
            return Err(KeylessError::Key("no envelope was signed".into()));
        }
    };
    let entry = log_entry(rekor, proposed, &cert_der, root, &ctx.http).await?;
    // 5. The bundle.
    let mut vm = json!({
        "certificate": { "rawBytes": B64.encode(&cert_der) },
        "tlogEntries": [entry],
    });
    if !stamps.is_empty() {
        vm["timestampVerificationData"] = json!({ "rfc3161Timestamps": stamps });
    }
    let mut doc = json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": vm,
    });
    match (&content, &envelope) {
        (Content::Blob(d), _) => {
            doc["messageSignature"] = json!({
                "messageDigest": { "algorithm": "SHA2_256", "digest": B64.encode(d.as_bytes()) },
                "signature": B64.encode(&signature),
            });
        }
        (_, Some(env)) => {
            let v: Value = serde_json::from_slice(&env.to_json())
                .map_err(|e| KeylessError::Key(e.to_string()))?;
            doc["dsseEnvelope"] = v;
        }
        (Content::Dsse { .. }, None) => {}
    }
    let mut bytes =
        serde_json::to_vec_pretty(&doc).map_err(|e| KeylessError::SelfCheck(e.to_string()))?;
    bytes.push(b'\n');
    // 6. vouch's own verifier, for the certified identity.
    let id = cert.identity();
    let subject = Matcher::Exact(id.san.clone());
    let issuer = Matcher::Exact(id.issuer.clone().unwrap_or_default());
    let signer = Signer::Identity {
        subject: &subject,
        issuer: &issuer,
    };
    let verified = verify(&bytes, artifact, &signer, root, &Limits::DEFAULT)
        .map_err(|e| KeylessError::SelfCheck(e.to_string()))?;
    Ok(KeylessBundle { bytes, verified })
}
