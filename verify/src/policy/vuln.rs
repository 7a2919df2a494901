//! Vulnerability scans (cosign's vuln predicate, including reports vouch imported from Trivy,
//! Grype and SARIF) against a [`VulnRule`], with OpenVEX applied.
//!
//! Only the NEWEST scan counts: a scan's time is its verified time (transparency-log integrated
//! time or RFC 3161 timestamp) when it has one — only keyless attestations do: over a key
//! signature such a time proves only that the signature existed by then — else the
//! `metadata.scanFinishedOn` claim inside its predicate; the verdict says which. An old passing
//! scan never masks a newer failing one. A scan dated more than 5 minutes after the evaluation
//! time (verified or claimed) is a failing `vuln.scan-time-invalid` check and is never the
//! newest: a future date would otherwise always win the choice and pass any `maxAge`.
//!
//! Then, in order: the scanner allow-list (`scanner.uri` glob, minimum `scanner.version`),
//! freshness (`maxAge` against the injected clock), and the findings: each finding is
//! 1. ignored by a policy ignore entry naming its id or an alias — unless the entry has
//!    expired (`expires` < now): an expired entry ignores nothing, the finding counts again, and
//!    the verdict says so in a detail starting `vuln.ignore-expired:` on its severity's check;
//! 2. else suppressed by VEX when the latest applicable OpenVEX statement (see [`super::vex`])
//!    is `not_affected` or `fixed`, listed as "suppressed by VEX (source, status,
//!    justification)";
//! 3. else, with `onlyFixable`, not counted when it has no fixed version;
//! 4. else counted against its severity's limit.
//!
//! One `vuln.limit-exceeded` check per limited severity (or one summary check when no limit is
//! set) lists the counted findings and what was ignored, suppressed or not counted, and why.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;
use vouch_core::scan::{Finding, Severity};

use crate::attestation::VerifiedAttestation;
use crate::policy::depgraph::DepGraph;
use crate::policy::report::{Check, cap_findings, codes};
use crate::policy::rules::{IgnoreEntry, ImageContext, ScannerRule, VulnRule};
use crate::policy::vex::{self, Statement, VexDocument};

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds (times before 1970 shown as 1970).
pub(crate) fn rfc3339(secs: i64) -> String {
    vouch_core::time::format_unix(secs)
}

/// A duration for people: `2d 3h`, `5h 10m`, `42s`.
fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    let text = if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {}s", s % 60)
    } else {
        format!("{s}s")
    };
    if secs < 0 {
        format!("{text} in the future")
    } else {
        text
    }
}

/// Only what is needed to order scans: parsed without building the whole report.
#[derive(Deserialize)]
struct TimeOnly {
    #[serde(default)]
    metadata: Option<MetadataTimes>,
}

#[derive(Deserialize)]
struct MetadataTimes {
    #[serde(default, rename = "scanFinishedOn")]
    scan_finished_on: Option<Value>,
}

/// A scan's time and where it came from.
#[derive(Debug, Clone)]
struct ScanTime {
    secs: i64,
    verified: bool,
    source: String,
}

impl ScanTime {
    fn line(&self) -> String {
        format!("time: {} from {}", rfc3339(self.secs), self.source)
    }
}

fn scan_time(att: &VerifiedAttestation) -> Option<ScanTime> {
    if let Some((secs, src)) = att.verified_time() {
        return Some(ScanTime {
            secs,
            verified: true,
            source: format!("the {} (verified)", src.as_str()),
        });
    }
    let claim = serde_json::from_slice::<TimeOnly>(att.predicate_json())
        .ok()?
        .metadata?
        .scan_finished_on?;
    let secs = vouch_core::time::parse_rfc3339(claim.as_str()?)?;
    Some(ScanTime {
        secs,
        verified: false,
        source: "metadata.scanFinishedOn, only a claim inside the predicate (the attestation \
                 has no verified time: it is key-signed, or keyless without a log entry or \
                 timestamp)"
            .into(),
    })
}

/// [`evaluate_with`] without SBOMs.
#[cfg(test)]
pub(crate) fn evaluate(
    scans: &[&VerifiedAttestation],
    vex_attestations: &[&VerifiedAttestation],
    rule: &VulnRule,
    image: &ImageContext,
) -> Vec<Check> {
    evaluate_with(scans, vex_attestations, &[], rule, image)
}

