//! Notary Project verification against notation-go's own test data (tests/data/notary, see
//! ORIGIN.md), with the verdicts notation-go's tests assert
//! (`verifier/verifier_test.go` `TestNotationVerificationCombinations`,
//! `verifier/timestamp_test.go` `TestAuthenticTimestamp`).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use vouch_core::notary::envelope::{EnvelopeError, NotaryLimits, TargetDescriptor};
use vouch_core::notary::policy::{Action, Check, PolicyError, TrustPolicyDocument};
use vouch_core::notary::store::TrustStore;
use vouch_core::notary::timestamp::CountersignatureError;
use vouch_core::notary::x509::CertError;
use vouch_verify::notary::{CheckError, NotaryError, verify_envelope};

const JWS: &str = "application/jose+json";
const COSE: &str = "application/cose";
const IMAGE: &str = "registry.acme-rockets.io/software/net-monitor@sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e";
/// 2026-11-30T00:00:00Z.
const NOW: i64 = 1_796_083_200;
const LEVELS: [&str; 3] = ["strict", "permissive", "audit"];

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/notary")
}

fn envelope(name: &str) -> Vec<u8> {
    std::fs::read(data().join("envelopes").join(name)).unwrap()
}

fn store() -> TrustStore {
    TrustStore::new(data().join("truststore"), NotaryLimits::DEFAULT)
}

fn sample() -> TargetDescriptor {
    TargetDescriptor {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        digest: "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e".into(),
        size: 528,
        annotations: Default::default(),
    }
}

/// notation-go's `dummyOCIPolicyDocument`, with a level and optional replacements.
fn policy_json(level: &str, stores: &str, identities: &str, extra: &str) -> String {
    format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"test-statement-name",
        "registryScopes":["registry.acme-rockets.io/software/net-monitor"],
        "signatureVerification":{{"level":"{level}"{extra}}},
        "trustStores":[{stores}],"trustedIdentities":[{identities}]}}]}}"#
    )
}

const STORES: &str = r#""ca:valid-trust-store","signingAuthority:valid-trust-store""#;
const IDENTITY: &str = r#""x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US""#;

fn policy(json: &str) -> TrustPolicyDocument {
    TrustPolicyDocument::from_json(json.as_bytes(), &NotaryLimits::DEFAULT).unwrap()
}

fn verify(
    env: &[u8],
    p: &TrustPolicyDocument,
) -> Result<vouch_verify::notary::VerifiedNotarySignature, NotaryError> {
    verify_envelope(
        env,
        JWS,
        p,
        &store(),
        IMAGE,
        &sample(),
        NOW,
        &NotaryLimits::DEFAULT,
    )
}

fn failed(
    r: Result<vouch_verify::notary::VerifiedNotarySignature, NotaryError>,
) -> (Check, Action, CheckError) {
    match r {
        Err(NotaryError::Failed { failure, .. }) => (failure.check, failure.action, failure.error),
        other => panic!("expected a failed check, got {other:?}"),
    }
}

const SCHEMES: [(&str, &str, &str); 2] = [
    (
        "ca_valid_sig_env.json",
        "ca_invalid_sig_env.json",
        "ca_expired_sig_env.json",
    ),
    (
        "sa_valid_sig_env.json",
        "sa_invalid_sig_env.json",
        "sa_expired_sig_env.json",
    ),
];

#[test]
fn valid_signatures_verify_at_every_level() {
    for (valid, _, _) in SCHEMES {
        for level in LEVELS {
            let p = policy(&policy_json(level, STORES, IDENTITY, ""));
            let v = verify(&envelope(valid), &p).unwrap_or_else(|e| panic!("{valid} {level}: {e}"));
            assert_eq!(v.target(), &sample());
            assert_eq!(v.statement(), "test-statement-name");
            assert!(
                v.signer().contains("CN=Notation Test Root"),
                "{}",
                v.signer()
            );
            // Revocation is reported as not checked, never silently passed.
            assert!(
                v.logged()
                    .iter()
                    .any(|f| f.error == CheckError::RevocationNotChecked)
            );
        }
    }
}

