//! OIDC identity tokens for keyless signing: where they come from (first found wins: an
//! explicit token or `@FILE`, `SIGSTORE_ID_TOKEN`, GitHub Actions' ambient token for audience
//! `sigstore`) and what they claim (`iss`, `sub`, `email`, `exp`, read from the JWT without
//! verifying it: Fulcio verifies it). A token is a bearer credential: it is held in a zeroized
//! buffer and shown by neither `Debug` nor any error message.
//!
//! At a terminal, when none of these has a token, the caller may run the interactive browser
//! flow of [`super::oauth`] (authorization code + PKCE on a localhost redirect).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::http::{HttpLimits, client, excerpt, read_body};

/// Tokens longer than this are refused (real ones are 1–2 KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The environment variable GitLab CI (and others) fill with a token for sigstore.
pub const ENV_SIGSTORE_ID_TOKEN: &str = "SIGSTORE_ID_TOKEN";
/// GitHub Actions' token endpoint (set with `permissions: id-token: write`).
pub const ENV_ACTIONS_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The bearer credential for [`ENV_ACTIONS_URL`].
pub const ENV_ACTIONS_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// Given explicitly (`--identity-token TOKEN`).
    Explicit,
    /// Read from a file (`--identity-token @FILE`).
    File,
    /// `SIGSTORE_ID_TOKEN`.
    Environment,
    /// GitHub Actions' token endpoint.
    GithubActions,
    /// The interactive browser flow ([`super::oauth`]).
    Browser,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Explicit => "the command line",
            Self::File => "the token file",
            Self::Environment => "SIGSTORE_ID_TOKEN",
            Self::GithubActions => "GitHub Actions",
            Self::Browser => "the browser sign-in",
        })
    }
}

/// Why no usable identity token was found. No variant holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// No source had a token.
    #[error(
        "no identity token for keyless signing: give --identity-token TOKEN (or @FILE), set \
         SIGSTORE_ID_TOKEN, run in GitHub Actions with `permissions: id-token: write`, or run \
         at a terminal to sign in with a browser"
    )]
    Missing,
    /// The token's `exp` has passed.
    #[error(
        "the identity token from {from} expired at {expired_at} (it is now {now}): get a fresh \
         token and sign again"
    )]
    Expired {
        /// Where it came from.
        from: TokenSource,
        /// `exp` (Unix seconds).
        expired_at: i64,
        /// The time it was checked at.
        now: i64,
    },
    /// Not a JWT vouch can read.
    #[error("the identity token from {from} is not a usable JWT: {reason}")]
    Malformed {
        /// Where it came from.
        from: TokenSource,
        /// What is wrong (never the token itself).
        reason: String,
    },
    /// The token file could not be read.
    #[error("cannot read the identity token file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// GitHub Actions' token endpoint failed.
    #[error("GitHub Actions identity token request failed: {0}")]
    GithubActions(String),
}

/// A decoded, unverified OIDC identity token. Its `Debug` shows the claims vouch reads, never
/// the token; the token is zeroized on drop.
pub struct IdentityToken {
    raw: Zeroizing<String>,
    from: TokenSource,
    claims: Claims,
}

#[derive(Debug, Clone, Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    email: Option<String>,
    exp: f64,
    #[serde(default)]
    job_workflow_ref: Option<String>,
    #[serde(default)]
    ci_config_ref_uri: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
}

/// `aud`: one string or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityToken")
            .field("from", &self.from)
            .field("issuer", &self.claims.iss)
            .field("subject", &self.subject())
            .field("expires_at", &self.expires_at())
            .finish_non_exhaustive()
    }
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .ok()
}