/// Evaluates the newest of `scans` against `rule`, with the VEX documents of the policy and of
/// `vex_attestations` applied; the dependency graphs that tie an application product to the
/// image come from the newest scan's own report and from the verified SBOM attestations
/// `sboms` of the image ([`DepGraph`]). Every check is Pass or Fail; `rule` names are left
/// empty.
pub(crate) fn evaluate_with(
    scans: &[&VerifiedAttestation],
    vex_attestations: &[&VerifiedAttestation],
    sboms: &[&VerifiedAttestation],
    rule: &VulnRule,
    image: &ImageContext,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let docs = load_vex(vex_attestations, rule, &mut checks);

    // Scans dated more than FUTURE_SKEW after the evaluation time are invalid: a failing
    // check, and never the newest (a future date would always win the choice below and pass
    // any maxAge).
    let timed: Vec<(&VerifiedAttestation, Option<ScanTime>)> =
        scans.iter().map(|a| (*a, scan_time(a))).collect();
    let (future, timed): (Vec<_>, Vec<_>) = timed.into_iter().partition(|(_, t)| {
        t.as_ref()
            .is_some_and(|t| t.secs > image.now.saturating_add(FUTURE_SKEW))
    });
    if !future.is_empty() {
        checks.push(future_check(&future, image));
    }

    // The newest scan: latest time; scans without any time are older than all others; on a
    // tie the one given later.
    let Some(newest) = (0..timed.len()).max_by_key(|&i| {
        (
            timed[i].1.as_ref().map_or(i64::MIN, |t| t.secs),
            timed[i].1.as_ref().is_some_and(|t| t.verified),
            i,
        )
    }) else {
        if future.is_empty() {
            checks.push(Check::fail(
                codes::VULN_MALFORMED,
                "attestations",
                "a verified vulnerability scan",
                "none",
            ));
        }
        return checks;
    };
    let (att, time) = &timed[newest];
    let mut context = Vec::new();
    context.push(match time {
        Some(t) => t.line(),
        None => "time: none (no verified time and no metadata.scanFinishedOn)".into(),
    });
    if timed.len() > 1 {
        let others: Vec<String> = timed
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != newest)
            .map(|(_, (_, t))| {
                t.as_ref()
                    .map_or_else(|| "no time".to_owned(), |t| rfc3339(t.secs))
            })
            .collect();
        context.push(format!(
            "the newest of {} scans; not judged: older scans of {}",
            timed.len(),
            others.join(", ")
        ));
    }
    if !future.is_empty() {
        context.push(format!(
            "not judged: {} scan(s) dated in the future ({})",
            future.len(),
            codes::VULN_SCAN_TIME_INVALID
        ));
    }

    let predicate = match att.predicate() {
        Ok(p) => p,
        Err(e) => {
            checks.push(Check::fail(
                codes::VULN_MALFORMED,
                "predicate",
                "a cosign vuln predicate",
                format!("not JSON: {e}"),
            ));
            return checks;
        }
    };

    if !rule.scanners.is_empty() {
        checks.push(with_context(
            scanner_check(&predicate, &rule.scanners),
            &context,
        ));
    }
    if let Some(max) = rule.max_age {
        checks.push(with_context(
            freshness_check(time.as_ref(), max, rule, image),
            &context,
        ));
    }
    let findings = match vouch_core::scan::predicate_findings(&predicate) {
        Ok(f) => f,
        Err(why) => {
            checks.push(
                Check::fail(
                    codes::VULN_MALFORMED,
                    "predicate.scanner.result",
                    "findings vouch can read (a Trivy, Grype or SARIF report, or vouch's normalized findings)",
                    why,
                )
                .with_details(context),
            );
            return checks;
        }
    };
    // The VEX line goes on the limit checks only: the scan's context lines are deduplicated.
    let mut graph_line = None;
    let graphs = if docs.is_empty() {
        Vec::new()
    } else {
        let mut graphs: Vec<DepGraph> = predicate
            .pointer("/scanner/result")
            .and_then(|r| DepGraph::from_trivy(&format!("the packages of scan {}", att.layer()), r))
            .into_iter()
            .collect();
        graphs.extend(sboms.iter().filter_map(|a| {
            DepGraph::from_sbom(
                &format!("SBOM attestation {}", a.layer()),
                a.predicate_json(),
            )
        }));
        graph_line = Some(if graphs.is_empty() {
            "VEX: no verified dependency graph of the image (the scan lists no packages; no \
             verified SBOM by the rule's authorities): statements about an application \
             package are not applied"
                .to_owned()
        } else {
            let list: Vec<String> = graphs
                .iter()
                .map(|g| format!("{} ({} packages)", g.source, g.packages()))
                .collect();
            format!(
                "VEX: applications are tied to the image through {}",
                list.join(", ")
            )
        });
        graphs
    };
    let limit_context: Vec<String> = context.iter().cloned().chain(graph_line).collect();
    checks.extend(limit_checks(
        &findings,
        &docs,
        &graphs,
        rule,
        image,
        &limit_context,
    ));
    dedupe_context(&mut checks, &context);
    checks
}

