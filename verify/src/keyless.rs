//! Keyless signing, end to end: an OIDC identity token → a Fulcio certificate for an ephemeral
//! P-256 key (verified against the trusted root before the key signs anything) → the signature
//! → RFC 3161 timestamps from the signing config's TSAs (each verified) → a Rekor v2 entry, or
//! a Rekor v1 entry when the signing config has no v2 log (verified: proof, checkpoint, the
//! SET for v1, our entry) → a sigstore bundle v0.3, which must then pass
//! vouch's own keyless bundle verifier for the token's identity before it is returned. A
//! failing or lying service is a [`KeylessError`] naming it; no bundle exists then.
//!
//! [`KeylessSigner`] signs many artifacts with one certificate (as cosign signs many images):
//! each signature gets its own timestamps and Rekor entry and passes the same self-check; it is
//! the [`AsyncSigner`] vouch-core's image signing and attesting use.
//!
//! The ephemeral key lives in memory only, for one signing run, and is zeroized when dropped.
//! Not built yet: logging to more than one log (a bundle carries one entry). The token comes
//! from the caller (`vouch_core::sigstore::oidc::find_token`, or the browser sign-in in
//! `vouch_core::sigstore::oauth`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use vouch_core::bundle::BUNDLE_V03_MEDIA_TYPE;
use vouch_core::digest::{ArtifactDigests, Sha256Digest};
use vouch_core::keys::{SignError, SigningKey};
use vouch_core::limits::Limits;
use vouch_core::payload::dsse::Envelope;
use vouch_core::sign::{AsyncSigner, SignFuture, Signed, VerificationMaterial};
use vouch_core::sigstore::certificate::CertIdentity;
use vouch_core::sigstore::fulcio_client::{FulcioError, SigningCertificate, request_certificate};
use vouch_core::sigstore::http::HttpLimits;
use vouch_core::sigstore::oidc::{IdentityToken, now};
use vouch_core::sigstore::rekor_client::{Proposed, RekorError, log_entry};
use vouch_core::sigstore::signing_config::{SigningConfig, SigningConfigError, SigningServices};
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_core::sigstore::tsa_client::{TsaError, timestamp};
use vouch_core::{Classify, ErrorClass};

use crate::sigstore_bundle::{Matcher, Signer as BundleSigner, VerifiedSigstoreBundle, verify};

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
    let signer = KeylessSigner::new(token, ctx).await?;
    let (bundle, _) = signer
        .sign(Content::Blob(digest), &ArtifactDigests::from(*digest))
        .await?;
    Ok(bundle)
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
    let signer = KeylessSigner::new(token, ctx).await?;
    let (bundle, _) = signer.sign(content, subject).await?;
    Ok(bundle)
}

/// A keyless signing run: an ephemeral P-256 key and the Fulcio certificate for it (verified
/// against the trusted root before the key signs anything), signing any number of artifacts.
/// Each signature is timestamped by the signing config's TSAs and logged in Rekor, and the
/// bundle made of it must pass vouch's verifier for the certified identity before the
/// signature is returned. As an [`AsyncSigner`] it signs images and attestations (vouch-core's
/// `sign_images`, `sign_statement_async`); a failure is a [`SignError::Service`] naming the
/// service.
///
/// [`SignError::Service`]: vouch_core::keys::SignError::Service
pub struct KeylessSigner<'a> {
    ctx: KeylessContext<'a>,
    services: SigningServices,
    key: SigningKey,
    cert: SigningCertificate,
}

impl std::fmt::Debug for KeylessSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSigner")
            .field("identity", self.cert.identity())
            .finish_non_exhaustive()
    }
}

impl<'a> KeylessSigner<'a> {
    /// Picks the services, makes the ephemeral key and gets its certificate for `token`.
    pub async fn new(
        token: &IdentityToken,
        ctx: &KeylessContext<'a>,
    ) -> Result<Self, KeylessError> {
        let services = ctx.signing_config.select(now())?;
        let key = SigningKey::generate().map_err(|e| KeylessError::Key(e.to_string()))?;
        let cert = request_certificate(
            &services.fulcio,
            &key,
            token,
            ctx.trusted_root,
            now(),
            &ctx.http,
        )
        .await?;
        Ok(Self {
            ctx: *ctx,
            services,
            key,
            cert,
        })
    }

