//! The one serde view of an SBOM (CycloneDX JSON or SPDX 2.x JSON), read by the license check
//! ([`super`]) and the dependency graph ([`crate::policy::depgraph`]); narrow structures, never
//! a whole JSON tree (only the lists of links are kept as JSON values, to be read leniently).
//!
//! Lenient where either reader was: the fields that only name or link things (`specVersion`,
//! `bom-ref`, `dependencies[].ref` / `dependsOn`, `SPDXID`, `documentDescribes`, the
//! relationships' ids and type) are read as strings when they are strings and as absent
//! otherwise, so a malformed link is no link (the graph reads fail-closed) and never fails the
//! license check. What the license check judges (names, versions, purls, licenses) is read
//! strictly: a document whose packages cannot be read is malformed, for the check (a failure)
//! and for the graph (no graph: no VEX statement is tied to the image through it).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Deserialize)]
pub(crate) struct SbomDoc {
    #[serde(default, rename = "bomFormat")]
    pub(crate) bom_format: Option<String>,
    #[serde(default, rename = "specVersion", deserialize_with = "lenient")]
    pub(crate) spec_version: Option<String>,
    #[serde(default)]
    pub(crate) metadata: Option<CdxMetadata>,
    #[serde(default)]
    pub(crate) components: Option<Vec<CdxComponent>>,
    /// `[{ref, dependsOn: [..]}]`, read leniently by [`Self::dependencies`].
    #[serde(default)]
    dependencies: Option<Value>,
    #[serde(default, rename = "spdxVersion")]
    pub(crate) spdx_version: Option<String>,
    #[serde(default, rename = "SPDXID", deserialize_with = "lenient")]
    pub(crate) spdxid: Option<String>,
    /// `[id, ..]`, read leniently by [`Self::document_describes`].
    #[serde(default, rename = "documentDescribes")]
    document_describes: Option<Value>,
    #[serde(default)]
    pub(crate) packages: Option<Vec<SpdxPackage>>,
    /// `[{spdxElementId, relationshipType, relatedSpdxElement}]`, read leniently by
    /// [`Self::relationships`].
    #[serde(default)]
    relationships: Option<Value>,
}

#[derive(Deserialize)]
pub(crate) struct CdxMetadata {
    #[serde(default)]
    pub(crate) component: Option<CdxComponent>,
}

#[derive(Deserialize)]
pub(crate) struct CdxComponent {
    #[serde(default, rename = "bom-ref", deserialize_with = "lenient")]
    pub(crate) bom_ref: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) purl: Option<String>,
    #[serde(default)]
    pub(crate) licenses: Option<Vec<CdxLicenseChoice>>,
    #[serde(default)]
    pub(crate) components: Option<Vec<CdxComponent>>,
}

#[derive(Deserialize)]
pub(crate) struct CdxLicenseChoice {
    #[serde(default)]
    pub(crate) license: Option<CdxLicense>,
    #[serde(default)]
    pub(crate) expression: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CdxLicense {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct SpdxPackage {
    #[serde(default, rename = "SPDXID", deserialize_with = "lenient")]
    pub(crate) spdxid: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, rename = "versionInfo")]
    pub(crate) version_info: Option<String>,
    #[serde(default, rename = "licenseConcluded")]
    pub(crate) license_concluded: Option<String>,
    #[serde(default, rename = "licenseDeclared")]
    pub(crate) license_declared: Option<String>,
    #[serde(default, rename = "externalRefs")]
    pub(crate) external_refs: Option<Vec<SpdxRef>>,
}

#[derive(Deserialize)]
pub(crate) struct SpdxRef {
    #[serde(default, rename = "referenceType")]
    pub(crate) reference_type: Option<String>,
    #[serde(default, rename = "referenceLocator")]
    pub(crate) reference_locator: Option<String>,
}

/// A string, or `None` for any other JSON value.
fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

fn objects(v: Option<&Value>) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

impl SbomDoc {
    /// CycloneDX `dependencies[]`: each `ref` with its `dependsOn` refs (entries and ids that
    /// are not strings are skipped).
    pub(crate) fn dependencies(&self) -> impl Iterator<Item = (Option<&str>, Vec<&str>)> {
        objects(self.dependencies.as_ref()).map(|d| {
            (
                d.get("ref").and_then(Value::as_str),
                strings(d.get("dependsOn")).collect(),
            )
        })
    }

    /// SPDX `documentDescribes[]`: the ids that are strings.
    pub(crate) fn document_describes(&self) -> impl Iterator<Item = &str> {
        strings(self.document_describes.as_ref())
    }

    /// SPDX `relationships[]`: (`spdxElementId`, `relationshipType`, `relatedSpdxElement`),
    /// each `None` when absent or not a string.
    pub(crate) fn relationships(
        &self,
    ) -> impl Iterator<Item = (Option<&str>, Option<&str>, Option<&str>)> {
        objects(self.relationships.as_ref()).map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str);
            (
                s("spdxElementId"),
                s("relationshipType"),
                s("relatedSpdxElement"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_lenient_and_what_is_judged_is_strict() {
        // Malformed links (a number for specVersion and bom-ref, dependencies not a list, a
        // relationship not an object) read as absent.
        let doc: SbomDoc = serde_json::from_str(
            r#"{"bomFormat": "CycloneDX", "specVersion": 1.5, "dependencies": "junk",
                "relationships": [7, {"spdxElementId": "a", "relationshipType": 3}],
                "documentDescribes": ["x", 1],
                "components": [{"bom-ref": 7, "name": "a", "purl": "pkg:npm/a@1"}]}"#,
        )
        .unwrap();
        assert_eq!(doc.spec_version, None);
        assert_eq!(doc.dependencies().count(), 0);
        let rels: Vec<_> = doc.relationships().collect();
        assert_eq!(rels, [(Some("a"), None, None)]);
        assert_eq!(doc.document_describes().collect::<Vec<_>>(), ["x"]);
        let c = &doc.components.as_ref().unwrap()[0];
        assert_eq!((c.bom_ref.as_deref(), c.name.as_deref()), (None, Some("a")));
        // A purl or a license of the wrong type makes the document unreadable.
        for bad in [
            r#"{"components": [{"purl": 7}]}"#,
            r#"{"components": [{"licenses": [{"license": {"id": 7}}]}]}"#,
        ] {
            assert!(serde_json::from_str::<SbomDoc>(bad).is_err(), "{bad}");
        }
    }
}
