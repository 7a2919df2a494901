//! vouch signs keylessly (issue 15) against the local sigstore stack (OIDC token → Fulcio →
//! TSA → Rekor v1): the bundle verifies in vouch and in sigstore-python 4.5.1, a client we did
//! not write. Faults: a token Fulcio refuses, an expired token, a trusted root that is not the
//! stack's, a Rekor that logs something else or answers with a broken proof — each a named
//! error, and no bundle written.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

use crate::support::proxy::read_request;
use crate::support::sigstore_stack::{SigstoreStack, forge_token, github_claims};
use crate::support::{Run, python, run, vouch};

pub(crate) fn no_proxy(cmd: &mut Command) -> &mut Command {
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
}

/// `vouch sign-blob --bundle B [extra…] FILE`, keyless.
fn vouch_sign(extra: &[&std::ffi::OsStr], bundle: &Path, file: &Path) -> Run {
    let mut cmd = vouch();
    no_proxy(&mut cmd)
        .arg("sign-blob")
        .args(extra)
        .arg("--bundle")
        .arg(bundle)
        .arg(file);
    run(&mut cmd)
}

fn with_trust_config<'a>(stack: &'a SigstoreStack, token: &'a str) -> Vec<std::ffi::OsString> {
    vec![
        "--identity-token".into(),
        token.into(),
        "--trust-config".into(),
        stack.trust_config().into_os_string(),
    ]
}

fn os(v: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    v.iter().map(|s| s.as_os_str()).collect()
}

pub(crate) fn vouch_verify(
    stack: &SigstoreStack,
    bundle: &Path,
    identity: &str,
    file: &Path,
) -> Run {
    let mut cmd = vouch();
    no_proxy(&mut cmd)
        .args(["verify-bundle", "--output", "json", "--bundle"])
        .arg(bundle)
        .arg("--certificate-identity")
        .arg(identity)
        .arg("--certificate-oidc-issuer")
        .arg(stack.oidc_issuer())
        .arg("--trusted-root")
        .arg(stack.trusted_root())
        .arg(file);
    run(&mut cmd)
}

pub(crate) fn python_verify(
    stack: &SigstoreStack,
    bundle: &Path,
    identity: &str,
    file: &Path,
) -> Run {
    let mut cmd = Command::new(python());
    no_proxy(&mut cmd)
        .args(["-m", "sigstore", "--trust-config"])
        .arg(stack.trust_config())
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .arg("--cert-identity")
        .arg(identity)
        .arg("--cert-oidc-issuer")
        .arg(stack.oidc_issuer())
        .arg(file);
    run(&mut cmd)
}

