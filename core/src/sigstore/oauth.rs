//! The interactive browser flow for a person at a terminal: OAuth 2.0 authorization code with
//! PKCE (RFC 7636, `S256`) on a loopback redirect, as cosign (sigstore/sigstore
//! `pkg/oauthflow/interactive.go`) and sigstore-python (`sigstore/_internal/oidc/oauth.py`) do.
//!
//! 1. OIDC discovery: `GET {issuer}/.well-known/openid-configuration` names the authorization and
//!    token endpoints; its `issuer` must be the one asked.
//! 2. A listener on `127.0.0.1:PORT` (a free port unless one is given) takes the redirect
//!    `http://localhost:PORT/auth/callback`.
//! 3. The authorization URL (client id `sigstore`, scope `openid email`, a random `state`,
//!    `nonce` and PKCE verifier) goes to the caller, who prints it and opens a browser.
//! 4. The callback must carry our `state` and a `code` (an `error` ends the flow); nothing
//!    answers after [`BrowserFlow::timeout`].
//! 5. The code is exchanged at the token endpoint with the PKCE verifier; the answer's
//!    `id_token` must name our client id in `aud` and carry our `nonce`.
//!
//! The token is never printed: errors quote the issuer's `error` codes, not its bodies.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::http::{HttpLimits, client, read_body};
use super::oidc::{IdentityToken, OidcError, TokenSource, now};
use super::signing_config::SigningConfig;
use crate::{Classify, ErrorClass};

/// sigstore's public OAuth client.
pub const DEFAULT_CLIENT_ID: &str = "sigstore";
/// How long to wait for the browser by default (cosign's 120 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The path of the redirect URI on the loopback listener.
pub const REDIRECT_PATH: &str = "/auth/callback";
/// A callback request's head is refused beyond this many bytes.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// A browser connection that sends no request within this is dropped.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the browser flow gave no token. No variant holds a token, a code or the verifier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// No issuer was given and the signing config names none that is valid now.
    #[error(
        "no OIDC issuer for the browser sign-in: the signing config has no valid oidcUrls; give \
         --oidc-issuer URL or --identity-token TOKEN"
    )]
    NoIssuer,
    /// The issuer's discovery document could not be had or used.
    #[error("OIDC discovery at {issuer} failed: {reason}")]
    Discovery {
        /// The issuer asked.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// The loopback listener could not be made.
    #[error("cannot listen on 127.0.0.1:{port} for the browser's redirect: {reason}")]
    Listen {
        /// The port asked (0: any).
        port: u16,
        /// Why.
        reason: String,
    },
    /// Nothing came back from the browser in time.
    #[error(
        "no sign-in came back from the browser within {seconds} s: open the URL printed above in \
         a browser on this machine and sign in (or wait longer with --oidc-timeout SECONDS), or \
         give --identity-token TOKEN"
    )]
    Timeout {
        /// The wait, in seconds.
        seconds: u64,
    },
    /// The issuer sent the browser back with an error (the user declined, …).
    #[error("the sign-in was refused by the issuer: {error}{description}; sign in again")]
    Denied {
        /// The OAuth `error` code.
        error: String,
        /// `: error_description`, if given.
        description: String,
    },
    /// The callback's `state` is not ours: it answers another sign-in (or forges one).
    #[error(
        "the browser's callback carries a state that is not this sign-in's (a stale tab, or a \
         forged request): sign in again from the URL this run prints"
    )]
    StateMismatch,
    /// The callback has neither a code nor an error.
    #[error("the browser's callback carries no authorization code: sign in again")]
    NoCode,
    /// The token endpoint refused the code or failed.
    #[error("the issuer's token endpoint {endpoint} failed: {reason}")]
    TokenEndpoint {
        /// The endpoint.
        endpoint: String,
        /// Its status and OAuth error code (never the body's tokens).
        reason: String,
    },
    /// The identity token is not this sign-in's.
    #[error("the identity token from the issuer {reason}: sign in again")]
    Mismatch {
        /// What does not match.
        reason: &'static str,
    },
    /// The identity token is unusable.
    #[error(transparent)]
    Token(#[from] OidcError),
}

