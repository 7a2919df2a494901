//! The compiled form of a policy's conditions: what the policy file says, validated, with its
//! patterns built and its files (VEX documents) loaded. Evaluators read these.

use std::collections::BTreeMap;

use vouch_core::digest::Sha256Digest;
use vouch_core::scan::Severity;

/// A glob: `*` matches any run of characters except `/`, `**` any run including `/`, `?` one
/// character except `/`; `\\` escapes the next character. Everything else matches itself, and
/// the whole string must match. A pattern without metacharacters matches exactly.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    regex: regex_lite::Regex,
}

impl Pattern {
    /// Builds a pattern; the error says why it is invalid.
    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("an empty pattern matches nothing".into());
        }
        let mut re = String::from("^");
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    re.push_str(".*");
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                '\\' => match chars.next() {
                    Some(n) => re.push_str(&regex_lite::escape(&n.to_string())),
                    None => return Err(format!("`{text}` ends with a lone `\\`")),
                },
                other => re.push_str(&regex_lite::escape(&other.to_string())),
            }
        }
        re.push('$');
        let regex =
            regex_lite::Regex::new(&re).map_err(|e| format!("invalid pattern `{text}`: {e}"))?;
        Ok(Self {
            text: text.to_owned(),
            regex,
        })
    }

    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Any of several patterns.
pub fn any_matches(patterns: &[Pattern], s: &str) -> bool {
    patterns.iter().any(|p| p.matches(s))
}

/// Patterns as a list for messages: `[a, b]`.
pub fn describe(patterns: &[Pattern]) -> String {
    let v: Vec<&str> = patterns.iter().map(Pattern::as_str).collect();
    format!("one of [{}]", v.join(", "))
}

/// Whether a rule is enforced or only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A failure denies the image.
    #[default]
    Enforce,
    /// A failure is reported as a warning only.
    Warn,
}

/// Conditions on SLSA provenance (v0.2 and v1).
#[derive(Debug, Clone, Default)]
pub struct ProvenanceRule {
    /// `builder.id` (v0.2) / `runDetails.builder.id` (v1) must match one; empty = not checked.
    pub builder_ids: Vec<Pattern>,
    /// The source repository must match one; empty = not checked. Compared after removing a
    /// `git+` prefix and a `.git` suffix on both sides, and an `@ref` suffix on the found one.
    pub source_repositories: Vec<Pattern>,
    /// The source ref (`refs/heads/main`, `refs/tags/v1.2.3`) must match one; empty = not checked.
    pub source_refs: Vec<Pattern>,
    /// When `Some`, every image among the materials / resolved dependencies must be pinned by
    /// digest and match one entry (an empty list allows no base image at all).
    pub base_images: Option<Vec<BaseImage>>,
}

/// One approved base image.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// A glob on the normalised `HOST/REPO` (`docker.io/library/alpine`, `cgr.dev/chainguard/*`).
    pub repository: Pattern,
    /// When non-empty, the base image's digest must be one of these.
    pub digests: Vec<Sha256Digest>,
}

/// An allowed scanner.
#[derive(Debug, Clone)]
pub struct ScannerRule {
    /// A glob on the predicate's `scanner.uri` (`pkg:github/aquasecurity/trivy*`).
    pub uri: Pattern,
    /// The minimum `scanner.version` (dotted numeric comparison; a leading `v` ignored).
    pub min_version: Option<String>,
}

/// One ignored vulnerability.
#[derive(Debug, Clone)]
pub struct IgnoreEntry {
    /// The vulnerability id (or an alias of it) to ignore.
    pub id: String,
    /// Why (shown in the verdict).
    pub reason: String,
    /// Unix seconds after which the entry no longer ignores anything.
    pub expires: Option<i64>,
    /// The date as written, for messages.
    pub expires_text: Option<String>,
}

/// A VEX document given in the policy file.
#[derive(Debug, Clone)]
pub struct VexDocument {
    /// Where it came from (the path as written in the policy), for messages.
    pub source: String,
    /// The OpenVEX JSON document.
    pub document: serde_json::Value,
}

/// Conditions on vulnerability scans (cosign's vuln predicate, including reports vouch imported
/// from Trivy, Grype and SARIF).
#[derive(Debug, Clone, Default)]
pub struct VulnRule {
    /// The newest scan must be at most this many seconds old.
    pub max_age: Option<i64>,
    /// The text of `maxAge` as written (`24h`), for messages.
    pub max_age_text: Option<String>,
    /// At most this many findings per severity; severities not listed are unlimited.
    pub limits: BTreeMap<Severity, usize>,
    /// Count only findings that have a fixed version.
    pub only_fixable: bool,
    /// Ignored vulnerability ids.
    pub ignore: Vec<IgnoreEntry>,
    /// Allowed scanners; empty = any.
    pub scanners: Vec<ScannerRule>,
    /// VEX documents from the policy, applied with the verified `openvex` attestations.
    pub vex: Vec<VexDocument>,
}

/// Conditions on an SBOM (CycloneDX or SPDX).
#[derive(Debug, Clone, Default)]
pub struct SbomRule {
    /// Denied licenses: SPDX ids, or globs on them (`AGPL-*`).
    pub deny_licenses: Vec<Pattern>,
    /// When `Some`, every license must be on this list (globs on SPDX ids).
    pub allow_licenses: Option<Vec<Pattern>>,
    /// Banned packages: globs on purls (`pkg:npm/event-stream@3.3.6`, `pkg:npm/event-stream@*`).
    pub banned_packages: Vec<Pattern>,
}

/// What the evaluators know of the image.
#[derive(Debug, Clone)]
pub struct ImageContext {
    /// `HOST/REPO` (docker's defaults applied), or `oci:DIR` for a layout.
    pub name: String,
    /// The verified digest.
    pub digest: Sha256Digest,
    /// Evaluation time, Unix seconds (an injected clock, never read here).
    pub now: i64,
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn globs() {
        let p = |s: &str| Pattern::new(s).unwrap();
        assert!(p("registry.example.com/team/*").matches("registry.example.com/team/app"));
        assert!(!p("registry.example.com/team/*").matches("registry.example.com/team/a/b"));
        assert!(p("registry.example.com/**").matches("registry.example.com/team/a/b"));
        assert!(p("oci:**").matches("oci:/tmp/x/layout"));
        assert!(p("AGPL-*").matches("AGPL-3.0-or-later"));
        assert!(!p("AGPL-*").matches("LGPL-3.0"));
        assert!(p("pkg:npm/event-stream@3.3.6").matches("pkg:npm/event-stream@3.3.6"));
        assert!(!p("pkg:npm/event-stream@3.3.6").matches("pkg:npm/event-stream@3.3.60"));
        assert!(p("a.b").matches("a.b") && !p("a.b").matches("axb"));
        assert!(p("v?").matches("v1") && !p("v?").matches("v12"));
        assert!(p("a\\*").matches("a*") && !p("a\\*").matches("ab"));
        assert!(Pattern::new("").is_err());
    }
}
