use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Provenance;

/// One product offer as a platform showed it, at one moment.
///
/// Identity is `(platform, item_id)`; the store keeps every distinct version.
/// Field names are the JSON names that `spotcheck extract` prints and the
/// rule engine reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Listing {
    pub platform: String,
    pub item_id: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Price in `currency`, as a decimal string in JSON (`"129.00"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// The struck-through "was" price shown beside the price, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_price: Option<Decimal>,
    /// Prices the page shows for recent days (`YYYY-MM-DD` → price), e.g. a
    /// 近7天价格 block: what a "was" price must be checked against.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub price_history: BTreeMap<String, Decimal>,
    /// ISO 4217 code, e.g. `CNY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<Availability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The platform's own category path, as shown (e.g. `数码 > 移动电源`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Our classification (CCC catalogue code or product class), set by the rule engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalogue_class: Option<String>,
    /// The spec sheet, key → value, as shown (参数/规格).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub specs: BTreeMap<String, String>,
    /// Certificate and licence numbers found on the page (CCC, XK, SC …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    /// 生产厂家 / 制造商
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// 厂址 / 生产地址
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer_address: Option<String>,
    /// Units sold as the page states it ("1.2万" → 12000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// The main description text (advertising claims live here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shop: Option<ShopRef>,
    /// When the page this came from was received (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<DateTime<Utc>>,
    /// The id (SHA-256) of the capture this listing was extracted from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_id: Option<String>,
    /// Field name → where its value came from.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: Provenance,
}

impl Listing {
    /// The store key of this listing's identity: `platform` + `item_id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.platform, self.item_id)
    }

    /// The listing without its capture-specific fields, for detecting whether
    /// a re-crawl saw anything new (a new version is kept only if this differs).
    pub fn content(&self) -> Listing {
        Listing { captured_at: None, capture_id: None, ..self.clone() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Availability {
    InStock,
    OutOfStock,
}

/// A certificate or licence number as found on the page.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Certificate {
    pub kind: CertificateKind,
    /// The number exactly as shown (whitespace trimmed).
    pub number: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateKind {
    /// 强制性产品认证 (3C) certificate number.
    Ccc,
    /// 工业产品生产许可证 (XK).
    Xk,
    /// 食品生产许可证 (SC).
    Sc,
    /// The abolished 食品质量安全 QS mark.
    Qs,
}

impl CertificateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateKind::Ccc => "ccc",
            CertificateKind::Xk => "xk",
            CertificateKind::Sc => "sc",
            CertificateKind::Qs => "qs",
        }
    }
}

/// A listing's pointer to the shop selling it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShopRef {
    pub shop_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Listing {
    /// The fields whose values differ between `self` (expected) and `actual`,
    /// ignoring what only a capture knows (capture id and time, provenance)
    /// and our own classification. Each entry is `field: expected ≠ actual`.
    pub fn diff(&self, actual: &Listing) -> Vec<String> {
        let strip = |l: &Listing| Listing {
            captured_at: None,
            capture_id: None,
            provenance: Default::default(),
            catalogue_class: None,
            ..l.clone()
        };
        let as_map = |l: &Listing| match serde_json::to_value(strip(l)) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let (want, got) = (as_map(self), as_map(actual));
        let mut fields: Vec<&String> = want.keys().chain(got.keys()).collect();
        fields.sort();
        fields.dedup();
        fields
            .into_iter()
            .filter_map(|f| {
                let (w, g) = (want.get(f), got.get(f));
                (w != g).then(|| format!("{f}: {} ≠ {}", show(w), show(g)))
            })
            .collect()
    }
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "(absent)".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_changed_fields_and_ignores_capture_fields() {
        let a =
            Listing {
                platform: "p".into(), item_id: "1".into(), title: Some("充电宝".into()), ..Listing::default()
            };
        let mut b = a.clone();
        b.captured_at = Some(Utc::now());
        b.capture_id = Some("ab".into());
        assert!(a.diff(&b).is_empty());
        b.title = Some("充电器".into());
        b.sales = Some(3);
        let d = a.diff(&b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("sales: (absent) ≠ 3"), "{d:?}");
        assert!(d[1].starts_with("title: "), "{d:?}");
    }
}