/// Both verifiers accept `bundle` for `identity` and refuse another identity.
fn cross_verify(stack: &SigstoreStack, bundle: &Path, identity: &str, file: &Path) {
    let b: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    assert_eq!(
        b["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let vm = &b["verificationMaterial"];
    assert!(vm["certificate"]["rawBytes"].is_string(), "{vm:#}");
    assert_eq!(vm["tlogEntries"][0]["kindVersion"]["kind"], "hashedrekord");
    assert!(vm["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(vm["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"].is_string());
    assert_eq!(
        vm["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let r = vouch_verify(stack, bundle, identity, file).ok();
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["verified"], true);
    assert_eq!(out["identity"], identity);
    vouch_verify(stack, bundle, "mallory@example.test", file).code(1);
    let r = python_verify(stack, bundle, identity, file);
    assert_eq!(r.code, 0, "sigstore-python refused vouch's bundle: {r:#?}");
    let r = python_verify(stack, bundle, "mallory@example.test", file);
    assert_ne!(
        r.code, 0,
        "sigstore-python accepted another identity: {r:#?}"
    );
}

pub(crate) fn artifact(dir: &Path) -> PathBuf {
    let file = dir.join("artifact.txt");
    std::fs::write(&file, b"signed keylessly by vouch\n").unwrap();
    file
}

#[test]
fn vouch_signs_a_blob_keylessly_and_sigstore_python_verifies_it() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let email = "alice@example.test";
    let token = stack.email_token(email);
    let bundle = dir.path().join("artifact.sigstore.json");
    let r = vouch_sign(&os(&with_trust_config(&stack, &token)), &bundle, &file).ok();
    assert!(!r.stderr.contains(&token) && !r.stdout.contains(&token));
    assert!(r.stderr.contains(email), "{r:#?}");
    cross_verify(&stack, &bundle, email, &file);
    // A changed artifact: refused.
    let tampered = dir.path().join("tampered.txt");
    std::fs::write(&tampered, b"signed keylessly by vouch!\n").unwrap();
    vouch_verify(&stack, &bundle, email, &tampered).code(1);
}

#[test]
fn github_actions_token_from_the_environment_with_signing_config_and_trusted_root() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let token = stack.mint_token(&github_claims(
        "octo/app",
        ".github/workflows/release.yml",
        "refs/heads/main",
    ));
    let identity = "https://github.com/octo/app/.github/workflows/release.yml@refs/heads/main";
    let bundle = dir.path().join("b.sigstore.json");
    let mut cmd = vouch();
    no_proxy(&mut cmd)
        .env("SIGSTORE_ID_TOKEN", &token)
        .arg("sign-blob")
        .arg("--signing-config")
        .arg(stack.signing_config())
        .arg("--trusted-root")
        .arg(stack.trusted_root())
        .arg("--bundle")
        .arg(&bundle)
        .arg(&file);
    run(&mut cmd).ok();
    cross_verify(&stack, &bundle, identity, &file);
}

#[test]
fn missing_expired_and_refused_tokens_write_nothing() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    // No token anywhere: exit 2, what to do.
    let tc: Vec<std::ffi::OsString> = vec!["--trust-config".into(), stack.trust_config().into()];
    let r = vouch_sign(&os(&tc), &bundle, &file).code(2);
    assert!(r.stderr.contains("SIGSTORE_ID_TOKEN"), "{r:#?}");
    // Expired.
    let expired = stack.mint_token(&serde_json::json!({
        "sub": "alice@example.test", "email": "alice@example.test", "email_verified": true,
        "expiresIn": -60,
    }));
    let r = vouch_sign(&os(&with_trust_config(&stack, &expired)), &bundle, &file).code(2);
    assert!(r.stderr.contains("expired"), "{r:#?}");
    assert!(!r.stderr.contains(&expired));
    // Forged: Fulcio (which verifies the token) refuses.
    let forged = forge_token(&stack.email_token("alice@example.test"), |c| {
        c["email"] = "mallory@example.test".into();
    });
    let r = vouch_sign(&os(&with_trust_config(&stack, &forged)), &bundle, &file).code(1);
    assert!(
        r.stderr.contains("Fulcio at") && r.stderr.contains("refused"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains(&forged));
    assert!(!bundle.exists());
}

#[test]
fn a_trusted_root_that_is_not_the_stacks_refuses_fulcios_certificate() {
    let stack = SigstoreStack::start();
    let other = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    let token = stack.email_token("alice@example.test");
    let mut cmd = vouch();
    no_proxy(&mut cmd)
        .arg("sign-blob")
        .arg("--identity-token")
        .arg(&token)
        .arg("--signing-config")
        .arg(stack.signing_config())
        .arg("--trusted-root")
        .arg(other.trusted_root())
        .arg("--bundle")
        .arg(&bundle)
        .arg(&file);
    let r = run(&mut cmd).code(1);
    assert!(
        r.stderr.contains("Fulcio at") && r.stderr.contains("trusted root does not vouch"),
        "{r:#?}"
    );
    assert!(!bundle.exists());
}

/// An HTTP/1.0 proxy to `upstream` that may rewrite each request body and response body.
pub(crate) type Rewrite = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

pub(crate) fn lying_proxy(upstream: &str, request: Rewrite, response: Rewrite) -> String {
    let upstream = upstream.strip_prefix("http://").unwrap().to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let (up, req, resp) = (upstream.clone(), request.clone(), response.clone());
            std::thread::spawn(move || {
                let _ = relay(client, &up, &*req, &*resp);
            });
        }
    });
    addr
}

