//! AWS KMS over its JSON API (`TrentService`), signed with SigV4 by hand (no SDK):
//! `Sign` with `MessageType: DIGEST`, `GetPublicKey`, `CreateKey` and `CreateAlias`.
//!
//! Region: the key ARN's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`. Credentials:
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, else the profile
//! `AWS_PROFILE` (default `default`) of `AWS_SHARED_CREDENTIALS_FILE` (default
//! `~/.aws/credentials`). Endpoint: the reference's `HOST[:PORT]` (HTTPS), else
//! `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`, else `https://kms.REGION.amazonaws.com`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::sigv4::{Credentials, amz_date, sign_post};
use super::{KmsError, env, excerpt, http_client, send};
use crate::digest::Sha256Digest;
use crate::keys::PublicKey;

pub(super) const SERVICE: &str = "AWS KMS";

/// `awskms://[HOST[:PORT]]/KEY`, KEY a key id, `alias/NAME`, or a key or alias ARN.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKeyRef {
    endpoint: Option<String>,
    key: String,
}

impl fmt::Display for AwsKeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "awskms://{}/{}",
            self.endpoint.as_deref().unwrap_or(""),
            self.key
        )
    }
}

impl fmt::Debug for AwsKeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AwsKeyRef({self})")
    }
}

impl AwsKeyRef {
    /// Parses what follows `awskms://`.
    pub fn parse(rest: &str) -> Result<Self, KmsError> {
        let bad = |reason: &str| KmsError::BadReference {
            reference: format!("awskms://{}", rest.chars().take(120).collect::<String>()),
            reason: reason.into(),
        };
        let (endpoint, key) = rest.split_once('/').ok_or_else(|| {
            bad("expected awskms:///KEY-ID, awskms:///alias/NAME, awskms:///arn:aws:kms:… or awskms://HOST:PORT/KEY")
        })?;
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_/:.".contains(c);
        if key.is_empty() || !key.chars().all(ok_char) {
            return Err(bad("the key must be a key id, alias/NAME or an ARN"));
        }
        if key.starts_with("arn:") {
            let parts: Vec<&str> = key.splitn(6, ':').collect();
            if parts.len() != 6
                || parts[2] != "kms"
                || !(parts[5].starts_with("key/") || parts[5].starts_with("alias/"))
            {
                return Err(bad(
                    "expected arn:PARTITION:kms:REGION:ACCOUNT:key/ID or …:alias/NAME",
                ));
            }
        } else if key.contains('/') && !key.starts_with("alias/") {
            return Err(bad("the key must be a key id, alias/NAME or an ARN"));
        }
        if !endpoint
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c))
        {
            return Err(bad("the endpoint must be HOST or HOST:PORT"));
        }
        Ok(Self {
            endpoint: (!endpoint.is_empty()).then(|| endpoint.to_owned()),
            key: key.to_owned(),
        })
    }

    pub(super) fn region_from_arn(&self) -> Option<String> {
        self.key
            .strip_prefix("arn:")
            .and_then(|a| a.split(':').nth(2))
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
    }

    /// The alias the reference names (`alias/NAME`), if any.
    pub(super) fn alias(&self) -> Option<String> {
        if self.key.starts_with("alias/") {
            return Some(self.key.clone());
        }
        self.key
            .strip_prefix("arn:")
            .and_then(|a| a.splitn(5, ':').nth(4))
            .filter(|r| r.starts_with("alias/"))
            .map(str::to_owned)
    }
}

pub(super) struct AwsKey {
    r: AwsKeyRef,
    region: String,
    url: String,
    host: String,
    creds: Credentials,
    client: reqwest::Client,
}

