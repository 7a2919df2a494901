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
    /// `_type`, at least one subject, each with a digest, and a predicate type). The predicate,
    /// when present, must be an object; unset it is the empty object, as the specification says
    /// (in-toto's Go `Validate` requires it: vouch follows the specification and cosign 3).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, PayloadError> {
        check_size(WHAT, bytes.len(), limits.envelope)?;
        super::check_strict(WHAT, bytes)?;
        let wire: Wire = serde_json::from_slice(bytes).map_err(json_err(WHAT))?;
        let field = |field, reason: &str| PayloadError::Field {
            what: WHAT,
            field,
            reason: reason.into(),
        };
        let (version, subjects, predicate_type) =
            validate(wire.kind, wire.subject, wire.predicate_type, limits)?;
        // in-toto Statement v1: "predicate: OPTIONAL … Unset is treated the same as
        // set-but-empty." cosign 3's image signatures (`https://sigstore.dev/cosign/sign/v1`)
        // carry none. `null` is unset too (protobuf JSON).
        let predicate = match wire.predicate {
            Some(p @ Value::Object(_)) => p,
            Some(_) => return Err(field("predicate", "the predicate must be a JSON object")),
            None => Value::Object(serde_json::Map::new()),
        };
        Ok(Self {
            version,
            subjects,
            predicate_type,
            predicate,
        })
    }

    /// Whether some subject has this SHA-256 digest.
    pub fn has_subject_digest(&self, digest: &Sha256Digest) -> bool {
        self.subjects
            .iter()
            .any(|s| s.sha256_digest().as_ref() == Some(digest))
    }

    /// A v1 statement around a predicate's raw JSON (`predicate` must be a JSON object; check
    /// it first, e.g. with [`crate::predicate::check_predicate`]). The predicate bytes are
    /// copied as they are: no JSON tree of a large SBOM is ever built.
    pub fn encode_raw(subjects: &[Subject], predicate_type: &str, predicate: &[u8]) -> Vec<u8> {
        let head = WireHead {
            kind: STATEMENT_V1,
            subject: subjects,
            predicate_type,
        };
        let mut out = match serde_json::to_vec(&head) {
            Ok(v) => v,
            Err(_) => unreachable!("serializing strings cannot fail"),
        };
        out.reserve(predicate.len() + 16);
        out.pop(); // the closing brace
        out.extend_from_slice(b",\"predicate\":");
        out.extend_from_slice(trim_json(predicate));
        out.push(b'}');
        out
    }
}

fn trim_json(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[derive(Serialize)]
struct WireHead<'a> {
    #[serde(rename = "_type")]
    kind: &'a str,
    subject: &'a [Subject],
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
}

/// A statement read without building its predicate: the predicate stays raw JSON borrowed
/// from the bytes (for large SBOMs). Validated as [`Statement::parse`] validates.
#[derive(Debug)]
pub struct StatementRef<'a> {
    /// The declared version.
    pub version: StatementVersion,
    /// The subjects.
    pub subjects: Vec<Subject>,
    /// The predicate type.
    pub predicate_type: String,
    /// The predicate's raw JSON.
    pub predicate: &'a serde_json::value::RawValue,
}

#[derive(Deserialize)]
struct WireRef<'a> {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<WireSubject>,
    #[serde(rename = "predicateType", default)]
    predicate_type: String,
    #[serde(borrow, default)]
    predicate: Option<&'a serde_json::value::RawValue>,
}

