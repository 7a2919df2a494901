//! SBOMs (CycloneDX JSON, SPDX 2.x JSON) against an [`SbomRule`]: license deny-list and
//! allow-list, banned packages.
//!
//! The predicate is read with narrow structs (only the fields judged; everything else skipped
//! without being built), never as a whole `serde_json::Value`.
//!
//! Packages: CycloneDX `metadata.component` and `components[]`, recursively with their nested
//! `components`; SPDX `packages[]` (purl from `externalRefs` of `referenceType: purl`).
//! Licenses: CycloneDX `licenses[]` — `license.id`, `license.name`, `expression` — each entry
//! judged on its own (all must pass); SPDX `licenseConcluded`, else `licenseDeclared` when the
//! conclusion is absent, `NOASSERTION` or `NONE`.
//!
//! Each license is an SPDX expression evaluated with the `spdx` crate (lax mode: `/` for OR,
//! imprecise names such as `Apache 2`, GNU `+`): denied when every way to satisfy it needs a
//! denied license (`GPL-2.0-only OR MIT` passes a deny of `GPL-*`; `GPL-2.0-only AND MIT` does
//! not); with an allow-list, accepted when some way to satisfy it uses only allowed licenses.
//! Patterns are globs on ids (`AGPL-*`), matched against the license id, its `+` /
//! `-or-later` spelling, `LicenseRef-…`, and `X WITH Y`. A CycloneDX `license.name` is first
//! mapped to an SPDX id when it is one (after dropping a trailing ` License`: `MIT License` →
//! `MIT`). A license string that is no SPDX expression is a license named by that string: it
//! matches only a pattern matching that exact string. Packages without any license are not
//! judged by the allow-list; the verdict counts them.

use serde::Deserialize;
use spdx::expression::{ExprNode, Expression};
use spdx::{LicenseReq, ParseMode};

use crate::attestation::VerifiedAttestation;
use crate::policy::provenance::cap_details;
use crate::policy::report::{Check, codes};
use crate::policy::rules::{Pattern, SbomRule, any_matches, describe};

#[derive(Deserialize)]
struct Doc {
    #[serde(default, rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(default, rename = "specVersion")]
    spec_version: Option<String>,
    #[serde(default, rename = "spdxVersion")]
    spdx_version: Option<String>,
    #[serde(default)]
    metadata: Option<CdxMetadata>,
    #[serde(default)]
    components: Option<Vec<CdxComponent>>,
    #[serde(default)]
    packages: Option<Vec<SpdxPackage>>,
}

#[derive(Deserialize)]
struct CdxMetadata {
    #[serde(default)]
    component: Option<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxComponent {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    licenses: Option<Vec<CdxLicenseChoice>>,
    #[serde(default)]
    components: Option<Vec<CdxComponent>>,
}

#[derive(Deserialize)]
struct CdxLicenseChoice {
    #[serde(default)]
    license: Option<CdxLicense>,
    #[serde(default)]
    expression: Option<String>,
}

#[derive(Deserialize)]
struct CdxLicense {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct SpdxPackage {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "versionInfo")]
    version_info: Option<String>,
    #[serde(default, rename = "licenseConcluded")]
    license_concluded: Option<String>,
    #[serde(default, rename = "licenseDeclared")]
    license_declared: Option<String>,
    #[serde(default, rename = "externalRefs")]
    external_refs: Option<Vec<SpdxRef>>,
}

#[derive(Deserialize)]
struct SpdxRef {
    #[serde(default, rename = "referenceType")]
    reference_type: Option<String>,
    #[serde(default, rename = "referenceLocator")]
    reference_locator: Option<String>,
}

/// How a license was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LicenseKind {
    /// An SPDX id or expression.
    Expression,
    /// A free-text name (CycloneDX `license.name`).
    Name,
}

/// One license of a package.
#[derive(Debug, Clone)]
struct License {
    text: String,
    kind: LicenseKind,
}

/// One package, normalised from either format.
#[derive(Debug)]
struct Package {
    name: String,
    version: Option<String>,
    purl: Option<String>,
    licenses: Vec<License>,
}

impl Package {
    /// `name@version (purl)`.
    fn label(&self) -> String {
        let mut s = self.name.clone();
        if let Some(v) = &self.version {
            s.push('@');
            s.push_str(v);
        }
        if let Some(p) = &self.purl {
            s.push_str(" (");
            s.push_str(p);
            s.push(')');
        }
        s
    }
}

