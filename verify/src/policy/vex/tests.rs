use super::*;
use serde_json::json;
use vouch_core::scan::{Package, Severity};

/// Parses OpenVEX JSON bytes; the error says what is wrong (e.g. the spec's examples with
/// trailing commas are not JSON).
fn parse_bytes(source: &str, bytes: &[u8]) -> Result<VexDocument, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON document: {e}"))?;
    parse_document(source, &v)
}

const IMAGE_DIGEST: &str =
    "sha256:e0a0a765d690a5104331cfbac88ebbbf01736c1f87aaa3cd455c516a5ea586a5";

fn vector(name: &str) -> Vec<u8> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/vectors/more/07-vex/openvex")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn image() -> ImageContext {
    ImageContext {
        name: "ghcr.io/acme/app".into(),
        digest: IMAGE_DIGEST.parse().unwrap(),
        now: 1_800_000_000,
    }
}

fn finding(id: &str, purl: Option<&str>) -> Finding {
    Finding {
        id: id.into(),
        aliases: vec![],
        severity: Severity::High,
        package: Package {
            name: "git".into(),
            purl: purl.map(str::to_owned),
        },
        installed_version: Some("2.39.0-r1".into()),
        fixed_version: None,
    }
}

#[test]
fn spec_examples_parse_and_match_package_products() {
    let doc = parse_bytes("example1", &vector("OPENVEX-SPEC.example1-fixed.json")).unwrap();
    assert_eq!(doc.statements.len(), 1);
    let st = &doc.statements[0];
    assert_eq!(st.status, VexStatus::Fixed);
    assert!(st.timestamp.is_some(), "the document's timestamp");
    let docs = [doc];
    // The product is the package itself: a finding in that package is decided.
    let f = finding(
        "CVE-2023-12345",
        Some("pkg:apk/wolfi/git@2.39.0-r1?distro=wolfi&arch=x86_64"),
    );
    let (_, s) = decide(&docs, &f, &image(), &[]).unwrap();
    assert!(s.status.suppresses());
    // Another version, another architecture, another vulnerability: not decided.
    for (id, purl) in [
        ("CVE-2023-12345", "pkg:apk/wolfi/git@2.40.0-r0?arch=x86_64"),
        ("CVE-2023-12345", "pkg:apk/wolfi/git@2.39.0-r1?arch=aarch64"),
        ("CVE-2023-12345", "pkg:apk/wolfi/git@2.39.0-r1"),
        ("CVE-2023-99999", "pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64"),
    ] {
        assert!(
            decide(&docs, &finding(id, Some(purl)), &image(), &[]).is_none(),
            "{purl}"
        );
    }
    // No purl on the finding (SARIF): nothing to match a package product against.
    assert!(decide(&docs, &finding("CVE-2023-12345", None), &image(), &[]).is_none());

    let readme = parse_bytes("readme", &vector("README.example-fixed.json")).unwrap();
    let f = finding(
        "CVE-2014-123456",
        Some("pkg:apk/distro/git@2.39.0-r1?arch=armv7"),
    );
    assert!(decide(&[readme], &f, &image(), &[]).is_some());

    // under_investigation decides, but suppresses nothing.
    let ui = parse_bytes(
        "ex6",
        &vector("OPENVEX-SPEC.example6-under_investigation.json"),
    )
    .unwrap();
    let f = finding(
        "CVE-2023-12345",
        Some("pkg:apk/wolfi/git@2.39.0-r1?arch=armv7"),
    );
    let (_, s) = decide(std::slice::from_ref(&ui), &f, &image(), &[]).unwrap();
    assert!(!s.status.suppresses());
}

