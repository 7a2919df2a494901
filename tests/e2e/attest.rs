//! attest / verify-attestation: every predicate type, in the real registry and in OCI layouts,
//! with real SBOMs, scans and provenance from tests/data/vectors; and the rejections.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use vouch_core::oci::layout::Layout;

use crate::support::image::{client, layout_image, push_image};
use crate::support::registry::Registry;
use crate::support::{run, vectors, vouch, vouch_in};

fn keys(dir: &Path) {
    vouch_in(dir, Some("pw"), ["generate-key-pair"]).ok();
    vouch_in(
        dir,
        Some("pw"),
        ["generate-key-pair", "--output-key-prefix", "other"],
    )
    .ok();
}

/// The SLSA v0.2 predicate of a real provenance (slsa-verifier's annotated-tag.intoto.jsonl),
/// taken out of its envelope and statement: only the predicate object is kept.
fn slsa_v02_predicate(dir: &Path) -> PathBuf {
    let line = fs::read_to_string(
        vectors().join("more/06-slsa-provenance/slsa-verifier/annotated-tag.intoto.jsonl"),
    )
    .unwrap();
    let env: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let p = dir.join("slsa-v02.json");
    fs::write(&p, serde_json::to_vec(&st["predicate"]).unwrap()).unwrap();
    p
}

