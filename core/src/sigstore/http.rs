//! The HTTP plumbing of the keyless-signing clients (Fulcio, Rekor, TSAs, GitHub's token
//! endpoint): one rustls client with connect and total timeouts, and response bodies read with
//! a size bound, so a slow or hostile service can neither hang nor exhaust the signer.

use std::time::Duration;

/// Timeouts and response-size bounds for the sigstore services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connecting. Default 15 s.
    pub connect_timeout: Duration,
    /// A whole request, response body included. Default 60 s.
    pub request_timeout: Duration,
    /// A response body. Default 1 MiB (a certificate chain, a log entry with its proof or a
    /// timestamp are a few KiB).
    pub max_response: usize,
}

impl HttpLimits {
    /// The defaults documented on each field.
    pub const DEFAULT: HttpLimits = HttpLimits {
        connect_timeout: Duration::from_secs(15),
        request_timeout: Duration::from_secs(60),
        max_response: 1024 * 1024,
    };
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A client with `limits`' timeouts.
pub(crate) fn client(limits: &HttpLimits) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// A successful response's status and body, read up to `limits.max_response` bytes.
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    limits: &HttpLimits,
) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let status = resp.status();
    if resp
        .content_length()
        .is_some_and(|n| n > limits.max_response as u64)
    {
        return Err(format!(
            "the response is larger than {} bytes",
            limits.max_response
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
    {
        if body.len() + chunk.len() > limits.max_response {
            return Err(format!(
                "the response is larger than {} bytes",
                limits.max_response
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// A short, printable excerpt of an error body (services explain refusals there).
pub(crate) fn excerpt(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s: String = s.chars().filter(|c| !c.is_control()).take(300).collect();
    s.trim().to_owned()
}
