use super::*;
use crate::policy::report::Status;
use crate::policy::rules::{Pattern, VexDocument as PolicyVex};
use crate::sigstore_bundle::TimeSource;
use serde_json::json;

const VULN_TYPE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
const DIGEST: &str = "sha256:e0a0a765d690a5104331cfbac88ebbbf01736c1f87aaa3cd455c516a5ea586a5";
/// 2026-01-10T00:00:00Z.
const NOW: i64 = 1_768_003_200;
const HOUR: i64 = 3600;

fn vector(rel: &str) -> Vec<u8> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/vectors")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn image() -> ImageContext {
    ImageContext {
        name: "registry.example.com/team/app".into(),
        digest: DIGEST.parse().unwrap(),
        now: NOW,
    }
}

fn statement(predicate_type: &str, predicate: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "registry.example.com/team/app", "digest": {"sha256": DIGEST.trim_start_matches("sha256:")}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }))
        .unwrap()
}

/// A real report imported as `vouch attest --type vuln` does, claiming `finished`.
fn predicate_of(rel: &str, finished: &str) -> Value {
    let mut p = vouch_core::scan::import(&vector(rel), None, finished)
        .unwrap()
        .predicate;
    p["metadata"]["scanFinishedOn"] = json!(finished);
    p
}

/// A scan claiming `finished`, with a verified (log) time when `verified` is given. Only
/// keyless attestations have a verified time (`VerifiedAttestation::verified_time` is
/// `None` for key-signed ones, whatever log entry or timestamp they carry): a scan built
/// here with a verified time stands for a keyless one; without, for a key-signed one (or
/// a keyless one without a log entry or timestamp).
fn scan(rel: &str, finished: &str, verified: Option<i64>) -> VerifiedAttestation {
    let p = predicate_of(rel, finished);
    VerifiedAttestation::signed_for_test(
        &statement(VULN_TYPE, &p),
        verified.map(|t| (t, TimeSource::TransparencyLog)),
    )
}

fn grype() -> VerifiedAttestation {
    scan("scans/grype/image.json", "2026-01-09T23:00:00Z", None)
}

fn trivy() -> VerifiedAttestation {
    scan("scans/trivy/alpine-310.json", "2026-01-09T23:00:00Z", None)
}

fn limits(v: &[(Severity, usize)]) -> VulnRule {
    VulnRule {
        limits: v.iter().copied().collect(),
        ..Default::default()
    }
}

fn by_code(checks: &[Check], code: &str) -> Vec<Check> {
    checks.iter().filter(|c| c.code == code).cloned().collect()
}

fn joined(c: &Check) -> String {
    c.details.join("\n")
}

#[test]
fn severity_limits_pass_and_fail() {
    let att = grype();
    let c = evaluate(&[&att], &[], &limits(&[(Severity::Critical, 0)]), &image());
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].status, Status::Fail);
    assert_eq!(c[0].code, codes::VULN_LIMIT);
    assert_eq!(c[0].expected, "at most 0 CRITICAL");
    assert_eq!(c[0].found, "1 CRITICAL");
    assert!(c[0].rule.is_empty());
    assert_eq!(
        c[0].details[0],
        "vuln: 1 CRITICAL > 0 (CVE-1999-0002 in package-2 2.2.2, no fix)"
    );
    let c = evaluate(
        &[&att],
        &[],
        &limits(&[
            (Severity::Critical, 1),
            (Severity::Low, 1),
            (Severity::High, 0),
        ]),
        &image(),
    );
    assert_eq!(c.len(), 3);
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    assert_eq!(c[0].found, "1 CRITICAL");
    assert_eq!(c[1].found, "0 HIGH");
    assert!(
        joined(&c[2]).contains("CVE-1999-0001 in package-1 1.1.1, fixed in 1.2.1, 2.1.3, 3.4.0")
    );
    // Trivy: 4 MEDIUM over a limit of 3.
    let att = trivy();
    let c = evaluate(&[&att], &[], &limits(&[(Severity::Medium, 3)]), &image());
    assert_eq!(c[0].status, Status::Fail);
    assert_eq!(c[0].found, "4 MEDIUM");
    assert!(c[0].details[0].starts_with(
        "vuln: 4 MEDIUM > 3 (CVE-2019-1549 in libcrypto1.1 1.1.1c-r0, fixed in 1.1.1d-r0; "
    ));
    // No limits: a passing summary.
    let c = evaluate(&[&att], &[], &VulnRule::default(), &image());
    assert_eq!(c[0].status, Status::Pass);
    assert_eq!(c[0].found, "4 MEDIUM");
}