/// The scan's context lines (its time, the other scans) once, on the first check that has
/// them: a verdict read at 3 a.m. should not say the same thing five times.
fn dedupe_context(checks: &mut [Check], context: &[String]) {
    if context.is_empty() {
        return;
    }
    let mut first = true;
    for c in checks.iter_mut() {
        if context.iter().all(|l| c.details.contains(l)) {
            if first {
                first = false;
                continue;
            }
            c.details.retain(|d| !context.contains(d));
        }
    }
}

/// Adds the scan's context lines (its time, the other scans) after a check's own details.
fn with_context(mut check: Check, context: &[String]) -> Check {
    check.details.extend(context.iter().cloned());
    check
}

/// How far after the evaluation time a scan may be dated (clock skew), in seconds.
const FUTURE_SKEW: i64 = 300;

/// The failing check for scans dated more than [`FUTURE_SKEW`] after the evaluation time.
fn future_check(
    future: &[(&VerifiedAttestation, Option<ScanTime>)],
    image: &ImageContext,
) -> Check {
    let times: Vec<&ScanTime> = future.iter().filter_map(|(_, t)| t.as_ref()).collect();
    let path = if times.iter().all(|t| t.verified) {
        "attestation verified time"
    } else if times.iter().all(|t| !t.verified) {
        "predicate.metadata.scanFinishedOn"
    } else {
        "attestation verified time / predicate.metadata.scanFinishedOn"
    };
    let lines: Vec<String> = future
        .iter()
        .filter_map(|(a, t)| {
            t.as_ref().map(|t| {
                format!(
                    "scan {}: {} from {}: {} after the evaluation time",
                    a.layer(),
                    rfc3339(t.secs),
                    t.source,
                    human_duration(t.secs - image.now)
                )
            })
        })
        .collect();
    Check::fail(
        codes::VULN_SCAN_TIME_INVALID,
        path,
        format!(
            "scan times at most {}m after the evaluation time {}",
            FUTURE_SKEW / 60,
            rfc3339(image.now)
        ),
        format!(
            "{} scan(s) dated in the future: not counted as the newest scan",
            future.len()
        ),
    )
    .with_details(cap_findings(lines))
}

/// Parses the policy's VEX documents and the openvex attestations; each malformed one is a
/// failing `vex.malformed` check, each readable one a passing one.
fn load_vex(
    attestations: &[&VerifiedAttestation],
    rule: &VulnRule,
    checks: &mut Vec<Check>,
) -> Vec<VexDocument> {
    let expected = "an OpenVEX document (https://openvex.dev/ns)";
    let mut docs = Vec::new();
    let mut take = |source: String, parsed: Result<VexDocument, String>| match parsed {
        Ok(doc) => {
            checks.push(Check::pass(
                codes::VEX_MALFORMED,
                source,
                expected,
                format!("{} statements", doc.statements.len()),
            ));
            docs.push(doc);
        }
        Err(why) => checks.push(Check::fail(codes::VEX_MALFORMED, source, expected, why)),
    };
    for d in &rule.vex {
        take(
            d.source.clone(),
            vex::parse_document(&d.source, &d.document),
        );
    }
    for a in attestations {
        let source = format!("openvex attestation {}", a.layer());
        let parsed = a
            .predicate()
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|p| vex::parse_document(&source, &p));
        take(source, parsed);
    }
    docs
}