impl IdentityToken {
    /// Decodes `raw` (a compact JWS) from `from`, and refuses it when expired at `now`.
    pub fn parse(raw: Zeroizing<String>, from: TokenSource, now: i64) -> Result<Self, OidcError> {
        let bad = |reason: &str| OidcError::Malformed {
            from,
            reason: reason.to_owned(),
        };
        let token = raw.trim();
        if token.is_empty() {
            return Err(bad("it is empty"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(bad(&format!("longer than {MAX_TOKEN_LEN} bytes")));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected three dot-separated parts"));
        };
        let header: serde_json::Value = b64url(header)
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(|| bad("the header is not base64url JSON"))?;
        if header.get("alg").and_then(|a| a.as_str()).is_none() {
            return Err(bad("the header names no algorithm"));
        }
        let payload =
            Zeroizing::new(b64url(payload).ok_or_else(|| bad("the claims are not base64url"))?);
        let claims: Claims = serde_json::from_slice(&payload).map_err(|e| {
            bad(&format!(
                "the claims lack `iss` or `exp`, or are not JSON ({})",
                e.classify_name()
            ))
        })?;
        if claims.sub.is_none() && claims.email.is_none() {
            return Err(bad("the claims have neither `sub` nor `email`"));
        }
        if !claims.exp.is_finite() {
            return Err(bad("`exp` is not a number of seconds"));
        }
        let token = Self {
            raw: Zeroizing::new(token.to_owned()),
            from,
            claims,
        };
        if token.expires_at() <= now {
            return Err(OidcError::Expired {
                from,
                expired_at: token.expires_at(),
                now,
            });
        }
        Ok(token)
    }

    /// The token, for the `Authorization`/credentials of a Fulcio request only.
    pub(crate) fn secret(&self) -> &str {
        &self.raw
    }

    /// Where it came from.
    pub fn source(&self) -> TokenSource {
        self.from
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.claims.iss
    }

    /// The subject Fulcio's proof of possession is over: `email` when present, else `sub`
    /// (sigstore-go `pkg/sign/certificate.go`).
    pub fn subject(&self) -> &str {
        self.claims
            .email
            .as_deref()
            .or(self.claims.sub.as_deref())
            .unwrap_or_default()
    }

    /// `nonce` (set by the browser flow's authorization request).
    pub(crate) fn nonce(&self) -> Option<&str> {
        self.claims.nonce.as_deref()
    }

    /// Whether `aud` names `client_id`.
    pub(crate) fn has_audience(&self, client_id: &str) -> bool {
        match &self.claims.aud {
            Some(Audience::One(a)) => a == client_id,
            Some(Audience::Many(v)) => v.iter().any(|a| a == client_id),
            None => false,
        }
    }

    /// `exp`, Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.claims.exp as i64
    }

    /// The identities a Fulcio certificate for this token may carry as its SAN, as Fulcio derives
    /// them from the claims: `https://github.com/` + `job_workflow_ref` (GitHub Actions),
    /// `https://` + `ci_config_ref_uri` (GitLab CI), the `email`, or the `sub`.
    pub fn expected_identities(&self) -> Vec<String> {
        let c = &self.claims;
        let mut out = Vec::new();
        if let Some(w) = &c.job_workflow_ref {
            out.push(format!("https://github.com/{w}"));
        }
        if let Some(u) = &c.ci_config_ref_uri {
            out.push(format!("https://{u}"));
        }
        out.extend(c.email.iter().cloned());
        out.extend(c.sub.iter().cloned());
        out
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    /// The kind of JSON error, without its text (which can quote the claims).
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or mistyped claim",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// The current time, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Finds an identity token, first found wins: `explicit` (a token, or `@FILE` holding one),
/// `SIGSTORE_ID_TOKEN`, GitHub Actions' ambient token (audience `sigstore`). `env` reads the
/// environment (`|k| std::env::var(k).ok()`).
pub async fn find_token(
    explicit: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    limits: &HttpLimits,
) -> Result<IdentityToken, OidcError> {
    let now = now();
    if let Some(given) = explicit {
        if let Some(path) = given.strip_prefix('@') {
            let bytes = read_token_file(path)?;
            return IdentityToken::parse(bytes, TokenSource::File, now);
        }
        return IdentityToken::parse(Zeroizing::new(given.to_owned()), TokenSource::Explicit, now);
    }
    if let Some(t) = env(ENV_SIGSTORE_ID_TOKEN).map(Zeroizing::new)
        && !t.trim().is_empty()
    {
        return IdentityToken::parse(t, TokenSource::Environment, now);
    }
    if let (Some(url), Some(bearer)) = (
        env(ENV_ACTIONS_URL),
        env(ENV_ACTIONS_TOKEN).map(Zeroizing::new),
    ) {
        let t = github_actions_token(&url, &bearer, limits).await?;
        return IdentityToken::parse(t, TokenSource::GithubActions, now);
    }
    Err(OidcError::Missing)
}

fn read_token_file(path: &str) -> Result<Zeroizing<String>, OidcError> {
    use std::io::Read as _;
    let file_err = |reason: String| OidcError::File {
        path: path.to_owned(),
        reason,
    };
    let f = std::fs::File::open(path).map_err(|e| file_err(e.to_string()))?;
    let mut buf = Zeroizing::new(Vec::new());
    f.take(MAX_TOKEN_LEN as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| file_err(e.to_string()))?;
    if buf.len() > MAX_TOKEN_LEN {
        return Err(file_err(format!("larger than {MAX_TOKEN_LEN} bytes")));
    }
    let s = std::str::from_utf8(&buf).map_err(|_| file_err("not UTF-8".into()))?;
    Ok(Zeroizing::new(s.trim().to_owned()))
}

/// GitHub Actions' OIDC token for audience `sigstore`: `GET $ACTIONS_ID_TOKEN_REQUEST_URL
/// &audience=sigstore` with the request token as bearer; the answer is `{"value": JWT}`.
async fn github_actions_token(
    url: &str,
    bearer: &str,
    limits: &HttpLimits,
) -> Result<Zeroizing<String>, OidcError> {
    let e = OidcError::GithubActions;
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}audience=sigstore");
    let http = client(limits).map_err(e)?;
    let resp = http
        .get(&url)
        .header(reqwest::header::AUTHORIZATION, format!("bearer {bearer}"))
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|x| e(format!("{}", x.without_url())))?;
    let (status, body) = read_body(resp, limits).await.map_err(e)?;
    let body = Zeroizing::new(body);
    if !status.is_success() {
        return Err(e(format!("HTTP {status}: {}", excerpt(&body))));
    }
    #[derive(Deserialize)]
    struct Answer {
        value: String,
    }
    let a: Answer = serde_json::from_slice(&body)
        .map_err(|_| e("the answer is not {\"value\": TOKEN}".into()))?;
    Ok(Zeroizing::new(a.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    const SECRET_SUB: &str = "alice@example.test";

    #[test]
    fn reads_claims_and_hides_the_token() {
        let raw = jwt(&serde_json::json!({
            "iss": "https://issuer.example", "sub": "x", "email": SECRET_SUB, "exp": 4_000_000_000u64,
        }));
        let t =
            IdentityToken::parse(Zeroizing::new(raw.clone()), TokenSource::Explicit, 0).unwrap();
        assert_eq!(t.issuer(), "https://issuer.example");
        assert_eq!(t.subject(), SECRET_SUB);
        assert_eq!(t.expires_at(), 4_000_000_000);
        assert_eq!(
            t.expected_identities(),
            vec![SECRET_SUB.to_owned(), "x".to_owned()]
        );
        let shown = format!("{t:?}");
        assert!(!shown.contains(&raw) && !shown.contains(raw.split('.').nth(1).unwrap()));
        let gh = jwt(&serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com", "sub": "repo:o/r:ref:refs/heads/main",
            "job_workflow_ref": "o/r/.github/workflows/x.yml@refs/heads/main", "exp": 4_000_000_000u64,
        }));
        let t = IdentityToken::parse(Zeroizing::new(gh), TokenSource::GithubActions, 0).unwrap();
        assert_eq!(
            t.expected_identities()[0],
            "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main"
        );
    }

    #[test]
    fn expired_and_malformed_tokens_are_typed_errors_without_the_token() {
        let raw = jwt(&serde_json::json!({"iss": "i", "sub": "s", "exp": 100}));
        let err = IdentityToken::parse(Zeroizing::new(raw.clone()), TokenSource::Environment, 200)
            .unwrap_err();
        assert_eq!(
            err,
            OidcError::Expired {
                from: TokenSource::Environment,
                expired_at: 100,
                now: 200
            }
        );
        assert!(err.to_string().contains("fresh token"));
        for bad in [
            "".to_owned(),
            "abc".to_owned(),
            "a.b.c.d".to_owned(),
            jwt(&serde_json::json!({"sub": "s", "exp": 1})),
            jwt(&serde_json::json!({"iss": "i", "exp": 4_000_000_000u64})),
            format!("{}.!!.x", URL_SAFE_NO_PAD.encode("{\"alg\":\"none\"}")),
        ] {
            let err = IdentityToken::parse(Zeroizing::new(bad.clone()), TokenSource::Explicit, 0)
                .unwrap_err();
            assert!(matches!(err, OidcError::Malformed { .. }), "{bad}: {err}");
            if !bad.is_empty() {
                assert!(!err.to_string().contains(&bad));
            }
        }
    }

    #[tokio::test]
    async fn first_source_wins() {
        let env_tok = jwt(&serde_json::json!({"iss": "env", "sub": "s", "exp": 4_000_000_000u64}));
        let given = jwt(&serde_json::json!({"iss": "given", "sub": "s", "exp": 4_000_000_000u64}));
        let env = |k: &str| (k == ENV_SIGSTORE_ID_TOKEN).then(|| env_tok.clone());
        let l = HttpLimits::DEFAULT;
        assert_eq!(
            find_token(Some(&given), env, &l).await.unwrap().issuer(),
            "given"
        );
        assert_eq!(find_token(None, env, &l).await.unwrap().issuer(), "env");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, format!("{given}\n")).unwrap();
        let t = find_token(Some(&format!("@{}", p.display())), env, &l)
            .await
            .unwrap();
        assert_eq!((t.issuer(), t.source()), ("given", TokenSource::File));
        assert_eq!(
            find_token(None, |_| None, &l).await.unwrap_err(),
            OidcError::Missing
        );
        assert!(matches!(
            find_token(Some("@/nonexistent/token"), |_| None, &l)
                .await
                .unwrap_err(),
            OidcError::File { .. }
        ));
    }

