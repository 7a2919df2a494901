//! What a policy evaluation says: one [`Check`] per rule and condition, each passed or failed
//! with the path of the field, what was expected and what was found, and a stable reason code
//! that scripts can branch on.

use serde::Serialize;

/// At most this many findings (packages, vulnerabilities, licenses, base images, unapplied VEX
/// statements…) are listed in one check's details; the rest are counted in a last line.
pub(crate) const MAX_FINDINGS_LISTED: usize = 50;
/// At most this many rejected signatures or attestations (one reason per layer or referrer)
/// are listed under a failing signature or attestation rule. Fewer than findings: each reason
/// is a full sentence and one bad signature usually explains the rest.
pub(crate) const MAX_REJECTIONS_LISTED: usize = 20;

/// Caps a details list at `max` lines plus "… and N more".
pub(crate) fn cap_details(mut lines: Vec<String>, max: usize) -> Vec<String> {
    if lines.len() > max {
        let more = lines.len() - max;
        lines.truncate(max);
        lines.push(format!("… and {more} more"));
    }
    lines
}

/// Caps a details list of findings at [`MAX_FINDINGS_LISTED`].
pub(crate) fn cap_findings(lines: Vec<String>) -> Vec<String> {
    cap_details(lines, MAX_FINDINGS_LISTED)
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The condition holds.
    Pass,
    /// The condition does not hold and the rule is enforced: the image is denied.
    Fail,
    /// The condition does not hold, but the rule is `mode: warn`: reported, not enforced.
    Warn,
}

/// One checked condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which rule of the policy, e.g. `signatures` or `attestations[1] (vuln)`.
    pub rule: String,
    /// Pass, fail or warn.
    pub status: Status,
    /// The stable reason code (see [`codes`]): why the check failed; on a passing check, the
    /// reason it would have failed with (so it also names the condition).
    pub code: &'static str,
    /// Where in the verified data the value was read, e.g. `predicate.builder.id`.
    pub path: String,
    /// What the policy expected.
    pub expected: String,
    /// What was found.
    pub found: String,
    /// Details: the findings over a limit, suppressed findings, the time used for freshness…
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Check {
    /// A passing check.
    pub fn pass(
        code: &'static str,
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self {
            rule: String::new(),
            status: Status::Pass,
            code,
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
            details: Vec::new(),
        }
    }

    /// A failing check.
    pub fn fail(
        code: &'static str,
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Fail,
            ..Self::pass(code, path, expected, found)
        }
    }

    /// Passes when `ok`, fails otherwise.
    pub fn pass_if(
        ok: bool,
        code: &'static str,
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        if ok {
            Self::pass(code, path, expected, found)
        } else {
            Self::fail(code, path, expected, found)
        }
    }

    /// With details.
    #[must_use]
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// One line for people: `rule: code: path: expected …, found …`.
    pub fn line(&self) -> String {
        let mark = match self.status {
            Status::Pass => "ok  ",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
        };
        let code = match self.status {
            Status::Pass => String::new(),
            _ => format!("[{}] ", self.code),
        };
        let mut s = format!(
            "{mark} {}: {code}{}: expected {}; found {}",
            self.rule, self.path, self.expected, self.found
        );
        for d in &self.details {
            s.push_str("\n       ");
            s.push_str(d);
        }
        s
    }
}

/// The stable reason codes, documented in docs/policy.md. A check's `code` is one of these.
pub mod codes {
    /// No policy block matches the image and the default is deny.
    pub const NO_MATCH: &str = "policy.no-match";
    /// No policy block matches and the default is allow.
    pub const NO_MATCH_ALLOWED: &str = "policy.default-allow";
    /// No signature verified for any authority.
    pub const SIGNATURE_NONE_VALID: &str = "signature.none-valid";
    /// Fewer distinct authorities signed than the threshold.
    pub const SIGNATURE_THRESHOLD: &str = "signature.threshold-not-met";
    /// A `notation` authority not satisfied because the image has no Notary Project signature
    /// (no referrer of artifact type `application/vnd.cncf.notary.signature`).
    pub const NOTATION_MISSING: &str = "notation.signature-missing";
    /// A `notation` authority not satisfied: the image's Notary Project signatures do not verify
    /// under its trust policy and trust store (untrusted certificate, identity, integrity,
    /// expiry, timestamp), or its signature is about another artifact.
    pub const NOTATION_UNTRUSTED: &str = "notation.untrusted";
    /// A `notation` authority not satisfied, and a signature of the image failed because a
    /// certificate of its chain is revoked by a CRL the authority supplies (`crls:`), with
    /// revocation enforced.
    pub const NOTATION_REVOKED: &str = "notation.revoked";
    /// No verified attestation of the required predicate type.
    pub const ATTESTATION_MISSING: &str = "attestation.missing";
    /// The provenance's builder id is not in the allow-list.
    pub const PROVENANCE_BUILDER: &str = "provenance.builder-not-allowed";
    /// The provenance's source repository is not in the allow-list.
    pub const PROVENANCE_SOURCE: &str = "provenance.source-not-allowed";
    /// The provenance's source ref is not in the allow-list.
    pub const PROVENANCE_REF: &str = "provenance.ref-not-allowed";
    /// A base image is not pinned by digest.
    pub const PROVENANCE_BASE_UNPINNED: &str = "provenance.base-image-unpinned";
    /// A base image is not in the allow-list.
    pub const PROVENANCE_BASE_NOT_ALLOWED: &str = "provenance.base-image-not-allowed";
    /// A material typed as an image (a `pkg:docker` / `pkg:oci` purl, an `oci://`, `docker://`
    /// or `docker-image://` URI, an image media type, a reference with `@sha256:`) whose
    /// reference cannot be parsed: it cannot be judged, so it is not approved.
    pub const PROVENANCE_BASE_UNREADABLE: &str = "provenance.base-image-unreadable";
    /// The provenance predicate is not SLSA v0.2 or v1, or lacks a required field.
    pub const PROVENANCE_MALFORMED: &str = "provenance.malformed";
    /// Findings over a severity limit.
    pub const VULN_LIMIT: &str = "vuln.limit-exceeded";
    /// The newest verified scan is older than `maxAge`.
    pub const VULN_TOO_OLD: &str = "vuln.scan-too-old";
    /// The scanner is not in the allow-list, or older than its minimum version.
    pub const VULN_SCANNER: &str = "vuln.scanner-not-allowed";
    /// The scan predicate cannot be read (no findings vouch can normalize, no time).
    pub const VULN_MALFORMED: &str = "vuln.malformed";
    /// A scan dated more than 5 minutes after the evaluation time (verified time or claim):
    /// not counted as the newest scan.
    pub const VULN_SCAN_TIME_INVALID: &str = "vuln.scan-time-invalid";
    /// An ignore entry has expired (reported; the finding counts again).
    pub const VULN_IGNORE_EXPIRED: &str = "vuln.ignore-expired";
    /// A VEX document cannot be read.
    pub const VEX_MALFORMED: &str = "vex.malformed";
    /// A license on the deny-list, or not on the allow-list.
    pub const SBOM_LICENSE: &str = "sbom.license-denied";
    /// A banned package is in the SBOM.
    pub const SBOM_BANNED: &str = "sbom.banned-package";
    /// The SBOM cannot be read.
    pub const SBOM_MALFORMED: &str = "sbom.malformed";
    /// A message from the Rego rules (`data.vouch.deny` / `data.vouch.violation`).
    pub const REGO_DENY: &str = "rego.deny";
    /// The Rego file failed to evaluate.
    pub const REGO_ERROR: &str = "rego.error";
}