#[test]
fn malformed_spec_examples_are_errors() {
    for name in [
        "OPENVEX-SPEC.example7-history-MALFORMED.json",
        "OPENVEX-SPEC.example8-not_affected-MALFORMED.json",
    ] {
        let err = parse_bytes(name, &vector(name)).unwrap_err();
        assert!(err.contains("not a JSON document"), "{name}: {err}");
    }
    for (doc, why) in [
        (json!([]), "not a JSON object"),
        (json!({"statements": []}), "no @context"),
        (
            json!({"@context": "https://example.com/ns", "statements": []}),
            "not OpenVEX",
        ),
        (
            json!({"@context": "https://openvex.dev/ns/v0.2.0"}),
            "no statements",
        ),
        (
            json!({"@context": "https://openvex.dev/ns", "statements": [{"status": "fixed", "products": ["x"]}]}),
            "has no vulnerability",
        ),
        (
            json!({"@context": "https://openvex.dev/ns", "statements": [{"vulnerability": {"name": "X"}, "status": "wontfix", "products": ["x"]}]}),
            "is not one of",
        ),
        (
            json!({"@context": "https://openvex.dev/ns", "statements": [{"vulnerability": {"name": "X"}, "status": "fixed"}]}),
            "has no products",
        ),
        (
            json!({"@context": "https://openvex.dev/ns", "timestamp": "yesterday", "statements": []}),
            "RFC 3339",
        ),
    ] {
        let err = parse_document("t", &doc).unwrap_err();
        assert!(err.contains(why), "{doc}: {err}");
    }
}

#[test]
fn history_later_statement_wins() {
    // example7 fixed up (its trailing commas removed): under_investigation at 18:02 on the
    // 8th, then `fixed` with the document's timestamp (the 9th).
    let text = String::from_utf8(vector("OPENVEX-SPEC.example7-history-MALFORMED.json"))
        .unwrap()
        .replace("},\n      ],", "}\n      ],")
        .replace("},\n  ]", "}\n  ]");
    let doc = parse_bytes("ex7", text.as_bytes()).unwrap();
    assert_eq!(doc.statements.len(), 2);
    let f = finding(
        "CVE-2023-12345",
        Some("pkg:apk/wolfi/git@2.39.0-r1?arch=armv7"),
    );
    let docs = [doc];
    let (_, s) = decide(&docs, &f, &image(), &[]).unwrap();
    assert_eq!(s.status, VexStatus::Fixed);
    // Reversed order: still the later timestamp wins.
    let mut rev = docs[0].clone();
    rev.statements.reverse();
    let rev = [rev];
    let (_, s) = decide(&rev, &f, &image(), &[]).unwrap();
    assert_eq!(s.status, VexStatus::Fixed);
    // A later `affected` in another document overrides an earlier `fixed`.
    let later = parse_document(
        "later",
        &json!({"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "2024-01-01T00:00:00Z",
                "statements": [{"vulnerability": {"name": "CVE-2023-12345"}, "status": "affected",
                  "products": [{"@id": "pkg:apk/wolfi/git"}]}]}),
    )
    .unwrap();
    let all = [docs[0].clone(), later];
    let (d, s) = decide(&all, &f, &image(), &[]).unwrap();
    assert_eq!(
        (d.source.as_str(), s.status),
        ("later", VexStatus::Affected)
    );
}

