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
//! imprecise names such as `Apache 2`, GNU `+`; ids in any ASCII case): denied when every way
//! to satisfy it needs a denied license (`GPL-2.0-only OR MIT` passes a deny of `GPL-*`;
//! `GPL-2.0-only AND MIT` does not); with an allow-list, accepted when some way to satisfy it
//! uses only allowed licenses. Patterns are globs on ids, ASCII case ignored (`AGPL-*`). A
//! license is matched under its id as written, its current id when deprecated (`GPL-3.0` →
//! `GPL-3.0-only`, `GPL-3.0+` → `GPL-3.0-or-later`, `GPL-2.0-with-classpath-exception` →
//! `GPL-2.0-only WITH Classpath-exception-2.0`), `LicenseRef-…`, `X WITH Y` and `X` alone;
//! an "or later" license (`X-or-later`, `X+`) also under `X-only` / `X`, since it includes
//! that version (a deny of `GPL-3.0-only` denies `GPL-3.0-or-later`; a deny of
//! `GPL-3.0-or-later` does not deny `GPL-3.0-only`). A CycloneDX `license.name`, or an id
//! field holding a name, is mapped to its SPDX id by the full name in the SPDX list
//! (`GNU General Public License v3.0 only` → `GPL-3.0-only`), by dropping a trailing
//! ` License` (`MIT License` → `MIT`), or by an imprecise name the crate knows in full.
//!
//! Text that is still no SPDX expression (`GPL-3.0-only AND Some Custom Terms`) fails closed:
//! a deny-list denies it when the text, one of its words, or a license it names (by id, any
//! case, or by full name) matches; an allow-list allows it only when one of its entries is
//! that very text (globs do not count). Packages without any license are not judged by the
//! allow-list; the verdict counts them.
//!
//! Banned packages: both sides are normalised before the glob is applied — the package's purl
//! parsed with the `packageurl` crate (type lower case, the type's own rules), percent-decoded,
//! qualifiers sorted, lower case, and tried in full, without qualifiers and subpath, and
//! without version; the pattern percent-decoded and lower case. A purl that does not parse is
//! compared as written (decoded, lower case; also without `?…#…` and version) and counted.
//! Packages without a purl cannot be judged by `bannedPackages`: the verdict counts them.

use std::str::FromStr;

use spdx::expression::{ExprNode, Expression};
use spdx::{LicenseId, LicenseItem, LicenseReq, ParseMode};

use crate::attestation::VerifiedAttestation;
use crate::policy::report::{Check, cap_findings, codes};
use crate::policy::rules::{Pattern, SbomRule, any_matches, describe};
use doc::{CdxComponent, SbomDoc};

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
    let doc: SbomDoc = serde_json::from_slice(bytes).map_err(|e| format!("cannot be read: {e}"))?;
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

/// A license parsed as an SPDX expression, or kept as text that is not one.
enum Parsed {
    Expr(Box<Expression>),
    /// Not an SPDX expression: the text, the names it is matched under for a deny-list (lower
    /// case: the text, each word, and every SPDX license it names by id or full name), and
    /// the SPDX ids recognised in it (for messages).
    Plain {
        text: String,
        names: Vec<String>,
        ids: Vec<String>,
    },
}

const LAX: ParseMode = ParseMode::LAX;

/// The SPDX license whose id is `name`, ASCII case ignored (an exact match first).
fn license_id_any_case(name: &str) -> Option<LicenseId> {
    spdx::license_id(name).or_else(|| {
        spdx::identifiers::LICENSES
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .and_then(|l| spdx::license_id(l.name))
    })
}

/// The SPDX license whose full name is `name` (`GNU General Public License v3.0 only`), ASCII
/// case ignored; a current id is preferred to a deprecated one with the same full name.
fn license_by_full_name(name: &str) -> Option<LicenseId> {
    let mut found: Option<&spdx::License> = None;
    for l in spdx::identifiers::LICENSES {
        if l.full_name.eq_ignore_ascii_case(name)
            && found.is_none_or(|f| f.flags & spdx::flags::IS_DEPRECATED != 0)
        {
            found = Some(l);
        }
    }
    found.and_then(|l| spdx::license_id(l.name))
}

