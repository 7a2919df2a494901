//! HashiCorp Vault / OpenBao transit, as cosign's `hashivault://` provider calls it: the address
//! from `VAULT_ADDR`, the token from `VAULT_TOKEN` (else `~/.vault-token`), the engine's mount
//! from `TRANSIT_SECRET_ENGINE_PATH` (default `transit`), `VAULT_NAMESPACE` when set.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::{KmsError, env, excerpt, http_client, send};
use crate::digest::Sha256Digest;
use crate::keys::PublicKey;

pub(super) const SERVICE: &str = "Vault transit";

/// `hashivault://KEY`.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultKeyRef {
    key: String,
}

impl fmt::Display for VaultKeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hashivault://{}", self.key)
    }
}

impl fmt::Debug for VaultKeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultKeyRef({self})")
    }
}

impl VaultKeyRef {
    /// Parses what follows `hashivault://`: a key name of letters, digits, `_` and `-`
    /// (cosign's `^hashivault://([\w\-]+)$`).
    pub fn parse(rest: &str) -> Result<Self, KmsError> {
        if rest.is_empty()
            || !rest
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            return Err(KmsError::BadReference {
                reference: format!("hashivault://{}", rest.chars().take(60).collect::<String>()),
                reason: "expected hashivault://KEY, KEY of letters, digits, '_' and '-'".into(),
            });
        }
        Ok(Self { key: rest.into() })
    }
}

pub(super) struct VaultKey {
    key: String,
    addr: String,
    path: String,
    token: Zeroizing<String>,
    namespace: Option<String>,
    client: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct Response<T> {
    data: T,
}

#[derive(serde::Deserialize)]
struct KeyInfo {
    #[serde(rename = "type")]
    kind: String,
    latest_version: u64,
    keys: std::collections::BTreeMap<String, KeyVersion>,
}

#[derive(serde::Deserialize)]
struct KeyVersion {
    #[serde(default)]
    public_key: String,
}

#[derive(serde::Deserialize)]
struct SignResult {
    signature: String,
}

impl VaultKey {
    pub(super) fn new(r: &VaultKeyRef) -> Result<Self, KmsError> {
        let addr = env("VAULT_ADDR").ok_or_else(|| {
            KmsError::MissingSetting(
                "hashivault:// keys need VAULT_ADDR (e.g. https://vault.example.com:8200)".into(),
            )
        })?;
        let token = match env("VAULT_TOKEN") {
            Some(t) => Zeroizing::new(t),
            None => std::env::var_os("HOME")
                .map(|h| std::path::Path::new(&h).join(".vault-token"))
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|t| Zeroizing::new(t.trim().to_owned()))
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    KmsError::MissingSetting(
                        "hashivault:// keys need a token: set VAULT_TOKEN (or log in so that ~/.vault-token exists)".into(),
                    )
                })?,
        };
        let path = env("TRANSIT_SECRET_ENGINE_PATH").unwrap_or_else(|| "transit".into());
        Ok(Self {
            key: r.key.clone(),
            addr: addr.trim_end_matches('/').to_owned(),
            path: path.trim_matches('/').to_owned(),
            token,
            namespace: env("VAULT_NAMESPACE"),
            client: http_client(SERVICE)?,
        })
    }

    fn request(&self, method: reqwest::Method, op: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/v1/{}/{op}/{}", self.addr, self.path, self.key);
        let mut req = self
            .client
            .request(method, url)
            .header("X-Vault-Token", self.token.as_str());
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        req
    }

    fn refusal(
        &self,
        operation: &'static str,
        status: reqwest::StatusCode,
        body: &[u8],
    ) -> KmsError {
        let detail = format!("HTTP {status}: {}", excerpt(body));
        match status.as_u16() {
            401 | 403 => KmsError::Denied {
                service: SERVICE,
                operation,
                detail,
                hint: "check VAULT_TOKEN and that its policy allows this path (read on transit/keys/KEY, update on transit/sign/KEY)",
            },
            404 => KmsError::KeyNotFound {
                service: SERVICE,
                key: format!("{}/keys/{}", self.path, self.key),
                hint: "create it with `vouch generate-key-pair --kms hashivault://KEY` or check TRANSIT_SECRET_ENGINE_PATH".into(),
            },
            _ => KmsError::Service {
                service: SERVICE,
                detail: format!("{operation}: {detail}"),
            },
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, KmsError> {
        serde_json::from_slice::<Response<T>>(body)
            .map(|r| r.data)
            .map_err(|e| KmsError::Service {
                service: SERVICE,
                detail: format!("unexpected {what} response: {e}"),
            })
    }

    pub(super) async fn public_key(&self) -> Result<PublicKey, KmsError> {
        let (status, body) = send(
            SERVICE,
            &self.addr,
            self.request(reqwest::Method::GET, "keys"),
        )
        .await?;
        if !status.is_success() {
            return Err(self.refusal("reading the key", status, &body));
        }
        let info: KeyInfo = Self::parse(&body, "key")?;
        if info.kind != "ecdsa-p256" {
            return Err(KmsError::WrongKeyType {
                service: SERVICE,
                key: format!("hashivault://{}", self.key),
                found: info.kind,
            });
        }
        let pem = info
            .keys
            .get(&info.latest_version.to_string())
            .map(|v| v.public_key.as_str())
            .unwrap_or_default();
        PublicKey::from_pem(pem.as_bytes()).map_err(|e| KmsError::Service {
            service: SERVICE,
            detail: format!("the key's public key is unusable: {e}"),
        })
    }

    pub(super) async fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>, KmsError> {
        let body = serde_json::json!({
            "input": B64.encode(digest.as_bytes()),
            "prehashed": true,
            "hash_algorithm": "sha2-256",
            "marshaling_algorithm": "asn1",
        });
        let (status, resp) = send(
            SERVICE,
            &self.addr,
            self.request(reqwest::Method::POST, "sign")
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await?;
        if !status.is_success() {
            return Err(self.refusal("signing", status, &resp));
        }
        let r: SignResult = Self::parse(&resp, "sign")?;
        // "vault:v<N>:<base64>"
        let b64 = r.signature.rsplit(':').next().unwrap_or_default();
        B64.decode(b64).map_err(|_| KmsError::Service {
            service: SERVICE,
            detail: "the signature is not vault:vN:<base64>".into(),
        })
    }

    pub(super) async fn create(&self) -> Result<(), KmsError> {
        let body = serde_json::json!({"type": "ecdsa-p256"});
        let (status, resp) = send(
            SERVICE,
            &self.addr,
            self.request(reqwest::Method::POST, "keys")
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await?;
        if !status.is_success() {
            return Err(self.refusal("creating the key", status, &resp));
        }
        Ok(())
    }
}