#[test]
fn example8_fixed_up_aliases_and_image_products() {
    // example8 fixed up (its missing and trailing commas repaired): Log4Shell not_affected,
    // alias GHSA-jfh8-c2jp-5v3q, product spring-boot by purl.
    let text = String::from_utf8(vector("OPENVEX-SPEC.example8-not_affected-MALFORMED.json"))
        .unwrap()
        .replace("2.6.0-M3\",\n          }", "2.6.0-M3\"\n          },")
        .replace(
            "\"vulnerable_code_not_in_execute_path\"\n",
            "\"vulnerable_code_not_in_execute_path\",\n",
        )
        .replace("are vulnerable.\",\n", "are vulnerable.\"\n");
    let doc = parse_bytes("ex8", text.as_bytes()).unwrap();
    let st = &doc.statements[0];
    assert_eq!(
        st.describe(),
        "not_affected, vulnerable_code_not_in_execute_path"
    );
    // The finding is known by its GHSA id, with the CVE as alias — or the other way round.
    let mut f = finding(
        "GHSA-jfh8-c2jp-5v3q",
        Some("pkg:maven/org.springframework.boot/spring-boot@2.6.0-M3"),
    );
    let docs = [doc];
    assert!(decide(&docs, &f, &image(), &[]).is_some());
    f.id = "CVE-2099-0001".into();
    f.aliases = vec!["CVE-2021-44228".into()];
    assert!(decide(&docs, &f, &image(), &[]).is_some());
    f.aliases.clear();
    assert!(decide(&docs, &f, &image(), &[]).is_none());

    // Image products: by pkg:oci digest, by reference, by hash; subcomponents need the
    // image (by digest or repository) as their product.
    let log4j = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1";
    let mk = |product: Value| {
        parse_document(
                "img",
                &json!({"@context": "https://openvex.dev/ns/v0.2.0",
                    "statements": [{"vulnerability": {"name": "CVE-2021-44228"}, "status": "not_affected",
                      "justification": "vulnerable_code_not_present", "products": [product]}]}),
            )
            .unwrap()
    };
    let f = finding("CVE-2021-44228", Some(log4j));
    let hex = IMAGE_DIGEST.strip_prefix("sha256:").unwrap();
    let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    for (product, applies) in [
        (json!({"@id": format!("pkg:oci/app@sha256%3A{hex}")}), true),
        (
            json!({"@id": format!("pkg:oci/app@sha256%3A{hex}?repository_url=ghcr.io/acme/app&arch=amd64")}),
            true,
        ),
        (
            json!({"@id": format!("pkg:oci/app@sha256%3A{hex}?repository_url=ghcr.io/evil/app")}),
            false,
        ),
        (json!({"@id": format!("pkg:oci/app@{other}")}), false),
        (
            json!({"@id": format!("ghcr.io/acme/app@{IMAGE_DIGEST}")}),
            true,
        ),
        (
            json!({"@id": format!("ghcr.io/acme/other@{IMAGE_DIGEST}")}),
            false,
        ),
        (json!({"@id": "whatever", "hashes": {"sha-256": hex}}), true),
        // No subcomponents and no digest: the whole repository is too broad.
        (
            json!({"@id": "pkg:oci/app?repository_url=ghcr.io/acme/app"}),
            false,
        ),
        // Subcomponents under the image's repository (no digest), version-less or exact.
        (
            json!({"@id": "pkg:oci/app?repository_url=ghcr.io/acme/app",
                    "subcomponents": [{"@id": "pkg:maven/org.apache.logging.log4j/log4j-core"}]}),
            true,
        ),
        // A bare `pkg:oci/NAME` without digest names no repository: any registry's `app`
        // would match. Not applied.
        (
            json!({"@id": "pkg:oci/app", "subcomponents": [{"@id": log4j}]}),
            false,
        ),
        (
            json!({"@id": "pkg:oci/app?repository_url=ghcr.io/evil/app", "subcomponents": [{"@id": log4j}]}),
            false,
        ),
        // pkg:docker names the repository in its namespace and name.
        (
            json!({"@id": "pkg:docker/ghcr.io/acme/app", "subcomponents": [{"@id": log4j}]}),
            true,
        ),
        (
            json!({"@id": "pkg:docker/app", "subcomponents": [{"@id": log4j}]}),
            false,
        ),
        (
            json!({"@id": "oci://ghcr.io/acme/app", "subcomponents": [{"@id": log4j}]}),
            true,
        ),
        (
            json!({"@id": format!("pkg:oci/app@sha256%3A{hex}"),
                    "subcomponents": [{"identifiers": {"purl": log4j}}]}),
            true,
        ),
        (
            json!({"@id": "ghcr.io/acme/app", "subcomponents": [log4j]}),
            true,
        ),
        // Subcomponent of another image, or another package.
        (
            json!({"@id": "pkg:oci/other?repository_url=ghcr.io/acme/other", "subcomponents": [log4j]}),
            false,
        ),
        (
            json!({"@id": format!("pkg:oci/app@{other}"), "subcomponents": [log4j]}),
            false,
        ),
        (
            json!({"@id": "pkg:oci/app?repository_url=ghcr.io/acme/app", "subcomponents": ["pkg:maven/org.apache.logging.log4j/log4j-core@2.17.0"]}),
            false,
        ),
    ] {
        let docs = [mk(product.clone())];
        assert_eq!(
            decide(&docs, &f, &image(), &[]).is_some(),
            applies,
            "{product}"
        );
    }
}

