//! The policy file: YAML, read with budgets (serde-saphyr: no tags, bounded aliases and nesting),
//! capped in size, then validated into [`Policy`] with errors that name the file, the line and
//! the field. Paths inside a policy (keys, trusted roots, VEX documents, Rego) are relative to
//! the policy file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;
use vouch_core::digest::Sha256Digest;
use vouch_core::keys::PublicKey;
use vouch_core::keys::files::{self, ReadError};
use vouch_core::notary::policy::TrustPolicyDocument;
use vouch_core::notary::store::TrustStore;
use vouch_core::scan::Severity;
use vouch_core::sigstore::trusted_root::TrustedRoot;
use vouch_core::{Classify, ErrorClass};

use super::rules::{
    BaseImage, IgnoreEntry, Mode, Pattern, ProvenanceRule, SbomRule, ScannerRule, VexDocument,
    VulnRule,
};
use crate::attached::LayerError;
use crate::attestation::Authority;
use crate::sigstore_bundle::Matcher;

/// The largest policy file read.
pub const MAX_POLICY_BYTES: usize = 1 << 20;
/// The largest file a policy refers to (VEX document, Rego module, key, trusted root).
pub const MAX_REFERENCED_BYTES: usize = 16 << 20;

/// Why a policy cannot be used. Always an input error (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: vouch_core::IoError,
    },
    /// The YAML is malformed or does not have the policy's shape.
    #[error("{path}:{line}: {reason}")]
    Syntax {
        /// The policy file.
        path: String,
        /// The line (1-based; 0 when unknown).
        line: u32,
        /// What is wrong.
        reason: String,
    },
    /// A field has a value the policy cannot use.
    #[error("{path}:{line}: `{field}`: {reason}")]
    Invalid {
        /// The policy file.
        path: String,
        /// The line (1-based).
        line: u32,
        /// The field, as a path (`images[0].signatures.threshold`).
        field: String,
        /// What was expected and what was found.
        reason: String,
    },
}

impl Classify for PolicyError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Input
    }
}

mod authority;
mod raw;

use raw::{RawBaseImage, RawPolicy, RawProvenance, RawScanner, RawVuln};

// ---------------------------------------------------------------------------------------------
// The policy, validated.

/// A validated policy, with its keys, trusted roots, VEX documents and Rego loaded.
#[derive(Debug)]
pub struct Policy {
    pub(crate) source: String,
    pub(crate) digest: Sha256Digest,
    pub(crate) blocks: Vec<Block>,
    pub(crate) default_allow: bool,
}

impl Policy {
    /// The policy file as named when loaded.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// SHA-256 of the policy file's bytes (for promotion records).
    pub fn digest(&self) -> &Sha256Digest {
        &self.digest
    }
    /// Whether any block names a Rego module.
    pub fn uses_rego(&self) -> bool {
        self.blocks.iter().any(|b| b.rego.is_some())
    }
}

/// One `images:` entry.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) pattern: Pattern,
    pub(crate) line: u32,
    pub(crate) signatures: Option<SignatureRule>,
    pub(crate) attestations: Vec<AttestationRule>,
    pub(crate) rego: Option<RegoModule>,
    /// `namespaces`: when set, the block applies only to reviews in a matching namespace.
    pub(crate) namespaces: Option<Vec<Pattern>>,
    /// `excludeNamespaces`: the block never applies in these.
    pub(crate) exclude_namespaces: Vec<Pattern>,
}

impl Block {
    /// Whether the block applies to an image reviewed in `namespace` (`None`: outside a
    /// cluster, `vouch verify` / `vouch promote`, where blocks limited to namespaces do not
    /// apply).
    pub(crate) fn applies_in(&self, namespace: Option<&str>) -> bool {
        match namespace {
            None => self.namespaces.is_none(),
            Some(ns) => {
                self.namespaces
                    .as_ref()
                    .is_none_or(|l| l.iter().any(|p| p.matches(ns)))
                    && !self.exclude_namespaces.iter().any(|p| p.matches(ns))
            }
        }
    }
}

/// The signature rule of a block.
#[derive(Debug)]
pub(crate) struct SignatureRule {
    pub(crate) threshold: usize,
    pub(crate) authorities: Vec<PolicyAuthority>,
    pub(crate) mode: Mode,
}

