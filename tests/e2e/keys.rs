//! Key commands: generate, import, public-key; passwords, permissions, overwriting.

use std::fs;
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

use crate::support::{self, run, vouch, vouch_in};

fn cosign_vector(rel: &str) -> std::path::PathBuf {
    support::vectors()
        .join("more/03-cosign-sigstore-artifacts")
        .join(rel)
}

#[test]
fn generate_writes_0600_key_and_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = vouch_in(dir.path(), Some("pw"), ["generate-key-pair"]).ok();
    assert!(
        out.stderr.contains("Private key written to vouch.key"),
        "{out:?}"
    );
    let key = dir.path().join("vouch.key");
    let text = fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    #[cfg(unix)]
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let public = fs::read_to_string(dir.path().join("vouch.pub")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    // public-key derives the same public key from the encrypted private key.
    let out = vouch_in(dir.path(), Some("pw"), ["public-key", "--key", "vouch.key"]).ok();
    assert_eq!(out.stdout, public);
}

#[test]
fn never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["generate-key-pair", "--output-key-prefix", "k"];
    vouch_in(dir.path(), Some("pw"), args).ok();
    let before = fs::read(dir.path().join("k.key")).unwrap();
    let out = vouch_in(dir.path(), Some("pw"), args).code(2);
    assert!(
        out.stderr.contains("k.key already exists; pass --force"),
        "{out:?}"
    );
    assert_eq!(fs::read(dir.path().join("k.key")).unwrap(), before);
    // Only the .pub exists: still nothing is written.
    fs::remove_file(dir.path().join("k.key")).unwrap();
    let out = vouch_in(dir.path(), Some("pw"), args).code(2);
    assert!(out.stderr.contains("k.pub already exists"), "{out:?}");
    assert!(!dir.path().join("k.key").exists());
    // --force replaces both, and the new key is 0600 too.
    vouch_in(
        dir.path(),
        Some("pw"),
        ["generate-key-pair", "--output-key-prefix", "k", "--force"],
    )
    .ok();
    #[cfg(unix)]
    assert_eq!(
        fs::metadata(dir.path().join("k.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn wrong_password_is_input_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    vouch_in(dir.path(), Some("right"), ["generate-key-pair"]).ok();
    fs::write(dir.path().join("f"), b"data").unwrap();
    for args in [
        vec!["sign-blob", "--key", "vouch.key", "f"],
        vec!["public-key", "--key", "vouch.key"],
    ] {
        let out = vouch_in(dir.path(), Some("wrong"), &args).code(2);
        assert!(
            out.stderr.contains("vouch.key") && out.stderr.contains("wrong password"),
            "{out:?}"
        );
        assert!(!out.stderr.contains("panicked"), "{out:?}");
    }
}

#[test]
fn password_sources() {
    let dir = tempfile::tempdir().unwrap();
    // COSIGN_PASSWORD is read when VOUCH_PASSWORD is unset; VOUCH_PASSWORD wins when both are.
    let mut cmd = vouch();
    cmd.current_dir(dir.path())
        .env("COSIGN_PASSWORD", "cosign-pw")
        .args(["generate-key-pair"]);
    run(&mut cmd).ok();
    let mut cmd = vouch();
    cmd.current_dir(dir.path())
        .env("COSIGN_PASSWORD", "cosign-pw")
        .args(["public-key", "--key", "vouch.key"]);
    run(&mut cmd).ok();
    let mut cmd = vouch();
    cmd.current_dir(dir.path())
        .env("VOUCH_PASSWORD", "other")
        .env("COSIGN_PASSWORD", "cosign-pw")
        .args(["public-key", "--key", "vouch.key"]);
    run(&mut cmd).code(2);
    // No variable and no terminal: a clear input error, not a hang.
    let out = vouch_in(dir.path(), None, ["public-key", "--key", "vouch.key"]).code(2);
    assert!(out.stderr.contains("VOUCH_PASSWORD"), "{out:?}");
    // An explicitly empty variable is an empty password.
    vouch_in(
        dir.path(),
        Some(""),
        ["generate-key-pair", "--output-key-prefix", "empty"],
    )
    .ok();
    vouch_in(dir.path(), Some(""), ["public-key", "--key", "empty.key"]).ok();
    vouch_in(dir.path(), Some("x"), ["public-key", "--key", "empty.key"]).code(2);
}

#[test]
fn import_pkcs8_and_sec1() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["validecp256.pem", "validecpkcs8.pem"].iter().enumerate() {
        let src = cosign_vector(&format!("cosign/keys_test_go/{name}"));
        let prefix = format!("imp{i}");
        let out = vouch_in(
            dir.path(),
            Some("pw"),
            [
                "import-key-pair".as_ref(),
                "--key".as_ref(),
                src.as_os_str(),
                "--output-key-prefix".as_ref(),
                prefix.as_ref(),
            ],
        )
        .ok();
        assert!(out.stderr.contains(&format!("{prefix}.key")));
        let key = dir.path().join(format!("{prefix}.key"));
        #[cfg(unix)]
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let pubkey = fs::read_to_string(dir.path().join(format!("{prefix}.pub"))).unwrap();
        let out = vouch_in(
            dir.path(),
            Some("pw"),
            ["public-key".as_ref(), "--key".as_ref(), key.as_os_str()],
        )
        .ok();
        assert_eq!(out.stdout, pubkey);
    }
}

#[test]
fn import_rejects_other_key_types_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, expect) in [
        ("invalidecp224.pem", "ECDSA P-224"),
        ("invalidrsasmallkey.pem", "RSA"),
        ("invalidrsalargekey.pem", "RSA-5120"),
        ("invalidkey.pem", "PGP PRIVATE KEY BLOCK"),
        ("invalidrsawithpubkey.pem", "PUBLIC KEY"),
    ] {
        let src = cosign_vector(&format!("cosign/keys_test_go/{name}"));
        let out = vouch_in(
            dir.path(),
            Some("pw"),
            [
                "import-key-pair".as_ref(),
                "--key".as_ref(),
                src.as_os_str(),
            ],
        )
        .code(2);
        assert!(out.stderr.contains(expect), "{name}: {out:?}");
        assert!(out.stderr.contains(name), "names the file: {out:?}");
    }
    assert!(!dir.path().join("import-vouch.key").exists());
}