/// What was read: the format's name, where licenses and purls are, and the packages.
struct Sbom {
    format: String,
    license_path: &'static str,
    purl_path: &'static str,
    packages: Vec<Package>,
}

fn cdx_collect(c: CdxComponent, out: &mut Vec<Package>) {
    let mut licenses = Vec::new();
    for l in c.licenses.into_iter().flatten() {
        if let Some(e) = l.expression.filter(|e| !e.trim().is_empty()) {
            licenses.push(License {
                text: e.trim().to_owned(),
                kind: LicenseKind::Expression,
            });
        }
        if let Some(lic) = l.license {
            if let Some(id) = lic.id.filter(|s| !s.trim().is_empty()) {
                licenses.push(License {
                    text: id.trim().to_owned(),
                    kind: LicenseKind::Expression,
                });
            } else if let Some(name) = lic.name.filter(|s| !s.trim().is_empty()) {
                licenses.push(License {
                    text: name.trim().to_owned(),
                    kind: LicenseKind::Name,
                });
            }
        }
    }
    out.push(Package {
        name: c.name.unwrap_or_default(),
        version: c.version,
        purl: c.purl,
        licenses,
    });
    for child in c.components.into_iter().flatten() {
        cdx_collect(child, out);
    }
}

fn meaningful(l: Option<String>) -> Option<String> {
    l.map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s != "NOASSERTION" && s != "NONE")
}

fn read(bytes: &[u8]) -> Result<Sbom, String> {
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| format!("cannot be read: {e}"))?;
    if doc.bom_format.as_deref() == Some("CycloneDX") {
        let mut packages = Vec::new();
        if let Some(c) = doc.metadata.and_then(|m| m.component) {
            cdx_collect(c, &mut packages);
        }
        for c in doc.components.into_iter().flatten() {
            cdx_collect(c, &mut packages);
        }
        return Ok(Sbom {
            format: format!(
                "CycloneDX {}",
                doc.spec_version.as_deref().unwrap_or("(no specVersion)")
            ),
            license_path: "predicate.components[].licenses",
            purl_path: "predicate.components[].purl",
            packages,
        });
    }
    if let Some(v) = doc.spdx_version.filter(|v| v.starts_with("SPDX-2")) {
        let packages = doc
            .packages
            .into_iter()
            .flatten()
            .map(|p| {
                let purl = p.external_refs.into_iter().flatten().find_map(|r| {
                    (r.reference_type.as_deref() == Some("purl"))
                        .then_some(r.reference_locator)
                        .flatten()
                });
                let license =
                    meaningful(p.license_concluded).or_else(|| meaningful(p.license_declared));
                Package {
                    name: p.name.unwrap_or_default(),
                    version: p.version_info,
                    purl,
                    licenses: license
                        .map(|text| License {
                            text,
                            kind: LicenseKind::Expression,
                        })
                        .into_iter()
                        .collect(),
                }
            })
            .collect();
        return Ok(Sbom {
            format: v,
            license_path: "predicate.packages[].licenseConcluded",
            purl_path: "predicate.packages[].externalRefs[].referenceLocator",
            packages,
        });
    }
    Err("neither a CycloneDX JSON BOM (bomFormat: CycloneDX) nor an SPDX 2.x JSON document (spdxVersion: SPDX-2.x)".into())
}

/// A license parsed as an SPDX expression, or kept as a plain name.
enum Parsed {
    Expr(Box<Expression>),
    Plain(String),
}

const LAX: ParseMode = ParseMode::LAX;

fn parse_license(l: &License) -> Parsed {
    if l.kind == LicenseKind::Name {
        let name = l.text.as_str();
        let lower = name.to_ascii_lowercase();
        let short = if lower.ends_with(" license") {
            &name[..name.len() - " license".len()]
        } else {
            name
        };
        let id = spdx::license_id(short).or_else(|| {
            spdx::imprecise_license_id(short)
                .filter(|(_, n)| *n == short.len())
                .map(|(id, _)| id)
        });
        if let Some(id) = id
            && let Ok(e) = Expression::parse_mode(id.name, LAX)
        {
            return Parsed::Expr(Box::new(e));
        }
    }
    match Expression::parse_mode(&l.text, LAX) {
        Ok(e) => Parsed::Expr(Box::new(e)),
        Err(_) => Parsed::Plain(l.text.clone()),
    }
}

