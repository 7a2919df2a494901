//! The tags of each repository a batch reads, listed once per batch (`GET /v2/<name>/tags/list`,
//! paginated and capped): an attachment tag (`sha256-<hex>.sig`, `.att`, the referrers
//! fallback `sha256-<hex>`) that a complete listing lacks is not asked for image by image.
//! A listing that is cut at its cap, refused or fails is no knowledge: every tag is then
//! asked for, as without a listing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::Target;
use vouch_core::oci::registry::{Access, TagList, TagListLimits};

/// A repository's listing, read once: `None` when it is no knowledge.
type Listing = OnceCell<Option<Arc<TagList>>>;

/// One batch's tag listings, per repository. Made per batch (a `vouch verify --policy` run, a
/// promotion): a listing is a snapshot, as old as the batch.
#[derive(Debug, Default)]
pub struct BatchTags {
    limits: TagListLimits,
    lists: Mutex<HashMap<String, Arc<Listing>>>,
}

impl BatchTags {
    /// No listing yet, the default caps.
    pub fn new() -> Self {
        Self::default()
    }

    /// For a batch of `images`: a listing reads at most one page per image (100 at most), so
    /// that it never costs more requests than the probes it saves (two or three per image); a
    /// repository with more tags is listed incompletely, and probed.
    pub fn for_images(images: usize) -> Self {
        let defaults = TagListLimits::default();
        BatchTags {
            limits: TagListLimits {
                pages: images.clamp(1, defaults.pages),
                ..defaults
            },
            lists: Mutex::default(),
        }
    }

    /// The tags of `target`'s repository, listed on first use (`None` for layouts, whose index
    /// is read anyway, and where the registry did not list them completely or at all).
    /// `subject` (an image of the batch) asks the registry once whether it has a referrers API
    /// (the client remembers a 404), so that the batch's images do not each ask it at once.
    pub(crate) async fn of(&self, target: &Target, subject: &Sha256Digest) -> Option<Arc<TagList>> {
        let Target::Registry { client, repo } = target else {
            return None;
        };
        let cell = {
            let mut lists = self.lists.lock().ok()?;
            lists.entry(target.describe()).or_default().clone()
        };
        cell.get_or_init(|| async {
            let (tags, _) = futures_util::future::join(
                client.list_tags(repo, Access::Pull, self.limits),
                // Its answer is not used: the image asks again (then from the client's memory
                // when there is no API).
                client.get_referrers(repo, subject, None, Access::Pull, 1 << 20),
            )
            .await;
            tags.ok()
                .flatten()
                .filter(TagList::is_complete)
                .map(Arc::new)
        })
        .await
        .clone()
    }
}
