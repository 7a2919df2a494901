use super::*;
use crate::policy::report::Status;
use serde_json::json;

const V110_BUILDER: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0";

fn vectors() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/vectors")
}

fn read_vector(rel: &str) -> Vec<u8> {
    let p = vectors().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every DSSE in-toto statement inside a file (bundles, envelopes, JSON lines).
fn statements_in(rel: &str) -> Vec<Value> {
    use base64::Engine as _;
    let bytes = read_vector(rel);
    let docs: Vec<Value> = match serde_json::from_slice(&bytes) {
        Ok(v) => vec![v],
        Err(_) => bytes
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect(),
    };
    let mut out = Vec::new();
    let mut stack = docs;
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => {
                if let (Some(Value::String(p)), Some(_)) = (o.get("payload"), o.get("payloadType"))
                {
                    let raw = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
                    out.push(serde_json::from_slice(&raw).unwrap());
                }
                stack.extend(o.into_iter().map(|(_, v)| v));
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    out
}

/// The SLSA statement in a file.
fn slsa_statement(rel: &str) -> Value {
    statements_in(rel)
        .into_iter()
        .find(|s| {
            s["predicateType"]
                .as_str()
                .is_some_and(|t| t.starts_with("https://slsa.dev/provenance/"))
        })
        .unwrap_or_else(|| panic!("no SLSA statement in {rel}"))
}

use crate::policy::test_support::attest;

fn from_vector(rel: &str) -> VerifiedAttestation {
    let st = slsa_statement(rel);
    attest(st["predicateType"].as_str().unwrap(), &st["predicate"])
}

/// The real keyless v0.2 provenance of the container generator, from the cosign layout.
fn layout_provenance() -> VerifiedAttestation {
    let rel = "cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch/blobs/sha256/20b16d5835eceaa7b9dbb7e4fdf4db52a8b9159c1416dd73e54cade07e838917";
    use base64::Engine as _;
    let env: Value = serde_json::from_slice(&read_vector(rel)).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    VerifiedAttestation::signed_for_test(&payload, None)
}

/// BuildKit's own v0.2 provenance in the same layout (materials are BuildKit purls).
fn buildkit_predicate() -> Value {
    let rel = "cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch/blobs/sha256/c1944d4717b644d2c7e1eccab4cc6e963cefbe288d75b7f7c3dfee4f4a894406";
    let st: Value = serde_json::from_slice(&read_vector(rel)).unwrap();
    st["predicate"].clone()
}

fn pats(v: &[&str]) -> Vec<Pattern> {
    v.iter().map(|p| Pattern::new(p).unwrap()).collect()
}

fn base(repo: &str, digests: &[&str]) -> BaseImage {
    BaseImage {
        repository: Pattern::new(repo).unwrap(),
        digests: digests.iter().map(|d| d.parse().unwrap()).collect(),
    }
}

fn only(checks: &[Check], code: &str) -> Check {
    let v: Vec<&Check> = checks.iter().filter(|c| c.code == code).collect();
    assert_eq!(v.len(), 1, "{code} in {checks:#?}");
    v[0].clone()
}

#[test]
fn builder_id_of_the_real_container_generator() {
    let att = layout_provenance();
    let rule = ProvenanceRule {
        builder_ids: pats(&[V110_BUILDER]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    assert_eq!(c[0].code, codes::PROVENANCE_BUILDER);
    assert_eq!(c[0].path, "predicate.builder.id");
    assert_eq!(c[0].found, V110_BUILDER);
    assert!(c[0].rule.is_empty());
    // A glob over generator versions passes too.
    let rule = ProvenanceRule {
        builder_ids: pats(&[
            "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v*",
        ]),
        ..Default::default()
    };
    assert_eq!(evaluate(&att, &rule)[0].status, Status::Pass);
    // The v2.1.0 builder is not this one.
    let rule = ProvenanceRule {
        builder_ids: pats(&[
            "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0",
        ]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert_eq!(c[0].status, Status::Fail);
    assert_eq!(c[0].code, codes::PROVENANCE_BUILDER);
    assert!(c[0].expected.contains("v2.1.0"));
    assert_eq!(c[0].found, V110_BUILDER);
    // BuildKit's provenance has an empty builder id: never allowed.
    let c = evaluate(&attest(SLSA_V02, &buildkit_predicate()), &rule);
    assert_eq!(c[0].status, Status::Fail);
    assert!(c[0].found.contains("no builder id"), "{}", c[0].found);
}

#[test]
fn v1_builder_source_and_ref_from_each_external_parameters_form() {
    // Container-based builder: externalParameters.source.uri with an @ref suffix.
    let att = from_vector(
        "more/06-slsa-provenance/slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-push-v14.intoto.build.slsa",
    );
    let rule = ProvenanceRule {
        builder_ids: pats(&[
            "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@refs/tags/v2.1.0",
        ]),
        source_repositories: pats(&["git+https://github.com/slsa-framework/example-package"]),
        source_refs: pats(&["refs/tags/v14*"]),
        base_images: None,
    };
    let c = evaluate(&att, &rule);
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    let b = only(&c, codes::PROVENANCE_BUILDER);
    assert_eq!(b.path, "predicate.runDetails.builder.id");
    let s = only(&c, codes::PROVENANCE_SOURCE);
    assert_eq!(
        s.path,
        "predicate.buildDefinition.externalParameters.source.uri"
    );
    assert!(
        s.found
            .starts_with("https://github.com/slsa-framework/example-package "),
        "{}",
        s.found
    );
    let r = only(&c, codes::PROVENANCE_REF);
    assert_eq!(r.found, "refs/tags/v14");
    // Another repository, another ref: fail, saying what was found.
    let rule = ProvenanceRule {
        source_repositories: pats(&["https://github.com/acme/app.git"]),
        source_refs: pats(&["refs/heads/main"]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    let s = only(&c, codes::PROVENANCE_SOURCE);
    assert_eq!(s.status, Status::Fail);
    assert!(s.expected.contains("https://github.com/acme/app.git"));
    let r = only(&c, codes::PROVENANCE_REF);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.found, "refs/tags/v14");

    // GitHub Actions buildType (npm): externalParameters.workflow {repository, ref}.
    let att = from_vector(
        "more/06-slsa-provenance/slsa-verifier/npm/gha/gundam-visor-cli-v1-tag.tgz.json",
    );
    let rule = ProvenanceRule {
        builder_ids: pats(&["https://github.com/actions/runner/github-hosted"]),
        source_repositories: pats(&["git+https://github.com/ramonpetgrave64/*"]),
        source_refs: pats(&["refs/tags/v1.*"]),
        base_images: Some(vec![]),
    };
    let c = evaluate(&att, &rule);
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    let s = only(&c, codes::PROVENANCE_SOURCE);
    assert_eq!(
        s.path,
        "predicate.buildDefinition.externalParameters.workflow.repository"
    );
    assert_eq!(s.found, "https://github.com/ramonpetgrave64/gundam-visor");
    let r = only(&c, codes::PROVENANCE_REF);
    assert_eq!(
        r.path,
        "predicate.buildDefinition.externalParameters.workflow.ref"
    );
    assert_eq!(r.found, "refs/tags/v1.0.1");
    // The git resolved dependency is not a base image: an empty allow-list passes.
    let bi = only(&c, codes::PROVENANCE_BASE_NOT_ALLOWED);
    assert!(
        bi.found.contains("no image among 1 entries"),
        "{}",
        bi.found
    );
    let rule = ProvenanceRule {
        source_refs: pats(&["refs/heads/main"]),
        ..Default::default()
    };
    assert_eq!(evaluate(&att, &rule)[0].status, Status::Fail);

    // Maven builder: externalParameters has only inputs: the source is the git
    // resolved dependency.
    let att = from_vector(
        "more/06-slsa-provenance/slsa-verifier/gha_maven/v2.1.0/binary-linux-amd64-workflow_dispatch.build.slsa",
    );
    let rule = ProvenanceRule {
        source_repositories: pats(&["https://github.com/slsa-framework/example-package"]),
        source_refs: pats(&["refs/heads/main"]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    assert_eq!(
        only(&c, codes::PROVENANCE_SOURCE).path,
        "predicate.buildDefinition.resolvedDependencies[0].uri"
    );
}

#[test]
fn v02_source_and_ref_from_config_source() {
    let att = layout_provenance();
    let rule = ProvenanceRule {
        source_repositories: pats(&["git+https://github.com/slsa-framework/example-package.git"]),
        source_refs: pats(&["refs/tags/v13.0.30"]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    assert_eq!(
        only(&c, codes::PROVENANCE_SOURCE).path,
        "predicate.invocation.configSource.uri"
    );
    // A fork is another repository.
    let rule = ProvenanceRule {
        source_repositories: pats(&["git+https://github.com/asraa/*"]),
        ..Default::default()
    };
    assert_eq!(evaluate(&att, &rule)[0].status, Status::Fail);
    // BuildKit's configSource: `https://…/example-package.git#<commit>`: no ref.
    let att = attest(SLSA_V02, &buildkit_predicate());
    let rule = ProvenanceRule {
        source_repositories: pats(&["https://github.com/slsa-framework/example-package"]),
        source_refs: pats(&["refs/heads/main"]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert_eq!(
        only(&c, codes::PROVENANCE_SOURCE).status,
        Status::Pass,
        "{c:#?}"
    );
    let r = only(&c, codes::PROVENANCE_REF);
    assert_eq!(r.status, Status::Fail);
    assert!(r.found.contains("no source ref"));
}

#[test]
fn buildkit_purl_base_images_pinned_and_approved() {
    // Real BuildKit materials: `pkg:docker/golang@1.21?digest=…` and
    // `pkg:docker/gcr.io/distroless/static?digest=…`, plus the git context.
    let att = attest(SLSA_V02, &buildkit_predicate());
    let golang = "sha256:c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e";
    let rule = ProvenanceRule {
        base_images: Some(vec![
            base("docker.io/library/golang", &[golang]),
            base("gcr.io/distroless/*", &[]),
        ]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert_eq!(c.len(), 2, "the git material is not an image: {c:#?}");
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    assert_eq!(c[0].path, "predicate.materials[0]");
    assert!(
        c[0].found.starts_with("docker.io/library/golang:1.21"),
        "{}",
        c[0].found
    );
    assert!(
        c[1].found.starts_with("gcr.io/distroless/static"),
        "{}",
        c[1].found
    );
    // Only alpine approved: both fail, naming the repository.
    let rule = ProvenanceRule {
        base_images: Some(vec![base("docker.io/library/alpine", &[])]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert!(
        c.iter()
            .all(|c| c.status == Status::Fail && c.code == codes::PROVENANCE_BASE_NOT_ALLOWED),
        "{c:#?}"
    );
    assert!(
        c[0].found
            .contains("repository docker.io/library/golang is not approved")
    );
    // The right repository at another digest.
    let rule = ProvenanceRule {
        base_images: Some(vec![
            base(
                "docker.io/library/golang",
                &["sha256:0000000000000000000000000000000000000000000000000000000000000000"],
            ),
            base("gcr.io/distroless/static", &[]),
        ]),
        ..Default::default()
    };
    let c = evaluate(&att, &rule);
    assert_eq!(c[0].status, Status::Fail);
    assert!(
        c[0].found.contains("not an approved digest"),
        "{}",
        c[0].found
    );
    assert_eq!(c[1].status, Status::Pass);
}

#[test]
fn unpinned_and_other_spellings_of_base_images() {
    // Derived from the real BuildKit provenance: its materials replaced by other
    // spellings of images (tag only, docker.io/library, oci://, docker://, index.docker.io,
    // a plain pkg:docker purl without digest) and non-image dependencies.
    let mut p = buildkit_predicate();
    let d = "c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e";
    p["materials"] = json!([
        {"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64", "digest": {"sha256": d}},
        {"uri": format!("docker.io/library/alpine@sha256:{d}")},
        {"uri": format!("oci://index.docker.io/alpine:3.19@sha256:{d}")},
        {"uri": format!("docker://alpine@sha256:{d}")},
        {"uri": format!("pkg:docker/docker.io/library/alpine@sha256:{d}")},
        {"uri": format!("pkg:oci/alpine@sha256%3A{d}?repository_url=docker.io/library/alpine")},
        {"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"sha1": "d37a7f740ee7404914456f24dcd90e865a0509e8"}},
        {"uri": "pkg:github/actions/checkout@v4"},
        {"uri": "pkg:golang/golang.org/x/net@v0.1.0"},
        {"uri": "https://github.com/actions/virtual-environments/releases/tag/ubuntu22/20230122.1"},
    ]);
    let rule = ProvenanceRule {
        base_images: Some(vec![base(
            "docker.io/library/alpine",
            &[&format!("sha256:{d}")],
        )]),
        ..Default::default()
    };
    let c = evaluate(&attest(SLSA_V02, &p), &rule);
    assert_eq!(c.len(), 6, "{c:#?}");
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    // Unpinned: a tag, and a purl whose digest is missing.
    p["materials"] = json!([
        {"uri": "alpine:3.19"},
        {"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64"},
        {"uri": format!("docker.io/library/alpine@sha256:{d}"), "digest": {"sha256": "1111111111111111111111111111111111111111111111111111111111111111"}},
    ]);
    let rule = ProvenanceRule {
        base_images: Some(vec![base("docker.io/library/*", &[])]),
        ..Default::default()
    };
    let c = evaluate(&attest(SLSA_V02, &p), &rule);
    assert_eq!(c.len(), 3);
    for c in &c {
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.code, codes::PROVENANCE_BASE_UNPINNED, "{c:#?}");
    }
    assert!(
        c[0].found.contains("docker.io/library/alpine:3.19"),
        "{}",
        c[0].found
    );
    assert!(c[2].found.contains("digest.sha256 says"), "{}", c[2].found);
    // An empty allow-list allows no image at all.
    p["materials"] = json!([{"uri": format!("alpine@sha256:{d}")}]);
    let c = evaluate(
        &attest(SLSA_V02, &p),
        &ProvenanceRule {
            base_images: Some(vec![]),
            ..Default::default()
        },
    );
    assert_eq!(c[0].status, Status::Fail);
    assert!(c[0].expected.contains("allow-list is empty"));
}

#[test]
fn typed_but_unparseable_images_fail_closed() {
    // Derived from the real BuildKit provenance: its golang material (a pkg:docker purl
    // with a digest) re-written in forms that say "image" by their scheme or purl type but
    // do not parse — an upper-case path, an empty qualifier key, an empty subpath, a bad
    // media-type name, a scheme-less reference with a digest — and the git context kept.
    let p = buildkit_predicate();
    let d = "c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e";
    let git = p["materials"][2].clone();
    assert!(git["uri"].as_str().unwrap().contains("github.com"), "{git}");
    let rule = ProvenanceRule {
        base_images: Some(vec![base("**", &[])]),
        ..Default::default()
    };
    for bad in [
        json!({"uri": format!("docker://evil.io/Evil/app@sha256:{d}")}),
        json!({"uri": format!("oci://evil.io/Evil/app@sha256:{d}")}),
        json!({"uri": format!("docker-image://evil.io/app@@sha256:{d}")}),
        json!({"uri": format!("pkg:docker/evil.io/app@sha256:{d}?=x")}),
        json!({"uri": format!("pkg:docker/evil.io/app@sha256:{d}#/")}),
        json!({"uri": format!("pkg:OCI/app@sha256:{d}?=x")}),
        json!({"uri": format!("evil.io/Evil/app@sha256:{d}")}),
        json!({"uri": "https://evil.io/x", "name": format!("pkg:docker/evil.io/app@sha256:{d}#/")}),
        json!({"name": "Evil Image", "mediaType": "application/vnd.oci.image.index.v1+json", "digest": {"sha256": d}}),
    ] {
        let mut p = p.clone();
        p["materials"] = json!([bad, git]);
        let c = evaluate(&attest(SLSA_V02, &p), &rule);
        assert_eq!(c.len(), 1, "{bad}: {c:#?}");
        assert_eq!(c[0].status, Status::Fail, "{bad}: {c:#?}");
        assert_eq!(c[0].code, codes::PROVENANCE_BASE_UNREADABLE, "{bad}");
        assert_eq!(c[0].path, "predicate.materials[0]");
        // The skipped git entry is listed.
        assert!(
            c[0].details
                .iter()
                .any(|l| l.starts_with("predicate.materials[1]: skipped, not an image: ")),
            "{c:#?}"
        );
    }
    // The same materials as written by BuildKit still pass, and the git context is listed.
    let c = evaluate(&attest(SLSA_V02, &p), &rule);
    assert_eq!(c.len(), 2, "{c:#?}");
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    assert_eq!(
        c[0].details,
        vec![format!(
            "predicate.materials[2]: skipped, not an image: {}",
            git["uri"].as_str().unwrap()
        )]
    );
    assert!(c[1].details.is_empty());
    // Non-image package URLs and schemes are still skipped, not failed.
    let mut q = p.clone();
    q["materials"] = json!([
        {"uri": "pkg:github/actions/checkout@v4"},
        {"uri": "pkg:golang/golang.org/x/net@v0.1.0?=x"},
        {"uri": "https://example.com/x@sha256:00"},
        git,
    ]);
    let c = evaluate(&attest(SLSA_V02, &q), &rule);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    assert_eq!(c[0].details.len(), 4);
}

#[test]
fn v1_resolved_dependency_images() {
    // Derived from the real container-based v1 provenance: its builder image
    // (externalParameters.builderImage, `bash@sha256:…`) added as a resolved dependency.
    let st = slsa_statement(
        "more/06-slsa-provenance/slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-push-v14.intoto.build.slsa",
    );
    let mut p = st["predicate"].clone();
    let image = p["buildDefinition"]["externalParameters"]["builderImage"].clone();
    p["buildDefinition"]["resolvedDependencies"]
        .as_array_mut()
        .unwrap()
        .push(image);
    let att = attest(SLSA_V1, &p);
    let ok = ProvenanceRule {
        base_images: Some(vec![base("docker.io/library/bash", &[])]),
        ..Default::default()
    };
    let c = evaluate(&att, &ok);
    assert_eq!(
        c.len(),
        1,
        "the two git dependencies are not images: {c:#?}"
    );
    assert_eq!(c[0].status, Status::Pass);
    assert_eq!(
        c[0].path,
        "predicate.buildDefinition.resolvedDependencies[2]"
    );
    let no = ProvenanceRule {
        base_images: Some(vec![base("cgr.dev/chainguard/*", &[])]),
        ..Default::default()
    };
    assert_eq!(evaluate(&att, &no)[0].status, Status::Fail);
    // The untouched provenance has no image at all.
    let c = evaluate(&attest(SLSA_V1, &st["predicate"]), &no);
    assert_eq!(c[0].status, Status::Pass);
}

#[test]
fn malformed_and_unknown_predicates() {
    let dir = "more/06-slsa-provenance/in-toto-attestation/provenance-v1-predicate-validation";
    let rule = ProvenanceRule {
        builder_ids: pats(&["theId"]),
        ..Default::default()
    };
    let valid: Value = serde_json::from_slice(&read_vector(&format!(
        "{dir}/valid-provenance-v1-predicate.json"
    )))
    .unwrap();
    let c = evaluate(&attest(SLSA_V1, &valid), &rule);
    assert_eq!(c[0].status, Status::Pass, "{c:#?}");
    for bad in [
        "no-buildDefinition.json",
        "buildDefinition-missing-buildType-required-field.json",
        "buildDefinition-missing-externalParameters-required-field.json",
        "no-runDetails.json",
        "runDetails-missing-builder-required-field.json",
        "runDetails.builder-missing-id-required-field.json",
    ] {
        let p: Value = serde_json::from_slice(&read_vector(&format!("{dir}/{bad}"))).unwrap();
        let c = evaluate(&attest(SLSA_V1, &p), &rule);
        assert_eq!(c.len(), 1, "{bad}");
        assert_eq!(c[0].status, Status::Fail, "{bad}");
        assert_eq!(c[0].code, codes::PROVENANCE_MALFORMED, "{bad}");
    }
    // Not provenance; odd shapes never panic (a statement's predicate is always an object).
    let c = evaluate(&attest("https://example.com/other", &valid), &rule);
    assert_eq!(c[0].code, codes::PROVENANCE_MALFORMED);
    for odd in [
        json!({}),
        json!({"builder": 3}),
        json!({"builder": {}, "materials": {"a": 1}}),
    ] {
        let c = evaluate(&attest(SLSA_V02, &odd), &rule);
        assert_eq!(c[0].status, Status::Fail, "{odd}");
    }
    // v0.2 with a builder and odd materials entries: judged, not a crash.
    let p = json!({"builder": {"id": "theId"}, "materials": [1, {"uri": 2}, {"uri": "UPPER/Case:tag"}]});
    let c = evaluate(
        &attest(SLSA_V02, &p),
        &ProvenanceRule {
            base_images: Some(vec![]),
            ..rule.clone()
        },
    );
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
}

#[test]
fn image_names_normalise_to_docker_defaults() {
    for (s, name) in [
        ("alpine", "docker.io/library/alpine"),
        ("alpine:3.19", "docker.io/library/alpine"),
        ("library/alpine", "docker.io/library/alpine"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine"),
        ("docker.io/alpine", "docker.io/library/alpine"),
        ("localhost:5000/app:v1", "localhost:5000/app"),
        ("ghcr.io/acme/app@sha256:abc", "ghcr.io/acme/app"),
    ] {
        assert_eq!(parse_image_ref(s).unwrap().name, name, "{s}");
    }
    assert!(parse_image_ref("Not An Image").is_none());
    assert!(parse_image_ref("a@b").is_none());
    let i = image_from_purl(
        "pkg:docker/gcr.io/distroless/static?digest=sha256:072d&platform=linux%2Famd64",
    )
    .unwrap();
    assert_eq!(i.name, "gcr.io/distroless/static");
    assert_eq!(i.digest.as_deref(), Some("sha256:072d"));
    let i = image_from_purl("pkg:docker/customer/dockerimage@sha256%3A244f?repository_url=gcr.io")
        .unwrap();
    assert_eq!(i.name, "gcr.io/customer/dockerimage");
    assert!(image_from_purl("pkg:npm/left-pad@1").is_none());
    assert_eq!(
        normalize_repository("git+https://github.com/acme/app.git@refs/heads/main"),
        "https://github.com/acme/app"
    );
    assert_eq!(
        git_ref("git+https://github.com/acme/app@refs/heads/main").as_deref(),
        Some("refs/heads/main")
    );
    assert_eq!(git_ref("https://github.com/acme/app.git#d37a7f7"), None);
}
