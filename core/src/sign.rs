//! Signing images and attestations, in every format vouch writes, by any [`Signer`].
//!
//! One path for every command and embedder: an in-toto statement → a DSSE envelope signed by the
//! signer → a sigstore bundle (v0.3) carrying the signer's verification material → an OCI 1.1
//! referrer of the image (cosign 3's format); or cosign's legacy layers of the
//! `sha256-<hex>.sig` / `.att` tags.
//!
//! A [`Signer`] returns, beside the signature, what a verifier needs: a public-key hint
//! ([`KeySigner`], a key file), or a certificate chain with a transparency-log entry and
//! timestamps (keyless signing: an [`AsyncSigner`] that calls Fulcio, Rekor and TSAs, in
//! vouch-verify, where its answers are verified before they are returned).
//!
//! ```
//! use vouch_core::keys::SigningKey;
//! use vouch_core::digest::Sha256Digest;
//! use vouch_core::payload::intoto::Subject;
//! use vouch_core::sign::{KeySigner, sign_statement};
//!
//! let signer = KeySigner::for_images(SigningKey::generate().unwrap()).unwrap();
//! let subject = Subject::sha256(None, &Sha256Digest::of(b"an image manifest"));
//! let signed = sign_statement(&signer, &[subject], "https://example.com/p", b"{}").unwrap();
//! let bundle = signed.bundle();
//! assert!(vouch_core::bundle::Bundle::parse(&bundle, &Default::default()).is_ok());
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;

use crate::bundle::Bundle;
use crate::cosign::{AttachOutcome, AttachRequest, Attachment, NewLayer, SIGNATURE_ANNOTATION};
use crate::cosign::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, RFC3161_TIMESTAMP_ANNOTATION,
    SettleOptions, attach_all,
};
use crate::digest::Sha256Digest;
use crate::keys::{SignError, SigningKey};
use crate::oci::manifest::{Descriptor, OCI_MANIFEST};
use crate::oci::{OciError, OciLimits, ResolvedImage, Target};
use crate::payload::dsse::{DSSE_MEDIA_TYPE, Envelope, sign_pae};
use crate::payload::intoto::{INTOTO_PAYLOAD_TYPE, Statement, Subject};
use crate::payload::simple_signing::{SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning};
use crate::referrers::{COSIGN_SIGN_PREDICATE, Referrer};

/// What a verifier needs to check a signature, as the signer hands it back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerificationMaterial {
    /// A public key the verifier already has, named by a hint (cosign's key files).
    PublicKey {
        /// The key's hint (base64 SHA-256 of its SPKI).
        hint: String,
    },
    /// A certificate chain, leaf first, DER (keyless Fulcio signing; KMS keys with
    /// certificates).
    CertificateChain(Vec<Vec<u8>>),
}

/// A signature and its verification material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signature bytes (DER for ECDSA).
    pub signature: Vec<u8>,
    /// How to verify it.
    pub material: VerificationMaterial,
    /// The transparency-log entry, as a bundle's `tlogEntries[]` element (keyless signing).
    pub log_entry: Option<serde_json::Value>,
    /// RFC 3161 signed timestamps (DER) over the signature.
    pub timestamps: Vec<Vec<u8>>,
}

/// Something that signs images and attestations: a key file today; keyless (Fulcio + Rekor) and
/// KMS signers implement the same trait.
pub trait Signer: Send + Sync {
    /// Signs a DSSE envelope's PAE(`payload_type`, `payload`) as cosign does.
    fn sign_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<Signed, SignError>;
    /// Signs a legacy `.sig` payload (cosign's simple-signing JSON) as cosign does.
    fn sign_payload(&self, payload: &[u8]) -> Result<Signed, SignError>;
}

/// A signature being made by an [`AsyncSigner`].
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Signed, SignError>> + Send + 'a>>;

/// A signer that calls services for each signature (keyless: a timestamp and a Rekor entry per
/// signature). Every [`Signer`] is one, answering at once.
pub trait AsyncSigner: Send + Sync {
    /// Signs a DSSE envelope's PAE(`payload_type`, `payload`) as cosign does.
    fn sign_dsse_async<'a>(&'a self, payload_type: &'a str, payload: &'a [u8]) -> SignFuture<'a>;
    /// Signs a legacy `.sig` payload (cosign's simple-signing JSON) as cosign does.
    fn sign_payload_async<'a>(&'a self, payload: &'a [u8]) -> SignFuture<'a>;
}

