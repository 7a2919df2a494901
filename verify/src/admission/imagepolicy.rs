//! `imagepolicy.k8s.io/v1alpha1` ImageReview (the API server's ImagePolicyWebhook admission
//! plugin): `spec.containers[].image`, `spec.annotations`, `spec.namespace` in;
//! `status.allowed` and `status.reason` out.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::AdmissionError;
use super::review::{MAX_IMAGES, MAX_REVIEW_BYTES};

/// The API version read and written.
pub const API_VERSION: &str = "imagepolicy.k8s.io/v1alpha1";

/// A parsed ImageReview.
#[derive(Debug, Clone)]
pub struct ImageReview {
    /// `spec.containers[].image`, in order.
    pub images: Vec<String>,
    /// `spec.namespace`.
    pub namespace: Option<String>,
    /// `spec.annotations` (only `*.image-policy.k8s.io/*` keys reach a webhook); logged.
    pub annotations: BTreeMap<String, String>,
}

fn bad(what: impl Into<String>) -> AdmissionError {
    AdmissionError::Malformed(what.into())
}

/// Parses an ImageReview body.
pub fn parse(body: &[u8]) -> Result<ImageReview, AdmissionError> {
    if body.len() > MAX_REVIEW_BYTES {
        return Err(AdmissionError::TooLarge {
            limit: MAX_REVIEW_BYTES,
        });
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("expected an ImageReview in JSON: {e}")))?;
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind != "ImageReview" || api != API_VERSION {
        return Err(bad(format!(
            "expected kind ImageReview, apiVersion {API_VERSION}; found kind `{kind}`, apiVersion `{api}`"
        )));
    }
    let spec = doc
        .get("spec")
        .filter(|s| s.is_object())
        .ok_or_else(|| bad("the review has no `spec` object"))?;
    let mut images = Vec::new();
    if let Some(cs) = spec.get("containers").filter(|c| !c.is_null()) {
        let cs = cs
            .as_array()
            .ok_or_else(|| bad("`spec.containers` is not a list"))?;
        if cs.len() > MAX_IMAGES {
            return Err(AdmissionError::TooManyImages { limit: MAX_IMAGES });
        }
        for (i, c) in cs.iter().enumerate() {
            images.push(
                c.get("image")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        bad(format!(
                            "`spec.containers[{i}].image` is missing or not a string"
                        ))
                    })?
                    .to_owned(),
            );
        }
    }
    let namespace = spec
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let mut annotations = BTreeMap::new();
    if let Some(a) = spec.get("annotations").and_then(Value::as_object) {
        for (k, v) in a.iter().take(64) {
            if let Some(v) = v.as_str() {
                annotations.insert(k.clone(), v.to_owned());
            }
        }
    }
    Ok(ImageReview {
        images,
        namespace,
        annotations,
    })
}

/// The ImageReview answer. `audit` becomes `status.auditAnnotations` (the plugin records
/// them in the audit log, prefixed `imagepolicywebhook.image-policy.k8s.io/`).
pub fn response(allowed: bool, reason: &str, audit: &BTreeMap<String, String>) -> Value {
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = reason.into();
    }
    if !audit.is_empty() {
        status["auditAnnotations"] = json!(audit);
    }
    json!({"apiVersion": API_VERSION, "kind": "ImageReview", "status": status})
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_contract() {
        let r = parse(
            br#"{"apiVersion":"imagepolicy.k8s.io/v1alpha1","kind":"ImageReview",
            "spec":{"containers":[{"image":"a.example/x:1"},{"image":"b.example/y@sha256:00"}],
            "annotations":{"c.image-policy.k8s.io/ticket":"1"},"namespace":"ns"}}"#,
        )
        .unwrap();
        assert_eq!(r.images, ["a.example/x:1", "b.example/y@sha256:00"]);
        assert_eq!(r.namespace.as_deref(), Some("ns"));
        assert_eq!(r.annotations.len(), 1);
        assert!(parse(br#"{"kind":"ImageReview","spec":{}}"#).is_err());
        assert_eq!(
            response(false, "no", &BTreeMap::new())["status"]["reason"],
            "no"
        );
    }
}
