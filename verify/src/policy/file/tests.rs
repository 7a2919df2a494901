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

/// Issue 19: a `notation` authority, its paths relative to the policy file like `key:`.
fn parse_in_notary_data(text: &str) -> Result<Policy, PolicyError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/notary");
    Policy::parse(text.as_bytes(), "p.yaml", &dir)
}

const NOTATION_HEAD: &str =
    "version: 1\nimages:\n  - match: \"r.io/a\"\n    signatures:\n      authorities:\n";

#[test]
fn notation_authority_inline_and_by_trust_policy_file() {
    let inline = format!(
        "{NOTATION_HEAD}        - notation:\n            trustStore: truststore\n            trustStores: [\"ca:valid-trust-store\", \"tsa:test-timestamp\"]\n            trustedIdentities: [\"x509.subject: CN=Notation Test Leaf Cert, O=Notary, L=Seattle, ST=WA, C=US\"]\n            signatureVerification: permissive\n            verifyTimestamp: afterCertExpiry\n"
    );
    let p = parse_in_notary_data(&inline).unwrap();
    let a = &p.blocks[0].signatures.as_ref().unwrap().authorities[0];
    let n = a.notation().unwrap();
    assert!(a.authority().is_none());
    let statement = &n.policy.statements()[0];
    assert_eq!(statement.registry_scopes, vec!["*".to_owned()]);
    assert_eq!(statement.level.name(), "permissive");
    assert_eq!(statement.trust_stores.len(), 2);
    assert!(a.label.starts_with("notation x509.subject:"), "{}", a.label);

    // A trust policy document beside the policy file (written to a temporary folder holding
    // a copy of the layout: the paths resolve against the policy's folder).
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store/x509/ca/acme");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/notary/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem"),
        store.join("root.pem"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"acme","registryScopes":["r.io/a"],
        "signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],
        "trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let doc = format!(
        "{NOTATION_HEAD}        - name: acme notary\n          notation: {{trustStore: store, trustPolicy: trustpolicy.json}}\n        - key: nope-not-read.pub\n"
    );
    // The key is read too: the error is the key's, so the notation authority loaded.
    let e = Policy::parse(doc.as_bytes(), "p.yaml", tmp.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("authorities[1].key"), "{e}");
    let doc = format!(
        "{NOTATION_HEAD}        - name: acme notary\n          notation: {{trustStore: store, trustPolicy: trustpolicy.json}}\n"
    );
    let p = Policy::parse(doc.as_bytes(), "p.yaml", tmp.path()).unwrap();
    let a = &p.blocks[0].signatures.as_ref().unwrap().authorities[0];
    assert_eq!(a.label, "acme notary");
    assert_eq!(a.notation().unwrap().policy.statements()[0].name, "acme");
}

