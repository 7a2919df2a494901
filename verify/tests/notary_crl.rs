//! Revocation of Notary Project signatures against supplied CRLs, through the verification
//! level as notation-go applies it (`verifier/verifier.go` `verifyRevocation`): enforced in
//! `strict`, logged in `permissive` and `audit`, overridable per check. The envelope, chain and
//! CRLs are tests/data/notary/crl (made by keys-test/notary_sign.py --crls, see ORIGIN.md).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use vouch_core::notary::crl::{Crl, CrlLimits, Reason, read_crls};
use vouch_core::notary::envelope::{NotaryLimits, TargetDescriptor};
use vouch_core::notary::policy::{Action, Check, TrustPolicyDocument};
use vouch_core::notary::store::TrustStore;
use vouch_verify::notary::{
    CheckError, NotaryError, RevocationChain, VerifiedNotarySignature, verify_envelope_with_crls,
};

const IMAGE: &str = "registry.acme-rockets.io/software/net-monitor@sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e";
/// 2026-06-02T00:00:00Z: a day after the producer's `--at`.
const NOW: i64 = 1_780_358_400;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/notary/crl")
            .join(name),
    )
    .unwrap()
}

fn crls(names: &[&str]) -> Vec<Crl> {
    names
        .iter()
        .flat_map(|n| read_crls(&data(n), &CrlLimits::DEFAULT).unwrap())
        .collect()
}

fn target() -> TargetDescriptor {
    TargetDescriptor {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        digest: "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e".into(),
        size: 528,
        annotations: Default::default(),
    }
}

fn policy(level: &str, extra: &str) -> TrustPolicyDocument {
    let json = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"crl-statement",
        "registryScopes":["*"],
        "signatureVerification":{{"level":"{level}"{extra}}},
        "trustStores":["ca:crl"],"trustedIdentities":["*"]}}]}}"#
    );
    TrustPolicyDocument::from_json(json.as_bytes(), &NotaryLimits::DEFAULT).unwrap()
}

fn verify(p: &TrustPolicyDocument, crls: &[Crl]) -> Result<VerifiedNotarySignature, NotaryError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("x509/ca/crl")).unwrap();
    std::fs::write(dir.path().join("x509/ca/crl/root.pem"), data("root.pem")).unwrap();
    let store = TrustStore::new(dir.path(), NotaryLimits::DEFAULT);
    verify_envelope_with_crls(
        &data("envelope.jws"),
        "application/jose+json",
        p,
        &store,
        IMAGE,
        &target(),
        NOW,
        &NotaryLimits::DEFAULT,
        crls,
    )
}

fn leaf_serial() -> String {
    let info: serde_json::Value = serde_json::from_slice(&data("info.json")).unwrap();
    info["leafSerial"].as_str().unwrap().to_owned()
}

#[test]
fn good_crls_pass_at_every_level_and_revocation_is_checked() {
    for level in ["strict", "permissive", "audit"] {
        let v = verify(
            &policy(level, ""),
            &crls(&["int-empty.crl", "root-empty.crl"]),
        )
        .unwrap_or_else(|e| panic!("{level}: {e}"));
        assert!(v.revocation_checked());
        assert!(
            v.logged().iter().all(|f| f.check != Check::Revocation),
            "{level}: {:?}",
            v.logged()
        );
    }
}

#[test]
fn without_crls_revocation_is_reported_not_checked() {
    let v = verify(&policy("strict", ""), &[]).unwrap();
    assert!(!v.revocation_checked());
    assert!(
        v.logged()
            .iter()
            .any(|f| f.error == CheckError::RevocationNotChecked)
    );
}

