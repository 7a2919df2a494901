//! The browser sign-in of keyless signing (issue 15): at a terminal with no identity token, vouch
//! runs OAuth 2.0 authorization code + PKCE against the local stack's OIDC issuer
//! (oauth2-mock-server, which checks the PKCE verifier and puts the request's nonce in the
//! id_token) with a loopback redirect. vouch gets a real terminal from util-linux `script`; the
//! "browser" is `$BROWSER`, a shell script that follows the sign-in URL with curl, as a browser
//! would (or tampers with it). Faults: a callback with another state, an error callback, a token
//! with another nonce, no callback at all — each a named error and no bundle.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::sigstore_stack::SigstoreStack;
use crate::support::{Run, python, run, vouch};

fn quote(s: &std::ffi::OsStr) -> String {
    format!("'{}'", s.to_str().unwrap().replace('\'', r"'\''"))
}

/// A `$BROWSER` script with `body` (the sign-in URL is `$1`).
fn browser(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\nset -e\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Follows the sign-in URL and its redirect to vouch's callback, as a browser does.
const FOLLOW: &str = r#"exec curl -sS -L --max-time 30 -o /dev/null "$1""#;

/// `vouch sign-blob` (keyless, no token anywhere) on a terminal, with `$BROWSER` = `browser`.
/// The terminal's output (stdout and stderr of vouch) is `Run::stdout`.
fn sign_at_terminal(
    stack: &SigstoreStack,
    browser: &Path,
    extra: &[&str],
    bundle: &Path,
    file: &Path,
) -> Run {
    let mut line: Vec<String> = vec![
        quote(Path::new(env!("CARGO_BIN_EXE_vouch")).as_os_str()),
        "sign-blob".into(),
        "--trust-config".into(),
        quote(stack.trust_config().as_os_str()),
        "--bundle".into(),
        quote(bundle.as_os_str()),
    ];
    line.extend(extra.iter().map(|a| quote(a.as_ref())));
    line.push(quote(file.as_os_str()));
    let mut cmd = Command::new("script");
    cmd.arg("-qec")
        .arg(line.join(" "))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .env("BROWSER", browser)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .env_remove("VOUCH_PASSWORD");
    let r = run(&mut cmd);
    // The terminal shows the sign-in URL (for a machine without a browser), never a token.
    assert!(
        r.stdout
            .contains(&format!("{}/authorize?", stack.oidc_issuer()))
            && r.stdout.contains("code_challenge_method=S256")
            && r.stdout.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"),
        "{r:#?}"
    );
    assert!(!r.stdout.contains("eyJ"), "a JWT on the terminal: {r:#?}");
    r
}

fn artifact(dir: &Path) -> PathBuf {
    let file = dir.join("artifact.txt");
    std::fs::write(&file, b"signed keylessly after a browser sign-in\n").unwrap();
    file
}

#[test]
fn browser_sign_in_at_a_terminal_signs_keylessly() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("artifact.sigstore.json");
    let b = browser(dir.path(), "browser", FOLLOW);
    let r = sign_at_terminal(&stack, &b, &[], &bundle, &file);
    assert_eq!(r.code, 0, "{r:#?}");
    let email = stack.browser_email();
    assert!(r.stdout.contains(&format!("Signed as {email}")), "{r:#?}");

    // The certificate is for the signed-in user, from the stack's issuer: vouch and
    // sigstore-python verify it for that identity, and refuse another.
    let verify = |identity: &str| {
        let mut cmd = vouch();
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .args(["verify-bundle", "--output", "json", "--bundle"])
            .arg(&bundle)
            .args(["--certificate-identity", identity])
            .args(["--certificate-oidc-issuer", stack.oidc_issuer()])
            .arg("--trusted-root")
            .arg(stack.trusted_root())
            .arg(&file);
        run(&mut cmd)
    };
    let out: Value = serde_json::from_str(&verify(email).ok().stdout).unwrap();
    assert_eq!(
        (&out["verified"], &out["identity"]),
        (&true.into(), &email.into())
    );
    verify("johndoe").code(1);
    let mut py = Command::new(python());
    py.args(["-m", "sigstore", "--trust-config"])
        .arg(stack.trust_config())
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(&bundle)
        .args(["--cert-identity", email])
        .args(["--cert-oidc-issuer", stack.oidc_issuer()])
        .arg(&file);
    let r = run(&mut py);
    assert_eq!(r.code, 0, "sigstore-python refused the bundle: {r:#?}");
}

#[test]
fn browser_sign_in_faults_are_named_and_write_nothing() {
    let stack = SigstoreStack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("artifact.sigstore.json");

    // The issuer's redirect to vouch, not followed: `$loc`, and its state `$st`.
    let redirect = r#"loc=$(curl -sS --max-time 30 -o /dev/null -w '%{redirect_url}' "$1")
st=$(printf %s "$loc" | sed -n 's/.*[?&]state=\([^&]*\).*/\1/p')
test -n "$st""#;
    let cases: [(&str, String, &[&str], i32, &str); 4] = [
        (
            "another state",
            format!(
                "{redirect}\nexec curl -sS -o /dev/null \"$(printf %s \"$loc\" | sed \
                 's/state=[^&]*/state=forged/')\""
            ),
            &[],
            2,
            "state that is not this sign-in's",
        ),
        (
            "an error callback",
            format!(
                "{redirect}\nexec curl -sS -o /dev/null \
                 \"${{loc%%\\?*}}?error=access_denied&error_description=the+user+declined&state=$st\""
            ),
            &[],
            2,
            "refused by the issuer: access_denied: the user declined",
        ),
        (
            // The authorization request goes out with another nonce: the id_token carries it.
            "another nonce",
            r#"exec curl -sS -L --max-time 30 -o /dev/null "$(printf %s "$1" | sed 's/nonce=[^&]*/nonce=replayed/')""#
                .to_owned(),
            &[],
            3,
            "does not carry this sign-in's nonce",
        ),
        (
            "no callback",
            "exit 0".to_owned(),
            &["--oidc-timeout", "1"],
            2,
            "no sign-in came back from the browser within 1 s",
        ),
    ];
    for (i, (what, body, extra, code, says)) in cases.iter().enumerate() {
        let b = browser(dir.path(), &format!("browser{i}"), body);
        let r = sign_at_terminal(&stack, &b, extra, &bundle, &file);
        assert_eq!(r.code, *code, "{what}: {r:#?}");
        assert!(r.stdout.contains(says), "{what}: {r:#?}");
        assert!(!bundle.exists(), "{what}: a bundle was written");
    }
}

/// Without a terminal, vouch does not start a sign-in: it says how to give a token.
#[test]
fn no_terminal_no_token_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let bundle = dir.path().join("b.json");
    let mut cmd = vouch();
    cmd.env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .env("BROWSER", "/bin/false")
        .arg("sign-blob")
        .arg("--bundle")
        .arg(&bundle)
        .arg(&file);
    let r = run(&mut cmd).code(2);
    assert!(
        r.stderr.contains("--identity-token") && r.stderr.contains("at a terminal"),
        "{r:#?}"
    );
    assert!(!bundle.exists());
}
