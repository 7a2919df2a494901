//! Image references: `HOST[:PORT]/REPO[:TAG|@sha256:HEX]` (docker's grammar and defaults) and
//! `oci:DIR[:TAG|@sha256:HEX]` for an on-disk OCI image layout.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::Sha256Digest;

/// Docker Hub, as written in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's registry API host.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Docker Hub as cosign names it in `docker-reference` (go-containerregistry's default).
pub const DOCKER_HUB_IDENTITY: &str = "index.docker.io";

/// A reference to an image in a registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    /// `host[:port]`, normalised (`docker.io` for Docker Hub).
    pub registry: String,
    /// The repository path, e.g. `library/alpine`.
    pub repository: String,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The digest, if one was given (it wins over the tag).
    pub digest: Option<Sha256Digest>,
}

/// A reference to an image in an on-disk OCI image layout.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayoutRef {
    /// The layout directory (holding `oci-layout`, `index.json`, `blobs/`).
    pub dir: PathBuf,
    /// The tag (`org.opencontainers.image.ref.name` in `index.json`), if given.
    pub tag: Option<String>,
    /// The digest, if given.
    pub digest: Option<Sha256Digest>,
}

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// In a registry.
    Registry(RegistryRef),
    /// In an OCI layout directory.
    Layout(LayoutRef),
}

/// A reference that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{input}`: {reason}")]
pub struct ReferenceError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl crate::Classify for ReferenceError {
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Input
    }
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_path_component(c: &str) -> bool {
    // [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() && !b[0].is_ascii_digit() {
        return false;
    }
    if !b[b.len() - 1].is_ascii_lowercase() && !b[b.len() - 1].is_ascii_digit() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'a'..=b'z' | b'0'..=b'9' => i += 1,
            b'.' => {
                if !b[i + 1].is_ascii_alphanumeric() {
                    return false;
                }
                i += 1;
            }
            b'_' => {
                if b[i + 1] == b'_' {
                    i += 1;
                }
                if !b[i + 1].is_ascii_alphanumeric() {
                    return false;
                }
                i += 1;
            }
            b'-' => {
                while b[i] == b'-' {
                    i += 1;
                }
                if !b[i].is_ascii_alphanumeric() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Splits `NAME[:TAG][@DIGEST]` as references are split: the digest after the first `@`, the
/// tag after the last `:` that follows the last `/`. The tag is checked (letters, digits, `_`,
/// `.`, `-`; at most 128); the name and the digest are returned as written, for the caller to
/// check ([`split_name`], [`is_digest`] or `Sha256Digest`'s parser).
pub fn split_reference(s: &str) -> Result<(&str, Option<&str>, Option<&str>), String> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, d)) => (rest, Some(d)),
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => {
            let tag = &rest[last_slash + i + 1..];
            if !valid_tag(tag) {
                return Err(format!(
                    "`{tag}` is not a valid tag (letters, digits, `_`, `.`, `-`; at most 128)"
                ));
            }
            Ok((&rest[..last_slash + i], Some(tag), digest))
        }
        None => Ok((rest, None, digest)),
    }
}

