use super::*;
use crate::policy::report::Status;
use serde_json::{Value, json};

fn vector(rel: &str) -> Vec<u8> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/vectors")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

use crate::policy::test_support::attest;

fn cdx(rel: &str) -> Value {
    serde_json::from_slice(&vector(rel)).unwrap()
}

fn cdx_att(p: &Value) -> VerifiedAttestation {
    attest("https://cyclonedx.org/bom", p)
}

fn pats(v: &[&str]) -> Vec<Pattern> {
    v.iter().map(|p| Pattern::new(p).unwrap()).collect()
}

fn deny(v: &[&str]) -> SbomRule {
    SbomRule {
        deny_licenses: pats(v),
        ..Default::default()
    }
}

fn allow(v: &[&str]) -> SbomRule {
    SbomRule {
        allow_licenses: Some(pats(v)),
        ..Default::default()
    }
}

fn one(att: &VerifiedAttestation, rule: &SbomRule) -> Check {
    let c = evaluate(att, rule);
    assert_eq!(c.len(), 1, "{c:#?}");
    c.into_iter().next().unwrap()
}

#[test]
fn cyclonedx_license_deny_and_allow_lists() {
    // trivy-license: EPL-1.0, BSD-3-Clause and "MIT License", all as license names.
    let att = cdx_att(&cdx("sboms/trivy-license.cdx.json"));
    let c = one(&att, &deny(&["GPL-3.0-only", "AGPL-*"]));
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    assert_eq!(c.code, codes::SBOM_LICENSE);
    assert!(
        c.found.contains("CycloneDX 1.5") || c.found.contains("CycloneDX"),
        "{}",
        c.found
    );
    let c = one(&att, &deny(&["EPL-*"]));
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.path, "predicate.components[].licenses");
    assert_eq!(
        c.details,
        vec![
            "org.eclipse.sisu.plexus@0.3.0.M1 (pkg:maven/org.eclipse.sisu/org.eclipse.sisu.plexus@0.3.0.M1): license `EPL-1.0`"
        ]
    );
    // "MIT License" is read as MIT.
    let c = one(&att, &allow(&["MIT", "BSD-3-Clause", "EPL-1.0"]));
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    let c = one(&att, &allow(&["MIT", "Apache-2.0"]));
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.found, "2 licenses not allowed");
    assert!(
        c.details
            .iter()
            .any(|d| d.contains("asm@9.5") && d.contains("`BSD-3-Clause` is not allowed")),
        "{c:#?}"
    );
    assert!(
        c.details
            .iter()
            .any(|d| d.contains("has no license information")
                || d.contains("packages have no license")),
        "{c:#?}"
    );
}