/// Numeric components of a version (`v0.30.1-8-gf9cb8a28` → `[0, 30, 1]`); `None` when it
/// does not start with a number.
fn numeric_version(v: &str) -> Option<Vec<u64>> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let mut out = Vec::new();
    for part in v.split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        out.push(digits.parse().ok()?);
        if digits.len() != part.len() {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether `found` ≥ `min` (missing components count as 0); `None` when `found` is not numeric.
fn version_at_least(found: &str, min: &str) -> Option<bool> {
    let (f, m) = (numeric_version(found)?, numeric_version(min)?);
    let n = f.len().max(m.len());
    let pad = |v: &[u64]| {
        (0..n)
            .map(|i| v.get(i).copied().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    Some(pad(&f) >= pad(&m))
}

fn scanner_check(predicate: &Value, allowed: &[ScannerRule]) -> Check {
    let uri = predicate
        .pointer("/scanner/uri")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = predicate
        .pointer("/scanner/version")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| uri.rsplit_once('@').map(|(_, v)| v.to_owned()))
        .unwrap_or_default();
    let expected: Vec<String> = allowed
        .iter()
        .map(|s| match &s.min_version {
            Some(m) => format!("{} (version ≥ {m})", s.uri.as_str()),
            None => s.uri.as_str().to_owned(),
        })
        .collect();
    let expected = format!("one of [{}]", expected.join(", "));
    let found = if version.is_empty() {
        format!("{uri} (no version)")
    } else {
        format!("{uri} (version {version})")
    };
    let mut why = Vec::new();
    let ok = allowed.iter().any(|s| {
        if !s.uri.matches(uri) {
            return false;
        }
        match &s.min_version {
            None => true,
            Some(min) => match version_at_least(&version, min) {
                Some(true) => true,
                Some(false) => {
                    why.push(format!(
                        "version {version} is older than {min} ({})",
                        s.uri.as_str()
                    ));
                    false
                }
                None => {
                    why.push(format!(
                        "version `{version}` is not a number to compare with {min} ({})",
                        s.uri.as_str()
                    ));
                    false
                }
            },
        }
    });
    Check::pass_if(
        ok,
        codes::VULN_SCANNER,
        "predicate.scanner.uri",
        expected,
        found,
    )
    .with_details(why)
}

fn freshness_check(
    time: Option<&ScanTime>,
    max: i64,
    rule: &VulnRule,
    image: &ImageContext,
) -> Check {
    let expected = format!(
        "scanned at most {} ago",
        rule.max_age_text
            .clone()
            .unwrap_or_else(|| human_duration(max))
    );
    match time {
        None => Check::fail(
            codes::VULN_TOO_OLD,
            "metadata.scanFinishedOn",
            expected,
            "no scan time: no verified time and no metadata.scanFinishedOn",
        ),
        Some(t) => {
            let age = image.now - t.secs;
            let path = if t.verified {
                "attestation verified time"
            } else {
                "predicate.metadata.scanFinishedOn"
            };
            Check::pass_if(
                age <= max,
                codes::VULN_TOO_OLD,
                path,
                expected,
                format!(
                    "{} old (scanned {}, from {})",
                    human_duration(age),
                    rfc3339(t.secs),
                    t.source
                ),
            )
        }
    }
}

/// What happened to a finding.
enum Fate<'a> {
    Counted,
    Ignored(&'a IgnoreEntry),
    Suppressed(&'a VexDocument, &'a Statement),
    NotFixable,
}

/// `CVE-2024-1234 in openssl 3.0.1, fixed in 3.0.2`.
fn describe(f: &Finding) -> String {
    let mut s = format!("{} in {}", f.id, f.package.name);
    if let Some(v) = &f.installed_version {
        let _ = write!(s, " {v}");
    }
    match &f.fixed_version {
        Some(fix) => {
            let _ = write!(s, ", fixed in {fix}");
        }
        None => s.push_str(", no fix"),
    }
    s
}

fn names(entry: &IgnoreEntry, f: &Finding) -> bool {
    std::iter::once(&f.id)
        .chain(&f.aliases)
        .any(|id| id.eq_ignore_ascii_case(entry.id.trim()))
}

fn expires_text(e: &IgnoreEntry) -> String {
    e.expires_text
        .clone()
        .or_else(|| e.expires.map(rfc3339))
        .unwrap_or_default()
}

fn limit_checks(
    findings: &[Finding],
    docs: &[VexDocument],
    graphs: &[DepGraph],
    rule: &VulnRule,
    image: &ImageContext,
    context: &[String],
) -> Vec<Check> {
    // Per finding: its fate, and notes (expired ignore entries, VEX statements that decided
    // without suppressing).
    let mut fates = Vec::with_capacity(findings.len());
    for f in findings {
        let mut notes = Vec::new();
        let matching: Vec<&IgnoreEntry> = rule.ignore.iter().filter(|e| names(e, f)).collect();
        let live = matching
            .iter()
            .find(|e| e.expires.is_none_or(|x| x >= image.now));
        let fate = if let Some(e) = live {
            Fate::Ignored(e)
        } else {
            for e in &matching {
                let since = e.expires.map_or(0, |x| image.now - x);
                notes.push(format!(
                    "{}: {}: the ignore entry for {} (\"{}\") expired on {} ({} ago): counted again",
                    describe(f),
                    codes::VULN_IGNORE_EXPIRED,
                    e.id,
                    e.reason,
                    expires_text(e),
                    human_duration(since)
                ));
            }
            match vex::decide(docs, f, image, graphs) {
                Some((d, s)) if s.status.suppresses() => Fate::Suppressed(d, s),
                other => {
                    if let Some((d, s)) = other {
                        notes.push(format!(
                            "{}: VEX ({}) says {}: not suppressed",
                            describe(f),
                            d.source,
                            s.describe()
                        ));
                    }
                    notes.extend(
                        vex::unapplied_notes(docs, f, image, graphs)
                            .into_iter()
                            .map(|n| format!("{}: {n}", describe(f))),
                    );
                    if rule.only_fixable && f.fixed_version.is_none() {
                        Fate::NotFixable
                    } else {
                        Fate::Counted
                    }
                }
            }
        };
        fates.push((f, fate, notes));
    }

    let details_for = |sev: Option<Severity>| -> (Vec<&Finding>, Vec<String>) {
        let mut counted = Vec::new();
        let mut lines = Vec::new();
        for (f, fate, notes) in &fates {
            if sev.is_some_and(|s| s != f.severity) {
                continue;
            }
            match fate {
                Fate::Counted => counted.push(*f),
                Fate::Ignored(e) => {
                    let exp = e
                        .expires
                        .map(|_| format!("; until {}", expires_text(e)))
                        .unwrap_or_default();
                    lines.push(format!(
                        "{}: ignored by the policy ({}{exp})",
                        describe(f),
                        e.reason
                    ));
                }
                Fate::Suppressed(d, s) => lines.push(format!(
                    "{}: suppressed by VEX ({}, {})",
                    describe(f),
                    d.source,
                    s.describe()
                )),
                Fate::NotFixable => {
                    lines.push(format!("{}: not counted (onlyFixable)", describe(f)))
                }
            }
            lines.extend(notes.iter().cloned());
        }
        (counted, lines)
    };

    let path = "predicate.scanner.result";
    if rule.limits.is_empty() {
        let (counted, lines) = details_for(None);
        let mut per: std::collections::BTreeMap<Severity, usize> = Default::default();
        for f in &counted {
            *per.entry(f.severity).or_insert(0) += 1;
        }
        let summary: Vec<String> = per
            .iter()
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        let found = if summary.is_empty() {
            "no findings counted".to_owned()
        } else {
            summary.join(", ")
        };
        let mut details: Vec<String> = counted
            .iter()
            .map(|f| format!("{} ({})", describe(f), f.severity.as_str()))
            .collect();
        details.extend(lines);
        details.extend(context.iter().cloned());
        return vec![
            Check::pass(codes::VULN_LIMIT, path, "no severity limits", found)
                .with_details(cap_findings(details)),
        ];
    }

    let mut checks = Vec::new();
    for (&sev, &max) in &rule.limits {
        let (counted, lines) = details_for(Some(sev));
        let n = counted.len();
        let name = sev.as_str();
        let mut details = Vec::new();
        if n > max {
            let list: Vec<String> = counted.iter().take(10).map(|f| describe(f)).collect();
            let more = if n > 10 {
                format!("; … and {} more", n - 10)
            } else {
                String::new()
            };
            details.push(format!(
                "vuln: {n} {name} > {max} ({}{more})",
                list.join("; ")
            ));
        }
        if n <= max || n > 10 {
            // Over the limit, the summary above already names up to ten.
            let skip = if n > max { 10 } else { 0 };
            details.extend(
                counted
                    .iter()
                    .skip(skip)
                    .map(|f| format!("counted: {}", describe(f))),
            );
        }
        details.extend(lines);
        details.extend(context.iter().cloned());
        checks.push(
            Check::pass_if(
                n <= max,
                codes::VULN_LIMIT,
                path,
                format!("at most {max} {name}"),
                format!("{n} {name}"),
            )
            .with_details(cap_findings(details)),
        );
    }
    checks
}

#[cfg(test)]
mod tests;