#[test]
fn only_fixable() {
    let att = grype();
    let mut rule = limits(&[(Severity::Critical, 0)]);
    rule.only_fixable = true;
    let c = evaluate(&[&att], &[], &rule, &image());
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    assert!(
        joined(&c[0])
            .contains("CVE-1999-0002 in package-2 2.2.2, no fix: not counted (onlyFixable)")
    );
    // The Low finding has a fix: still counted.
    let mut rule = limits(&[(Severity::Low, 0)]);
    rule.only_fixable = true;
    assert_eq!(
        evaluate(&[&att], &[], &rule, &image())[0].status,
        Status::Fail
    );
}

fn ignore(id: &str, expires: Option<&str>) -> IgnoreEntry {
    IgnoreEntry {
        id: id.into(),
        reason: "not reachable".into(),
        expires: expires
            .map(|e| vouch_core::time::parse_rfc3339(&format!("{e}T00:00:00Z")).unwrap()),
        expires_text: expires.map(str::to_owned),
    }
}

#[test]
fn ignore_list_and_expired_entries() {
    let att = trivy();
    let mut rule = limits(&[(Severity::Medium, 2)]);
    rule.ignore = vec![ignore("cve-2019-1549", Some("2027-01-01"))];
    let c = evaluate(&[&att], &[], &rule, &image());
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    assert_eq!(c[0].found, "2 MEDIUM");
    assert!(joined(&c[0]).contains("CVE-2019-1549 in libssl1.1 1.1.1c-r0, fixed in 1.1.1d-r0: ignored by the policy (not reachable; until 2027-01-01)"));
    // Expired on 2026-01-01: ignores nothing, and says so.
    rule.ignore = vec![ignore("CVE-2019-1549", Some("2026-01-01"))];
    let c = evaluate(&[&att], &[], &rule, &image());
    assert_eq!(c[0].status, Status::Fail);
    assert_eq!(c[0].found, "4 MEDIUM");
    let d = joined(&c[0]);
    assert!(d.contains("vuln.ignore-expired: the ignore entry for CVE-2019-1549 (\"not reachable\") expired on 2026-01-01 (9d 0h ago): counted again"), "{d}");
    // Without an expiry date it never expires; matched through an alias too (Grype's
    // related vulnerabilities become aliases).
    rule.ignore = vec![ignore("CVE-2019-1549", None), ignore("CVE-2019-1551", None)];
    assert_eq!(evaluate(&[&att], &[], &rule, &image())[0].found, "0 MEDIUM");
}