#[test]
fn expressions_or_and_and_nested_components_and_unparseable() {
    // Derived from trivy-npm: jquery's license replaced by expressions, and a nested
    // component added under react.
    let base = cdx("sboms/trivy-npm.cdx.json");
    let set = |expr: &str| {
        let mut p = base.clone();
        for c in p["components"].as_array_mut().unwrap() {
            if c["name"] == "jquery" {
                c["licenses"] = json!([{"expression": expr}]);
            }
        }
        cdx_att(&p)
    };
    let rule = deny(&["GPL-*"]);
    assert_eq!(one(&set("GPL-2.0-only OR MIT"), &rule).status, Status::Pass);
    let c = one(&set("GPL-2.0-only AND MIT"), &rule);
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.details[0]
            .starts_with("jquery@3.3.9 (pkg:npm/jquery@3.3.9): license `GPL-2.0-only AND MIT`"),
        "{c:#?}"
    );
    assert_eq!(
        one(&set("(GPL-2.0-only OR GPL-3.0-only) AND MIT"), &rule).status,
        Status::Fail
    );
    // Allow-list: an OR needs one allowed alternative; an AND needs all.
    let allow_mit = allow(&["MIT"]);
    let c = one(&set("GPL-2.0-only OR MIT"), &allow_mit);
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    assert_eq!(
        one(&set("GPL-2.0-only AND MIT"), &allow_mit).status,
        Status::Fail
    );
    // GNU "+" spelling and exceptions.
    assert_eq!(
        one(&set("GPL-2.0+"), &deny(&["GPL-2.0-or-later"])).status,
        Status::Fail
    );
    assert_eq!(
        one(
            &set("GPL-2.0-only WITH Classpath-exception-2.0"),
            &deny(&["GPL-2.0-only"])
        )
        .status,
        Status::Fail
    );
    // Not an SPDX expression: a license named by that string.
    let odd = set("Some Custom License (see LICENSE.txt)");
    assert_eq!(one(&odd, &deny(&["GPL-*"])).status, Status::Pass);
    assert_eq!(
        one(&odd, &deny(&["Some Custom License*"])).status,
        Status::Fail
    );
    let c = one(&odd, &allow_mit);
    assert_eq!(c.status, Status::Fail);
    assert!(c.details[0].contains("not an SPDX expression"), "{c:#?}");
    // A nested component is judged too.
    let mut p = base.clone();
    for c in p["components"].as_array_mut().unwrap() {
        if c["name"] == "react" {
            c["components"] = json!([{"type": "library", "name": "inner", "version": "1.0.0",
                    "purl": "pkg:npm/inner@1.0.0", "licenses": [{"license": {"id": "AGPL-3.0-only"}}]}]);
        }
    }
    let c = one(&cdx_att(&p), &deny(&["AGPL-*"]));
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.details[0].starts_with("inner@1.0.0 (pkg:npm/inner@1.0.0)"),
        "{c:#?}"
    );
    assert_eq!(
        one(&cdx_att(&base), &deny(&["AGPL-*"])).status,
        Status::Pass
    );
}

#[test]
fn banned_packages_by_purl() {
    let att = cdx_att(&cdx("sboms/trivy-npm.cdx.json"));
    let rule = |v: &[&str]| SbomRule {
        banned_packages: pats(v),
        ..Default::default()
    };
    let c = one(&att, &rule(&["pkg:npm/event-stream@3.3.6"]));
    assert_eq!(c.status, Status::Pass);
    assert_eq!(c.code, codes::SBOM_BANNED);
    let c = one(
        &att,
        &rule(&["pkg:npm/event-stream@3.3.6", "pkg:npm/jquery@*"]),
    );
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.path, "predicate.components[].purl");
    assert_eq!(
        c.details,
        vec![
            "jquery@3.3.9 (pkg:npm/jquery@3.3.9) matches `pkg:npm/jquery@*`",
            // metadata.component and package-lock.json have no purl.
            "2 of 14 packages have no purl (not judged)",
        ]
    );
    // Qualifiers do not hide a package: the CentOS rpm purls carry arch and distro.
    let centos = cdx("sboms/trivy-centos-7.cdx.json");
    let c = one(
        &cdx_att(&centos),
        &rule(&["pkg:rpm/centos/openssl-libs@1.0.2k-16.el7"]),
    );
    assert_eq!(c.status, Status::Fail, "{c:#?}");
}

/// trivy-npm with jquery's license replaced by `lic` (a CycloneDX `license` object or
/// `expression` entry).
fn npm_with_license(entry: Value) -> VerifiedAttestation {
    let mut p = cdx("sboms/trivy-npm.cdx.json");
    for c in p["components"].as_array_mut().unwrap() {
        if c["name"] == "jquery" {
            assert_eq!(c["licenses"], json!([{"license": {"id": "MIT"}}]));
            c["licenses"] = json!([entry]);
        }
    }
    cdx_att(&p)
}