#[test]
fn repository_products_on_docker_hub() {
    // The image name is HOST/REPO with docker's defaults (docker.io/library/x).
    let hub = ImageContext {
        name: "docker.io/library/alpine".into(),
        ..image()
    };
    let sub = "pkg:apk/alpine/libcrypto1.1";
    let f = finding(
        "CVE-2019-1549",
        Some("pkg:apk/alpine/libcrypto1.1@1.1.1c-r0?arch=x86_64"),
    );
    for (product, applies) in [
        (
            "pkg:oci/alpine?repository_url=docker.io/library/alpine",
            true,
        ),
        (
            "pkg:oci/alpine?repository_url=index.docker.io/library/alpine",
            true,
        ),
        ("pkg:oci/alpine?repository_url=docker.io/alpine", true),
        ("pkg:docker/alpine", true),
        ("pkg:docker/library/alpine", true),
        ("alpine", true),
        ("pkg:oci/alpine", false),
        ("pkg:oci/alpine?repository_url=docker.io/evil/alpine", false),
        ("pkg:docker/evil/alpine", false),
    ] {
        let doc = parse_document(
                "hub",
                &json!({"@context": "https://openvex.dev/ns/v0.2.0",
                    "statements": [{"vulnerability": {"name": "CVE-2019-1549"}, "status": "not_affected",
                      "justification": "vulnerable_code_not_in_execute_path",
                      "products": [{"@id": product, "subcomponents": [{"@id": sub}]}]}]}),
            )
            .unwrap();
        assert_eq!(
            decide(&[doc], &f, &hub, &[]).is_some(),
            applies,
            "{product}"
        );
    }
}

#[test]
fn package_products_need_a_version_to_suppress() {
    // OpenVEX spec example1: `fixed` for pkg:apk/wolfi/git@2.39.0-r1 (two arches).
    let text = String::from_utf8(vector("OPENVEX-SPEC.example1-fixed.json")).unwrap();
    let f = finding(
        "CVE-2023-12345",
        Some("pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64"),
    );
    let doc = parse_bytes("example1", text.as_bytes()).unwrap();
    let docs = [doc];
    assert!(decide(&docs, &f, &image(), &[]).is_some_and(|(_, s)| s.status.suppresses()));
    assert!(unapplied_notes(&docs, &f, &image(), &[]).is_empty());
    // Variant: the version removed from the products (`pkg:apk/wolfi/git?arch=…`): it
    // would clear every version, including vulnerable ones. Not applied, with a note.
    let doc = parse_bytes(
        "example1-versionless",
        text.replace("@2.39.0-r1", "").as_bytes(),
    )
    .unwrap();
    let docs = [doc];
    assert!(decide(&docs, &f, &image(), &[]).is_none());
    let notes = unapplied_notes(&docs, &f, &image(), &[]);
    assert_eq!(
        notes,
        vec![
            "VEX (example1-versionless) says fixed for `pkg:apk/wolfi/git?arch=x86_64`: not \
                 applied (a package product without a version would cover every version)"
        ]
    );
    // Variant: status `affected` without a version still applies (it only makes the
    // verdict stricter), and is no note.
    let doc = parse_bytes(
        "example1-affected",
        text.replace("@2.39.0-r1", "")
            .replace("\"fixed\"", "\"affected\"")
            .as_bytes(),
    )
    .unwrap();
    let docs = [doc];
    assert!(decide(&docs, &f, &image(), &[]).is_some_and(|(_, s)| !s.status.suppresses()));
    assert!(unapplied_notes(&docs, &f, &image(), &[]).is_empty());
}

#[test]
fn older_string_forms() {
    // OpenVEX v0.0.1: `vulnerability` a string, products strings, statement-level
    // subcomponents.
    let doc = parse_document(
        "v0.0.1",
        &json!({"@context": "https://openvex.dev/ns", "timestamp": "2023-01-01T00:00:00Z",
                "statements": [{"vulnerability": "CVE-2019-1549", "status": "not_affected",
                  "justification": "component_not_present",
                  "products": [format!("ghcr.io/acme/app@{IMAGE_DIGEST}")],
                  "subcomponents": ["pkg:apk/alpine/libcrypto1.1"]}]}),
    )
    .unwrap();
    let f = finding(
        "CVE-2019-1549",
        Some("pkg:apk/alpine/libcrypto1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2"),
    );
    assert!(decide(&[doc], &f, &image(), &[]).is_some());
}