#[test]
fn newest_scan_counts_with_its_time_source() {
    // An old passing scan (Trivy: no CRITICAL) and a newer failing one (Grype: 1 CRITICAL).
    let old = scan("scans/trivy/alpine-310.json", "2026-01-01T00:00:00Z", None);
    let new = scan("scans/grype/image.json", "2026-01-09T00:00:00Z", None);
    let rule = limits(&[(Severity::Critical, 0)]);
    for order in [[&old, &new], [&new, &old]] {
        let c = evaluate(&order, &[], &rule, &image());
        assert_eq!(c[0].status, Status::Fail, "{c:#?}");
        let d = joined(&c[0]);
        assert!(
            d.contains("time: 2026-01-09T00:00:00Z from metadata.scanFinishedOn, only a claim"),
            "{d}"
        );
        assert!(d.contains("the newest of 2 scans"), "{d}");
    }
    // The newer one passing: passes.
    let old = scan("scans/grype/image.json", "2026-01-01T00:00:00Z", None);
    let new = scan("scans/trivy/alpine-310.json", "2026-01-09T00:00:00Z", None);
    assert_eq!(
        evaluate(&[&new, &old], &[], &rule, &image())[0].status,
        Status::Pass
    );
    // A verified time beats the claim inside the predicate: the Grype scan claims to be
    // newest, but its log entry says it is older than the Trivy scan's. (Both stand for
    // keyless attestations: key-signed ones have no verified time.)
    let grype = scan(
        "scans/grype/image.json",
        "2026-01-09T12:00:00Z",
        Some(NOW - 48 * HOUR),
    );
    let trivy = scan(
        "scans/trivy/alpine-310.json",
        "2026-01-01T00:00:00Z",
        Some(NOW - 2 * HOUR),
    );
    let c = evaluate(&[&grype, &trivy], &[], &rule, &image());
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    assert!(joined(&c[0]).contains(
        "time: 2026-01-09T22:00:00Z from the transparency-log integrated time (verified)"
    ));
}

#[test]
fn future_dated_scans_fail_and_are_never_the_newest() {
    let rule = VulnRule {
        max_age: Some(24 * HOUR),
        max_age_text: Some("24h".into()),
        limits: [(Severity::Critical, 0)].into_iter().collect(),
        ..Default::default()
    };
    // Passing case: the real Grype scan (1 CRITICAL) and Trivy scan (MEDIUM only), both
    // dated an hour ago: the newer, Trivy, counts and passes.
    let grype = scan("scans/grype/image.json", "2026-01-09T22:00:00Z", None);
    let trivy = scan("scans/trivy/alpine-310.json", "2026-01-09T23:00:00Z", None);
    let c = evaluate(&[&grype, &trivy], &[], &rule, &image());
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    assert!(by_code(&c, codes::VULN_SCAN_TIME_INVALID).is_empty());
    // Variant: the Trivy scan's claim moved to a day after now. Before, it won the newest
    // choice and passed maxAge with a negative age; now it fails as invalid, and the
    // Grype scan is the one judged (its CRITICAL is over the limit).
    let future = scan("scans/trivy/alpine-310.json", "2026-01-11T00:00:00Z", None);
    for order in [[&grype, &future], [&future, &grype]] {
        let c = evaluate(&order, &[], &rule, &image());
        let t = by_code(&c, codes::VULN_SCAN_TIME_INVALID);
        assert_eq!(t.len(), 1, "{c:#?}");
        assert_eq!(t[0].status, Status::Fail);
        assert_eq!(t[0].path, "predicate.metadata.scanFinishedOn");
        assert_eq!(
            t[0].expected,
            "scan times at most 5m after the evaluation time 2026-01-10T00:00:00Z"
        );
        assert!(
            t[0].details[0]
                .contains("2026-01-11T00:00:00Z from metadata.scanFinishedOn, only a claim")
                && t[0].details[0].ends_with("1d 0h after the evaluation time"),
            "{t:#?}"
        );
        let lim = by_code(&c, codes::VULN_LIMIT);
        assert_eq!(lim[0].status, Status::Fail, "{c:#?}");
        // The scan's context is said once, on the first check that has it (maxAge).
        let d = joined(&by_code(&c, codes::VULN_TOO_OLD)[0]);
        assert!(d.contains("time: 2026-01-09T22:00:00Z"), "{d}");
        assert!(
            d.contains("not judged: 1 scan(s) dated in the future"),
            "{d}"
        );
        assert_eq!(by_code(&c, codes::VULN_TOO_OLD)[0].status, Status::Pass);
    }
    // A future-dated scan alone: only the failing time check, no maxAge pass.
    let c = evaluate(&[&future], &[], &rule, &image());
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].code, codes::VULN_SCAN_TIME_INVALID);
    assert_eq!(c[0].status, Status::Fail);
    // A verified (keyless) time in the future is invalid too.
    let v = scan(
        "scans/trivy/alpine-310.json",
        "2026-01-09T23:00:00Z",
        Some(NOW + 2 * HOUR),
    );
    let c = evaluate(&[&grype, &v], &[], &rule, &image());
    let t = by_code(&c, codes::VULN_SCAN_TIME_INVALID);
    assert_eq!(t[0].path, "attestation verified time", "{t:#?}");
    assert_eq!(by_code(&c, codes::VULN_LIMIT)[0].status, Status::Fail);
    // Within 5 minutes of clock skew: valid, newest, and fresh.
    let skewed = scan("scans/trivy/alpine-310.json", "2026-01-10T00:04:00Z", None);
    let c = evaluate(&[&grype, &skewed], &[], &rule, &image());
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    assert!(
        by_code(&c, codes::VULN_TOO_OLD)[0]
            .found
            .starts_with("4m 0s in the future old"),
        "{c:#?}"
    );
}