impl Classify for OAuthError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Discovery { .. } | Self::TokenEndpoint { .. } | Self::Mismatch { .. } => {
                ErrorClass::Registry
            }
            Self::NoIssuer
            | Self::Listen { .. }
            | Self::Timeout { .. }
            | Self::Denied { .. }
            | Self::StateMismatch
            | Self::NoCode
            | Self::Token(_) => ErrorClass::Input,
        }
    }
}

/// The browser flow's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserFlow {
    /// The OIDC issuer (`https://oauth2.sigstore.dev/auth` for the public-good instance).
    pub issuer: String,
    /// The OAuth client id ([`DEFAULT_CLIENT_ID`]).
    pub client_id: String,
    /// How long to wait for the browser's callback.
    pub timeout: Duration,
    /// The loopback port (0: a free one).
    pub redirect_port: u16,
}

impl BrowserFlow {
    /// The flow for `issuer` with the defaults.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            redirect_port: 0,
        }
    }

    /// The newest OIDC issuer of `config` valid at `now`.
    pub fn issuer_of(config: &SigningConfig, now: i64) -> Result<String, OAuthError> {
        config
            .oidc_urls
            .iter()
            .filter(|s| s.validity.contains(now))
            .max_by_key(|s| s.validity.start)
            .map(|s| s.url.clone())
            .ok_or(OAuthError::NoIssuer)
    }

    /// Runs the flow: discovery, the loopback listener, `show(url)` (print it, open a browser),
    /// the callback, the code exchange. Returns the identity token.
    pub async fn run(
        &self,
        limits: &HttpLimits,
        show: impl FnOnce(&str),
    ) -> Result<IdentityToken, OAuthError> {
        let http = client(limits).map_err(|reason| OAuthError::Discovery {
            issuer: self.issuer.clone(),
            reason,
        })?;
        let endpoints = discover(&http, &self.issuer, limits).await?;

        let listener = TcpListener::bind(("127.0.0.1", self.redirect_port))
            .await
            .map_err(|e| OAuthError::Listen {
                port: self.redirect_port,
                reason: e.to_string(),
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| OAuthError::Listen {
                port: self.redirect_port,
                reason: e.to_string(),
            })?
            .port();
        let redirect_uri = format!("http://localhost:{port}{REDIRECT_PATH}");

        let state = random_token()?;
        let nonce = random_token()?;
        let verifier = random_token()?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));

        let mut url = endpoints.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", "openid email")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce);
        show(url.as_str());

        let code = tokio::time::timeout(self.timeout, callback(listener, &state))
            .await
            .map_err(|_| OAuthError::Timeout {
                seconds: self.timeout.as_secs(),
            })??;

        let raw = exchange(
            &http,
            &endpoints.token,
            &self.client_id,
            &code,
            &redirect_uri,
            &verifier,
            limits,
        )
        .await?;
        let token = IdentityToken::parse(raw, TokenSource::Browser, now())?;
        if token.nonce() != Some(nonce.as_str()) {
            return Err(OAuthError::Mismatch {
                reason: "does not carry this sign-in's nonce",
            });
        }
        if !token.has_audience(&self.client_id) {
            return Err(OAuthError::Mismatch {
                reason: "is not for this client id (its `aud`)",
            });
        }
        Ok(token)
    }
}

/// 32 random bytes, base64url: a `state`, a `nonce` or a PKCE verifier (43 characters of the
/// unreserved set RFC 7636 §4.1 asks for).
fn random_token() -> Result<Zeroizing<String>, OAuthError> {
    let mut b = Zeroizing::new([0u8; 32]);
    getrandom::fill(b.as_mut()).map_err(|e| OAuthError::Listen {
        port: 0,
        reason: format!("no randomness: {e}"),
    })?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(b.as_ref())))
}