/// A file of Trivy's VEX cases (tests/data/trivy-vex, see its ORIGIN.md).
fn trivy(name: &str) -> Vec<u8> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/trivy-vex")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn trivy_vex(name: &str) -> VexDocument {
    parse_bytes(name, &trivy(name)).unwrap()
}

/// The findings of a Trivy report as vouch imports them, and the graph of its packages
/// (as the scan's verified predicate carries the report).
fn trivy_scan(name: &str) -> (Vec<Finding>, Option<DepGraph>) {
    let bytes = trivy(name);
    let scan = vouch_core::scan::import(&bytes, None, "2026-01-01T00:00:00Z").unwrap();
    let report: Value = serde_json::from_slice(&bytes).unwrap();
    (
        scan.findings,
        DepGraph::from_trivy("the packages of the scan", &report),
    )
}

fn one<'a>(findings: &'a [Finding], id: &str) -> &'a Finding {
    findings.iter().find(|f| f.id == id).unwrap()
}

fn suppressed(docs: &[VexDocument], f: &Finding, graphs: &[DepGraph]) -> bool {
    decide(docs, f, &image(), graphs).is_some_and(|(_, s)| s.status.suppresses())
}

#[test]
fn trivy_nested_product_single_path_suppresses_multi_path_does_not() {
    // Trivy's pkg/vex test "OpenVEX, single path between product and subcomponent": the
    // product go-direct1 is the only way from the root to go-transitive.
    let docs = [trivy_vex("openvex-nested.json")];
    let (findings, graph) = trivy_scan("go-single-path.trivy.json");
    let graphs = [graph.unwrap()];
    let f = one(&findings, "CVE-2024-0001");
    assert!(suppressed(&docs, f, &graphs));
    assert!(unapplied_notes(&docs, f, &image(), &graphs).is_empty());
    // "multi paths": go-transitive is also reached through go-direct2: Trivy keeps the
    // finding, so does vouch, and says why.
    let (findings, graph) = trivy_scan("go-multi-path.trivy.json");
    let graphs = [graph.unwrap()];
    let f = one(&findings, "CVE-2024-0001");
    assert!(decide(&docs, f, &image(), &graphs).is_none());
    assert_eq!(
        unapplied_notes(&docs, f, &image(), &graphs),
        vec![
            "VEX (openvex-nested.json) says not_affected, vulnerable_code_not_in_execute_path \
                 for `pkg:golang/github.com/aquasecurity/go-direct1@v2.0.0`: not applied \
                 (`pkg:golang/github.com/aquasecurity/go-transitive@v4.0.0` is also reached \
                 other than through `pkg:golang/github.com/aquasecurity/go-direct1@v2.0.0` (the \
                 packages of the scan))"
        ]
    );
    // Without any verified graph the statement is not tied to this image at all.
    let (findings, _) = trivy_scan("go-single-path.trivy.json");
    assert!(decide(&docs, one(&findings, "CVE-2024-0001"), &image(), &[]).is_none());
}

