//! A real registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, a free
//! port and a temporary storage directory; stopped when dropped. Instances are independent.

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

/// `GET /v2/` answered with 200 or 401 (the registry is serving).
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
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
            let mut child = Command::new(&bin)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if answers(port) {
                    return Registry { child, port, dir };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: most likely the port was taken meanwhile; try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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