#[test]
fn revoked_leaf_fails_strict_with_the_named_certificate() {
    let r = verify(
        &policy("strict", ""),
        &crls(&["int-revokes-leaf.crl", "root-empty.crl"]),
    );
    match r {
        Err(NotaryError::Failed { failure, .. }) => {
            assert_eq!(failure.check, Check::Revocation);
            assert_eq!(failure.action, Action::Enforce);
            match &failure.error {
                CheckError::Revoked {
                    chain,
                    subject,
                    serial,
                    date,
                    reason,
                } => {
                    assert_eq!(*chain, RevocationChain::Signing);
                    assert!(subject.contains("CN=vouch notary signer"), "{subject}");
                    assert_eq!(&**serial, leaf_serial());
                    assert_eq!(*date, NOW - 2 * 86_400);
                    assert_eq!(*reason, Some(Reason::KeyCompromise));
                }
                other => panic!("{other:?}"),
            }
            // notation-go: "signing certificate with subject %q is revoked".
            let msg = failure.error.to_string();
            assert!(
                msg.starts_with("signing certificate with subject \"CN=vouch notary signer"),
                "{msg}"
            );
            assert!(msg.contains("is revoked"), "{msg}");
        }
        other => panic!("expected a revocation failure, got {other:?}"),
    }
}