fn relay(
    mut client: TcpStream,
    upstream: &str,
    request: &(dyn Fn(&[u8]) -> Vec<u8> + Send + Sync),
    response: &(dyn Fn(&[u8]) -> Vec<u8> + Send + Sync),
) -> std::io::Result<()> {
    let req = read_request(&client)?;
    let ctype = req
        .header("content-type")
        .unwrap_or_else(|| "application/json".to_owned());
    let (line, body) = (req.line, req.body);
    let body = request(&body);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
    let mut up = TcpStream::connect(upstream)?;
    write!(
        up,
        "{method} {path} HTTP/1.0\r\nHost: {upstream}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    up.write_all(&body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(resp.len());
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = head.lines().next().unwrap_or("HTTP/1.1 502 Bad Gateway");
    let status = status.split_once(' ').map_or("502 Bad Gateway", |(_, s)| s);
    let out = response(resp.get(split + 4..).unwrap_or_default());
    write!(
        client,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        out.len()
    )?;
    client.write_all(&out)
}

/// The stack's signing config with Rekor replaced by `rekor`.
fn signing_config_with_rekor(stack: &SigstoreStack, rekor: &str, dir: &Path) -> PathBuf {
    let mut sc: Value =
        serde_json::from_slice(&std::fs::read(stack.signing_config()).unwrap()).unwrap();
    sc["rekorTlogUrls"][0]["url"] = rekor.into();
    let p = dir.join("signing-config.json");
    std::fs::write(&p, sc.to_string()).unwrap();
    p
}

fn sign_via(stack: &SigstoreStack, sc: &Path, bundle: &Path, file: &Path) -> Run {
    let token = stack.email_token("alice@example.test");
    let mut cmd = vouch();
    no_proxy(&mut cmd)
        .arg("sign-blob")
        .arg("--identity-token")
        .arg(&token)
        .arg("--signing-config")
        .arg(sc)
        .arg("--trusted-root")
        .arg(stack.trusted_root())
        .arg("--bundle")
        .arg(bundle)
        .arg(file);
    run(&mut cmd)
}

#[test]
fn rekor_logging_something_else_or_a_broken_proof_writes_nothing() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    let keep: Rewrite = Arc::new(|b: &[u8]| b.to_vec());
    // Rekor logs another artifact's digest (a valid, signed entry, but not ours).
    let other_digest: Rewrite = Arc::new(|b: &[u8]| {
        let mut v: Value = serde_json::from_slice(b).unwrap();
        v["spec"]["data"]["hash"]["value"] =
            "0000000000000000000000000000000000000000000000000000000000000000".into();
        v.to_string().into_bytes()
    });
    let proxy = lying_proxy(stack.rekor_url(), other_digest, keep.clone());
    let sc = signing_config_with_rekor(&stack, &proxy, dir.path());
    let r = sign_via(&stack, &sc, &bundle, &file).code(1);
    assert!(
        r.stderr.contains("Rekor at") && r.stderr.contains("not ours"),
        "{r:#?}"
    );
    assert!(!bundle.exists());
    // Rekor's answer with a changed root hash: the proof no longer holds.
    let bad_proof: Rewrite = Arc::new(|b: &[u8]| {
        let mut v: Value = serde_json::from_slice(b).unwrap();
        for (_, e) in v.as_object_mut().unwrap() {
            e["verification"]["inclusionProof"]["rootHash"] =
                "1111111111111111111111111111111111111111111111111111111111111111".into();
        }
        v.to_string().into_bytes()
    });
    let proxy = lying_proxy(stack.rekor_url(), keep, bad_proof);
    let sc = signing_config_with_rekor(&stack, &proxy, dir.path());
    let r = sign_via(&stack, &sc, &bundle, &file).code(1);
    assert!(
        r.stderr.contains("Rekor at") && r.stderr.contains("does not vouch"),
        "{r:#?}"
    );
    assert!(!bundle.exists());
    // Rekor down: exit 3, named.
    let sc = signing_config_with_rekor(&stack, "http://127.0.0.1:9", dir.path());
    let r = sign_via(&stack, &sc, &bundle, &file).code(3);
    assert!(r.stderr.contains("Rekor at http://127.0.0.1:9"), "{r:#?}");
    assert!(!bundle.exists());
}

/// The stack's signing config with the service `kind` (`caUrls`, `tsaUrls`) at `url`.
pub(crate) fn signing_config_with(
    stack: &SigstoreStack,
    kind: &str,
    url: &str,
    dir: &Path,
) -> PathBuf {
    let mut sc: Value =
        serde_json::from_slice(&std::fs::read(stack.signing_config()).unwrap()).unwrap();
    sc[kind][0]["url"] = url.into();
    let p = dir.join(format!("signing-config-{kind}.json"));
    std::fs::write(&p, sc.to_string()).unwrap();
    p
}

