//! OpenVEX documents (`https://openvex.dev/ns`, v0.0.x and v0.2.x): parsing, and deciding which
//! statement applies to a finding.
//!
//! A statement applies to a finding when its vulnerability (`vulnerability.name`,
//! `vulnerability.@id` when there is no name, one of `vulnerability.aliases`, or the older string
//! form `"vulnerability": "CVE-…"`) equals the finding's id or one of its aliases (ASCII case
//! ignored), and one of its products applies:
//! - a product WITH subcomponents applies when the product is this image — by digest (see
//!   below), or by its repository named in full, without a digest: a `pkg:oci` purl with
//!   `repository_url`, a `pkg:docker` purl (namespace and name are the repository), or
//!   `HOST/REPO` (`oci://`, `docker://` allowed) equal to the image's `HOST/REPO` after
//!   docker's defaults; such a product applies to every digest of that repository — and one
//!   subcomponent's purl matches the finding's package purl. A bare `pkg:oci/NAME` without
//!   digest and without `repository_url` names no repository and never applies;
//! - a product WITH subcomponents that is an application PACKAGE (a purl, not `pkg:oci` /
//!   `pkg:docker`: `pkg:golang/github.com/aquasecurity/trivy`) applies, with a subcomponent
//!   matching the finding's package, only through the VERIFIED dependency graphs of the image
//!   ([`DepGraph`]: the newest scan's own packages, the verified SBOMs): the package must be in
//!   at least one graph and, in every graph that has it, every path from it up to the image
//!   must pass a package matching one of the statement's products (Trivy's `reachRoot`). A
//!   version-less product matches every version of the application, as in Trivy. Nothing in a
//!   VEX document is read as a dependency. A statement that suppresses nothing applies when an
//!   application depends on the package in some graph. When such a statement does not apply,
//!   the verdict notes why ([`unapplied_notes`]);
//! - a product WITHOUT subcomponents applies when it is this image by digest: a
//!   `pkg:oci`/`pkg:docker` purl whose digest is the image's (its `repository_url`, when given,
//!   must be this image's repository), an image reference `HOST/REPO@sha256:…` of this image, or
//!   a `hashes.sha-256` equal to the image digest; or when the product is itself a package purl
//!   matching the finding's package purl (the statement is about that package wherever it is;
//!   this is how distributions publish VEX, e.g. `pkg:apk/wolfi/git@2.39.0-r1`). Such a package
//!   product must name a VERSION to suppress (`not_affected`, `fixed`): a version-less one would
//!   also clear every later, vulnerable version; it is not applied and the verdict notes it
//!   ([`unapplied_notes`]). A version-less `affected` / `under_investigation` statement still
//!   applies: it can only make the verdict stricter.
//!
//! Purl matching: type, namespace and name equal (ASCII case ignored); the VEX purl's version,
//! when it has one, equal to the finding's (a version-less VEX purl matches every version); each
//! qualifier of the VEX purl present with the same value in the finding's purl (qualifier order
//! never matters; a VEX purl with fewer qualifiers is less specific and matches more); its
//! subpath, when given, equal. Strings that are not purls are compared exactly.
//!
//! Several statements may apply to one finding (across documents, or the history of one
//! document): the latest by timestamp (a statement's own `timestamp`, else its document's) wins;
//! equal times go to the one given later. The finding is suppressed when that statement's status
//! is `not_affected` or `fixed`; `affected` and `under_investigation` suppress nothing.

use std::str::FromStr;

use serde_json::Value;
use vouch_core::scan::Finding;

use crate::policy::depgraph::DepGraph;
use crate::policy::provenance::{image_from_purl, parse_image_ref};
use crate::policy::rules::ImageContext;

/// The OpenVEX context prefix (`https://openvex.dev/ns`, `https://openvex.dev/ns/v0.2.0`).
pub(crate) const OPENVEX_CONTEXT: &str = "https://openvex.dev/ns";

/// A statement's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VexStatus {
    /// `not_affected`.
    NotAffected,
    /// `affected`.
    Affected,
    /// `fixed`.
    Fixed,
    /// `under_investigation`.
    UnderInvestigation,
}

impl VexStatus {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "not_affected" => Some(Self::NotAffected),
            "affected" => Some(Self::Affected),
            "fixed" => Some(Self::Fixed),
            "under_investigation" => Some(Self::UnderInvestigation),
            _ => None,
        }
    }

    /// As written in OpenVEX.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether a statement with this status suppresses a finding.
    pub(crate) fn suppresses(self) -> bool {
        matches!(self, Self::NotAffected | Self::Fixed)
    }
}

