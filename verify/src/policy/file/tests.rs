use super::*;

fn parse(text: &str) -> Result<Policy, PolicyError> {
    Policy::parse(text.as_bytes(), "p.yaml", Path::new("."))
}

#[test]
fn durations_and_dates() {
    assert_eq!(parse_duration("24h"), Some(86_400));
    assert_eq!(parse_duration("1h30m"), Some(5_400));
    assert_eq!(parse_duration("7d"), Some(604_800));
    assert_eq!(parse_duration("24"), None);
    assert_eq!(parse_duration("h"), None);
    assert_eq!(parse_date("2027-01-01"), Some(1_798_761_600));
    assert_eq!(parse_date("2027-01-01T00:00:00Z"), Some(1_798_761_600));
    assert_eq!(parse_date("soon"), None);
}

#[test]
fn errors_name_the_line_and_field() {
    let e = parse("version: 1\nimages:\n  - match: \"r.io/a/*\"\n    signatures:\n      threshold: 2\n      authorities:\n        - keyless: {issuer: x, subject: y}\n")
            .unwrap_err()
            .to_string();
    assert!(
        e.starts_with("p.yaml:5: `images[0].signatures.threshold`"),
        "{e}"
    );
    let e = parse("version: 1\nimages:\n  - match: \"r.io/a/*\"\n    colour: blue\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("p.yaml:4") && e.contains("colour"), "{e}");
    let e = parse("version: 2\n").unwrap_err().to_string();
    assert!(
        e.starts_with("p.yaml:1: `version`: expected 1, found 2"),
        "{e}"
    );
    let e = parse("version: 1\nimages:\n  - match: \"r.io/a\"\n    attestations:\n      - type: vuln\n        authorities: [{keyless: {issuer: x, subject: y}}]\n        vulnerabilities:\n          maxAge: soon\n")
            .unwrap_err()
            .to_string();
    assert!(
        e.starts_with("p.yaml:8: `images[0].attestations[0].vulnerabilities.maxAge`"),
        "{e}"
    );
    let e = parse(
        "version: 1\nimages:\n  - match: \"r.io/a\"\n    attestations:\n      - type: nonsense\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("p.yaml:5: `images[0].attestations[0].type`"),
        "{e}"
    );
    let e = parse("version: 1\nimages:\n  - match: \"r.io/a\"\n    signatures:\n      authorities:\n        - key: nope.pub\n").unwrap_err().to_string();
    assert!(
        e.starts_with("p.yaml:6: `images[0].signatures.authorities[0].key`"),
        "{e}"
    );
    let e = parse("version: 1\ndefault: maybe\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("p.yaml:2: `default`"), "{e}");
}

/// Issue 20: a block whose pattern is not in the canonical name form would never match the
/// images it was written for, and they would fall to a later, looser block.
#[test]
fn patterns_that_can_never_match_are_refused() {
    for (pattern, says) in [
        ("Registry.Example.com/prod/*", "lower case"),
        ("registry.example.com/Prod/*", "lower case"),
        ("registry.example.com:443/prod/*", "`registry.example.com`"),
        ("127.0.0.1:05000/prod/*", "`127.0.0.1:5000`"),
        ("index.docker.io/library/alpine", "`docker.io`"),
        ("docker.io/alpine", "docker.io/library/alpine"),
        ("alpine", "HOST/REPO"),
        ("library/alpine", "HOST/REPO"),
        ("registry.example.com./prod/*", "not a registry"),
    ] {
        let doc = format!("version: 1\nimages:\n  - match: \"{pattern}\"\n");
        let e = parse(&doc).unwrap_err().to_string();
        assert!(
            e.starts_with("p.yaml:3: `images[0].match`") && e.contains(says),
            "{pattern}: {e}"
        );
    }
    for ok in [
        "registry.example.com/prod/*",
        "127.0.0.1:*/**",
        "*/prod/**",
        "**",
        "docker.io/library/alpine",
        "docker.io/*",
        "[[]::1]:5000/*",
        "oci:**",
        "oci:/Media/USB/**",
    ] {
        let doc = format!("version: 1\nimages:\n  - match: \"{ok}\"\n");
        assert!(parse(&doc).is_ok(), "{ok}");
    }
}

#[test]
fn a_full_policy_compiles() {
    let p = parse(
            "version: 1\nimages:\n  - match: \"registry.example.com/team/*\"\n    signatures:\n      threshold: 1\n      authorities:\n        - keyless:\n            issuer: https://token.actions.githubusercontent.com\n            subjectRegExp: \"^https://github.com/acme/.+$\"\n            github: {repository: acme/app, ref: \"refs/tags/v*\"}\n    attestations:\n      - type: slsaprovenance1\n        provenance:\n          builderIds: [\"https://github.com/slsa-framework/**\"]\n          baseImages: [\"docker.io/library/alpine\", {repository: \"cgr.dev/chainguard/*\", digests: [\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"]}]\n      - type: vuln\n        mode: warn\n        vulnerabilities:\n          maxAge: 24h\n          limits: {critical: 0, high: 3}\n          ignore:\n            - {id: CVE-2023-1234, reason: \"not reachable\", expires: 2027-01-01}\n          scanners: [\"pkg:github/aquasecurity/trivy*\", {uri: \"pkg:github/anchore/grype*\", minVersion: \"0.70.0\"}]\n      - type: cyclonedx\n        sbom:\n          denyLicenses: [\"GPL-3.0-only\", \"AGPL-*\"]\n          bannedPackages: [\"pkg:npm/event-stream@3.3.6\"]\ndefault: allow\n",
        )
        .unwrap();
    assert!(p.default_allow);
    let b = &p.blocks[0];
    assert!(b.pattern.matches("registry.example.com/team/app"));
    assert!(!b.pattern.matches("registry.example.com/team/a/b"));
    assert_eq!(b.attestations.len(), 3);
    assert_eq!(b.attestations[1].mode, Mode::Warn);
    let v = b.attestations[1].vulnerabilities.as_ref().unwrap();
    assert_eq!(v.max_age, Some(86_400));
    assert_eq!(v.limits.get(&Severity::Critical), Some(&0));
    assert_eq!(v.ignore[0].expires, Some(1_798_761_600));
    assert_eq!(v.scanners[1].min_version.as_deref(), Some("0.70.0"));
    let prov = b.attestations[0].provenance.as_ref().unwrap();
    assert_eq!(prov.base_images.as_ref().unwrap().len(), 2);
    // The attestation rules without authorities use the signature rule's.
    assert_eq!(b.attestations[0].authorities.len(), 1);
}