#[test]
fn trivy_app_product_is_tied_by_the_scans_own_root_package() {
    // uv.json.golden: root pkg:pypi/uv-test@0.1.0 depends on werkzeug 0.11.1 (two CVEs);
    // the statement names the app without a version, as Trivy writes it.
    let docs = [trivy_vex("uv.openvex.json")];
    let (findings, graph) = trivy_scan("uv.json.golden");
    let graphs = [graph.unwrap()];
    for id in ["CVE-2019-14806", "CVE-2020-28724"] {
        assert!(suppressed(&docs, one(&findings, id), &graphs), "{id}");
    }
    let f = one(&findings, "CVE-2019-14806");
    // Nothing verified ties it (no graph: only the VEX document's own word): not applied.
    assert!(decide(&docs, f, &image(), &[]).is_none());
    assert_eq!(
        unapplied_notes(&docs, f, &image(), &[]),
        vec![
            "VEX (uv.openvex.json) says not_affected, vulnerable_code_not_in_execute_path \
                 for `pkg:pypi/uv-test`: not applied (no verified dependency graph of this \
                 image (the scan's packages, a verified SBOM) has \
                 `pkg:pypi/werkzeug@0.11.1`)"
        ]
    );
    // A VEX document claiming that the image contains the app ties nothing either: a
    // statement is never read as a dependency.
    let mut claim: Value = serde_json::from_slice(&trivy("uv.openvex.json")).unwrap();
    let claims_image = json!({"vulnerability": {"@id": "CVE-2019-14806"}, "status": "affected",
            "products": [{"@id": format!("pkg:oci/app@{IMAGE_DIGEST}"),
                          "subcomponents": [{"@id": "pkg:pypi/uv-test@0.1.0"}]}]});
    claim["statements"]
        .as_array_mut()
        .unwrap()
        .insert(0, claims_image);
    let claim = [parse_document("claim", &claim).unwrap()];
    assert!(decide(&claim, f, &image(), &[]).is_none());
    // A graph without the package (the gomod scan lists no packages at all).
    let (_, gomod) = trivy_scan("gomod.json.golden");
    assert!(gomod.is_none(), "a report without Packages has no graph");

    let variant = |product: &str, sub: &str, status: &str| {
        let mut v: Value = serde_json::from_slice(&trivy("uv.openvex.json")).unwrap();
        let st = &mut v["statements"][0];
        st["products"] = json!([{"@id": product, "subcomponents": [{"@id": sub}]}]);
        st["status"] = status.into();
        [parse_document("variant", &v).unwrap()]
    };
    let werkzeug = "pkg:pypi/werkzeug@0.11.1";
    for (product, sub, applies) in [
        // The app, with its version or without; with its identifiers form.
        ("pkg:pypi/uv-test", werkzeug, true),
        ("pkg:pypi/uv-test@0.1.0", werkzeug, true),
        ("pkg:pypi/uv-test", "pkg:pypi/werkzeug", true),
        // Another version of the app, another app, a package that does not depend on
        // werkzeug (click is in the graph, beside it).
        ("pkg:pypi/uv-test@0.2.0", werkzeug, false),
        ("pkg:pypi/other-app", werkzeug, false),
        ("pkg:pypi/click", werkzeug, false),
        ("pkg:npm/uv-test", werkzeug, false),
        // The subcomponent is not the finding's package.
        ("pkg:pypi/uv-test", "pkg:pypi/werkzeug@0.16.0", false),
        ("pkg:pypi/uv-test", "pkg:pypi/colorama", false),
        // A bare image purl is never tied through a graph either.
        ("pkg:oci/uv-test", werkzeug, false),
        ("not a purl", werkzeug, false),
    ] {
        let docs = variant(product, sub, "not_affected");
        assert_eq!(suppressed(&docs, f, &graphs), applies, "{product} / {sub}");
    }
    let notes = unapplied_notes(
        &variant("pkg:pypi/click", werkzeug, "fixed"),
        f,
        &image(),
        &graphs,
    );
    assert!(notes[0].ends_with("(`pkg:pypi/click` does not depend on `pkg:pypi/werkzeug@0.11.1` in the verified dependency graphs of this image)"), "{notes:?}");
    // A later `affected` statement for the app wins over the earlier not_affected.
    let mut later = variant("pkg:pypi/uv-test", werkzeug, "affected");
    later[0].statements[0].timestamp = Some(i64::MAX);
    let both = [docs[0].clone(), later[0].clone()];
    let (_, s) = decide(&both, f, &image(), &graphs).unwrap();
    assert_eq!(s.status, VexStatus::Affected);
}