/// One attestation rule of a block.
#[derive(Debug)]
pub(crate) struct AttestationRule {
    /// `attestations[i] (type)`.
    pub(crate) label: String,
    pub(crate) predicate_type: String,
    pub(crate) authorities: Vec<PolicyAuthority>,
    pub(crate) mode: Mode,
    pub(crate) provenance: Option<ProvenanceRule>,
    pub(crate) vulnerabilities: Option<VulnRule>,
    pub(crate) sbom: Option<SbomRule>,
}

/// A Rego module, checked to compile when the policy was loaded.
#[derive(Debug)]
pub(crate) struct RegoModule {
    pub(crate) path: String,
    pub(crate) prepared: super::rego::Prepared,
}

/// Who may have signed: a key, or a keyless identity (with optional GitHub workflow claims).
#[derive(Debug, Clone)]
pub(crate) struct PolicyAuthority {
    pub(crate) label: String,
    pub(crate) kind: AuthorityKind,
}

#[derive(Debug, Clone)]
pub(crate) enum AuthorityKind {
    Key(Arc<PublicKey>),
    Keyless(Box<KeylessAuthority>),
    Notation(Box<NotationAuthority>),
}

/// A Notary Project (notation) authority: the image's Notary signatures verified as notation
/// does, with this trust policy and trust store.
#[derive(Debug, Clone)]
pub(crate) struct NotationAuthority {
    pub(crate) policy: TrustPolicyDocument,
    pub(crate) store: TrustStore,
    /// CRLs revocation is checked against (`crls:`); none: revocation not checked.
    pub(crate) crls: Vec<vouch_core::notary::crl::Crl>,
}

/// A keyless authority: the certificate's identity, its GitHub claims, the trusted root.
#[derive(Debug, Clone)]
pub(crate) struct KeylessAuthority {
    pub(crate) subject: Matcher,
    pub(crate) issuer: Matcher,
    pub(crate) github: GithubRule,
    pub(crate) root: Arc<TrustedRoot>,
}

/// Conditions on the GitHub Actions claims of a Fulcio certificate; each a glob.
#[derive(Debug, Clone, Default)]
pub(crate) struct GithubRule {
    pub(crate) repository: Option<Pattern>,
    pub(crate) git_ref: Option<Pattern>,
    pub(crate) workflow: Option<Pattern>,
    pub(crate) trigger: Option<Pattern>,
    pub(crate) sha: Option<Pattern>,
}