/// Whether `s` has the shape of an OCI digest of any algorithm, `ALGORITHM:ENCODED`
/// (image-spec descriptor grammar: algorithm components `[a-z0-9]+` joined by `+._-`, encoded
/// `[a-zA-Z0-9=_-]+`). The shape only: whether the algorithm is known and the encoding right is
/// for the digest's parser.
pub fn is_digest(s: &str) -> bool {
    let Some((alg, encoded)) = s.split_once(':') else {
        return false;
    };
    let component = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    alg.split(['+', '.', '_', '-']).all(component)
        && !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

/// Splits `rest@sha256:…` and `rest:tag` (see [`split_reference`]), the digest parsed.
fn split_tag_digest(
    input: &str,
    s: &str,
) -> Result<(String, Option<String>, Option<Sha256Digest>), ReferenceError> {
    let err = |reason: String| ReferenceError {
        input: input.to_owned(),
        reason,
    };
    // The digest first, so that its error is the one reported when both are wrong.
    let digest = match s.split_once('@') {
        Some((_, d)) => Some(d.parse::<Sha256Digest>().map_err(|e| err(format!("{e}")))?),
        None => None,
    };
    let (name, tag, _) = split_reference(s).map_err(err)?;
    Ok((name.to_owned(), tag.map(str::to_owned), digest))
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ReferenceError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(layout) = input.strip_prefix("oci:") {
            let (dir, tag, digest) = split_tag_digest(input, layout)?;
            if dir.is_empty() {
                return Err(err("expected oci:DIR[:TAG|@sha256:HEX]"));
            }
            return Ok(ImageRef::Layout(LayoutRef {
                dir: dir.into(),
                tag,
                digest,
            }));
        }
        if input.contains("://") {
            return Err(err(
                "a reference has no scheme: write HOST[:PORT]/REPO[:TAG|@sha256:HEX]",
            ));
        }
        let (name, tag, digest) = split_tag_digest(input, input)?;
        let (registry, repository) = split_name(&name).map_err(|reason| ReferenceError {
            input: input.to_owned(),
            reason,
        })?;
        Ok(ImageRef::Registry(RegistryRef {
            registry,
            repository,
            tag,
            digest,
        }))
    }
}

/// Whether the first path segment of a name is a registry host (`ghcr.io`, `host:5000`,
/// `localhost`) rather than part of a Docker Hub repository. As docker decides: a `.` or a `:`,
/// `localhost`, or an upper-case letter (a repository has none, so `LOCALHOST/x` names a host).
pub fn is_registry_host(segment: &str) -> bool {
    segment.contains('.')
        || segment.contains(':')
        || segment == "localhost"
        || segment.bytes().any(|b| b.is_ascii_uppercase())
}

/// Whether `host` (canonical, without a port) is this machine: `localhost`, 127.0.0.0/8 or
/// `[::1]`.
fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The one spelling of a registry `HOST[:PORT]`, or why it has none. Every name vouch judges,
/// connects to or records goes through here, so one registry has one name:
///
/// - the host in lower case (`Registry.Example.com` is `registry.example.com`); an IPv4
///   address in dotted decimal, however written (`127.1`, `0x7f.0.0.1` and `2130706433` are
///   `127.0.0.1`, as the HTTP client would read them); an IPv6 address in brackets, compressed
///   (`[0:0:0:0:0:0:0:1]` is `[::1]`; an IPv4-mapped one is its IPv4 address);
/// - the port as a number without leading zeros (`:05000` is `:5000`), 1 to 65535;
/// - the port vouch would connect to anyway dropped: `:443` (HTTPS) for a remote registry,
///   `:80` (plain HTTP) for a loopback one. `:80` of a remote registry and `:443` of a loopback
///   one are kept: they are other endpoints than the bare host;
/// - Docker Hub's aliases (`index.docker.io`, `registry-1.docker.io`) are `docker.io`.
///
/// Refused: anything but ASCII letters, digits, `.` and `-` in a host name (docker's grammar), a
/// label starting or ending with `-`, an empty label or a trailing dot, an IPv6 address without
/// brackets or with a zone, a port that is not a number in range.
pub fn canonical_registry(input: &str) -> Result<String, String> {
    let (host, port) = if let Some(rest) = input.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or("an IPv6 host is written `[ADDRESS]` or `[ADDRESS]:PORT`")?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or("expected `:PORT` after an IPv6 host's `]`")?,
            ),
        };
        let ip: std::net::Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("`[{addr}]` is not an IPv6 address (zones are not allowed)"))?;
        let host = match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{ip}]"),
        };
        (host, port)
    } else {
        let (h, port) = match input.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (input, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err("an IPv6 host is written in brackets: `[ADDRESS]:PORT`".into());
        }
        (canonical_host_name(h)?, port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("the port `{p}` is not a number"));
            }
            let digits = p.trim_start_matches('0');
            match digits.parse::<u16>() {
                Ok(n) if n > 0 && digits.len() <= 5 => Some(n),
                _ => return Err(format!("the port `{p}` is not within 1..65535")),
            }
        }
    };
    let default_port = if is_loopback_host(&host) { 80 } else { 443 };
    let name = match port {
        Some(p) if p != default_port => format!("{host}:{p}"),
        _ => host,
    };
    // The canonical name must still read as a host: `NDL/app` (a host only by its upper case)
    // or `example:443/app` (only by its default port) would otherwise be written `ndl/app` and
    // `example/app`, which name Docker Hub repositories.
    if !is_registry_host(&name) {
        return Err(format!(
            "`{input}` names a registry host only by its upper-case letters or its default port, \
             and `{name}` would name a Docker Hub namespace: write the host with its domain \
             (a `.`), a non-default port, or as `localhost`"
        ));
    }
    Ok(match name.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => name,
    })
}

