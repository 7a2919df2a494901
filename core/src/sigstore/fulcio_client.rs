//! Fulcio's `POST /api/v2/signingCert`: a short-lived code-signing certificate for an ephemeral
//! key, bound to the identity of an OIDC token. The key is proven by a signature over the
//! token's subject (`publicKeyRequest.proofOfPossession`, as sigstore-go
//! `pkg/sign/certificate.go` asks); the answer's certificate is accepted only once it is
//! verified against the trusted root with vouch's own verifier — chain to a Fulcio CA valid now
//! with the code-signing EKU, an embedded SCT from a trusted CT log, the requested key, and the
//! token's issuer and identity — and only then may anything be signed with the key
//! ([`SigningCertificate`] is made nowhere else).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::json;

use super::certificate::{CertIdentity, LeafCertificate};
use super::http::{HttpLimits, client, excerpt, read_body};
use super::oidc::IdentityToken;
use super::signing_config::Service;
use super::trusted_root::TrustedRoot;
use crate::keys::{SigningKey, decode_pem};

/// What went wrong with Fulcio; every variant names the instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FulcioError {
    /// Unreachable, timed out, or a server error.
    #[error("Fulcio at {url} is unavailable: {reason}")]
    Unavailable {
        /// The instance.
        url: String,
        /// Why.
        reason: String,
    },
    /// Fulcio refused the request (usually the identity token).
    #[error("Fulcio at {url} refused the certificate request (HTTP {status}): {message}")]
    Refused {
        /// The instance.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Fulcio's explanation.
        message: String,
    },
    /// The answer is not a certificate chain vouch can read.
    #[error("Fulcio at {url} answered with no usable certificate: {reason}")]
    Malformed {
        /// The instance.
        url: String,
        /// Why.
        reason: String,
    },
    /// The certificate does not verify against the trusted root (chain, EKU, SCT).
    #[error("Fulcio at {url} issued a certificate the trusted root does not vouch for: {reason}")]
    Untrusted {
        /// The instance.
        url: String,
        /// The failed check.
        reason: String,
    },
    /// The certificate is not for the requested key.
    #[error("Fulcio at {url} issued a certificate for another key")]
    WrongKey {
        /// The instance.
        url: String,
    },
    /// The certificate's identity is not the token's.
    #[error(
        "Fulcio at {url} issued a certificate for `{found}` (issuer `{found_issuer}`), not for \
         the token's identity (issuer `{expected_issuer}`)"
    )]
    WrongIdentity {
        /// The instance.
        url: String,
        /// The certificate's SAN.
        found: String,
        /// The certificate's issuer extension.
        found_issuer: String,
        /// The token's `iss`.
        expected_issuer: String,
    },
}

/// A Fulcio certificate verified for a key and a token. Only [`request_certificate`] makes one.
#[derive(Debug, Clone)]
pub struct SigningCertificate {
    leaf: LeafCertificate,
    identity: CertIdentity,
    chain: Vec<Vec<u8>>,
}