impl<T: Signer> AsyncSigner for T {
    fn sign_dsse_async<'a>(&'a self, payload_type: &'a str, payload: &'a [u8]) -> SignFuture<'a> {
        let r = self.sign_dsse(payload_type, payload);
        Box::pin(std::future::ready(r))
    }
    fn sign_payload_async<'a>(&'a self, payload: &'a [u8]) -> SignFuture<'a> {
        let r = self.sign_payload(payload);
        Box::pin(std::future::ready(r))
    }
}

/// cosign's keyless layer annotations for `signed`: the leaf certificate and the CA chain (PEM),
/// the Rekor entry as cosign's `bundle` annotation (its SET and body), and RFC 3161 timestamps.
/// Empty for key-signed material.
pub fn keyless_annotations(signed: &Signed) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let VerificationMaterial::CertificateChain(chain) = &signed.material else {
        return out;
    };
    let pem = |ders: &[Vec<u8>]| -> String {
        ders.iter()
            .map(|d| crate::sigstore::fulcio_client::certificate_pem(d))
            .collect()
    };
    if let Some((leaf, rest)) = chain.split_first() {
        out.insert(
            CERTIFICATE_ANNOTATION.to_owned(),
            pem(std::slice::from_ref(leaf)),
        );
        if !rest.is_empty() {
            out.insert(CHAIN_ANNOTATION.to_owned(), pem(rest));
        }
    }
    if let Some(b) = signed.log_entry.as_ref().and_then(rekor_bundle) {
        out.insert(BUNDLE_ANNOTATION.to_owned(), b);
    }
    // cosign writes one timestamp; the first, as cosign's `RFC3161Timestamp` JSON.
    if let Some(t) = signed.timestamps.first() {
        out.insert(
            RFC3161_TIMESTAMP_ANNOTATION.to_owned(),
            serde_json::json!({ "SignedRFC3161Timestamp": B64.encode(t) }).to_string(),
        );
    }
    out
}

/// A bundle `tlogEntries[]` element with a SET as cosign's `RekorBundle` JSON
/// (`{"SignedEntryTimestamp", "Payload": {"body", "integratedTime", "logIndex", "logID"}}`).
fn rekor_bundle(entry: &serde_json::Value) -> Option<String> {
    let s = |p: &str| entry.pointer(p).and_then(serde_json::Value::as_str);
    let set = s("/inclusionPromise/signedEntryTimestamp")?;
    let body = s("/canonicalizedBody")?;
    let time: i64 = s("/integratedTime")?.parse().ok()?;
    let index: i64 = s("/logIndex")?.parse().ok()?;
    let log_id = hex::encode(B64.decode(s("/logId/keyId")?).ok()?);
    Some(
        serde_json::json!({
            "SignedEntryTimestamp": set,
            "Payload": {
                "body": body,
                "integratedTime": time,
                "logIndex": index,
                "logID": log_id,
            },
        })
        .to_string(),
    )
}

/// A [`Signer`] over a key file's key, refused at construction when cosign would not sign images
/// with it the way vouch does (Ed25519: cosign uses Ed25519ph).
#[derive(Debug)]
pub struct KeySigner {
    key: SigningKey,
    hint: String,
}

impl KeySigner {
    /// A signer for images and attestations.
    pub fn for_images(key: SigningKey) -> Result<Self, SignError> {
        key.check_image_signing()?;
        let hint = key.public_key().hint();
        Ok(Self { key, hint })
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    fn signed(&self, signature: Vec<u8>) -> Signed {
        Signed {
            signature,
            material: VerificationMaterial::PublicKey {
                hint: self.hint.clone(),
            },
            log_entry: None,
            timestamps: Vec::new(),
        }
    }
}

impl Signer for KeySigner {
    fn sign_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<Signed, SignError> {
        let sig = sign_pae(&self.key, payload_type, payload)?;
        Ok(self.signed(sig.as_der().to_vec()))
    }

    fn sign_payload(&self, payload: &[u8]) -> Result<Signed, SignError> {
        let sig = self.key.sign(payload)?;
        Ok(self.signed(sig.as_der().to_vec()))
    }
}

/// A signed DSSE envelope over an in-toto statement, with its verification material.
#[derive(Debug, Clone)]
pub struct SignedEnvelope {
    envelope: Envelope,
    signed: Signed,
}

impl SignedEnvelope {
    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The signature and its material.
    pub fn signed(&self) -> &Signed {
        &self.signed
    }