#[test]
fn freshness_on_verified_time_else_the_claim() {
    let rule = VulnRule {
        max_age: Some(24 * HOUR),
        max_age_text: Some("24h".into()),
        ..Default::default()
    };
    // Scans with a verified time stand for keyless attestations (see `scan`).
    let fresh = scan(
        "scans/grype/image.json",
        "2020-01-01T00:00:00Z",
        Some(NOW - HOUR),
    );
    let c = by_code(
        &evaluate(&[&fresh], &[], &rule, &image()),
        codes::VULN_TOO_OLD,
    );
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    assert_eq!(c[0].expected, "scanned at most 24h ago");
    assert!(
        c[0].found.starts_with(
            "1h 0m old (scanned 2026-01-09T23:00:00Z, from the transparency-log integrated time"
        ),
        "{}",
        c[0].found
    );
    let stale = scan(
        "scans/grype/image.json",
        "2026-01-09T23:00:00Z",
        Some(NOW - 50 * HOUR),
    );
    let c = by_code(
        &evaluate(&[&stale], &[], &rule, &image()),
        codes::VULN_TOO_OLD,
    );
    assert_eq!(c[0].status, Status::Fail);
    assert!(c[0].found.starts_with("2d 2h old"), "{}", c[0].found);
    // Without a verified time: the claim, and the verdict says it is only a claim.
    let c = by_code(
        &evaluate(&[&grype()], &[], &rule, &image()),
        codes::VULN_TOO_OLD,
    );
    assert_eq!(c[0].status, Status::Pass);
    assert_eq!(c[0].path, "predicate.metadata.scanFinishedOn");
    assert!(c[0].found.contains("only a claim"), "{}", c[0].found);
    let old = scan("scans/grype/image.json", "2025-12-01T00:00:00Z", None);
    let c = by_code(
        &evaluate(&[&old], &[], &rule, &image()),
        codes::VULN_TOO_OLD,
    );
    assert_eq!(c[0].status, Status::Fail);
    // No time at all.
    let mut p = predicate_of("scans/grype/image.json", "2026-01-09T23:00:00Z");
    p["metadata"] = json!({});
    let att = VerifiedAttestation::signed_for_test(&statement(VULN_TYPE, &p), None);
    let c = by_code(
        &evaluate(&[&att], &[], &rule, &image()),
        codes::VULN_TOO_OLD,
    );
    assert_eq!(c[0].status, Status::Fail);
    assert!(c[0].found.contains("no scan time"));
}