/// One product of a statement.
#[derive(Debug, Clone, Default)]
pub(crate) struct Product {
    /// `@id` and `identifiers.purl` (or the string itself in v0.0.x).
    ids: Vec<String>,
    /// `hashes.sha-256` (hex).
    sha256: Vec<String>,
    /// Subcomponent identifiers (`@id`, `identifiers.purl`).
    subcomponents: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    /// The vulnerability's name (or `@id`).
    pub vulnerability: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// The status.
    pub status: VexStatus,
    /// `justification`, when given.
    pub justification: Option<String>,
    /// Unix seconds: the statement's timestamp, else its document's.
    pub timestamp: Option<i64>,
    products: Vec<Product>,
}

/// A parsed OpenVEX document.
#[derive(Debug, Clone)]
pub(crate) struct VexDocument {
    /// Where it came from, for messages (a policy path, or an attestation).
    pub source: String,
    /// Its statements, in document order.
    pub statements: Vec<Statement>,
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn time_of(v: &Value, what: &str) -> Result<Option<i64>, String> {
    match v.get("timestamp") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) => vouch_core::time::parse_rfc3339(t)
            .map(Some)
            .ok_or_else(|| format!("{what}.timestamp `{t}` is not an RFC 3339 date-time")),
        Some(_) => Err(format!("{what}.timestamp is not a string")),
    }
}

/// Identifiers of a product or subcomponent: a string, or `{"@id", "identifiers": {"purl"}}`.
fn identifiers(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.trim().to_owned()],
        Value::Object(_) => {
            let mut ids: Vec<String> = opt_str(v, "@id").into_iter().collect();
            if let Some(p) = v.get("identifiers").and_then(|i| opt_str(i, "purl"))
                && !ids.contains(&p)
            {
                ids.push(p);
            }
            ids
        }
        _ => Vec::new(),
    }
}

fn subcomponents(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.iter().flat_map(identifiers).collect()),
        Some(_) => Err(format!("{what}.subcomponents is not an array")),
    }
}

fn parse_statement(i: usize, s: &Value, doc_time: Option<i64>) -> Result<Statement, String> {
    let what = format!("statements[{i}]");
    if !s.is_object() {
        return Err(format!("{what} is not an object"));
    }
    let (vulnerability, aliases) = match s.get("vulnerability") {
        Some(Value::String(name)) if !name.trim().is_empty() => (name.trim().to_owned(), vec![]),
        Some(v @ Value::Object(_)) => {
            let name = opt_str(v, "name")
                .or_else(|| opt_str(v, "@id"))
                .ok_or_else(|| format!("{what}.vulnerability has no name"))?;
            let aliases = match v.get("aliases") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.trim().to_owned())
                    .collect(),
                Some(_) => return Err(format!("{what}.vulnerability.aliases is not an array")),
            };
            (name, aliases)
        }
        _ => return Err(format!("{what} has no vulnerability")),
    };
    let status_text = opt_str(s, "status").ok_or_else(|| format!("{what} has no status"))?;
    let status = VexStatus::parse(&status_text).ok_or_else(|| {
        format!(
            "{what}.status `{status_text}` is not one of not_affected, affected, fixed, under_investigation"
        )
    })?;
    let shared_subs = subcomponents(s.get("subcomponents"), &what)?;
    let products = match s.get("products") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let pw = format!("{what}.products[{j}]");
                let ids = identifiers(p);
                if ids.is_empty() {
                    return Err(format!("{pw} has no @id or identifiers.purl"));
                }
                let sha256 = p
                    .get("hashes")
                    .and_then(|h| opt_str(h, "sha-256"))
                    .map(|h| h.to_ascii_lowercase())
                    .into_iter()
                    .collect();
                let mut subs = subcomponents(p.get("subcomponents"), &pw)?;
                subs.extend(shared_subs.iter().cloned());
                Ok(Product {
                    ids,
                    sha256,
                    subcomponents: subs,
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => return Err(format!("{what} has no products")),
    };
    Ok(Statement {
        vulnerability,
        aliases,
        status,
        justification: opt_str(s, "justification"),
        timestamp: time_of(s, &what)?.or(doc_time),
        products,
    })
}

