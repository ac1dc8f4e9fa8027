//! The domain vocabulary: what the pipeline passes from stage to stage.
//!
//! Every type here is plain data (serde), so each stage can be tested on its own
//! and every value can be written to the store, exported, or sealed as evidence.
//! Money is [`Decimal`], never a float; times are UTC.

mod listing;
mod shop;

pub use listing::{Availability, Certificate, CertificateKind, Listing, ShopRef};
pub use shop::Shop;

pub use rust_decimal::Decimal;

/// Where one extracted value came from (a CSS selector, a JSON path, a regex …),
/// keyed by the field name, so the evidence report can point at it.
pub type Provenance = std::collections::BTreeMap<String, String>;

/// The kinds of page an adapter knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    /// Search results or a category list: yields links (items, next page).
    Search,
    /// One product: yields a [`Listing`].
    Item,
    /// A shop's home or licence page: yields a [`Shop`] and links to its items.
    Shop,
    /// A livestream room (completed by the live issue).
    Live,
}

impl PageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::Search => "search",
            PageKind::Item => "item",
            PageKind::Shop => "shop",
            PageKind::Live => "live",
        }
    }
}

impl std::fmt::Display for PageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
