//! Vulnerability-scan reports imported into cosign's vuln predicate
//! (`https://cosign.sigstore.dev/attestation/vuln/v1`), with a normalized list of findings so
//! that every scanner is judged the same way.
//!
//! Recognised inputs: Trivy JSON (`SchemaVersion`, `Results`), Grype JSON (`matches`,
//! `descriptor`), SARIF 2.1.0 logs from either, and an already-formed cosign vuln predicate
//! (`trivy --format cosign-vuln`). The original report stays in `scanner.result`; the findings
//! are added under `scanner.result.vouch`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::payload::PayloadError;
use crate::predicate::is_rfc3339;

/// A normalized severity. Deserializes from any scanner's spelling (see [`Severity::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Critical.
    Critical,
    /// High.
    High,
    /// Medium.
    Medium,
    /// Low (and Grype's Negligible).
    Low,
    /// Anything else.
    Unknown,
}

impl Severity {
    /// From any scanner's spelling.
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "HIGH" => Self::High,
            "MEDIUM" | "MODERATE" => Self::Medium,
            "LOW" | "NEGLIGIBLE" => Self::Low,
            _ => Self::Unknown,
        }
    }

    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
            Self::Unknown => "UNKNOWN",
        }
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// The package a finding is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its package URL, when the scanner gave one.
    #[serde(default)]
    pub purl: Option<String>,
}

/// One vulnerability in one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// CVE, GHSA… identifier.
    pub id: String,
    /// Other identifiers of the same vulnerability.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Normalized severity.
    pub severity: Severity,
    /// The affected package.
    pub package: Package,
    /// The installed version.
    #[serde(default)]
    pub installed_version: Option<String>,
    /// The version that fixes it, if any.
    #[serde(default)]
    pub fixed_version: Option<String>,
}

/// Which report was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Trivy JSON.
    TrivyJson,
    /// Grype JSON.
    GrypeJson,
    /// SARIF 2.1.0 (Trivy's or Grype's).
    Sarif,
    /// An already-formed cosign vuln predicate.
    CosignVuln,
}

impl ReportFormat {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::TrivyJson => "trivy-json",
            Self::GrypeJson => "grype-json",
            Self::Sarif => "sarif",
            Self::CosignVuln => "cosign-vuln",
        }
    }
}

/// An imported report.
#[derive(Debug, Clone)]
pub struct ImportedScan {
    /// The format recognised.
    pub format: ReportFormat,
    /// The cosign vuln predicate.
    pub predicate: Value,
    /// The normalized findings (also inside the predicate).
    pub findings: Vec<Finding>,
    /// Whether vouch could read the findings. A cosign vuln predicate whose `scanner.result`
    /// is no report vouch knows (cosign's own tests attest `"result": null`) is attested as it
    /// is, as cosign does; the policy gate then fails any vulnerability condition on it.
    pub normalized: bool,
}

impl ImportedScan {
    /// Findings per severity.
    pub fn counts(&self) -> BTreeMap<Severity, usize> {
        let mut m = BTreeMap::new();
        for f in &self.findings {
            *m.entry(f.severity).or_insert(0) += 1;
        }
        m
    }
}

const WHAT: &str = "vulnerability report";

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn trivy_findings(report: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for result in report
        .get("Results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for v in result
            .get("Vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let purl = v
                .get("PkgIdentifier")
                .and_then(|p| s(p, "PURL"))
                .or_else(|| s(v, "PkgPURL"));
            out.push(Finding {
                id: s(v, "VulnerabilityID").unwrap_or_default(),
                aliases: strings(v.get("VendorIDs")),
                severity: Severity::parse(&s(v, "Severity").unwrap_or_default()),
                package: Package {
                    name: s(v, "PkgName").unwrap_or_default(),
                    purl,
                },
                installed_version: s(v, "InstalledVersion"),
                fixed_version: s(v, "FixedVersion"),
            });
        }
    }
    out
}