/// A host name or IPv4 address (no port, no brackets) in its one spelling.
fn canonical_host_name(h: &str) -> Result<String, String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if h.is_empty() {
        return Err("the registry host is empty".into());
    }
    if h.ends_with('.') {
        return Err(format!(
            "the host `{h}` ends with `.`: write it without the trailing dot"
        ));
    }
    if !h.split('.').all(label_ok) {
        return Err(format!(
            "the host `{h}` is not a host name (labels of ASCII letters, digits and inner `-`, separated by `.`)"
        ));
    }
    // The HTTP client's reading of the host (WHATWG URL rules): lower case, and numeric hosts
    // as the IPv4 address it connects to.
    let url = reqwest::Url::parse(&format!("https://{h}/"))
        .map_err(|e| format!("the host `{h}` is not usable: {e}"))?;
    match url.host_str() {
        Some(d) if d.split('.').all(label_ok) => Ok(d.to_owned()),
        _ => Err(format!("the host `{h}` is not a host name")),
    }
}

/// Docker's defaults for `[HOST[:PORT]/]PATH`: (registry, repository), both canonical, or why
/// the name is not one. No host is Docker Hub (`docker.io`), the host is in its one spelling
/// ([`canonical_registry`]), a one-segment Docker Hub repository is under `library/`, and the
/// repository must be lower-case path components of the distribution grammar (`Team/App` is
/// refused, never matched as another name).
pub fn split_name(name: &str) -> Result<(String, String), String> {
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if is_registry_host(first) => {
            (canonical_registry(first)?, rest.to_owned())
        }
        _ => (DOCKER_HUB.to_owned(), name.to_owned()),
    };
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    if repository.is_empty() || !repository.split('/').all(valid_path_component) {
        return Err(format!(
            "the repository `{repository}` must be lower-case path components of letters, digits and separators (`.`, `_`, `__`, `-`)"
        ));
    }
    if repository.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    Ok((registry, repository))
}

impl RegistryRef {
    /// `HOST/REPO` with docker's defaults and Docker Hub as `docker.io`: the name policies
    /// match (unlike [`RegistryRef::docker_reference`], cosign's `index.docker.io` spelling).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The host to send API requests to.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// `HOST/REPO` as cosign writes it into `critical.identity.docker-reference`.
    pub fn docker_reference(&self) -> String {
        let host = if self.registry == DOCKER_HUB {
            DOCKER_HUB_IDENTITY
        } else {
            &self.registry
        };
        format!("{host}/{}", self.repository)
    }

    /// The same repository at another reference.
    pub fn with_digest(&self, digest: Sha256Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// Whether the registry is on this machine (localhost, 127.0.0.0/8, `[::1]`), where plain
    /// HTTP is used as docker uses it.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => &self.registry,
        };
        is_loopback_host(host)
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci:{}", self.dir.display())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Registry(r) => r.fmt(f),
            Self::Layout(l) => l.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_use_docker_io() {
        let name = |s: &str| match s.parse::<ImageRef>().unwrap() {
            ImageRef::Registry(r) => r.name(),
            ImageRef::Layout(_) => unreachable!(),
        };
        assert_eq!(name("alpine"), "docker.io/library/alpine");
        assert_eq!(
            name("index.docker.io/library/alpine:3"),
            "docker.io/library/alpine"
        );
        assert_eq!(
            name(
                "ghcr.io/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000"
            ),
            "ghcr.io/a/b"
        );
        assert_eq!(
            split_name("localhost:5000/x"),
            Ok(("localhost:5000".into(), "x".into()))
        );
    }

