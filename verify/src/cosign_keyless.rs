//! cosign's keyless material on OCI layers — `dev.sigstore.cosign/certificate` (the Fulcio leaf,
//! PEM) and `dev.sigstore.cosign/bundle` (Rekor's signed entry timestamp with the entry) — read
//! as the sigstore bundle v0.1 they are equivalent to, so that one verifier checks both forms.
//! The `dev.sigstore.cosign/chain` annotation is not used: intermediates and roots come from the
//! trusted root only.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use vouch_core::digest::Sha256Digest;

/// The layer annotation with the signing certificate.
pub const CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// The layer annotation with the Rekor bundle.
pub const REKOR_BUNDLE: &str = "dev.sigstore.cosign/bundle";

/// What the layer signs.
pub enum Signed<'a> {
    /// A DSSE envelope (attestations): the envelope JSON.
    Dsse(&'a [u8]),
    /// A simple-signing payload (signatures): its digest and the base64 signature.
    Payload {
        /// SHA-256 of the payload bytes.
        digest: Sha256Digest,
        /// The base64 signature annotation.
        signature: &'a str,
    },
}

#[derive(Deserialize)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RekorPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Whether the layer carries keyless material.
pub fn is_keyless(annotations: &BTreeMap<String, String>) -> bool {
    annotations.contains_key(CERTIFICATE)
}

/// The sigstore bundle (v0.1) equivalent to a cosign keyless layer.
pub fn bundle_of(
    annotations: &BTreeMap<String, String>,
    signed: Signed<'_>,
) -> Result<Vec<u8>, String> {
    let pem = annotations
        .get(CERTIFICATE)
        .ok_or_else(|| format!("no `{CERTIFICATE}` annotation"))?;
    let (label, der) = vouch_core::keys::decode_pem(pem.as_bytes())
        .map_err(|e| format!("certificate annotation: {e}"))?;
    if label != "CERTIFICATE" {
        return Err(format!(
            "certificate annotation holds a `{label}` PEM block"
        ));
    }
    let rekor: RekorBundle =
        serde_json::from_str(annotations.get(REKOR_BUNDLE).ok_or_else(|| {
            format!("no `{REKOR_BUNDLE}` annotation: keyless signatures need the Rekor entry")
        })?)
        .map_err(|e| format!("`{REKOR_BUNDLE}` annotation: {e}"))?;
    let body: Value = B64
        .decode(&rekor.payload.body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| "the Rekor entry body is not base64 JSON".to_owned())?;
    let log_id =
        hex::decode(&rekor.payload.log_id).map_err(|_| "the Rekor logID is not hex".to_owned())?;
    let entry = json!({
        "logIndex": rekor.payload.log_index.to_string(),
        "logId": {"keyId": B64.encode(log_id)},
        "kindVersion": {"kind": body.get("kind"), "version": body.get("apiVersion")},
        "integratedTime": rekor.payload.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": rekor.set},
        "canonicalizedBody": rekor.payload.body,
    });
    let mut bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": B64.encode(der)}]},
            "tlogEntries": [entry],
        },
    });
    match signed {
        Signed::Dsse(envelope) => {
            let env: Value =
                serde_json::from_slice(envelope).map_err(|e| format!("envelope: {e}"))?;
            bundle["dsseEnvelope"] = env;
        }
        Signed::Payload { digest, signature } => {
            bundle["messageSignature"] = json!({
                "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(digest.as_bytes())},
                "signature": signature.trim(),
            });
        }
    }
    serde_json::to_vec(&bundle).map_err(|e| e.to_string())
}
