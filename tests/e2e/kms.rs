//! Keys that never leave their vault: `sign-blob --key REF`, `public-key --key REF` and
//! `generate-key-pair --kms REF` against a SoftHSM2 token, OpenBao transit and moto's KMS
//! (support/kms.rs); every signature is checked by `verify-blob` and by the independent Python
//! checker (keys-test/cosign_keys.py, pyca/cryptography). Faults: wrong PIN, missing token or
//! key, RSA key where P-256 is expected, service down, permission denied — each with its exit
//! code and message, and no PIN, token or secret key in any output.

use std::path::Path;
use std::process::Command;

use sha2::Digest as _;

use crate::support::kms::{AccessKey, BAO_ROOT_TOKEN, Bao, Moto, PKCS11_PIN, SoftHsm};
use crate::support::{Run, py_cosign, run, vouch};

/// `vouch` in `dir` with HOME there and no key-service settings from the environment.
fn kms_vouch(dir: &Path) -> Command {
    let mut cmd = vouch();
    cmd.current_dir(dir).env("HOME", dir);
    for var in [
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_NAMESPACE",
        "TRANSIT_SECRET_ENGINE_PATH",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_SHARED_CREDENTIALS_FILE",
        "VOUCH_PKCS11_PIN",
        "VOUCH_PKCS11_MODULE",
        "COSIGN_PKCS11_PIN",
        "COSIGN_PKCS11_MODULE_PATH",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[track_caller]
fn no_secret(r: &Run, secret: &str) {
    assert!(
        !r.stdout.contains(secret) && !r.stderr.contains(secret),
        "a secret was printed: {r:#?}"
    );
}

#[track_caller]
fn failed(r: Run, code: i32, message: &str, secret: &str) {
    no_secret(&r, secret);
    let r = r.code(code);
    assert!(r.stderr.contains(message), "expected {message:?} in {r:#?}");
}

/// Signs `blob` with `reference` (detached signature and bundle), then checks the signature
/// with `verify-blob` (both forms) and the Python checker against `public` (a PEM file).
fn sign_and_check(
    dir: &Path,
    setup: &dyn Fn(&mut Command),
    reference: &str,
    public: &Path,
    secret: &str,
) {
    let blob = dir.join("blob.bin");
    std::fs::write(&blob, b"a release artifact\n".repeat(1000)).unwrap();
    let mut cmd = kms_vouch(dir);
    setup(&mut cmd);
    let r = run(cmd.args([
        "sign-blob",
        "--key",
        reference,
        "--bundle",
        "blob.bundle",
        "--output-signature",
        "blob.sig",
        "blob.bin",
    ]));
    no_secret(&r, secret);
    r.ok();
    for form in [["--signature", "blob.sig"], ["--bundle", "blob.bundle"]] {
        let r = run(kms_vouch(dir)
            .args(["verify-blob", "--key"])
            .arg(public)
            .args(form)
            .arg("blob.bin"));
        r.ok();
    }
    run(py_cosign()
        .arg("verify")
        .arg(public)
        .arg(dir.join("blob.sig"))
        .arg(&blob))
    .ok();
}

fn public_key(dir: &Path, setup: &dyn Fn(&mut Command), reference: &str, out: &str) -> String {
    let mut cmd = kms_vouch(dir);
    setup(&mut cmd);
    let r = run(cmd.args(["public-key", "--key", reference, "--outfile", out])).ok();
    assert!(r.stderr.contains("Public key written"), "{r:#?}");
    let pem = std::fs::read_to_string(dir.join(out)).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    pem
}

#[test]
fn pkcs11_softhsm_signs_and_verifies() {
    let hsm = SoftHsm::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let with_pin = |c: &mut Command| {
        hsm.env(c).env("VOUCH_PKCS11_PIN", PKCS11_PIN);
    };
    let by_label = hsm.uri("object=signer");
    let pem = public_key(d, &with_pin, &by_label, "hsm.pub");
    sign_and_check(d, &with_pin, &by_label, &d.join("hsm.pub"), PKCS11_PIN);
    // By id, the PIN in the URI (RFC 7512 pin-value): same key, and the PIN is never echoed.
    let by_id = format!("{}&pin-value={PKCS11_PIN}", hsm.uri("id=%01"));
    let env_only = |c: &mut Command| {
        hsm.env(c);
    };
    assert_eq!(public_key(d, &env_only, &by_id, "hsm-id.pub"), pem);
    sign_and_check(d, &env_only, &by_id, &d.join("hsm.pub"), PKCS11_PIN);
}

#[test]
fn pkcs11_faults_are_named_without_the_pin() {
    let hsm = SoftHsm::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"x").unwrap();
    let sign = |uri: &str, pin: Option<&str>| {
        let mut cmd = kms_vouch(d);
        hsm.env(&mut cmd);
        if let Some(pin) = pin {
            cmd.env("VOUCH_PKCS11_PIN", pin);
        }
        run(cmd.args(["sign-blob", "--key", uri, "f"]))
    };
    let wrong = "wrong-pin-8080";
    failed(
        sign(&hsm.uri("object=signer"), Some(wrong)),
        2,
        "refused the PIN",
        wrong,
    );
    failed(
        sign(&hsm.uri("object=signer"), None),
        2,
        "needs its user PIN",
        PKCS11_PIN,
    );
    failed(
        sign(
            &hsm.uri("object=signer")
                .replace("vouch-test", "no-such-token"),
            Some(PKCS11_PIN),
        ),
        2,
        "no PKCS#11 token \"no-such-token\"",
        PKCS11_PIN,
    );
    failed(
        sign(&hsm.uri("object=absent"), Some(PKCS11_PIN)),
        2,
        "no key object=absent",
        PKCS11_PIN,
    );
    failed(
        sign(&hsm.uri("object=rsa"), Some(PKCS11_PIN)),
        2,
        "expected an ECDSA P-256",
        PKCS11_PIN,
    );
    failed(
        sign(
            "pkcs11:token=vouch-test;object=signer?module-path=/nonexistent/module.so",
            Some(PKCS11_PIN),
        ),
        2,
        "cannot load the PKCS#11 module",
        PKCS11_PIN,
    );
}

fn vault_env<'a>(addr: &'a str, token: &'a str) -> impl Fn(&mut Command) + 'a {
    move |c: &mut Command| {
        c.env("VAULT_ADDR", addr).env("VAULT_TOKEN", token);
    }
}

#[test]
fn vault_transit_generates_signs_and_verifies() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = vault_env(&bao.addr, BAO_ROOT_TOKEN);
    // An existing key (made by bao).
    public_key(d, &env, "hashivault://signer", "signer.pub");
    sign_and_check(
        d,
        &env,
        "hashivault://signer",
        &d.join("signer.pub"),
        BAO_ROOT_TOKEN,
    );
    // A key vouch creates, as cosign generate-key-pair --kms does.
    let mut cmd = kms_vouch(d);
    env(&mut cmd);
    let r = run(cmd.args([
        "generate-key-pair",
        "--kms",
        "hashivault://made-by-vouch",
        "--output-key-prefix",
        "made",
    ]));
    no_secret(&r, BAO_ROOT_TOKEN);
    r.ok();
    let info = bao.cli(&["read", "-format=json", "transit/keys/made-by-vouch"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["data"]["type"], "ecdsa-p256");
    assert_eq!(
        public_key(d, &env, "hashivault://made-by-vouch", "again.pub"),
        std::fs::read_to_string(d.join("made.pub")).unwrap()
    );
    sign_and_check(
        d,
        &env,
        "hashivault://made-by-vouch",
        &d.join("made.pub"),
        BAO_ROOT_TOKEN,
    );
    // TRANSIT_SECRET_ENGINE_PATH names another mount.
    assert!(
        bao.cli(&["secrets", "enable", "-path=release-transit", "transit"])
            .status
            .success()
    );
    let with_path = |c: &mut Command| {
        env(c);
        c.env("TRANSIT_SECRET_ENGINE_PATH", "release-transit");
    };
    let mut cmd = kms_vouch(d);
    with_path(&mut cmd);
    run(cmd.args([
        "generate-key-pair",
        "--kms",
        "hashivault://other",
        "--output-key-prefix",
        "other",
    ]))
    .ok();
    sign_and_check(
        d,
        &with_path,
        "hashivault://other",
        &d.join("other.pub"),
        BAO_ROOT_TOKEN,
    );
}

#[test]
fn vault_faults_are_named_without_the_token() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"x").unwrap();
    let sign = |addr: &str, token: &str, key: &str| {
        let mut cmd = kms_vouch(d);
        vault_env(addr, token)(&mut cmd);
        run(cmd.args(["sign-blob", "--key", key, "f"]))
    };
    failed(
        sign(&bao.addr, BAO_ROOT_TOKEN, "hashivault://rsa"),
        2,
        "is rsa-2048, expected an ECDSA P-256",
        BAO_ROOT_TOKEN,
    );
    failed(
        sign(&bao.addr, BAO_ROOT_TOKEN, "hashivault://absent"),
        2,
        "no key transit/keys/absent",
        BAO_ROOT_TOKEN,
    );
    let weak = bao.unprivileged_token();
    failed(
        sign(&bao.addr, &weak, "hashivault://signer"),
        2,
        "denied",
        &weak,
    );
    let bogus = "hvs.bogus-token-never-printed";
    failed(
        sign(&bao.addr, bogus, "hashivault://signer"),
        2,
        "check VAULT_TOKEN",
        bogus,
    );
    let closed = format!("http://127.0.0.1:{}", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    failed(
        sign(&closed, BAO_ROOT_TOKEN, "hashivault://signer"),
        3,
        "cannot be reached",
        BAO_ROOT_TOKEN,
    );
    // No VAULT_ADDR: what to set.
    let r = run(kms_vouch(d).args(["sign-blob", "--key", "hashivault://signer", "f"]));
    failed(r, 2, "VAULT_ADDR", BAO_ROOT_TOKEN);
}