impl PolicyAuthority {
    /// As the cosign verifiers take it; `None` for a notation authority (which verifies Notary
    /// Project signatures only, see [`Self::notation`]).
    pub(crate) fn authority(&self) -> Option<Authority<'_>> {
        match &self.kind {
            AuthorityKind::Key(k) => Some(Authority::Key(k)),
            AuthorityKind::Keyless(k) => Some(Authority::Keyless {
                subject: &k.subject,
                issuer: &k.issuer,
                root: &k.root,
            }),
            AuthorityKind::Notation(_) => None,
        }
    }

    /// The trust policy and store of a notation authority.
    pub(crate) fn notation(&self) -> Option<&NotationAuthority> {
        match &self.kind {
            AuthorityKind::Notation(n) => Some(n),
            _ => None,
        }
    }

    /// Whether a verified certificate identity also has the GitHub claims required; the reason
    /// when not. Key authorities have none to check.
    pub(crate) fn check_claims(
        &self,
        identity: Option<&vouch_core::sigstore::certificate::CertIdentity>,
    ) -> Result<(), LayerError> {
        let AuthorityKind::Keyless(k) = &self.kind else {
            return Ok(());
        };
        let github = &k.github;
        let claims = identity.map(|i| i.github()).unwrap_or_default();
        for (what, want, found) in [
            ("repository", &github.repository, &claims.repository),
            ("ref", &github.git_ref, &claims.git_ref),
            ("workflow", &github.workflow, &claims.workflow),
            ("trigger", &github.trigger, &claims.trigger),
            ("sha", &github.sha, &claims.sha),
        ] {
            if let Some(p) = want
                && !found.as_deref().is_some_and(|f| p.matches(f))
            {
                return Err(LayerError::Claims {
                    claim: what,
                    found: found.clone(),
                    expected: p.as_str().to_owned(),
                });
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Loading.

struct Ctx<'a> {
    path: &'a str,
    dir: &'a Path,
    public_good: Option<Arc<TrustedRoot>>,
    keys: BTreeMap<PathBuf, Arc<PublicKey>>,
    roots: BTreeMap<PathBuf, Arc<TrustedRoot>>,
}

impl Ctx<'_> {
    fn invalid(
        &self,
        line: u32,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> PolicyError {
        PolicyError::Invalid {
            path: self.path.to_owned(),
            line,
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn pattern(&self, s: &Spanned<String>, field: &str) -> Result<Pattern, PolicyError> {
        Pattern::new(&s.value).map_err(|e| self.invalid(line(s), field, e))
    }

    fn patterns(&self, list: &[Spanned<String>], field: &str) -> Result<Vec<Pattern>, PolicyError> {
        list.iter()
            .enumerate()
            .map(|(i, s)| self.pattern(s, &format!("{field}[{i}]")))
            .collect()
    }

    fn mode(&self, m: &Option<Spanned<String>>, field: &str) -> Result<Mode, PolicyError> {
        match m {
            None => Ok(Mode::Enforce),
            Some(m) => match m.value.as_str() {
                "enforce" => Ok(Mode::Enforce),
                "warn" => Ok(Mode::Warn),
                other => Err(self.invalid(
                    line(m),
                    field,
                    format!("expected `enforce` or `warn`, found `{other}`"),
                )),
            },
        }
    }

    fn read(
        &self,
        rel: &Spanned<String>,
        field: &str,
        what: &'static str,
    ) -> Result<(PathBuf, Vec<u8>), PolicyError> {
        let p = self.dir.join(&rel.value);
        match files::read_bounded(&p, what, MAX_REFERENCED_BYTES) {
            Ok(b) => Ok((p, b)),
            Err(ReadError::Io(e)) => Err(self.invalid(
                line(rel),
                field,
                format!("cannot read {what} {}: {e}", p.display()),
            )),
            Err(ReadError::TooLarge(t)) => Err(self.invalid(line(rel), field, t.to_string())),
        }
    }
}

fn line<T>(s: &Spanned<T>) -> u32 {
    u32::try_from(s.referenced.line()).unwrap_or(u32::MAX)
}

/// `24h`, `30m`, `7d`, `90s`, `1h30m` → seconds.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

/// `2027-01-01` (midnight UTC) or an RFC 3339 date-time → Unix seconds.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 10 {
        return vouch_core::time::parse_rfc3339(&format!("{s}T00:00:00Z"));
    }
    vouch_core::time::parse_rfc3339(s)
}

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let name = path.display().to_string();
        let bytes =
            files::read_bounded(path, "the policy", MAX_POLICY_BYTES).map_err(|e| match e {
                ReadError::Io(source) => PolicyError::Read {
                    path: name.clone(),
                    error: source,
                },
                ReadError::TooLarge(t) => PolicyError::Syntax {
                    path: name.clone(),
                    line: 0,
                    reason: t.to_string(),
                },
            })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&bytes, &name, dir)
    }

    /// Validates policy text; `name` names it in errors, `dir` is where its paths start.
    pub fn parse(bytes: &[u8], name: &str, dir: &Path) -> Result<Self, PolicyError> {
        let text = std::str::from_utf8(bytes).map_err(|e| PolicyError::Syntax {
            path: name.to_owned(),
            line: 0,
            reason: format!("not UTF-8: {e}"),
        })?;
        let options = serde_saphyr::options! {
            with_snippet: false,
        };
        let raw: RawPolicy = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            PolicyError::Syntax {
                path: name.to_owned(),
                line: e
                    .location()
                    .map_or(0, |l| u32::try_from(l.line()).unwrap_or(u32::MAX)),
                reason: e.to_string(),
            }
        })?;
        let mut ctx = Ctx {
            path: name,
            dir,
            public_good: None,
            keys: BTreeMap::new(),
            roots: BTreeMap::new(),
        };
        if raw.version.value != 1 {
            return Err(ctx.invalid(
                line(&raw.version),
                "version",
                format!("expected 1, found {}", raw.version.value),
            ));
        }
        let default_allow = match &raw.default {
            None => false,
            Some(d) => match d.value.as_str() {
                "deny" => false,
                "allow" => true,
                other => {
                    return Err(ctx.invalid(
                        line(d),
                        "default",
                        format!("expected `deny` or `allow`, found `{other}`"),
                    ));
                }
            },
        };
        let mut blocks = Vec::new();
        for (bi, b) in raw.images.iter().enumerate() {
            let field = format!("images[{bi}]");
            let rb = &b.value;
            let pattern = ctx.pattern(&rb.pattern, &format!("{field}.match"))?;
            if let Some(reason) = non_canonical_match(&rb.pattern.value) {
                return Err(ctx.invalid(line(&rb.pattern), format!("{field}.match"), reason));
            }
            let signatures = match &rb.signatures {
                None => None,
                Some(s) => {
                    let f = format!("{field}.signatures");
                    let authorities =
                        ctx.authorities(&s.value.authorities, &format!("{f}.authorities"))?;
                    if authorities.is_empty() {
                        return Err(ctx.invalid(
                            line(s),
                            format!("{f}.authorities"),
                            "at least one authority is required",
                        ));
                    }
                    let threshold = s.value.threshold.as_ref().map_or(1, |t| t.value);
                    if threshold == 0 || threshold > authorities.len() {
                        let l = s.value.threshold.as_ref().map_or(line(s), line);
                        return Err(ctx.invalid(
                            l,
                            format!("{f}.threshold"),
                            format!(
                                "expected a number from 1 to {} (the number of authorities), found {threshold}",
                                authorities.len()
                            ),
                        ));
                    }
                    Some(SignatureRule {
                        threshold,
                        authorities,
                        mode: ctx.mode(&s.value.mode, &format!("{f}.mode"))?,
                    })
                }
            };
            let mut attestations = Vec::new();
            for (ai, a) in rb.attestations.iter().enumerate() {
                let f = format!("{field}.attestations[{ai}]");
                let ra = &a.value;
                let predicate_type = vouch_core::predicate::predicate_type(&ra.kind.value)
                    .map_err(|e| ctx.invalid(line(&ra.kind), format!("{f}.type"), e.to_string()))?;
                let authorities = match &ra.authorities {
                    Some(list) => {
                        let list = ctx.authorities(list, &format!("{f}.authorities"))?;
                        if list.iter().any(|a| a.notation().is_some()) {
                            return Err(ctx.invalid(
                                line(a),
                                format!("{f}.authorities"),
                                "a `notation` authority verifies the image's Notary Project signatures, not attestations: use `key` or `keyless` here",
                            ));
                        }
                        list
                    }
                    // The block's cosign authorities: a notation one signs no attestation.
                    None => match &signatures {
                        Some(s) if s.authorities.iter().all(|a| a.notation().is_some()) => {
                            return Err(ctx.invalid(
                                line(a),
                                format!("{f}.authorities"),
                                "required: the block's signature authorities are all `notation` ones, which verify Notary Project signatures, not attestations",
                            ));
                        }
                        Some(s) => s
                            .authorities
                            .iter()
                            .filter(|a| a.notation().is_none())
                            .cloned()
                            .collect(),
                        None => {
                            return Err(ctx.invalid(
                                line(a),
                                format!("{f}.authorities"),
                                "required (or give the block a `signatures` rule, whose authorities are then used)",
                            ));
                        }
                    },
                };
                if authorities.is_empty() {
                    return Err(ctx.invalid(
                        line(a),
                        format!("{f}.authorities"),
                        "at least one authority is required",
                    ));
                }
                let provenance = match &ra.provenance {
                    None => None,
                    Some(p) => Some(compile_provenance(&ctx, p, &format!("{f}.provenance"))?),
                };
                let vulnerabilities = match &ra.vulnerabilities {
                    None => None,
                    Some(v) => Some(compile_vuln(&ctx, v, &format!("{f}.vulnerabilities"))?),
                };
                let sbom = match &ra.sbom {
                    None => None,
                    Some(s) => {
                        let sf = format!("{f}.sbom");
                        Some(SbomRule {
                            deny_licenses: ctx
                                .patterns(&s.value.deny_licenses, &format!("{sf}.denyLicenses"))?,
                            allow_licenses: s
                                .value
                                .allow_licenses
                                .as_ref()
                                .map(|l| ctx.patterns(l, &format!("{sf}.allowLicenses")))
                                .transpose()?,
                            banned_packages: ctx.patterns(
                                &s.value.banned_packages,
                                &format!("{sf}.bannedPackages"),
                            )?,
                        })
                    }
                };
                let short = ra.name.clone().unwrap_or_else(|| ra.kind.value.clone());
                attestations.push(AttestationRule {
                    label: format!("attestations[{ai}] ({short})"),
                    predicate_type,
                    authorities,
                    mode: ctx.mode(&ra.mode, &format!("{f}.mode"))?,
                    provenance,
                    vulnerabilities,
                    sbom,
                });
            }
            let rego = match &rb.rego {
                None => None,
                Some(r) => {
                    let (p, bytes) = ctx.read(r, &format!("{field}.rego"), "Rego module")?;
                    let source = String::from_utf8(bytes).map_err(|_| {
                        ctx.invalid(
                            line(r),
                            format!("{field}.rego"),
                            format!("{} is not UTF-8", p.display()),
                        )
                    })?;
                    let prepared = super::rego::prepare(&r.value, &source)
                        .map_err(|e| ctx.invalid(line(r), format!("{field}.rego"), e))?;
                    Some(RegoModule {
                        path: r.value.clone(),
                        prepared,
                    })
                }
            };
            let namespaces = rb
                .namespaces
                .as_ref()
                .map(|l| ctx.patterns(l, &format!("{field}.namespaces")))
                .transpose()?;
            let exclude_namespaces = ctx.patterns(
                &rb.exclude_namespaces,
                &format!("{field}.excludeNamespaces"),
            )?;
            blocks.push(Block {
                pattern,
                line: line(b),
                signatures,
                attestations,
                rego,
                namespaces,
                exclude_namespaces,
            });
        }
        Ok(Policy {
            source: name.to_owned(),
            digest: Sha256Digest::of(bytes),
            blocks,
            default_allow,
        })
    }
}