/// A license name (CycloneDX `license.name`, or text that is no expression) as an SPDX id:
/// its full name (`GNU General Public License v3.0 only`), its id without a trailing
/// ` License` (`MIT License`), or an imprecise name the `spdx` crate knows in full (`Apache 2`).
fn name_to_id(name: &str) -> Option<LicenseId> {
    let name = name.trim();
    if let Some(id) = license_by_full_name(name) {
        return Some(id);
    }
    let lower = name.to_ascii_lowercase();
    let short = if lower.ends_with(" license") {
        &name[..name.len() - " license".len()]
    } else {
        name
    };
    spdx::license_id(short).or_else(|| {
        spdx::imprecise_license_id(short)
            .filter(|(_, n)| *n == short.len())
            .map(|(id, _)| id)
    })
}

/// Whether `c` can be part of a license id or an operator word.
fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':')
}

/// The words of a license text (runs of id characters).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !id_char(c)).filter(|w| !w.is_empty())
}

/// `text` with its license ids, exception ids and operators in their proper case
/// (`gpl-3.0-only or mit` → `GPL-3.0-only OR MIT`): SPDX ids are case-insensitive, the
/// parser is not. `None` when nothing changed.
fn repair_case(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !id_char(c)).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(n);
        if word.is_empty() {
            let c = tail.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &tail[c.len_utf8()..];
            continue;
        }
        let (bare, plus) = match word.strip_suffix('+') {
            Some(b) => (b, "+"),
            None => (word, ""),
        };
        let fixed = if ["and", "or", "with"]
            .iter()
            .any(|op| word.eq_ignore_ascii_case(op))
        {
            word.to_ascii_uppercase()
        } else if let Some(id) = license_id_any_case(bare) {
            format!("{}{plus}", id.name)
        } else if let Some(e) = spdx::identifiers::EXCEPTIONS
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(word))
        {
            e.name.to_owned()
        } else {
            word.to_owned()
        };
        changed |= fixed != word;
        out.push_str(&fixed);
        rest = tail;
    }
    changed.then_some(out)
}

/// The current SPDX form of a deprecated id that is not a plain GNU `X` / `X+` (those are
/// handled as a family): the license it became and the exception it carries.
fn replacement(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match name {
        "GPL-2.0-with-classpath-exception" => ("GPL-2.0-only", Some("Classpath-exception-2.0")),
        "GPL-2.0-with-GCC-exception" => ("GPL-2.0-only", Some("GCC-exception-2.0")),
        "GPL-2.0-with-autoconf-exception" => ("GPL-2.0-only", Some("Autoconf-exception-2.0")),
        "GPL-2.0-with-bison-exception" => ("GPL-2.0-or-later", Some("Bison-exception-2.2")),
        "GPL-2.0-with-font-exception" => ("GPL-2.0-only", Some("Font-exception-2.0")),
        "GPL-3.0-with-GCC-exception" => ("GPL-3.0-only", Some("GCC-exception-3.1")),
        "GPL-3.0-with-autoconf-exception" => ("GPL-3.0-only", Some("Autoconf-exception-3.0")),
        "eCos-2.0" => ("GPL-2.0-or-later", Some("eCos-exception-2.0")),
        "wxWindows" => ("LGPL-2.0-or-later", Some("WxWindows-exception-3.1")),
        "BSD-2-Clause-FreeBSD" | "BSD-2-Clause-NetBSD" => ("BSD-2-Clause", None),
        "Nunit" => ("zlib-acknowledgement", None),
        "StandardML-NJ" => ("SMLNJ", None),
        "bzip2-1.0.5" => ("bzip2-1.0.6", None),
        _ => return None,
    })
}