fn aws_env<'a>(endpoint: &'a str, key: &'a AccessKey) -> impl Fn(&mut Command) + 'a {
    move |c: &mut Command| {
        c.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", &key.id)
            .env("AWS_SECRET_ACCESS_KEY", &key.secret);
    }
}

#[test]
fn aws_kms_generates_signs_digests_and_verifies() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = aws_env(&moto.endpoint, &moto.signer);
    let secret = moto.signer.secret.as_str();
    let mut cmd = kms_vouch(d);
    env(&mut cmd);
    let r = run(cmd.args(["generate-key-pair", "--kms", "awskms:///alias/release"]));
    no_secret(&r, secret);
    let r = r.ok();
    assert!(r.stdout.starts_with("-----BEGIN PUBLIC KEY-----"), "{r:#?}");
    std::fs::write(d.join("release.pub"), &r.stdout).unwrap();
    sign_and_check(
        d,
        &env,
        "awskms:///alias/release",
        &d.join("release.pub"),
        secret,
    );
    // What vouch sent: the file's SHA-256 digest, as a DIGEST, never the file.
    let digest = hex::encode(sha2::Sha256::digest(
        std::fs::read(d.join("blob.bin")).unwrap(),
    ));
    let requests = moto.sign_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["MessageType"], "DIGEST");
    assert_eq!(requests[0]["SigningAlgorithm"], "ECDSA_SHA_256");
    assert_eq!(requests[0]["Message"], digest.as_str());
    // generate-key-pair again keeps the key; the credentials file works too.
    std::fs::create_dir(d.join(".aws")).unwrap();
    std::fs::write(
        d.join(".aws/credentials"),
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {secret}\n",
            moto.signer.id
        ),
    )
    .unwrap();
    let from_file = |c: &mut Command| {
        c.env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_REGION", "us-east-1");
    };
    let mut cmd = kms_vouch(d);
    from_file(&mut cmd);
    let again = run(cmd.args(["generate-key-pair", "--kms", "awskms:///alias/release"])).ok();
    assert_eq!(again.stdout, r.stdout);
    assert_eq!(
        public_key(d, &from_file, "awskms:///alias/release", "file.pub"),
        r.stdout
    );
}