/// (type, predicate file, predicate type URI) for every type cosign names.
fn cases(dir: &Path) -> Vec<(&'static str, PathBuf, &'static str)> {
    let v = vectors();
    let custom = dir.join("custom.json");
    fs::write(&custom, br#"{"note": "<built by CI>", "n": 1}"#).unwrap();
    vec![
        ("slsaprovenance", slsa_v02_predicate(dir), "https://slsa.dev/provenance/v0.2"),
        (
            "slsaprovenance1",
            v.join("more/06-slsa-provenance/in-toto-attestation/provenance-v1-predicate-validation/valid-provenance-v1-predicate.json"),
            "https://slsa.dev/provenance/v1",
        ),
        ("spdxjson", v.join("sboms/trivy-conda.spdx.json"), "https://spdx.dev/Document"),
        ("cyclonedx", v.join("sboms/trivy-centos-7.cdx.json"), "https://cyclonedx.org/bom"),
        ("vuln", v.join("scans/trivy/alpine-310.json"), "https://cosign.sigstore.dev/attestation/vuln/v1"),
        ("openvex", v.join("more/07-vex/openvex/README.example-fixed.json"), "https://openvex.dev/ns"),
        ("custom", custom, "https://cosign.sigstore.dev/attestation/v1"),
    ]
}

fn verify_json(dir: &Path, key: &str, kind: Option<&str>, image: &str) -> serde_json::Value {
    let mut args = vec!["verify-attestation", "--key", key, "--output", "json"];
    if let Some(k) = kind {
        args.extend(["--type", k]);
    }
    args.push(image);
    let out = vouch_in(dir, None, &args).ok();
    serde_json::from_str(&out.stdout).unwrap()
}

fn attest_all_types(dir: &Path, image: &str, digest: &str) {
    for (kind, file, uri) in cases(dir) {
        let out = vouch_in(
            dir,
            Some("pw"),
            [
                "attest".as_ref(),
                "--format".as_ref(),
                "legacy".as_ref(),
                "--key".as_ref(),
                "vouch.key".as_ref(),
                "--type".as_ref(),
                kind.as_ref(),
                "--predicate".as_ref(),
                file.as_os_str(),
                image.as_ref(),
            ],
        );
        assert_eq!(out.code, 0, "{kind}: {out:?}");
        let doc = verify_json(dir, "vouch.pub", Some(kind), image);
        let atts = doc[0]["attestations"].as_array().unwrap();
        assert_eq!(atts.len(), 1, "{kind}: {doc}");
        let st = &atts[0]["statement"];
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(st["predicateType"], uri);
        assert_eq!(
            st["subject"][0]["digest"]["sha256"],
            digest.trim_start_matches("sha256:")
        );
        if kind != "vuln" {
            // The predicate is the file, unchanged.
            let original: serde_json::Value =
                serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
            assert_eq!(st["predicate"], original, "{kind}");
        } else {
            let findings = st["predicate"]["scanner"]["result"]["vouch"]["findings"]
                .as_array()
                .unwrap();
            assert_eq!(findings.len(), 4);
            assert!(findings.iter().all(|f| f["severity"] == "MEDIUM"));
        }
    }
    // All seven, verified together; with the wrong key, none.
    let doc = verify_json(dir, "vouch.pub", None, image);
    assert_eq!(doc[0]["attestations"].as_array().unwrap().len(), 7);
    let out = vouch_in(
        dir,
        None,
        ["verify-attestation", "--key", "other.pub", image],
    )
    .code(1);
    assert!(
        out.stderr.contains("does not match the content and key"),
        "{out:?}"
    );
}

crate::on_each_registry! {
async fn every_type_in_the_registry(kind) {
    let reg = Registry::start_kind(kind);
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let digest = push_image(&client(), &reg.host(), "att/app", "v1").await;
    let image = format!("{}/att/app@{digest}", reg.host());
    attest_all_types(dir.path(), &image, &digest.to_string());
    let out = run(vouch().args(["tree", &image])).ok();
    assert!(out.stdout.contains("attestations: 7"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("predicateType https://cyclonedx.org/bom"),
        "{}",
        out.stdout
    );
}
}

#[test]
fn every_type_in_a_layout_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    let layout = d.join("layout");
    let a = layout_image(&layout, "a");
    let b = layout_image(&layout, "b");
    let image_a = format!("oci:{}@{a}", layout.display());
    let image_b = format!("oci:{}@{b}", layout.display());
    attest_all_types(d, &image_a, &a.to_string());

    // Predicate type asked for but absent: exit 1 naming the types found.
    let sbom = vectors().join("sboms/trivy-conda.spdx.json");
    vouch_in(
        d,
        Some("pw"),
        [
            "attest".as_ref(),
            "--format".as_ref(),
            "legacy".as_ref(),
            "--key".as_ref(),
            "vouch.key".as_ref(),
            "--type".as_ref(),
            "spdx".as_ref(),
            "--predicate".as_ref(),
            sbom.as_os_str(),
            image_b.as_ref(),
        ],
    )
    .ok();
    let out = vouch_in(
        d,
        None,
        [
            "verify-attestation",
            "--key",
            "vouch.pub",
            "--type",
            "cyclonedx",
            &image_b,
        ],
    )
    .code(1);
    assert!(
        out.stderr
            .contains("not the `https://cyclonedx.org/bom` asked for"),
        "{out:?}"
    );

    // A --type that does not fit the file is an input error, and nothing is attached.
    let out = vouch_in(
        d,
        Some("pw"),
        [
            "attest".as_ref(),
            "--format".as_ref(),
            "legacy".as_ref(),
            "--key".as_ref(),
            "vouch.key".as_ref(),
            "--type".as_ref(),
            "cyclonedx".as_ref(),
            "--predicate".as_ref(),
            sbom.as_os_str(),
            image_b.as_ref(),
        ],
    )
    .code(2);
    assert!(out.stderr.contains("expects CycloneDX JSON"), "{out:?}");
    let scan_as_vuln = vectors().join("sboms/trivy-centos-7.cdx.json");
    let out = vouch_in(
        d,
        Some("pw"),
        [
            "attest".as_ref(),
            "--format".as_ref(),
            "legacy".as_ref(),
            "--key".as_ref(),
            "vouch.key".as_ref(),
            "--type".as_ref(),
            "vuln".as_ref(),
            "--predicate".as_ref(),
            scan_as_vuln.as_os_str(),
            image_b.as_ref(),
        ],
    )
    .code(2);
    assert!(
        out.stderr.contains("expected a Trivy JSON report"),
        "{out:?}"
    );

    // Wrong subject: a's attestation manifest put under b's .att tag is rejected for b.
    let l = Layout::open(&layout).unwrap();
    let lock = l.lock().unwrap();
    let mut index = l.index().unwrap();
    let a_att = Layout::tagged(&index, &format!("sha256-{}.att", a.hex())).unwrap();
    Layout::set_tagged(
        &mut index,
        a_att,
        &format!("sha256-{}.att", b.hex()),
        Some("dev.cosignproject.cosign/atts"),
    );
    l.write_index(&index, &lock).unwrap();
    drop(lock);
    let out = vouch_in(
        d,
        None,
        ["verify-attestation", "--key", "vouch.pub", &image_b],
    )
    .code(1);
    assert!(
        out.stderr.contains("subjects do not include this image"),
        "{out:?}"
    );
}

#[test]
fn replace_drops_same_type_only_and_annotation_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    let layout = d.join("layout");
    let a = layout_image(&layout, "a");
    let image = format!("oci:{}@{a}", layout.display());
    let one = d.join("one.json");
    let two = d.join("two.json");
    fs::write(&one, br#"{"v":1}"#).unwrap();
    fs::write(&two, br#"{"v":2}"#).unwrap();
    let sbom = vectors().join("sboms/trivy-npm.cdx.json");
    for f in [&one, &two] {
        vouch_in(
            d,
            Some("pw"),
            [
                "attest".as_ref(),
                "--format".as_ref(),
                "legacy".as_ref(),
                "--key".as_ref(),
                "vouch.key".as_ref(),
                "--predicate".as_ref(),
                f.as_os_str(),
                image.as_ref(),
            ],
        )
        .ok();
    }
    vouch_in(
        d,
        Some("pw"),
        [
            "attest".as_ref(),
            "--format".as_ref(),
            "legacy".as_ref(),
            "--key".as_ref(),
            "vouch.key".as_ref(),
            "--type".as_ref(),
            "cyclonedx".as_ref(),
            "--predicate".as_ref(),
            sbom.as_os_str(),
            image.as_ref(),
        ],
    )
    .ok();
    assert_eq!(
        verify_json(d, "vouch.pub", Some("custom"), &image)[0]["attestations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let three = d.join("three.json");
    fs::write(&three, br#"{"v":3}"#).unwrap();
    vouch_in(
        d,
        Some("pw"),
        [
            "attest".as_ref(),
            "--format".as_ref(),
            "legacy".as_ref(),
            "--key".as_ref(),
            "vouch.key".as_ref(),
            "--replace".as_ref(),
            "--predicate".as_ref(),
            three.as_os_str(),
            image.as_ref(),
        ],
    )
    .ok();
    let custom = verify_json(d, "vouch.pub", Some("custom"), &image);
    let atts = custom[0]["attestations"].as_array().unwrap();
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0]["statement"]["predicate"]["v"], 3);
    assert_eq!(
        verify_json(d, "vouch.pub", Some("cyclonedx"), &image)[0]["attestations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A layer whose predicateType annotation lies about its statement is rejected.
    let l = Layout::open(&layout).unwrap();
    let index = l.index().unwrap();
    let att = Layout::tagged(&index, &format!("sha256-{}.att", a.hex())).unwrap();
    let mpath = layout.join("blobs/sha256").join(att.digest.hex());
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(&mpath).unwrap()).unwrap();
    for layer in m["layers"].as_array_mut().unwrap() {
        if layer["annotations"]["predicateType"] == "https://cyclonedx.org/bom" {
            layer["annotations"]["predicateType"] = "https://spdx.dev/Document".into();
        }
    }
    let bytes = serde_json::to_vec(&m).unwrap();
    let lock = l.lock().unwrap();
    l.write_blob(&bytes).unwrap();
    let mut index = l.index().unwrap();
    Layout::set_tagged(
        &mut index,
        vouch_core::oci::manifest::Descriptor::of(vouch_core::oci::manifest::OCI_MANIFEST, &bytes),
        &format!("sha256-{}.att", a.hex()),
        Some("dev.cosignproject.cosign/atts"),
    );
    l.write_index(&index, &lock).unwrap();
    drop(lock);
    let out = vouch_in(
        d,
        None,
        [
            "verify-attestation",
            "--key",
            "vouch.pub",
            "--type",
            "spdx",
            &image,
        ],
    )
    .code(1);
    assert!(
        out.stderr.contains("differs from the layer's annotation"),
        "{out:?}"
    );
}

/// Every scan in tests/data/vectors imports, attests and verifies; the findings match the report.
#[test]
fn every_scan_vector_attests() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    let layout = d.join("layout");
    for (i, (rel, counts)) in [
        ("scans/trivy/alpine-310.json", vec![("MEDIUM", 4)]),
        ("scans/trivy/alpine-310.sarif.json", vec![("MEDIUM", 4)]),
        ("scans/trivy/debian-buster.json", vec![]),
        ("scans/grype/image.json", vec![("CRITICAL", 1), ("LOW", 1)]),
        (
            "scans/grype/image.sarif.json",
            vec![("CRITICAL", 1), ("LOW", 1)],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let digest = layout_image(&layout, &format!("s{i}"));
        let image = format!("oci:{}@{digest}", layout.display());
        let file = vectors().join(rel);
        vouch_in(
            d,
            Some("pw"),
            [
                "attest".as_ref(),
                "--format".as_ref(),
                "legacy".as_ref(),
                "--key".as_ref(),
                "vouch.key".as_ref(),
                "--type".as_ref(),
                "vuln".as_ref(),
                "--scan-finished-on".as_ref(),
                "2025-01-01T00:00:00Z".as_ref(),
                "--predicate".as_ref(),
                file.as_os_str(),
                image.as_ref(),
            ],
        )
        .ok();
        let doc = verify_json(d, "vouch.pub", Some("vuln"), &image);
        let findings = doc[0]["attestations"][0]["statement"]["predicate"]["scanner"]["result"]["vouch"]["findings"]
            .as_array()
            .unwrap()
            .clone();
        for (sev, n) in counts {
            assert_eq!(
                findings.iter().filter(|f| f["severity"] == sev).count(),
                n,
                "{rel} {sev}"
            );
        }
        if rel.ends_with("debian-buster.json") {
            let report: serde_json::Value =
                serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
            let total: usize = report["Results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["Vulnerabilities"].as_array().map_or(0, Vec::len))
                .sum();
            assert_eq!(findings.len(), total, "{rel}");
        }
    }
}
