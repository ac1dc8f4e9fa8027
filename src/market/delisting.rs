//! Delisting: the items a platform has taken down.
//!
//! The set holds listing numbers (one `u32` each, whatever the platform), so
//! the page renderers can filter a page's slice of an index without
//! generating anything. A delisted item's page answers 404 with
//! [`delisted_page`]; list and shop pages leave its card out and count only
//! what is still listed, but keep their page boundaries (a page may show fewer
//! than [`super::PAGE_SIZE`] cards), so URLs of later pages do not move. The
//! ground truth ([`super::Market::truth`]) is what was generated and does not
//! change.

use std::collections::HashSet;
use std::sync::RwLock;

use url::Url;

use super::layout::{Layout, Platform};

/// The listing numbers taken down.
#[derive(Debug, Default)]
pub(crate) struct Delisted {
    listings: RwLock<HashSet<u32>>,
}

impl Delisted {
    /// Adds `i`; `false` when it was already delisted.
    pub(crate) fn insert(&self, i: u32) -> bool {
        self.listings.write().unwrap_or_else(|e| e.into_inner()).insert(i)
    }

    /// Removes `i`; `false` when it was not delisted.
    pub(crate) fn remove(&self, i: u32) -> bool {
        self.listings.write().unwrap_or_else(|e| e.into_inner()).remove(&i)
    }

    pub(crate) fn contains(&self, i: u32) -> bool {
        self.listings.read().unwrap_or_else(|e| e.into_inner()).contains(&i)
    }

    /// Every delisted listing number, ascending.
    pub(crate) fn all(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self.listings.read().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        all.sort_unstable();
        all
    }

    /// The entries of `ids` still listed, in order.
    pub(crate) fn listed(&self, ids: &[u32]) -> Vec<u32> {
        let set = self.listings.read().unwrap_or_else(|e| e.into_inner());
        ids.iter().copied().filter(|i| !set.contains(i)).collect()
    }

    /// How many entries of `ids` (ascending, as the indexes keep them) are still listed.
    pub(crate) fn listed_len(&self, ids: &[u32]) -> usize {
        let set = self.listings.read().unwrap_or_else(|e| e.into_inner());
        let gone = if set.len() < ids.len() {
            set.iter().filter(|i| ids.binary_search(i).is_ok()).count()
        } else {
            ids.iter().filter(|i| set.contains(i)).count()
        };
        ids.len() - gone
    }
}

/// The listing number behind an item as a notice names it: its platform item
/// id, or failing that an item page URL of `platform` (`/mall/item/<id>.html`,
/// `/mall/js/item/<id>`, `/duo/goods.html?goods_id=<id>`).
pub(crate) fn listing_of(layout: &Layout, platform: Platform, item_id: &str, url: &str) -> Option<u32> {
    let by_id = item_id.trim().parse().ok().and_then(|id| layout.item_index(platform, id));
    by_id.or_else(|| item_id_in_url(platform, url).and_then(|id| layout.item_index(platform, id)))
}

fn item_id_in_url(platform: Platform, url: &str) -> Option<u64> {
    // Absolute or root-relative: only the path and query matter.
    let url = Url::parse(url).or_else(|_| Url::parse("http://market.invalid/")?.join(url)).ok()?;
    let path = url.path();
    match platform {
        Platform::Mall => path
            .strip_prefix("/mall/item/")
            .and_then(|file| file.strip_suffix(".html"))
            .or_else(|| path.strip_prefix("/mall/js/item/"))
            .and_then(|id| id.parse().ok()),
        Platform::Duo => (path == "/duo/goods.html")
            .then(|| url.query_pairs().find(|(k, _)| k == "goods_id").and_then(|(_, v)| v.parse().ok()))
            .flatten(),
    }
}

/// The page a delisted item answers (with 404): well-formed, in the platform's chrome-free style.
pub(crate) fn delisted_page(platform: Platform) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>该商品已下架 - {site}</title></head>\
         <body><h1 class=\"delisted\">该商品已下架</h1><p>该商品已下架，无法查看或购买。</p>\
         <p><a href=\"{prefix}/\">返回{site}首页</a></p></body></html>\n",
        site = platform.title(),
        prefix = platform.prefix(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_are_read_from_every_item_url_form() {
        assert_eq!(item_id_in_url(Platform::Mall, "http://h/mall/item/520000000123.html"), Some(520_000_000_123));
        assert_eq!(item_id_in_url(Platform::Mall, "/mall/js/item/520000000123"), Some(520_000_000_123));
        assert_eq!(
            item_id_in_url(Platform::Duo, "http://h/duo/goods.html?x=1&goods_id=300000000007"),
            Some(300_000_000_007)
        );
        assert_eq!(item_id_in_url(Platform::Duo, "http://h/mall/item/520000000123.html"), None);
        assert_eq!(item_id_in_url(Platform::Mall, "http://h/duo/goods.html?goods_id=1"), None);
        assert_eq!(item_id_in_url(Platform::Mall, "::"), None);
    }

    #[test]
    fn listed_leaves_out_the_delisted_and_counts_the_rest() {
        let delisted = Delisted::default();
        let ids = [1, 4, 9, 16];
        assert!(delisted.insert(4) && !delisted.insert(4));
        delisted.insert(100);
        assert_eq!(delisted.listed(&ids), [1, 9, 16]);
        assert_eq!(delisted.listed_len(&ids), 3);
        assert!(delisted.remove(4) && !delisted.remove(4));
        assert_eq!(delisted.listed_len(&ids), 4);
    }
}