struct Endpoints {
    authorization: Url,
    token: Url,
}

/// The OpenID Provider Configuration (OpenID Connect Discovery 1.0 §3), the fields used.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// `https`, or `http` to a loopback host (a local issuer).
fn endpoint_url(s: &str, what: &str) -> Result<Url, String> {
    let u = Url::parse(s).map_err(|e| format!("its {what} {s:?} is not a URL ({e})"))?;
    let loopback = matches!(
        u.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match u.scheme() {
        "https" => Ok(u),
        "http" if loopback => Ok(u),
        _ => Err(format!(
            "its {what} {s} is not https (the code and token would travel in the clear)"
        )),
    }
}

async fn discover(
    http: &reqwest::Client,
    issuer: &str,
    limits: &HttpLimits,
) -> Result<Endpoints, OAuthError> {
    let bad = |reason: String| OAuthError::Discovery {
        issuer: issuer.to_owned(),
        reason,
    };
    let base = issuer.trim_end_matches('/');
    endpoint_url(base, "issuer URL").map_err(bad)?;
    let url = format!("{base}/.well-known/openid-configuration");
    let resp = http
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| bad(format!("{}", e.without_url())))?;
    let (status, body) = read_body(resp, limits).await.map_err(bad)?;
    if !status.is_success() {
        return Err(bad(format!("GET {url}: HTTP {status}")));
    }
    let d: Discovery = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "{url} is not an OpenID configuration with authorization_endpoint and \
             token_endpoint ({e})"
        ))
    })?;
    if d.issuer.trim_end_matches('/') != base {
        return Err(bad(format!(
            "it names issuer {:?}, expected {base:?}",
            d.issuer
        )));
    }
    if let Some(methods) = &d.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(bad(format!(
            "it supports PKCE methods {methods:?}, not S256"
        )));
    }
    Ok(Endpoints {
        authorization: endpoint_url(&d.authorization_endpoint, "authorization_endpoint")
            .map_err(bad)?,
        token: endpoint_url(&d.token_endpoint, "token_endpoint").map_err(bad)?,
    })
}

/// What one callback request said: the code, or why there is none.
pub type Callback = Result<Zeroizing<String>, OAuthError>;

/// Serves the loopback listener until a request to [`REDIRECT_PATH`] comes; anything else gets
/// 404. Each connection is served on its own task, so an idle one (a browser's preconnect)
/// holds nothing up.
async fn callback(listener: TcpListener, state: &str) -> Result<Zeroizing<String>, OAuthError> {
    let (tx, mut rx) = mpsc::channel::<Callback>(1);
    let state = Zeroizing::new(state.to_owned());
    let accept = tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                // Out of descriptors, say: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let tx = tx.clone();
            let state = state.clone();
            tasks.spawn(async move {
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, serve(conn, &state, &tx)).await;
            });
            while tasks.try_join_next().is_some() {}
        }
    });
    let got = rx.recv().await;
    accept.abort();
    got.unwrap_or(Err(OAuthError::NoCode))
}

const PAGE_OK: &str = "<!doctype html><html><head><title>vouch</title></head><body>\
    <h1>vouch: signed in</h1><p>You may close this page and return to the terminal.</p>\
    </body></html>";
const PAGE_FAILED: &str = "<!doctype html><html><head><title>vouch</title></head><body>\
    <h1>vouch: sign-in failed</h1><p>See the terminal for why.</p></body></html>";