#[test]
fn scanner_allow_list_and_minimum_version() {
    let rule = |uri: &str, min: Option<&str>| VulnRule {
        scanners: vec![ScannerRule {
            uri: Pattern::new(uri).unwrap(),
            min_version: min.map(str::to_owned),
        }],
        ..Default::default()
    };
    let att = grype();
    let c = by_code(
        &evaluate(
            &[&att],
            &[],
            &rule("pkg:github/anchore/grype*", None),
            &image(),
        ),
        codes::VULN_SCANNER,
    );
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    let c = by_code(
        &evaluate(
            &[&att],
            &[],
            &rule("pkg:github/aquasecurity/trivy*", None),
            &image(),
        ),
        codes::VULN_SCANNER,
    );
    assert_eq!(c[0].status, Status::Fail);
    assert_eq!(c[0].path, "predicate.scanner.uri");
    // Trivy's own cosign-vuln predicate, version v0.30.1-8-gf9cb8a28.
    let p: Value = serde_json::from_slice(&vector(
        "more/04-scan-results/trivy/docs-cosign-vuln-alpine-3.10.json",
    ))
    .unwrap();
    let att = VerifiedAttestation::signed_for_test(&statement(VULN_TYPE, &p), None);
    let c = by_code(
        &evaluate(
            &[&att],
            &[],
            &rule("pkg:github/aquasecurity/trivy*", Some("0.30")),
            &image(),
        ),
        codes::VULN_SCANNER,
    );
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    let c = by_code(
        &evaluate(
            &[&att],
            &[],
            &rule("pkg:github/aquasecurity/trivy*", Some("v0.50.0")),
            &image(),
        ),
        codes::VULN_SCANNER,
    );
    assert_eq!(c[0].status, Status::Fail);
    assert!(joined(&c[0]).contains("older than v0.50.0"), "{c:#?}");
    // Trivy built from source says `dev`: not a version that can be compared.
    let c = by_code(
        &evaluate(
            &[&trivy()],
            &[],
            &rule("pkg:github/aquasecurity/trivy*", Some("0.1")),
            &image(),
        ),
        codes::VULN_SCANNER,
    );
    assert_eq!(c[0].status, Status::Fail);
    assert!(version_at_least("1.10", "1.9.5").unwrap());
    assert!(!version_at_least("0.9", "0.10").unwrap());
}

fn openvex(statements: Value) -> Value {
    json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex-1",
               "author": "test", "timestamp": "2026-01-02T00:00:00Z", "version": 1,
               "statements": statements})
}