#[test]
fn reads_real_cosign_key_files() {
    let dir = tempfile::tempdir().unwrap();
    // sigstore-rs's key (ENCRYPTED COSIGN PRIVATE KEY, N=32768, password 123).
    let key = cosign_vector("sigstore-rs/keys/ecdsa_encrypted_private.key");
    let out = vouch_in(
        dir.path(),
        Some("123"),
        ["public-key".as_ref(), "--key".as_ref(), key.as_os_str()],
    )
    .ok();
    assert!(out.stdout.starts_with("-----BEGIN PUBLIC KEY-----"));
    // cosign's own test key whose plaintext is SEC1: rejected as cosign rejects it.
    let key = cosign_vector("cosign/keys_test_go/pemcosigneckey.key");
    let out = vouch_in(
        dir.path(),
        Some("hello"),
        ["public-key".as_ref(), "--key".as_ref(), key.as_os_str()],
    )
    .code(2);
    assert!(out.stderr.contains("not PKCS#8"), "{out:?}");
}

#[test]
fn help_lists_exit_codes() {
    let out = run(vouch().arg("--help")).ok();
    for line in [
        "0  success",
        "1  verification or policy failure",
        "2  usage or input error",
        "3  registry or network error",
    ] {
        assert!(out.stdout.contains(line), "{line}: {}", out.stdout);
    }
    run(vouch().arg("no-such-command")).code(2);
}

/// Runs vouch under a pseudo-terminal (util-linux `script`), typing `input` at its prompts.
fn vouch_on_tty(dir: &std::path::Path, args: &str, input: &str) -> crate::support::Run {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let cmdline = format!("{} {args}", env!("CARGO_BIN_EXE_vouch"));
    let mut child = Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .current_dir(dir)
        .env_remove("VOUCH_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs vouch on a pseudo-terminal");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    crate::support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn terminal_prompt_asks_twice_and_refuses_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = vouch_on_tty(dir.path(), "generate-key-pair", "typed-pw\ntyped-pw\n").ok();
    assert!(out.stdout.contains("again"), "asked twice: {out:?}");
    // The typed password encrypted the key.
    vouch_in(
        dir.path(),
        Some("typed-pw"),
        ["public-key", "--key", "vouch.key"],
    )
    .ok();
    // Typed once to decrypt.
    let out = vouch_on_tty(dir.path(), "public-key --key vouch.key", "typed-pw\n").ok();
    assert!(out.stdout.contains("-----BEGIN PUBLIC KEY-----"), "{out:?}");
    // Two different passwords, or an empty one: nothing is written.
    let out = vouch_on_tty(
        dir.path(),
        "generate-key-pair --output-key-prefix differ",
        "one\ntwo\n",
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("differ"), "{out:?}");
    let out = vouch_on_tty(
        dir.path(),
        "generate-key-pair --output-key-prefix empty",
        "\n\n",
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("VOUCH_PASSWORD=\"\""), "{out:?}");
    assert!(!dir.path().join("differ.key").exists() && !dir.path().join("empty.key").exists());
}