/// Parses an OpenVEX document (an `openvex` predicate, or a file named in the policy).
pub(crate) fn parse_document(source: &str, v: &Value) -> Result<VexDocument, String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    match v.get("@context").and_then(Value::as_str) {
        Some(c) if c.starts_with(OPENVEX_CONTEXT) => {}
        Some(c) => {
            return Err(format!(
                "@context `{c}` is not OpenVEX ({OPENVEX_CONTEXT}…)"
            ));
        }
        None => return Err(format!("no @context (expected {OPENVEX_CONTEXT}…)")),
    }
    let doc_time = time_of(v, "document")?;
    let statements = v
        .get("statements")
        .and_then(Value::as_array)
        .ok_or("no statements array")?
        .iter()
        .enumerate()
        .map(|(i, s)| parse_statement(i, s, doc_time))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(VexDocument {
        source: source.to_owned(),
        statements,
    })
}

/// Whether the VEX purl `vex` matches the finding's purl `found` (see the module docs).
pub(crate) fn purl_matches(vex: &str, found: &str) -> bool {
    let (Ok(a), Ok(b)) = (
        packageurl::PackageUrl::from_str(vex),
        packageurl::PackageUrl::from_str(found),
    ) else {
        return vex == found;
    };
    let same = |x: Option<&str>, y: Option<&str>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    a.ty().eq_ignore_ascii_case(b.ty())
        && same(
            a.namespace().filter(|n| !n.is_empty()),
            b.namespace().filter(|n| !n.is_empty()),
        )
        && a.name().eq_ignore_ascii_case(b.name())
        && a.version().is_none_or(|v| b.version() == Some(v))
        && a.qualifiers().iter().all(|(k, v)| {
            b.qualifiers()
                .iter()
                .any(|(k2, v2)| k.eq_ignore_ascii_case(k2) && v == v2)
        })
        && a.subpath().is_none_or(|s| b.subpath() == Some(s))
}

fn has_repository_url(id: &str) -> bool {
    packageurl::PackageUrl::from_str(id).is_ok_and(|p| {
        p.qualifiers()
            .keys()
            .any(|k| k.as_ref() == "repository_url")
    })
}

/// Whether a `pkg:oci` / `pkg:docker` purl's repository must be compared: `pkg:docker` always
/// names it; `pkg:oci` only with `repository_url`.
fn purl_names_repository(id: &str) -> bool {
    id.to_ascii_lowercase().starts_with("pkg:docker/") || has_repository_url(id)
}

fn is_image_purl(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    lower.starts_with("pkg:oci/") || lower.starts_with("pkg:docker/")
}

/// `id` without an `oci://` / `docker://` scheme (any case).
fn strip_image_scheme(id: &str) -> &str {
    for scheme in ["oci://", "docker://"] {
        if id
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        {
            return &id[scheme.len()..];
        }
    }
    id
}

/// Whether `id` names this image by digest.
fn is_this_image(id: &str, image: &ImageContext) -> bool {
    let digest = image.digest.to_string();
    if is_image_purl(id) {
        return image_from_purl(id).is_some_and(|r| {
            r.digest.as_deref() == Some(digest.as_str())
                && (!purl_names_repository(id) || r.name == image.name)
        });
    }
    parse_image_ref(strip_image_scheme(id))
        .is_some_and(|r| r.digest.as_deref() == Some(digest.as_str()) && r.name == image.name)
}

/// Whether `id` names this image's repository: by digest (see [`is_this_image`]), or without
/// a digest when it names the repository in full — a `pkg:oci` purl with `repository_url`, a
/// `pkg:docker` purl (its namespace and name are the repository), or `HOST/REPO` — equal to
/// the image's `HOST/REPO` after docker's defaults. A bare `pkg:oci/NAME` without digest
/// names no repository (every registry has an `app`) and never matches.
fn is_this_repository(id: &str, image: &ImageContext) -> bool {
    if is_this_image(id, image) {
        return true;
    }
    if is_image_purl(id) {
        return purl_names_repository(id)
            && image_from_purl(id).is_some_and(|r| r.digest.is_none() && r.name == image.name);
    }
    parse_image_ref(strip_image_scheme(id))
        .is_some_and(|r| r.digest.is_none() && r.name == image.name)
}

/// Whether a purl names a version (`pkg:apk/wolfi/git@2.39.0-r1`).
fn purl_has_version(id: &str) -> bool {
    packageurl::PackageUrl::from_str(id).is_ok_and(|p| p.version().is_some_and(|v| !v.is_empty()))
}

