//! in-toto Statements (github.com/in-toto/attestation, `spec/v1/statement.md`): v1 written,
//! v1 and v0.1 read, validated as the reference Go implementation validates them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PayloadError, json_err};
use crate::digest::Sha256Digest;
use crate::gojson;
use crate::limits::{Limits, TooLarge, check_size};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of an in-toto Statement v0.1 (cosign before 2.x, many attestations in registries).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The DSSE `payloadType` of in-toto Statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

const WHAT: &str = "in-toto statement";

/// Which Statement version a document declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementVersion {
    /// `https://in-toto.io/Statement/v0.1`.
    V01,
    /// `https://in-toto.io/Statement/v1`.
    V1,
}

/// One subject: what the statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Optional in v1 (cosign 3's image signatures have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Algorithm → lower-case hex digest.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject naming `name` with a SHA-256 digest.
    pub fn sha256(name: Option<String>, digest: &Sha256Digest) -> Self {
        Self {
            name,
            digest: BTreeMap::from([("sha256".to_owned(), digest.hex())]),
        }
    }

    /// The SHA-256 digest, if the subject has a well-formed one.
    pub fn sha256_digest(&self) -> Option<Sha256Digest> {
        let hex = self.digest.get("sha256")?;
        format!("sha256:{hex}").parse().ok()
    }
}

/// An in-toto Statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The declared version.
    pub version: StatementVersion,
    /// At least one subject, each with at least one digest.
    pub subjects: Vec<Subject>,
    /// A URI naming the predicate's schema.
    pub predicate_type: String,
    /// The predicate (an object).
    pub predicate: Value,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<WireSubject>,
    #[serde(rename = "predicateType", default)]
    predicate_type: String,
    #[serde(default, skip_serializing)]
    predicate: Option<Value>,
}

#[derive(Serialize)]
struct WireOut<'a> {
    #[serde(flatten)]
    wire: Wire,
    #[serde(serialize_with = "gojson::sorted")]
    predicate: &'a Value,
}

/// A resource descriptor as it may appear in a subject: we keep only what Statements use, but
/// must see whether any identifying field is present.
#[derive(Serialize, Deserialize)]
struct WireSubject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing)]
    uri: Option<String>,
    #[serde(default)]
    digest: BTreeMap<String, String>,
}

impl Statement {
    /// A v1 Statement.
    pub fn new_v1(subjects: Vec<Subject>, predicate_type: String, predicate: Value) -> Self {
        Self {
            version: StatementVersion::V1,
            subjects,
            predicate_type,
            predicate,
        }
    }

    /// The bytes of this Statement as it is signed: v1 `_type` unless read as v0.1, compact JSON,
    /// sorted keys in the predicate, as Go writes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = Wire {
            kind: match self.version {
                StatementVersion::V1 => STATEMENT_V1,
                StatementVersion::V01 => STATEMENT_V01,
            }
            .into(),
            subject: self
                .subjects
                .iter()
                .map(|s| WireSubject {
                    name: s.name.clone(),
                    uri: None,
                    digest: s.digest.clone(),
                })
                .collect(),
            predicate_type: self.predicate_type.clone(),
            predicate: None,
        };
        let wire = WireOut {
            wire,
            predicate: &self.predicate,
        };
        match gojson::to_vec(&wire) {
            Ok(v) => v,
            Err(_) => unreachable!("serializing strings and JSON values cannot fail"),
        }
    }

    /// Parses and validates untrusted Statement bytes (in-toto's `Statement.Validate`: known
    /// `_type`, at least one subject, each with a digest, a predicate type and a predicate).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, PayloadError> {
        check_size(WHAT, bytes.len(), limits.envelope)?;
        let wire: Wire = serde_json::from_slice(bytes).map_err(json_err(WHAT))?;
        let field = |field, reason: &str| PayloadError::Field {
            what: WHAT,
            field,
            reason: reason.into(),
        };
        let version = match wire.kind.as_str() {
            STATEMENT_V1 => StatementVersion::V1,
            STATEMENT_V01 => StatementVersion::V01,
            other => {
                return Err(field(
                    "_type",
                    &format!("expected `{STATEMENT_V1}` or `{STATEMENT_V01}`, found `{other}`"),
                ));
            }
        };
        if wire.subject.is_empty() {
            return Err(field("subject", "at least one subject is required"));
        }
        if wire.subject.len() > limits.statement_subjects {
            return Err(TooLarge {
                what: "the statement's subject list (count)",
                found: wire.subject.len(),
                limit: limits.statement_subjects,
            }
            .into());
        }
        let mut subjects = Vec::with_capacity(wire.subject.len());
        for s in wire.subject {
            if s.name.is_none() && s.uri.is_none() && s.digest.is_empty() {
                return Err(field(
                    "subject",
                    "a subject needs at least one of name, uri or digest",
                ));
            }
            if s.digest.is_empty() {
                return Err(field("subject.digest", "every subject needs a digest"));
            }
            if s.digest.values().any(String::is_empty) {
                return Err(field("subject.digest", "a digest value is empty"));
            }
            subjects.push(Subject {
                name: s.name,
                digest: s.digest,
            });
        }
        if wire.predicate_type.is_empty() {
            return Err(field("predicateType", "a predicate type is required"));
        }
        let predicate = match wire.predicate {
            Some(p @ Value::Object(_)) => p,
            Some(_) => return Err(field("predicate", "the predicate must be a JSON object")),
            None => return Err(field("predicate", "a predicate is required")),
        };
        Ok(Self {
            version,
            subjects,
            predicate_type: wire.predicate_type,
            predicate,
        })
    }

    /// Whether some subject has this SHA-256 digest.
    pub fn has_subject_digest(&self, digest: &Sha256Digest) -> bool {
        self.subjects
            .iter()
            .any(|s| s.sha256_digest().as_ref() == Some(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_v1_and_reads_it_back() {
        let d = Sha256Digest::of(b"image");
        let st = Statement::new_v1(
            vec![Subject::sha256(Some("example.com/app".into()), &d)],
            "https://slsa.dev/provenance/v1".into(),
            serde_json::json!({"b": 1, "a": "<x>"}),
        );
        let bytes = st.to_bytes();
        let expected = format!(
            concat!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"example.com/app","digest":{{"sha256":"{}"}}}}],"#,
                r#""predicateType":"https://slsa.dev/provenance/v1","predicate":{{"a":"\u003cx\u003e","b":1}}}}"#
            ),
            d.hex()
        );
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected);
        let back = Statement::parse(&bytes, &Limits::DEFAULT).unwrap();
        assert_eq!(back, st);
        assert!(back.has_subject_digest(&d));
        assert!(!back.has_subject_digest(&Sha256Digest::of(b"other")));
    }

    #[test]
    fn subject_without_name_is_valid() {
        // cosign 3 image signatures: the subject has only a digest.
        let doc = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}"#;
        let st = Statement::parse(doc, &Limits::DEFAULT).unwrap();
        assert!(st.has_subject_digest(&Sha256Digest::of(b"abc")));
        assert_eq!(st.subjects[0].name, None);
    }

    #[test]
    fn subject_count_is_capped() {
        let subj = r#"{"name":"a","digest":{"sha256":"00"}}"#;
        let doc = format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{}],"predicateType":"x","predicate":{{}}}}"#,
            [subj; 5].join(",")
        );
        let limits = Limits {
            statement_subjects: 4,
            ..Limits::DEFAULT
        };
        assert!(matches!(
            Statement::parse(doc.as_bytes(), &limits),
            Err(PayloadError::TooLarge(_))
        ));
    }
}
