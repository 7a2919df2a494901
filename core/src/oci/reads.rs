//! Registry reads remembered within one scope ([`remember_reads`]): what a gate read to judge an
//! image (its manifest, `.sig`/`.att` manifests, referrers, signature and attestation layers)
//! is what the copy that follows reads again, so inside the scope the second read is answered
//! from memory — no request, and exactly the bytes that were judged.
//!
//! Only reads with [`Access::Pull`](super::registry::Access::Pull) are remembered: writers read
//! with `Push` (the no-lost-write protocol of [`crate::cosign`] must see the registry as it is
//! now) and are never answered from here. Inside a scope a tag read twice gives the first
//! answer: the scope is one promotion, whose source is judged once and copied as judged.
//! Outside a scope nothing is remembered.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use tokio::sync::OnceCell;

use super::registry::{FetchedManifest, TagList};
use crate::digest::Sha256Digest;

/// Blobs larger than this are not remembered (layers are streamed, not held).
const BLOB_MAX: usize = 1 << 20;
/// At most this many blob bytes are remembered in one scope.
const BLOBS_TOTAL_MAX: usize = 64 << 20;

/// A repository: `HOST/REPO`.
type Repo = String;

/// Remembered blobs, and their total size.
type Blobs = (HashMap<(Repo, Sha256Digest), Bytes>, usize);

#[derive(Debug, Default)]
pub(super) struct Reads {
    /// (repository, tag or digest) → the manifest, or `None`: absent.
    manifests: Mutex<HashMap<(Repo, String), Option<FetchedManifest>>>,
    /// (repository, subject) → the unfiltered referrers index from the referrers API, or
    /// `None`: the registry has none (the fallback tag is then a remembered manifest).
    referrers: Mutex<HashMap<(Repo, Sha256Digest), Option<Bytes>>>,
    /// (repository, digest) → small blobs, checked against their digest when read.
    blobs: Mutex<Blobs>,
    /// repository → its tags, listed once in the scope ([`super::Target::remember_tags`]);
    /// `None`: the listing is no knowledge (incomplete, refused or failed).
    tags: Mutex<HashMap<Repo, Arc<TagsCell>>>,
}

/// A repository's tags, listed once.
pub(super) type TagsCell = OnceCell<Option<TagList>>;

tokio::task_local! {
    static READS: Arc<Reads>;
}

/// Runs `f` with registry reads remembered (see the module docs). Futures it spawns onto other
/// tasks remember nothing.
pub async fn remember_reads<F: Future>(f: F) -> F::Output {
    READS.scope(Arc::new(Reads::default()), f).await
}

/// The scope's memory, if inside one.
pub(super) fn current() -> Option<Arc<Reads>> {
    READS.try_with(Arc::clone).ok()
}

impl Reads {
    pub(super) fn manifest(&self, repo: &str, reference: &str) -> Option<Option<FetchedManifest>> {
        let m = self.manifests.lock().ok()?;
        m.get(&(repo.to_owned(), reference.to_owned())).cloned()
    }

    pub(super) fn keep_manifest(&self, repo: &str, reference: &str, m: &Option<FetchedManifest>) {
        if let Ok(mut map) = self.manifests.lock() {
            map.insert((repo.to_owned(), reference.to_owned()), m.clone());
            // By digest too, so that a tag read first answers a read by digest.
            if let Some(m) = m {
                map.entry((repo.to_owned(), m.digest.to_string()))
                    .or_insert_with(|| Some(m.clone()));
            }
        }
    }

    pub(super) fn referrers(&self, repo: &str, subject: &Sha256Digest) -> Option<Option<Bytes>> {
        let m = self.referrers.lock().ok()?;
        m.get(&(repo.to_owned(), *subject)).cloned()
    }

    pub(super) fn keep_referrers(&self, repo: &str, subject: &Sha256Digest, index: Option<Bytes>) {
        if let Ok(mut m) = self.referrers.lock() {
            m.insert((repo.to_owned(), *subject), index);
        }
    }

    /// The cell of `repo`'s listing (made on first use).
    pub(super) fn tags_cell(&self, repo: &str) -> Option<Arc<TagsCell>> {
        let mut m = self.tags.lock().ok()?;
        Some(m.entry(repo.to_owned()).or_default().clone())
    }

    /// Whether `repo`'s complete listing (if one was made in the scope) lacks `tag`.
    pub(super) fn tag_absent(&self, repo: &str, tag: &str) -> bool {
        let Ok(m) = self.tags.lock() else {
            return false;
        };
        m.get(repo)
            .and_then(|cell| cell.get())
            .and_then(Option::as_ref)
            .is_some_and(|list| !list.may_have(tag))
    }

    pub(super) fn blob(&self, repo: &str, digest: &Sha256Digest) -> Option<Bytes> {
        let b = self.blobs.lock().ok()?;
        b.0.get(&(repo.to_owned(), *digest)).cloned()
    }

    pub(super) fn keep_blob(&self, repo: &str, digest: &Sha256Digest, bytes: &[u8]) {
        if bytes.len() > BLOB_MAX {
            return;
        }
        if let Ok(mut b) = self.blobs.lock() {
            let (map, total) = &mut *b;
            if *total + bytes.len() > BLOBS_TOTAL_MAX {
                return;
            }
            if map
                .insert((repo.to_owned(), *digest), Bytes::copy_from_slice(bytes))
                .is_none()
            {
                *total += bytes.len();
            }
        }
    }
}