#[test]
fn trivy_gomod_app_product_needs_a_verified_sbom_graph() {
    // Trivy's "gomod with local VEX file" case: its scan (gomod.json.golden) lists no
    // packages, so only a verified SBOM of the image can tie the app to it.
    let docs = [trivy_vex("gomod.openvex.json")];
    let (findings, scan_graph) = trivy_scan("gomod.json.golden");
    assert!(scan_graph.is_none());
    let opa = one(&findings, "CVE-2022-23628");
    assert!(decide(&docs, opa, &image(), &[]).is_none());

    let cdx = DepGraph::from_sbom("SBOM attestation", &trivy("gomod.cdx.json")).unwrap();
    assert_eq!(cdx.packages(), 4);
    let graphs = [cdx.clone()];
    assert!(suppressed(&docs, opa, &graphs));
    // Only the finding the statement names, in the package it names.
    for f in findings.iter().filter(|f| f.id != "CVE-2022-23628") {
        assert!(decide(&docs, f, &image(), &graphs).is_none(), "{}", f.id);
    }
    let mut elsewhere = opa.clone();
    elsewhere.package.purl = Some("pkg:golang/github.com/open-policy-agent/opa@v0.36.0".into());
    assert!(decide(&docs, &elsewhere, &image(), &graphs).is_none());

    // The same SBOM where opa hangs under the scanned directory, not under the module:
    // the app does not depend on it here.
    let mut bom: Value = serde_json::from_slice(&trivy("gomod.cdx.json")).unwrap();
    for d in bom["dependencies"].as_array_mut().unwrap() {
        if d["ref"] == "pkg:golang/github.com/testdata/testdata" {
            d["dependsOn"] = json!([]);
        }
    }
    let loose = DepGraph::from_sbom("loose", &serde_json::to_vec(&bom).unwrap()).unwrap();
    assert!(!suppressed(&docs, opa, std::slice::from_ref(&loose)));
    // Every verified graph that has the package must agree: one that reaches it other
    // than through the app keeps the finding.
    assert!(!suppressed(&docs, opa, &[cdx, loose]));

    // SPDX: the document DESCRIBES the module, which DEPENDS_ON opa.
    let spdx = |extra: &[Value]| {
        let mut rels = vec![
            json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-app"}),
            json!({"spdxElementId": "SPDXRef-app", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-opa"}),
        ];
        rels.extend(extra.iter().cloned());
        let doc = json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
                "packages": [
                    {"SPDXID": "SPDXRef-app", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:golang/github.com/testdata/testdata"}]},
                    {"SPDXID": "SPDXRef-other", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:golang/github.com/acme/other@v1.0.0"}]},
                    {"SPDXID": "SPDXRef-opa", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:golang/github.com/open-policy-agent/opa@v0.35.0"}]}],
                "relationships": rels});
        DepGraph::from_sbom("spdx", &serde_json::to_vec(&doc).unwrap()).unwrap()
    };
    let under_app = json!({"spdxElementId": "SPDXRef-app", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-other"});
    assert!(suppressed(
        &docs,
        opa,
        &[spdx(std::slice::from_ref(&under_app))]
    ));
    // opa is also a dependency of `other`, which nothing ties under the app (it hangs
    // under the described app as an orphan only when nothing else is described).
    let also = json!({"spdxElementId": "SPDXRef-opa", "relationshipType": "DEPENDENCY_OF", "relatedSpdxElement": "SPDXRef-other"});
    let described_too = json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-other"});
    assert!(!suppressed(
        &docs,
        opa,
        &[spdx(&[also.clone(), described_too])]
    ));
    // ... and when `other` is inside the app, every path passes the app.
    assert!(suppressed(&docs, opa, &[spdx(&[also, under_app])]));
    // Neither CycloneDX nor SPDX: no graph.
    assert!(DepGraph::from_sbom("x", b"{\"hello\": 1}").is_none());
    assert!(DepGraph::from_sbom("x", b"not json").is_none());
}

#[test]
fn purl_matching_rules() {
    let found = "pkg:apk/alpine/libssl1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2";
    assert!(purl_matches("pkg:apk/alpine/libssl1.1", found));
    assert!(purl_matches("pkg:apk/alpine/libssl1.1@1.1.1c-r0", found));
    assert!(purl_matches(
        "pkg:apk/alpine/libssl1.1@1.1.1c-r0?distro=3.10.2&arch=x86_64",
        found
    ));
    assert!(!purl_matches("pkg:apk/alpine/libssl1.1@1.1.1d-r0", found));
    assert!(!purl_matches(
        "pkg:apk/alpine/libssl1.1?arch=aarch64",
        found
    ));
    assert!(!purl_matches("pkg:apk/wolfi/libssl1.1", found));
    assert!(!purl_matches("pkg:deb/alpine/libssl1.1", found));
    assert!(purl_matches("not a purl", "not a purl"));
    assert!(!purl_matches("not a purl", found));
}