#[test]
fn deny_list_sees_through_deprecated_ids_or_later_full_names_and_junk() {
    // Derived from trivy-npm: jquery's `MIT` replaced by other spellings of GPL-3.0.
    let rule = deny(&["GPL-3.0-only"]);
    // Unchanged (MIT): passes.
    let c = one(&npm_with_license(json!({"license": {"id": "MIT"}})), &rule);
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    for (entry, read_as) in [
        // Deprecated id: GPL-3.0 is GPL-3.0-only.
        (json!({"license": {"id": "GPL-3.0"}}), "GPL-3.0"),
        (json!({"expression": "GPL-3.0 AND MIT"}), "GPL-3.0, MIT"),
        // `+` and -or-later include -only.
        (json!({"license": {"id": "GPL-3.0+"}}), "GPL-3.0-or-later"),
        (json!({"expression": "GPL-3.0-or-later"}), ""),
        // Ids are case-insensitive.
        (
            json!({"expression": "gpl-3.0-only and mit"}),
            "GPL-3.0-only, MIT",
        ),
        // The SPDX full name, in license.name and in an id field.
        (
            json!({"license": {"name": "GNU General Public License v3.0 only"}}),
            "GPL-3.0-only",
        ),
        (
            json!({"license": {"name": "GNU General Public License v3.0 or later"}}),
            "GPL-3.0-or-later",
        ),
        (
            json!({"expression": "GNU General Public License v3.0 only"}),
            "GPL-3.0-only",
        ),
        // No SPDX expression: judged by the licenses it names (fail closed).
        (
            json!({"expression": "GPL-3.0-only AND Some Custom Terms"}),
            "not an SPDX expression; names GPL-3.0-only",
        ),
        (
            json!({"license": {"name": "Dual: GPL-3.0 / proprietary, see COPYING"}}),
            "not an SPDX expression; names GPL-3.0",
        ),
        (
            json!({"license": {"name": "GNU General Public License v3.0 only, with extra terms"}}),
            "not an SPDX expression; names GPL-3.0, GPL-3.0-only",
        ),
    ] {
        let c = one(&npm_with_license(entry.clone()), &rule);
        assert_eq!(c.status, Status::Fail, "{entry}: {c:#?}");
        assert_eq!(c.details.len(), 1, "{entry}: {c:#?}");
        assert!(
            c.details[0].starts_with("jquery@3.3.9 (pkg:npm/jquery@3.3.9): license `"),
            "{c:#?}"
        );
        assert!(c.details[0].contains(read_as), "{entry}: {}", c.details[0]);
    }
    // A deprecated id on the deny-list matches the current one, and a deny of the
    // or-later form matches only or-later licenses.
    let gpl3_only = npm_with_license(json!({"license": {"id": "GPL-3.0-only"}}));
    assert_eq!(one(&gpl3_only, &deny(&["GPL-3.0"])).status, Status::Fail);
    assert_eq!(
        one(&gpl3_only, &deny(&["GPL-3.0-or-later"])).status,
        Status::Pass
    );
    assert_eq!(
        one(
            &npm_with_license(json!({"license": {"id": "GPL-3.0+"}})),
            &deny(&["GPL-3.0-or-later"])
        )
        .status,
        Status::Fail
    );
    // GPL-2.0-or-later can be taken under GPL-2.0-only: a deny of GPL-3.0-only alone does
    // not deny it.
    assert_eq!(
        one(
            &npm_with_license(json!({"expression": "GPL-2.0-or-later"})),
            &rule
        )
        .status,
        Status::Pass
    );
    // A deprecated `-with-…-exception` id is its current `X WITH Y` form.
    let cp = npm_with_license(json!({"license": {"id": "GPL-2.0-with-classpath-exception"}}));
    assert_eq!(one(&cp, &deny(&["GPL-2.0-only"])).status, Status::Fail);
    assert_eq!(
        one(&cp, &deny(&["GPL-2.0-only WITH Classpath-exception-2.0"])).status,
        Status::Fail
    );
    // Unrelated custom text still passes a deny-list.
    let c = one(
        &npm_with_license(json!({"expression": "Some Custom Terms (see LICENSE.txt)"})),
        &rule,
    );
    assert_eq!(c.status, Status::Pass, "{c:#?}");
}