impl Product {
    /// Whether the product is this image (by digest), or, with subcomponents, this image or
    /// its repository and one subcomponent is the finding's package.
    fn is_image(&self, purl: Option<&str>, image: &ImageContext) -> bool {
        if self.subcomponents.is_empty() {
            self.ids.iter().any(|id| is_this_image(id, image))
                || self.sha256.iter().any(|h| *h == image.digest.hex())
        } else {
            let Some(p) = purl else {
                return false;
            };
            (self.ids.iter().any(|id| is_this_repository(id, image))
                || self.sha256.iter().any(|h| *h == image.digest.hex()))
                && self.subcomponents.iter().any(|s| purl_matches(s, p))
        }
    }

    /// The product's package purls (no subcomponents, not an image) matching the finding's
    /// package: `(id, has a version)`.
    fn packages<'a>(&'a self, purl: Option<&'a str>) -> impl Iterator<Item = (&'a str, bool)> {
        let p = purl.filter(|_| self.subcomponents.is_empty());
        self.ids
            .iter()
            .filter(move |id| !is_image_purl(id) && p.is_some_and(|p| purl_matches(id, p)))
            .map(|id| (id.as_str(), purl_has_version(id)))
    }

    /// The product's package purls that may be tied to the image by a verified dependency
    /// graph: with a subcomponent that is the finding's package, not an image (`pkg:oci`,
    /// `pkg:docker`), and a purl (an application, `pkg:golang/github.com/acme/app`).
    fn applications<'a>(&'a self, purl: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let subs = self.subcomponents.iter().any(|s| purl_matches(s, purl));
        self.ids
            .iter()
            .filter(move |id| {
                subs && !is_image_purl(id) && packageurl::PackageUrl::from_str(id).is_ok()
            })
            .map(String::as_str)
    }

    /// Whether the product applies to the finding in `image` for a statement that
    /// `suppresses` (or not). A package product (no subcomponents) must name a version to
    /// suppress: a version-less one would also clear every future, vulnerable version.
    fn applies(&self, purl: Option<&str>, image: &ImageContext, suppresses: bool) -> bool {
        self.is_image(purl, image)
            || self
                .packages(purl)
                .any(|(_, versioned)| versioned || !suppresses)
    }
}

impl Statement {
    fn names(&self, finding: &Finding) -> bool {
        std::iter::once(&self.vulnerability)
            .chain(&self.aliases)
            .any(|v| {
                std::iter::once(&finding.id)
                    .chain(&finding.aliases)
                    .any(|f| f.eq_ignore_ascii_case(v))
            })
    }

    /// Whether this statement is about `finding` in `image`: one of its products is the image
    /// or the package (see the module docs), or an application tied to the image by the
    /// verified dependency `graphs` ([`Self::tied`]).
    pub(crate) fn applies(
        &self,
        finding: &Finding,
        image: &ImageContext,
        graphs: &[DepGraph],
    ) -> bool {
        let suppresses = self.status.suppresses();
        let purl = finding.package.purl.as_deref();
        self.names(finding)
            && (self
                .products
                .iter()
                .any(|p| p.applies(purl, image, suppresses))
                || purl.is_some_and(|p| self.tied(p, graphs) == Tie::Applies))
    }

    /// How the statement's application products (products with a subcomponent that is the
    /// package `purl`, themselves package purls) relate to `purl` in the verified `graphs`.
    /// A suppressing statement applies when the package is in at least one graph and, in
    /// EVERY graph that has it, every path from it up to the image passes one of these
    /// applications (Trivy's rule: the finding is cut off from the root). A statement that
    /// suppresses nothing applies when one of them depends on the package in some graph.
    fn tied(&self, purl: &str, graphs: &[DepGraph]) -> Tie {
        let apps: Vec<&str> = self
            .products
            .iter()
            .flat_map(|p| p.applications(purl))
            .collect();
        if apps.is_empty() {
            return Tie::NoApplication;
        }
        let is_app = |node: &str| apps.iter().any(|a| purl_matches(a, node));
        if !self.status.suppresses() {
            return if graphs.iter().any(|g| g.has_dependent(purl, &is_app)) {
                Tie::Applies
            } else {
                Tie::NotADependent
            };
        }
        let mut any = false;
        for g in graphs {
            match g.covered_by(purl, &is_app) {
                None => {}
                Some(true) => any = true,
                Some(false) => {
                    return if g.has_dependent(purl, &is_app) {
                        Tie::OtherPaths(g.source.clone())
                    } else {
                        Tie::NotADependent
                    };
                }
            }
        }
        if any { Tie::Applies } else { Tie::NotInGraphs }
    }

