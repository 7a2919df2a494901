//! `vouch verify --policy`: every condition with a passing and a failing case, through the CLI,
//! on OCI layouts and the real registry, with real scans, SBOMs and the real keyless SLSA
//! provenance from tests/data/vectors. Dates are injected with `VOUCH_NOW`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::image::{client, layout_image, push_image};
use crate::support::registry::Registry;
use crate::support::{Run, run, vectors, vouch};

/// A working directory with keys `release`, `builder`, `scanner`, `other` (password `pw`) and
/// an image in an OCI layout.
struct Fixture {
    dir: tempfile::TempDir,
    image: String,
    digest: String,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for k in ["release", "builder", "scanner", "other"] {
            vouch_ok(dir.path(), &["generate-key-pair", "--output-key-prefix", k]);
        }
        let digest = layout_image(&dir.path().join("layout"), "v1").to_string();
        let image = format!("oci:{}@{digest}", dir.path().join("layout").display());
        Fixture { dir, image, digest }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn sign(&self, key: &str, format: &str) {
        vouch_ok(
            self.path(),
            &[
                "sign",
                "--key",
                &format!("{key}.key"),
                "--format",
                format,
                &self.image,
            ],
        );
    }

    fn attest(&self, key: &str, kind: &str, predicate: &Path, extra: &[&str]) {
        let key = format!("{key}.key");
        let predicate = predicate.display().to_string();
        let mut args = vec![
            "attest",
            "--key",
            &key,
            "--type",
            kind,
            "--predicate",
            &predicate,
        ];
        args.extend_from_slice(extra);
        args.push(&self.image);
        vouch_ok(self.path(), &args);
    }

    /// Writes `policy.yaml` and judges the image with it at `now`.
    fn judge(&self, policy: &str, now: &str) -> (Run, Value) {
        judge_image(self.path(), policy, now, &self.image)
    }
}

fn vouch_ok(dir: &Path, args: &[&str]) -> Run {
    run(vouch()
        .current_dir(dir)
        .env("VOUCH_PASSWORD", "pw")
        .env("VOUCH_SETTLE_MS", "50")
        .args(args))
    .ok()
}

fn judge_image(dir: &Path, policy: &str, now: &str, image: &str) -> (Run, Value) {
    fs::write(dir.join("policy.yaml"), policy).unwrap();
    let out = run(vouch().current_dir(dir).env("VOUCH_NOW", now).args([
        "verify",
        "--policy",
        "policy.yaml",
        "--output",
        "json",
        image,
    ]));
    assert!(
        out.code == 0 || out.code == 1,
        "expected a verdict (exit 0 or 1), got {out:#?}"
    );
    let doc: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"));
    assert_eq!(doc["allowed"] == true, out.code == 0, "{out:#?}");
    (out, doc)
}

/// The codes of the failing checks.
fn failures(doc: &Value) -> Vec<String> {
    doc["images"][0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// The check with `code`: a failing one if there is one (several checks may share a code, e.g.
/// one limit per severity), else the first.
fn check<'a>(doc: &'a Value, code: &str) -> &'a Value {
    let checks = doc["images"][0]["checks"].as_array().unwrap();
    checks
        .iter()
        .find(|c| c["code"] == code && c["status"] != "pass")
        .or_else(|| checks.iter().find(|c| c["code"] == code))
        .unwrap_or_else(|| panic!("no check {code} in {doc:#}"))
}

#[track_caller]
fn allowed(r: (Run, Value)) -> Value {
    assert_eq!(r.0.code, 0, "expected ALLOWED: {:#?}", r.0);
    assert!(r.0.stderr.contains("ALLOWED"), "{:#?}", r.0);
    r.1
}

#[track_caller]
fn denied(r: (Run, Value), code: &str) -> Value {
    assert_eq!(r.0.code, 1, "expected DENIED: {:#?}", r.0);
    assert!(
        failures(&r.1).iter().any(|c| c == code),
        "expected failure {code}, got {:?}\n{}",
        failures(&r.1),
        r.0.stderr
    );
    assert!(
        r.0.stderr.contains("DENIED") && r.0.stderr.contains(code),
        "{}",
        r.0.stderr
    );
    r.1
}

const NOW: &str = "2026-11-27T12:00:00Z";

// ---------------------------------------------------------------------------------------------
// Signatures.