#[test]
fn allow_list_fails_text_that_is_no_expression() {
    // Derived from trivy-npm: jquery's `MIT` replaced.
    let rule = allow(&["MIT", "GPL-3.0-only", "MIT*"]);
    assert_eq!(
        one(&npm_with_license(json!({"license": {"id": "MIT"}})), &rule).status,
        Status::Pass
    );
    // `MIT AND Custom Terms` is no expression: the `MIT*` glob does not allow it.
    let c = one(
        &npm_with_license(json!({"expression": "MIT AND Custom Terms"})),
        &rule,
    );
    assert_eq!(c.status, Status::Fail, "{c:#?}");
    assert!(c.details[0].contains("not an SPDX expression"), "{c:#?}");
    // Only an allow-list entry that is that very text allows it.
    let c = one(
        &npm_with_license(json!({"expression": "MIT AND Custom Terms"})),
        &allow(&["MIT", "mit and custom terms"]),
    );
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    // An or-later license can be taken under the -only version an allow-list names; an
    // -only license does not satisfy an allow-list of the or-later form. Full names and
    // deprecated ids are read as their ids.
    for (entry, ok) in [
        (json!({"expression": "GPL-3.0-or-later"}), true),
        (json!({"license": {"id": "GPL-3.0"}}), true),
        (
            json!({"license": {"name": "GNU General Public License v3.0 only"}}),
            true,
        ),
        (json!({"license": {"id": "GPL-2.0-only"}}), false),
    ] {
        let c = one(&npm_with_license(entry.clone()), &rule);
        assert_eq!(c.status == Status::Pass, ok, "{entry}: {c:#?}");
    }
    assert_eq!(
        one(
            &npm_with_license(json!({"license": {"id": "GPL-3.0-only"}})),
            &allow(&["MIT", "GPL-3.0-or-later"])
        )
        .status,
        Status::Fail
    );
}

#[test]
fn banned_packages_match_normalised_purls() {
    // Derived from trivy-npm: asap's purl replaced by other spellings of event-stream 3.3.6.
    let base = cdx("sboms/trivy-npm.cdx.json");
    let with_purl = |purl: &str| {
        let mut p = base.clone();
        for c in p["components"].as_array_mut().unwrap() {
            if c["name"] == "asap" {
                c["name"] = json!("event-stream");
                c["purl"] = json!(purl);
            }
        }
        cdx_att(&p)
    };
    let rule = SbomRule {
        banned_packages: pats(&["pkg:npm/event-stream@3.3.6"]),
        ..Default::default()
    };
    // Unchanged: passes.
    let c = one(&cdx_att(&base), &rule);
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    for purl in [
        "pkg:npm/event-stream@3.3.6",
        "pkg:NPM/event-stream@3.3.6",
        "pkg:npm/event%2Dstream@3.3.6",
        "pkg:npm/Event-Stream@3.3.6",
        "pkg:npm/event-stream@3.3.6?arch=any#lib",
        "pkg://npm/event-stream@3.3.6",
    ] {
        let c = one(&with_purl(purl), &rule);
        assert_eq!(c.status, Status::Fail, "{purl}: {c:#?}");
        assert_eq!(
            c.details[0],
            format!("event-stream@2.0.6 ({purl}) matches `pkg:npm/event-stream@3.3.6`")
        );
    }
    // Another version is not banned; a version-less or globbed ban covers every version;
    // a percent-encoded ban is decoded too.
    assert_eq!(
        one(&with_purl("pkg:npm/event-stream@3.3.5"), &rule).status,
        Status::Pass
    );
    for ban in [
        "pkg:npm/event-stream",
        "pkg:npm/event-stream@*",
        "pkg:npm/event%2Dstream@3.3.6",
        "PKG:npm/EVENT-STREAM@3.3.6",
    ] {
        let r = SbomRule {
            banned_packages: pats(&[ban]),
            ..Default::default()
        };
        let c = one(&with_purl("pkg:npm/event-stream@3.3.6"), &r);
        assert_eq!(c.status, Status::Fail, "{ban}: {c:#?}");
    }
    // A purl that does not parse is compared as written (decoded), and counted.
    let c = one(&with_purl("pkg:npm/event-stream@3.3.6?=x"), &rule);
    assert_eq!(c.status, Status::Fail, "{c:#?}");
    assert!(
            c.details
                .iter()
                .any(|d| d == "1 of 14 packages have a purl that is not a valid package URL (compared as written)"),
            "{c:#?}"
        );
}