#[test]
fn vex_from_the_policy_and_from_attestations() {
    let att = trivy();
    let rule_with = |vex: Vec<PolicyVex>| VulnRule {
        limits: [(Severity::Medium, 2)].into_iter().collect(),
        vex,
        ..Default::default()
    };
    // libcrypto1.1 is not affected in this image (by digest, as subcomponent).
    let hex = DIGEST.trim_start_matches("sha256:");
    let doc = openvex(json!([
        {"vulnerability": {"name": "CVE-2019-1549"}, "status": "not_affected",
         "justification": "vulnerable_code_not_in_execute_path",
         "products": [{"@id": format!("pkg:oci/app@sha256%3A{hex}?repository_url=registry.example.com/team/app"),
                       "subcomponents": [{"@id": "pkg:apk/alpine/libcrypto1.1"}]}]},
        {"vulnerability": {"name": "CVE-2019-1551"}, "status": "fixed",
         "products": [{"@id": format!("pkg:oci/app@sha256%3A{hex}"),
                       "subcomponents": [{"@id": "pkg:apk/alpine/libcrypto1.1@1.1.1c-r0"}]}]},
    ]));
    let rule = rule_with(vec![PolicyVex {
        source: "vex/app.openvex.json".into(),
        document: doc.clone(),
    }]);
    let c = evaluate(&[&att], &[], &rule, &image());
    let vexc = by_code(&c, codes::VEX_MALFORMED);
    assert_eq!(vexc[0].status, Status::Pass);
    let lim = by_code(&c, codes::VULN_LIMIT);
    assert_eq!(lim[0].status, Status::Pass, "{c:#?}");
    assert_eq!(lim[0].found, "2 MEDIUM");
    let d = joined(&lim[0]);
    assert!(d.contains("CVE-2019-1549 in libcrypto1.1 1.1.1c-r0, fixed in 1.1.1d-r0: suppressed by VEX (vex/app.openvex.json, not_affected, vulnerable_code_not_in_execute_path)"), "{d}");
    assert!(d.contains("CVE-2019-1551 in libcrypto1.1 1.1.1c-r0, fixed in 1.1.1d-r2: suppressed by VEX (vex/app.openvex.json, fixed)"), "{d}");
    // The same document as a verified openvex attestation.
    let vex_att = VerifiedAttestation::signed_for_test(
        &statement("https://openvex.dev/ns/v0.2.0", &doc),
        None,
    );
    let c = evaluate(&[&att], &[&vex_att], &rule_with(vec![]), &image());
    assert_eq!(
        by_code(&c, codes::VULN_LIMIT)[0].status,
        Status::Pass,
        "{c:#?}"
    );
    assert!(
        by_code(&c, codes::VEX_MALFORMED)[0]
            .path
            .starts_with("openvex attestation sha256:")
    );
    // Another image's digest: nothing suppressed.
    let other = ImageContext {
        digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"
            .parse()
            .unwrap(),
        ..image()
    };
    let c = evaluate(&[&att], &[&vex_att], &rule_with(vec![]), &other);
    let lim = by_code(&c, codes::VULN_LIMIT);
    assert_eq!(lim[0].status, Status::Fail);
    assert_eq!(lim[0].found, "4 MEDIUM");
    // A later `affected` statement supersedes: counted, and the verdict says why.
    let later = openvex(json!([
        {"vulnerability": {"name": "CVE-2019-1549"}, "status": "affected", "timestamp": "2026-01-05T00:00:00Z",
         "products": [{"@id": format!("pkg:oci/app@sha256%3A{hex}"), "subcomponents": [{"@id": "pkg:apk/alpine/libcrypto1.1"}]}]},
    ]));
    let rule = rule_with(vec![
        PolicyVex {
            source: "a.json".into(),
            document: doc,
        },
        PolicyVex {
            source: "b.json".into(),
            document: later,
        },
    ]);
    let lim = by_code(&evaluate(&[&att], &[], &rule, &image()), codes::VULN_LIMIT);
    assert_eq!(lim[0].found, "3 MEDIUM");
    assert!(joined(&lim[0]).contains("VEX (b.json) says affected: not suppressed"));
}

#[test]
fn vex_package_products_without_version_do_not_suppress() {
    // The real Trivy scan (4 MEDIUM) with a policy VEX document whose product is the
    // finding's package purl: with its version it suppresses; without, it is not applied
    // and the verdict says why.
    let att = trivy();
    let rule = |purl: &str| VulnRule {
        limits: [(Severity::Medium, 3)].into_iter().collect(),
        vex: vec![PolicyVex {
            source: "vex/distro.json".into(),
            document: openvex(json!([
                {"vulnerability": {"name": "CVE-2019-1549"}, "status": "fixed",
                 "products": [{"@id": purl}]},
            ])),
        }],
        ..Default::default()
    };
    let lim = by_code(
        &evaluate(
            &[&att],
            &[],
            &rule("pkg:apk/alpine/libcrypto1.1@1.1.1c-r0"),
            &image(),
        ),
        codes::VULN_LIMIT,
    );
    assert_eq!(lim[0].status, Status::Pass, "{lim:#?}");
    assert_eq!(lim[0].found, "3 MEDIUM");
    let lim = by_code(
        &evaluate(&[&att], &[], &rule("pkg:apk/alpine/libcrypto1.1"), &image()),
        codes::VULN_LIMIT,
    );
    assert_eq!(lim[0].status, Status::Fail, "{lim:#?}");
    assert_eq!(lim[0].found, "4 MEDIUM");
    assert!(
        joined(&lim[0]).contains(
            "CVE-2019-1549 in libcrypto1.1 1.1.1c-r0, fixed in 1.1.1d-r0: VEX (vex/distro.json) \
                 says fixed for `pkg:apk/alpine/libcrypto1.1`: not applied"
        ),
        "{lim:#?}"
    );
}