#[test]
fn revoked_intermediate_fails_strict() {
    let r = verify(
        &policy("strict", ""),
        &crls(&["int-empty.crl", "root-revokes-int.crl"]),
    );
    match r {
        Err(NotaryError::Failed { failure, .. }) => match failure.error {
            CheckError::Revoked {
                subject, reason, ..
            } => {
                assert!(subject.contains("intermediate"), "{subject}");
                assert_eq!(reason, Some(Reason::CaCompromise));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoked_is_only_logged_in_permissive_and_audit() {
    for level in ["permissive", "audit"] {
        let v = verify(
            &policy(level, ""),
            &crls(&["int-revokes-leaf.crl", "root-empty.crl"]),
        )
        .unwrap_or_else(|e| panic!("{level}: {e}"));
        let f = v
            .logged()
            .iter()
            .find(|f| f.check == Check::Revocation)
            .unwrap();
        assert_eq!(f.action, Action::Log);
        assert!(
            matches!(f.error, CheckError::Revoked { .. }),
            "{:?}",
            f.error
        );
    }
}

#[test]
fn overrides_apply_to_revocation() {
    let revoked = crls(&["int-revokes-leaf.crl", "root-empty.crl"]);
    // strict with revocation logged: passes, logged.
    let v = verify(
        &policy("strict", r#","override":{"revocation":"log"}"#),
        &revoked,
    )
    .unwrap();
    assert!(
        v.logged()
            .iter()
            .any(|f| matches!(f.error, CheckError::Revoked { .. }))
    );
    // strict with revocation skipped: passes, nothing about revocation.
    let v = verify(
        &policy("strict", r#","override":{"revocation":"skip"}"#),
        &revoked,
    )
    .unwrap();
    assert!(v.logged().iter().all(|f| f.check != Check::Revocation));
    assert!(!v.revocation_checked());
    // permissive with revocation enforced: fails.
    let r = verify(
        &policy("permissive", r#","override":{"revocation":"enforce"}"#),
        &revoked,
    );
    assert!(
        matches!(&r, Err(NotaryError::Failed { failure, .. }) if failure.check == Check::Revocation),
        "{r:?}"
    );
}

#[test]
fn unknown_status_fails_strict_naming_why() {
    for (files, why) in [
        (&["int-expired.crl", "root-empty.crl"][..], "expired CRL"),
        (
            &["int-wrong-key.crl", "root-empty.crl"][..],
            "is not signed by CA",
        ),
        (&["int-empty.crl"][..], "no CRL was supplied"),
        (
            &["int-critical.crl", "root-empty.crl"][..],
            "unsupported critical extension",
        ),
    ] {
        let r = verify(&policy("strict", ""), &crls(files));
        match r {
            Err(NotaryError::Failed { failure, .. }) => {
                assert_eq!(failure.check, Check::Revocation);
                let msg = failure.error.to_string();
                assert!(
                    matches!(failure.error, CheckError::RevocationUnknown { .. }),
                    "{files:?}: {msg}"
                );
                // notation-go: "signing certificate with subject %q revocation status is unknown".
                assert!(msg.contains("revocation status is unknown"), "{msg}");
                assert!(msg.contains(why), "{files:?}: {msg}");
            }
            other => panic!("{files:?}: {other:?}"),
        }
        // permissive: logged, the signature verifies.
        let v = verify(&policy("permissive", ""), &crls(files)).unwrap();
        assert!(
            v.logged()
                .iter()
                .any(|f| matches!(f.error, CheckError::RevocationUnknown { .. }))
        );
    }
}

#[test]
fn hold_removed_by_a_delta_crl_passes() {
    let r = verify(
        &policy("strict", ""),
        &crls(&["int-hold.crl", "root-empty.crl"]),
    );
    assert!(
        matches!(&r, Err(NotaryError::Failed { failure, .. })
            if matches!(failure.error, CheckError::Revoked { reason: Some(Reason::CertificateHold), .. })),
        "{r:?}"
    );
    verify(
        &policy("strict", ""),
        &crls(&["int-hold.crl", "int-delta-remove.crl", "root-empty.crl"]),
    )
    .unwrap();
}

#[test]
fn invalidity_date_does_not_matter_under_notary_x509() {
    // The invalidity date is after the signing time, but the scheme is notary.x509: notation
    // passes no authentic signing time, so the entry revokes.
    let r = verify(
        &policy("strict", ""),
        &crls(&["int-invalidity.crl", "root-empty.crl"]),
    );
    assert!(
        matches!(&r, Err(NotaryError::Failed { failure, .. })
            if matches!(failure.error, CheckError::Revoked { .. })),
        "{r:?}"
    );
}

/// notation-go's timestamped envelope (tests/data/notary, see ORIGIN.md): the TSA chain is
/// GlobalSign's, whose TSA certificate names a CRL distribution point and an OCSP responder.
/// With CRLs supplied and none for GlobalSign, the TSA chain's revocation is unknown: the
/// authentic timestamp fails as notation's `verifyTimestamp` fails
/// ("timestamping certificate with subject %q revocation status is unknown"); without CRLs
/// the timestamp verifies (revocation not checked).
#[test]
fn timestamping_chain_revocation_unknown_fails_the_authentic_timestamp() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/notary");
    let env = std::fs::read(data.join("envelopes/jwsWithTimestamp.sig")).unwrap();
    let store = TrustStore::new(data.join("truststore"), NotaryLimits::DEFAULT);
    let image = "localhost:5000/net-monitor@sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda";
    let target = TargetDescriptor {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        digest: "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda".into(),
        size: 528,
        annotations: Default::default(),
    };
    let p = TrustPolicyDocument::from_json(
        br#"{"version":"1.0","trustPolicies":[{"name":"ts","registryScopes":["*"],
        "signatureVerification":{"level":"strict","verifyTimestamp":"always"},
        "trustStores":["ca:valid-trust-store","tsa:test-timestamp"],"trustedIdentities":["*"]}]}"#,
        &NotaryLimits::DEFAULT,
    )
    .unwrap();
    // 2026-11-30T00:00:00Z, as verify/tests/notary.rs.
    let now = 1_796_083_200;
    let run = |crls: &[Crl]| {
        verify_envelope_with_crls(
            &env,
            "application/jose+json",
            &p,
            &store,
            image,
            &target,
            now,
            &NotaryLimits::DEFAULT,
            crls,
        )
    };
    run(&[]).unwrap();
    // Any CRLs (here ours, for another CA): revocation is checked, GlobalSign's unknown.
    match run(&crls(&["int-empty.crl", "root-empty.crl"])) {
        Err(NotaryError::Failed { failure, .. }) => {
            assert_eq!(failure.check, Check::AuthenticTimestamp);
            match &failure.error {
                CheckError::RevocationUnknown { chain, subject, .. } => {
                    assert_eq!(*chain, RevocationChain::Timestamping);
                    assert!(subject.contains("Globalsign TSA"), "{subject}");
                }
                other => panic!("{other:?}"),
            }
            assert!(
                failure
                    .error
                    .to_string()
                    .starts_with("timestamping certificate with subject"),
                "{}",
                failure.error
            );
        }
        other => panic!("{other:?}"),
    }
}
