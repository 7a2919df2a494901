//! Shared helpers: running the binary, locating test data and peer tools.

pub mod fake_registry;
pub mod image;
pub mod kms;
pub mod notary;
pub mod proxy;
pub mod registry;
pub mod sigstore_stack;
pub mod tls;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The test vectors from outside the project, checked in under `tests/data/vectors` (their
/// origins and licences are in its MANIFEST.md).
pub fn vectors() -> PathBuf {
    workspace().join("tests/data/vectors")
}

/// A copy of the real cosign-saved layout (`cosign-layouts/slsa-generator-v1.10.0`, keyless
/// SLSA provenance) at `dir/name`, so tests may change it.
pub fn copy_slsa_layout(dir: &Path, name: &str) -> PathBuf {
    let src = vectors().join("cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch");
    let dst = dir.join(name);
    std::fs::create_dir_all(dst.join("blobs/sha256")).unwrap();
    for f in ["oci-layout", "index.json"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    for e in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join("blobs/sha256").join(e.file_name())).unwrap();
    }
    dst
}

/// A `vouch` command with no password in its environment and no stdin (so no TTY prompt).
pub fn vouch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    cmd.env_remove("VOUCH_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .stdin(Stdio::null());
    cmd
}

/// The outcome of a command.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit {code}, got {self:#?}");
        self
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("spawn");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs vouch with `args` in `dir`, with `password` (if any) in VOUCH_PASSWORD.
pub fn vouch_in<I, S>(dir: &Path, password: Option<&str>, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = vouch();
    cmd.current_dir(dir).args(args);
    if let Some(pw) = password {
        cmd.env("VOUCH_PASSWORD", pw);
    }
    run(&mut cmd)
}

/// The Python interpreter with `cryptography` and `pynacl`: `$VOUCH_TEST_PYTHON` (set by
/// `scripts/test`, which makes the venv), else `python3` if it has both.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("VOUCH_TEST_PYTHON") {
        return p.into();
    }
    let probe = Command::new("python3")
        .args(["-c", "import cryptography, nacl"])
        .output();
    match probe {
        Ok(o) if o.status.success() => "python3".into(),
        _ => panic!(
            "no Python with `cryptography` and `pynacl`: run the tests with scripts/test, \
             or set VOUCH_TEST_PYTHON to such an interpreter"
        ),
    }
}

/// A docker config directory (for `DOCKER_CONFIG`) with basic credentials for `host`.
pub fn docker_config(dir: &Path, host: &str, user: &str, pass: &str) -> PathBuf {
    use base64::Engine as _;
    let cfg = dir.join("docker");
    std::fs::create_dir_all(&cfg).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    cfg
}

/// sigstore-js's @sigstore/oci (keys-test/js, installed by scripts/test) run by node.
pub fn js_attach() -> Command {
    let dir = workspace().join("keys-test/js");
    assert!(
        dir.join("node_modules/@sigstore/oci").is_dir(),
        "keys-test/js/node_modules is missing: run the tests with scripts/test (npm ci there)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("attach.js")).stdin(Stdio::null());
    cmd
}

/// The independent cosign-format implementation in keys-test/.
pub fn py_cosign() -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(workspace().join("keys-test/cosign_keys.py"))
        .env_remove("VOUCH_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .stdin(Stdio::null());
    cmd
}
