//! `GET /v2/<repo>/tags/list` (OCI distribution 1.1, "Listing Tags"), paginated and capped:
//! what a batch reads once per repository to know which attachment tags (`sha256-<hex>.sig`,
//! `.att`, the referrers fallback `sha256-<hex>`) exist, instead of probing each per image.

use std::collections::HashSet;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::{Access, RegistryClient, RegistryError, RequestKind, read_capped};
use crate::oci::reference::RegistryRef;

/// The tags of one repository as listed: every one of them when `complete`, else (the listing
/// was cut at its cap) only some, and a tag absent from it may exist.
#[derive(Debug, Clone, Default)]
pub struct TagList {
    tags: HashSet<String>,
    complete: bool,
}

impl TagList {
    /// A listing known to hold every tag of the repository (for layouts and tests).
    pub fn complete(tags: impl IntoIterator<Item = String>) -> Self {
        TagList {
            tags: tags.into_iter().collect(),
            complete: true,
        }
    }

    /// Whether `tag` may exist: `false` only when the listing is complete and lacks it (no
    /// need to ask the registry for it then).
    pub fn may_have(&self, tag: &str) -> bool {
        !self.complete || self.tags.contains(tag)
    }

    /// Whether the listing holds every tag.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// How many tags were listed.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether none was listed.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }
}

/// The caps of one listing.
#[derive(Debug, Clone, Copy)]
pub struct TagListLimits {
    /// Tags asked for per page (`n`).
    pub page: usize,
    /// Pages read at most; past them the listing is incomplete.
    pub pages: usize,
    /// Bytes per page at most.
    pub page_bytes: u64,
}

impl Default for TagListLimits {
    fn default() -> Self {
        // 100,000 tags: a repository with more is probed tag by tag.
        TagListLimits {
            page: 1000,
            pages: 100,
            page_bytes: 4 << 20,
        }
    }
}

/// The `next` page a `Link` header names (`<URL>; rel="next"`): `Some(None)` when there is one
/// but it is not a path on this registry's tag list (then the next page is asked for with
/// `last`), `None` when there is none.
fn next_link(headers: &HeaderMap, path: &str) -> Option<Option<String>> {
    let mut found = None;
    for v in headers.get_all("link") {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(',') {
            let mut fields = part.split(';');
            let target = fields.next().unwrap_or("").trim();
            if !fields.any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next")) {
                continue;
            }
            let target = target
                .strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
                .unwrap_or("");
            // Only a path of this very listing: a link elsewhere would get our credentials.
            let ours = target
                .strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'));
            found = Some(ours.then(|| target.to_owned()));
        }
    }
    found
}

impl RegistryClient {
    /// Lists `r`'s repository's tags, page by page (`n`, `last`; a page ends the listing when
    /// its response has no `Link: <…>; rel="next"`), at most `limits.pages` pages. `Ok(None)`
    /// when the registry refuses to list them (not found, not allowed, not supported, or not a
    /// tag list): the caller then asks for each tag itself. Network and server errors are
    /// errors.
    pub async fn list_tags(
        &self,
        r: &RegistryRef,
        access: Access,
        limits: TagListLimits,
    ) -> Result<Option<TagList>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let base = self.base(r);
        let url = format!("{base}/tags/list");
        // `https://host/v2/repo/tags/list` = origin + path.
        let origin_len = base.find("/v2/").unwrap_or(0);
        let path = url[origin_len..].to_owned();
        let op = format!("GET tags {}", r.repository);
        let n = limits.page.max(1).to_string();
        let mut list = TagList::default();
        // The next page: the registry's own link, or `last` after the greatest tag so far.
        let mut next: Option<(Option<String>, String)> = None;
        for _ in 0..limits.pages.max(1) {
            let resp = match self
                .send(r, access, RequestKind::TagsList, &op, |c| match &next {
                    Some((Some(link), _)) => c.get(format!("{}{link}", &url[..origin_len])),
                    Some((None, last)) => c
                        .get(&url)
                        .query(&[("n", n.as_str()), ("last", last.as_str())]),
                    None => c.get(&url).query(&[("n", n.as_str())]),
                })
                .await
            {
                Ok(resp) => resp,
                Err(RegistryError::Unauthorized { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let status = resp.status();
            if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(Self::fail(r, &op, resp).await);
            }
            let link = next_link(resp.headers(), &path);
            let what = format!("tags of {}/{}", r.registry, r.repository);
            let bytes = match read_capped(resp, limits.page_bytes, &what).await {
                Ok(b) => b,
                Err(RegistryError::TooLarge { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let Ok(page) = serde_json::from_slice::<Page>(&bytes) else {
                return Ok(None);
            };
            let tags = page.tags.unwrap_or_default();
            let before = list.tags.len();
            let last = tags.iter().max().cloned().unwrap_or_default();
            list.tags.extend(tags);
            match link {
                None => {
                    list.complete = true;
                    return Ok(Some(list));
                }
                // A registry that pages without moving on: incomplete.
                Some(_) if list.tags.len() == before => return Ok(Some(list)),
                Some(link) => next = Some((link, last)),
            }
        }
        Ok(Some(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_found() {
        let path = "/v2/a/tags/list";
        let mut h = HeaderMap::new();
        assert_eq!(next_link(&h, path), None);
        h.insert(
            "link",
            "</v2/a/tags/list?n=2&last=b>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h, path),
            Some(Some("/v2/a/tags/list?n=2&last=b".to_owned()))
        );
        // Another repository's or host's list: paged with `last` instead.
        h.insert(
            "link",
            "<https://elsewhere.example/v2/a/tags/list?last=b>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h, path), Some(None));
        h.insert(
            "link",
            "</v2/a/tags/listing>; rel=\"next\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h, path), Some(None));
        h.insert("link", "</v2/a/tags/list>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&h, path), None);
    }

    #[test]
    fn only_a_complete_listing_rules_a_tag_out() {
        let full = TagList::complete(["a".to_owned()]);
        assert!(full.may_have("a") && !full.may_have("b"));
        let partial = TagList::default();
        assert!(partial.may_have("b"));
    }
}