/// The names of one SPDX license (no exception), lower case. A GNU license is named by its
/// family: `-only` (and the deprecated bare id) always, and for an "or later" license
/// (`-or-later`, `+`) also `-or-later` and `+`: an or-later license includes its `-only`
/// version, so a pattern for `GPL-3.0-only` matches `GPL-3.0-or-later`. Any other license
/// with `+` is named with and without it.
fn family_names(name: &str, gnu: bool, or_later: bool, out: &mut Vec<String>) {
    out.push(name.to_owned());
    if gnu {
        let mut base = name.trim_end_matches('+');
        for suffix in ["-only", "-or-later"] {
            base = base.strip_suffix(suffix).unwrap_or(base);
        }
        let later = or_later || name.ends_with('+') || name.ends_with("-or-later");
        if later {
            out.push(format!("{base}-or-later"));
            out.push(format!("{base}+"));
        }
        out.push(format!("{base}-only"));
        out.push(base.to_owned());
    } else {
        let base = name.trim_end_matches('+');
        if or_later || name.ends_with('+') {
            out.push(format!("{base}+"));
        }
        out.push(base.to_owned());
    }
}

/// The names a license requirement is matched under, lower case: as written, its SPDX id,
/// the current id of a deprecated one (`GPL-3.0` → `GPL-3.0-only`, `GPL-3.0+` →
/// `GPL-3.0-or-later`, `GPL-2.0-with-classpath-exception` → `GPL-2.0-only WITH
/// Classpath-exception-2.0`), the family names (see [`family_names`]), and `X WITH Y` for
/// each of them when there is an exception (the license alone is named too: a pattern for
/// `GPL-2.0-only` matches `GPL-2.0-only WITH Classpath-exception-2.0`).
fn req_names(req: &LicenseReq) -> Vec<String> {
    let mut names = vec![req.to_string(), req.license.to_string()];
    let mut additions: Vec<String> = req.addition.iter().map(ToString::to_string).collect();
    if let LicenseItem::Spdx { id, or_later } = &req.license {
        let mut bases = Vec::new();
        family_names(id.name, id.is_gnu(), *or_later, &mut bases);
        if let Some((current, addition)) = replacement(id.name) {
            let gnu = spdx::license_id(current).is_some_and(LicenseId::is_gnu);
            family_names(current, gnu, *or_later, &mut bases);
            additions.extend(addition.map(str::to_owned));
        }
        for a in &additions {
            let with: Vec<String> = bases.iter().map(|b| format!("{b} WITH {a}")).collect();
            names.extend(with);
        }
        names.extend(bases);
    }
    let mut names: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    names
}

/// The names of text that is no SPDX expression, for a deny-list (see [`Parsed::Plain`]).
fn plain_names(text: &str) -> (Vec<String>, Vec<String>) {
    let mut names = vec![text.to_ascii_lowercase()];
    let mut ids = Vec::new();
    let mut add = |id: LicenseId, or_later: bool, names: &mut Vec<String>| {
        let req = LicenseReq {
            license: LicenseItem::Spdx { id, or_later },
            addition: None,
        };
        ids.push(req.to_string());
        names.extend(req_names(&req));
    };
    for w in words(text) {
        names.push(w.to_ascii_lowercase());
        let bare = w.trim_end_matches('+');
        if let Some(id) = license_id_any_case(bare) {
            add(id, bare.len() != w.len(), &mut names);
        }
    }
    let lower = text.to_ascii_lowercase();
    for l in spdx::identifiers::LICENSES {
        if lower.contains(&l.full_name.to_ascii_lowercase())
            && let Some(id) = spdx::license_id(l.name)
        {
            add(id, false, &mut names);
        }
    }
    names.sort();
    names.dedup();
    ids.sort();
    ids.dedup();
    (names, ids)
}

fn parse_license(l: &License) -> Parsed {
    let text = l.text.trim();
    let expr = |s: &str| Expression::parse_mode(s, LAX).ok().map(Box::new);
    let by_name = || name_to_id(text).and_then(|id| expr(id.name));
    let parsed = if l.kind == LicenseKind::Name {
        by_name().or_else(|| expr(text))
    } else {
        expr(text).or_else(by_name)
    }
    .or_else(|| repair_case(text).and_then(|t| expr(&t)));
    match parsed {
        Some(e) => Parsed::Expr(e),
        None => {
            let (names, ids) = plain_names(text);
            Parsed::Plain {
                text: text.to_owned(),
                names,
                ids,
            }
        }
    }
}