async fn serve(mut conn: TcpStream, state: &str, tx: &mpsc::Sender<Callback>) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_REQUEST_HEAD {
            let _ = respond(&mut conn, "431 Request Header Fields Too Large", "").await;
            return;
        }
    }
    let Some(outcome) = callback_request(&head, state) else {
        let _ = respond(&mut conn, "404 Not Found", "").await;
        return;
    };
    let page = match outcome {
        Ok(_) => ("200 OK", PAGE_OK),
        Err(_) => ("400 Bad Request", PAGE_FAILED),
    };
    let _ = respond(&mut conn, page.0, page.1).await;
    let _ = tx.send(outcome).await;
}

/// Reads an HTTP request head that came to the loopback listener: `None` unless it is
/// `GET /auth/callback?…`; else the authorization code, or why there is none (an `error`
/// from the issuer, a `state` that is not `state`, no `code`). Public for the fuzz target.
pub fn callback_request(head: &[u8], state: &str) -> Option<Callback> {
    let line = head.split(|b| *b == b'\r' || *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" || !target.starts_with('/') {
        return None;
    }
    let url = Url::parse(&format!("http://localhost{target}")).ok()?;
    if url.path() != REDIRECT_PATH {
        return None;
    }
    Some(read_callback(&url, state))
}

/// The callback's verdict: an `error` (the issuer refused), then our `state`, then a `code`.
fn read_callback(url: &Url, state: &str) -> Callback {
    let (mut code, mut got_state, mut error, mut description) = (None, None, None, None);
    for (k, v) in url.query_pairs() {
        match &*k {
            "code" => code = Some(Zeroizing::new(v.into_owned())),
            "state" => got_state = Some(Zeroizing::new(v.into_owned())),
            "error" => error = Some(printable(&v)),
            "error_description" => description = Some(printable(&v)),
            _ => {}
        }
    }
    if let Some(error) = error {
        return Err(OAuthError::Denied {
            error,
            description: description.map(|d| format!(": {d}")).unwrap_or_default(),
        });
    }
    if got_state.as_deref().map(String::as_str) != Some(state) {
        return Err(OAuthError::StateMismatch);
    }
    match code {
        Some(c) if !c.is_empty() => Ok(c),
        _ => Err(OAuthError::NoCode),
    }
}

/// At most 200 printable characters of a value the issuer (or whoever calls the listener) chose.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

async fn respond(conn: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(msg.as_bytes()).await?;
    conn.shutdown().await
}

/// The token request (RFC 6749 §4.1.3 with RFC 7636's `code_verifier`), the client
/// authenticated by HTTP Basic with an empty secret as sigstore-python does.
async fn exchange(
    http: &reqwest::Client,
    endpoint: &Url,
    client_id: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    limits: &HttpLimits,
) -> Result<Zeroizing<String>, OAuthError> {
    let bad = |reason: String| OAuthError::TokenEndpoint {
        endpoint: endpoint.to_string(),
        reason,
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let resp = http
        .post(endpoint.clone())
        .basic_auth(client_id, Some(""))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| bad(format!("{}", e.without_url())))?;
    let (status, body) = read_body(resp, limits).await.map_err(bad)?;
    let body = Zeroizing::new(body);
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        id_token: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        error_description: Option<String>,
    }
    let answer: Option<Answer> = serde_json::from_slice(&body).ok();
    let answer = answer.map(|a| (Zeroizing::new(a.id_token), a.error, a.error_description));
    match answer {
        Some((_, Some(error), description)) => Err(bad(format!(
            "HTTP {status}: {}{}",
            printable(&error),
            description
                .map(|d| format!(" ({})", printable(&d)))
                .unwrap_or_default()
        ))),
        _ if !status.is_success() => Err(bad(format!("HTTP {status}"))),
        Some((id_token, None, _)) => match id_token.as_ref() {
            Some(t) => Ok(Zeroizing::new(t.clone())),
            None => Err(bad("the answer has no id_token".into())),
        },
        None => Err(bad("the answer is not JSON".into())),
    }
}

