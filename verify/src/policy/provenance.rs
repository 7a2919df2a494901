//! SLSA provenance (v0.2 and v1) against a [`ProvenanceRule`]: the builder id, the source
//! repository and ref, and the approved base images.
//!
//! Where each value is read:
//! - builder: v0.2 `builder.id`, v1 `runDetails.builder.id`;
//! - source: v0.2 `invocation.configSource.uri` (ref from its `@ref` suffix, else
//!   `invocation.environment.github_ref`); v1 `buildDefinition.externalParameters` —
//!   `workflow: {repository, ref}` (GitHub Actions), `source` or `configSource` (`{uri}` or a
//!   string), else the first `git+` URI among `resolvedDependencies`;
//! - base images: every IMAGE among v0.2 `materials` / v1 `resolvedDependencies`. An entry is
//!   an image when its URI is a `pkg:docker` or `pkg:oci` package URL, an `oci://`, `docker://`
//!   or `docker-image://` reference, or a scheme-less image reference (`alpine:3.19`,
//!   `docker.io/library/alpine@sha256:…`; fail-closed: such a string is judged as an image), or
//!   when its media type is an OCI / Docker manifest or index. Git URIs, other package URLs
//!   (`pkg:github`, `pkg:golang`…) and `http(s)` URLs are not images; they are listed (capped)
//!   in the details of the first base-image check. Names are normalised to `HOST/REPO` with
//!   docker's defaults before matching. An entry TYPED as an image (by its purl type, its
//!   scheme, its media type, or a scheme-less `…@sha256:…`) whose reference does not parse is
//!   a failing `provenance.base-image-unreadable` check, never skipped: fail closed.
//!
//! Other fields (v1 `externalParameters.builderImage`, for instance) are not base images.

use serde_json::Value;
use vouch_core::digest::Sha256Digest;

use crate::attestation::VerifiedAttestation;
use crate::policy::report::{Check, codes};
use crate::policy::rules::{BaseImage, Pattern, ProvenanceRule, describe};

/// SLSA provenance v0.2.
pub(crate) const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
/// SLSA provenance v1 (also matches `v1.0`, `v1.1`).
pub(crate) const SLSA_V1: &str = "https://slsa.dev/provenance/v1";

/// At most this many base-image checks; the rest are summarised in one.
const MAX_IMAGE_CHECKS: usize = 50;
/// At most this many lines in a details list.
pub(crate) const MAX_DETAILS: usize = 50;

/// Caps a details list at [`MAX_DETAILS`] lines plus "… and N more".
pub(crate) fn cap_details(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_DETAILS {
        let more = lines.len() - MAX_DETAILS;
        lines.truncate(MAX_DETAILS);
        lines.push(format!("… and {more} more"));
    }
    lines
}

/// Evaluates one verified provenance attestation against `rule`: one check per condition the
/// rule sets (builder, source repository, source ref, one per base image), or a single
/// `provenance.malformed` failure when the predicate is not SLSA v0.2 / v1.
pub(crate) fn evaluate(att: &VerifiedAttestation, rule: &ProvenanceRule) -> Vec<Check> {
    let pt = att.predicate_type();
    let predicate = match att.predicate() {
        Ok(v) => v,
        Err(e) => return vec![malformed(pt, format!("the predicate is not JSON: {e}"))],
    };
    let facts = match read(pt, &predicate) {
        Ok(f) => f,
        Err(why) => return vec![malformed(pt, why)],
    };
    let mut checks = Vec::new();
    if !rule.builder_ids.is_empty() {
        checks.push(builder_check(&facts, &rule.builder_ids));
    }
    if !rule.source_repositories.is_empty() {
        checks.push(source_check(&facts, &rule.source_repositories));
    }
    if !rule.source_refs.is_empty() {
        checks.push(ref_check(&facts, &rule.source_refs));
    }
    if let Some(allowed) = &rule.base_images {
        checks.extend(base_image_checks(&facts, allowed));
    }
    if checks.is_empty() {
        checks.push(Check::pass(
            codes::PROVENANCE_MALFORMED,
            "predicateType",
            "SLSA provenance v0.2 or v1",
            facts.version_name(),
        ));
    }
    checks
}

fn malformed(predicate_type: &str, why: String) -> Check {
    Check::fail(
        codes::PROVENANCE_MALFORMED,
        "predicate",
        "SLSA provenance v0.2 (builder.id) or v1 (buildDefinition, runDetails.builder.id)",
        format!("{predicate_type}: {why}"),
    )
}

/// SLSA version read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V02,
    V1,
}

/// A value and the path it was read at.
#[derive(Debug, Clone)]
struct At {
    value: String,
    path: String,
}

/// One material / resolved dependency.
#[derive(Debug, Clone)]
struct Material {
    path: String,
    uri: Option<String>,
    name: Option<String>,
    media_type: Option<String>,
    sha256: Option<String>,
}

/// What the checks need from a provenance predicate.
#[derive(Debug)]
struct Facts {
    version: Version,
    builder: Option<At>,
    source: Option<At>,
    reference: Option<At>,
    materials: Vec<Material>,
}

impl Facts {
    fn version_name(&self) -> &'static str {
        match self.version {
            Version::V02 => "SLSA provenance v0.2",
            Version::V1 => "SLSA provenance v1",
        }
    }
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn at(v: &Value, pointer: &str, path: &str) -> Option<At> {
    str_at(v, pointer).map(|value| At {
        value,
        path: path.to_owned(),
    })
}

fn read(predicate_type: &str, p: &Value) -> Result<Facts, String> {
    if !p.is_object() {
        return Err("the predicate is not a JSON object".into());
    }
    if predicate_type == SLSA_V02 {
        read_v02(p)
    } else if predicate_type == SLSA_V1
        || predicate_type
            .strip_prefix(SLSA_V1)
            .is_some_and(|rest| rest.starts_with('.'))
    {
        read_v1(p)
    } else {
        Err("not a SLSA provenance predicate type (v0.2 or v1)".into())
    }
}

fn materials(list: Option<&Value>, base: &str) -> Result<Vec<Material>, String> {
    let Some(list) = list.filter(|l| !l.is_null()) else {
        return Ok(Vec::new());
    };
    let items = list
        .as_array()
        .ok_or_else(|| format!("{base} is not an array"))?;
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, m)| Material {
            path: format!("{base}[{i}]"),
            uri: str_at(m, "/uri"),
            name: str_at(m, "/name"),
            media_type: str_at(m, "/mediaType"),
            sha256: str_at(m, "/digest/sha256"),
        })
        .collect())
}