fn credentials() -> Result<Credentials, KmsError> {
    if let (Some(access_key), Some(secret)) =
        (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    {
        return Ok(Credentials {
            access_key,
            secret_key: Zeroizing::new(secret),
            session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
        });
    }
    let path = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".aws/credentials"))
        });
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let missing = || {
        KmsError::MissingSetting(format!(
            "awskms:// keys need credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a [{profile}] profile in ~/.aws/credentials"
        ))
    };
    let text = path
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(Zeroizing::new)
        .ok_or_else(missing)?;
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim).take(10_000) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(Zeroizing::new(v)),
                "aws_session_token" => token = Some(Zeroizing::new(v)),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(access_key), Some(secret_key)) => Ok(Credentials {
            access_key,
            secret_key,
            session_token: token,
        }),
        _ => Err(missing()),
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublicKeyResult {
    public_key: String,
    #[serde(default, alias = "CustomerMasterKeySpec")]
    key_spec: String,
    #[serde(default)]
    key_usage: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignResult {
    signature: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyResult {
    key_metadata: KeyMetadata,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadata {
    key_id: String,
}

impl AwsKey {
    pub(super) fn new(r: &AwsKeyRef) -> Result<Self, KmsError> {
        let region = r
            .region_from_arn()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                KmsError::MissingSetting(
                    "awskms:// keys need a region: set AWS_REGION (or use the key's ARN)".into(),
                )
            })?;
        let url = match &r.endpoint {
            Some(e) => format!("https://{e}/"),
            None => match env("AWS_ENDPOINT_URL_KMS").or_else(|| env("AWS_ENDPOINT_URL")) {
                Some(u) => format!("{}/", u.trim_end_matches('/')),
                None => format!("https://kms.{region}.amazonaws.com/"),
            },
        };
        let parsed = reqwest::Url::parse(&url).map_err(|e| {
            KmsError::MissingSetting(format!("the AWS KMS endpoint {url} is not a URL: {e}"))
        })?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(KmsError::MissingSetting(format!(
                    "the AWS KMS endpoint {url} has no host"
                )));
            }
        };
        Ok(Self {
            r: r.clone(),
            region,
            url,
            host,
            creds: credentials()?,
            client: http_client(SERVICE)?,
        })
    }

    async fn call(
        &self,
        operation: &'static str,
        action: &str,
        body: serde_json::Value,
    ) -> Result<Vec<u8>, KmsError> {
        let body = serde_json::to_vec(&body).map_err(|e| KmsError::Service {
            service: SERVICE,
            detail: e.to_string(),
        })?;
        let target = format!("TrentService.{action}");
        let headers = sign_post(
            &self.creds,
            &self.region,
            "kms",
            &self.host,
            &target,
            &body,
            &amz_date(std::time::SystemTime::now()),
        );
        let mut req = self.client.post(&self.url).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let (status, resp) = send(SERVICE, &self.url, req).await?;
        if status.is_success() {
            return Ok(resp);
        }
        // KMS answers JSON (`__type`); authentication failures may come as XML (`<Code>`).
        let err: ErrorBody = serde_json::from_slice(&resp).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&resp);
            let tag = |t: &str| {
                text.split_once(&format!("<{t}>"))
                    .and_then(|(_, rest)| rest.split_once(&format!("</{t}>")))
                    .map(|(v, _)| v.to_owned())
            };
            ErrorBody {
                kind: tag("Code").unwrap_or_default(),
                message: tag("Message").unwrap_or_else(|| excerpt(&resp)),
            }
        });
        let kind = err.kind.rsplit('#').next().unwrap_or_default().to_owned();
        let detail = format!(
            "{kind} (HTTP {status}): {}",
            excerpt(err.message.as_bytes())
        );
        Err(match kind.as_str() {
            "NotFoundException" => KmsError::KeyNotFound {
                service: SERVICE,
                key: self.r.key.clone(),
                hint: format!(
                    "{} in region {} (create it with `vouch generate-key-pair --kms awskms:///alias/NAME`)",
                    excerpt(err.message.as_bytes()),
                    self.region
                ),
            },
            "AccessDeniedException"
            | "AccessDenied"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "ExpiredTokenException"
            | "MissingAuthenticationToken" => KmsError::Denied {
                service: SERVICE,
                operation,
                detail,
                hint: "check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and that the key policy allows kms:GetPublicKey and kms:Sign",
            },
            "DisabledException" | "KMSInvalidStateException" => KmsError::Denied {
                service: SERVICE,
                operation,
                detail,
                hint: "enable the key (it is disabled or pending deletion)",
            },
            "InvalidKeyUsageException" => KmsError::WrongKeyType {
                service: SERVICE,
                key: self.r.key.clone(),
                found: "not a SIGN_VERIFY key".into(),
            },
            _ if status.is_client_error() && status.as_u16() != 429 => KmsError::Denied {
                service: SERVICE,
                operation,
                detail,
                hint: "check the key reference and the credentials",
            },
            _ => KmsError::Service {
                service: SERVICE,
                detail: format!("{operation}: {detail}"),
            },
        })
    }

    fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, KmsError> {
        serde_json::from_slice(body).map_err(|e| KmsError::Service {
            service: SERVICE,
            detail: format!("unexpected {what} response: {e}"),
        })
    }

    fn base64(s: &str, what: &str) -> Result<Vec<u8>, KmsError> {
        B64.decode(s).map_err(|_| KmsError::Service {
            service: SERVICE,
            detail: format!("the {what} is not base64"),
        })
    }

    pub(super) async fn public_key(&self) -> Result<PublicKey, KmsError> {
        let resp = self
            .call(
                "reading the public key",
                "GetPublicKey",
                serde_json::json!({"KeyId": self.r.key}),
            )
            .await?;
        let r: PublicKeyResult = Self::parse(&resp, "GetPublicKey")?;
        // The key's algorithm is checked on its SubjectPublicKeyInfo by the caller.
        if !r.key_usage.is_empty() && r.key_usage != "SIGN_VERIFY" {
            return Err(KmsError::WrongKeyType {
                service: SERVICE,
                key: self.r.to_string(),
                found: format!("{} {}", r.key_spec, r.key_usage),
            });
        }
        PublicKey::from_spki_der(&Self::base64(&r.public_key, "public key")?).map_err(|e| {
            KmsError::Service {
                service: SERVICE,
                detail: format!("the key's public key is unusable: {e}"),
            }
        })
    }

    pub(super) async fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>, KmsError> {
        let resp = self
            .call(
                "signing",
                "Sign",
                serde_json::json!({
                    "KeyId": self.r.key,
                    "Message": B64.encode(digest.as_bytes()),
                    "MessageType": "DIGEST",
                    "SigningAlgorithm": "ECDSA_SHA_256",
                }),
            )
            .await?;
        let r: SignResult = Self::parse(&resp, "Sign")?;
        Self::base64(&r.signature, "signature")
    }

    /// Creates the key (and its alias) unless the reference already names a key.
    pub(super) async fn create(&self) -> Result<(), KmsError> {
        match self.public_key().await {
            Ok(_) => return Ok(()),
            Err(KmsError::KeyNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let Some(alias) = self.r.alias() else {
            return Err(KmsError::CannotCreate(format!(
                "AWS KMS chooses key ids: name the new key by an alias (awskms:///alias/NAME), not {}",
                self.r
            )));
        };
        let resp = self
            .call(
                "creating the key",
                "CreateKey",
                serde_json::json!({
                    "KeySpec": "ECC_NIST_P256",
                    "KeyUsage": "SIGN_VERIFY",
                    "Description": "Created by vouch",
                }),
            )
            .await?;
        let r: CreateKeyResult = Self::parse(&resp, "CreateKey")?;
        self.call(
            "creating the alias",
            "CreateAlias",
            serde_json::json!({"AliasName": alias, "TargetKeyId": r.key_metadata.key_id}),
        )
        .await?;
        Ok(())
    }
}