#[test]
fn aws_kms_faults_are_named_without_the_secret() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"x").unwrap();
    let secret = moto.signer.secret.as_str();
    let sign = |endpoint: &str, key: &str| {
        let mut cmd = kms_vouch(d);
        aws_env(endpoint, &moto.signer)(&mut cmd);
        run(cmd.args(["sign-blob", "--key", key, "f"]))
    };
    failed(
        sign(&moto.endpoint, "awskms:///alias/rsa-key"),
        2,
        "is RSA, expected an ECDSA P-256",
        secret,
    );
    failed(
        sign(&moto.endpoint, "awskms:///alias/absent"),
        2,
        "no key alias/absent",
        secret,
    );
    let closed = format!("http://127.0.0.1:{}", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    failed(
        sign(&closed, "awskms:///alias/absent"),
        3,
        "cannot be reached",
        secret,
    );
    // No credentials anywhere, no region: what to set.
    let r = run(kms_vouch(d).env("AWS_REGION", "us-east-1").args([
        "sign-blob",
        "--key",
        "awskms:///alias/x",
        "f",
    ]));
    failed(r, 2, "AWS_ACCESS_KEY_ID", secret);
    let r = run(kms_vouch(d).args(["sign-blob", "--key", "awskms:///alias/x", "f"]));
    failed(r, 2, "AWS_REGION", secret);
    // Permission denied (a user without kms: policies), and a wrong secret (the SigV4
    // signature does not match): both name the credentials to check; neither prints a secret.
    let mut cmd = kms_vouch(d);
    aws_env(&moto.endpoint, &moto.nobody)(&mut cmd);
    let r = run(cmd.args(["generate-key-pair", "--kms", "awskms:///alias/denied"]));
    failed(r, 2, "AccessDenied", &moto.nobody.secret);
    let wrong = AccessKey {
        id: moto.signer.id.clone(),
        secret: "wrong-secret-never-printed".into(),
    };
    let mut cmd = kms_vouch(d);
    aws_env(&moto.endpoint, &wrong)(&mut cmd);
    let r = run(cmd.args(["sign-blob", "--key", "awskms:///alias/rsa-key", "f"]));
    failed(r, 2, "SignatureDoesNotMatch", &wrong.secret);
    // A key id cannot be chosen: generate-key-pair wants an alias.
    let mut cmd = kms_vouch(d);
    aws_env(&moto.endpoint, &moto.signer)(&mut cmd);
    let r = run(cmd.args([
        "generate-key-pair",
        "--kms",
        "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
    ]));
    failed(r, 2, "alias", secret);
}

