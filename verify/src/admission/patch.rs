//! JSONPatch (RFC 6902) pinning images to the digests judged.

use serde_json::{Value, json};
use vouch_core::digest::Sha256Digest;

use super::review::ImageSlot;

/// `image` pinned to `digest`: `name:tag` → `name:tag@sha256:…`; `None` when the reference
/// already names a digest (left untouched).
pub fn pinned(image: &str, digest: &Sha256Digest) -> Option<String> {
    if image.contains('@') {
        return None;
    }
    Some(format!("{image}@{digest}"))
}

/// A `replace` for each slot that has a digest and is not pinned yet; `None` when nothing
/// changes.
pub fn pin_patch(slots: &[(&ImageSlot, Option<Sha256Digest>)]) -> Option<Vec<u8>> {
    let ops: Vec<Value> = slots
        .iter()
        .filter_map(|(slot, digest)| {
            let value = pinned(&slot.image, digest.as_ref()?)?;
            Some(json!({"op": "replace", "path": slot.pointer, "value": value}))
        })
        .collect();
    if ops.is_empty() {
        return None;
    }
    serde_json::to_vec(&ops).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pins_tags_only() {
        let d = Sha256Digest::of(b"x");
        let a = ImageSlot {
            image: "r.example/a:1".into(),
            pointer: "/spec/containers/0/image".into(),
        };
        let b = ImageSlot {
            image: format!("r.example/b@{d}"),
            pointer: "/spec/containers/1/image".into(),
        };
        let p: Value =
            serde_json::from_slice(&pin_patch(&[(&a, Some(d)), (&b, Some(d))]).unwrap()).unwrap();
        assert_eq!(
            p,
            json!([{"op": "replace", "path": "/spec/containers/0/image", "value": format!("r.example/a:1@{d}")}])
        );
        assert!(pin_patch(&[(&b, Some(d))]).is_none());
    }
}