fn grype_findings(report: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in report
        .get("matches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let vuln = m.get("vulnerability").unwrap_or(&Value::Null);
        let art = m.get("artifact").unwrap_or(&Value::Null);
        let id = s(vuln, "id").unwrap_or_default();
        let aliases = m
            .get("relatedVulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| s(r, "id"))
            .filter(|a| *a != id)
            .collect();
        let fixes = strings(vuln.get("fix").and_then(|f| f.get("versions")));
        out.push(Finding {
            id,
            aliases,
            severity: Severity::parse(&s(vuln, "severity").unwrap_or_default()),
            package: Package {
                name: s(art, "name").unwrap_or_default(),
                purl: s(art, "purl"),
            },
            installed_version: s(art, "version"),
            fixed_version: (!fixes.is_empty()).then(|| fixes.join(", ")),
        });
    }
    out
}

/// `Key: value` lines of a SARIF text (Trivy and Grype both write them).
fn text_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn sarif_findings(log: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for run in log
        .get("runs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rules: Vec<&Value> = run
            .pointer("/tool/driver/rules")
            .and_then(Value::as_array)
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        for result in run
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let rule_id = s(result, "ruleId").unwrap_or_default();
            let rule = result
                .get("ruleIndex")
                .and_then(Value::as_u64)
                .and_then(|i| rules.get(i as usize).copied())
                .filter(|r| s(r, "id").as_deref() == Some(rule_id.as_str()))
                .or_else(|| {
                    rules
                        .iter()
                        .copied()
                        .find(|r| s(r, "id").as_deref() == Some(rule_id.as_str()))
                });
            let mut fields = rule
                .and_then(|r| r.pointer("/help/text"))
                .and_then(Value::as_str)
                .map(text_fields)
                .unwrap_or_default();
            // The result's own message wins over the rule's help (a rule can cover packages).
            if let Some(m) = result.pointer("/message/text").and_then(Value::as_str) {
                fields.extend(text_fields(m));
            }
            let id = result
                .pointer("/message/text")
                .and_then(Value::as_str)
                .into_iter()
                .chain(
                    rule.and_then(|r| r.pointer("/help/text"))
                        .and_then(Value::as_str),
                )
                .flat_map(str::lines)
                .find_map(|l| {
                    l.strip_prefix("Vulnerability ")
                        .map(|x| x.trim().to_owned())
                })
                .unwrap_or(rule_id);
            let severity = match fields.get("severity") {
                Some(sev) => Severity::parse(sev),
                None => match s(result, "level").as_deref() {
                    Some("error") => Severity::High,
                    Some("warning") => Severity::Medium,
                    Some("note") => Severity::Low,
                    _ => Severity::Unknown,
                },
            };
            let fixed = fields
                .get("fixed version")
                .or_else(|| fields.get("fix version"))
                .filter(|f| !f.is_empty())
                .cloned();
            out.push(Finding {
                id,
                aliases: Vec::new(),
                severity,
                package: Package {
                    name: fields.get("package").cloned().unwrap_or_default(),
                    purl: None,
                },
                installed_version: fields
                    .get("installed version")
                    .or_else(|| fields.get("version"))
                    .cloned(),
                fixed_version: fixed,
            });
        }
    }
    out
}

fn scanner_uri(name: &str, version: &str) -> String {
    let base = match name.to_ascii_lowercase().as_str() {
        "trivy" => "pkg:github/aquasecurity/trivy".to_owned(),
        "grype" => "pkg:github/anchore/grype".to_owned(),
        other => format!("pkg:generic/{other}"),
    };
    if version.is_empty() {
        base
    } else {
        format!("{base}@{version}")
    }
}