fn read_v02(p: &Value) -> Result<Facts, String> {
    if !p.get("builder").is_some_and(Value::is_object) {
        return Err("v0.2 without a `builder` object".into());
    }
    let builder = at(p, "/builder/id", "predicate.builder.id");
    let source = at(
        p,
        "/invocation/configSource/uri",
        "predicate.invocation.configSource.uri",
    );
    let reference = source
        .as_ref()
        .and_then(|s| {
            git_ref(&s.value).map(|r| At {
                value: r,
                path: s.path.clone(),
            })
        })
        .or_else(|| {
            at(
                p,
                "/invocation/environment/github_ref",
                "predicate.invocation.environment.github_ref",
            )
        });
    Ok(Facts {
        version: Version::V02,
        builder,
        source,
        reference,
        materials: materials(p.get("materials"), "predicate.materials")?,
    })
}

fn read_v1(p: &Value) -> Result<Facts, String> {
    let bd = p
        .get("buildDefinition")
        .filter(|b| b.is_object())
        .ok_or("v1 without a `buildDefinition` object")?;
    if str_at(bd, "/buildType").is_none() {
        return Err("v1 without `buildDefinition.buildType`".into());
    }
    let ext = bd
        .get("externalParameters")
        .filter(|e| e.is_object())
        .ok_or("v1 without a `buildDefinition.externalParameters` object")?;
    let rd = p
        .get("runDetails")
        .filter(|r| r.is_object())
        .ok_or("v1 without a `runDetails` object")?;
    if !rd.get("builder").is_some_and(Value::is_object) {
        return Err("v1 without a `runDetails.builder` object".into());
    }
    let builder = at(
        p,
        "/runDetails/builder/id",
        "predicate.runDetails.builder.id",
    );
    if builder.is_none() {
        return Err("v1 without `runDetails.builder.id`".into());
    }
    let materials = materials(
        bd.get("resolvedDependencies"),
        "predicate.buildDefinition.resolvedDependencies",
    )?;
    let ep = "predicate.buildDefinition.externalParameters";
    let (source, mut reference) = if let Some(repo) = at(
        ext,
        "/workflow/repository",
        &format!("{ep}.workflow.repository"),
    ) {
        let r = at(ext, "/workflow/ref", &format!("{ep}.workflow.ref"));
        (Some(repo), r)
    } else {
        let named = ["source", "configSource"].iter().find_map(|k| {
            let v = ext.get(*k)?;
            if let Some(s) = v.as_str().filter(|s| !s.trim().is_empty()) {
                Some(At {
                    value: s.trim().to_owned(),
                    path: format!("{ep}.{k}"),
                })
            } else {
                at(v, "/uri", &format!("{ep}.{k}.uri"))
            }
        });
        let from_deps = || {
            materials.iter().find_map(|m| {
                m.uri
                    .as_ref()
                    .filter(|u| u.starts_with("git+"))
                    .map(|u| At {
                        value: u.clone(),
                        path: format!("{}.uri", m.path),
                    })
            })
        };
        (named.or_else(from_deps), None)
    };
    if reference.is_none() {
        reference = source.as_ref().and_then(|s| {
            git_ref(&s.value).map(|r| At {
                value: r,
                path: s.path.clone(),
            })
        });
    }
    Ok(Facts {
        version: Version::V1,
        builder,
        source,
        reference,
        materials,
    })
}

/// Index just after the host of a URL-ish string (`scheme://host`), or 0.
fn path_start(uri: &str) -> usize {
    match uri.find("://") {
        Some(i) => {
            let after = i + 3;
            after + uri[after..].find('/').unwrap_or(uri.len() - after)
        }
        None => 0,
    }
}

/// The `@ref` of a source URI (`git+https://github.com/acme/app@refs/heads/main`), or a
/// `#refs/…` fragment (BuildKit's form).
fn git_ref(uri: &str) -> Option<String> {
    let (body, fragment) = match uri.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (uri, None),
    };
    let start = path_start(body);
    if let Some(i) = body[start..].find('@') {
        let r = &body[start + i + 1..];
        if !r.is_empty() {
            return Some(r.to_owned());
        }
    }
    fragment
        .map(|f| f.split(':').next().unwrap_or(f))
        .filter(|f| f.starts_with("refs/"))
        .map(str::to_owned)
}

/// A repository URI compared without `git+`, an `@ref` suffix, a `#fragment`, a trailing `/`
/// and `.git`.
pub(crate) fn normalize_repository(uri: &str) -> String {
    let s = uri.trim();
    let s = s.strip_prefix("git+").unwrap_or(s);
    let s = s.split('#').next().unwrap_or(s);
    let start = path_start(s);
    let s = match s[start..].find('@') {
        Some(i) => &s[..start + i],
        None => s,
    };
    let s = s.trim_end_matches('/');
    s.strip_suffix(".git").unwrap_or(s).to_owned()
}

/// A repository pattern normalised like the found value (`git+` and `.git` dropped).
fn normalize_repository_pattern(p: &Pattern) -> Pattern {
    let t = p.as_str().trim();
    let t = t.strip_prefix("git+").unwrap_or(t);
    let t = t.trim_end_matches('/');
    let t = t.strip_suffix(".git").unwrap_or(t);
    Pattern::new(t).unwrap_or_else(|_| p.clone())
}

fn missing(what: &str) -> String {
    format!("no {what} in the predicate")
}

fn builder_check(f: &Facts, allowed: &[Pattern]) -> Check {
    let default_path = match f.version {
        Version::V02 => "predicate.builder.id",
        Version::V1 => "predicate.runDetails.builder.id",
    };
    match &f.builder {
        Some(b) => Check::pass_if(
            allowed.iter().any(|p| p.matches(&b.value)),
            codes::PROVENANCE_BUILDER,
            b.path.clone(),
            describe(allowed),
            b.value.clone(),
        ),
        None => Check::fail(
            codes::PROVENANCE_BUILDER,
            default_path,
            describe(allowed),
            missing("builder id"),
        ),
    }
}

