//! `admission.k8s.io/v1` AdmissionReview: the request read (uid, namespace, kind, the images
//! of a Pod or of a workload's pod template) and the response written.

use base64::Engine as _;
use serde_json::{Value, json};

use super::AdmissionError;

/// The largest review read (the API server's own request limit is 3 MiB).
pub const MAX_REVIEW_BYTES: usize = 4 << 20;
/// The most images judged in one review.
pub const MAX_IMAGES: usize = 256;
/// The most warnings returned (the API server truncates long lists anyway).
const MAX_WARNINGS: usize = 32;
/// The longest warning text.
const MAX_WARNING_CHARS: usize = 256;
/// The longest denial message.
const MAX_MESSAGE_CHARS: usize = 8192;

/// One image field of the object: its value and where it is (a JSON pointer into the object,
/// for the patch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSlot {
    /// The `image` string as written.
    pub image: String,
    /// JSON pointer of the field, e.g. `/spec/template/spec/containers/0/image`.
    pub pointer: String,
}

/// A parsed AdmissionReview request.
#[derive(Debug, Clone)]
pub struct AdmissionRequest {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.namespace` (empty for cluster-scoped objects).
    pub namespace: Option<String>,
    /// `request.kind.kind`.
    pub kind: String,
    /// `request.operation`.
    pub operation: String,
    /// Every image of the object's pod spec, in order: containers, initContainers,
    /// ephemeralContainers. Empty for a DELETE.
    pub images: Vec<ImageSlot>,
}

/// Where the pod spec of each judged kind is, as a JSON pointer into the object.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "/spec",
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "PodTemplate" => "/template/spec",
        _ => return None,
    })
}

fn bad(what: impl Into<String>) -> AdmissionError {
    AdmissionError::Malformed(what.into())
}

/// Parses a review body. Errors name what was expected and what was found; they never panic
/// (JSON nesting is capped by the parser, sizes and counts here).
pub fn parse(body: &[u8]) -> Result<AdmissionRequest, AdmissionError> {
    if body.len() > MAX_REVIEW_BYTES {
        return Err(AdmissionError::TooLarge {
            limit: MAX_REVIEW_BYTES,
        });
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("expected an AdmissionReview in JSON: {e}")))?;
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind != "AdmissionReview" || api != "admission.k8s.io/v1" {
        return Err(bad(format!(
            "expected kind AdmissionReview, apiVersion admission.k8s.io/v1; found kind `{kind}`, apiVersion `{api}` (set admissionReviewVersions: [v1] in the webhook configuration)"
        )));
    }
    let req = doc
        .get("request")
        .filter(|r| r.is_object())
        .ok_or_else(|| bad("the review has no `request` object"))?;
    let uid = req
        .get("uid")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty() && u.len() <= 128)
        .ok_or_else(|| bad("`request.uid` is missing, empty or longer than 128 characters"))?
        .to_owned();
    let namespace = req
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let kind = req
        .pointer("/kind/kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let operation = req
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let object = req.get("object").filter(|o| !o.is_null());
    let images = match object {
        None if operation == "DELETE" || operation == "CONNECT" => Vec::new(),
        None => return Err(bad("`request.object` is missing")),
        Some(object) => {
            let at = pod_spec_pointer(&kind)
                .ok_or_else(|| AdmissionError::UnsupportedKind(kind.clone()))?;
            let spec = object
                .pointer(at)
                .ok_or_else(|| bad(format!("a {kind} without a pod spec at `{at}`")))?;
            pod_images(spec, at)?
        }
    };
    Ok(AdmissionRequest {
        uid,
        namespace,
        kind,
        operation,
        images,
    })
}

/// The images of a pod spec at `at`.
pub fn pod_images(spec: &Value, at: &str) -> Result<Vec<ImageSlot>, AdmissionError> {
    let mut images = Vec::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(cs) = spec.get(list) else { continue };
        if cs.is_null() {
            continue;
        }
        let cs = cs
            .as_array()
            .ok_or_else(|| bad(format!("`{at}/{list}` is not a list")))?;
        for (i, c) in cs.iter().enumerate() {
            let image = c.get("image").and_then(Value::as_str).ok_or_else(|| {
                bad(format!(
                    "`{at}/{list}/{i}/image` is missing or not a string"
                ))
            })?;
            if images.len() == MAX_IMAGES {
                return Err(AdmissionError::TooManyImages { limit: MAX_IMAGES });
            }
            images.push(ImageSlot {
                image: image.to_owned(),
                pointer: format!("{at}/{list}/{i}/image"),
            });
        }
    }
    Ok(images)
}

/// The `uid` of a review that could not be parsed otherwise, to answer it in kind.
pub fn uid_of(body: &[u8]) -> Option<String> {
    if body.len() > MAX_REVIEW_BYTES {
        return None;
    }
    let doc: Value = serde_json::from_slice(body).ok()?;
    doc.pointer("/request/uid")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty() && u.len() <= 128)
        .map(str::to_owned)
}

/// What to answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// Admit the object.
    pub allowed: bool,
    /// HTTP-like code of a denial (403 policy, 400 malformed object, 500 service failure).
    pub code: u16,
    /// Why it was denied.
    pub message: String,
    /// Warnings shown to the user (`mode: warn` failures, fail-open errors).
    pub warnings: Vec<String>,
    /// A JSONPatch document (`/mutate`).
    pub patch: Option<Vec<u8>>,
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The AdmissionReview response for `uid`.
pub fn response(uid: &str, answer: &Answer) -> Value {
    let mut r = json!({"uid": uid, "allowed": answer.allowed});
    if !answer.allowed {
        r["status"] = json!({
            "code": answer.code,
            "reason": if answer.code == 400 { "BadRequest" } else if answer.code >= 500 { "InternalError" } else { "Forbidden" },
            "message": clip(&answer.message, MAX_MESSAGE_CHARS),
        });
    }
    if !answer.warnings.is_empty() {
        r["warnings"] = answer
            .warnings
            .iter()
            .take(MAX_WARNINGS)
            .map(|w| Value::String(clip(w, MAX_WARNING_CHARS)))
            .collect();
    }
    if let Some(p) = &answer.patch {
        r["patchType"] = "JSONPatch".into();
        r["patch"] = base64::engine::general_purpose::STANDARD.encode(p).into();
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": r})
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn review(kind: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": kind},
                        "namespace": "prod", "operation": "CREATE", "object": object}
        }))
        .unwrap()
    }

    #[test]
    fn cronjob_images_in_order() {
        let spec = json!({"containers": [{"name": "a", "image": "r.example/a:1"}],
                          "initContainers": [{"name": "i", "image": "r.example/i:1"}]});
        let r = parse(&review(
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
        ))
        .unwrap();
        assert_eq!(r.uid, "u-1");
        assert_eq!(r.namespace.as_deref(), Some("prod"));
        let ptrs: Vec<_> = r.images.iter().map(|s| s.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/spec/jobTemplate/spec/template/spec/containers/0/image",
                "/spec/jobTemplate/spec/template/spec/initContainers/0/image"
            ]
        );
    }

    #[test]
    fn malformed_reviews_are_errors() {
        for body in [
            &b"not json"[..],
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{}}"#,
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#,
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":""}}"#,
        ] {
            assert!(matches!(parse(body), Err(AdmissionError::Malformed(_))));
        }
        let r = parse(&review(
            "Pod",
            json!({"spec": {"containers": [{"name": "x"}]}}),
        ));
        assert!(matches!(r, Err(AdmissionError::Malformed(m)) if m.contains("containers/0/image")));
        let r = parse(&review("Service", json!({"spec": {}})));
        assert!(matches!(r, Err(AdmissionError::UnsupportedKind(k)) if k == "Service"));
        let many: Vec<Value> = (0..=MAX_IMAGES)
            .map(|i| json!({"image": format!("a{i}")}))
            .collect();
        let r = parse(&review("Pod", json!({"spec": {"containers": many}})));
        assert!(matches!(r, Err(AdmissionError::TooManyImages { .. })));
    }

    #[test]
    fn response_echoes_uid_and_patch() {
        let a = Answer {
            allowed: true,
            patch: Some(b"[]".to_vec()),
            warnings: vec!["w".into()],
            ..Answer::default()
        };
        let r = response("u-9", &a);
        assert_eq!(r["response"]["uid"], "u-9");
        assert_eq!(r["response"]["patch"], "W10=");
        assert_eq!(r["response"]["patchType"], "JSONPatch");
        assert_eq!(r["response"]["warnings"][0], "w");
    }
}
