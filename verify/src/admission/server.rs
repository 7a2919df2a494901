//! The HTTPS server: `/validate`, `/mutate`, `/imagepolicy`, `/healthz`, `/readyz`,
//! `/metrics`. TLS only (rustls); the certificate and key are re-read when their files change,
//! the policy when its file changes or on SIGHUP, each time keeping what is in force when the
//! new one does not load.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use vouch_core::digest::Sha256Digest;

use super::judge::Judge;
use super::review::{self, AdmissionRequest, Answer, MAX_REVIEW_BYTES};
use super::{AdmissionError, imagepolicy, patch};

/// Where to listen and what to watch.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub tls_cert: PathBuf,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1).
    pub tls_key: PathBuf,
    /// The policy file (re-read when it changes and on SIGHUP).
    pub policy: PathBuf,
    /// How often the files are checked for changes.
    pub watch_interval: Duration,
    /// Honour `alpha.image-policy.k8s.io/break-glass: "true"` on an ImageReview: admit what
    /// the policy denies, with an audit annotation and a warning in the log. Off: the
    /// annotation is ignored (judged as usual) and the answer says so.
    pub allow_break_glass: bool,
}

/// The ImageReview annotation asking the backend to admit in an emergency (the
/// ImagePolicyWebhook plugin passes `*.image-policy.k8s.io/*` annotations through).
pub const BREAK_GLASS: &str = "alpha.image-policy.k8s.io/break-glass";

/// A log sink: one JSON object per event.
pub type Log = Arc<dyn Fn(Value) + Send + Sync>;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate or key file is unusable.
    #[error("{path}: {reason}")]
    Tls {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Reads a PEM certificate chain and its key into a rustls certified key.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = |p: &Path, reason: String| ServeError::Tls {
        path: p.display().to_string(),
        reason,
    };
    let cert_pem = std::fs::read(cert).map_err(|e| tls(cert, e.to_string()))?;
    let key_pem = std::fs::read(key).map_err(|e| tls(key, e.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| tls(cert, format!("expected PEM CERTIFICATE blocks: {e}")))?;
    if chain.is_empty() {
        return Err(tls(
            cert,
            "expected at least one PEM CERTIFICATE block, found none".into(),
        ));
    }
    let der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| tls(key, format!("expected a PEM private key: {e}")))?;
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&der)
        .map_err(|e| tls(key, format!("unsupported private key: {e}")))?;
    let ck = CertifiedKey::new(chain, signer);
    ck.keys_match().map_err(|e| {
        tls(
            key,
            format!(
                "the key does not match the certificate {}: {e}",
                cert.display()
            ),
        )
    })?;
    Ok(ck)
}

/// The certificate in force, swapped on reload.
#[derive(Debug)]
struct Certs(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Certs {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|c| c.clone())
    }
}

struct State {
    judge: Arc<Judge>,
    log: Log,
    allow_break_glass: bool,
    health: Arc<Health>,
}