    /// Issue 20: one repository, one name. Every spelling of a registry host is judged under
    /// its canonical one, so no spelling skips the block written for it.
    #[test]
    fn every_spelling_of_a_registry_has_one_name() {
        let name = |s: &str| match s.parse::<ImageRef>() {
            Ok(ImageRef::Registry(r)) => r.name(),
            other => panic!("{s}: {other:?}"),
        };
        for (spelling, canonical) in [
            ("127.0.0.1:059695/prod/app", "127.0.0.1:59695/prod/app"),
            ("127.0.0.1:05000/prod/app", "127.0.0.1:5000/prod/app"),
            ("127.1:5000/prod/app", "127.0.0.1:5000/prod/app"),
            ("0x7f.0.0.1:5000/prod/app", "127.0.0.1:5000/prod/app"),
            ("2130706433:5000/prod/app", "127.0.0.1:5000/prod/app"),
            ("LOCALHOST:5000/prod/app", "localhost:5000/prod/app"),
            ("LocalHost/prod/app", "localhost/prod/app"),
            ("localhost:80/prod/app", "localhost/prod/app"),
            ("localhost:443/prod/app", "localhost:443/prod/app"),
            (
                "Registry.Example.com/prod/app:v1",
                "registry.example.com/prod/app",
            ),
            (
                "registry.example.com:443/prod/app",
                "registry.example.com/prod/app",
            ),
            (
                "registry.example.com:0443/prod/app",
                "registry.example.com/prod/app",
            ),
            (
                "registry.example.com:80/prod/app",
                "registry.example.com:80/prod/app",
            ),
            (
                "REGISTRY.EXAMPLE.COM:8443/prod/app",
                "registry.example.com:8443/prod/app",
            ),
            ("[::1]:5000/prod/app", "[::1]:5000/prod/app"),
            ("[0:0:0:0:0:0:0:1]:5000/prod/app", "[::1]:5000/prod/app"),
            ("[::1]:80/prod/app", "[::1]/prod/app"),
            (
                "[::FFFF:127.0.0.1]:5000/prod/app",
                "127.0.0.1:5000/prod/app",
            ),
            ("[2001:DB8::1]:443/prod/app", "[2001:db8::1]/prod/app"),
            ("Docker.IO/alpine", "docker.io/library/alpine"),
            ("docker.io:443/library/alpine", "docker.io/library/alpine"),
            ("index.docker.io:443/alpine", "docker.io/library/alpine"),
            ("REGISTRY-1.docker.io/team/app", "docker.io/team/app"),
        ] {
            assert_eq!(name(spelling), canonical, "{spelling}");
        }
        // The canonical name parses to itself.
        assert_eq!(name("127.0.0.1:59695/prod/app"), "127.0.0.1:59695/prod/app");
        assert!(reg("LOCALHOST:05000/x").is_loopback());
        assert!(reg("[0::1]/x").is_loopback());
        assert!(reg("127.1/x").is_loopback());
    }