#[test]
fn fulcio_certifying_another_identity_is_refused() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    // A proxy that hands Fulcio mallory's (valid) token instead of the signer's.
    let mallory = stack.email_token("mallory@example.test");
    let swap: Rewrite = Arc::new(move |b: &[u8]| {
        let mut v: Value = serde_json::from_slice(b).unwrap();
        v["credentials"]["oidcIdentityToken"] = mallory.clone().into();
        v.to_string().into_bytes()
    });
    let proxy = lying_proxy(stack.fulcio_url(), swap, Arc::new(|b: &[u8]| b.to_vec()));
    let sc = signing_config_with(&stack, "caUrls", &proxy, dir.path());
    let r = sign_via(&stack, &sc, &bundle, &file).code(1);
    assert!(
        r.stderr.contains("Fulcio at")
            && r.stderr.contains("mallory@example.test")
            && r.stderr.contains("not for the token's identity"),
        "{r:#?}"
    );
    assert!(!bundle.exists());
}

#[test]
fn an_sct_from_an_untrusted_ct_log_is_refused() {
    let stack = SigstoreStack::start();
    let other = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    // The stack's root with another CT log: the chain holds, the SCT does not.
    let mut root: Value =
        serde_json::from_slice(&std::fs::read(stack.trusted_root()).unwrap()).unwrap();
    let theirs: Value =
        serde_json::from_slice(&std::fs::read(other.trusted_root()).unwrap()).unwrap();
    root["ctlogs"] = theirs["ctlogs"].clone();
    let root_path = dir.path().join("root.json");
    std::fs::write(&root_path, root.to_string()).unwrap();
    let token = stack.email_token("alice@example.test");
    let mut cmd = vouch();
    no_proxy(&mut cmd)
        .arg("sign-blob")
        .arg("--identity-token")
        .arg(&token)
        .arg("--signing-config")
        .arg(stack.signing_config())
        .arg("--trusted-root")
        .arg(&root_path)
        .arg("--bundle")
        .arg(&bundle)
        .arg(&file);
    let r = run(&mut cmd).code(1);
    assert!(
        r.stderr.contains("Fulcio at") && r.stderr.contains("SCT"),
        "{r:#?}"
    );
    assert!(!bundle.exists());
}

/// One DER TLV at `at`: (content start, content end).
fn der_tlv(b: &[u8], at: usize) -> (usize, usize) {
    let first = b[at + 1] as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let len = b[at + 2..at + 2 + n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, 2 + n)
    };
    (at + head, at + head + len)
}

/// Where a DER TimeStampReq keeps the message imprint's hash and the nonce, found by walking
/// its structure (a byte search could match inside the hash): `SEQUENCE { version INTEGER,
/// messageImprint SEQUENCE { algorithm, hashedMessage OCTET STRING }, reqPolicy OID OPTIONAL,
/// nonce INTEGER OPTIONAL, certReq BOOLEAN }`.
#[derive(Clone, Copy)]
enum ReqField {
    Imprint,
    Nonce,
}

/// Flips the last content byte of `field` in a DER TimeStampReq.
fn flip_in_request(field: ReqField) -> Rewrite {
    Arc::new(move |b: &[u8]| {
        let mut v = b.to_vec();
        let (body, _) = der_tlv(&v, 0);
        let (_, version_end) = der_tlv(&v, body);
        let (imprint, imprint_end) = der_tlv(&v, version_end);
        let target = match field {
            ReqField::Imprint => {
                let (_, alg_end) = der_tlv(&v, imprint);
                der_tlv(&v, alg_end).1 - 1
            }
            ReqField::Nonce => {
                let mut at = imprint_end;
                while v[at] != 0x02 {
                    at = der_tlv(&v, at).1;
                }
                der_tlv(&v, at).1 - 1
            }
        };
        v[target] ^= 0x01;
        v
    })
}

#[test]
fn a_tsa_timestamping_other_data_or_another_nonce_is_refused() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    let tsa = stack.tsa_url();
    let rest = tsa.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let keep: Rewrite = Arc::new(|b: &[u8]| b.to_vec());
    for (lie, why) in [
        (flip_in_request(ReqField::Imprint), "other data"),
        (flip_in_request(ReqField::Nonce), "nonce"),
    ] {
        let proxy = lying_proxy(&format!("http://{host}"), lie, keep.clone());
        let sc = signing_config_with(&stack, "tsaUrls", &format!("{proxy}{path}"), dir.path());
        let r = sign_via(&stack, &sc, &bundle, &file).code(1);
        assert!(
            r.stderr.contains("TSA at") && r.stderr.contains(why),
            "{why}: {r:#?}"
        );
        assert!(!bundle.exists());
    }
}