fn compile_provenance(
    ctx: &Ctx<'_>,
    p: &Spanned<RawProvenance>,
    f: &str,
) -> Result<ProvenanceRule, PolicyError> {
    let v = &p.value;
    let base_images = match &v.base_images {
        None => None,
        Some(list) => {
            let mut out = Vec::new();
            for (i, b) in list.iter().enumerate() {
                let bf = format!("{f}.baseImages[{i}]");
                let (repo, digests) = match &b.value {
                    RawBaseImage::Repository(r) => (r.clone(), Vec::new()),
                    RawBaseImage::Pinned(p) => (p.repository.clone(), p.digests.clone()),
                };
                let repository = Pattern::new(&repo).map_err(|e| ctx.invalid(line(b), &bf, e))?;
                let digests = digests
                    .iter()
                    .map(|d| {
                        d.parse::<Sha256Digest>().map_err(|e| {
                            ctx.invalid(line(b), format!("{bf}.digests"), format!("`{d}`: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(BaseImage {
                    repository,
                    digests,
                });
            }
            Some(out)
        }
    };
    Ok(ProvenanceRule {
        builder_ids: ctx.patterns(&v.builder_ids, &format!("{f}.builderIds"))?,
        source_repositories: ctx
            .patterns(&v.source_repositories, &format!("{f}.sourceRepositories"))?,
        source_refs: ctx.patterns(&v.source_refs, &format!("{f}.sourceRefs"))?,
        base_images,
    })
}

fn compile_vuln(ctx: &Ctx<'_>, v: &Spanned<RawVuln>, f: &str) -> Result<VulnRule, PolicyError> {
    let r = &v.value;
    let (max_age, max_age_text) = match &r.max_age {
        None => (None, None),
        Some(m) => {
            let secs = parse_duration(&m.value).ok_or_else(|| {
                ctx.invalid(
                    line(m),
                    format!("{f}.maxAge"),
                    format!(
                        "expected a duration such as `24h`, `30m`, `7d` or `1h30m`, found `{}`",
                        m.value
                    ),
                )
            })?;
            (Some(secs), Some(m.value.clone()))
        }
    };
    let mut limits = BTreeMap::new();
    if let Some(l) = &r.limits {
        for (sev, n) in &l.value {
            let s = Severity::parse(sev);
            if s == Severity::Unknown && !sev.eq_ignore_ascii_case("unknown") {
                return Err(ctx.invalid(
                    line(l),
                    format!("{f}.limits.{sev}"),
                    "expected a severity: critical, high, medium, low or unknown",
                ));
            }
            limits.insert(s, *n);
        }
    }
    let mut ignore = Vec::new();
    for (i, e) in r.ignore.iter().enumerate() {
        let ef = format!("{f}.ignore[{i}]");
        let Some(reason) = e.value.reason.clone().filter(|r| !r.trim().is_empty()) else {
            return Err(ctx.invalid(
                line(e),
                format!("{ef}.reason"),
                "every ignored vulnerability needs a reason",
            ));
        };
        let expires = match &e.value.expires {
            None => {
                return Err(ctx.invalid(
                    line(e),
                    format!("{ef}.expires"),
                    "every ignored vulnerability needs an expiry date (e.g. `expires: 2027-01-01`): an exception should be looked at again",
                ));
            }
            Some(x) => Some(parse_date(&x.value).ok_or_else(|| {
                ctx.invalid(
                    line(x),
                    format!("{ef}.expires"),
                    format!(
                        "expected a date such as 2027-01-01 or an RFC 3339 date-time, found `{}`",
                        x.value
                    ),
                )
            })?),
        };
        ignore.push(IgnoreEntry {
            id: e.value.id.clone(),
            reason,
            expires,
            expires_text: e.value.expires.as_ref().map(|x| x.value.clone()),
        });
    }
    let mut scanners = Vec::new();
    for (i, s) in r.scanners.iter().enumerate() {
        let (uri, min_version) = match &s.value {
            RawScanner::Uri(u) => (u.clone(), None),
            RawScanner::Full(f) => (f.uri.clone(), f.min_version.clone()),
        };
        scanners.push(ScannerRule {
            uri: Pattern::new(&uri)
                .map_err(|e| ctx.invalid(line(s), format!("{f}.scanners[{i}]"), e))?,
            min_version,
        });
    }
    let mut vex = Vec::new();
    for (i, x) in r.vex.iter().enumerate() {
        let xf = format!("{f}.vex[{i}]");
        let (_, bytes) = ctx.read(x, &xf, "VEX document")?;
        let document: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ctx.invalid(line(x), &xf, format!("{} is not JSON: {e}", x.value)))?;
        vex.push(VexDocument {
            source: x.value.clone(),
            document,
        });
    }
    Ok(VulnRule {
        max_age,
        max_age_text,
        limits,
        only_fixable: r.only_fixable,
        ignore,
        scanners,
        vex,
    })
}

/// Why an image pattern could never match the name it was written for, if it could not: images
/// are judged under their canonical name (`HOST/REPO` in lower case, the host in its one
/// spelling, Docker Hub as `docker.io/library/…`), so a block for `Registry.Example.com/…`,
/// `registry.example.com:443/…` or `alpine` would silently let its images fall to a later
/// block.
fn non_canonical_match(pattern: &str) -> Option<String> {
    use vouch_core::oci::reference::{canonical_registry, is_registry_host};
    if pattern.starts_with("oci:") {
        return None;
    }
    let is_glob = |s: &str| s.contains(['*', '?', '[', '\\']);
    if pattern.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!(
            "expected a pattern in lower case: image names are matched in their canonical form, where `{pattern}` can never match (write `{}`)",
            pattern.to_ascii_lowercase()
        ));
    }
    let (host, rest) = pattern.split_once('/').unwrap_or((pattern, ""));
    if is_glob(host) {
        return None;
    }
    if !is_registry_host(host) {
        return Some(format!(
            "expected HOST/REPO: image names always carry their registry (`alpine` is `docker.io/library/alpine`), so `{pattern}` can never match"
        ));
    }
    match canonical_registry(host) {
        Ok(c)
            if c == vouch_core::oci::reference::DOCKER_HUB
                && !rest.contains('/')
                && !is_glob(rest) =>
        {
            Some(format!(
                "expected docker.io/library/{rest}: a one-segment Docker Hub repository is under `library/`, so `{pattern}` can never match"
            ))
        }
        Ok(c) if c == host => None,
        Ok(c) => Some(format!(
            "expected the registry's canonical spelling `{c}`: `{host}` is never an image's name, so `{pattern}` can never match (write `{c}/{rest}`)"
        )),
        Err(e) => Some(format!("`{host}` is not a registry: {e}")),
    }
}

#[cfg(test)]
mod tests;
