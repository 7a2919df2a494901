//! How many requests a client sent, by kind: every HTTP request that left the client, retries
//! and the re-sends after a 401 included, so that the figures are what the registry (and its
//! token service) received.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The kind of a registry request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GET /v2/<name>/manifests/<reference>`.
    ManifestGet,
    /// `HEAD /v2/<name>/manifests/<reference>`.
    ManifestHead,
    /// `PUT /v2/<name>/manifests/<reference>`.
    ManifestPut,
    /// `HEAD /v2/<name>/blobs/<digest>`.
    BlobHead,
    /// `GET /v2/<name>/blobs/<digest>`.
    BlobGet,
    /// `POST /v2/<name>/blobs/uploads/` (an upload session, a mount, or a whole small blob).
    BlobPost,
    /// `PATCH <upload location>`.
    BlobPatch,
    /// `PUT <upload location>?digest=`.
    BlobPut,
    /// `DELETE <upload location>`.
    BlobDelete,
    /// `GET /v2/<name>/referrers/<digest>`.
    Referrers,
    /// `GET /v2/<name>/tags/list`.
    TagsList,
    /// A request to the token service (bearer authentication).
    Token,
}

impl RequestKind {
    /// Every kind, in the order of [`RequestCounts::by`].
    pub const ALL: [RequestKind; 12] = [
        Self::ManifestGet,
        Self::ManifestHead,
        Self::ManifestPut,
        Self::BlobHead,
        Self::BlobGet,
        Self::BlobPost,
        Self::BlobPatch,
        Self::BlobPut,
        Self::BlobDelete,
        Self::Referrers,
        Self::TagsList,
        Self::Token,
    ];

    /// Its name in reports: `manifest GET`, `blob POST`, `referrers`, `token`…
    pub fn name(self) -> &'static str {
        match self {
            Self::ManifestGet => "manifest GET",
            Self::ManifestHead => "manifest HEAD",
            Self::ManifestPut => "manifest PUT",
            Self::BlobHead => "blob HEAD",
            Self::BlobGet => "blob GET",
            Self::BlobPost => "blob POST",
            Self::BlobPatch => "blob PATCH",
            Self::BlobPut => "blob PUT",
            Self::BlobDelete => "blob DELETE",
            Self::Referrers => "referrers GET",
            Self::TagsList => "tags list GET",
            Self::Token => "token",
        }
    }

    fn slot(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// The running counts (atomic: one client serves every task of a run).
#[derive(Debug, Default)]
pub(crate) struct RequestCounter {
    counts: [AtomicU64; RequestKind::ALL.len()],
}

impl RequestCounter {
    pub(crate) fn add(&self, kind: RequestKind) {
        if let Some(c) = self.counts.get(kind.slot()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> RequestCounts {
        let by = RequestKind::ALL
            .iter()
            .zip(&self.counts)
            .map(|(k, c)| (k.name().to_owned(), c.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect::<BTreeMap<_, _>>();
        RequestCounts {
            total: by.values().sum(),
            by,
        }
    }
}

/// The requests a client sent so far: `{"total": N, "by": {"manifest GET": n, …}}` (kinds with
/// none are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestCounts {
    /// All requests.
    pub total: u64,
    /// Per kind ([`RequestKind::name`]).
    pub by: BTreeMap<String, u64>,
}

impl RequestCounts {
    /// The count of one kind.
    pub fn of(&self, kind: RequestKind) -> u64 {
        self.by.get(kind.name()).copied().unwrap_or(0)
    }
}

impl std::fmt::Display for RequestCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} request(s)", self.total)?;
        let parts: Vec<String> = self.by.iter().map(|(k, n)| format!("{k} {n}")).collect();
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_and_total() {
        let c = RequestCounter::default();
        c.add(RequestKind::ManifestGet);
        c.add(RequestKind::ManifestGet);
        c.add(RequestKind::BlobPost);
        c.add(RequestKind::Token);
        let s = c.snapshot();
        assert_eq!(s.total, 4);
        assert_eq!(s.of(RequestKind::ManifestGet), 2);
        assert_eq!(s.of(RequestKind::BlobPut), 0);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"total": 4, "by": {"blob POST": 1, "manifest GET": 2, "token": 1}})
        );
        assert_eq!(
            s.to_string(),
            "4 request(s): blob POST 1, manifest GET 2, token 1"
        );
    }
}