#[test]
fn vouch_signs_a_statement_keylessly_in_a_dsse_bundle() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let email = "alice@example.test";
    let (file, bundle, b) =
        library_signed_statement(&stack, &stack.trust_config(), dir.path(), email);
    assert_eq!(
        b["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
    assert!(b["dsseEnvelope"]["payload"].is_string());
    // vouch (the statement names the file) and sigstore-python accept it.
    let r = vouch_verify(&stack, &bundle, email, &file).ok();
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["verified"], true);
    let r = python_verify(&stack, &bundle, email, &file);
    assert_eq!(
        r.code, 0,
        "sigstore-python refused vouch's DSSE bundle: {r:#?}"
    );
    // Another file: not the statement's subject.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"other\n").unwrap();
    vouch_verify(&stack, &bundle, email, &other).code(1);
}

#[test]
fn fulcio_or_a_tsa_down_is_exit_3_naming_it() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    for (kind, name) in [("caUrls", "Fulcio at"), ("tsaUrls", "TSA at")] {
        let sc = signing_config_with(&stack, kind, "http://127.0.0.1:9", dir.path());
        let r = sign_via(&stack, &sc, &bundle, &file).code(3);
        assert!(
            r.stderr.contains(&format!("{name} http://127.0.0.1:9")),
            "{r:#?}"
        );
        assert!(!bundle.exists());
    }
}

/// A server that accepts connections and reads requests but never answers (a hung service).
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn); // kept open, never written to
        }
    });
    url
}

#[test]
fn a_service_that_never_answers_times_out_naming_it() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.sigstore.json");
    let silent = silent_server();
    let tsa_path = {
        let tsa = stack.tsa_url();
        let rest = tsa.strip_prefix("http://").unwrap();
        rest[rest.find('/').unwrap()..].to_owned()
    };
    for (kind, url, name) in [
        ("caUrls", silent.clone(), "Fulcio at"),
        ("tsaUrls", format!("{silent}{tsa_path}"), "TSA at"),
        ("rekorTlogUrls", silent.clone(), "Rekor at"),
    ] {
        let sc = signing_config_with(&stack, kind, &url, dir.path());
        let token = stack.email_token("alice@example.test");
        let mut cmd = vouch();
        no_proxy(&mut cmd)
            .arg("sign-blob")
            .arg("--identity-token")
            .arg(&token)
            .arg("--signing-config")
            .arg(&sc)
            .arg("--trusted-root")
            .arg(stack.trusted_root())
            .arg("--service-timeout")
            .arg("1")
            .arg("--bundle")
            .arg(&bundle)
            .arg(&file);
        let r = run(&mut cmd).code(3);
        assert!(r.stderr.contains(name), "{kind}: {r:#?}");
        assert!(!bundle.exists(), "{kind}: a bundle was written");
    }
}

/// vouch signs an in-toto statement about a fresh artifact in `dir` keylessly, through the
/// library (`vouch_verify::keyless::sign_statement`), for `email` with `trust_config`; the
/// bundle is written to `dir`. Returns (the artifact, the bundle file, the bundle).
pub(crate) fn library_signed_statement(
    stack: &SigstoreStack,
    trust_config: &Path,
    dir: &Path,
    email: &str,
) -> (PathBuf, PathBuf, Value) {
    use vouch_core::digest::Sha256Digest;
    use vouch_core::sigstore::http::HttpLimits;
    use vouch_core::sigstore::oidc::find_token;
    use vouch_core::sigstore::signing_config::ClientTrustConfig;
    use vouch_verify::keyless::{KeylessContext, sign_statement};

    let file = artifact(dir);
    let digest = Sha256Digest::of(&std::fs::read(&file).unwrap());
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "artifact.txt", "digest": {"sha256": digest.hex()}}],
        "predicateType": "https://example.test/predicate/v1",
        "predicate": {"built": true},
    })
    .to_string();
    let token = stack.email_token(email);
    let tc = ClientTrustConfig::parse(&std::fs::read(trust_config).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let signed = rt
        .block_on(async {
            let token = find_token(Some(&token), |_| None, &HttpLimits::DEFAULT).await?;
            let ctx = KeylessContext {
                trusted_root: &tc.trusted_root,
                signing_config: &tc.signing_config,
                http: HttpLimits::DEFAULT,
            };
            anyhow::Ok(sign_statement(statement.as_bytes(), &digest.into(), &token, &ctx).await?)
        })
        .unwrap();
    assert_eq!(signed.identity().unwrap().san, email);
    let bundle = dir.join("statement.sigstore.json");
    std::fs::write(&bundle, signed.bytes()).unwrap();
    let b: Value = serde_json::from_slice(signed.bytes()).unwrap();
    (file, bundle, b)
}