fn detect(v: &Value) -> Option<ReportFormat> {
    let o = v.as_object()?;
    if o.contains_key("scanner") && (o.contains_key("metadata") || o.contains_key("invocation")) {
        Some(ReportFormat::CosignVuln)
    } else if o.contains_key("runs")
        && (o.get("version").and_then(Value::as_str) == Some("2.1.0")
            || o.get("$schema")
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains("sarif")))
    {
        Some(ReportFormat::Sarif)
    } else if o.contains_key("matches") && o.contains_key("descriptor") {
        Some(ReportFormat::GrypeJson)
    } else if o.contains_key("SchemaVersion")
        && (o.contains_key("Results") || o.contains_key("ArtifactName"))
    {
        Some(ReportFormat::TrivyJson)
    } else {
        None
    }
}

/// Findings of a report that is itself Trivy or Grype JSON (the `result` of a cosign-vuln).
fn findings_of(report: &Value) -> Option<Vec<Finding>> {
    match detect(report)? {
        ReportFormat::TrivyJson => Some(trivy_findings(report)),
        ReportFormat::GrypeJson => Some(grype_findings(report)),
        ReportFormat::Sarif => Some(sarif_findings(report)),
        ReportFormat::CosignVuln => None,
    }
}

/// Imports a report. `scan_finished_on` is used when the report has no time of its own, and
/// `now` when neither is given.
pub fn import(
    bytes: &[u8],
    scan_finished_on: Option<&str>,
    now: &str,
) -> Result<ImportedScan, PayloadError> {
    let report: Value = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json {
        what: WHAT,
        reason: e.to_string(),
    })?;
    let format = detect(&report).ok_or_else(|| PayloadError::Field {
        what: WHAT,
        field: "(document)",
        reason: "expected a Trivy JSON report (SchemaVersion, Results), a Grype JSON report (matches, descriptor), a SARIF 2.1.0 log (version, runs) or a cosign vuln predicate (scanner, metadata)".into(),
    })?;
    if let Some(t) = scan_finished_on
        && !is_rfc3339(t)
    {
        return Err(PayloadError::Field {
            what: "--scan-finished-on",
            field: "time",
            reason: format!("`{t}` is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z"),
        });
    }
    let time = |from_report: Option<String>| {
        from_report
            .filter(|t| is_rfc3339(t))
            .or_else(|| scan_finished_on.map(str::to_owned))
            .unwrap_or_else(|| now.to_owned())
    };
    let (findings, name, version, db, started, finished, mut result) = match format {
        ReportFormat::TrivyJson => {
            let version = report
                .get("Trivy")
                .and_then(|t| s(t, "Version"))
                .unwrap_or_default();
            let t = time(s(&report, "CreatedAt"));
            (
                trivy_findings(&report),
                "trivy",
                version,
                json!({"uri": "", "version": ""}),
                t.clone(),
                t,
                report,
            )
        }
        ReportFormat::GrypeJson => {
            let d = report.get("descriptor").unwrap_or(&Value::Null);
            let version = s(d, "version")
                .filter(|v| !v.starts_with('['))
                .unwrap_or_default();
            let db_version = d
                .get("db")
                .and_then(|db| {
                    s(db, "built").or_else(|| db.get("schemaVersion").map(|v| v.to_string()))
                })
                .unwrap_or_default();
            let t = time(s(d, "timestamp"));
            (
                grype_findings(&report),
                "grype",
                version,
                json!({"uri": "", "version": db_version}),
                t.clone(),
                t,
                report,
            )
        }
        ReportFormat::Sarif => {
            let driver = report
                .pointer("/runs/0/tool/driver")
                .unwrap_or(&Value::Null);
            let name = s(driver, "name")
                .unwrap_or_else(|| "unknown".into())
                .to_ascii_lowercase();
            let version = s(driver, "version").unwrap_or_default();
            let inv = report
                .pointer("/runs/0/invocations/0")
                .unwrap_or(&Value::Null);
            let finished = time(s(inv, "endTimeUtc"));
            let started = s(inv, "startTimeUtc")
                .filter(|t| is_rfc3339(t))
                .unwrap_or_else(|| finished.clone());
            let findings = sarif_findings(&report);
            let name: &'static str = match name.as_str() {
                "trivy" => "trivy",
                "grype" => "grype",
                _ => "sarif",
            };
            (
                findings,
                name,
                version,
                json!({"uri": "", "version": ""}),
                started,
                finished,
                report,
            )
        }
        ReportFormat::CosignVuln => {
            let mut pred = report;
            let result = pred
                .pointer("/scanner/result")
                .cloned()
                .unwrap_or(Value::Null);
            let found = findings_of(&result);
            let finished = time(
                pred.pointer("/metadata/scanFinishedOn")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            );
            let started = pred
                .pointer("/metadata/scanStartedOn")
                .and_then(Value::as_str)
                .filter(|t| is_rfc3339(t))
                .map(str::to_owned)
                .unwrap_or_else(|| finished.clone());
            if let Some(obj) = pred.as_object_mut() {
                obj.insert(
                    "metadata".into(),
                    json!({"scanStartedOn": started, "scanFinishedOn": finished}),
                );
            }
            let normalized = found.is_some();
            let findings = found.unwrap_or_default();
            if normalized {
                add_findings(&mut pred, "/scanner/result", format, &findings);
            }
            return Ok(ImportedScan {
                format,
                predicate: pred,
                findings,
                normalized,
            });
        }
    };
    let scanner_uri = scanner_uri(name, &version);
    add_findings(&mut result, "", format, &findings);
    let predicate = json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": scanner_uri, "version": version, "db": db, "result": result},
        "metadata": {"scanStartedOn": started, "scanFinishedOn": finished},
    });
    Ok(ImportedScan {
        format,
        predicate,
        findings,
        normalized: true,
    })
}

