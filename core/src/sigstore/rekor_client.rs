//! Rekor v1's `POST /api/v1/log/entries` (Rekor v2 logs: [`super::rekor_v2_client`], which
//! [`log_entry`] hands them to): a `hashedrekord` 0.0.1 entry for a message signature (blobs,
//! image signatures) or a `dsse` 0.0.1 entry for a DSSE envelope (attestations, cosign 3 image
//! signatures), signed by a Fulcio certificate. The answer (body, integrated time, SET,
//! inclusion proof with checkpoint) becomes a bundle `tlogEntries[]` element, accepted only
//! when it checks out against the trusted root (known log, proof to a checkpoint the log signed,
//! the log's SET) and its body is the entry proposed — never another artifact, signature or
//! certificate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{HttpLimits, client, excerpt, read_body};
use super::signing_config::Service;
use super::tlog::TlogEntry;
use super::trusted_root::TrustedRoot;
use crate::digest::Sha256Digest;
use crate::payload::dsse::Envelope;

/// What went wrong with Rekor; every variant names the instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RekorError {
    /// Unreachable, timed out, or a server error.
    #[error("Rekor at {url} is unavailable: {reason}")]
    Unavailable {
        /// The instance.
        url: String,
        /// Why.
        reason: String,
    },
    /// Rekor refused the entry.
    #[error("Rekor at {url} refused the entry (HTTP {status}): {message}")]
    Refused {
        /// The instance.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Rekor's explanation.
        message: String,
    },
    /// The answer is not a log entry vouch can read.
    #[error("Rekor at {url} answered with no usable log entry: {reason}")]
    Malformed {
        /// The instance.
        url: String,
        /// Why.
        reason: String,
    },
    /// The entry's proof, checkpoint or SET does not verify with the trusted root.
    #[error("Rekor at {url} returned an entry the trusted root does not vouch for: {reason}")]
    Unproven {
        /// The instance.
        url: String,
        /// The failed check.
        reason: String,
    },
    /// vouch cannot write this entry to this log.
    #[error("Rekor at {url}: vouch cannot log this entry: {reason}")]
    Unsupported {
        /// The instance.
        url: String,
        /// Why.
        reason: String,
    },
    /// The entry is about something else than what was submitted.
    #[error("Rekor at {url} returned an entry that is not ours: {reason}")]
    NotOurs {
        /// The instance.
        url: String,
        /// What differs.
        reason: String,
    },
}

/// What to log.
#[derive(Debug, Clone, Copy)]
pub enum Proposed<'a> {
    /// A signature over an artifact's SHA-256 digest (`hashedrekord` 0.0.1).
    MessageSignature {
        /// The artifact's digest.
        digest: &'a Sha256Digest,
        /// The DER signature.
        signature: &'a [u8],
    },
    /// A signed DSSE envelope (`dsse` 0.0.1).
    Dsse(&'a Envelope),
}