    /// The sigstore bundle (v0.3) holding the envelope and the verification material.
    pub fn bundle(&self) -> Vec<u8> {
        let mut material = serde_json::Map::new();
        match &self.signed.material {
            VerificationMaterial::PublicKey { hint } => {
                material.insert("publicKey".into(), serde_json::json!({"hint": hint}));
            }
            // A v0.3 bundle carries the leaf alone; the chain comes from the trusted root.
            VerificationMaterial::CertificateChain(chain) => {
                material.insert(
                    "certificate".into(),
                    serde_json::json!({"rawBytes": chain.first().map(|c| B64.encode(c)).unwrap_or_default()}),
                );
            }
        }
        material.insert(
            "tlogEntries".into(),
            serde_json::Value::Array(self.signed.log_entry.iter().cloned().collect()),
        );
        if !self.signed.timestamps.is_empty() {
            material.insert(
                "timestampVerificationData".into(),
                serde_json::json!({"rfc3161Timestamps": self.signed.timestamps.iter()
                    .map(|t| serde_json::json!({"signedTimestamp": B64.encode(t)}))
                    .collect::<Vec<_>>()}),
            );
        }
        Bundle::dsse_v03_with(material, &self.envelope)
    }

    /// The envelope as a layer of cosign's legacy `.att` tag.
    /// Keyless material goes in cosign's annotations (certificate, chain, Rekor bundle,
    /// timestamp).
    pub fn legacy_attestation_layer(&self, predicate_type: &str) -> NewLayer {
        let mut annotations = keyless_annotations(&self.signed);
        annotations.insert(
            crate::cosign::LEGACY_PREDICATE_TYPE_ANNOTATION.to_owned(),
            predicate_type.to_owned(),
        );
        annotations.insert(SIGNATURE_ANNOTATION.to_owned(), String::new());
        NewLayer {
            media_type: DSSE_MEDIA_TYPE.into(),
            blob: Bytes::from(self.envelope.to_json()),
            annotations,
        }
    }
}

/// Signs the in-toto statement `{subjects, predicate_type, predicate}` (the predicate's bytes
/// kept as they are) in a DSSE envelope.
pub fn sign_statement(
    signer: &dyn Signer,
    subjects: &[Subject],
    predicate_type: &str,
    predicate: &[u8],
) -> Result<SignedEnvelope, SignError> {
    let statement = Statement::encode_raw(subjects, predicate_type, predicate);
    let signed = signer.sign_dsse(INTOTO_PAYLOAD_TYPE, &statement)?;
    let envelope = Envelope::new(INTOTO_PAYLOAD_TYPE, statement, signed.signature.clone());
    Ok(SignedEnvelope { envelope, signed })
}

/// [`sign_statement`] by any [`AsyncSigner`] (keyless signers log and timestamp it).
pub async fn sign_statement_async(
    signer: &dyn AsyncSigner,
    subjects: &[Subject],
    predicate_type: &str,
    predicate: &[u8],
) -> Result<SignedEnvelope, SignError> {
    let statement = Statement::encode_raw(subjects, predicate_type, predicate);
    let signed = signer
        .sign_dsse_async(INTOTO_PAYLOAD_TYPE, &statement)
        .await?;
    let envelope = Envelope::new(INTOTO_PAYLOAD_TYPE, statement, signed.signature.clone());
    Ok(SignedEnvelope { envelope, signed })
}

/// cosign 3's referrer of `image` holding `bundle` (the referrer's creation time: `created`).
pub fn referrer(
    image: &ResolvedImage,
    bundle: Bytes,
    predicate_type: &str,
    created: SystemTime,
) -> Referrer {
    let mut subject = Descriptor::of(&image.manifest.media_type, &image.manifest.bytes);
    if subject.media_type.is_empty() {
        subject.media_type = OCI_MANIFEST.into();
    }
    crate::referrers::referrer(
        subject,
        bundle,
        predicate_type,
        &crate::time::format_rfc3339(created),
    )
}

/// cosign 3's image signature of `image`: a statement about its digest (predicate
/// `https://sigstore.dev/cosign/sign/v1`, `{}`), signed, in a bundle referrer.
pub fn image_signature_referrer(
    signer: &dyn Signer,
    image: &ResolvedImage,
    created: SystemTime,
) -> Result<Referrer, SignError> {
    let subject = Subject::sha256(None, &image.digest);
    let signed = sign_statement(signer, &[subject], COSIGN_SIGN_PREDICATE, b"{}")?;
    Ok(referrer(
        image,
        Bytes::from(signed.bundle()),
        COSIGN_SIGN_PREDICATE,
        created,
    ))
}

/// [`image_signature_referrer`] by any [`AsyncSigner`].
pub async fn image_signature_referrer_async(
    signer: &dyn AsyncSigner,
    image: &ResolvedImage,
    created: SystemTime,
) -> Result<Referrer, SignError> {
    let subject = Subject::sha256(None, &image.digest);
    let signed = sign_statement_async(signer, &[subject], COSIGN_SIGN_PREDICATE, b"{}").await?;
    Ok(referrer(
        image,
        Bytes::from(signed.bundle()),
        COSIGN_SIGN_PREDICATE,
        created,
    ))
}

/// cosign's legacy image signature: the simple-signing payload naming `identity` and `digest`
/// (with `annotations` as its `optional` map), signed, as a layer of the `.sig` tag.
pub fn legacy_signature_layer(
    signer: &dyn Signer,
    identity: &str,
    digest: &Sha256Digest,
    annotations: &BTreeMap<String, String>,
) -> Result<NewLayer, SignError> {
    let payload = simple_signing_payload(identity, digest, annotations);
    let signed = signer.sign_payload(&payload)?;
    Ok(legacy_layer(payload, &signed))
}

/// [`legacy_signature_layer`] by any [`AsyncSigner`]; keyless material goes in cosign's
/// annotations (certificate, chain, Rekor bundle, timestamp).
pub async fn legacy_signature_layer_async(
    signer: &dyn AsyncSigner,
    identity: &str,
    digest: &Sha256Digest,
    annotations: &BTreeMap<String, String>,
) -> Result<NewLayer, SignError> {
    let payload = simple_signing_payload(identity, digest, annotations);
    let signed = signer.sign_payload_async(&payload).await?;
    Ok(legacy_layer(payload, &signed))
}

fn legacy_layer(payload: Vec<u8>, signed: &Signed) -> NewLayer {
    let mut annotations = keyless_annotations(signed);
    annotations.insert(
        SIGNATURE_ANNOTATION.to_owned(),
        B64.encode(&signed.signature),
    );
    NewLayer {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
        blob: Bytes::from(payload),
        annotations,
    }
}

fn simple_signing_payload(
    identity: &str,
    digest: &Sha256Digest,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let optional = (!annotations.is_empty()).then(|| {
        annotations
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    });
    SimpleSigning {
        docker_reference: identity.to_owned(),
        manifest_digest: *digest,
        optional,
    }
    .to_bytes()
}

/// Attaches `bundle` to `image` as a cosign 3 referrer, in the image's repository.
pub async fn attach_bundle(
    image: &ResolvedImage,
    bundle: Bytes,
    predicate_type: &str,
    settle: SettleOptions,
    limits: &OciLimits,
) -> Result<AttachOutcome, OciError> {
    let r = referrer(image, bundle, predicate_type, SystemTime::now());
    let mut out =
        crate::referrers::attach_referrers(&image.target, &[(image.digest, r)], settle, limits, 1)
            .await;
    out.pop().unwrap_or(Ok(AttachOutcome::AlreadyPresent))
}

/// How image signatures are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureFormat {
    /// cosign 3: a sigstore bundle attached as an OCI 1.1 referrer.
    Bundle,
    /// cosign 1–2: layers of the `sha256-<hex>.sig` tag (with optional annotations).
    Legacy,
}