    /// The version-less package products that would have suppressed `finding` had they named
    /// a version (for the verdict's notes), when the statement does not apply otherwise.
    fn versionless_packages(
        &self,
        finding: &Finding,
        image: &ImageContext,
        graphs: &[DepGraph],
    ) -> Vec<String> {
        if !self.status.suppresses() || !self.names(finding) || self.applies(finding, image, graphs)
        {
            return Vec::new();
        }
        let purl = finding.package.purl.as_deref();
        self.products
            .iter()
            .flat_map(|p| p.packages(purl))
            .filter(|(_, versioned)| !versioned)
            .map(|(id, _)| id.to_owned())
            .collect()
    }

    /// Why a suppressing statement about an application of the finding's package did not
    /// apply (for the verdict's notes).
    fn untied(
        &self,
        finding: &Finding,
        image: &ImageContext,
        graphs: &[DepGraph],
    ) -> Option<String> {
        let purl = finding.package.purl.as_deref()?;
        if !self.status.suppresses() || !self.names(finding) || self.applies(finding, image, graphs)
        {
            return None;
        }
        let apps: Vec<String> = self
            .products
            .iter()
            .flat_map(|p| p.applications(purl))
            .map(|a| format!("`{a}`"))
            .collect();
        let why = match self.tied(purl, graphs) {
            Tie::Applies | Tie::NoApplication => return None,
            Tie::NotInGraphs => format!(
                "no verified dependency graph of this image (the scan's packages, a verified \
                 SBOM) has `{purl}`"
            ),
            Tie::NotADependent => format!(
                "{} does not depend on `{purl}` in the verified dependency graphs of this image",
                apps.join(", ")
            ),
            Tie::OtherPaths(source) => format!(
                "`{purl}` is also reached other than through {} ({source})",
                apps.join(", ")
            ),
        };
        Some(format!(
            "says {} for {}: not applied ({why})",
            self.describe(),
            apps.join(", ")
        ))
    }

    /// `status, justification` for messages.
    pub(crate) fn describe(&self) -> String {
        let mut s = self.status.as_str().to_owned();
        if let Some(j) = &self.justification {
            s.push_str(", ");
            s.push_str(j);
        }
        s
    }
}

/// How a statement's application products relate to the finding's package in the verified
/// dependency graphs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tie {
    /// No product with a subcomponent that is the package is itself a package purl.
    NoApplication,
    /// No verified graph has the package.
    NotInGraphs,
    /// No application depends on the package.
    NotADependent,
    /// The package is also reached other than through the applications (in this graph).
    OtherPaths(String),
    /// The statement applies.
    Applies,
}

/// The statement that decides `finding` in `image`: the latest applicable one across `docs`
/// (see the module docs), with its document. `graphs` are the verified dependency graphs of
/// the image ([`DepGraph`]).
pub(crate) fn decide<'a>(
    docs: &'a [VexDocument],
    finding: &Finding,
    image: &ImageContext,
    graphs: &[DepGraph],
) -> Option<(&'a VexDocument, &'a Statement)> {
    let mut best: Option<(&VexDocument, &Statement)> = None;
    for doc in docs {
        for st in &doc.statements {
            if !st.applies(finding, image, graphs) {
                continue;
            }
            let later = match best {
                None => true,
                Some((_, b)) => st.timestamp.unwrap_or(i64::MIN) >= b.timestamp.unwrap_or(i64::MIN),
            };
            if later {
                best = Some((doc, st));
            }
        }
    }
    best
}

/// Notes for the verdict: statements that would have suppressed `finding` but were not
/// applied because their product is a package purl without a version, or an application
/// that the verified dependency graphs do not tie to the finding's package in this image.
pub(crate) fn unapplied_notes(
    docs: &[VexDocument],
    finding: &Finding,
    image: &ImageContext,
    graphs: &[DepGraph],
) -> Vec<String> {
    let mut notes = Vec::new();
    for doc in docs {
        for st in &doc.statements {
            if let Some(n) = st.untied(finding, image, graphs) {
                notes.push(format!("VEX ({}) {n}", doc.source));
            }
            for id in st.versionless_packages(finding, image, graphs) {
                notes.push(format!(
                    "VEX ({}) says {} for `{id}`: not applied (a package product without a \
                     version would cover every version)",
                    doc.source,
                    st.describe()
                ));
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests;