#[test]
fn spdx_packages() {
    // trivy-conda: openssl (OpenSSL), pip (MIT), and the root with NOASSERTION.
    let p: Value = serde_json::from_slice(&vector("sboms/trivy-conda.spdx.json")).unwrap();
    let att = attest("https://spdx.dev/Document", &p);
    let c = one(&att, &deny(&["OpenSSL"]));
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.path, "predicate.packages[].licenseConcluded");
    assert_eq!(
        c.details,
        vec!["openssl@1.1.1q (pkg:conda/openssl@1.1.1q): license `OpenSSL`"]
    );
    assert_eq!(one(&att, &deny(&["GPL-*"])).status, Status::Pass);
    let c = one(&att, &allow(&["MIT", "OpenSSL"]));
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    assert!(
        c.details
            .iter()
            .any(|d| d.starts_with("1 of 3 packages have no license")),
        "{c:#?}"
    );
    assert_eq!(one(&att, &allow(&["MIT"])).status, Status::Fail);
    let rule = SbomRule {
        banned_packages: pats(&["pkg:conda/openssl@*"]),
        ..Default::default()
    };
    let c = one(&att, &rule);
    assert_eq!(c.status, Status::Fail);
    assert_eq!(
        c.path,
        "predicate.packages[].externalRefs[].referenceLocator"
    );
    // No condition: what was read.
    let c = one(&att, &SbomRule::default());
    assert_eq!(c.status, Status::Pass);
    assert_eq!(c.found, "SPDX-2.3, 3 packages");
}

#[test]
fn real_cyclonedx_attestation() {
    // A CycloneDX predicate already wrapped in an in-toto statement by Trivy (CentOS 7):
    // bash is `GPLv3+`, openssl-libs `OpenSSL`.
    use base64::Engine as _;
    let line = vector("sboms/trivy-centos-7-cyclonedx.intoto.jsonl");
    let env: Value = serde_json::from_slice(line.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let statement = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let att = VerifiedAttestation::signed_for_test(&statement, None);
    let c = one(&att, &deny(&["GPL-3.0*"]));
    assert_eq!(c.status, Status::Fail, "{c:#?}");
    assert!(c.details[0].starts_with("bash@4.2.46-31.el7"), "{c:#?}");
    assert_eq!(one(&att, &deny(&["AGPL-*"])).status, Status::Pass);
}

#[test]
fn malformed_sboms() {
    for p in [
        json!({"foo": 1}),
        json!({"bomFormat": "CycloneDX", "components": "x"}),
        json!({"bomFormat": "CycloneDX", "components": [{"licenses": [{"license": {"id": 7}}]}]}),
        json!({"spdxVersion": "SPDX-3.0", "packages": []}),
        json!({"spdxVersion": "SPDX-2.3", "packages": {"a": 1}}),
    ] {
        let c = evaluate(&cdx_att(&p), &deny(&["GPL-*"]));
        assert_eq!(c.len(), 1, "{p}");
        assert_eq!(c[0].status, Status::Fail, "{p}");
        assert_eq!(c[0].code, codes::SBOM_MALFORMED, "{p}");
    }
    // Deep nesting is refused by the parser's depth limit, not a stack overflow.
    let mut deep = json!({"name": "leaf"});
    for _ in 0..200 {
        deep = json!({"name": "n", "components": [deep]});
    }
    let text = format!(r#"{{"bomFormat":"CycloneDX","components":[{deep}]}}"#);
    let err = read(text.as_bytes()).err().unwrap();
    assert!(err.contains("recursion limit"), "{err}");
}