impl<'a> StatementRef<'a> {
    /// Where the predicate's raw JSON lies in `bytes` (the bytes this statement was parsed
    /// from), or `None` when the statement has no predicate (then it is the empty object, which
    /// lies nowhere in them).
    pub fn predicate_span(&self, bytes: &[u8]) -> Option<std::ops::Range<usize>> {
        let raw = self.predicate.get().as_bytes();
        let start = (raw.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
        let end = start.checked_add(raw.len())?;
        (end <= bytes.len()).then_some(start..end)
    }

    /// Parses and validates untrusted statement bytes.
    pub fn parse(bytes: &'a [u8], limits: &Limits) -> Result<Self, PayloadError> {
        check_size(WHAT, bytes.len(), limits.envelope)?;
        super::check_strict(WHAT, bytes)?;
        let wire: WireRef<'a> = serde_json::from_slice(bytes).map_err(json_err(WHAT))?;
        let (version, subjects, predicate_type) =
            validate(wire.kind, wire.subject, wire.predicate_type, limits)?;
        let predicate = match wire.predicate {
            Some(p) if p.get().starts_with('{') => p,
            Some(_) => {
                return Err(PayloadError::Field {
                    what: WHAT,
                    field: "predicate",
                    reason: "the predicate must be a JSON object".into(),
                });
            }
            // Unset (or `null`) is the empty predicate, as in [`Statement::parse`].
            None => empty_predicate(),
        };
        Ok(Self {
            version,
            subjects,
            predicate_type,
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

/// `{}` as a raw value, for statements without a predicate.
fn empty_predicate() -> &'static serde_json::value::RawValue {
    match serde_json::from_str("{}") {
        Ok(v) => v,
        Err(_) => unreachable!("`{{}}` is JSON"),
    }
}

/// The checks shared by both parsers (in-toto's `Statement.Validate`).
fn validate(
    kind: String,
    wire_subjects: Vec<WireSubject>,
    predicate_type: String,
    limits: &Limits,
) -> Result<(StatementVersion, Vec<Subject>, String), PayloadError> {
    let field = |field, reason: &str| PayloadError::Field {
        what: WHAT,
        field,
        reason: reason.into(),
    };
    let version = match kind.as_str() {
        STATEMENT_V1 => StatementVersion::V1,
        STATEMENT_V01 => StatementVersion::V01,
        other => {
            return Err(field(
                "_type",
                &format!("expected `{STATEMENT_V1}` or `{STATEMENT_V01}`, found `{other}`"),
            ));
        }
    };
    if wire_subjects.is_empty() {
        return Err(field("subject", "at least one subject is required"));
    }
    if wire_subjects.len() > limits.statement_subjects {
        return Err(TooLarge {
            what: "the statement's subject list (count)",
            found: wire_subjects.len(),
            limit: limits.statement_subjects,
        }
        .into());
    }
    let mut subjects = Vec::with_capacity(wire_subjects.len());
    for s in wire_subjects {
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
    if predicate_type.is_empty() {
        return Err(field("predicateType", "a predicate type is required"));
    }
    Ok((version, subjects, predicate_type))
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
    fn raw_encoding_and_borrowed_parse() {
        let d = Sha256Digest::of(b"image");
        let subjects = [Subject::sha256(Some("r.example/app".into()), &d)];
        let bytes = Statement::encode_raw(
            &subjects,
            "https://cyclonedx.org/bom",
            b"\n {\"b\": [1, 2], \"a\": 1}\n",
        );
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"r.example/app","digest":{{"sha256":"{}"}}}}],"predicateType":"https://cyclonedx.org/bom","predicate":{{"b": [1, 2], "a": 1}}}}"#,
                d.hex()
            )
        );
        let r = StatementRef::parse(&bytes, &Limits::DEFAULT).unwrap();
        assert!(r.has_subject_digest(&d));
        assert_eq!(r.predicate.get(), r#"{"b": [1, 2], "a": 1}"#);
        // Both parsers agree, on valid and invalid statements.
        assert_eq!(
            Statement::parse(&bytes, &Limits::DEFAULT)
                .unwrap()
                .predicate_type,
            r.predicate_type
        );
        let bad = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicateType":"t","predicate":[1]}"#;
        assert!(StatementRef::parse(bad, &Limits::DEFAULT).is_err());
        assert!(Statement::parse(bad, &Limits::DEFAULT).is_err());
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
    fn predicate_unset_or_null_is_empty() {
        // cosign 3 `cosign sign`: no predicate at all.
        for doc in [
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1"}"#.as_slice(),
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":null}"#.as_slice(),
        ] {
            let st = Statement::parse(doc, &Limits::DEFAULT).unwrap();
            assert_eq!(st.predicate, serde_json::json!({}));
            let r = StatementRef::parse(doc, &Limits::DEFAULT).unwrap();
            assert_eq!(r.predicate.get(), "{}");
            assert_eq!(r.predicate_span(doc), None);
        }
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

#[cfg(test)]
mod vector_tests {
    use super::*;

    /// in-toto's own Go test cases (tests/data/vectors/more/06-…/statement-validation): the valid
    /// ones parse, each invalid one is rejected, by both parsers.
    #[test]
    fn in_toto_validation_vectors() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
            "../tests/data/vectors/more/06-slsa-provenance/in-toto-attestation/statement-validation",
        );
        let cases = [
            ("valid-statement-v1.json", true),
            ("statement-type-version-v1.json", true),
            ("statement-type-version-v0.1.json", true),
            ("invalid-statement-type.json", false),
            ("statement-type-version-v2.json", false),
            ("statement-type-version-v0.2.json", false),
            ("no-subjects.json", false),
            ("subject-missing-RD-required-field.json", false),
            (
                "subject-missing-Statement-requirement-on-digest.json",
                false,
            ),
            ("missing-predicate-type.json", false),
            // The specification lets the predicate be unset ("treated the same as
            // set-but-empty") and cosign 3 writes statements without one; in-toto's Go
            // `Validate` refuses them. vouch follows the specification (tests/data/wild
            // exceptions.json).
            ("missing-predicate.json", true),
        ];
        for (file, valid) in cases {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let owned = Statement::parse(&bytes, &Limits::DEFAULT);
            let borrowed = StatementRef::parse(&bytes, &Limits::DEFAULT);
            assert_eq!(owned.is_ok(), valid, "{file}: {owned:?}");
            assert_eq!(borrowed.is_ok(), valid, "{file}: {borrowed:?}");
        }
    }
}