#[test]
fn integrity_failure_is_enforced_at_every_level() {
    // notation: "signature is invalid. Error: illegal base64 data at input byte 242".
    for (_, invalid, _) in SCHEMES {
        for level in LEVELS {
            let p = policy(&policy_json(level, STORES, IDENTITY, ""));
            let (check, action, error) = failed(verify(&envelope(invalid), &p));
            assert_eq!(
                (check, action),
                (Check::Integrity, Action::Enforce),
                "{invalid} {level}"
            );
            assert!(
                matches!(error, CheckError::Envelope(EnvelopeError::Malformed { .. })),
                "{error:?}"
            );
        }
    }
}

#[test]
fn tampered_payload_fails_integrity() {
    let mut env: serde_json::Value =
        serde_json::from_slice(&envelope("ca_valid_sig_env.json")).unwrap();
    let payload = env["payload"].as_str().unwrap().to_owned();
    // Another size in the signed payload, re-encoded: the signature no longer verifies.
    use base64::Engine as _;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = String::from_utf8(b.decode(&payload).unwrap())
        .unwrap()
        .replace("528", "529");
    env["payload"] = b.encode(text).into();
    let p = policy(&policy_json("strict", STORES, IDENTITY, ""));
    let (check, _, error) = failed(verify(&serde_json::to_vec(&env).unwrap(), &p));
    assert_eq!(check, Check::Integrity);
    assert_eq!(error, CheckError::Certificate(CertError::SignatureMismatch));
}

#[test]
fn unsupported_envelope_media_type() {
    let p = policy(&policy_json("strict", STORES, IDENTITY, ""));
    let r = verify_envelope(
        &envelope("ca_valid_sig_env.json"),
        "application/unsupported+json",
        &p,
        &store(),
        IMAGE,
        &sample(),
        NOW,
        &NotaryLimits::DEFAULT,
    );
    let (check, _, error) = failed(r);
    assert_eq!(check, Check::Integrity);
    assert_eq!(
        error,
        CheckError::Envelope(EnvelopeError::UnsupportedMediaType(
            "application/unsupported+json".into()
        ))
    );
}

#[test]
fn wrong_root_fails_authenticity_enforced_or_logged() {
    // notation: "the signature's certificate chain does not contain any trusted certificate".
    let stores = r#""ca:valid-trust-store-2","signingAuthority:valid-trust-store-2""#;
    for (valid, _, _) in SCHEMES {
        for level in LEVELS {
            let p = policy(&policy_json(level, stores, IDENTITY, ""));
            let r = verify(&envelope(valid), &p);
            match (valid, level) {
                // The sa envelope needs a signingAuthority store: none readable there.
                (_, "audit") => {
                    let v = r.unwrap();
                    assert!(
                        v.logged()
                            .iter()
                            .any(|f| f.check == Check::Authenticity && f.action == Action::Log)
                    );
                }
                ("ca_valid_sig_env.json", _) => {
                    assert_eq!(
                        failed(r),
                        (
                            Check::Authenticity,
                            Action::Enforce,
                            CheckError::NoTrustedCertificate
                        )
                    );
                }
                _ => {
                    let (check, action, _) = failed(r);
                    assert_eq!((check, action), (Check::Authenticity, Action::Enforce));
                }
            }
        }
    }
}

#[test]
fn wrong_identity_fails_authenticity() {
    // notation: "signing certificate from the digital signature does not match the X.509
    // trusted identities [...] defined in the trust policy \"test-statement-name\"".
    let identity = r#""x509.subject:CN=LOL,O=DummyOrg,L=Hyderabad,ST=TG,C=IN""#;
    for (valid, _, _) in SCHEMES {
        for level in LEVELS {
            let p = policy(&policy_json(level, STORES, identity, ""));
            let r = verify(&envelope(valid), &p);
            if level == "audit" {
                let v = r.unwrap();
                assert!(
                    v.logged()
                        .iter()
                        .any(|f| matches!(f.error, CheckError::IdentityMismatch { .. }))
                );
            } else {
                let (check, action, error) = failed(r);
                assert_eq!((check, action), (Check::Authenticity, Action::Enforce));
                assert!(
                    matches!(error, CheckError::IdentityMismatch { ref statement, .. } if statement == "test-statement-name"),
                    "{error:?}"
                );
            }
        }
    }
}

