//! The policy gate: a YAML policy says, per image pattern, which authorities must have signed
//! and which attestations (provenance, vulnerability scans, SBOMs, VEX) must hold which
//! conditions; every verdict is explained check by check.

pub mod file;
pub(crate) mod rego;
pub mod report;
pub mod rules;

mod admission;
mod eval;
mod tags;

/// Helpers for the evaluators' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::{Value, json};

    use crate::attestation::VerifiedAttestation;

    /// Wraps a predicate in a statement about some digest and signs it for real.
    #[allow(clippy::unwrap_used)]
    pub(crate) fn attest(predicate_type: &str, predicate: &Value) -> VerifiedAttestation {
        let st = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "registry.example.com/app", "digest": {"sha256": "e0a0a765d690a5104331cfbac88ebbbf01736c1f87aaa3cd455c516a5ea586a5"}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        });
        VerifiedAttestation::signed_for_test(&serde_json::to_vec(&st).unwrap(), None)
    }
}
pub(crate) mod depgraph;
pub(crate) mod provenance;
pub(crate) mod sbom;
pub(crate) mod vex;
pub(crate) mod vuln;

pub use admission::{Admission, Decision, admit};
pub use eval::{ImageSource, MatchedBlock, Verdict, evaluate, evaluate_among, evaluate_in};
pub use file::{Policy, PolicyError};
pub use tags::BatchTags;

/// Fuzzing entry points (feature `fuzzing`, for fuzz/ only).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use super::rules::{BaseImage, ImageContext, Pattern, ProvenanceRule, SbomRule, VulnRule};
    use crate::attestation::VerifiedAttestation;

    /// Every condition evaluator over `predicate` (any JSON), wrapped in a statement about one
    /// digest as if it had verified.
    #[allow(clippy::unwrap_used, clippy::expect_used)]
    pub fn conditions(predicate: &[u8]) {
        if serde_json::from_slice::<serde::de::IgnoredAny>(predicate).is_err() {
            return;
        }
        let digest = vouch_core::digest::Sha256Digest::of(b"fuzz");
        let subject = vouch_core::payload::intoto::Subject::sha256(None, &digest);
        let wrap = |t: &str| {
            let st = vouch_core::payload::intoto::Statement::encode_raw(
                std::slice::from_ref(&subject),
                t,
                predicate,
            );
            vouch_core::payload::intoto::StatementRef::parse(
                &st,
                &vouch_core::limits::Limits::DEFAULT,
            )
            .is_ok()
            .then(|| VerifiedAttestation::signed_for_test(&st, None))
        };
        let Some(att) = wrap(vouch_core::predicate::SLSA_PROVENANCE_V1) else {
            return;
        };
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
        let scan = wrap(vouch_core::predicate::VULN).expect("same predicate");
        let vex = wrap(vouch_core::predicate::OPENVEX).expect("same predicate");
        // The same bytes as the SBOM whose dependency graph ties VEX application products.
        let bom = wrap(vouch_core::predicate::CYCLONEDX).expect("same predicate");
        let _ = super::vuln::evaluate_with(&[&scan], &[&vex], &[&bom], &vuln, &ctx);
    }
}