/// The names a license requirement is matched under.
fn req_names(req: &LicenseReq) -> Vec<String> {
    let mut names = vec![req.license.to_string()];
    if let Some(id) = req.license.id()
        && !names.iter().any(|n| n == id.name)
    {
        names.push(id.name.to_owned());
    }
    if req.addition.is_some() {
        names.push(req.to_string());
    }
    names
}

fn any_name_matches(patterns: &[Pattern], names: &[String]) -> bool {
    names.iter().any(|n| any_matches(patterns, n))
}

/// The requirement names of an expression, for messages.
fn expr_reqs(e: &Expression) -> Vec<String> {
    e.iter()
        .filter_map(|n| match n {
            ExprNode::Req(r) => Some(r.req.to_string()),
            ExprNode::Op(_) => None,
        })
        .collect()
}

/// Whether the license is denied by `deny` (every way to satisfy it needs a denied license).
fn denied(l: &License, deny: &[Pattern]) -> bool {
    match parse_license(l) {
        Parsed::Expr(e) => !e.evaluate(|req| !any_name_matches(deny, &req_names(req))),
        Parsed::Plain(s) => any_matches(deny, &s),
    }
}

/// Whether the license is allowed by `allow` (some way to satisfy it uses only allowed ones).
fn allowed(l: &License, allow: &[Pattern]) -> bool {
    match parse_license(l) {
        Parsed::Expr(e) => e.evaluate(|req| any_name_matches(allow, &req_names(req))),
        Parsed::Plain(s) => any_matches(allow, &s),
    }
}

/// How a license was understood, for messages: `` `GPLv3+` (read as GPL-3.0-or-later) ``.
fn shown(l: &License) -> String {
    match parse_license(l) {
        Parsed::Expr(e) => {
            let reqs = expr_reqs(&e).join(", ");
            if reqs == l.text {
                format!("`{}`", l.text)
            } else {
                format!("`{}` (read as {reqs})", l.text)
            }
        }
        Parsed::Plain(s) => format!("`{s}` (not an SPDX expression: compared as written)"),
    }
}

/// The purl without qualifiers and subpath (`pkg:npm/a@1?x=y#p` → `pkg:npm/a@1`).
fn purl_base(p: &str) -> &str {
    let end = p.find(['?', '#']).unwrap_or(p.len());
    &p[..end]
}