#[test]
fn signatures_k_of_n_in_both_formats() {
    let f = Fixture::new();
    let three = |k: usize| {
        format!(
            "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      threshold: {k}\n      authorities:\n        - key: release.pub\n        - key: other.pub\n        - key: builder.pub\n"
        )
    };
    // No signature at all.
    let doc = denied(f.judge(&three(1), NOW), "signature.none-valid");
    assert!(
        check(&doc, "signature.none-valid")["found"]
            .as_str()
            .unwrap()
            .contains("no signatures")
    );
    // One signer (cosign 3 bundle), one (legacy .sig tag).
    f.sign("release", "bundle");
    allowed(f.judge(&three(1), NOW));
    denied(f.judge(&three(2), NOW), "signature.threshold-not-met");
    f.sign("other", "legacy");
    let doc = allowed(f.judge(&three(2), NOW));
    let found = check(&doc, "signature.threshold-not-met")["found"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(found.starts_with("2 authority(ies)"), "{found}");
    let doc = denied(f.judge(&three(3), NOW), "signature.threshold-not-met");
    assert!(
        check(&doc, "signature.threshold-not-met")["found"]
            .as_str()
            .unwrap()
            .contains("key release.pub")
    );
    // One signer counts once, however many authorities name it or however many signatures
    // it made (release signed in both formats below).
    f.sign("release", "legacy");
    let twice = "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      threshold: 2\n      authorities:\n        - key: release.pub\n        - {name: release again, key: release.pub}\n";
    let doc = denied(f.judge(twice, NOW), "signature.threshold-not-met");
    let c = check(&doc, "signature.threshold-not-met");
    assert!(
        c["found"].as_str().unwrap().starts_with("1 authority(ies)"),
        "{c:#}"
    );
    assert!(c.to_string().contains("already counted"), "{c:#}");
    // A signature by a key the policy does not name counts for nothing.
    let only_scanner = "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities: [{key: scanner.pub}]\n";
    let doc = denied(f.judge(only_scanner, NOW), "signature.none-valid");
    let details = check(&doc, "signature.none-valid")["details"].to_string();
    assert!(details.contains("key scanner.pub"), "{details}");
}

#[test]
fn block_matching_default_and_warn_mode() {
    let f = Fixture::new();
    f.sign("release", "bundle");
    // First match wins: the first block matches and demands what is missing.
    let p = "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities: [{key: other.pub}]\n  - match: \"**\"\n    signatures:\n      authorities: [{key: release.pub}]\n";
    let doc = denied(f.judge(p, NOW), "signature.none-valid");
    assert_eq!(doc["images"][0]["match"]["line"], 3);
    // No block matches: denied by default, allowed with `default: allow`.
    let p = "version: 1\nimages:\n  - match: \"registry.example.com/*\"\n    signatures:\n      authorities: [{key: release.pub}]\n";
    denied(f.judge(p, NOW), "policy.no-match");
    allowed(f.judge(&format!("{p}default: allow\n"), NOW));
    // mode: warn reports and does not deny.
    let p = "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      mode: warn\n      authorities: [{key: other.pub}]\n";
    let (out, doc) = f.judge(p, NOW);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(check(&doc, "signature.none-valid")["status"], "warn");
    assert!(out.stderr.contains("warn"), "{}", out.stderr);
}

#[test]
fn bad_policies_are_input_errors_naming_line_and_field() {
    let f = Fixture::new();
    for (policy, wanted) in [
        (
            "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      threshold: 3\n      authorities: [{key: release.pub}]\n",
            "policy.yaml:5: `images[0].signatures.threshold`",
        ),
        (
            "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities: [{key: missing.pub}]\n",
            "policy.yaml:5: `images[0].signatures.authorities[0].key`",
        ),
        (
            "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: vuln\n        authorities: [{key: scanner.pub}]\n        vulnerabilities:\n          limits: {catastrophic: 0}\n",
            "`images[0].attestations[0].vulnerabilities.limits.catastrophic`",
        ),
        (
            "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: vuln\n        authorities: [{key: scanner.pub}]\n        vulnerabilities:\n          ignore: [{id: CVE-1, expires: 2027-01-01}]\n",
            "`images[0].attestations[0].vulnerabilities.ignore[0].reason`",
        ),
        (
            "version: 1\nimages:\n  - match: \"oci:**\"\n    rego: nope.rego\n",
            "policy.yaml:4: `images[0].rego`",
        ),
        (
            "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities: [{key: release.pub}]\n    colour: blue\n",
            "policy.yaml:6",
        ),
    ] {
        fs::write(f.path().join("policy.yaml"), policy).unwrap();
        let out = run(vouch().current_dir(f.path()).args([
            "verify",
            "--policy",
            "policy.yaml",
            &f.image,
        ]))
        .code(2);
        assert!(
            out.stderr.contains(wanted),
            "expected `{wanted}` in {}",
            out.stderr
        );
    }
    // --policy and --key do not go together.
    run(vouch().current_dir(f.path()).args([
        "verify",
        "--policy",
        "policy.yaml",
        "--key",
        "release.pub",
        &f.image,
    ]))
    .code(2);
}

// ---------------------------------------------------------------------------------------------
// Vulnerability scans, VEX.

fn vuln_policy(conditions: &str) -> String {
    format!(
        "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: vuln\n        authorities: [{{key: scanner.pub}}]\n        vulnerabilities:\n{conditions}"
    )
}

#[test]
fn vulnerability_limits_ignores_fixable_and_scanners() {
    let f = Fixture::new();
    let grype = vectors().join("scans/grype/image.json"); // 1 Critical (no fix) + 1 Low (fixed)
    // The report has no time of its own: the claimed scan time is given.
    f.attest(
        "scanner",
        "vuln",
        &grype,
        &["--scan-finished-on", "2026-11-27T08:00:00Z"],
    );
    // Nothing required yet but a verified scan.
    allowed(f.judge(&vuln_policy("          limits: {critical: 1}\n"), NOW));
    let doc = denied(
        f.judge(
            &vuln_policy("          limits: {critical: 0, low: 5}\n"),
            NOW,
        ),
        "vuln.limit-exceeded",
    );
    let c = check(&doc, "vuln.limit-exceeded");
    assert!(c.to_string().contains("CVE-1999-0002"), "{c:#}");
    // Ignored with a reason, until a date.
    allowed(f.judge(
        &vuln_policy("          limits: {critical: 0}\n          ignore:\n            - {id: CVE-1999-0002, reason: \"not reachable\", expires: 2027-01-01}\n"),
        NOW,
    ));
    let doc = denied(
        f.judge(
            &vuln_policy("          limits: {critical: 0}\n          ignore:\n            - {id: CVE-1999-0002, reason: \"not reachable\", expires: 2026-11-01}\n"),
            NOW,
        ),
        "vuln.limit-exceeded",
    );
    assert!(
        doc.to_string().contains("expired"),
        "the verdict says the ignore expired: {doc:#}"
    );
    // Only fixable findings count: the critical one has no fix.
    allowed(f.judge(
        &vuln_policy("          onlyFixable: true\n          limits: {critical: 0}\n"),
        NOW,
    ));
    denied(
        f.judge(
            &vuln_policy("          onlyFixable: true\n          limits: {low: 0}\n"),
            NOW,
        ),
        "vuln.limit-exceeded",
    );
    // Scanner allow-list.
    allowed(f.judge(
        &vuln_policy("          scanners: [\"pkg:github/anchore/grype*\"]\n"),
        NOW,
    ));
    denied(
        f.judge(
            &vuln_policy("          scanners: [\"pkg:github/aquasecurity/trivy*\"]\n"),
            NOW,
        ),
        "vuln.scanner-not-allowed",
    );
}

#[test]
fn scan_freshness_uses_the_newest_scan_and_says_which_time() {
    let f = Fixture::new();
    let grype = vectors().join("scans/grype/image.json");
    let trivy = vectors().join("scans/trivy/alpine-310.json"); // 4 MEDIUM, CreatedAt 2021-08-25
    // An old scan with only MEDIUM findings, then a newer one with a CRITICAL.
    f.attest("scanner", "vuln", &trivy, &[]);
    f.attest(
        "scanner",
        "vuln",
        &grype,
        &["--scan-finished-on", "2026-11-27T08:00:00Z"],
    );
    let doc = denied(
        f.judge(
            &vuln_policy("          maxAge: 24h\n          limits: {critical: 0}\n"),
            NOW,
        ),
        "vuln.limit-exceeded",
    );
    // Key-signed attestations have no verified time: the claim is used, and said to be one.
    let fresh = check(&doc, "vuln.scan-too-old");
    assert_eq!(fresh["status"], "pass", "{fresh:#}");
    assert!(fresh.to_string().contains("claim"), "{fresh:#}");
    // Two days later the newest scan is too old.
    denied(
        f.judge(
            &vuln_policy("          maxAge: 24h\n"),
            "2026-11-29T12:00:00Z",
        ),
        "vuln.scan-too-old",
    );
}

#[test]
fn vex_suppresses_findings_from_a_file_and_from_attestations() {
    let f = Fixture::new();
    let grype = vectors().join("scans/grype/image.json");
    f.attest(
        "scanner",
        "vuln",
        &grype,
        &["--scan-finished-on", "2026-11-27T08:00:00Z"],
    );
    // Derived from OpenVEX's README example (more/07-vex/openvex/README.example-fixed.json):
    // the vulnerability and product changed to this scan's CVE and package.
    let mut vex: Value = serde_json::from_slice(
        &fs::read(vectors().join("more/07-vex/openvex/README.example-fixed.json")).unwrap(),
    )
    .unwrap();
    let st = &mut vex["statements"][0];
    st["vulnerability"] = serde_json::json!({"name": "CVE-1999-0002"});
    st["products"] = serde_json::json!([{
        "@id": format!("pkg:oci/image@{}", f.digest),
        "subcomponents": [{"@id": "pkg:deb/package-2@2.2.2"}],
    }]);
    st["status"] = "not_affected".into();
    st["justification"] = "vulnerable_code_not_in_execute_path".into();
    fs::write(
        f.path().join("app.openvex.json"),
        serde_json::to_vec(&vex).unwrap(),
    )
    .unwrap();
    let limits = "          limits: {critical: 0}\n";
    denied(f.judge(&vuln_policy(limits), NOW), "vuln.limit-exceeded");
    let doc = allowed(f.judge(
        &vuln_policy(&format!("{limits}          vex: [app.openvex.json]\n")),
        NOW,
    ));
    assert!(
        doc.to_string().contains("suppressed"),
        "suppressed findings are listed: {doc:#}"
    );
    // The same statement as a verified openvex attestation by the rule's authority.
    f.attest(
        "scanner",
        "openvex",
        &f.path().join("app.openvex.json"),
        &[],
    );
    allowed(f.judge(&vuln_policy(limits), NOW));
    // An `under_investigation` statement suppresses nothing.
    let g = Fixture::new();
    g.attest(
        "scanner",
        "vuln",
        &grype,
        &["--scan-finished-on", "2026-11-27T08:00:00Z"],
    );
    vex["statements"][0]["status"] = "under_investigation".into();
    vex["statements"][0]["products"][0]["@id"] = format!("pkg:oci/image@{}", g.digest).into();
    if let Some(o) = vex["statements"][0].as_object_mut() {
        o.remove("justification");
    }
    fs::write(
        g.path().join("app.openvex.json"),
        serde_json::to_vec(&vex).unwrap(),
    )
    .unwrap();
    denied(
        g.judge(
            &vuln_policy(&format!("{limits}          vex: [app.openvex.json]\n")),
            NOW,
        ),
        "vuln.limit-exceeded",
    );
}

/// Trivy's VEX cases (tests/data/trivy-vex, see its ORIGIN.md).
fn trivy_vex(name: &str) -> PathBuf {
    vectors().join("../trivy-vex").join(name)
}

#[test]
fn vex_application_products_are_tied_by_the_verified_scan_and_sbom() {
    // The uv project's real Trivy scan: its root package pkg:pypi/uv-test depends on
    // werkzeug 0.11.1 (one HIGH, one MEDIUM). A statement about the app (no version, as Trivy
    // writes it) with werkzeug as subcomponent suppresses both: the scan's own verified
    // packages tie the app to this image.
    let f = Fixture::new();
    f.attest("scanner", "vuln", &trivy_vex("uv.json.golden"), &[]);
    fs::copy(
        trivy_vex("uv.openvex.json"),
        f.path().join("app.openvex.json"),
    )
    .unwrap();
    let limits = "          limits: {high: 0, medium: 0}\n";
    denied(f.judge(&vuln_policy(limits), NOW), "vuln.limit-exceeded");
    let with_vex = vuln_policy(&format!("{limits}          vex: [app.openvex.json]\n"));
    let doc = allowed(f.judge(&with_vex, NOW));
    let text = doc.to_string();
    assert!(
        text.contains("CVE-2019-14806 in werkzeug 0.11.1, fixed in 0.15.3: suppressed by VEX (app.openvex.json, not_affected, vulnerable_code_not_in_execute_path)"),
        "{doc:#}"
    );
    assert!(
        text.contains("VEX: applications are tied to the image through the packages of scan"),
        "{doc:#}"
    );
    // Sibling: the same statement about click, which is in the image but does not depend on
    // werkzeug. Denied, and the verdict says why.
    let mut vex: Value =
        serde_json::from_slice(&fs::read(trivy_vex("uv.openvex.json")).unwrap()).unwrap();
    for st in vex["statements"].as_array_mut().unwrap() {
        st["products"][0]["@id"] = "pkg:pypi/click".into();
    }
    fs::write(
        f.path().join("app.openvex.json"),
        serde_json::to_vec(&vex).unwrap(),
    )
    .unwrap();
    let doc = denied(f.judge(&with_vex, NOW), "vuln.limit-exceeded");
    assert!(
        doc.to_string()
            .contains("(`pkg:pypi/click` does not depend on `pkg:pypi/werkzeug@0.11.1`"),
        "{doc:#}"
    );

    // Trivy's own "gomod with local VEX file" case, its VEX as a verified openvex
    // attestation: the scan lists no packages, so nothing verified ties the app
    // (pkg:golang/github.com/testdata/testdata) to this image — CVE-2022-23628 counts.
    let g = Fixture::new();
    g.attest("scanner", "vuln", &trivy_vex("gomod.json.golden"), &[]);
    g.attest("scanner", "openvex", &trivy_vex("gomod.openvex.json"), &[]);
    let medium = vuln_policy("          limits: {medium: 0}\n");
    let doc = denied(g.judge(&medium, NOW), "vuln.limit-exceeded");
    assert!(
        doc.to_string()
            .contains("no verified dependency graph of this image"),
        "{doc:#}"
    );
    // An SBOM of the image signed by someone else is no evidence.
    g.attest("other", "cyclonedx", &trivy_vex("gomod.cdx.json"), &[]);
    denied(g.judge(&medium, NOW), "vuln.limit-exceeded");
    // The SBOM signed by the rule's authority: the module depends on opa in the image.
    g.attest("scanner", "cyclonedx", &trivy_vex("gomod.cdx.json"), &[]);
    let doc = allowed(g.judge(&medium, NOW));
    assert!(
        doc.to_string().contains(
            "CVE-2022-23628 in github.com/open-policy-agent/opa v0.35.0, fixed in 0.37.0: suppressed by VEX"
        ),
        "{doc:#}"
    );
}

#[test]
fn only_verified_attestations_reach_the_conditions() {
    let f = Fixture::new();
    let grype = vectors().join("scans/grype/image.json");
    // A clean-looking scan by a key the policy does not trust, and a real one by the scanner.
    f.attest(
        "scanner",
        "vuln",
        &grype,
        &["--scan-finished-on", "2026-11-27T08:00:00Z"],
    );
    let trivy = vectors().join("scans/trivy/alpine-310.json");
    f.attest(
        "other",
        "vuln",
        &trivy,
        &["--scan-finished-on", "2026-11-27T11:00:00Z"],
    );
    denied(
        f.judge(&vuln_policy("          limits: {critical: 0}\n"), NOW),
        "vuln.limit-exceeded",
    );
    // No attestation by the required authority at all.
    let p = "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: cyclonedx\n        authorities: [{key: release.pub}]\n";
    denied(f.judge(p, NOW), "attestation.missing");
}

// ---------------------------------------------------------------------------------------------
// SBOMs.

#[test]
fn sbom_licenses_and_banned_packages() {
    let f = Fixture::new();
    // Licenses: EPL-1.0, BSD-3-Clause, "MIT License"; maven purls.
    f.attest(
        "release",
        "cyclonedx",
        &vectors().join("sboms/trivy-license.cdx.json"),
        &[],
    );
    let sbom = |cond: &str| {
        format!(
            "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: cyclonedx\n        authorities: [{{key: release.pub}}]\n        sbom:\n{cond}"
        )
    };
    allowed(f.judge(
        &sbom("          denyLicenses: [\"GPL-3.0-only\", \"AGPL-*\"]\n"),
        NOW,
    ));
    let doc = denied(
        f.judge(&sbom("          denyLicenses: [\"EPL-*\"]\n"), NOW),
        "sbom.license-denied",
    );
    assert!(
        doc.to_string().contains("org.eclipse.sisu.plexus"),
        "{doc:#}"
    );
    denied(
        f.judge(
            &sbom("          allowLicenses: [\"BSD-3-Clause\", \"MIT\"]\n"),
            NOW,
        ),
        "sbom.license-denied",
    );
    allowed(f.judge(
        &sbom("          bannedPackages: [\"pkg:npm/event-stream@3.3.6\"]\n"),
        NOW,
    ));
    let doc = denied(
        f.judge(
            &sbom("          bannedPackages: [\"pkg:maven/org.ow2.asm/asm@*\"]\n"),
            NOW,
        ),
        "sbom.banned-package",
    );
    assert!(
        doc.to_string().contains("pkg:maven/org.ow2.asm/asm@9.5"),
        "{doc:#}"
    );
    // A required SBOM that is not there.
    let spdx = "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: spdxjson\n        authorities: [{key: release.pub}]\n";
    denied(f.judge(spdx, NOW), "attestation.missing");
}

// ---------------------------------------------------------------------------------------------
// Provenance.

const SAN: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0";

fn slsa_layout(dir: &Path) -> PathBuf {
    crate::support::copy_slsa_layout(dir, "slsa")
}

fn keyless_policy(github: &str, provenance: &str) -> String {
    format!(
        "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: slsaprovenance\n        authorities:\n          - keyless:\n              issuer: https://token.actions.githubusercontent.com\n              subjectRegExp: \"^https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v.*$\"\n{github}        provenance:\n{provenance}"
    )
}

#[test]
fn real_keyless_slsa_provenance_builder_source_and_github_claims() {
    let dir = tempfile::tempdir().unwrap();
    let layout = slsa_layout(dir.path());
    let image = format!("oci:{}", layout.display());
    let github = "              github: {repository: slsa-framework/example-package, ref: \"refs/tags/v*\", trigger: push}\n";
    let good = format!(
        "          builderIds: [\"{SAN}\"]\n          sourceRepositories: [\"git+https://github.com/slsa-framework/example-package\"]\n          sourceRefs: [\"refs/tags/v*\"]\n"
    );
    // The attestation was logged in Rekor in March 2024: the verified time is the log's.
    let now = "2024-03-21T12:00:00Z";
    let doc = allowed(judge_image(
        dir.path(),
        &keyless_policy(github, &good),
        now,
        &image,
    ));
    assert_eq!(
        doc["images"][0]["digest"],
        "sha256:e0a0a765d690a5104331cfbac88ebbbf01736c1f87aaa3cd455c516a5ea586a5"
    );
    // Another builder version.
    let other_builder = "          builderIds: [\"https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0\"]\n";
    let doc = denied(
        judge_image(
            dir.path(),
            &keyless_policy(github, other_builder),
            now,
            &image,
        ),
        "provenance.builder-not-allowed",
    );
    let c = check(&doc, "provenance.builder-not-allowed");
    assert!(c["found"].as_str().unwrap().contains(SAN), "{c:#}");
    // Another source repository.
    denied(
        judge_image(
            dir.path(),
            &keyless_policy(
                github,
                "          sourceRepositories: [\"git+https://github.com/acme/app\"]\n",
            ),
            now,
            &image,
        ),
        "provenance.source-not-allowed",
    );
    denied(
        judge_image(
            dir.path(),
            &keyless_policy(github, "          sourceRefs: [\"refs/heads/main\"]\n"),
            now,
            &image,
        ),
        "provenance.ref-not-allowed",
    );
    // The certificate's GitHub claims: another repository means no authority verified it.
    let doc = denied(
        judge_image(
            dir.path(),
            &keyless_policy("              github: {repository: acme/app}\n", &good),
            now,
            &image,
        ),
        "attestation.missing",
    );
    assert!(
        doc.to_string().contains("slsa-framework/example-package"),
        "{doc:#}"
    );
}

/// A real SLSA v1 provenance (in-toto's valid predicate example) with BuildKit-style resolved
/// dependencies added: the base images named as a package URL and as a reference.
fn provenance_with_bases(dir: &Path, pinned: bool) -> PathBuf {
    let mut p: Value = serde_json::from_slice(
        &fs::read(vectors().join(
            "more/06-slsa-provenance/in-toto-attestation/provenance-v1-predicate-validation/valid-provenance-v1-predicate.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let alpine = "0a2a6a8c2b2a1c3b3a9f5d6c0c5e4b0f0e7a2c4d3b2a1f0e9d8c7b6a5f4e3d2c";
    let mut deps = vec![
        serde_json::json!({"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64", "digest": {"sha256": alpine}}),
        serde_json::json!({"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"sha1": "d37a7f740ee7404914456f24dcd90e865a0509e8"}}),
    ];
    if !pinned {
        deps.push(serde_json::json!({"uri": "docker.io/library/debian:bookworm"}));
    }
    p["buildDefinition"]["resolvedDependencies"] = Value::Array(deps);
    let path = dir.join(if pinned {
        "prov-pinned.json"
    } else {
        "prov-unpinned.json"
    });
    fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    path
}

#[test]
fn approved_base_images() {
    let f = Fixture::new();
    let g = Fixture::new();
    f.attest(
        "builder",
        "slsaprovenance1",
        &provenance_with_bases(f.path(), true),
        &[],
    );
    g.attest(
        "builder",
        "slsaprovenance1",
        &provenance_with_bases(g.path(), false),
        &[],
    );
    let policy = |bases: &str| {
        format!(
            "version: 1\nimages:\n  - match: \"oci:**\"\n    attestations:\n      - type: slsaprovenance1\n        authorities: [{{key: builder.pub}}]\n        provenance:\n          baseImages: {bases}\n"
        )
    };
    allowed(f.judge(
        &policy("[\"docker.io/library/alpine\", \"cgr.dev/chainguard/*\"]"),
        NOW,
    ));
    denied(
        f.judge(&policy("[\"cgr.dev/chainguard/*\"]"), NOW),
        "provenance.base-image-not-allowed",
    );
    // Allowed repository, but not one of the approved digests.
    denied(
        f.judge(
            &policy("[{repository: docker.io/library/alpine, digests: [\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"]}]"),
            NOW,
        ),
        "provenance.base-image-not-allowed",
    );
    // A base image named by tag only.
    denied(
        g.judge(&policy("[\"docker.io/library/*\"]"), NOW),
        "provenance.base-image-unpinned",
    );
}

// ---------------------------------------------------------------------------------------------
// Rego.

#[test]
fn rego_deny_messages_join_the_report() {
    let f = Fixture::new();
    f.sign("release", "bundle");
    f.attest(
        "release",
        "cyclonedx",
        &vectors().join("sboms/trivy-license.cdx.json"),
        &[],
    );
    // Rego v1, over verified statements only.
    fs::write(
        f.path().join("extra.rego"),
        "package vouch\n\ndeny contains msg if {\n  some a in input.attestations\n  a.predicateType == \"https://cyclonedx.org/bom\"\n  some c in a.statement.predicate.components\n  c.name == \"asm\"\n  msg := sprintf(\"component %s is not allowed in %s\", [c.name, input.image])\n}\n",
    )
    .unwrap();
    // Rego v0 syntax.
    fs::write(
        f.path().join("v0.rego"),
        "package vouch\n\ndeny[msg] {\n  count(input.signatures) < 1\n  msg := \"unsigned\"\n}\n",
    )
    .unwrap();
    let p = |file: &str| {
        format!(
            "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities: [{{key: release.pub}}]\n    attestations:\n      - type: cyclonedx\n    rego: {file}\n"
        )
    };
    let doc = denied(f.judge(&p("extra.rego"), NOW), "rego.deny");
    assert!(
        check(&doc, "rego.deny")["found"]
            .as_str()
            .unwrap()
            .contains("component asm is not allowed")
    );
    allowed(f.judge(&p("v0.rego"), NOW));
}

// ---------------------------------------------------------------------------------------------
// The registry.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_policy_with_json_codes() {
    let reg = Registry::start();
    let host = reg.host();
    let c = client();
    let digest = push_image(&c, &host, "team/app", "v1").await;
    let f = Fixture::new();
    let image = format!("{host}/team/app@{digest}");
    let by_tag = format!("{host}/team/app:v1");
    let dir = f.path().to_owned();
    let image2 = image.clone();
    tokio::task::spawn_blocking(move || {
        let scan = vectors().join("scans/trivy/alpine-310.json");
        let sbom = vectors().join("sboms/trivy-npm.cdx.json");
        vouch_ok(&dir, &["sign", "--key", "release.key", &image2]);
        vouch_ok(
            &dir,
            &["sign", "--key", "other.key", "--format", "legacy", &image2],
        );
        vouch_ok(
            &dir,
            &[
                "attest",
                "--key",
                "scanner.key",
                "--type",
                "vuln",
                "--predicate",
                &scan.display().to_string(),
                "--scan-finished-on",
                "2026-11-27T09:00:00Z",
                &image2,
            ],
        );
        vouch_ok(
            &dir,
            &[
                "attest",
                "--key",
                "release.key",
                "--format",
                "legacy",
                "--type",
                "cyclonedx",
                "--predicate",
                &sbom.display().to_string(),
                &image2,
            ],
        );
    })
    .await
    .unwrap();
    let policy = format!(
        "version: 1\nimages:\n  - match: \"{host}/team/*\"\n    signatures:\n      threshold: 2\n      authorities: [{{key: release.pub}}, {{key: other.pub}}]\n    attestations:\n      - type: vuln\n        authorities: [{{key: scanner.pub}}]\n        vulnerabilities:\n          limits: {{critical: 0, high: 0, medium: 4}}\n      - type: cyclonedx\n        authorities: [{{key: release.pub}}]\n        sbom:\n          bannedPackages: [\"pkg:npm/event-stream@3.3.6\"]\n"
    );
    let dir = f.path().to_owned();
    let (doc, strict) = tokio::task::spawn_blocking(move || {
        let doc = allowed(judge_image(&dir, &policy, NOW, &by_tag));
        let strict = policy.replace("medium: 4", "medium: 3");
        let strict = denied(
            judge_image(&dir, &strict, NOW, &image),
            "vuln.limit-exceeded",
        );
        (doc, strict)
    })
    .await
    .unwrap();
    // The verdict names the digest it judged: the tag was resolved once.
    assert_eq!(doc["images"][0]["digest"], digest.to_string());
    assert_eq!(doc["images"][0]["reference"], format!("{host}/team/app:v1"));
    assert_eq!(strict["allowed"], false);
    assert_eq!(
        check(&strict, "vuln.limit-exceeded")["found"]
            .as_str()
            .unwrap(),
        "4 MEDIUM"
    );
}

/// Issue 16: a batch lists each repository's tags once and asks for no attachment tag the
/// listing lacks (an unsigned image costs no `.sig` or referrers-fallback probe); where the
/// listing is refused, every tag is asked for as before, with the same verdicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_batch_lists_tags_once_and_probes_only_listed_tags() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use crate::support::proxy::FaultProxy;

    let reg = Registry::start();
    let c = client();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let refuse_listing = Arc::new(AtomicBool::new(false));
    let (log, refuse) = (seen.clone(), refuse_listing.clone());
    let proxy = FaultProxy::start(reg.host(), move |method, path| {
        log.lock().unwrap().push(format!("{method} {path}"));
        refuse.load(Ordering::SeqCst) && path.contains("/tags/list")
    });
    let host = proxy.host.clone();
    let mut images = Vec::new();
    for tag in ["legacy", "bundle", "unsigned"] {
        let digest = push_image(&c, &host, "team/batch", tag).await;
        images.push((format!("{host}/team/batch@{digest}"), digest));
    }
    let f = Fixture::new();
    let dir = f.path().to_owned();
    let (legacy, bundle) = (images[0].0.clone(), images[1].0.clone());
    tokio::task::spawn_blocking(move || {
        vouch_ok(
            &dir,
            &[
                "sign",
                "--key",
                "release.key",
                "--format",
                "legacy",
                &legacy,
            ],
        );
        vouch_ok(&dir, &["sign", "--key", "release.key", &bundle]);
    })
    .await
    .unwrap();
    fs::write(
        f.path().join("policy.yaml"),
        format!(
            "version: 1\nimages:\n  - match: \"{host}/team/*\"\n    signatures:\n      authorities: [{{key: release.pub}}]\n"
        ),
    )
    .unwrap();
    let judge = |refused: bool| {
        refuse_listing.store(refused, Ordering::SeqCst);
        seen.lock().unwrap().clear();
        let mut args = vec!["verify", "--policy", "policy.yaml", "--output", "json"];
        args.extend(images.iter().map(|(r, _)| r.as_str()));
        let out = run(vouch()
            .current_dir(f.path())
            .env("VOUCH_NOW", NOW)
            .args(&args));
        assert_eq!(out.code, 1, "the unsigned image is denied: {out:#?}");
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let verdicts: Vec<(bool, Vec<String>)> = doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let codes = v["failures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect();
                (v["allowed"] == true, codes)
            })
            .collect();
        assert_eq!(
            verdicts,
            vec![
                (true, vec![]),
                (true, vec![]),
                (false, vec!["signature.none-valid".to_owned()]),
            ],
            "{}",
            out.stderr
        );
        seen.lock().unwrap().clone()
    };
    let asked = |requests: &[String], suffix: &str| {
        requests
            .iter()
            .filter(|r| r.starts_with("GET ") && r.ends_with(suffix))
            .count()
    };
    let tag_of = |digest: &vouch_core::digest::Sha256Digest, ext: &str| {
        format!("/manifests/sha256-{}{ext}", digest.hex())
    };

    let listed = judge(false);
    assert_eq!(
        listed.iter().filter(|r| r.contains("/tags/list")).count(),
        1,
        "one listing for the batch: {listed:#?}"
    );
    // Only the legacy image has a `.sig` tag, only the bundle-signed one a fallback index.
    let (d_legacy, d_bundle, d_unsigned) = (&images[0].1, &images[1].1, &images[2].1);
    assert_eq!(asked(&listed, &tag_of(d_legacy, ".sig")), 1, "{listed:#?}");
    for d in [d_bundle, d_unsigned] {
        assert_eq!(asked(&listed, &tag_of(d, ".sig")), 0, "{listed:#?}");
    }
    assert_eq!(asked(&listed, &tag_of(d_bundle, "")), 1, "{listed:#?}");
    for d in [d_legacy, d_unsigned] {
        assert_eq!(asked(&listed, &tag_of(d, "")), 0, "{listed:#?}");
    }

    // The listing refused: each image's tags are asked for, the verdicts unchanged.
    let probed = judge(true);
    for (_, d) in &images {
        assert_eq!(asked(&probed, &tag_of(d, ".sig")), 1, "{probed:#?}");
        assert_eq!(asked(&probed, &tag_of(d, "")), 1, "{probed:#?}");
    }
}