    /// The certified identity.
    pub fn identity(&self) -> &CertIdentity {
        self.cert.identity()
    }

    /// Signs `content`, timestamps and logs the signature, and checks the bundle for
    /// `artifact`; returns the bundle and the signature with its material.
    async fn sign(
        &self,
        content: Content<'_>,
        artifact: &ArtifactDigests,
    ) -> Result<(KeylessBundle, Signed), KeylessError> {
        let root = self.ctx.trusted_root;
        let services = &self.services;
        let key = &self.key;
        let cert = &self.cert;
        let cert_der = cert.leaf().der().to_vec();
        // 1. The signature.
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
        // 2. and 3. Timestamps over the signature (from every selected TSA) and the
        // transparency-log entry (the first log selected: a bundle carries one entry), asked for
        // at once: neither depends on the other, and each answer is verified on arrival.
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
        let stamps = futures_util::future::try_join_all(services.tsas.iter().map(|tsa| async {
            let t = timestamp(tsa, &signature, root, &self.ctx.http).await?;
            Ok::<_, KeylessError>(t.response().to_vec())
        }));
        let entry = async {
            Ok::<_, KeylessError>(
                log_entry(rekor, proposed, &cert_der, root, &self.ctx.http).await?,
            )
        };
        let (stamps, entry) = futures_util::future::try_join(stamps, entry).await?;
        // 4. The bundle.
        let mut vm = json!({
            "certificate": { "rawBytes": B64.encode(&cert_der) },
            "tlogEntries": [entry],
        });
        if !stamps.is_empty() {
            vm["timestampVerificationData"] = json!({ "rfc3161Timestamps": stamps
                .iter()
                .map(|t| json!({ "signedTimestamp": B64.encode(t) }))
                .collect::<Vec<_>>() });
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
        // 5. vouch's own verifier, for the certified identity.
        let id = cert.identity();
        let subject = Matcher::Exact(id.san.clone());
        let issuer = Matcher::Exact(id.issuer.clone().unwrap_or_default());
        let signer = BundleSigner::Identity {
            subject: &subject,
            issuer: &issuer,
        };
        let verified = verify(&bytes, artifact, &signer, root, &Limits::DEFAULT)
            .map_err(|e| KeylessError::SelfCheck(e.to_string()))?;
        let mut chain = vec![cert_der];
        chain.extend(cert.ca_chain().iter().cloned());
        let signed = Signed {
            signature,
            material: VerificationMaterial::CertificateChain(chain),
            log_entry: Some(entry),
            timestamps: stamps,
        };
        Ok((KeylessBundle { bytes, verified }, signed))
    }
}

impl From<KeylessError> for SignError {
    fn from(e: KeylessError) -> Self {
        SignError::Service {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

/// The SHA-256 digest an in-toto statement's first subject names (what its bundle is checked
/// against).
fn statement_subject(statement: &[u8]) -> Result<ArtifactDigests, KeylessError> {
    let v: Value = serde_json::from_slice(statement)
        .map_err(|e| KeylessError::SelfCheck(format!("the statement is not JSON: {e}")))?;
    let hex = v
        .pointer("/subject/0/digest/sha256")
        .and_then(Value::as_str)
        .ok_or_else(|| KeylessError::SelfCheck("the statement names no sha256 subject".into()))?;
    let bytes = hex::decode(hex)
        .map_err(|_| KeylessError::SelfCheck("the subject digest is not hex".into()))?;
    let d = Sha256Digest::from_slice(&bytes)
        .map_err(|e| KeylessError::SelfCheck(format!("the subject digest: {e}")))?;
    Ok(ArtifactDigests::from(d))
}

impl AsyncSigner for KeylessSigner<'_> {
    fn sign_dsse_async<'b>(&'b self, payload_type: &'b str, payload: &'b [u8]) -> SignFuture<'b> {
        Box::pin(async move {
            let artifact = statement_subject(payload)?;
            let content = Content::Dsse {
                payload_type,
                payload,
            };
            Ok(self.sign(content, &artifact).await?.1)
        })
    }

    fn sign_payload_async<'b>(&'b self, payload: &'b [u8]) -> SignFuture<'b> {
        Box::pin(async move {
            let digest = Sha256Digest::of(payload);
            let artifact = ArtifactDigests::from(digest);
            Ok(self.sign(Content::Blob(&digest), &artifact).await?.1)
        })
    }
}
