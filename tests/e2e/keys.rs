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
        ("validecp384.pem", "ECDSA P-384"),
        ("invalidecp224.pem", "ECDSA P-224"),
        ("ed25519key.pem", "Ed25519"),
        ("validrsa.pem", "RSA"),
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
