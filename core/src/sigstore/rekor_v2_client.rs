//! Rekor v2's `POST /api/v2/log/entries` (rekor-tiles): a `CreateEntryRequest` with a
//! `hashedRekordRequestV002` — the artifact's digest, or for a DSSE envelope the digest of its
//! PAE (rekor-tiles `CLIENTS.md`: Rekor v2 logs no `dsse` entries; sigstore-python 4 and
//! sigstore-go do the same), the signature and the Fulcio certificate. The answer is a
//! `TransparencyLogEntry` (no SET, integrated time 0: the bundle's RFC 3161 timestamps date it),
//! accepted only when its inclusion proof leads to a checkpoint the log signed, by a log of the
//! trusted root, and its body is the `hashedrekord` 0.0.2 entry proposed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::http::HttpLimits;
use super::rekor_client::{Proposed, RekorError};
use super::signing_config::Service;
use super::tlog::TlogEntry;
use super::trusted_root::TrustedRoot;
use crate::keys::KeyAlgorithm;

/// The `hashedrekord` 0.0.2 fields of one proposal.
struct HashedRekord {
    digest: Vec<u8>,
    signature: Vec<u8>,
    key_details: &'static str,
    hash: &'static str,
}

impl HashedRekord {
    fn new(proposed: &Proposed<'_>, cert_der: &[u8]) -> Result<Self, String> {
        let leaf = super::certificate::LeafCertificate::from_der(cert_der)
            .map_err(|e| format!("the certificate: {e}"))?;
        let alg = leaf
            .public_key()
            .map_err(|e| format!("the certificate's key: {e}"))?
            .algorithm();
        // Keyless signing signs SHA-256 digests with an ephemeral P-256 key.
        let (key_details, hash) = match alg {
            KeyAlgorithm::EcdsaP256 => ("PKIX_ECDSA_P256_SHA_256", "SHA2_256"),
            other => {
                return Err(format!(
                    "a {} key: vouch logs ECDSA P-256 keys in Rekor v2",
                    other.name()
                ));
            }
        };
        let (digest, signature) = match proposed {
            Proposed::MessageSignature { digest, signature } => {
                (digest.as_bytes().to_vec(), signature.to_vec())
            }
            Proposed::Dsse(env) => {
                let [only] = env.signatures.as_slice() else {
                    return Err("a DSSE envelope for Rekor v2 carries exactly one signature".into());
                };
                (env.pae_digest().as_bytes().to_vec(), only.sig.clone())
            }
        };
        Ok(Self {
            digest,
            signature,
            key_details,
            hash,
        })
    }

    /// The `CreateEntryRequest` (rekor-tiles `api/proto/rekor/v2/entry.proto`, protobuf JSON).
    fn request(&self, cert_der: &[u8]) -> Value {
        json!({
            "hashedRekordRequestV002": {
                "digest": B64.encode(&self.digest),
                "signature": {
                    "content": B64.encode(&self.signature),
                    "verifier": {
                        "x509Certificate": { "rawBytes": B64.encode(cert_der) },
                        "keyDetails": self.key_details,
                    },
                },
            },
        })
    }

    /// Whether a logged body is this entry: kind, version, digest, signature and certificate.
    fn check_logged(&self, body: &Value, cert_der: &[u8]) -> Result<(), String> {
        let get = |p: &str| body.pointer(p).and_then(Value::as_str);
        let bytes = |p: &str| get(p).and_then(|s| B64.decode(s).ok());
        if get("/kind") != Some("hashedrekord") || get("/apiVersion") != Some("0.0.2") {
            return Err("not a hashedrekord 0.0.2 entry".into());
        }
        let spec = "/spec/hashedRekordV002";
        if get(&format!("{spec}/data/algorithm")) != Some(self.hash)
            || bytes(&format!("{spec}/data/digest")).as_deref() != Some(self.digest.as_slice())
        {
            return Err("it records another artifact digest".into());
        }
        if bytes(&format!("{spec}/signature/content")).as_deref() != Some(self.signature.as_slice())
        {
            return Err("it records another signature".into());
        }
        let v = format!("{spec}/signature/verifier");
        if bytes(&format!("{v}/x509Certificate/rawBytes")).as_deref() != Some(cert_der)
            || body.pointer(&format!("{v}/publicKey")).is_some()
            || get(&format!("{v}/keyDetails")) != Some(self.key_details)
        {
            return Err("it records another certificate".into());
        }
        Ok(())
    }
}

