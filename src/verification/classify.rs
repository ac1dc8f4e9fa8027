//! Is a listing still on sale? One fetched page, read the way the crawl reads it.
//!
//! - 404 or 410: gone.
//! - 2xx and the platform's adapter extracts the listing with the notice's
//!   item id: still on sale (even when out of stock: it is still offered).
//! - 2xx without the listing, and the page says it is off the shelf
//!   (该商品已下架, 商品不存在 …, as real platforms answer with status 200): gone.
//! - anything else (another status, an unreadable page, no adapter, a fetch
//!   error): unclear — the notice stays due and is checked again next round.
//!   An unclear page never counts as removed.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::adapters::Adapter;

/// Phrases platforms show on the page of a removed listing.
pub const REMOVED_PHRASES: &[&str] =
    &["该商品已下架", "商品已下架", "已下架", "商品不存在", "商品已删除", "宝贝不存在"];

/// What one re-crawl of a listing showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ListingState {
    Gone { how: String },
    OnSale { title: Option<String>, price: Option<String> },
    Unclear { why: String },
}

impl ListingState {
    pub fn is_gone(&self) -> bool {
        matches!(self, ListingState::Gone { .. })
    }

    pub fn is_on_sale(&self) -> bool {
        matches!(self, ListingState::OnSale { .. })
    }
}

/// Classifies the page `url` answered with `status` and `text` for `item_id`.
pub fn classify(
    adapter: Option<&Adapter>,
    url: &Url,
    status: u16,
    body: &[u8],
    text: &str,
    item_id: &str,
) -> ListingState {
    match status {
        404 | 410 => return ListingState::Gone { how: format!("HTTP {status}") },
        200..=299 => {}
        _ => return ListingState::Unclear { why: format!("HTTP {status}") },
    }
    if let Some(adapter) = adapter {
        match adapter.extract(url, body) {
            Ok(extracted) => {
                if let Some(l) = extracted.listings.iter().find(|l| l.item_id == item_id) {
                    return ListingState::OnSale { title: l.title.clone(), price: l.price.map(|p| p.to_string()) };
                }
            }
            Err(e) => tracing::debug!(url = %url, error = %e, "verification: page not extractable"),
        }
    }
    match REMOVED_PHRASES.iter().find(|p| text.contains(*p)) {
        Some(phrase) => ListingState::Gone { how: format!("HTTP {status}, page says {phrase}") },
        None if adapter.is_none() => {
            ListingState::Unclear { why: "no adapter for the platform to read the page".into() }
        }
        None => ListingState::Unclear { why: format!("HTTP {status}, the page shows no listing `{item_id}`") },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn url() -> Url {
        Url::parse("http://127.0.0.1/mall/item/1.html").unwrap()
    }

    #[test]
    fn statuses_and_phrases_decide_without_an_adapter() {
        assert!(classify(None, &url(), 404, b"", "", "1").is_gone());
        assert!(classify(None, &url(), 410, b"", "", "1").is_gone());
        let soft = "<html><body>抱歉，该商品已下架</body></html>";
        assert_eq!(
            classify(None, &url(), 200, soft.as_bytes(), soft, "1"),
            ListingState::Gone { how: "HTTP 200, page says 该商品已下架".into() }
        );
        assert!(matches!(classify(None, &url(), 200, b"<p>hi</p>", "<p>hi</p>", "1"), ListingState::Unclear { .. }));
        assert!(
            matches!(classify(None, &url(), 503, b"", "", "1"), ListingState::Unclear { why } if why == "HTTP 503")
        );
        assert!(matches!(classify(None, &url(), 302, b"", "", "1"), ListingState::Unclear { .. }));
    }
}
