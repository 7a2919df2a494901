//! cosign's "simple signing" payload for container image signatures
//! (github.com/sigstore/sigstore `pkg/signature/payload`):
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"HOST/REPO"},"image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},"optional":null}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PayloadError, json_err};
use crate::digest::Sha256Digest;
use crate::gojson;
use crate::limits::{Limits, check_size};

/// The only `critical.type` cosign writes and accepts.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// The OCI layer media type of a simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

const WHAT: &str = "simple-signing payload";

/// A simple-signing payload: which image (by digest) under which name, plus annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleSigning {
    /// `critical.identity.docker-reference`: `HOST/REPO`, no tag or digest.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`.
    pub manifest_digest: Sha256Digest,
    /// `optional`: annotations (`-a KEY=VALUE`), or `None` for JSON `null`.
    pub optional: Option<BTreeMap<String, Value>>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    critical: Critical,
    #[serde(serialize_with = "gojson::sorted_opt_map")]
    optional: Option<BTreeMap<String, Value>>,
}

#[derive(Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Serialize, Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

impl SimpleSigning {
    /// The bytes cosign would sign for this payload (Go `json.Marshal`: sorted map keys,
    /// HTML-safe escapes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = Wire {
            critical: Critical {
                identity: Identity {
                    docker_reference: self.docker_reference.clone(),
                },
                image: Image {
                    docker_manifest_digest: self.manifest_digest.to_string(),
                },
                kind: SIMPLE_SIGNING_TYPE.into(),
            },
            optional: self.optional.clone(),
        };
        match gojson::to_vec(&wire) {
            Ok(v) => v,
            Err(_) => unreachable!("serializing strings and JSON values cannot fail"),
        }
    }

    /// Parses untrusted payload bytes. Unknown fields are ignored, as cosign ignores them.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, PayloadError> {
        check_size(WHAT, bytes.len(), limits.simple_signing_payload)?;
        super::check_strict(WHAT, bytes)?;
        let wire: Wire = serde_json::from_slice(bytes).map_err(json_err(WHAT))?;
        if wire.critical.kind != SIMPLE_SIGNING_TYPE {
            return Err(PayloadError::Field {
                what: WHAT,
                field: "critical.type",
                reason: format!(
                    "expected `{SIMPLE_SIGNING_TYPE}`, found `{}`",
                    wire.critical.kind
                ),
            });
        }
        let manifest_digest = wire
            .critical
            .image
            .docker_manifest_digest
            .parse()
            .map_err(|e| PayloadError::Field {
                what: WHAT,
                field: "critical.image.docker-manifest-digest",
                reason: format!("{e}"),
            })?;
        Ok(Self {
            docker_reference: wire.critical.identity.docker_reference,
            manifest_digest,
            optional: wire.optional,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";

    #[test]
    fn writes_cosign_bytes() {
        let p = SimpleSigning {
            docker_reference: "registry-testing.svc.lan/busybox".into(),
            manifest_digest: DIGEST.parse().unwrap(),
            optional: None,
        };
        // The payload cosign signed in sigstore-rs's busybox test (tests/data/vectors, 03-…/extracted).
        let expected = concat!(
            r#"{"critical":{"identity":{"docker-reference":"registry-testing.svc.lan/busybox"},"#,
            r#""image":{"docker-manifest-digest":"sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"},"#,
            r#""type":"cosign container image signature"},"optional":null}"#
        );
        assert_eq!(String::from_utf8(p.to_bytes()).unwrap(), expected);
        assert_eq!(
            SimpleSigning::parse(expected.as_bytes(), &Limits::DEFAULT).unwrap(),
            p
        );
    }

    #[test]
    fn annotations_sorted_and_escaped_like_go() {
        let mut optional = BTreeMap::new();
        optional.insert("z".to_owned(), Value::String("a<b".into()));
        optional.insert("a".to_owned(), Value::String("1".into()));
        let p = SimpleSigning {
            docker_reference: "r.example/x".into(),
            manifest_digest: DIGEST.parse().unwrap(),
            optional: Some(optional),
        };
        let s = String::from_utf8(p.to_bytes()).unwrap();
        assert!(
            s.ends_with(r#""optional":{"a":"1","z":"a\u003cb"}}"#),
            "{s}"
        );
    }

    #[test]
    fn rejects_wrong_type_and_digest() {
        let wrong_type = br#"{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"},"type":"other"},"optional":null}"#;
        let err = SimpleSigning::parse(wrong_type, &Limits::DEFAULT).unwrap_err();
        assert!(matches!(
            err,
            PayloadError::Field {
                field: "critical.type",
                ..
            }
        ));
        let bad_digest = br#"{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:zz"},"type":"cosign container image signature"},"optional":null}"#;
        let err = SimpleSigning::parse(bad_digest, &Limits::DEFAULT).unwrap_err();
        assert!(matches!(
            err,
            PayloadError::Field {
                field: "critical.image.docker-manifest-digest",
                ..
            }
        ));
        let limits = Limits {
            simple_signing_payload: 10,
            ..Limits::DEFAULT
        };
        assert!(matches!(
            SimpleSigning::parse(wrong_type, &limits),
            Err(PayloadError::TooLarge(_))
        ));
        assert!(matches!(
            SimpleSigning::parse(b"[1,", &Limits::DEFAULT),
            Err(PayloadError::Json { .. })
        ));
    }
}
