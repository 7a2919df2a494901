//! Registry credentials from docker's configuration (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): `auths` entries, `credHelpers` per registry and the default
//! `credsStore`, through `docker-credential-<helper> get`. Secrets never reach `Debug` or logs.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::RegistryError;

/// A username and secret for one registry.
#[derive(Clone)]
pub struct Credential {
    /// The user name (`<token>` marks an identity token from a helper).
    pub username: String,
    /// The password or token.
    pub secret: Zeroizing<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// docker's client configuration, as far as credentials go.
#[derive(Default)]
pub struct DockerConfig {
    file: ConfigFile,
    path: Option<PathBuf>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("registries", &self.file.auths.keys().collect::<Vec<_>>())
            .field("creds_store", &self.file.creds_store)
            .field("cred_helpers", &self.file.cred_helpers)
            .finish()
    }
}

/// The keys docker uses for Docker Hub in `auths`.
const DOCKER_HUB_KEYS: &[&str] = &[
    "https://index.docker.io/v1/",
    "index.docker.io",
    "docker.io",
];

impl DockerConfig {
    /// Loads `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`; a missing file is an empty
    /// configuration (anonymous access).
    pub fn load() -> Result<Self, RegistryError> {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        let Some(dir) = dir else {
            return Ok(Self::default());
        };
        let path = dir.join("config.json");
        let text = match crate::keys::files::read_bounded(&path, "docker config", 4 << 20) {
            Ok(t) => t,
            Err(crate::keys::files::ReadError::Io(e))
                if e.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(Self::default());
            }
            Err(e) => {
                return Err(RegistryError::Credentials(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let file: ConfigFile = serde_json::from_slice(&text).map_err(|e| {
            RegistryError::Credentials(format!("{} is not valid: {e}", path.display()))
        })?;
        Ok(Self {
            file,
            path: Some(path),
        })
    }

    /// Parses a configuration document (tests).
    pub fn from_json(json: &str) -> Result<Self, RegistryError> {
        let file = serde_json::from_str(json)
            .map_err(|e| RegistryError::Credentials(format!("config.json is not valid: {e}")))?;
        Ok(Self { file, path: None })
    }

    /// The credential for `registry` (`host[:port]`, `docker.io` for Docker Hub), if any.
    pub fn credential_for(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        let keys: Vec<String> = if registry == crate::oci::reference::DOCKER_HUB {
            DOCKER_HUB_KEYS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            vec![
                registry.to_owned(),
                format!("https://{registry}"),
                format!("http://{registry}"),
                format!("https://{registry}/v1/"),
                format!("https://{registry}/v2/"),
            ]
        };
        if let Some(helper) = keys.iter().find_map(|k| self.file.cred_helpers.get(k)) {
            return run_helper(helper, &keys[0]);
        }
        if let Some(entry) = keys.iter().find_map(|k| self.file.auths.get(k))
            && let Some(c) = entry_credential(entry, registry)?
        {
            return Ok(Some(c));
        }
        if let Some(store) = &self.file.creds_store {
            return run_helper(store, &keys[0]);
        }
        Ok(None)
    }
}

fn entry_credential(
    entry: &AuthEntry,
    registry: &str,
) -> Result<Option<Credential>, RegistryError> {
    if let Some(token) = &entry.identitytoken {
        return Ok(Some(Credential {
            username: "<token>".into(),
            secret: Zeroizing::new(token.clone()),
        }));
    }
    if let Some(auth) = &entry.auth {
        let decoded = Zeroizing::new(B64.decode(auth.trim()).map_err(|_| {
            RegistryError::Credentials(format!(
                "the `auth` entry for {registry} in docker's config.json is not base64"
            ))
        })?);
        let text = std::str::from_utf8(&decoded).map_err(|_| {
            RegistryError::Credentials(format!("the `auth` entry for {registry} is not UTF-8"))
        })?;
        let Some((user, pass)) = text.split_once(':') else {
            return Err(RegistryError::Credentials(format!(
                "the `auth` entry for {registry} is not `user:password`"
            )));
        };
        return Ok(Some(Credential {
            username: user.to_owned(),
            secret: Zeroizing::new(pass.to_owned()),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Some(Credential {
            username: u.clone(),
            secret: Zeroizing::new(p.clone()),
        })),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-<helper> get`, server URL on stdin, JSON on stdout.
fn run_helper(helper: &str, server: &str) -> Result<Option<Credential>, RegistryError> {
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(RegistryError::Credentials(format!(
            "credential helper name `{helper}` is not a plain name"
        )));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RegistryError::Credentials(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RegistryError::Credentials(format!("{program} failed: {e}")))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        let msg =
            String::from_utf8_lossy(&stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        if msg.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(RegistryError::Credentials(format!(
            "{program} get {server} failed: {}",
            msg.trim()
        )));
    }
    let parsed: HelperOutput = serde_json::from_slice(&stdout).map_err(|_| {
        RegistryError::Credentials(format!(
            "{program} printed something other than credentials JSON"
        ))
    })?;
    if parsed.username.is_empty() && parsed.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential {
        username: parsed.username,
        secret: Zeroizing::new(parsed.secret),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_entries() {
        let cfg = DockerConfig::from_json(
            r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYXNz"},
                          "https://index.docker.io/v1/":{"username":"hub","password":"pw"},
                          "ghcr.io":{"identitytoken":"tok"}}}"#,
        )
        .unwrap();
        let c = cfg.credential_for("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.secret.as_str()), ("user", "pass"));
        let c = cfg.credential_for("docker.io").unwrap().unwrap();
        assert_eq!(c.username, "hub");
        let c = cfg.credential_for("ghcr.io").unwrap().unwrap();
        assert_eq!(c.username, "<token>");
        assert!(cfg.credential_for("quay.io").unwrap().is_none());
        assert!(!format!("{c:?}").contains("tok\""), "secret hidden: {c:?}");
    }

    #[test]
    fn missing_helper_is_an_error_naming_it() {
        let cfg =
            DockerConfig::from_json(r#"{"credHelpers":{"r.example":"vouch-no-such"}}"#).unwrap();
        let err = cfg.credential_for("r.example").unwrap_err();
        assert!(
            err.to_string().contains("docker-credential-vouch-no-such"),
            "{err}"
        );
        let cfg = DockerConfig::from_json(r#"{"credsStore":"../evil"}"#).unwrap();
        assert!(cfg.credential_for("r.example").is_err());
    }
}