/// Patterns compared without ASCII case (SPDX ids are case-insensitive): lower-cased.
fn lower_patterns(patterns: &[Pattern]) -> Vec<Pattern> {
    patterns
        .iter()
        .map(|p| Pattern::new(&p.as_str().to_ascii_lowercase()).unwrap_or_else(|_| p.clone()))
        .collect()
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

/// Whether the license is denied by `deny` (lower-cased patterns): an expression when every
/// way to satisfy it needs a denied license; text that is no expression when it, one of its
/// words, or a license it names (by id or full name) matches — fail closed.
fn denied(parsed: &Parsed, deny: &[Pattern]) -> bool {
    match parsed {
        Parsed::Expr(e) => !e.evaluate(|req| !any_name_matches(deny, &req_names(req))),
        Parsed::Plain { names, .. } => any_name_matches(deny, names),
    }
}

/// Whether the license is allowed by `allow` (lower-cased patterns): an expression when some
/// way to satisfy it uses only allowed licenses; text that is no expression only when an
/// entry of the allow-list is that very text (ASCII case ignored; globs do not count: `MIT*`
/// must not allow `MIT AND Custom Terms`).
fn allowed(parsed: &Parsed, allow: &[Pattern]) -> bool {
    match parsed {
        Parsed::Expr(e) => e.evaluate(|req| any_name_matches(allow, &req_names(req))),
        Parsed::Plain { text, .. } => allow.iter().any(|p| p.as_str().eq_ignore_ascii_case(text)),
    }
}

/// How a license was understood, for messages: `` `GPLv3+` (read as GPL-3.0-or-later) ``.
fn shown(l: &License, parsed: &Parsed) -> String {
    match parsed {
        Parsed::Expr(e) => {
            let reqs = expr_reqs(e).join(", ");
            if reqs == l.text {
                format!("`{}`", l.text)
            } else {
                format!("`{}` (read as {reqs})", l.text)
            }
        }
        Parsed::Plain { text, ids, .. } if ids.is_empty() => {
            format!("`{text}` (not an SPDX expression)")
        }
        Parsed::Plain { text, ids, .. } => format!(
            "`{text}` (not an SPDX expression; names {})",
            ids.join(", ")
        ),
    }
}

/// `%XX` escapes decoded (invalid escapes kept as written; invalid UTF-8 replaced).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits: at most 255.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A package's purl in the forms a ban is matched against, lower case and percent-decoded:
/// parsed with the `packageurl` crate (type lower-cased, the type's own rules — npm and
/// GitHub names lower case, PyPI `_` → `-`…), then written `pkg:TYPE/NAMESPACE/NAME@VERSION`
/// `?k=v&…#SUBPATH` with qualifiers sorted, without qualifiers and subpath, and without the
/// version; `None` when it is no valid purl (it is then compared as written, decoded).
fn purl_forms(purl: &str) -> Option<Vec<String>> {
    let p = packageurl::PackageUrl::from_str(purl.trim()).ok()?;
    let mut head = format!("pkg:{}/", p.ty());
    if let Some(ns) = p.namespace().filter(|n| !n.is_empty()) {
        head.push_str(ns);
        head.push('/');
    }
    head.push_str(p.name());
    let versioned = match p.version() {
        Some(v) => format!("{head}@{v}"),
        None => head.clone(),
    };
    let mut full = versioned.clone();
    let mut q: Vec<(String, String)> = p
        .qualifiers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    q.sort();
    if !q.is_empty() {
        let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        full.push('?');
        full.push_str(&q.join("&"));
    }
    if let Some(sp) = p.subpath().filter(|s| !s.is_empty()) {
        full.push('#');
        full.push_str(sp);
    }
    let mut forms: Vec<String> = [full, versioned, head]
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    forms.dedup();
    Some(forms)
}

/// The forms of a purl that does not parse: as written, without `?…` / `#…`, and without the
/// version — each decoded and lower-cased (fail closed: a ban still sees it).
fn raw_purl_forms(purl: &str) -> Vec<String> {
    let full = percent_decode(purl.trim()).to_ascii_lowercase();
    let base = full[..full.find(['?', '#']).unwrap_or(full.len())].to_owned();
    let last = base.rfind('/').map_or(0, |i| i + 1);
    let head = match base[last..].find('@') {
        Some(i) => base[..last + i].to_owned(),
        None => base.clone(),
    };
    let mut forms = vec![full, base, head];
    forms.dedup();
    forms
}

/// A ban pattern normalised like the purls it is matched against: percent-decoded, lower case.
fn purl_pattern(p: &Pattern) -> Pattern {
    let text = percent_decode(p.as_str().trim()).to_ascii_lowercase();
    Pattern::new(&text).unwrap_or_else(|_| p.clone())
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
    // Each license parsed once; patterns compared without ASCII case.
    let parsed: Vec<Vec<Parsed>> = if rule.deny_licenses.is_empty() && rule.allow_licenses.is_none()
    {
        Vec::new()
    } else {
        sbom.packages
            .iter()
            .map(|p| p.licenses.iter().map(parse_license).collect())
            .collect()
    };
    if !rule.deny_licenses.is_empty() {
        let deny = lower_patterns(&rule.deny_licenses);
        let mut hits = Vec::new();
        for (p, parsed) in sbom.packages.iter().zip(&parsed) {
            for (l, pl) in p.licenses.iter().zip(parsed) {
                if denied(pl, &deny) {
                    hits.push(format!("{}: license {}", p.label(), shown(l, pl)));
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
            .with_details(cap_findings(hits)),
        );
    }
    if let Some(allow) = &rule.allow_licenses {
        let lowered = lower_patterns(allow);
        let mut hits = Vec::new();
        let mut unlicensed = 0usize;
        for (p, parsed) in sbom.packages.iter().zip(&parsed) {
            if p.licenses.is_empty() {
                unlicensed += 1;
            }
            for (l, pl) in p.licenses.iter().zip(parsed) {
                if !allowed(pl, &lowered) {
                    hits.push(format!(
                        "{}: license {} is not allowed",
                        p.label(),
                        shown(l, pl)
                    ));
                }
            }
        }
        let failed = hits.len();
        let mut details = cap_findings(hits);
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
        let banned: Vec<(Pattern, &Pattern)> = rule
            .banned_packages
            .iter()
            .map(|b| (purl_pattern(b), b))
            .collect();
        let mut hits = Vec::new();
        let (mut no_purl, mut invalid) = (0usize, 0usize);
        for p in &sbom.packages {
            let Some(purl) = p.purl.as_deref().filter(|s| !s.trim().is_empty()) else {
                no_purl += 1;
                continue;
            };
            let forms = purl_forms(purl).unwrap_or_else(|| {
                invalid += 1;
                raw_purl_forms(purl)
            });
            if let Some((_, written)) = banned
                .iter()
                .find(|(pat, _)| forms.iter().any(|f| pat.matches(f)))
            {
                hits.push(format!("{} matches `{}`", p.label(), written.as_str()));
            }
        }
        let failed = hits.len();
        let mut details = cap_findings(hits);
        if no_purl > 0 {
            details.push(format!(
                "{no_purl} of {n} packages have no purl (not judged)"
            ));
        }
        if invalid > 0 {
            details.push(format!(
                "{invalid} of {n} packages have a purl that is not a valid package URL (compared as written)"
            ));
        }
        checks.push(
            Check::pass_if(
                failed == 0,
                codes::SBOM_BANNED,
                sbom.purl_path,
                format!("no package matching {}", describe(&rule.banned_packages)),
                if failed == 0 {
                    format!("none among {n} packages ({})", sbom.format)
                } else {
                    format!("{failed} banned packages")
                },
            )
            .with_details(details),
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

pub(crate) mod doc;
#[cfg(test)]
mod tests;