fn source_path(f: &Facts) -> &'static str {
    match f.version {
        Version::V02 => "predicate.invocation.configSource.uri",
        Version::V1 => "predicate.buildDefinition.externalParameters",
    }
}

fn source_check(f: &Facts, allowed: &[Pattern]) -> Check {
    let Some(s) = &f.source else {
        return Check::fail(
            codes::PROVENANCE_SOURCE,
            source_path(f),
            describe(allowed),
            missing("source repository"),
        );
    };
    let repo = normalize_repository(&s.value);
    let ok = allowed
        .iter()
        .any(|p| normalize_repository_pattern(p).matches(&repo));
    let found = if repo == s.value {
        repo
    } else {
        format!("{repo} (from {})", s.value)
    };
    Check::pass_if(
        ok,
        codes::PROVENANCE_SOURCE,
        s.path.clone(),
        describe(allowed),
        found,
    )
}

fn ref_check(f: &Facts, allowed: &[Pattern]) -> Check {
    match &f.reference {
        Some(r) => Check::pass_if(
            allowed.iter().any(|p| p.matches(&r.value)),
            codes::PROVENANCE_REF,
            r.path.clone(),
            describe(allowed),
            r.value.clone(),
        ),
        None => Check::fail(
            codes::PROVENANCE_REF,
            source_path(f),
            describe(allowed),
            missing("source ref"),
        ),
    }
}

/// An image reference normalised to docker's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    /// `HOST/REPO` (`docker.io/library/alpine`).
    pub name: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest as written (`sha256:…`), if any.
    pub digest: Option<String>,
}

impl ImageRef {
    /// `HOST/REPO[:TAG][@DIGEST]`.
    pub(crate) fn display(&self) -> String {
        let mut s = self.name.clone();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// `HOST/REPO` in its canonical form (vouch-core's `split_name`: docker's defaults, the host's
/// one spelling, a valid lower-case repository), plus one Docker Hub alias references do not
/// take (`registry.hub.docker.com`); `None` when it is no image name.
pub(crate) fn normalize_image_name(repo: &str) -> Option<String> {
    use vouch_core::oci::reference::{
        DOCKER_HUB, canonical_registry, is_registry_host, split_name,
    };
    let repo = repo.trim().trim_end_matches('/');
    let repo = match repo.split_once('/') {
        Some((host, path)) if is_registry_host(host) => {
            match canonical_registry(host).ok()?.as_str() {
                "registry.hub.docker.com" => format!("{DOCKER_HUB}/{path}"),
                host => format!("{host}/{path}"),
            }
        }
        _ => repo.to_owned(),
    };
    let (registry, repository) = split_name(&repo).ok()?;
    Some(format!("{registry}/{repository}"))
}

fn valid_repo_path(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.contains("//")
        && s.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'_' | b'-' | b'/' | b':')
        })
}

/// Parses `[HOST[:PORT]/]REPO[:TAG][@ALG:HEX]`, or `None` when it is not an image reference.
pub(crate) fn parse_image_ref(s: &str) -> Option<ImageRef> {
    let s = s.trim();
    let (rest, digest) = match s.rsplit_once('@') {
        Some((r, d)) if d.contains(':') => (r, Some(d.to_owned())),
        Some(_) => return None,
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(rest[last_slash + i + 1..].to_owned()),
        ),
        None => (rest, None),
    };
    // The host part may have upper case; the path may not.
    let (host_ok, path) = match repo.split_once('/') {
        Some((h, p)) if vouch_core::oci::reference::is_registry_host(h) => (
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':')),
            p,
        ),
        _ => (true, repo),
    };
    if !host_ok || !valid_repo_path(path) || tag.as_deref().is_some_and(str::is_empty) {
        return None;
    }
    Some(ImageRef {
        name: normalize_image_name(repo)?,
        tag,
        digest,
    })
}

/// An image named by a `pkg:docker` or `pkg:oci` package URL.
pub(crate) fn image_from_purl(s: &str) -> Option<ImageRef> {
    use std::str::FromStr;
    let purl = packageurl::PackageUrl::from_str(s).ok()?;
    let q = |k: &str| {
        purl.qualifiers()
            .iter()
            .find(|(key, _)| key.as_ref() == k)
            .map(|(_, v)| v.to_string())
    };
    let strip_scheme = |u: String| match u.split_once("://") {
        Some((_, rest)) => rest.to_owned(),
        None => u,
    };
    let (version_digest, version_tag) = match purl.version() {
        Some(v) if v.starts_with("sha256:") => (Some(v.to_owned()), None),
        Some(v) => (None, Some(v.to_owned())),
        None => (None, None),
    };
    let digest = version_digest.or_else(|| q("digest"));
    let tag = version_tag.or_else(|| q("tag"));
    let path = match purl.namespace() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{}", purl.name()),
        _ => purl.name().to_owned(),
    };
    let name = match purl.ty() {
        "docker" => match q("repository_url") {
            Some(r) => {
                normalize_image_name(&format!("{}/{path}", strip_scheme(r).trim_end_matches('/')))?
            }
            None => normalize_image_name(&path)?,
        },
        "oci" => match q("repository_url") {
            Some(r) => normalize_image_name(&strip_scheme(r))?,
            None => normalize_image_name(&path)?,
        },
        _ => return None,
    };
    Some(ImageRef { name, tag, digest })
}

const IMAGE_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// What a material is, as far as base images go.
#[derive(Debug)]
enum MaterialKind {
    /// An image reference, parsed and normalised.
    Image(ImageRef),
    /// Typed as an image — a `pkg:docker` / `pkg:oci` purl, an `oci://`, `docker://` or
    /// `docker-image://` URI, or a scheme-less string carrying `@sha256:` — whose reference
    /// cannot be parsed: judged as a failing image, never skipped (fail closed).
    Unreadable(String),
    /// Not an image (git, other package URLs, http(s) URLs…).
    NotImage,
}

/// The purl type of `s` when it is a package URL (`pkg:TYPE/…`, `pkg://TYPE/…`, any case).
fn purl_type(s: &str) -> Option<String> {
    let rest = s.get(..4).filter(|p| p.eq_ignore_ascii_case("pkg:"))?;
    let rest = s[rest.len()..].trim_start_matches('/');
    let ty = rest.split(['/', '@', '?', '#']).next().unwrap_or_default();
    Some(ty.to_ascii_lowercase())
}