impl SigningCertificate {
    /// The leaf certificate.
    pub fn leaf(&self) -> &LeafCertificate {
        &self.leaf
    }
    /// The identity it certifies.
    pub fn identity(&self) -> &CertIdentity {
        &self.identity
    }
    /// The chain of the trusted root's certificate authority that issued the leaf
    /// (intermediates, then the root; DER): what cosign's `dev.sigstore.cosign/chain` holds.
    pub fn ca_chain(&self) -> &[Vec<u8>] {
        &self.chain
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    signed_certificate_embedded_sct: Option<Chain>,
    signed_certificate_detached_sct: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Chain {
    chain: Certificates,
}

#[derive(Deserialize)]
struct Certificates {
    certificates: Vec<String>,
}

/// Asks `fulcio` for a certificate for `key` and `token`, and verifies it against `root` at
/// `now` (Unix seconds) before returning it.
pub async fn request_certificate(
    fulcio: &Service,
    key: &SigningKey,
    token: &IdentityToken,
    root: &TrustedRoot,
    now: i64,
    limits: &HttpLimits,
) -> Result<SigningCertificate, FulcioError> {
    let url = fulcio.url.clone();
    let unavailable = |reason: String| FulcioError::Unavailable {
        url: url.clone(),
        reason,
    };
    let malformed = |reason: &str| FulcioError::Malformed {
        url: url.clone(),
        reason: reason.to_owned(),
    };
    let proof = key
        .sign(token.subject().as_bytes())
        .map_err(|e| unavailable(format!("cannot sign the proof of possession: {e}")))?;
    let body = zeroize::Zeroizing::new(
        json!({
            "credentials": { "oidcIdentityToken": token.secret() },
            "publicKeyRequest": {
                "publicKey": { "algorithm": "ECDSA", "content": key.public_key().to_pem() },
                "proofOfPossession": proof.to_base64(),
            },
        })
        .to_string(),
    );
    let http = client(limits).map_err(&unavailable)?;
    let resp = http
        .post(format!("{url}/api/v2/signingCert"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body.as_bytes().to_vec())
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    let (status, bytes) = read_body(resp, limits).await.map_err(&unavailable)?;
    if status.is_server_error() {
        return Err(unavailable(format!(
            "HTTP {status}: {}",
            scrub(&bytes, token)
        )));
    }
    if !status.is_success() {
        return Err(FulcioError::Refused {
            url,
            status: status.as_u16(),
            message: scrub(&bytes, token),
        });
    }
    let answer: Answer =
        serde_json::from_slice(&bytes).map_err(|_| malformed("not a signingCert answer"))?;
    let chain = match (
        answer.signed_certificate_embedded_sct,
        answer.signed_certificate_detached_sct,
    ) {
        (Some(c), _) => c.chain.certificates,
        (None, Some(_)) => {
            return Err(malformed(
                "a certificate with a detached SCT (vouch needs the SCT embedded)",
            ));
        }
        (None, None) => return Err(malformed("no certificate chain")),
    };
    // Only the leaf is used; the CA certificates come from the trusted root.
    let leaf_pem = chain.first().ok_or_else(|| malformed("an empty chain"))?;
    let (label, der) =
        decode_pem(leaf_pem.as_bytes()).map_err(|_| malformed("the leaf is not PEM"))?;
    if label != "CERTIFICATE" {
        return Err(malformed("the leaf is not a CERTIFICATE"));
    }
    verify_issued(
        &url,
        LeafCertificate::from_der(&der).map_err(|e| malformed(&e.to_string()))?,
        key,
        token,
        root,
        now,
    )
}

/// Fulcio's error text, with the token cut out should it be echoed.
fn scrub(body: &[u8], token: &IdentityToken) -> String {
    let text = excerpt(body);
    let secret = token.secret();
    if secret.len() >= 16 && text.contains(secret) {
        return text.replace(secret, "[token]");
    }
    // Even a truncated echo (the excerpt is at most 300 characters) is cut.
    match secret.get(..32).filter(|p| text.contains(*p)) {
        Some(_) => "[the answer quotes the token; not shown]".to_owned(),
        None => text,
    }
}

/// The checks on an issued leaf, in order.
fn verify_issued(
    url: &str,
    leaf: LeafCertificate,
    key: &SigningKey,
    token: &IdentityToken,
    root: &TrustedRoot,
    now: i64,
) -> Result<SigningCertificate, FulcioError> {
    let untrusted = |reason: String| FulcioError::Untrusted {
        url: url.to_owned(),
        reason,
    };
    // Fulcio backdates nothing, but clocks differ: check the chain at a time inside the
    // certificate's validity when `now` is within a minute of it.
    let at = now.clamp(leaf.not_before, leaf.not_after.max(leaf.not_before));
    if (at - now).abs() > 60 {
        return Err(untrusted(format!(
            "it is valid from {} to {}, not now ({now})",
            leaf.not_before, leaf.not_after
        )));
    }
    let (ca, issuer_spki) = leaf
        .verify_chain(root, at)
        .map_err(|e| untrusted(e.to_string()))?;
    leaf.verify_scts(root, &issuer_spki)
        .map_err(|e| untrusted(e.to_string()))?;
    let ours = key.public_key();
    if leaf.public_key().ok().as_ref() != Some(&ours) {
        return Err(FulcioError::WrongKey {
            url: url.to_owned(),
        });
    }
    let identity = leaf.identity().map_err(|e| FulcioError::Malformed {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let issuer_ok = identity.issuer.as_deref() == Some(token.issuer());
    if !issuer_ok || !token.expected_identities().contains(&identity.san) {
        return Err(FulcioError::WrongIdentity {
            url: url.to_owned(),
            found: identity.san.clone(),
            found_issuer: identity.issuer.clone().unwrap_or_default(),
            expected_issuer: token.issuer().to_owned(),
        });
    }
    Ok(SigningCertificate {
        leaf,
        identity,
        chain: ca.chain.clone(),
    })
}

/// A certificate's DER as the PEM Rekor entries carry (base64 of it in the entry).
pub fn certificate_pem(der: &[u8]) -> String {
    match pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der) {
        Ok(p) => p,
        Err(_) => B64.encode(der),
    }
}

#[cfg(test)]
mod tests {
    //! A slow or oversized Fulcio is an error naming it, not a hang or an allocation.
    use std::io::{Read as _, Write as _};
    use std::time::Duration;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use zeroize::Zeroizing;

    use super::*;
    use crate::sigstore::oidc::TokenSource;
    use crate::sigstore::trusted_root::Validity;

    /// A server on 127.0.0.1 that reads each request and then runs `answer` on the socket.
    fn server(answer: fn(&mut std::net::TcpStream)) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
                    let _ = s.read(&mut buf);
                    answer(&mut s);
                });
            }
        });
        url
    }

    fn attempt(url: String) -> FulcioError {
        let claims = serde_json::json!({"iss": "https://issuer.test", "sub": "a@example.test", "exp": 4_000_000_000u64});
        let raw = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let token = IdentityToken::parse(Zeroizing::new(raw), TokenSource::Explicit, 0).unwrap();
        let fulcio = Service {
            url,
            major_api_version: 1,
            validity: Validity {
                start: Some(0),
                end: None,
            },
            operator: "test".into(),
        };
        let limits = HttpLimits {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(1),
            max_response: 4096,
        };
        let root = TrustedRoot::public_good().unwrap();
        let key = SigningKey::generate().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(request_certificate(
            &fulcio, &key, &token, &root, 0, &limits,
        ))
        .unwrap_err()
    }

    #[test]
    fn slow_fulcio_times_out() {
        let url = server(|_| std::thread::sleep(Duration::from_secs(5)));
        let err = attempt(url.clone());
        assert!(
            matches!(&err, FulcioError::Unavailable { url: u, .. } if *u == url),
            "{err}"
        );
    }

    #[test]
    fn oversized_answers_are_refused() {
        let url = server(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n{");
        });
        let err = attempt(url);
        assert!(err.to_string().contains("larger than 4096 bytes"), "{err}");
        // Without a length, the body is cut off at the bound while it streams.
        let url = server(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = [b' '; 1024];
            for _ in 0..64 {
                if s.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let err = attempt(url);
        assert!(err.to_string().contains("larger than 4096 bytes"), "{err}");
    }
}