fn add_findings(pred: &mut Value, pointer: &str, format: ReportFormat, findings: &[Finding]) {
    if let Some(Value::Object(o)) = pred.pointer_mut(pointer) {
        o.insert(
            "vouch".into(),
            json!({"format": format.name(), "findings": findings}),
        );
    }
}

/// The normalized findings inside a vuln predicate written by vouch, if it has them.
pub fn findings_in(predicate: &Value) -> Option<Vec<Value>> {
    predicate
        .pointer("/scanner/result/vouch/findings")
        .and_then(Value::as_array)
        .cloned()
}

/// The normalized findings of a vuln predicate, as the policy gate judges them: those vouch
/// wrote under `scanner.result.vouch.findings` when present, else the findings of
/// `scanner.result` when it is a Trivy JSON report, a Grype JSON report or a SARIF log (as
/// [`import`] normalizes them). The error says why none can be read.
pub fn predicate_findings(predicate: &Value) -> Result<Vec<Finding>, String> {
    if let Some(found) = predicate.pointer("/scanner/result/vouch/findings") {
        return Vec::<Finding>::deserialize(found)
            .map_err(|e| format!("scanner.result.vouch.findings: {e}"));
    }
    let result = predicate
        .pointer("/scanner/result")
        .filter(|r| !r.is_null())
        .ok_or_else(|| "no scanner.result in the predicate".to_owned())?;
    findings_of(result).ok_or_else(|| {
        "scanner.result is not a Trivy JSON report, a Grype JSON report or a SARIF 2.1.0 log, \
         and has no findings normalized by vouch (scanner.result.vouch.findings)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(rel: &str) -> Vec<u8> {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/vectors")
            .join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn counts(scan: &ImportedScan) -> Vec<(&'static str, usize)> {
        scan.counts()
            .into_iter()
            .map(|(s, n)| (s.as_str(), n))
            .collect()
    }

    /// Counts per severity computed straight from the report, independently of the importer.
    fn expected_from_report(rel: &str) -> Vec<(&'static str, usize)> {
        let v: Value = serde_json::from_slice(&vector(rel)).unwrap();
        let mut m: BTreeMap<Severity, usize> = BTreeMap::new();
        if let Some(results) = v.get("Results") {
            for r in results.as_array().unwrap() {
                for x in r["Vulnerabilities"].as_array().into_iter().flatten() {
                    *m.entry(Severity::parse(x["Severity"].as_str().unwrap()))
                        .or_insert(0) += 1;
                }
            }
        } else {
            for x in v["matches"].as_array().unwrap() {
                *m.entry(Severity::parse(
                    x["vulnerability"]["severity"].as_str().unwrap(),
                ))
                .or_insert(0) += 1;
            }
        }
        m.into_iter().map(|(s, n)| (s.as_str(), n)).collect()
    }

    #[test]
    fn every_scan_vector_imports_with_matching_counts() {
        let now = "2026-01-01T00:00:00Z";
        for (rel, format, expected) in [
            (
                "scans/trivy/alpine-310.json",
                ReportFormat::TrivyJson,
                vec![("MEDIUM", 4)],
            ),
            (
                "scans/trivy/alpine-310.sarif.json",
                ReportFormat::Sarif,
                vec![("MEDIUM", 4)],
            ),
            (
                "scans/grype/image.json",
                ReportFormat::GrypeJson,
                vec![("CRITICAL", 1), ("LOW", 1)],
            ),
            (
                "scans/grype/image.sarif.json",
                ReportFormat::Sarif,
                vec![("CRITICAL", 1), ("LOW", 1)],
            ),
        ] {
            let scan = import(&vector(rel), None, now).unwrap();
            assert_eq!(scan.format, format, "{rel}");
            assert_eq!(counts(&scan), expected, "{rel}");
        }
        // debian-buster: whatever the report holds, the importer finds the same.
        let rel = "scans/trivy/debian-buster.json";
        let scan = import(&vector(rel), None, now).unwrap();
        assert_eq!(counts(&scan), expected_from_report(rel));
        for rel in ["scans/trivy/alpine-310.json", "scans/grype/image.json"] {
            assert_eq!(
                counts(&import(&vector(rel), None, now).unwrap()),
                expected_from_report(rel)
            );
        }
    }

    #[test]
    fn trivy_predicate_shape_and_details() {
        let scan = import(
            &vector("scans/trivy/alpine-310.json"),
            None,
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let p = &scan.predicate;
        assert_eq!(p["scanner"]["uri"], "pkg:github/aquasecurity/trivy@dev");
        assert_eq!(p["scanner"]["version"], "dev");
        // Time from the report's CreatedAt.
        assert_eq!(
            p["metadata"]["scanFinishedOn"],
            "2021-08-25T12:20:30.000000005Z"
        );
        // The original report stays, with the findings beside it.
        assert_eq!(p["scanner"]["result"]["SchemaVersion"], 2);
        let f = &scan.findings[0];
        assert_eq!(f.id, "CVE-2019-1549");
        assert_eq!(f.package.name, "libcrypto1.1");
        assert_eq!(
            f.package.purl.as_deref(),
            Some("pkg:apk/alpine/libcrypto1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2")
        );
        assert_eq!(f.installed_version.as_deref(), Some("1.1.1c-r0"));
        assert_eq!(f.fixed_version.as_deref(), Some("1.1.1d-r0"));
        assert_eq!(findings_in(p).unwrap().len(), 4);
    }

    #[test]
    fn grype_and_sarif_details_and_times() {
        // Grype's descriptor has no timestamp: --scan-finished-on is used.
        let scan = import(
            &vector("scans/grype/image.json"),
            Some("2025-05-01T10:00:00Z"),
            "now",
        )
        .unwrap();
        assert_eq!(
            scan.predicate["metadata"]["scanFinishedOn"],
            "2025-05-01T10:00:00Z"
        );
        assert_eq!(scan.predicate["scanner"]["uri"], "pkg:github/anchore/grype");
        let crit = scan
            .findings
            .iter()
            .find(|f| f.severity == Severity::Critical)
            .unwrap();
        assert_eq!(crit.id, "CVE-1999-0002");
        assert_eq!(crit.package.name, "package-2");
        let low = scan
            .findings
            .iter()
            .find(|f| f.severity == Severity::Low)
            .unwrap();
        assert_eq!(low.fixed_version.as_deref(), Some("1.2.1, 2.1.3, 3.4.0"));
        // Without either: now.
        let scan = import(
            &vector("scans/grype/image.sarif.json"),
            None,
            "2026-02-02T00:00:00Z",
        )
        .unwrap();
        assert_eq!(
            scan.predicate["metadata"]["scanFinishedOn"],
            "2026-02-02T00:00:00Z"
        );
        let low = scan
            .findings
            .iter()
            .find(|f| f.severity == Severity::Low)
            .unwrap();
        assert_eq!(low.id, "CVE-1999-0001");
        assert_eq!(low.package.name, "package-1");
        assert_eq!(low.installed_version.as_deref(), Some("1.1.1"));
        let scan = import(&vector("scans/trivy/alpine-310.sarif.json"), None, "now").unwrap();
        assert_eq!(scan.findings[0].id, "CVE-2019-1549");
        assert_eq!(scan.findings[0].package.name, "libcrypto1.1");
        assert_eq!(scan.findings[0].fixed_version.as_deref(), Some("1.1.1d-r0"));
    }

    #[test]
    fn cosign_vuln_predicate_from_trivy() {
        let scan = import(
            &vector("more/04-scan-results/trivy/docs-cosign-vuln-alpine-3.10.json"),
            None,
            "now",
        )
        .unwrap();
        assert_eq!(scan.format, ReportFormat::CosignVuln);
        assert_eq!(counts(&scan), vec![("CRITICAL", 1)]);
        assert!(findings_in(&scan.predicate).is_some());
    }

    #[test]
    fn other_documents_are_input_errors() {
        let err = import(br#"{"bomFormat":"CycloneDX"}"#, None, "now").unwrap_err();
        assert!(
            err.to_string().contains("expected a Trivy JSON report"),
            "{err}"
        );
        assert!(import(b"[]", None, "now").is_err());
        let err = import(
            &vector("scans/trivy/alpine-310.json"),
            Some("yesterday"),
            "now",
        )
        .unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }

    #[test]
    fn predicate_findings_read_vouch_findings_or_normalize_the_result() {
        // Written by vouch: the normalized findings round-trip through the predicate.
        let scan = import(
            &vector("scans/grype/image.json"),
            None,
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(predicate_findings(&scan.predicate).unwrap(), scan.findings);
        // A cosign vuln predicate from Trivy itself (no vouch findings): the Trivy result is
        // normalized.
        let raw: Value = serde_json::from_slice(&vector(
            "more/04-scan-results/trivy/docs-cosign-vuln-alpine-3.10.json",
        ))
        .unwrap();
        assert!(raw.pointer("/scanner/result/vouch").is_none());
        let found = predicate_findings(&raw).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "CVE-2021-36159");
        assert_eq!(found[0].severity, Severity::Critical);
        // Severity spellings of other scanners deserialize too.
        let f: Finding = serde_json::from_value(json!({
            "id": "X", "severity": "Moderate", "package": {"name": "p"}
        }))
        .unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.aliases.is_empty() && f.fixed_version.is_none());
        // Unreadable: no result, an unknown result, malformed vouch findings.
        assert!(predicate_findings(&json!({"scanner": {}})).is_err());
        assert!(predicate_findings(&json!({"scanner": {"result": {"x": 1}}})).is_err());
        let err = predicate_findings(
            &json!({"scanner": {"result": {"vouch": {"findings": [{"id": 1}]}}}}),
        )
        .unwrap_err();
        assert!(err.contains("scanner.result.vouch.findings"), "{err}");
    }
}