#[test]
fn unsupported_and_malformed_references() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"x").unwrap();
    for (reference, message) in [
        (
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "gcpkms:// keys are not supported yet",
        ),
        (
            "azurekms://vault.vault.azure.net/key",
            "azurekms:// keys are not supported yet",
        ),
        ("hashivault://a/b", "expected hashivault://KEY"),
        ("pkcs11:object=x", "name the token"),
    ] {
        let r = run(kms_vouch(d).args(["sign-blob", "--key", reference, "f"]));
        failed(r, 2, message, "\u{0}");
        let r = run(kms_vouch(d).args(["public-key", "--key", reference]));
        failed(r, 2, message, "\u{0}");
    }
}

/// `vouch sign` and `vouch attest` with keys in a token and in key services (OpenBao, AWS KMS),
/// in both storage formats; `vouch verify` / `verify-attestation` accept them with the exported public keys, and
/// the Python peer verifies the legacy signatures; `promote --attest-key` with the token's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_sign_and_attest_with_remote_keys() {
    use crate::support::image::{client, push_image};
    use crate::support::registry::Registry;

    let reg = Registry::start();
    let hsm = SoftHsm::new();
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let digest = push_image(&client(), &reg.host(), "kms/app", "v1").await;
    let image = format!("{}/kms/app@{digest}", reg.host());
    let hsm_env = |c: &mut Command| {
        hsm.env(c).env("VOUCH_PKCS11_PIN", PKCS11_PIN);
    };
    let bao_env = vault_env(&bao.addr, BAO_ROOT_TOKEN);
    let hsm_ref = hsm.uri("object=signer");
    public_key(d, &hsm_env, &hsm_ref, "hsm.pub");
    public_key(d, &bao_env, "hashivault://signer", "bao.pub");
    let moto = Moto::start();
    let aws_env = aws_env(&moto.endpoint, &moto.signer);
    let mut cmd = kms_vouch(d);
    aws_env(&mut cmd);
    let r = run(cmd.args(["generate-key-pair", "--kms", "awskms:///alias/images"])).ok();
    std::fs::write(d.join("aws.pub"), &r.stdout).unwrap();
    std::fs::write(d.join("predicate.json"), br#"{"built-by":"kms test"}"#).unwrap();
    type Setup<'a> = &'a dyn Fn(&mut Command);
    let keys: [(Setup, &str, &str, &str); 3] = [
        (&hsm_env, hsm_ref.as_str(), "hsm.pub", PKCS11_PIN),
        (&bao_env, "hashivault://signer", "bao.pub", BAO_ROOT_TOKEN),
        (
            &aws_env,
            "awskms:///alias/images",
            "aws.pub",
            moto.signer.secret.as_str(),
        ),
    ];
    for (setup, reference, public, secret) in keys {
        for format in ["bundle", "legacy"] {
            let mut cmd = kms_vouch(d);
            setup(&mut cmd);
            let r = run(cmd.args(["sign", "--format", format, "--key", reference, &image]));
            no_secret(&r, secret);
            r.ok();
            let mut cmd = kms_vouch(d);
            setup(&mut cmd);
            let r = run(cmd.args([
                "attest",
                "--format",
                format,
                "--key",
                reference,
                "--predicate",
                "predicate.json",
                &image,
            ]));
            no_secret(&r, secret);
            r.ok();
        }
        run(kms_vouch(d).args(["verify", "--key", public, &image])).ok();
        run(kms_vouch(d).args(["verify-attestation", "--key", public, &image])).ok();
        run(py_cosign().current_dir(d).args([
            "verify-image",
            public,
            &reg.host(),
            "kms/app",
            &digest.to_string(),
        ]))
        .ok();
    }
    // promote --attest-key REF: the promotion record signed by the token's key.
    let prod = Registry::start();
    std::fs::write(
        d.join("policy.yaml"),
        "version: 1\nimages:\n  - match: \"127.0.0.1:*/**\"\n    signatures:\n      authorities: [{key: bao.pub}]\n",
    )
    .unwrap();
    let dst = format!("{}/prod/app:v1", prod.host());
    let mut cmd = kms_vouch(d);
    hsm_env(&mut cmd);
    let r = run(cmd.env("VOUCH_SETTLE_MS", "100").args([
        "promote",
        "--policy",
        "policy.yaml",
        "--attest-key",
        &hsm_ref,
        &image,
        &dst,
    ]));
    no_secret(&r, PKCS11_PIN);
    r.ok();
    run(kms_vouch(d).args([
        "verify-attestation",
        "--key",
        "hsm.pub",
        "--type",
        "https://vouch.dev/attestation/promotion/v1",
        &dst,
    ]))
    .ok();
}