#[test]
fn notation_authority_errors_name_the_line_and_field() {
    let cases = [
        // A misspelt field.
        (
            "        - notation:\n            trustStore: truststore\n            trustedIdentity: [\"*\"]\n",
            "p.yaml:8",
            "trustedIdentity",
        ),
        // No store folder.
        (
            "        - notation:\n            trustStore: no-such-store\n            trustStores: [\"ca:valid-trust-store\"]\n            trustedIdentities: [\"*\"]\n",
            "p.yaml:7: `images[0].signatures.authorities[0].notation.trustStore`",
            "is not a folder",
        ),
        (
            "        - notation:\n            trustStores: [\"ca:valid-trust-store\"]\n            trustedIdentities: [\"*\"]\n",
            "p.yaml:7: `images[0].signatures.authorities[0].notation.trustStore`",
            "required",
        ),
        // A named store the folder does not hold.
        (
            "        - notation:\n            trustStore: truststore\n            trustStores: [\"ca:acme\"]\n            trustedIdentities: [\"*\"]\n",
            "p.yaml:8: `images[0].signatures.authorities[0].notation.trustStores`",
            "acme",
        ),
        // Neither a trust policy nor a statement; both.
        (
            "        - notation:\n            trustStore: truststore\n",
            "p.yaml:7: `images[0].signatures.authorities[0].notation`",
            "trustPolicy",
        ),
        (
            "        - notation:\n            trustStore: truststore\n            trustPolicy: tp.json\n            trustedIdentities: [\"*\"]\n",
            "p.yaml:8: `images[0].signatures.authorities[0].notation.trustPolicy`",
            "not both",
        ),
        (
            "        - notation:\n            trustStore: truststore\n            trustPolicy: tp.json\n",
            "p.yaml:8: `images[0].signatures.authorities[0].notation.trustPolicy`",
            "cannot read",
        ),
        // An invalid statement, a level that verifies nothing.
        (
            "        - notation:\n            trustStore: truststore\n            trustStores: [\"ca:valid-trust-store\"]\n            trustedIdentities: [\"x509.subject: nonsense\"]\n",
            "p.yaml:7: `images[0].signatures.authorities[0].notation`",
            "trust",
        ),
        (
            "        - notation:\n            trustStore: truststore\n            trustStores: [\"ca:valid-trust-store\"]\n            trustedIdentities: [\"*\"]\n            signatureVerification: skip\n",
            "p.yaml:10: `images[0].signatures.authorities[0].notation.signatureVerification`",
            "verifies nothing",
        ),
        // Two kinds in one authority.
        (
            "        - key: k.pub\n          notation: {trustStore: truststore, trustedIdentities: [\"*\"], trustStores: [\"ca:valid-trust-store\"]}\n",
            "p.yaml:7: `images[0].signatures.authorities[0]`",
            "one of",
        ),
    ];
    for (authority, at, says) in cases {
        let e = parse_in_notary_data(&format!("{NOTATION_HEAD}{authority}"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(at) && e.contains(says), "{authority}: {e}");
    }
}

#[test]
fn notation_authorities_never_verify_attestations() {
    let n = "{trustStore: truststore, trustStores: [\"ca:valid-trust-store\"], trustedIdentities: [\"*\"]}";
    // Named for an attestation: refused.
    let doc = format!(
        "version: 1\nimages:\n  - match: \"r.io/a\"\n    attestations:\n      - type: slsaprovenance\n        authorities: [{{notation: {n}}}]\n"
    );
    let e = parse_in_notary_data(&doc).unwrap_err().to_string();
    assert!(e.contains("not attestations"), "{e}");
    // Inherited from the block's signatures: only the cosign ones; none left is an error.
    let doc = format!(
        "{NOTATION_HEAD}        - notation: {n}\n    attestations:\n      - type: slsaprovenance\n"
    );
    let e = parse_in_notary_data(&doc).unwrap_err().to_string();
    assert!(
        e.starts_with("p.yaml:8: `images[0].attestations[0].authorities`"),
        "{e}"
    );
    let doc = format!(
        "{NOTATION_HEAD}        - notation: {n}\n        - keyless: {{issuer: x, subject: y}}\n      threshold: 2\n    attestations:\n      - type: slsaprovenance\n"
    );
    let p = parse_in_notary_data(&doc).unwrap();
    let a = &p.blocks[0].attestations[0].authorities;
    assert_eq!(a.len(), 1);
    assert!(a[0].notation().is_none());
}

#[test]
fn notation_authority_crls_and_override() {
    // CRL files relative to the policy (tests/data/notary here), DER and PEM; an override.
    let doc = format!(
        "{NOTATION_HEAD}        - notation:\n            trustStore: truststore\n            trustStores: [\"ca:valid-trust-store\"]\n            trustedIdentities: [\"*\"]\n            override: {{revocation: log}}\n            crls: [crl/int-empty.crl, crl/int-revokes-leaf.pem, crl/root-empty.crl]\n"
    );
    let p = parse_in_notary_data(&doc).unwrap();
    let n = p.blocks[0].signatures.as_ref().unwrap().authorities[0]
        .notation()
        .unwrap();
    assert_eq!(n.crls.len(), 3);
    assert_eq!(
        n.policy.statements()[0]
            .level
            .action(vouch_core::notary::policy::Check::Revocation),
        vouch_core::notary::policy::Action::Log
    );
    // Without `crls:` none (revocation reported as not checked).
    let doc = format!(
        "{NOTATION_HEAD}        - notation:\n            trustStore: truststore\n            trustStores: [\"ca:valid-trust-store\"]\n            trustedIdentities: [\"*\"]\n"
    );
    let p = parse_in_notary_data(&doc).unwrap();
    assert!(
        p.blocks[0].signatures.as_ref().unwrap().authorities[0]
            .notation()
            .unwrap()
            .crls
            .is_empty()
    );
    // Errors name the line and the entry.
    let base = "        - notation:\n            trustStore: truststore\n            trustStores: [\"ca:valid-trust-store\"]\n            trustedIdentities: [\"*\"]\n";
    for (crls, at, says) in [
        (
            "            crls: [crl/no-such.crl]\n",
            "p.yaml:10: `images[0].signatures.authorities[0].notation.crls[0]`",
            "cannot read CRL",
        ),
        (
            "            crls: [crl/int-empty.crl, crl/root.pem]\n",
            "p.yaml:10: `images[0].signatures.authorities[0].notation.crls[1]`",
            "not X509 CRL",
        ),
        (
            "            crls: []\n",
            "p.yaml:10: `images[0].signatures.authorities[0].notation.crls`",
            "at least one",
        ),
        (
            "            override: {revocation: sometimes}\n",
            "p.yaml:7: `images[0].signatures.authorities[0].notation`",
            "sometimes",
        ),
    ] {
        let e = parse_in_notary_data(&format!("{NOTATION_HEAD}{base}{crls}"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(at) && e.contains(says), "{crls}: {e}");
    }
}
