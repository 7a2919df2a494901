//! A real registry for tests on 127.0.0.1, a free port and a temporary storage directory; stopped
//! when dropped. Instances are independent. Two kinds ([`RegistryKind`]): Debian's
//! `docker-registry` (distribution 2.8, no referrers API: clients keep the fallback tag index) and
//! `ferro-oci-server` 1.0.0 (crates.io, Apache-2.0: the OCI distribution 1.1 referrers API), which
//! scripts/test installs with `cargo install` when it is missing.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct Registry {
    child: Child,
    port: u16,
    dir: TempDir,
    kind: RegistryKind,
}

/// Which registry a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryKind {
    /// Debian's docker-registry (distribution 2.8): no referrers API (`GET /v2/<name>/referrers/`
    /// is 404), so referrers are listed in the fallback tag index `sha256-<hex>`.
    Distribution,
    /// ferro-oci-server 1.0.0: the OCI distribution 1.1 referrers API (and no authentication).
    ReferrersApi,
}

/// The version of ferro-oci-server scripts/test installs (and the default cache directory's
/// name, `$HOME/.cache/vouch-test/ferro-oci-server-<version>/bin`).
pub const FERRO_VERSION: &str = "1.0.0";

fn ferro_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("VOUCH_TEST_FERRO_BIN") {
        return p.into();
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(
            PathBuf::from(home)
                .join(".cache/vouch-test")
                .join(format!("ferro-oci-server-{FERRO_VERSION}/bin")),
        );
    }
    for dir in dirs {
        let candidate = dir.join("ferro-oci-server");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "ferro-oci-server not found: run the tests with scripts/test (it runs `cargo install \
         ferro-oci-server --version {FERRO_VERSION}`), or set VOUCH_TEST_FERRO_BIN"
    );
}

fn registry_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("VOUCH_TEST_REGISTRY_BIN") {
        return p.into();
    }
    for dir in std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let candidate = dir.join("docker-registry");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "docker-registry not found: run the tests with scripts/test (it installs Debian's \
         docker-registry), or set VOUCH_TEST_REGISTRY_BIN"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` answered with 200 or 401 (the registry is serving).
fn answers(port: u16, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.")
        && matches!(&head[9..12], b"200" | b"401")
}

impl Registry {
    /// Starts a registry and waits until `/v2/` answers (at most 30 s).
    pub fn start() -> Registry {
        Self::start_with(None)
    }

    /// Starts a registry of `kind` (both without authentication).
    pub fn start_kind(kind: RegistryKind) -> Registry {
        match kind {
            RegistryKind::Distribution => Self::start(),
            RegistryKind::ReferrersApi => Self::start_ferro(),
        }
    }

    /// Starts ferro-oci-server and waits until `/healthz` and `/v2/` answer (at most 30 s).
    fn start_ferro() -> Registry {
        let bin = ferro_binary();
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("vouch-ferro-")
                .tempdir()
                .unwrap();
            let port = free_port();
            let storage = dir.path().join("storage");
            fs::create_dir_all(&storage).unwrap();
            let log = fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(&bin)
                .env("FERRO_OCI_LISTEN", format!("127.0.0.1:{port}"))
                .env("FERRO_OCI_STORAGE_DIR", &storage)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            if let Some(child) = ready(child, port, &["/healthz", "/v2/"]) {
                return Registry {
                    child,
                    port,
                    dir,
                    kind: RegistryKind::ReferrersApi,
                };
            }
            last_log = fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        }
        panic!("ferro-oci-server did not start; its log:\n{last_log}");
    }

    /// Starts a registry that demands basic authentication (htpasswd, bcrypt via apache2-utils'
    /// `htpasswd`, which scripts/test installs) for `user` / `password`.
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd (apache2-utils) is needed: run the tests with scripts/test");
        assert!(out.status.success());
        Self::start_with(Some(String::from_utf8(out.stdout).unwrap()))
    }

    fn start_with(htpasswd: Option<String>) -> Registry {
        let bin = registry_binary();
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("vouch-registry-")
                .tempdir()
                .unwrap();
            let port = free_port();
            let storage = dir.path().join("storage");
            let config = dir.path().join("config.yml");
            let mut text = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: vouch-test-only\n",
                storage.display()
            );
            if let Some(entries) = &htpasswd {
                let file = dir.path().join("htpasswd");
                fs::write(&file, entries).unwrap();
                text.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: vouch-test\n    path: {}\n",
                    file.display()
                ));
            }
            fs::write(&config, text).unwrap();
            let log = fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(&bin)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            if let Some(child) = ready(child, port, &["/v2/"]) {
                return Registry {
                    child,
                    port,
                    dir,
                    kind: RegistryKind::Distribution,
                };
            }
            last_log = fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Which kind of registry this is.
    #[allow(dead_code)]
    pub fn kind(&self) -> RegistryKind {
        self.kind
    }

    /// The storage directory (to inspect or corrupt in tests).
    #[allow(dead_code)]
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test that runs once on each [`RegistryKind`]: `on_each_registry! { async fn NAME(kind) {..} }`
/// makes a module `NAME` with the tests `distribution` and `referrers_api`, each running the body
/// with its kind (so `cargo test NAME` runs both).
#[macro_export]
macro_rules! on_each_registry {
    ($(#[doc = $doc:literal])* async fn $name:ident($kind:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($kind: $crate::support::registry::RegistryKind) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn distribution() {
                body($crate::support::registry::RegistryKind::Distribution).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn referrers_api() {
                body($crate::support::registry::RegistryKind::ReferrersApi).await
            }
        }
    };
}

/// The fallback tag index of `subject` (`sha256-<hex>`) exists exactly where the registry has no
/// referrers API: vouch writes it on distribution 2.8 and skips it where the registry lists
/// referrers itself (OCI distribution 1.1, "Pushing Manifests with Subject").
#[allow(dead_code)]
pub async fn assert_fallback_index_as_kind(
    kind: RegistryKind,
    r: &vouch_core::oci::reference::RegistryRef,
    subject: &vouch_core::digest::Sha256Digest,
) {
    let tag = vouch_core::referrers::fallback_tag(subject);
    let found = crate::support::image::client()
        .head_manifest(r, &tag, vouch_core::oci::registry::Access::Pull)
        .await
        .unwrap();
    assert_eq!(
        found.is_some(),
        kind == RegistryKind::Distribution,
        "{kind:?}: the fallback tag {tag} of {}",
        r.repository
    );
}

/// Waits up to 30 s for a started registry to answer every path in `paths`; `None` (the process
/// stopped and reaped) when it exits first — most likely the port was taken meanwhile — or never
/// answers.
fn ready(mut child: Child, port: u16, paths: &[&str]) -> Option<Child> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if paths.iter().all(|p| answers(port, p)) {
            return Some(child);
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
