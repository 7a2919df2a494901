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
use crate::policy::report::{Check, cap_findings, codes};
use crate::policy::rules::{BaseImage, Pattern, ProvenanceRule, describe};

/// SLSA provenance v0.2.
pub(crate) const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
/// SLSA provenance v1 (also matches `v1.0`, `v1.1`).
pub(crate) const SLSA_V1: &str = "https://slsa.dev/provenance/v1";

/// At most this many base-image checks; the rest are summarised in one.
const MAX_IMAGE_CHECKS: usize = 50;

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

/// Parses `[HOST[:PORT]/]REPO[:TAG][@ALG:ENCODED]` with vouch-core's reference grammar, or
/// `None` when it is not an image reference. Unlike an image reference given to vouch, the
/// digest may be of any algorithm and is kept as written: a material pinned by something other
/// than a valid sha256 digest is an image whose pin fails ([`pinned`] says why), not a string
/// skipped as no image.
pub(crate) fn parse_image_ref(s: &str) -> Option<ImageRef> {
    use vouch_core::oci::reference::{is_digest, split_reference};
    let (name, tag, digest) = split_reference(s.trim()).ok()?;
    if digest.is_some_and(|d| !is_digest(d)) {
        return None;
    }
    Some(ImageRef {
        name: normalize_image_name(name)?,
        tag: tag.map(str::to_owned),
        digest: digest.map(str::to_owned),
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
            .with_details(cap_findings(others)),
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
            .with_details(cap_findings(lines)),
        );
    }
    // The entries skipped as non-images, once, so a reader can see nothing was overlooked.
    if !others.is_empty()
        && let Some(first) = checks.first_mut()
    {
        first.details.extend(cap_findings(others));
    }
    checks
}

#[cfg(test)]
mod tests;