/// What `/readyz` reports: the certificate in force and the last policy reload.
#[derive(Debug, Default)]
struct Health {
    /// The error of the last policy reload, while the policy before it is still serving;
    /// cleared by the next successful reload.
    reload_error: RwLock<Option<String>>,
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn emit(log: &Log, level: &str, msg: &str, mut fields: Value) {
    if let Some(o) = fields.as_object_mut() {
        o.insert("ts".into(), json!(now_secs()));
        o.insert("level".into(), json!(level));
        o.insert("msg".into(), json!(msg));
    }
    log(fields);
}

fn fingerprint(paths: &[&Path]) -> Option<Sha256Digest> {
    let mut all = Vec::new();
    for p in paths {
        all.extend_from_slice(&std::fs::read(p).ok()?);
        all.push(0);
    }
    Some(Sha256Digest::of(&all))
}

/// Serves until the process ends. `bound` is told the address actually bound (port 0).
pub async fn serve(
    opts: ServeOptions,
    judge: Arc<Judge>,
    log: Log,
    bound: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let certs = Arc::new(Certs(RwLock::new(Arc::new(load_certified_key(
        &opts.tls_cert,
        &opts.tls_key,
    )?))));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls {
            path: opts.tls_cert.display().to_string(),
            reason: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(certs.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: opts.listen,
        source,
    })?;
    emit(
        &log,
        "info",
        "listening",
        json!({"addr": addr.to_string(), "policy": judge.policy().policy.source(),
               "policyDigest": judge.policy().policy.digest().to_string()}),
    );
    bound(addr);
    let health = Arc::new(Health::default());
    tokio::spawn(watch(
        opts.clone(),
        judge.clone(),
        certs,
        log.clone(),
        health.clone(),
    ));
    let state = Arc::new(State {
        judge,
        log,
        allow_break_glass: opts.allow_break_glass,
        health,
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(1024));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                emit(
                    &state.log,
                    "warn",
                    "accept failed",
                    json!({"error": e.to_string()}),
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(t)) => t,
                    Ok(Err(e)) => {
                        emit(
                            &state.log,
                            "debug",
                            "TLS handshake failed",
                            json!({"peer": peer.to_string(), "error": e.to_string()}),
                        );
                        return;
                    }
                    Err(_) => return,
                };
            let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Polls the certificate, key and policy files; reloads the policy on SIGHUP too.
async fn watch(
    opts: ServeOptions,
    judge: Arc<Judge>,
    certs: Arc<Certs>,
    log: Log,
    health: Arc<Health>,
) {
    let mut cert_print = fingerprint(&[&opts.tls_cert, &opts.tls_key]);
    let mut policy_print = fingerprint(&[&opts.policy]);
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(opts.watch_interval.max(Duration::from_millis(50)));
    loop {
        #[cfg(unix)]
        let hangup = match hup.as_mut() {
            Some(h) => tokio::select! {
                _ = tick.tick() => false,
                _ = h.recv() => true,
            },
            None => {
                tick.tick().await;
                false
            }
        };
        #[cfg(not(unix))]
        let hangup = {
            tick.tick().await;
            false
        };
        let now = fingerprint(&[&opts.tls_cert, &opts.tls_key]);
        if now.is_some() && now != cert_print {
            match load_certified_key(&opts.tls_cert, &opts.tls_key) {
                Ok(ck) => {
                    if let Ok(mut c) = certs.0.write() {
                        *c = Arc::new(ck);
                    }
                    cert_print = now;
                    judge.metrics.inc("vouch_certificate_reloads_total", "ok");
                    emit(
                        &log,
                        "info",
                        "certificate reloaded",
                        json!({"cert": opts.tls_cert.display().to_string()}),
                    );
                }
                Err(e) => {
                    // Keep the old one; try again when the files change again (a half-written
                    // pair is retried on the next tick since the print is not updated).
                    judge
                        .metrics
                        .inc("vouch_certificate_reloads_total", "error");
                    emit(
                        &log,
                        "error",
                        "certificate reload failed; keeping the one in force",
                        json!({"error": e.to_string()}),
                    );
                }
            }
        }
        let now = fingerprint(&[&opts.policy]);
        if hangup || (now.is_some() && now != policy_print) {
            policy_print = now;
            match judge.reload(&opts.policy) {
                Ok(p) => {
                    if let Ok(mut e) = health.reload_error.write() {
                        *e = None;
                    }
                    judge.metrics.inc("vouch_policy_reloads_total", "ok");
                    emit(
                        &log,
                        "info",
                        "policy reloaded",
                        json!({"policy": p.policy.source(), "policyDigest": p.policy.digest().to_string(), "generation": p.generation, "signal": hangup}),
                    );
                }
                Err(e) => {
                    if let Ok(mut r) = health.reload_error.write() {
                        *r = Some(e.to_string());
                    }
                    judge.metrics.inc("vouch_policy_reloads_total", "error");
                    emit(
                        &log,
                        "error",
                        "policy reload failed; keeping the one in force",
                        json!({"error": e.to_string(), "policyDigest": judge.policy().policy.digest().to_string()}),
                    );
                }
            }
        }
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn json_reply(v: &Value) -> Response<Full<Bytes>> {
    reply(
        StatusCode::OK,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

async fn handle(
    req: Request<Incoming>,
    st: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    Ok(match (method, path.as_str()) {
        (Method::GET, "/healthz") => reply(StatusCode::OK, "text/plain", "ok\n"),
        (Method::GET, "/readyz") => readiness(&st),
        (Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            st.judge.metrics.render(),
        ),
        (Method::POST, "/validate" | "/mutate" | "/imagepolicy") => {
            let started = Instant::now();
            let endpoint = &path[1..];
            let body = match Limited::new(req.into_body(), MAX_REVIEW_BYTES)
                .collect()
                .await
            {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    st.judge
                        .metrics
                        .inc("vouch_reviews_total", format!("{endpoint} malformed"));
                    let too_large = e
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some();
                    // The rest of the body is left unread: the connection cannot carry
                    // another request, and the client must know before it reuses it.
                    let mut r = if too_large {
                        reply(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "text/plain",
                            format!("vouch: a review is at most {MAX_REVIEW_BYTES} bytes\n"),
                        )
                    } else {
                        reply(
                            StatusCode::BAD_REQUEST,
                            "text/plain",
                            format!("vouch: cannot read the request body: {e}\n"),
                        )
                    };
                    r.headers_mut().insert(
                        hyper::header::CONNECTION,
                        hyper::header::HeaderValue::from_static("close"),
                    );
                    return Ok(r);
                }
            };
            let r = if endpoint == "imagepolicy" {
                image_review(&st, &body, started).await
            } else {
                admission_review(&st, endpoint, &body, started).await
            };
            st.judge.metrics.observe(endpoint, started.elapsed());
            r
        }
        (_, "/validate" | "/mutate" | "/imagepolicy") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "vouch: POST a review\n",
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "vouch: not found; endpoints: /validate /mutate /imagepolicy /healthz /readyz /metrics\n",
        ),
    })
}

/// Ready: the listener is up with a certificate and a policy in force (both are loaded before
/// the server listens, and a failed reload keeps them). A failed policy reload is reported,
/// still ready: the policy before it is serving. 503 only if the state cannot be read.
fn readiness(st: &State) -> Response<Full<Bytes>> {
    let Ok(reload_error) = st.health.reload_error.read().map(|e| e.clone()) else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: internal state unreadable\n",
        );
    };
    let p = st.judge.policy();
    let mut body = format!(
        "ready: policy {} ({}, generation {})\n",
        p.policy.source(),
        p.policy.digest(),
        p.generation
    );
    if let Some(e) = reload_error {
        body.push_str(&format!(
            "last policy reload failed, the policy above is still serving: {e}\n"
        ));
    }
    reply(StatusCode::OK, "text/plain", body)
}

fn bad_request(st: &State, endpoint: &str, e: &AdmissionError) -> Response<Full<Bytes>> {
    st.judge
        .metrics
        .inc("vouch_reviews_total", format!("{endpoint} malformed"));
    emit(
        &st.log,
        "warn",
        "malformed review",
        json!({"endpoint": endpoint, "error": e.to_string()}),
    );
    let status = match e {
        AdmissionError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    reply(status, "text/plain", format!("vouch: {e}\n"))
}

async fn admission_review(
    st: &State,
    endpoint: &str,
    body: &[u8],
    started: Instant,
) -> Response<Full<Bytes>> {
    let req: AdmissionRequest = match review::parse(body) {
        Ok(r) => r,
        Err(e) => {
            // A review we can answer (it has a uid) is answered in kind: the API server shows
            // the message to the user. Anything else is a 400 (the failure policy applies).
            return match review::uid_of(body) {
                Some(uid) if !matches!(e, AdmissionError::TooLarge { .. }) => {
                    st.judge
                        .metrics
                        .inc("vouch_reviews_total", format!("{endpoint} malformed"));
                    emit(
                        &st.log,
                        "warn",
                        "review refused",
                        json!({"endpoint": endpoint, "uid": uid, "error": e.to_string()}),
                    );
                    json_reply(&review::response(
                        &uid,
                        &Answer {
                            allowed: false,
                            code: 400,
                            message: format!("vouch: {e}"),
                            ..Answer::default()
                        },
                    ))
                }
                _ => bad_request(st, endpoint, &e),
            };
        }
    };
    let images: Vec<String> = req.images.iter().map(|s| s.image.clone()).collect();
    let (policy, outcomes) = st
        .judge
        .judge_images(&images, req.namespace.as_deref())
        .await;
    let mut answer = st.judge.answer(&policy, &outcomes);
    if endpoint == "mutate" && answer.allowed {
        let slots: Vec<_> = req
            .images
            .iter()
            .zip(&outcomes)
            .map(|(s, o)| (s, o.allowed_digest()))
            .collect();
        answer.patch = patch::pin_patch(&slots);
    }
    let result = if answer.allowed {
        if answer.warnings.is_empty() {
            "allowed"
        } else {
            "warned"
        }
    } else {
        "denied"
    };
    st.judge
        .metrics
        .inc("vouch_reviews_total", format!("{endpoint} {result}"));
    emit(
        &st.log,
        "info",
        "review",
        json!({"endpoint": endpoint, "uid": req.uid, "namespace": req.namespace, "kind": req.kind,
               "operation": req.operation, "images": images, "allowed": answer.allowed,
               "warnings": answer.warnings.len(), "patched": answer.patch.is_some(),
               "message": if answer.allowed { None } else { Some(&answer.message) },
               "ms": started.elapsed().as_secs_f64() * 1000.0}),
    );
    json_reply(&review::response(&req.uid, &answer))
}

async fn image_review(st: &State, body: &[u8], started: Instant) -> Response<Full<Bytes>> {
    let r = match imagepolicy::parse(body) {
        Ok(r) => r,
        Err(e) => return bad_request(st, "imagepolicy", &e),
    };
    let (policy, outcomes) = st
        .judge
        .judge_images(&r.images, r.namespace.as_deref())
        .await;
    let answer = st.judge.answer(&policy, &outcomes);
    let mut reason = if answer.allowed {
        answer.warnings.join("; ")
    } else {
        answer.message.clone()
    };
    let mut allowed = answer.allowed;
    let mut audit: std::collections::BTreeMap<String, String> = [
        ("vouch-policy".to_owned(), policy.policy.source().to_owned()),
        (
            "vouch-policy-digest".to_owned(),
            policy.policy.digest().to_string(),
        ),
    ]
    .into_iter()
    .collect();
    let break_glass = r
        .annotations
        .get(BREAK_GLASS)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let mut result = if answer.allowed { "allowed" } else { "denied" };
    if break_glass {
        let verdict = if answer.allowed {
            "allowed".to_owned()
        } else {
            format!("denied: {}", truncate(&answer.message, 2048))
        };
        let note = if !st.allow_break_glass {
            audit.insert("vouch-break-glass".into(), "ignored".into());
            format!(
                "vouch: the {BREAK_GLASS} annotation was ignored (this server does not run with --allow-break-glass); judged by the policy"
            )
        } else if answer.allowed {
            audit.insert("vouch-break-glass".into(), "not needed".into());
            format!("vouch: {BREAK_GLASS} requested; not needed, the policy admits the images")
        } else {
            allowed = true;
            result = "break-glass";
            audit.insert("vouch-break-glass".into(), "policy bypassed".into());
            audit.insert("vouch-bypassed-verdict".into(), verdict.clone());
            format!(
                "vouch: admitted by break-glass ({BREAK_GLASS}), the policy bypassed; the policy's verdict: {verdict}"
            )
        };
        emit(
            &st.log,
            "warn",
            "break-glass review",
            json!({"endpoint": "imagepolicy", "namespace": r.namespace, "images": r.images,
                   "annotations": r.annotations, "honoured": st.allow_break_glass,
                   "allowed": allowed, "verdict": verdict}),
        );
        reason = if reason.is_empty() {
            note
        } else {
            format!("{note}; {reason}")
        };
    }
    st.judge
        .metrics
        .inc("vouch_reviews_total", format!("imagepolicy {result}"));
    emit(
        &st.log,
        "info",
        "review",
        json!({"endpoint": "imagepolicy", "namespace": r.namespace, "images": r.images,
               "annotations": r.annotations, "allowed": allowed,
               "message": if answer.allowed { None } else { Some(&answer.message) },
               "ms": started.elapsed().as_secs_f64() * 1000.0}),
    );
    json_reply(&imagepolicy::response(allowed, &reason, &audit))
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl vouch_core::Classify for ServeError {
    fn class(&self) -> vouch_core::ErrorClass {
        match self {
            Self::Tls { .. } => vouch_core::ErrorClass::Input,
            Self::Bind { .. } => vouch_core::ErrorClass::Registry,
        }
    }
}