    #[test]
    fn refuses_names_without_one_spelling() {
        for bad in [
            "127.0.0.1:0/x",
            "127.0.0.1:00000/x",
            "127.0.0.1:65536/x",
            "127.0.0.1:99999999999999999999/x",
            "127.0.0.1:+5000/x",
            "127.0.0.1:/x",
            "registry.example.com./x",
            "registry..example.com/x",
            "-registry.example.com/x",
            "registry_1.example.com/x",
            "r\u{e9}gistry.example.com/x",
            "::1/x",
            "[::1/x",
            "[::1]5000/x",
            "[fe80::1%eth0]/x",
            "[not-ip]/x",
            "1.2.3.4.5:5000/x",
            "256.0.0.1:5000/x",
            "registry.example.com/Team/app",
            "registry.example.com/team/App",
            "LOCALHOST/App",
            "Upper",
            // Hosts only by upper case or a default port: their canonical spelling would name
            // a Docker Hub namespace (found by the image_reference fuzz target).
            "Ndl/5v",
            "NDL/app",
            "example:443/app",
            "Example:443/app",
            // An upper-case digest is refused, never read as another digest's name.
            "ghcr.io/a/b@sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
            "ghcr.io/a/b@SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ] {
            let e = bad.parse::<ImageRef>().expect_err(bad);
            assert!(!e.reason.is_empty(), "{bad}");
        }
        assert_eq!(
            canonical_registry("registry.example.com:65536"),
            Err("the port `65536` is not within 1..65535".into())
        );
    }

    fn reg(s: &str) -> RegistryRef {
        match s.parse::<ImageRef>().unwrap() {
            ImageRef::Registry(r) => r,
            other => panic!("{other:?}"),
        }
    }

    const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn docker_defaults() {
        let r = reg("alpine");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "library/alpine")
        );
        assert_eq!(r.docker_reference(), "index.docker.io/library/alpine");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = reg("user/app:1.0");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_deref()),
            ("user/app", Some("1.0"))
        );
        let r = reg("index.docker.io/library/alpine:3");
        assert_eq!(r.registry, "docker.io");
    }

    #[test]
    fn hosts_ports_tags_digests() {
        let r = reg("127.0.0.1:5000/team/app:v1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert!(r.is_loopback());
        let r = reg(&format!("localhost/app@sha256:{HEX}"));
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.digest.unwrap().hex(), HEX);
        assert!(r.is_loopback());
        let r = reg(&format!("ghcr.io/o/r:t@sha256:{HEX}"));
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert!(r.digest.is_some());
        assert!(!r.is_loopback());
        assert_eq!(r.to_string(), format!("ghcr.io/o/r:t@sha256:{HEX}"));
        assert!(reg("[::1]:5000/x").is_loopback());
    }

    #[test]
    fn layouts() {
        let ImageRef::Layout(l) = "oci:/tmp/lay:v1".parse().unwrap() else {
            panic!()
        };
        assert_eq!(
            (l.dir, l.tag),
            (PathBuf::from("/tmp/lay"), Some("v1".into()))
        );
        let ImageRef::Layout(l) = format!("oci:./a/b@sha256:{HEX}").parse().unwrap() else {
            panic!()
        };
        assert_eq!(l.dir, PathBuf::from("./a/b"));
        assert!(l.digest.is_some() && l.tag.is_none());
        let ImageRef::Layout(l) = "oci:dir".parse().unwrap() else {
            panic!()
        };
        assert_eq!((l.dir, l.tag), (PathBuf::from("dir"), None));
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "Upper/Case",
            "host.io/repo:bad/tag",
            "https://host/repo",
            "host.io/repo@sha256:abc",
            "host.io//repo",
            "host.io/re--",
            "oci:",
            "x:",
        ] {
            assert!(bad.parse::<ImageRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn split_reference_and_digest_shape() {
        assert_eq!(
            split_reference("host:5000/a/b:v1@sha512:AbC="),
            Ok(("host:5000/a/b", Some("v1"), Some("sha512:AbC=")))
        );
        assert_eq!(split_reference("a/b"), Ok(("a/b", None, None)));
        assert!(split_reference("a:-bad").is_err());
        for good in [
            "sha256:abc",
            "sha512:AbC=",
            "multihash+base58:QmRZ",
            "a.b_c-d:x",
        ] {
            assert!(is_digest(good), "{good}");
        }
        for bad in [
            "sha256",
            "sha256:",
            ":abc",
            "SHA256:abc",
            "sha256:a/b",
            "b@sha256:x",
            "a..b:x",
        ] {
            assert!(!is_digest(bad), "{bad}");
        }
    }
}