    /// GitHub Actions: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with the request
    /// token as bearer; `{"value": JWT}` back.
    #[tokio::test]
    async fn github_actions_ambient_token() {
        use std::io::{Read as _, Write as _};
        let jwt_text = jwt(
            &serde_json::json!({"iss": "https://token.actions.githubusercontent.com",
            "sub": "repo:o/r:ref:refs/heads/main", "exp": 4_000_000_000u64}),
        );
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token?api-version=2.0", l.local_addr().unwrap());
        let answer = jwt_text.clone();
        std::thread::spawn(move || {
            for s in l.incoming().take(2) {
                let mut s = s.unwrap();
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                let ok = req.starts_with("get /token?api-version=2.0&audience=sigstore ")
                    && req.contains("authorization: bearer request-secret\r\n");
                let body = if ok {
                    serde_json::json!({ "value": answer }).to_string()
                } else {
                    "{}".to_owned()
                };
                let status = if ok { "200 OK" } else { "401 Unauthorized" };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let env = |bearer: &'static str| {
            let url = url.clone();
            move |k: &str| match k {
                ENV_ACTIONS_URL => Some(url.clone()),
                ENV_ACTIONS_TOKEN => Some(bearer.to_owned()),
                _ => None,
            }
        };
        let l = HttpLimits::DEFAULT;
        let t = find_token(None, env("request-secret"), &l).await.unwrap();
        assert_eq!(t.source(), TokenSource::GithubActions);
        assert_eq!(t.issuer(), "https://token.actions.githubusercontent.com");
        let err = find_token(None, env("wrong"), &l).await.unwrap_err();
        assert!(
            matches!(&err, OidcError::GithubActions(m) if m.contains("401") && !m.contains("wrong")),
            "{err}"
        );
    }
}
