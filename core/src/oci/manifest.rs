//! OCI image manifests, image indexes and descriptors (opencontainers/image-spec), and Docker's
//! v2 equivalents, read from untrusted bytes and written in go-containerregistry's field order
//! (what cosign writes). Unknown fields are kept when a manifest is read and written back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Sha256Digest;
use crate::payload::PayloadError;

/// `application/vnd.oci.image.manifest.v1+json`.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json`.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.config.v1+json`.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.docker.distribution.manifest.v2+json`.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `application/vnd.docker.distribution.manifest.list.v2+json`.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Every manifest media type vouch reads, for `Accept` headers.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced content.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its digest.
    #[serde(with = "digest_string")]
    pub digest: Sha256Digest,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Value>,
    /// The artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor of `bytes`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.into(),
            size: bytes.len() as u64,
            digest: Sha256Digest::of(bytes),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }
}

mod digest_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::digest::Sha256Digest;

    pub(super) fn serialize<S: Serializer>(d: &Sha256Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sha256Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type, when it declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// OCI 1.1 subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields vouch does not know, kept as they were.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's media type, when it declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// OCI 1.1 subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields vouch does not know, kept as they were.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ImageIndex {
    /// An empty OCI index.
    pub fn new() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
            other: Map::new(),
        }
    }
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// A parsed manifest of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    /// An image manifest.
    Image(ImageManifest),
    /// An index.
    Index(ImageIndex),
}

const WHAT: &str = "manifest";

impl Manifest {
    /// Parses manifest bytes; `media_type` is the `Content-Type` the registry sent (or the
    /// descriptor's), used when the document does not say.
    pub fn parse(bytes: &[u8], media_type: Option<&str>) -> Result<Self, PayloadError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json {
            what: WHAT,
            reason: e.to_string(),
        })?;
        let declared = v
            .get("mediaType")
            .and_then(Value::as_str)
            .or(media_type)
            .unwrap_or_default();
        let is_index = match declared {
            OCI_INDEX | DOCKER_MANIFEST_LIST => true,
            OCI_MANIFEST | DOCKER_MANIFEST => false,
            _ => v.get("manifests").is_some() && v.get("config").is_none(),
        };
        let field = |reason: String| PayloadError::Json { what: WHAT, reason };
        if is_index {
            let idx: ImageIndex =
                serde_json::from_value(v).map_err(|e| field(format!("image index: {e}")))?;
            Ok(Self::Index(idx))
        } else {
            let m: ImageManifest =
                serde_json::from_value(v).map_err(|e| field(format!("image manifest: {e}")))?;
            Ok(Self::Image(m))
        }
    }
}

/// Serializes a manifest or index compactly (go-containerregistry writes compact JSON).
pub fn to_bytes<T: Serialize>(doc: &T) -> Vec<u8> {
    match serde_json::to_vec(doc) {
        Ok(v) => v,
        Err(_) => unreachable!("serializing manifests cannot fail"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cosign_layout_vector_manifests() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
            "../tests/data/vectors/cosign-layouts/slsa-generator-v1.10.0/container_workflow_dispatch/blobs/sha256",
        );
        let index = std::fs::read(
            dir.join("e0a0a765d690a5104331cfbac88ebbbf01736c1f87aaa3cd455c516a5ea586a5"),
        )
        .unwrap();
        let Manifest::Index(idx) = Manifest::parse(&index, None).unwrap() else {
            panic!("index expected")
        };
        assert!(!idx.manifests.is_empty());
        let atts = std::fs::read(
            dir.join("31cc4fb663c8d34e2e6a0bd5f183d576c2811ee286e0998b4c2965e3b35a0d86"),
        )
        .unwrap();
        let Manifest::Image(m) = Manifest::parse(&atts, None).unwrap() else {
            panic!("manifest expected")
        };
        assert_eq!(
            m.layers[0].media_type,
            "application/vnd.dsse.envelope.v1+json"
        );
        assert_eq!(
            m.layers[0].annotations["predicateType"],
            "https://slsa.dev/provenance/v0.2"
        );
        // Written back, the cosign manifest is byte-for-byte what cosign wrote.
        assert_eq!(to_bytes(&m), atts);
    }
}