/// The image URI schemes.
const IMAGE_SCHEMES: [&str; 3] = ["oci://", "docker://", "docker-image://"];

/// How a string names an image: `Some(Image)`, `Some(Unreadable)` when it is typed as one but
/// does not parse, `None` when it is not typed as an image.
fn typed_image(s: &str) -> Option<MaterialKind> {
    if let Some(ty) = purl_type(s) {
        if ty != "docker" && ty != "oci" {
            return None;
        }
        return Some(match image_from_purl(s) {
            Some(i) => MaterialKind::Image(i),
            None => MaterialKind::Unreadable(format!("a pkg:{ty} package URL that does not parse")),
        });
    }
    let lower = s.to_ascii_lowercase();
    let scheme = IMAGE_SCHEMES.iter().find(|x| lower.starts_with(**x))?;
    Some(match parse_image_ref(&s[scheme.len()..]) {
        Some(i) => MaterialKind::Image(i),
        None => MaterialKind::Unreadable(format!(
            "a {scheme} reference that is not a valid image reference"
        )),
    })
}

/// What a material names (see [`MaterialKind`]).
fn material_image(m: &Material) -> MaterialKind {
    if let Some(uri) = &m.uri {
        if let Some(k) = typed_image(uri) {
            return k;
        }
        let lower = uri.to_ascii_lowercase();
        // Any other scheme (git+https, https, pkg:…, ssh, file…) is not an image.
        if !lower.contains("://") && !lower.starts_with("pkg:") && !lower.starts_with("git@") {
            if let Some(i) = parse_image_ref(uri) {
                return MaterialKind::Image(i);
            }
            // A scheme-less string pinned by a sha256 digest is meant as an image.
            if lower.contains("@sha256:") {
                return MaterialKind::Unreadable(
                    "a reference with a sha256 digest that is not a valid image reference".into(),
                );
            }
        }
    }
    if let Some(k) = m.name.as_deref().and_then(typed_image) {
        return k;
    }
    if m.media_type
        .as_deref()
        .is_some_and(|t| IMAGE_MEDIA_TYPES.contains(&t))
    {
        let named = m.uri.as_deref().or(m.name.as_deref()).unwrap_or_default();
        return match parse_image_ref(named) {
            Some(i) => MaterialKind::Image(i),
            None => MaterialKind::Unreadable(
                "an image manifest media type, but no valid image reference".into(),
            ),
        };
    }
    MaterialKind::NotImage
}

/// The sha256 digest pinning an image: from the reference and the material's `digest.sha256`,
/// which must agree.
fn pinned(image: &ImageRef, m: &Material) -> Result<Sha256Digest, String> {
    let from_ref = image.digest.as_deref();
    let from_map = m.sha256.as_ref().map(|h| format!("sha256:{}", h.trim()));
    let parse = |d: &str| {
        d.parse::<Sha256Digest>()
            .map_err(|e| format!("digest `{d}`: {e}"))
    };
    match (from_ref, from_map.as_deref()) {
        (Some(a), Some(b)) => {
            let (da, db) = (parse(a)?, parse(b)?);
            if da == db {
                Ok(da)
            } else {
                Err(format!("the reference says {a} but digest.sha256 says {b}"))
            }
        }
        (Some(a), None) => parse(a),
        (None, Some(b)) => parse(b),
        (None, None) => Err("no sha256 digest".into()),
    }
}

fn describe_base_images(allowed: &[BaseImage]) -> String {
    if allowed.is_empty() {
        return "no base image at all (the allow-list is empty)".into();
    }
    let v: Vec<String> = allowed
        .iter()
        .map(|b| {
            if b.digests.is_empty() {
                b.repository.as_str().to_owned()
            } else {
                let d: Vec<String> = b.digests.iter().map(ToString::to_string).collect();
                format!("{} at {}", b.repository.as_str(), d.join(" or "))
            }
        })
        .collect();
    format!("pinned by sha256 digest and one of [{}]", v.join(", "))
}

/// How a material was written, for messages.
fn written(m: &Material) -> &str {
    m.uri.as_deref().or(m.name.as_deref()).unwrap_or("(no uri)")
}