impl Proposed<'_> {
    /// The proposed entry (protobuf-free Rekor v1 JSON), with `cert_der` as the verifier.
    fn body(&self, cert_pem_b64: &str) -> Value {
        match self {
            Proposed::MessageSignature { digest, signature } => json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": { "hash": { "algorithm": "sha256", "value": digest.hex() } },
                    "signature": {
                        "content": B64.encode(signature),
                        "publicKey": { "content": cert_pem_b64 },
                    },
                },
            }),
            Proposed::Dsse(env) => json!({
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "proposedContent": {
                        "envelope": String::from_utf8_lossy(&env.to_json()),
                        "verifiers": [cert_pem_b64],
                    },
                },
            }),
        }
    }

    /// Whether a logged body (as Rekor canonicalizes it) is this entry, by `cert_pem_b64`.
    fn check_logged(&self, body: &Value, cert_der: &[u8]) -> Result<(), String> {
        let get = |p: &str| body.pointer(p).and_then(Value::as_str);
        let is_cert = |b64_pem: Option<&str>| {
            b64_pem
                .and_then(|s| B64.decode(s).ok())
                .and_then(|pem| crate::keys::decode_pem(&pem).ok())
                .is_some_and(|(label, der)| label == "CERTIFICATE" && der == cert_der)
        };
        match self {
            Proposed::MessageSignature { digest, signature } => {
                if get("/kind") != Some("hashedrekord") || get("/apiVersion") != Some("0.0.1") {
                    return Err("not a hashedrekord 0.0.1 entry".into());
                }
                if get("/spec/data/hash/algorithm") != Some("sha256")
                    || get("/spec/data/hash/value") != Some(digest.hex().as_str())
                {
                    return Err("it records another artifact digest".into());
                }
                if get("/spec/signature/content")
                    .and_then(|s| B64.decode(s).ok())
                    .as_deref()
                    != Some(*signature)
                {
                    return Err("it records another signature".into());
                }
                if !is_cert(get("/spec/signature/publicKey/content")) {
                    return Err("it records another certificate".into());
                }
                Ok(())
            }
            Proposed::Dsse(env) => {
                if get("/kind") != Some("dsse") || get("/apiVersion") != Some("0.0.1") {
                    return Err("not a dsse 0.0.1 entry".into());
                }
                if get("/spec/payloadHash/algorithm") != Some("sha256")
                    || get("/spec/payloadHash/value")
                        != Some(Sha256Digest::of(&env.payload).hex().as_str())
                {
                    return Err("it records another payload".into());
                }
                let sigs = body.pointer("/spec/signatures").and_then(Value::as_array);
                let ours = sigs.into_iter().flatten().any(|s| {
                    let sig = s
                        .get("signature")
                        .and_then(Value::as_str)
                        .and_then(|x| B64.decode(x).ok());
                    env.signatures.iter().any(|e| Some(&e.sig) == sig.as_ref())
                        && is_cert(s.get("verifier").and_then(Value::as_str))
                });
                if !ours {
                    return Err("it records other signatures or certificates".into());
                }
                Ok(())
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Entry {
    body: String,
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: String,
    log_index: i64,
    verification: V1Verification,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Verification {
    inclusion_proof: Option<V1Proof>,
    signed_entry_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Proof {
    checkpoint: String,
    hashes: Vec<String>,
    log_index: i64,
    root_hash: String,
    tree_size: i64,
}

/// POSTs a new entry (`body`, JSON) to `{url}{path}` and returns the answer's body: a 5xx or an
/// unreachable log is [`RekorError::Unavailable`], another non-2xx is [`RekorError::Refused`].
pub(super) async fn post_entry(
    url: &str,
    path: &str,
    body: String,
    limits: &HttpLimits,
) -> Result<Vec<u8>, RekorError> {
    let unavailable = |reason: String| RekorError::Unavailable {
        url: url.to_owned(),
        reason,
    };
    let http = client(limits).map_err(&unavailable)?;
    let resp = http
        .post(format!("{url}{path}"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    let (status, bytes) = read_body(resp, limits).await.map_err(&unavailable)?;
    if status.is_server_error() {
        return Err(unavailable(format!("HTTP {status}: {}", excerpt(&bytes))));
    }
    if !status.is_success() {
        return Err(RekorError::Refused {
            url: url.to_owned(),
            status: status.as_u16(),
            message: excerpt(&bytes),
        });
    }
    Ok(bytes)
}

/// Logs `proposed`, signed with the certificate `cert_der`, in `rekor` (a Rekor v1 log, or a
/// Rekor v2 log by [`super::rekor_v2_client`] when the signing config says `majorApiVersion` 2),
/// and returns the verified entry as a bundle `tlogEntries[]` element.
pub async fn log_entry(
    rekor: &Service,
    proposed: Proposed<'_>,
    cert_der: &[u8],
    root: &TrustedRoot,
    limits: &HttpLimits,
) -> Result<Value, RekorError> {
    match rekor.major_api_version {
        1 => {}
        2 => {
            return super::rekor_v2_client::log_entry(rekor, proposed, cert_der, root, limits)
                .await;
        }
        v => {
            return Err(RekorError::Unsupported {
                url: rekor.url.clone(),
                reason: format!("Rekor API v{v}; vouch speaks v1 and v2"),
            });
        }
    }
    let url = rekor.url.clone();
    let malformed = |reason: String| RekorError::Malformed {
        url: url.clone(),
        reason,
    };
    let cert_b64 = B64.encode(super::fulcio_client::certificate_pem(cert_der));
    let body = proposed.body(&cert_b64).to_string();
    let bytes = post_entry(&url, "/api/v1/log/entries", body, limits).await?;
    let answer: std::collections::BTreeMap<String, V1Entry> =
        serde_json::from_slice(&bytes).map_err(|e| malformed(format!("not a log entry: {e}")))?;
    let mut entries = answer.into_values();
    let (Some(e), None) = (entries.next(), entries.next()) else {
        return Err(malformed("expected exactly one entry".into()));
    };
    let decoded = B64
        .decode(&e.body)
        .map_err(|_| malformed("the body is not base64".into()))?;
    let logged: Value =
        serde_json::from_slice(&decoded).map_err(|_| malformed("the body is not JSON".into()))?;
    let kind = logged
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = logged
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let proof = e
        .verification
        .inclusion_proof
        .ok_or_else(|| malformed("no inclusion proof".into()))?;
    let log_id = hex::decode(&e.log_id).map_err(|_| malformed("the logID is not hex".into()))?;
    let hashes: Vec<String> = proof
        .hashes
        .iter()
        .map(|h| hex::decode(h).map(|b| B64.encode(b)))
        .collect::<Result<_, _>>()
        .map_err(|_| malformed("a proof hash is not hex".into()))?;
    let root_hash =
        hex::decode(&proof.root_hash).map_err(|_| malformed("the root hash is not hex".into()))?;
    let mut entry = json!({
        "logIndex": e.log_index.to_string(),
        "logId": { "keyId": B64.encode(&log_id) },
        "kindVersion": { "kind": kind, "version": version },
        "integratedTime": e.integrated_time.to_string(),
        "inclusionProof": {
            "logIndex": proof.log_index.to_string(),
            "rootHash": B64.encode(&root_hash),
            "treeSize": proof.tree_size.to_string(),
            "hashes": hashes,
            "checkpoint": { "envelope": proof.checkpoint },
        },
        "canonicalizedBody": e.body,
    });
    if let Some(set) = e.verification.signed_entry_timestamp {
        entry["inclusionPromise"] = json!({ "signedEntryTimestamp": set });
    }
    // The proof, checkpoint and SET, with vouch's verifier.
    let parsed: TlogEntry = serde_json::from_value(entry.clone())
        .map_err(|e| malformed(format!("not a log entry: {e}")))?;
    parsed.check(root, true).map_err(|e| RekorError::Unproven {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    proposed
        .check_logged(&logged, cert_der)
        .map_err(|reason| RekorError::NotOurs {
            url: url.clone(),
            reason,
        })?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    //! A logged body that is not the proposed entry is refused, for each field.
    use super::*;

    fn pem_b64(der: &[u8]) -> String {
        B64.encode(super::super::fulcio_client::certificate_pem(der))
    }

    #[test]
    fn dsse_bodies_that_are_not_ours() {
        let cert = b"not really a certificate, but bytes to compare".to_vec();
        let env = Envelope::new(
            "application/vnd.in-toto+json",
            b"{}".to_vec(),
            vec![1, 2, 3],
        );
        let ours = json!({
            "apiVersion": "0.0.1", "kind": "dsse",
            "spec": {
                "payloadHash": {"algorithm": "sha256", "value": Sha256Digest::of(b"{}").hex()},
                "signatures": [{"signature": B64.encode([1, 2, 3]), "verifier": pem_b64(&cert)}],
            },
        });
        let p = Proposed::Dsse(&env);
        p.check_logged(&ours, &cert).unwrap();
        let mut other_payload = ours.clone();
        other_payload["spec"]["payloadHash"]["value"] = Sha256Digest::of(b"[]").hex().into();
        let mut other_sig = ours.clone();
        other_sig["spec"]["signatures"][0]["signature"] = B64.encode([9]).into();
        let mut other_cert = ours.clone();
        other_cert["spec"]["signatures"][0]["verifier"] = pem_b64(b"another").into();
        let mut other_kind = ours.clone();
        other_kind["kind"] = "intoto".into();
        for (bad, why) in [
            (other_payload, "another payload"),
            (other_sig, "other signatures"),
            (other_cert, "other signatures or certificates"),
            (other_kind, "not a dsse"),
        ] {
            let err = p.check_logged(&bad, &cert).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn hashedrekord_bodies_that_are_not_ours() {
        let cert = b"certificate bytes".to_vec();
        let digest = Sha256Digest::of(b"artifact");
        let p = Proposed::MessageSignature {
            digest: &digest,
            signature: &[4, 5, 6],
        };
        let ours = p.body(&pem_b64(&cert));
        p.check_logged(&ours, &cert).unwrap();
        let mut other_sig = ours.clone();
        other_sig["spec"]["signature"]["content"] = B64.encode([7]).into();
        let mut other_cert = ours.clone();
        other_cert["spec"]["signature"]["publicKey"]["content"] = pem_b64(b"x").into();
        for (bad, why) in [
            (other_sig, "another signature"),
            (other_cert, "another certificate"),
        ] {
            let err = p.check_logged(&bad, &cert).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