#[test]
fn malformed_vex_and_scans() {
    let att = grype();
    let rule = VulnRule {
        limits: [(Severity::Critical, 0)].into_iter().collect(),
        vex: vec![PolicyVex {
            source: "bad.json".into(),
            document: json!({"@context": "https://openvex.dev/ns", "statements": [{"status": "fixed"}]}),
        }],
        ..Default::default()
    };
    let c = evaluate(&[&att], &[], &rule, &image());
    let v = by_code(&c, codes::VEX_MALFORMED);
    assert_eq!(v[0].status, Status::Fail);
    assert_eq!(v[0].path, "bad.json");
    assert!(v[0].found.contains("no vulnerability"));
    // The scan is still judged.
    assert_eq!(by_code(&c, codes::VULN_LIMIT)[0].status, Status::Fail);
    // A vex attestation that is not OpenVEX (a CycloneDX VEX document).
    let cdx: Value = serde_json::from_slice(&vector(
        "more/07-vex/cyclonedx-vex/CISA-Case-1-vex-fixed.json",
    ))
    .unwrap();
    let vex_att =
        VerifiedAttestation::signed_for_test(&statement("https://openvex.dev/ns", &cdx), None);
    let c = evaluate(&[&att], &[&vex_att], &VulnRule::default(), &image());
    assert_eq!(by_code(&c, codes::VEX_MALFORMED)[0].status, Status::Fail);
    // A scan whose result vouch cannot read.
    let p = json!({"scanner": {"uri": "pkg:generic/x", "version": "1", "result": {"foo": 1}}, "metadata": {"scanFinishedOn": "2026-01-09T00:00:00Z"}});
    let bad = VerifiedAttestation::signed_for_test(&statement(VULN_TYPE, &p), None);
    let c = evaluate(&[&bad], &[], &rule, &image());
    let m = by_code(&c, codes::VULN_MALFORMED);
    assert_eq!(m[0].status, Status::Fail);
    assert_eq!(m[0].path, "predicate.scanner.result");
    assert!(by_code(&c, codes::VULN_LIMIT).is_empty());
    // No scan at all.
    let c = evaluate(&[], &[], &rule, &image());
    assert_eq!(by_code(&c, codes::VULN_MALFORMED)[0].status, Status::Fail);
}

#[test]
fn details_are_capped() {
    // Derived from the real Trivy report: its 4 findings repeated 30 times (120).
    let mut p = predicate_of("scans/trivy/alpine-310.json", "2026-01-09T23:00:00Z");
    let f = p["scanner"]["result"]["vouch"]["findings"]
        .as_array()
        .unwrap()
        .clone();
    let many: Vec<Value> = (0..30).flat_map(|_| f.clone()).collect();
    p["scanner"]["result"]["vouch"]["findings"] = json!(many);
    let att = VerifiedAttestation::signed_for_test(&statement(VULN_TYPE, &p), None);
    let c = evaluate(&[&att], &[], &limits(&[(Severity::Medium, 0)]), &image());
    assert_eq!(c[0].found, "120 MEDIUM");
    // The summary names ten; the other 110 are listed, capped at 50 lines.
    assert_eq!(c[0].details.len(), 51);
    assert_eq!(c[0].details[50], "… and 62 more");
    assert!(c[0].details[0].ends_with("; … and 110 more)"));
}