/// No PIN in the URI nor the environment, at a terminal (util-linux `script` gives vouch a pty):
/// vouch asks for the token's user PIN without echoing it, and the key is read.
#[test]
fn pkcs11_pin_is_asked_for_at_a_terminal() {
    let hsm = SoftHsm::new();
    let uri = hsm.uri("object=signer");
    // A pty driven by Python's pty module: the PIN is typed only once the prompt is shown and the
    // terminal's echo is off, and everything the terminal shows is kept.
    const DRIVE: &str = r#"
import os, pty, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
typed = False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not typed and b"PIN" in seen:
        # The prompt is written before echo is turned off: type only once the terminal (whose
        # settings the master side reads) no longer echoes.
        waited = 0
        while termios.tcgetattr(fd)[3] & termios.ECHO and waited < 1000:
            time.sleep(0.01)
            waited += 1
        os.write(fd, os.environ["TEST_PIN"].encode() + b"\n")
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(DRIVE)
        .arg(env!("CARGO_BIN_EXE_vouch"))
        .args(["public-key", "--key", &uri])
        .env("TEST_PIN", PKCS11_PIN);
    hsm.env(&mut cmd)
        .env_remove("VOUCH_PKCS11_PIN")
        .env_remove("COSIGN_PKCS11_PIN");
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("Enter the user PIN of pkcs11:"), "{r:#?}");
    assert!(r.stdout.contains("BEGIN PUBLIC KEY"), "{r:#?}");
    assert!(!r.stdout.contains(PKCS11_PIN), "the PIN was echoed: {r:#?}");
    // Without a terminal: the usage error says how to give it.
    let mut cmd = vouch();
    hsm.env(&mut cmd)
        .env_remove("VOUCH_PKCS11_PIN")
        .env_remove("COSIGN_PKCS11_PIN")
        .args(["public-key", "--key", &uri]);
    let r = run(&mut cmd).code(2);
    assert!(r.stderr.contains("VOUCH_PKCS11_PIN"), "{r:#?}");
}