/// Opens `url` in a browser: each command of `$BROWSER` (`:`-separated, `%s` standing for the
/// URL, else the URL is the last argument) until one starts, else `xdg-open` (`open` on macOS).
/// The browser runs on its own; a failure here only means the user must open the printed URL.
pub fn open_in_browser(url: &str, browser_env: Option<&str>) -> Result<(), String> {
    let default = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let list = browser_env
        .filter(|b| !b.trim().is_empty())
        .unwrap_or(default);
    let mut last = String::new();
    for cmd in list.split(':').filter(|c| !c.trim().is_empty()) {
        let mut words: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
        if words.iter().any(|w| w.contains("%s")) {
            for w in &mut words {
                *w = w.replace("%s", url);
            }
        } else {
            words.push(url.to_owned());
        }
        let Some((prog, args)) = words.split_first() else {
            continue;
        };
        match std::process::Command::new(prog)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(mut child) => {
                // Reaped on its own thread: a browser may run until it is closed.
                std::thread::spawn(move || {
                    let _ = child.wait();
                });
                return Ok(());
            }
            Err(e) => last = format!("cannot run {prog}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_verdicts() {
        let u = |q: &str| Url::parse(&format!("http://localhost/auth/callback?{q}")).unwrap();
        assert!(matches!(
            read_callback(&u("code=c1&state=s1"), "s1"),
            Ok(c) if c.as_str() == "c1"
        ));
        assert!(matches!(
            read_callback(&u("code=c1&state=s2"), "s1"),
            Err(OAuthError::StateMismatch)
        ));
        assert!(matches!(
            read_callback(&u("code=c1"), "s1"),
            Err(OAuthError::StateMismatch)
        ));
        assert!(matches!(
            read_callback(&u("state=s1"), "s1"),
            Err(OAuthError::NoCode)
        ));
        match read_callback(
            &u("error=access_denied&error_description=no%0Athanks&state=s1"),
            "s1",
        ) {
            Err(e @ OAuthError::Denied { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "the sign-in was refused by the issuer: access_denied: nothanks; sign in again"
                );
                assert_eq!(e.class(), ErrorClass::Input);
            }
            _ => panic!("an error callback is a denial"),
        }
    }

    #[test]
    fn callback_requests() {
        let code = |head: &[u8]| callback_request(head, "s1");
        assert!(matches!(
            code(b"GET /auth/callback?code=c1&state=s1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Ok(c)) if c.as_str() == "c1"
        ));
        for other in [
            &b"GET /favicon.ico HTTP/1.1\r\n\r\n"[..],
            b"POST /auth/callback?code=c1&state=s1 HTTP/1.1\r\n\r\n",
            b"GET http://evil/auth/callback?code=c1&state=s1 HTTP/1.1\r\n\r\n",
            b"GET",
            b"\xff\xfe",
            b"",
        ] {
            assert!(code(other).is_none(), "{other:?}");
        }
        assert!(matches!(
            code(b"GET /auth/callback?code=c1&state=s2 HTTP/1.1\r\n\r\n"),
            Some(Err(OAuthError::StateMismatch))
        ));
    }

    #[test]
    fn endpoints_must_be_https_unless_loopback() {
        assert!(endpoint_url("https://oauth2.sigstore.dev/auth", "x").is_ok());
        assert!(endpoint_url("http://127.0.0.1:5556/auth", "x").is_ok());
        assert!(endpoint_url("http://localhost:5556/auth", "x").is_ok());
        assert!(endpoint_url("http://oauth2.example/auth", "x").is_err());
        assert!(endpoint_url("ftp://oauth2.example/auth", "x").is_err());
    }

    #[test]
    fn pkce_verifier_is_rfc7636_shaped_and_random() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(*a, *b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
    }

    #[test]
    fn issuer_comes_from_the_signing_config() {
        let c = SigningConfig::public_good().unwrap();
        assert_eq!(
            BrowserFlow::issuer_of(&c, now()).unwrap(),
            "https://oauth2.sigstore.dev/auth"
        );
    }
}