/// Evaluates one verified SBOM attestation against `rule`: a `sbom.malformed` failure when it
/// is neither CycloneDX nor SPDX 2.x JSON, else one check per condition the rule sets (or one
/// passing check saying what was read, when it sets none).
pub(crate) fn evaluate(att: &VerifiedAttestation, rule: &SbomRule) -> Vec<Check> {
    let sbom = match read(att.predicate_json()) {
        Ok(s) => s,
        Err(why) => {
            return vec![Check::fail(
                codes::SBOM_MALFORMED,
                "predicate",
                "a CycloneDX or SPDX 2.x JSON SBOM",
                format!("{}: {why}", att.predicate_type()),
            )];
        }
    };
    let n = sbom.packages.len();
    let mut checks = Vec::new();
    if !rule.deny_licenses.is_empty() {
        let mut hits = Vec::new();
        for p in &sbom.packages {
            for l in &p.licenses {
                if denied(l, &rule.deny_licenses) {
                    hits.push(format!("{}: license {}", p.label(), shown(l)));
                }
            }
        }
        checks.push(
            Check::pass_if(
                hits.is_empty(),
                codes::SBOM_LICENSE,
                sbom.license_path,
                format!("no license matching {}", describe(&rule.deny_licenses)),
                if hits.is_empty() {
                    format!("none among {n} packages ({})", sbom.format)
                } else {
                    format!("{} denied licenses", hits.len())
                },
            )
            .with_details(cap_details(hits)),
        );
    }
    if let Some(allow) = &rule.allow_licenses {
        let mut hits = Vec::new();
        let mut unlicensed = 0usize;
        for p in &sbom.packages {
            if p.licenses.is_empty() {
                unlicensed += 1;
            }
            for l in &p.licenses {
                if !allowed(l, allow) {
                    hits.push(format!(
                        "{}: license {} is not allowed",
                        p.label(),
                        shown(l)
                    ));
                }
            }
        }
        let failed = hits.len();
        let mut details = cap_details(hits);
        if unlicensed > 0 {
            details.push(format!(
                "{unlicensed} of {n} packages have no license information (not judged)"
            ));
        }
        checks.push(
            Check::pass_if(
                failed == 0,
                codes::SBOM_LICENSE,
                sbom.license_path,
                format!("every license {}", describe(allow)),
                if failed == 0 {
                    format!("all allowed among {n} packages ({})", sbom.format)
                } else {
                    format!("{failed} licenses not allowed")
                },
            )
            .with_details(details),
        );
    }
    if !rule.banned_packages.is_empty() {
        let mut hits = Vec::new();
        for p in &sbom.packages {
            let Some(purl) = &p.purl else { continue };
            if let Some(pat) = rule
                .banned_packages
                .iter()
                .find(|b| b.matches(purl) || b.matches(purl_base(purl)))
            {
                hits.push(format!("{} matches `{}`", p.label(), pat.as_str()));
            }
        }
        checks.push(
            Check::pass_if(
                hits.is_empty(),
                codes::SBOM_BANNED,
                sbom.purl_path,
                format!("no package matching {}", describe(&rule.banned_packages)),
                if hits.is_empty() {
                    format!("none among {n} packages ({})", sbom.format)
                } else {
                    format!("{} banned packages", hits.len())
                },
            )
            .with_details(cap_details(hits)),
        );
    }
    if checks.is_empty() {
        checks.push(Check::pass(
            codes::SBOM_MALFORMED,
            "predicate",
            "a CycloneDX or SPDX 2.x JSON SBOM",
            format!("{}, {n} packages", sbom.format),
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::report::Status;
    use serde_json::{Value, json};

    fn vector(rel: &str) -> Vec<u8> {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/vectors")
            .join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn attest(predicate_type: &str, predicate: &Value) -> VerifiedAttestation {
        let st = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "registry.example.com/app", "digest": {"sha256": "e0a0a765d690a5104331cfbac88ebbbf01736c1f87aaa3cd455c516a5ea586a5"}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        });
        VerifiedAttestation::signed_for_test(&serde_json::to_vec(&st).unwrap(), None)
    }

    fn cdx(rel: &str) -> Value {
        serde_json::from_slice(&vector(rel)).unwrap()
    }

    fn cdx_att(p: &Value) -> VerifiedAttestation {
        attest("https://cyclonedx.org/bom", p)
    }

    fn pats(v: &[&str]) -> Vec<Pattern> {
        v.iter().map(|p| Pattern::new(p).unwrap()).collect()
    }

    fn deny(v: &[&str]) -> SbomRule {
        SbomRule {
            deny_licenses: pats(v),
            ..Default::default()
        }
    }

    fn allow(v: &[&str]) -> SbomRule {
        SbomRule {
            allow_licenses: Some(pats(v)),
            ..Default::default()
        }
    }

    fn one(att: &VerifiedAttestation, rule: &SbomRule) -> Check {
        let c = evaluate(att, rule);
        assert_eq!(c.len(), 1, "{c:#?}");
        c.into_iter().next().unwrap()
    }

    #[test]
    fn cyclonedx_license_deny_and_allow_lists() {
        // trivy-license: EPL-1.0, BSD-3-Clause and "MIT License", all as license names.
        let att = cdx_att(&cdx("sboms/trivy-license.cdx.json"));
        let c = one(&att, &deny(&["GPL-3.0-only", "AGPL-*"]));
        assert_eq!(c.status, Status::Pass, "{c:#?}");
        assert_eq!(c.code, codes::SBOM_LICENSE);
        assert!(
            c.found.contains("CycloneDX 1.5") || c.found.contains("CycloneDX"),
            "{}",
            c.found
        );
        let c = one(&att, &deny(&["EPL-*"]));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.path, "predicate.components[].licenses");
        assert_eq!(
            c.details,
            vec![
                "org.eclipse.sisu.plexus@0.3.0.M1 (pkg:maven/org.eclipse.sisu/org.eclipse.sisu.plexus@0.3.0.M1): license `EPL-1.0`"
            ]
        );
        // "MIT License" is read as MIT.
        let c = one(&att, &allow(&["MIT", "BSD-3-Clause", "EPL-1.0"]));
        assert_eq!(c.status, Status::Pass, "{c:#?}");
        let c = one(&att, &allow(&["MIT", "Apache-2.0"]));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.found, "2 licenses not allowed");
        assert!(
            c.details
                .iter()
                .any(|d| d.contains("asm@9.5") && d.contains("`BSD-3-Clause` is not allowed")),
            "{c:#?}"
        );
        assert!(
            c.details
                .iter()
                .any(|d| d.contains("has no license information")
                    || d.contains("packages have no license")),
            "{c:#?}"
        );
    }

    #[test]
    fn expressions_or_and_and_nested_components_and_unparseable() {
        // Derived from trivy-npm: jquery's license replaced by expressions, and a nested
        // component added under react.
        let base = cdx("sboms/trivy-npm.cdx.json");
        let set = |expr: &str| {
            let mut p = base.clone();
            for c in p["components"].as_array_mut().unwrap() {
                if c["name"] == "jquery" {
                    c["licenses"] = json!([{"expression": expr}]);
                }
            }
            cdx_att(&p)
        };
        let rule = deny(&["GPL-*"]);
        assert_eq!(one(&set("GPL-2.0-only OR MIT"), &rule).status, Status::Pass);
        let c = one(&set("GPL-2.0-only AND MIT"), &rule);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.details[0]
                .starts_with("jquery@3.3.9 (pkg:npm/jquery@3.3.9): license `GPL-2.0-only AND MIT`"),
            "{c:#?}"
        );
        assert_eq!(
            one(&set("(GPL-2.0-only OR GPL-3.0-only) AND MIT"), &rule).status,
            Status::Fail
        );
        // Allow-list: an OR needs one allowed alternative; an AND needs all.
        let allow_mit = allow(&["MIT"]);
        let c = one(&set("GPL-2.0-only OR MIT"), &allow_mit);
        assert_eq!(c.status, Status::Pass, "{c:#?}");
        assert_eq!(
            one(&set("GPL-2.0-only AND MIT"), &allow_mit).status,
            Status::Fail
        );
        // GNU "+" spelling and exceptions.
        assert_eq!(
            one(&set("GPL-2.0+"), &deny(&["GPL-2.0-or-later"])).status,
            Status::Fail
        );
        assert_eq!(
            one(
                &set("GPL-2.0-only WITH Classpath-exception-2.0"),
                &deny(&["GPL-2.0-only"])
            )
            .status,
            Status::Fail
        );
        // Not an SPDX expression: a license named by that string.
        let odd = set("Some Custom License (see LICENSE.txt)");
        assert_eq!(one(&odd, &deny(&["GPL-*"])).status, Status::Pass);
        assert_eq!(
            one(&odd, &deny(&["Some Custom License*"])).status,
            Status::Fail
        );
        let c = one(&odd, &allow_mit);
        assert_eq!(c.status, Status::Fail);
        assert!(c.details[0].contains("not an SPDX expression"), "{c:#?}");
        // A nested component is judged too.
        let mut p = base.clone();
        for c in p["components"].as_array_mut().unwrap() {
            if c["name"] == "react" {
                c["components"] = json!([{"type": "library", "name": "inner", "version": "1.0.0",
                    "purl": "pkg:npm/inner@1.0.0", "licenses": [{"license": {"id": "AGPL-3.0-only"}}]}]);
            }
        }
        let c = one(&cdx_att(&p), &deny(&["AGPL-*"]));
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.details[0].starts_with("inner@1.0.0 (pkg:npm/inner@1.0.0)"),
            "{c:#?}"
        );
        assert_eq!(
            one(&cdx_att(&base), &deny(&["AGPL-*"])).status,
            Status::Pass
        );
    }

    #[test]
    fn banned_packages_by_purl() {
        let att = cdx_att(&cdx("sboms/trivy-npm.cdx.json"));
        let rule = |v: &[&str]| SbomRule {
            banned_packages: pats(v),
            ..Default::default()
        };
        let c = one(&att, &rule(&["pkg:npm/event-stream@3.3.6"]));
        assert_eq!(c.status, Status::Pass);
        assert_eq!(c.code, codes::SBOM_BANNED);
        let c = one(
            &att,
            &rule(&["pkg:npm/event-stream@3.3.6", "pkg:npm/jquery@*"]),
        );
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.path, "predicate.components[].purl");
        assert_eq!(
            c.details,
            vec!["jquery@3.3.9 (pkg:npm/jquery@3.3.9) matches `pkg:npm/jquery@*`"]
        );
        // Qualifiers do not hide a package: the CentOS rpm purls carry arch and distro.
        let centos = cdx("sboms/trivy-centos-7.cdx.json");
        let c = one(
            &cdx_att(&centos),
            &rule(&["pkg:rpm/centos/openssl-libs@1.0.2k-16.el7"]),
        );
        assert_eq!(c.status, Status::Fail, "{c:#?}");
    }

    #[test]
    fn spdx_packages() {
        // trivy-conda: openssl (OpenSSL), pip (MIT), and the root with NOASSERTION.
        let p: Value = serde_json::from_slice(&vector("sboms/trivy-conda.spdx.json")).unwrap();
        let att = attest("https://spdx.dev/Document", &p);
        let c = one(&att, &deny(&["OpenSSL"]));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.path, "predicate.packages[].licenseConcluded");
        assert_eq!(
            c.details,
            vec!["openssl@1.1.1q (pkg:conda/openssl@1.1.1q): license `OpenSSL`"]
        );
        assert_eq!(one(&att, &deny(&["GPL-*"])).status, Status::Pass);
        let c = one(&att, &allow(&["MIT", "OpenSSL"]));
        assert_eq!(c.status, Status::Pass, "{c:#?}");
        assert!(
            c.details
                .iter()
                .any(|d| d.starts_with("1 of 3 packages have no license")),
            "{c:#?}"
        );
        assert_eq!(one(&att, &allow(&["MIT"])).status, Status::Fail);
        let rule = SbomRule {
            banned_packages: pats(&["pkg:conda/openssl@*"]),
            ..Default::default()
        };
        let c = one(&att, &rule);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.path,
            "predicate.packages[].externalRefs[].referenceLocator"
        );
        // No condition: what was read.
        let c = one(&att, &SbomRule::default());
        assert_eq!(c.status, Status::Pass);
        assert_eq!(c.found, "SPDX-2.3, 3 packages");
    }

    #[test]
    fn real_cyclonedx_attestation() {
        // A CycloneDX predicate already wrapped in an in-toto statement by Trivy (CentOS 7):
        // bash is `GPLv3+`, openssl-libs `OpenSSL`.
        use base64::Engine as _;
        let line = vector("sboms/trivy-centos-7-cyclonedx.intoto.jsonl");
        let env: Value =
            serde_json::from_slice(line.split(|b| *b == b'\n').next().unwrap()).unwrap();
        let statement = base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap();
        let att = VerifiedAttestation::signed_for_test(&statement, None);
        let c = one(&att, &deny(&["GPL-3.0*"]));
        assert_eq!(c.status, Status::Fail, "{c:#?}");
        assert!(c.details[0].starts_with("bash@4.2.46-31.el7"), "{c:#?}");
        assert_eq!(one(&att, &deny(&["AGPL-*"])).status, Status::Pass);
    }

    #[test]
    fn malformed_sboms() {
        for p in [
            json!({"foo": 1}),
            json!({"bomFormat": "CycloneDX", "components": "x"}),
            json!({"bomFormat": "CycloneDX", "components": [{"licenses": [{"license": {"id": 7}}]}]}),
            json!({"spdxVersion": "SPDX-3.0", "packages": []}),
            json!({"spdxVersion": "SPDX-2.3", "packages": {"a": 1}}),
        ] {
            let c = evaluate(&cdx_att(&p), &deny(&["GPL-*"]));
            assert_eq!(c.len(), 1, "{p}");
            assert_eq!(c[0].status, Status::Fail, "{p}");
            assert_eq!(c[0].code, codes::SBOM_MALFORMED, "{p}");
        }
        // Deep nesting is refused by the parser's depth limit, not a stack overflow.
        let mut deep = json!({"name": "leaf"});
        for _ in 0..200 {
            deep = json!({"name": "n", "components": [deep]});
        }
        let text = format!(r#"{{"bomFormat":"CycloneDX","components":[{deep}]}}"#);
        let err = read(text.as_bytes()).err().unwrap();
        assert!(err.contains("recursion limit"), "{err}");
    }
}
