//! The policy gate: a YAML policy says, per image pattern, which authorities must have signed
//! and which attestations (provenance, vulnerability scans, SBOMs, VEX) must hold which
//! conditions; every verdict is explained check by check.

pub mod file;
pub(crate) mod rego;
pub mod report;
pub mod rules;

mod eval;
pub(crate) mod provenance;
pub(crate) mod sbom;
pub(crate) mod vex;
pub(crate) mod vuln;

pub use eval::{ImageSource, MatchedBlock, Verdict, evaluate, policy_name};
pub use file::{Policy, PolicyError};

/// Fuzzing entry points (feature `fuzzing`, for fuzz/ only).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use super::rules::{BaseImage, ImageContext, Pattern, ProvenanceRule, SbomRule, VulnRule};
    use crate::attestation::VerifiedAttestation;

    /// Every condition evaluator over `statement`, as if it had verified.
    #[allow(clippy::unwrap_used, clippy::expect_used)]
    pub fn conditions(statement: &[u8]) {
        let parsed = vouch_core::payload::intoto::StatementRef::parse(
            statement,
            &vouch_core::limits::Limits::DEFAULT,
        );
        let Ok(s) = parsed else { return };
        if !s.subjects.iter().any(|x| x.sha256_digest().is_some()) {
            return;
        }
        let att = VerifiedAttestation::signed_for_test(statement, None);
        let p = |s: &str| Pattern::new(s).expect("pattern");
        let prov = ProvenanceRule {
            builder_ids: vec![p("https://github.com/**")],
            source_repositories: vec![p("git+https://github.com/acme/*")],
            source_refs: vec![p("refs/tags/v*")],
            base_images: Some(vec![BaseImage {
                repository: p("docker.io/library/*"),
                digests: vec![],
            }]),
        };
        let _ = super::provenance::evaluate(&att, &prov);
        let sbom = SbomRule {
            deny_licenses: vec![p("GPL-*")],
            allow_licenses: Some(vec![p("MIT"), p("Apache-2.0")]),
            banned_packages: vec![p("pkg:npm/**")],
        };
        let _ = super::sbom::evaluate(&att, &sbom);
        let vuln = VulnRule {
            max_age: Some(86_400),
            limits: [(vouch_core::scan::Severity::Critical, 0)]
                .into_iter()
                .collect(),
            only_fixable: true,
            ..VulnRule::default()
        };
        let ctx = ImageContext {
            name: "registry.example.com/app".into(),
            digest: *att.image(),
            now: 1_800_000_000,
        };
        let _ = super::vuln::evaluate(&[&att], &[&att], &vuln, &ctx);
    }
}