/// Logs `proposed`, signed with the certificate `cert_der`, in the Rekor v2 log `rekor`, and
/// returns the verified entry as a bundle `tlogEntries[]` element.
pub async fn log_entry(
    rekor: &Service,
    proposed: Proposed<'_>,
    cert_der: &[u8],
    root: &TrustedRoot,
    limits: &HttpLimits,
) -> Result<Value, RekorError> {
    let url = rekor.url.clone();
    let malformed = |reason: String| RekorError::Malformed {
        url: url.clone(),
        reason,
    };
    let ours =
        HashedRekord::new(&proposed, cert_der).map_err(|reason| RekorError::Unsupported {
            url: url.clone(),
            reason,
        })?;
    let bytes = super::rekor_client::post_entry(
        &url,
        "/api/v2/log/entries",
        ours.request(cert_der).to_string(),
        limits,
    )
    .await?;
    let e: TlogEntry = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("not a TransparencyLogEntry: {e}")))?;
    if e.kind_version.kind != "hashedrekord" || e.kind_version.version != "0.0.2" {
        return Err(malformed(format!(
            "an entry of kind {} {}, expected hashedrekord 0.0.2",
            e.kind_version.kind, e.kind_version.version
        )));
    }
    let proof = e
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| malformed("no inclusion proof".into()))?;
    let checkpoint = proof
        .checkpoint
        .as_ref()
        .ok_or_else(|| malformed("no checkpoint".into()))?;
    // The proof and checkpoint, with vouch's verifier (no SET: Rekor v2 signs none).
    let checked = e.check(root, false).map_err(|e| RekorError::Unproven {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    let logged: Value = serde_json::from_slice(&checked.body)
        .map_err(|_| malformed("the body is not JSON".into()))?;
    ours.check_logged(&logged, cert_der)
        .map_err(|reason| RekorError::NotOurs {
            url: url.clone(),
            reason,
        })?;
    // Only what was verified goes in the bundle (Rekor v2's integrated time is always 0).
    Ok(json!({
        "logIndex": e.log_index.to_string(),
        "logId": { "keyId": e.log_id.key_id },
        "kindVersion": { "kind": "hashedrekord", "version": "0.0.2" },
        "integratedTime": "0",
        "inclusionProof": {
            "logIndex": proof.log_index.to_string(),
            "rootHash": proof.root_hash,
            "treeSize": proof.tree_size.to_string(),
            "hashes": proof.hashes,
            "checkpoint": { "envelope": checkpoint.envelope },
        },
        "canonicalizedBody": e.canonicalized_body,
    }))
}

#[cfg(test)]
mod tests {
    //! A logged body that is not the proposed entry is refused, for each field.
    use super::*;
    use crate::digest::Sha256Digest;

    fn ours() -> (HashedRekord, Vec<u8>) {
        let digest = Sha256Digest::of(b"artifact");
        let h = HashedRekord {
            digest: digest.as_bytes().to_vec(),
            signature: vec![4, 5, 6],
            key_details: "PKIX_ECDSA_P256_SHA_256",
            hash: "SHA2_256",
        };
        (h, b"certificate bytes".to_vec())
    }

    fn logged(h: &HashedRekord, cert: &[u8]) -> Value {
        let req = h.request(cert);
        let r = &req["hashedRekordRequestV002"];
        json!({
            "apiVersion": "0.0.2", "kind": "hashedrekord",
            "spec": {"hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": r["digest"]},
                "signature": r["signature"],
            }},
        })
    }

    #[test]
    fn hashedrekord_v002_bodies_that_are_not_ours() {
        let (h, cert) = ours();
        let body = logged(&h, &cert);
        h.check_logged(&body, &cert).unwrap();
        let spec = |v: &mut Value| v["spec"]["hashedRekordV002"].take();
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut b = body.clone();
            let mut s = spec(&mut b);
            f(&mut s);
            b["spec"]["hashedRekordV002"] = s;
            b
        };
        let cases = [
            (
                edit(&|s| s["data"]["digest"] = B64.encode([0u8; 32]).into()),
                "another artifact digest",
            ),
            (
                edit(&|s| s["data"]["algorithm"] = "SHA2_384".into()),
                "another artifact digest",
            ),
            (
                edit(&|s| s["signature"]["content"] = B64.encode([7]).into()),
                "another signature",
            ),
            (
                edit(&|s| {
                    s["signature"]["verifier"]["x509Certificate"]["rawBytes"] =
                        B64.encode(b"x").into();
                }),
                "another certificate",
            ),
            (
                edit(&|s| {
                    s["signature"]["verifier"]["publicKey"] = json!({"rawBytes": "AA=="});
                }),
                "another certificate",
            ),
            (
                {
                    let mut b = body.clone();
                    b["apiVersion"] = "0.0.1".into();
                    b
                },
                "not a hashedrekord 0.0.2",
            ),
        ];
        for (bad, why) in cases {
            let err = h.check_logged(&bad, &cert).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn the_request_is_rekor_tiles_create_entry_request() {
        let (h, cert) = ours();
        let r = h.request(&cert);
        // rekor-tiles CLIENTS.md, "Request with a Fulcio certificate".
        let v = &r["hashedRekordRequestV002"];
        assert_eq!(B64.decode(v["digest"].as_str().unwrap()).unwrap(), h.digest);
        assert_eq!(
            v["signature"]["verifier"]["keyDetails"],
            "PKIX_ECDSA_P256_SHA_256"
        );
        assert_eq!(
            v["signature"]["verifier"]["x509Certificate"]["rawBytes"],
            B64.encode(&cert)
        );
        assert_eq!(r.as_object().unwrap().len(), 1);
    }
}
