//! Merging (并案): which open case a confirmed finding joins.
//!
//! One operator selling through several shops, or the same product sold by
//! several shops, is one matter for the bureau: handling it as separate cases
//! would split the evidence and the penalty. So a finding joins an open case
//! that already holds the same shop identity (the USCC, which is the same
//! across platforms; the platform shop key when no USCC is shown) or the same
//! product (brand + model, normalised), provided the case saw a finding within
//! the merge window; otherwise it opens a new case.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::Case;

/// The default merge window.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;

/// Why a finding joined a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeReason {
    /// The same operator (USCC), possibly on another platform.
    SameUscc(String),
    /// The same platform shop (no USCC shown).
    SameShop(String),
    /// The same product (normalised brand + model), possibly from another shop.
    SameProduct(String),
}

impl std::fmt::Display for MergeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeReason::SameUscc(u) => write!(f, "same operator: USCC `{u}`"),
            MergeReason::SameShop(s) => write!(f, "same shop `{s}`"),
            MergeReason::SameProduct(p) => write!(f, "same product `{p}` (brand + model)"),
        }
    }
}

/// What identifies a finding for merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeKeys {
    pub uscc: Option<String>,
    /// `platform/shop_id`.
    pub shop: Option<String>,
    pub product: Option<String>,
}

/// `brand|model`, normalised so that spelling variants of one product agree:
/// full-width ASCII folded to half-width, lower case, spaces and the
/// separators `-_/.·` dropped. `None` unless both are present.
pub fn product_key(brand: Option<&str>, model: Option<&str>) -> Option<String> {
    let norm = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            })
            .flat_map(char::to_lowercase)
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '/' | '.' | '·'))
            .collect()
    };
    let (b, m) = (norm(brand?), norm(model?));
    (!b.is_empty() && !m.is_empty()).then(|| format!("{b}|{m}"))
}

/// The open case `keys` should join at `at`, and why: shop identity first
/// (USCC, then shop key), then product; among several, the most recently active.
pub fn choose<'c>(
    cases: impl IntoIterator<Item = &'c Case>,
    keys: &MergeKeys,
    at: DateTime<Utc>,
    window: Duration,
) -> Option<(&'c Case, MergeReason)> {
    let mut best: Option<(&Case, MergeReason, u8)> = None;
    for case in cases {
        if !case.status.is_open() || at.signed_duration_since(case.last_finding_at()) > window {
            continue;
        }
        let reason = if let Some(u) = keys.uscc.as_ref().filter(|u| case.usccs.contains(*u)) {
            (MergeReason::SameUscc(u.clone()), 0u8)
        } else if let Some(s) = keys.shop.as_ref().filter(|s| case.shops.iter().any(|c| &c.key == *s)) {
            (MergeReason::SameShop(s.clone()), 1)
        } else if let Some(p) = keys.product.as_ref().filter(|p| case.products.contains(*p)) {
            (MergeReason::SameProduct(p.clone()), 2)
        } else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((b, _, rank)) => {
                reason.1 < *rank || (reason.1 == *rank && case.last_finding_at() > b.last_finding_at())
            }
        };
        if better {
            best = Some((case, reason.0, reason.1));
        }
    }
    best.map(|(c, r, _)| (c, r))
}

/// A merge window of `days` days.
pub fn window_days(days: i64) -> Duration {
    Duration::days(days.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_keys_fold_case_width_and_separators() {
        assert_eq!(product_key(Some("Anker "), Some("A-1263")), product_key(Some("anker"), Some("Ａ１２６３")));
        assert_eq!(product_key(Some("公牛"), Some("GN-B3")).as_deref(), Some("公牛|gnb3"));
        assert_eq!(product_key(Some("公牛"), None), None);
        assert_eq!(product_key(Some(" "), Some("x")), None);
    }
}