fn import(dir: &std::path::Path, name: &str, prefix: &str) {
    let src = cosign_vector(&format!("cosign/keys_test_go/{name}"));
    vouch_in(
        dir,
        Some("pw"),
        [
            "import-key-pair".as_ref(),
            "--key".as_ref(),
            src.as_os_str(),
            "--output-key-prefix".as_ref(),
            prefix.as_ref(),
        ],
    )
    .ok();
}

/// The independent check: Python's `cryptography` verifies a detached signature as cosign signs
/// with each key type (P-384 over SHA-384, P-521 over SHA-512, RSA PKCS#1 v1.5 over SHA-256,
/// Ed25519 over the file itself).
const PY_CHECK: &str = r#"
import base64, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
pub = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
sig = base64.b64decode(open(sys.argv[2], "rb").read())
data = open(sys.argv[3], "rb").read()
if isinstance(pub, ed25519.Ed25519PublicKey):
    pub.verify(sig, data)
elif isinstance(pub, rsa.RSAPublicKey):
    pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
else:
    h = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[pub.curve.key_size]
    pub.verify(sig, data, ec.ECDSA(h))
print("ok", type(pub).__name__)
"#;

/// cosign's import vectors of every key type: imported, then sign-blob → verify-blob (detached
/// and bundle), tampering caught, and the detached signature checked by Python's `cryptography`.
#[test]
fn imported_keys_of_every_type_sign_and_verify_blobs() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), b"a file to sign\n").unwrap();
    fs::write(dir.path().join("g"), b"another file\n").unwrap();
    for (name, hash) in [
        ("validrsa.pem", Some("SHA2_256")),
        ("validrsapkcs1.pem", Some("SHA2_256")),
        ("validrsapkcs8.pem", Some("SHA2_256")),
        ("validecp384.pem", Some("SHA2_384")),
        ("validecp521.pem", Some("SHA2_512")),
        ("ed25519key.pem", None),
    ] {
        let prefix = name.trim_end_matches(".pem");
        import(dir.path(), name, prefix);
        let key = format!("{prefix}.key");
        let public = format!("{prefix}.pub");
        let (sig, bundle) = (format!("{prefix}.sig"), format!("{prefix}.bundle"));
        vouch_in(
            dir.path(),
            Some("pw"),
            [
                "sign-blob",
                "--key",
                &key,
                "--output-signature",
                &sig,
                "--bundle",
                &bundle,
                "f",
            ],
        )
        .ok();
        let doc: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(&bundle)).unwrap()).unwrap();
        let digest = &doc["messageSignature"]["messageDigest"];
        match hash {
            Some(h) => assert_eq!(digest["algorithm"], h, "{name}"),
            // As cosign's sign-blob (protojson of an unset digest) writes it for pure Ed25519.
            None => assert_eq!(digest, &serde_json::json!({}), "{name}"),
        }
        for form in ["--signature", "--bundle"] {
            let with = if form == "--signature" { &sig } else { &bundle };
            vouch_in(
                dir.path(),
                None,
                ["verify-blob", "--key", &public, form, with, "f"],
            )
            .ok();
            let out = vouch_in(
                dir.path(),
                None,
                ["verify-blob", "--key", &public, form, with, "g"],
            )
            .code(1);
            assert!(!out.stderr.is_empty(), "{name} {form}");
        }
        let out = run(std::process::Command::new(support::python())
            .args(["-c", PY_CHECK, &public, &sig, "f"])
            .current_dir(dir.path()));
        assert!(out.stdout.starts_with("ok"), "{name}: {out:?}");
    }
}

/// An image in an OCI layout signed with an imported RSA key (both formats) verifies; an Ed25519
/// key is refused for images (cosign signs images with Ed25519ph) with a clear message.
#[test]
fn imported_rsa_key_signs_an_image_and_ed25519_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), "validrsa.pem", "rsa");
    import(dir.path(), "ed25519key.pem", "ed");
    let layout = dir.path().join("layout");
    crate::support::image::layout_image(&layout, "v1");
    let r = format!("oci:{}:v1", layout.display());
    for format in ["bundle", "legacy"] {
        vouch_in(
            dir.path(),
            Some("pw"),
            ["sign", "--key", "rsa.key", "--format", format, &r],
        )
        .ok();
    }
    let out = vouch_in(
        dir.path(),
        None,
        ["verify", "--key", "rsa.pub", "--output", "json", &r],
    )
    .ok();
    assert!(out.stdout.contains("\"verified\""), "{out:?}");
    let out = vouch_in(dir.path(), Some("pw"), ["sign", "--key", "ed.key", &r]).code(2);
    assert!(out.stderr.contains("Ed25519ph"), "{out:?}");
}