fn base_image_checks(f: &Facts, allowed: &[BaseImage]) -> Vec<Check> {
    let expected = describe_base_images(allowed);
    let mut images: Vec<(&Material, MaterialKind)> = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for m in &f.materials {
        match material_image(m) {
            MaterialKind::NotImage => {
                others.push(format!("{}: skipped, not an image: {}", m.path, written(m)));
            }
            k => images.push((m, k)),
        }
    }
    let list_path = match f.version {
        Version::V02 => "predicate.materials",
        Version::V1 => "predicate.buildDefinition.resolvedDependencies",
    };
    if images.is_empty() {
        return vec![
            Check::pass(
                codes::PROVENANCE_BASE_NOT_ALLOWED,
                list_path,
                expected,
                format!("no image among {} entries", f.materials.len()),
            )
            .with_details(cap_details(others)),
        ];
    }
    let mut checks = Vec::new();
    let mut failed_beyond = Vec::new();
    for (n, (m, kind)) in images.iter().enumerate() {
        let written = written(m);
        let image = match kind {
            MaterialKind::Image(i) => i,
            MaterialKind::Unreadable(why) => {
                let check = Check::fail(
                    codes::PROVENANCE_BASE_UNREADABLE,
                    m.path.clone(),
                    expected.clone(),
                    format!("`{written}`: {why}: an image that cannot be judged is not approved"),
                );
                if n < MAX_IMAGE_CHECKS {
                    checks.push(check);
                } else {
                    failed_beyond.push(check);
                }
                continue;
            }
            MaterialKind::NotImage => continue,
        };
        let shown = format!("{} (written `{written}`)", image.display());
        let check = match pinned(image, m) {
            Err(why) => Check::fail(
                codes::PROVENANCE_BASE_UNPINNED,
                m.path.clone(),
                expected.clone(),
                format!("{shown}: not pinned: {why}"),
            ),
            Ok(digest) => {
                let repo_ok: Vec<&BaseImage> = allowed
                    .iter()
                    .filter(|b| b.repository.matches(&image.name))
                    .collect();
                let ok = repo_ok
                    .iter()
                    .any(|b| b.digests.is_empty() || b.digests.contains(&digest));
                let why = if ok {
                    String::new()
                } else if repo_ok.is_empty() {
                    format!(": repository {} is not approved", image.name)
                } else {
                    format!(
                        ": digest {digest} is not an approved digest of {}",
                        image.name
                    )
                };
                Check::pass_if(
                    ok,
                    codes::PROVENANCE_BASE_NOT_ALLOWED,
                    m.path.clone(),
                    expected.clone(),
                    format!("{shown} pinned at {digest}{why}"),
                )
            }
        };
        if n < MAX_IMAGE_CHECKS {
            checks.push(check);
        } else if check.status != crate::policy::report::Status::Pass {
            failed_beyond.push(check);
        }
    }
    if images.len() > MAX_IMAGE_CHECKS {
        let more = images.len() - MAX_IMAGE_CHECKS;
        let lines: Vec<String> = failed_beyond
            .iter()
            .map(|c| format!("{}: {}", c.path, c.found))
            .collect();
        let code = failed_beyond
            .first()
            .map_or(codes::PROVENANCE_BASE_NOT_ALLOWED, |c| c.code);
        checks.push(
            Check::pass_if(
                failed_beyond.is_empty(),
                code,
                list_path,
                expected,
                format!(
                    "{more} more images, {} of them failing",
                    failed_beyond.len()
                ),
            )
            .with_details(cap_details(lines)),
        );
    }
    // The entries skipped as non-images, once, so a reader can see nothing was overlooked.
    if !others.is_empty()
        && let Some(first) = checks.first_mut()
    {
        first.details.extend(cap_details(others));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::report::Status;
    use serde_json::json;

    const V110_BUILDER: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0";

    fn vectors() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/vectors")
    }

    fn read_vector(rel: &str) -> Vec<u8> {
        let p = vectors().join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Every DSSE in-toto statement inside a file (bundles, envelopes, JSON lines).
    fn statements_in(rel: &str) -> Vec<Value> {
        use base64::Engine as _;
        let bytes = read_vector(rel);
        let docs: Vec<Value> = match serde_json::from_slice(&bytes) {
            Ok(v) => vec![v],
            Err(_) => bytes
                .split(|b| *b == b'\n')
                .filter_map(|l| serde_json::from_slice(l).ok())
                .collect(),
        };
        let mut out = Vec::new();
        let mut stack = docs;
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(o) => {
                    if let (Some(Value::String(p)), Some(_)) =
                        (o.get("payload"), o.get("payloadType"))
                    {
                        let raw = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
                        out.push(serde_json::from_slice(&raw).unwrap());
                    }
                    stack.extend(o.into_iter().map(|(_, v)| v));
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
        out
    }

    /// The SLSA statement in a file.
    fn slsa_statement(rel: &str) -> Value {
        statements_in(rel)
            .into_iter()
            .find(|s| {
                s["predicateType"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("https://slsa.dev/provenance/"))
            })
            .unwrap_or_else(|| panic!("no SLSA statement in {rel}"))
    }

    use crate::policy::test_support::attest;

    fn from_vector(rel: &str) -> VerifiedAttestation {
        let st = slsa_statement(rel);
        attest(st["predicateType"].as_str().unwrap(), &st["predicate"])
    }

    /// The real keyless v0.2 provenance of the container generator, from the cosign layout.
    fn layout_provenance() -> VerifiedAttestation {
        let rel = "cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch/blobs/sha256/20b16d5835eceaa7b9dbb7e4fdf4db52a8b9159c1416dd73e54cade07e838917";
        use base64::Engine as _;
        let env: Value = serde_json::from_slice(&read_vector(rel)).unwrap();
        let payload = base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap();
        VerifiedAttestation::signed_for_test(&payload, None)
    }

    /// BuildKit's own v0.2 provenance in the same layout (materials are BuildKit purls).
    fn buildkit_predicate() -> Value {
        let rel = "cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch/blobs/sha256/c1944d4717b644d2c7e1eccab4cc6e963cefbe288d75b7f7c3dfee4f4a894406";
        let st: Value = serde_json::from_slice(&read_vector(rel)).unwrap();
        st["predicate"].clone()
    }

    fn pats(v: &[&str]) -> Vec<Pattern> {
        v.iter().map(|p| Pattern::new(p).unwrap()).collect()
    }

    fn base(repo: &str, digests: &[&str]) -> BaseImage {
        BaseImage {
            repository: Pattern::new(repo).unwrap(),
            digests: digests.iter().map(|d| d.parse().unwrap()).collect(),
        }
    }

    fn only(checks: &[Check], code: &str) -> Check {
        let v: Vec<&Check> = checks.iter().filter(|c| c.code == code).collect();
        assert_eq!(v.len(), 1, "{code} in {checks:#?}");
        v[0].clone()
    }

    #[test]
    fn builder_id_of_the_real_container_generator() {
        let att = layout_provenance();
        let rule = ProvenanceRule {
            builder_ids: pats(&[V110_BUILDER]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, Status::Pass, "{c:#?}");
        assert_eq!(c[0].code, codes::PROVENANCE_BUILDER);
        assert_eq!(c[0].path, "predicate.builder.id");
        assert_eq!(c[0].found, V110_BUILDER);
        assert!(c[0].rule.is_empty());
        // A glob over generator versions passes too.
        let rule = ProvenanceRule {
            builder_ids: pats(&[
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v*",
            ]),
            ..Default::default()
        };
        assert_eq!(evaluate(&att, &rule)[0].status, Status::Pass);
        // The v2.1.0 builder is not this one.
        let rule = ProvenanceRule {
            builder_ids: pats(&[
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0",
            ]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert_eq!(c[0].status, Status::Fail);
        assert_eq!(c[0].code, codes::PROVENANCE_BUILDER);
        assert!(c[0].expected.contains("v2.1.0"));
        assert_eq!(c[0].found, V110_BUILDER);
        // BuildKit's provenance has an empty builder id: never allowed.
        let c = evaluate(&attest(SLSA_V02, &buildkit_predicate()), &rule);
        assert_eq!(c[0].status, Status::Fail);
        assert!(c[0].found.contains("no builder id"), "{}", c[0].found);
    }

    #[test]
    fn v1_builder_source_and_ref_from_each_external_parameters_form() {
        // Container-based builder: externalParameters.source.uri with an @ref suffix.
        let att = from_vector(
            "more/06-slsa-provenance/slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-push-v14.intoto.build.slsa",
        );
        let rule = ProvenanceRule {
            builder_ids: pats(&[
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@refs/tags/v2.1.0",
            ]),
            source_repositories: pats(&["git+https://github.com/slsa-framework/example-package"]),
            source_refs: pats(&["refs/tags/v14*"]),
            base_images: None,
        };
        let c = evaluate(&att, &rule);
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        let b = only(&c, codes::PROVENANCE_BUILDER);
        assert_eq!(b.path, "predicate.runDetails.builder.id");
        let s = only(&c, codes::PROVENANCE_SOURCE);
        assert_eq!(
            s.path,
            "predicate.buildDefinition.externalParameters.source.uri"
        );
        assert!(
            s.found
                .starts_with("https://github.com/slsa-framework/example-package "),
            "{}",
            s.found
        );
        let r = only(&c, codes::PROVENANCE_REF);
        assert_eq!(r.found, "refs/tags/v14");
        // Another repository, another ref: fail, saying what was found.
        let rule = ProvenanceRule {
            source_repositories: pats(&["https://github.com/acme/app.git"]),
            source_refs: pats(&["refs/heads/main"]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        let s = only(&c, codes::PROVENANCE_SOURCE);
        assert_eq!(s.status, Status::Fail);
        assert!(s.expected.contains("https://github.com/acme/app.git"));
        let r = only(&c, codes::PROVENANCE_REF);
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.found, "refs/tags/v14");

        // GitHub Actions buildType (npm): externalParameters.workflow {repository, ref}.
        let att = from_vector(
            "more/06-slsa-provenance/slsa-verifier/npm/gha/gundam-visor-cli-v1-tag.tgz.json",
        );
        let rule = ProvenanceRule {
            builder_ids: pats(&["https://github.com/actions/runner/github-hosted"]),
            source_repositories: pats(&["git+https://github.com/ramonpetgrave64/*"]),
            source_refs: pats(&["refs/tags/v1.*"]),
            base_images: Some(vec![]),
        };
        let c = evaluate(&att, &rule);
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        let s = only(&c, codes::PROVENANCE_SOURCE);
        assert_eq!(
            s.path,
            "predicate.buildDefinition.externalParameters.workflow.repository"
        );
        assert_eq!(s.found, "https://github.com/ramonpetgrave64/gundam-visor");
        let r = only(&c, codes::PROVENANCE_REF);
        assert_eq!(
            r.path,
            "predicate.buildDefinition.externalParameters.workflow.ref"
        );
        assert_eq!(r.found, "refs/tags/v1.0.1");
        // The git resolved dependency is not a base image: an empty allow-list passes.
        let bi = only(&c, codes::PROVENANCE_BASE_NOT_ALLOWED);
        assert!(
            bi.found.contains("no image among 1 entries"),
            "{}",
            bi.found
        );
        let rule = ProvenanceRule {
            source_refs: pats(&["refs/heads/main"]),
            ..Default::default()
        };
        assert_eq!(evaluate(&att, &rule)[0].status, Status::Fail);

        // Maven builder: externalParameters has only inputs: the source is the git
        // resolved dependency.
        let att = from_vector(
            "more/06-slsa-provenance/slsa-verifier/gha_maven/v2.1.0/binary-linux-amd64-workflow_dispatch.build.slsa",
        );
        let rule = ProvenanceRule {
            source_repositories: pats(&["https://github.com/slsa-framework/example-package"]),
            source_refs: pats(&["refs/heads/main"]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        assert_eq!(
            only(&c, codes::PROVENANCE_SOURCE).path,
            "predicate.buildDefinition.resolvedDependencies[0].uri"
        );
    }

    #[test]
    fn v02_source_and_ref_from_config_source() {
        let att = layout_provenance();
        let rule = ProvenanceRule {
            source_repositories: pats(&[
                "git+https://github.com/slsa-framework/example-package.git",
            ]),
            source_refs: pats(&["refs/tags/v13.0.30"]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        assert_eq!(
            only(&c, codes::PROVENANCE_SOURCE).path,
            "predicate.invocation.configSource.uri"
        );
        // A fork is another repository.
        let rule = ProvenanceRule {
            source_repositories: pats(&["git+https://github.com/asraa/*"]),
            ..Default::default()
        };
        assert_eq!(evaluate(&att, &rule)[0].status, Status::Fail);
        // BuildKit's configSource: `https://…/example-package.git#<commit>`: no ref.
        let att = attest(SLSA_V02, &buildkit_predicate());
        let rule = ProvenanceRule {
            source_repositories: pats(&["https://github.com/slsa-framework/example-package"]),
            source_refs: pats(&["refs/heads/main"]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert_eq!(
            only(&c, codes::PROVENANCE_SOURCE).status,
            Status::Pass,
            "{c:#?}"
        );
        let r = only(&c, codes::PROVENANCE_REF);
        assert_eq!(r.status, Status::Fail);
        assert!(r.found.contains("no source ref"));
    }

    #[test]
    fn buildkit_purl_base_images_pinned_and_approved() {
        // Real BuildKit materials: `pkg:docker/golang@1.21?digest=…` and
        // `pkg:docker/gcr.io/distroless/static?digest=…`, plus the git context.
        let att = attest(SLSA_V02, &buildkit_predicate());
        let golang = "sha256:c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e";
        let rule = ProvenanceRule {
            base_images: Some(vec![
                base("docker.io/library/golang", &[golang]),
                base("gcr.io/distroless/*", &[]),
            ]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert_eq!(c.len(), 2, "the git material is not an image: {c:#?}");
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        assert_eq!(c[0].path, "predicate.materials[0]");
        assert!(
            c[0].found.starts_with("docker.io/library/golang:1.21"),
            "{}",
            c[0].found
        );
        assert!(
            c[1].found.starts_with("gcr.io/distroless/static"),
            "{}",
            c[1].found
        );
        // Only alpine approved: both fail, naming the repository.
        let rule = ProvenanceRule {
            base_images: Some(vec![base("docker.io/library/alpine", &[])]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert!(
            c.iter()
                .all(|c| c.status == Status::Fail && c.code == codes::PROVENANCE_BASE_NOT_ALLOWED),
            "{c:#?}"
        );
        assert!(
            c[0].found
                .contains("repository docker.io/library/golang is not approved")
        );
        // The right repository at another digest.
        let rule = ProvenanceRule {
            base_images: Some(vec![
                base(
                    "docker.io/library/golang",
                    &["sha256:0000000000000000000000000000000000000000000000000000000000000000"],
                ),
                base("gcr.io/distroless/static", &[]),
            ]),
            ..Default::default()
        };
        let c = evaluate(&att, &rule);
        assert_eq!(c[0].status, Status::Fail);
        assert!(
            c[0].found.contains("not an approved digest"),
            "{}",
            c[0].found
        );
        assert_eq!(c[1].status, Status::Pass);
    }

    #[test]
    fn unpinned_and_other_spellings_of_base_images() {
        // Derived from the real BuildKit provenance: its materials replaced by other
        // spellings of images (tag only, docker.io/library, oci://, docker://, index.docker.io,
        // a plain pkg:docker purl without digest) and non-image dependencies.
        let mut p = buildkit_predicate();
        let d = "c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e";
        p["materials"] = json!([
            {"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64", "digest": {"sha256": d}},
            {"uri": format!("docker.io/library/alpine@sha256:{d}")},
            {"uri": format!("oci://index.docker.io/alpine:3.19@sha256:{d}")},
            {"uri": format!("docker://alpine@sha256:{d}")},
            {"uri": format!("pkg:docker/docker.io/library/alpine@sha256:{d}")},
            {"uri": format!("pkg:oci/alpine@sha256%3A{d}?repository_url=docker.io/library/alpine")},
            {"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"sha1": "d37a7f740ee7404914456f24dcd90e865a0509e8"}},
            {"uri": "pkg:github/actions/checkout@v4"},
            {"uri": "pkg:golang/golang.org/x/net@v0.1.0"},
            {"uri": "https://github.com/actions/virtual-environments/releases/tag/ubuntu22/20230122.1"},
        ]);
        let rule = ProvenanceRule {
            base_images: Some(vec![base(
                "docker.io/library/alpine",
                &[&format!("sha256:{d}")],
            )]),
            ..Default::default()
        };
        let c = evaluate(&attest(SLSA_V02, &p), &rule);
        assert_eq!(c.len(), 6, "{c:#?}");
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        // Unpinned: a tag, and a purl whose digest is missing.
        p["materials"] = json!([
            {"uri": "alpine:3.19"},
            {"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64"},
            {"uri": format!("docker.io/library/alpine@sha256:{d}"), "digest": {"sha256": "1111111111111111111111111111111111111111111111111111111111111111"}},
        ]);
        let rule = ProvenanceRule {
            base_images: Some(vec![base("docker.io/library/*", &[])]),
            ..Default::default()
        };
        let c = evaluate(&attest(SLSA_V02, &p), &rule);
        assert_eq!(c.len(), 3);
        for c in &c {
            assert_eq!(c.status, Status::Fail);
            assert_eq!(c.code, codes::PROVENANCE_BASE_UNPINNED, "{c:#?}");
        }
        assert!(
            c[0].found.contains("docker.io/library/alpine:3.19"),
            "{}",
            c[0].found
        );
        assert!(c[2].found.contains("digest.sha256 says"), "{}", c[2].found);
        // An empty allow-list allows no image at all.
        p["materials"] = json!([{"uri": format!("alpine@sha256:{d}")}]);
        let c = evaluate(
            &attest(SLSA_V02, &p),
            &ProvenanceRule {
                base_images: Some(vec![]),
                ..Default::default()
            },
        );
        assert_eq!(c[0].status, Status::Fail);
        assert!(c[0].expected.contains("allow-list is empty"));
    }

    #[test]
    fn typed_but_unparseable_images_fail_closed() {
        // Derived from the real BuildKit provenance: its golang material (a pkg:docker purl
        // with a digest) re-written in forms that say "image" by their scheme or purl type but
        // do not parse — an upper-case path, an empty qualifier key, an empty subpath, a bad
        // media-type name, a scheme-less reference with a digest — and the git context kept.
        let p = buildkit_predicate();
        let d = "c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e";
        let git = p["materials"][2].clone();
        assert!(git["uri"].as_str().unwrap().contains("github.com"), "{git}");
        let rule = ProvenanceRule {
            base_images: Some(vec![base("**", &[])]),
            ..Default::default()
        };
        for bad in [
            json!({"uri": format!("docker://evil.io/Evil/app@sha256:{d}")}),
            json!({"uri": format!("oci://evil.io/Evil/app@sha256:{d}")}),
            json!({"uri": format!("docker-image://evil.io/app@@sha256:{d}")}),
            json!({"uri": format!("pkg:docker/evil.io/app@sha256:{d}?=x")}),
            json!({"uri": format!("pkg:docker/evil.io/app@sha256:{d}#/")}),
            json!({"uri": format!("pkg:OCI/app@sha256:{d}?=x")}),
            json!({"uri": format!("evil.io/Evil/app@sha256:{d}")}),
            json!({"uri": "https://evil.io/x", "name": format!("pkg:docker/evil.io/app@sha256:{d}#/")}),
            json!({"name": "Evil Image", "mediaType": "application/vnd.oci.image.index.v1+json", "digest": {"sha256": d}}),
        ] {
            let mut p = p.clone();
            p["materials"] = json!([bad, git]);
            let c = evaluate(&attest(SLSA_V02, &p), &rule);
            assert_eq!(c.len(), 1, "{bad}: {c:#?}");
            assert_eq!(c[0].status, Status::Fail, "{bad}: {c:#?}");
            assert_eq!(c[0].code, codes::PROVENANCE_BASE_UNREADABLE, "{bad}");
            assert_eq!(c[0].path, "predicate.materials[0]");
            // The skipped git entry is listed.
            assert!(
                c[0].details
                    .iter()
                    .any(|l| l.starts_with("predicate.materials[1]: skipped, not an image: ")),
                "{c:#?}"
            );
        }
        // The same materials as written by BuildKit still pass, and the git context is listed.
        let c = evaluate(&attest(SLSA_V02, &p), &rule);
        assert_eq!(c.len(), 2, "{c:#?}");
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        assert_eq!(
            c[0].details,
            vec![format!(
                "predicate.materials[2]: skipped, not an image: {}",
                git["uri"].as_str().unwrap()
            )]
        );
        assert!(c[1].details.is_empty());
        // Non-image package URLs and schemes are still skipped, not failed.
        let mut q = p.clone();
        q["materials"] = json!([
            {"uri": "pkg:github/actions/checkout@v4"},
            {"uri": "pkg:golang/golang.org/x/net@v0.1.0?=x"},
            {"uri": "https://example.com/x@sha256:00"},
            git,
        ]);
        let c = evaluate(&attest(SLSA_V02, &q), &rule);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, Status::Pass, "{c:#?}");
        assert_eq!(c[0].details.len(), 4);
    }

    #[test]
    fn v1_resolved_dependency_images() {
        // Derived from the real container-based v1 provenance: its builder image
        // (externalParameters.builderImage, `bash@sha256:…`) added as a resolved dependency.
        let st = slsa_statement(
            "more/06-slsa-provenance/slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-push-v14.intoto.build.slsa",
        );
        let mut p = st["predicate"].clone();
        let image = p["buildDefinition"]["externalParameters"]["builderImage"].clone();
        p["buildDefinition"]["resolvedDependencies"]
            .as_array_mut()
            .unwrap()
            .push(image);
        let att = attest(SLSA_V1, &p);
        let ok = ProvenanceRule {
            base_images: Some(vec![base("docker.io/library/bash", &[])]),
            ..Default::default()
        };
        let c = evaluate(&att, &ok);
        assert_eq!(
            c.len(),
            1,
            "the two git dependencies are not images: {c:#?}"
        );
        assert_eq!(c[0].status, Status::Pass);
        assert_eq!(
            c[0].path,
            "predicate.buildDefinition.resolvedDependencies[2]"
        );
        let no = ProvenanceRule {
            base_images: Some(vec![base("cgr.dev/chainguard/*", &[])]),
            ..Default::default()
        };
        assert_eq!(evaluate(&att, &no)[0].status, Status::Fail);
        // The untouched provenance has no image at all.
        let c = evaluate(&attest(SLSA_V1, &st["predicate"]), &no);
        assert_eq!(c[0].status, Status::Pass);
    }

    #[test]
    fn malformed_and_unknown_predicates() {
        let dir = "more/06-slsa-provenance/in-toto-attestation/provenance-v1-predicate-validation";
        let rule = ProvenanceRule {
            builder_ids: pats(&["theId"]),
            ..Default::default()
        };
        let valid: Value = serde_json::from_slice(&read_vector(&format!(
            "{dir}/valid-provenance-v1-predicate.json"
        )))
        .unwrap();
        let c = evaluate(&attest(SLSA_V1, &valid), &rule);
        assert_eq!(c[0].status, Status::Pass, "{c:#?}");
        for bad in [
            "no-buildDefinition.json",
            "buildDefinition-missing-buildType-required-field.json",
            "buildDefinition-missing-externalParameters-required-field.json",
            "no-runDetails.json",
            "runDetails-missing-builder-required-field.json",
            "runDetails.builder-missing-id-required-field.json",
        ] {
            let p: Value = serde_json::from_slice(&read_vector(&format!("{dir}/{bad}"))).unwrap();
            let c = evaluate(&attest(SLSA_V1, &p), &rule);
            assert_eq!(c.len(), 1, "{bad}");
            assert_eq!(c[0].status, Status::Fail, "{bad}");
            assert_eq!(c[0].code, codes::PROVENANCE_MALFORMED, "{bad}");
        }
        // Not provenance; odd shapes never panic (a statement's predicate is always an object).
        let c = evaluate(&attest("https://example.com/other", &valid), &rule);
        assert_eq!(c[0].code, codes::PROVENANCE_MALFORMED);
        for odd in [
            json!({}),
            json!({"builder": 3}),
            json!({"builder": {}, "materials": {"a": 1}}),
        ] {
            let c = evaluate(&attest(SLSA_V02, &odd), &rule);
            assert_eq!(c[0].status, Status::Fail, "{odd}");
        }
        // v0.2 with a builder and odd materials entries: judged, not a crash.
        let p = json!({"builder": {"id": "theId"}, "materials": [1, {"uri": 2}, {"uri": "UPPER/Case:tag"}]});
        let c = evaluate(
            &attest(SLSA_V02, &p),
            &ProvenanceRule {
                base_images: Some(vec![]),
                ..rule.clone()
            },
        );
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    }

    #[test]
    fn image_names_normalise_to_docker_defaults() {
        for (s, name) in [
            ("alpine", "docker.io/library/alpine"),
            ("alpine:3.19", "docker.io/library/alpine"),
            ("library/alpine", "docker.io/library/alpine"),
            ("index.docker.io/library/alpine", "docker.io/library/alpine"),
            ("docker.io/alpine", "docker.io/library/alpine"),
            ("localhost:5000/app:v1", "localhost:5000/app"),
            ("ghcr.io/acme/app@sha256:abc", "ghcr.io/acme/app"),
        ] {
            assert_eq!(parse_image_ref(s).unwrap().name, name, "{s}");
        }
        assert!(parse_image_ref("Not An Image").is_none());
        assert!(parse_image_ref("a@b").is_none());
        let i = image_from_purl(
            "pkg:docker/gcr.io/distroless/static?digest=sha256:072d&platform=linux%2Famd64",
        )
        .unwrap();
        assert_eq!(i.name, "gcr.io/distroless/static");
        assert_eq!(i.digest.as_deref(), Some("sha256:072d"));
        let i =
            image_from_purl("pkg:docker/customer/dockerimage@sha256%3A244f?repository_url=gcr.io")
                .unwrap();
        assert_eq!(i.name, "gcr.io/customer/dockerimage");
        assert!(image_from_purl("pkg:npm/left-pad@1").is_none());
        assert_eq!(
            normalize_repository("git+https://github.com/acme/app.git@refs/heads/main"),
            "https://github.com/acme/app"
        );
        assert_eq!(
            git_ref("git+https://github.com/acme/app@refs/heads/main").as_deref(),
            Some("refs/heads/main")
        );
        assert_eq!(git_ref("https://github.com/acme/app.git#d37a7f7"), None);
    }
}