/// One image to sign: the image (resolved once) and where its `.sig` tag lives.
#[derive(Debug, Clone)]
pub struct SignJob {
    /// The image, by digest.
    pub image: ResolvedImage,
    /// Where its `.sig` tag lives (the legacy format).
    pub attachments: Target,
}

/// Signs every image of `jobs` in `format` and attaches the signatures, with one settle wait per
/// repository; one result per job, in order, named `IDENTITY@DIGEST`. Every image is signed
/// (`concurrency` signatures at once) before anything is attached: a signing error attaches
/// nothing.
pub async fn sign_images(
    signer: &dyn AsyncSigner,
    jobs: &[SignJob],
    format: SignatureFormat,
    annotations: &BTreeMap<String, String>,
    settle: SettleOptions,
    limits: &OciLimits,
    concurrency: usize,
) -> Result<Vec<(String, Result<AttachOutcome, OciError>)>, SignError> {
    use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
    let name = |i: &ResolvedImage| format!("{}@{}", i.identity, i.digest);
    let concurrency = concurrency.max(1);
    if format == SignatureFormat::Legacy {
        let layers: Vec<NewLayer> = stream::iter(jobs)
            .map(|job| {
                let img = &job.image;
                legacy_signature_layer_async(signer, &img.identity, &img.digest, annotations)
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        let requests: Vec<AttachRequest> = jobs
            .iter()
            .zip(layers)
            .map(|(job, layer)| AttachRequest {
                target: job.attachments.clone(),
                image: job.image.digest,
                attachment: Attachment::Signatures,
                layer,
                replace_predicate_type: None,
            })
            .collect();
        let results = attach_all(&requests, settle, limits, concurrency).await;
        return Ok(jobs.iter().map(|j| name(&j.image)).zip(results).collect());
    }
    // Bundle referrers, a batch per repository: one settle wait for all.
    type Batch = Vec<(Sha256Digest, Referrer, String)>;
    let now = SystemTime::now();
    let referrers: Vec<Referrer> = stream::iter(jobs)
        .map(|job| image_signature_referrer_async(signer, &job.image, now))
        .buffered(concurrency)
        .try_collect()
        .await?;
    let mut groups: BTreeMap<String, (Target, Batch)> = BTreeMap::new();
    for (job, r) in jobs.iter().zip(referrers) {
        let img = &job.image;
        groups
            .entry(img.target.describe())
            .or_insert_with(|| (img.target.clone(), Vec::new()))
            .1
            .push((img.digest, r, name(img)));
    }
    let mut out = Vec::with_capacity(jobs.len());
    for (_, (target, batch)) in groups {
        let (refs, names): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|(d, r, n)| ((d, r), n)).unzip();
        let results =
            crate::referrers::attach_referrers(&target, &refs, settle, limits, concurrency).await;
        out.extend(names.into_iter().zip(results));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! cosign's keyless annotations, from a signer's material.
    use serde_json::{Value, json};

    use super::*;

    fn entry() -> Value {
        json!({
            "logIndex": "7",
            "logId": { "keyId": B64.encode([0xab; 32]) },
            "kindVersion": { "kind": "hashedrekord", "version": "0.0.1" },
            "integratedTime": "1700000000",
            "inclusionPromise": { "signedEntryTimestamp": "U0VU" },
            "canonicalizedBody": "Ym9keQ==",
        })
    }

    fn keyless(entry: Option<Value>) -> Signed {
        Signed {
            signature: vec![1, 2, 3],
            material: VerificationMaterial::CertificateChain(vec![
                b"leaf".to_vec(),
                b"intermediate".to_vec(),
                b"root".to_vec(),
            ]),
            log_entry: entry,
            timestamps: vec![b"tsr".to_vec()],
        }
    }

    #[test]
    fn keyless_material_becomes_cosigns_annotations() {
        let a = keyless_annotations(&keyless(Some(entry())));
        let pem = |s: &str| crate::keys::decode_pem(s.as_bytes()).unwrap();
        assert_eq!(
            pem(&a[CERTIFICATE_ANNOTATION]),
            ("CERTIFICATE".to_owned(), b"leaf".to_vec())
        );
        let chain = &a[CHAIN_ANNOTATION];
        assert_eq!(chain.matches("-----BEGIN CERTIFICATE-----").count(), 2);
        assert!(chain.find("BEGIN").unwrap() < chain.rfind("BEGIN").unwrap());
        let bundle: Value = serde_json::from_str(&a[BUNDLE_ANNOTATION]).unwrap();
        assert_eq!(
            bundle,
            json!({
                "SignedEntryTimestamp": "U0VU",
                "Payload": {
                    "body": "Ym9keQ==",
                    "integratedTime": 1_700_000_000,
                    "logIndex": 7,
                    "logID": "ab".repeat(32),
                },
            })
        );
        let ts: Value = serde_json::from_str(&a[RFC3161_TIMESTAMP_ANNOTATION]).unwrap();
        assert_eq!(ts, json!({ "SignedRFC3161Timestamp": B64.encode(b"tsr") }));
    }

    #[test]
    fn no_set_no_bundle_annotation_and_keys_have_none() {
        let mut e = entry();
        e.as_object_mut().unwrap().remove("inclusionPromise");
        let a = keyless_annotations(&keyless(Some(e)));
        assert!(!a.contains_key(BUNDLE_ANNOTATION));
        assert!(a.contains_key(CERTIFICATE_ANNOTATION));
        let key = Signed {
            signature: vec![1],
            material: VerificationMaterial::PublicKey { hint: "h".into() },
            log_entry: None,
            timestamps: Vec::new(),
        };
        assert!(keyless_annotations(&key).is_empty());
    }
}
