//! A local sigstore stack for keyless tests: Fulcio, Rekor v1 and an RFC 3161 TSA (sigstore-js's
//! `@sigstore/mock` handlers), a Rekor v2 log (`rekor_v2.js`, written from rekor-tiles' protos)
//! and an OIDC issuer (`oauth2-mock-server`), served by node from
//! `keys-test/sigstore-stack/server.js` on free ports of 127.0.0.1; stopped when dropped.
//! Instances are independent (each has its own keys, trust root and ports).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::workspace;

pub struct SigstoreStack {
    child: Child,
    // Held open: the server exits when its stdin closes (also if this process dies).
    _stdin: ChildStdin,
    dir: TempDir,
    ready: Value,
}

/// The GitHub Actions-like claims of a token (those Fulcio turns into certificate extensions),
/// for `repo` (`owner/name`) running `workflow` (a path in the repository) on `git_ref`.
#[allow(dead_code)]
pub fn github_claims(repo: &str, workflow: &str, git_ref: &str) -> Value {
    let owner = repo.split('/').next().unwrap();
    let sha = "ba214227977e57973d87219493ad93eeda9c7d6c";
    json!({
        "sub": format!("repo:{repo}:ref:{git_ref}"),
        "repository": repo,
        "repository_owner": owner,
        "repository_id": "792829709",
        "repository_owner_id": "398027",
        "repository_visibility": "public",
        "ref": git_ref,
        "sha": sha,
        "event_name": "push",
        "workflow": "release",
        "workflow_ref": format!("{repo}/{workflow}@{git_ref}"),
        "workflow_sha": sha,
        "job_workflow_ref": format!("{repo}/{workflow}@{git_ref}"),
        "job_workflow_sha": sha,
        "run_id": "11997537386",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
    })
}

impl SigstoreStack {
    /// Starts the stack and waits for its ready line (at most 60 s).
    pub fn start() -> SigstoreStack {
        let js = workspace().join("keys-test/js/node_modules");
        for p in ["@sigstore/mock", "oauth2-mock-server"] {
            assert!(
                js.join(p).is_dir(),
                "keys-test/js/node_modules/{p} is missing: run `npm ci` in keys-test/js \
                 (scripts/test does)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("vouch-sigstore-stack-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("stack.log")).unwrap();
        let mut child = Command::new("node")
            .arg(workspace().join("keys-test/sigstore-stack/server.js"))
            .arg("--out")
            .arg(dir.path().join("trust"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("cannot start node (needed for the sigstore stack)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let ready: Value = match serde_json::from_str(&line) {
            Ok(v @ Value::Object(_)) if v["ready"] == true => v,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.path().join("stack.log")).unwrap_or_default();
                panic!("the sigstore stack did not start (stdout {line:?}); its log:\n{log}");
            }
        };
        SigstoreStack {
            child,
            _stdin: stdin,
            dir,
            ready,
        }
    }

    fn field(&self, name: &str) -> &str {
        self.ready[name].as_str().unwrap()
    }

    /// Fulcio's base URL (`POST /api/v2/signingCert`).
    #[allow(dead_code)]
    pub fn fulcio_url(&self) -> &str {
        self.field("fulcio")
    }

    /// Rekor v1's base URL (`POST /api/v1/log/entries`, `GET /api/v1/log/publicKey`, …).
    #[allow(dead_code)]
    pub fn rekor_url(&self) -> &str {
        self.field("rekor")
    }

    /// The Rekor v2 log's base URL (`POST /api/v2/log/entries`, `GET /api/v2/checkpoint`).
    #[allow(dead_code)]
    pub fn rekor_v2_url(&self) -> &str {
        self.field("rekorV2")
    }

    /// The TSA's full URL (`POST` DER `application/timestamp-query`).
    #[allow(dead_code)]
    pub fn tsa_url(&self) -> &str {
        self.field("tsa")
    }

    /// The OIDC issuer (`iss` of the tokens, and the certificates' issuer extension).
    pub fn oidc_issuer(&self) -> &str {
        self.field("oidcIssuer")
    }

    /// The verified email of whoever signs in through the issuer's browser flow (`/authorize`).
    #[allow(dead_code)]
    pub fn browser_email(&self) -> &str {
        self.field("browserEmail")
    }

    /// The sigstore ClientTrustConfig (trusted root + SigningConfig v0.2 with the local URLs),
    /// as sigstore-python's `--trust-config` reads it.
    pub fn trust_config(&self) -> PathBuf {
        PathBuf::from(self.field("trustConfig"))
    }

    /// The ClientTrustConfig whose signing config lists the Rekor v2 log first (then Rekor v1):
    /// clients that speak v2 log there.
    #[allow(dead_code)]
    pub fn trust_config_v2(&self) -> PathBuf {
        PathBuf::from(self.field("trustConfigV2"))
    }

    /// The SigningConfig v0.2 of [`Self::trust_config_v2`] alone.
    #[allow(dead_code)]
    pub fn signing_config_v2(&self) -> PathBuf {
        PathBuf::from(self.field("signingConfigV2"))
    }

    /// The trusted root alone (both Rekor logs; `vouch verify-bundle --trusted-root`).
    pub fn trusted_root(&self) -> PathBuf {
        PathBuf::from(self.field("trustedRoot"))
    }

    /// The SigningConfig v0.2 alone.
    #[allow(dead_code)]
    pub fn signing_config(&self) -> PathBuf {
        PathBuf::from(self.field("signingConfig"))
    }

    /// A scratch directory that lives as long as the stack.
    #[allow(dead_code)]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An ID token signed by the stack's issuer: audience `sigstore`, 10 minutes, `claims`
    /// added (they override the defaults `sub` = `vouch-test`, `aud`, and `expiresIn` sets the
    /// lifetime in seconds). Fulcio certifies, as the real one does: `https://github.com/` +
    /// `job_workflow_ref` if present, else `email` (which needs `email_verified: true`), else
    /// `sub`.
    pub fn mint_token(&self, claims: &Value) -> String {
        let url = self.field("token");
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let body = claims.to_string();
        let mut s = TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let (head, body) = resp.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "token: {resp}");
        let v: Value = serde_json::from_str(body).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    /// A token for a verified `email` (the certificate's identity is the email).
    pub fn email_token(&self, email: &str) -> String {
        self.mint_token(&json!({ "sub": email, "email": email, "email_verified": true }))
    }
}

/// `token` with its claims changed by `edit` and its signature kept: a forgery.
#[allow(dead_code)]
pub fn forge_token(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    edit(&mut claims);
    parts[1] = b64.encode(claims.to_string());
    parts.join(".")
}

impl Drop for SigstoreStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