#[test]
fn wildcard_identity_accepts_any_subject() {
    let p = policy(&policy_json("strict", STORES, r#""*""#, ""));
    verify(&envelope("ca_valid_sig_env.json"), &p).unwrap();
}

#[test]
fn malformed_policies_name_the_field() {
    for (stores, identities, want) in [
        // notation: "... is missing separator in trust store value \"signingAuthority\" ..."
        (
            r#""ca:valid-trust-store-2","signingAuthority""#,
            IDENTITY,
            ("trustStores", "missing separator"),
        ),
        // notation: "... has trusted identity \"x509.subject\" missing separator"
        (
            STORES,
            r#""x509.subject""#,
            ("trustedIdentities", "missing separator"),
        ),
        // notation: "... has trusted identity \"x509.subject:\" without an identity value"
        (
            STORES,
            r#""x509.subject:""#,
            ("trustedIdentities", "without an identity value"),
        ),
        (
            STORES,
            r#""*","x509.subject:C=US,ST=WA,O=x""#,
            ("trustedIdentities", "wildcard"),
        ),
        (
            r#""bogus:x""#,
            IDENTITY,
            ("trustStores", "unsupported trust store type"),
        ),
    ] {
        let e = TrustPolicyDocument::from_json(
            policy_json("strict", stores, identities, "").as_bytes(),
            &NotaryLimits::DEFAULT,
        )
        .unwrap_err();
        match e {
            PolicyError::Statement {
                statement,
                field,
                reason,
            } => {
                assert_eq!(statement, "test-statement-name");
                assert_eq!(field, want.0);
                assert!(reason.contains(want.1), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Overrides: integrity cannot be overridden, authenticity cannot be skipped.
    for extra in [
        r#","override":{"integrity":"log"}"#,
        r#","override":{"authenticity":"skip"}"#,
    ] {
        let e = TrustPolicyDocument::from_json(
            policy_json("strict", STORES, IDENTITY, extra).as_bytes(),
            &NotaryLimits::DEFAULT,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                PolicyError::Statement {
                    field: "signatureVerification.override",
                    ..
                }
            ),
            "{e:?}"
        );
    }
    // skip with trust stores.
    let e = TrustPolicyDocument::from_json(
        policy_json("skip", STORES, IDENTITY, "").as_bytes(),
        &NotaryLimits::DEFAULT,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::Statement {
                field: "trustStores",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn expired_signature_enforced_only_by_strict() {
    // notation: "digital signature has expired on \"Fri, 29 Jul 2022 23:59:00 +0000\"".
    for (_, _, expired) in SCHEMES {
        for level in LEVELS {
            let p = policy(&policy_json(level, STORES, IDENTITY, ""));
            let r = verify(&envelope(expired), &p);
            let want = CheckError::Expired {
                expiry: 1_659_139_140,
            };
            if level == "strict" {
                assert_eq!(failed(r), (Check::Expiry, Action::Enforce, want));
            } else {
                assert!(
                    r.unwrap()
                        .logged()
                        .iter()
                        .any(|f| f.error == want && f.action == Action::Log)
                );
            }
        }
    }
    // An override makes permissive enforce it.
    let p = policy(&policy_json(
        "permissive",
        STORES,
        IDENTITY,
        r#","override":{"expiry":"enforce"}"#,
    ));
    assert_eq!(
        failed(verify(&envelope("ca_expired_sig_env.json"), &p)).0,
        Check::Expiry
    );
}

#[test]
fn no_applicable_policy_and_skip() {
    let p = policy(&policy_json("strict", STORES, IDENTITY, ""));
    let r = verify_envelope(
        &envelope("ca_valid_sig_env.json"),
        JWS,
        &p,
        &store(),
        "non-existent-domain.com/repo@sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333",
        &sample(),
        NOW,
        &NotaryLimits::DEFAULT,
    );
    assert!(matches!(r, Err(NotaryError::NoApplicablePolicy(_))));
    let skip = r#"{"version":"1.0","trustPolicies":[{"name":"s","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}"#;
    let r = verify(&envelope("ca_valid_sig_env.json"), &policy(skip));
    assert_eq!(r, Err(NotaryError::Skipped("s".into())));
}

#[test]
fn signature_for_another_image_is_refused() {
    let p = policy(&policy_json("strict", STORES, IDENTITY, ""));
    let mut other = sample();
    other.size = 529;
    let r = verify_envelope(
        &envelope("ca_valid_sig_env.json"),
        JWS,
        &p,
        &store(),
        IMAGE,
        &other,
        NOW,
        &NotaryLimits::DEFAULT,
    );
    assert!(
        matches!(r, Err(NotaryError::TargetMismatch { .. })),
        "{r:?}"
    );
}

/// `TestAuthenticTimestamp`, the JWS cases (signed with the "testTSA" chain, valid until
/// 2024-06-18, the root in `ca/valid-trust-store`).
mod timestamp {
    use super::*;

    const IMAGE_TS: &str = "localhost:5000/net-monitor@sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda";

    fn ts_target() -> TargetDescriptor {
        TargetDescriptor {
            media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            digest: "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda"
                .into(),
            size: 528,
            annotations: Default::default(),
        }
    }

    fn run(
        name: &str,
        stores: &str,
    ) -> Result<vouch_verify::notary::VerifiedNotarySignature, NotaryError> {
        run_at(
            name,
            stores,
            r#"{"level":"strict","verifyTimestamp":"always"}"#,
        )
    }

    fn run_at(
        name: &str,
        stores: &str,
        verification: &str,
    ) -> Result<vouch_verify::notary::VerifiedNotarySignature, NotaryError> {
        let media_type = if name.starts_with("cose") { COSE } else { JWS };
        let json = format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"test-timestamp","registryScopes":["*"],
            "signatureVerification":{verification},
            "trustStores":[{stores}],"trustedIdentities":["*"]}}]}}"#
        );
        verify_envelope(
            &envelope(name),
            media_type,
            &policy(&json),
            &store(),
            IMAGE_TS,
            &ts_target(),
            NOW,
            &NotaryLimits::DEFAULT,
        )
    }

    #[test]
    fn missing_countersignature() {
        // notation: "no timestamp countersignature was found in the signature envelope".
        let r = run(
            "withoutTimestamp.sig",
            r#""ca:valid-trust-store","tsa:test-timestamp""#,
        );
        assert_eq!(
            failed(r),
            (
                Check::AuthenticTimestamp,
                Action::Enforce,
                CheckError::TimestampMissing
            )
        );
    }

    #[test]
    fn expired_chain_without_tsa_store() {
        // notation (the COSE counterpart): "verification time is after certificate
        // \"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it was expired at
        // \"Tue, 18 Jun 2024 07:30:31 +0000\"".
        // Its self-signed leaf is in none of the copied stores: authenticity is only logged
        // (audit + override) so that the timestamp step, which notation's test runs alone, runs.
        let r = run_at(
            "jwsExpiredWithTimestamp.sig",
            r#""ca:valid-trust-store""#,
            r#"{"level":"audit","override":{"authenticTimestamp":"enforce"}}"#,
        );
        let (check, action, error) = failed(r);
        assert_eq!(
            (check, action),
            (Check::AuthenticTimestamp, Action::Enforce)
        );
        match error {
            CheckError::NotValidAt {
                subject,
                not_after,
                which,
                ..
            } => {
                assert!(subject.contains("CN=testTSA"), "{subject}");
                assert_eq!(not_after, 1_718_695_831); // 2024-06-18T07:30:31Z
                assert_eq!(which, "verification time");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn countersignature_verifies_against_the_tsa_store() {
        // notation: verified (GlobalSign TSA, root in tsa/test-timestamp); the signing chain
        // expired on 2024-06-18T07:30:31Z, the timestamp (2024-06-18T06:29:37Z ± 1 s) is
        // inside it.
        let v = run(
            "jwsWithTimestamp.sig",
            r#""ca:valid-trust-store","tsa:test-timestamp""#,
        )
        .unwrap();
        assert_eq!(v.target(), &ts_target());
    }

    #[test]
    fn countersignature_needs_the_tsa_root() {
        // A tsa store without the TSA's root: no timestamp is authentic without it.
        let dir = tempfile::tempdir().unwrap();
        let tsa = dir.path().join("x509/tsa/other");
        std::fs::create_dir_all(&tsa).unwrap();
        std::fs::copy(
            data().join("truststore/x509/ca/valid-trust-store/NotationTestRoot.pem"),
            tsa.join("NotationTestRoot.pem"),
        )
        .unwrap();
        let ca = dir.path().join("x509/ca/valid-trust-store");
        std::fs::create_dir_all(&ca).unwrap();
        for f in [
            "NotationTestRoot.pem",
            "TestTimestamp.crt",
            "wabbit-networks.io.crt",
        ] {
            std::fs::copy(
                data().join("truststore/x509/ca/valid-trust-store").join(f),
                ca.join(f),
            )
            .unwrap();
        }
        let json = r#"{"version":"1.0","trustPolicies":[{"name":"t","registryScopes":["*"],
            "signatureVerification":{"level":"strict","verifyTimestamp":"always"},
            "trustStores":["ca:valid-trust-store","tsa:other"],"trustedIdentities":["*"]}]}"#;
        let r = verify_envelope(
            &envelope("jwsWithTimestamp.sig"),
            JWS,
            &policy(json),
            &TrustStore::new(dir.path().to_path_buf(), NotaryLimits::DEFAULT),
            IMAGE_TS,
            &ts_target(),
            NOW,
            &NotaryLimits::DEFAULT,
        );
        let (check, _, error) = failed(r);
        assert_eq!(check, Check::AuthenticTimestamp);
        assert!(
            matches!(
                error,
                CheckError::Timestamp(CountersignatureError::Untrusted)
                    | CheckError::Timestamp(CountersignatureError::IncompleteChain(_))
            ),
            "{error:?}"
        );
    }

    #[test]
    fn countersignature_over_another_signature_fails() {
        // The token of one envelope moved onto another: the imprint no longer matches.
        let with: serde_json::Value =
            serde_json::from_slice(&envelope("jwsWithTimestamp.sig")).unwrap();
        let mut without: serde_json::Value =
            serde_json::from_slice(&envelope("withoutTimestamp.sig")).unwrap();
        without["header"]["io.cncf.notary.timestampSignature"] =
            with["header"]["io.cncf.notary.timestampSignature"].clone();
        let json = r#"{"version":"1.0","trustPolicies":[{"name":"t","registryScopes":["*"],
            "signatureVerification":{"level":"audit","verifyTimestamp":"always","override":{"authenticTimestamp":"enforce"}},
            "trustStores":["ca:valid-trust-store","tsa:test-timestamp"],"trustedIdentities":["*"]}]}"#;
        let r = verify_envelope(
            &serde_json::to_vec(&without).unwrap(),
            JWS,
            &policy(json),
            &store(),
            IMAGE_TS,
            &ts_target(),
            NOW,
            &NotaryLimits::DEFAULT,
        );
        let (check, _, error) = failed(r);
        assert_eq!(check, Check::AuthenticTimestamp);
        assert!(
            matches!(
                error,
                CheckError::Timestamp(CountersignatureError::Token(_))
            ),
            "{error:?}"
        );
    }

    #[test]
    fn timestamp_before_not_before() {
        // notation: "timestamp can be before certificate \"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US\"
        // validity period, it will be valid from ...".
        // As for the expired chain, its leaf is in none of the copied stores: authenticity is
        // only logged so that the timestamp step runs.
        let r = run_at(
            "timestampBeforeNotBefore.sig",
            r#""ca:valid-trust-store","tsa:test-timestamp""#,
            r#"{"level":"audit","verifyTimestamp":"always","override":{"authenticTimestamp":"enforce"}}"#,
        );
        let (check, action, error) = failed(r);
        assert_eq!(
            (check, action),
            (Check::AuthenticTimestamp, Action::Enforce)
        );
        match error {
            CheckError::NotValidAt {
                subject,
                which,
                time,
                not_before,
                ..
            } => {
                assert!(subject.contains("CN=testTSA"), "{subject}");
                assert_eq!(which, "timestamp");
                assert!(time <= not_before, "{time} {not_before}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cose_countersignature_verifies_against_the_tsa_store() {
        // notation: the COSE case of TestAuthenticTimestamp verifies.
        let v = run(
            "coseWithTimestamp.sig",
            r#""ca:valid-trust-store","tsa:test-timestamp""#,
        )
        .unwrap();
        assert_eq!(v.target(), &ts_target());
        assert_eq!(v.scheme().name(), "notary.x509");
    }

    #[test]
    fn cose_expired_chain_without_tsa_store() {
        // notation: "verification time is after certificate \"CN=testTSA,O=Notary,L=Seattle,
        // ST=WA,C=US\" validity period, it was expired at \"Tue, 18 Jun 2024 07:30:31 +0000\"".
        let r = run_at(
            "coseExpiredWithTimestamp.sig",
            r#""ca:valid-trust-store""#,
            r#"{"level":"audit","override":{"authenticTimestamp":"enforce"}}"#,
        );
        match failed(r) {
            (
                Check::AuthenticTimestamp,
                Action::Enforce,
                CheckError::NotValidAt {
                    subject, not_after, ..
                },
            ) => {
                assert!(subject.contains("CN=testTSA"), "{subject}");
                assert_eq!(not_after, 1_718_695_831);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cose_tampered_payload_fails_integrity() {
        let mut env = envelope("coseWithTimestamp.sig");
        let at = env.windows(5).position(|w| w == b"\"size").unwrap();
        env[at + 8] ^= 1; // a digit of "size":528
        let r = verify_envelope(
            &env,
            COSE,
            &policy(
                r#"{"version":"1.0","trustPolicies":[{"name":"t","registryScopes":["*"],
                "signatureVerification":{"level":"strict"},
                "trustStores":["ca:valid-trust-store"],"trustedIdentities":["*"]}]}"#,
            ),
            &store(),
            IMAGE_TS,
            &ts_target(),
            NOW,
            &NotaryLimits::DEFAULT,
        );
        assert_eq!(failed(r).0, Check::Integrity);
    }

    #[test]
    fn cose_structure_errors_are_errors() {
        let env = envelope("coseWithTimestamp.sig");
        for cut in [0, 1, 10, env.len() / 2, env.len() - 1] {
            let r = vouch_core::notary::envelope::parse_envelope(
                &env[..cut],
                COSE,
                &NotaryLimits::DEFAULT,
            );
            assert!(r.is_err(), "{cut}");
        }
        // Indefinite-length arrays are refused.
        let r = vouch_core::notary::envelope::parse_envelope(
            &[0xd2, 0x9f, 0xff],
            COSE,
            &NotaryLimits::DEFAULT,
        );
        assert!(r.is_err());
    }
}

/// The shared RFC 3161 reader on notation's GlobalSign token: its signing-certificate-v2
/// attribute names the TSA certificate that signed it, and no other.
#[test]
fn rfc3161_signing_certificate_v2_names_the_signer() {
    use base64::Engine as _;
    use der::Encode as _;
    use vouch_core::rfc3161::TimestampToken;
    let env: serde_json::Value = serde_json::from_slice(&envelope("jwsWithTimestamp.sig")).unwrap();
    let token = base64::engine::general_purpose::STANDARD
        .decode(
            env["header"]["io.cncf.notary.timestampSignature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let t = TimestampToken::parse(&token).unwrap();
    let certs: Vec<Vec<u8>> = t
        .certificates()
        .iter()
        .map(|c| c.to_der().unwrap())
        .collect();
    let signer = t
        .certificates()
        .iter()
        .position(|c| t.names_signer(c))
        .unwrap();
    t.check_signing_certificate(&certs[signer]).unwrap();
    for (i, c) in certs.iter().enumerate().filter(|(i, _)| *i != signer) {
        assert!(t.check_signing_certificate(c).is_err(), "{i}");
    }
    // 2024-06-18T06:29:37Z, accuracy 1 s.
    assert_eq!(t.gen_time(), 1_718_692_177);
    assert_eq!(t.time_range(), (1_718_692_176, 1_718_692_178));
}
