//! Ground truth and reference data the marketplace exports: per listing the
//! [`Listing`] a correct adapter extracts plus the rule ids it breaks; per shop
//! the [`Shop`]; the CCC certificate registry; the past spot-check history.
//!
//! Normalization (what an adapter must do to match field by field):
//! - `price`/`original_price`: decimal yuan with two places (`¥129.00` and fen
//!   `12900` both → `"129.00"`); `currency` is always `CNY`;
//! - `url`, `images`, `shop.url`: absolute, resolved against the base URL;
//! - `sales`: the displayed number (`月销 1.2万+` → 12000, `已拼10万+件` → 100000);
//! - `availability`: `InStock` when stock > 0 (`有货` / `soldOut: false`);
//! - `specs`: every spec row, key → value as shown (mall `3C证书编号`, duo `CCC证书编号`);
//! - `certificates`: the number in the CCC / `生产许可证编号` (XK) /
//!   `食品生产许可证编号` (SC) / `生产许可证` (QS) spec row, exactly as shown;
//! - `brand`, `model`, `manufacturer`, `manufacturer_address`: the 品牌 / 型号 /
//!   生产厂家 / 厂址 rows (absent row → absent field);
//! - `category`: the category path as shown (`数码配件 > 移动电源`);
//! - `catalogue_class`, `captured_at`, `capture_id`, `provenance`: left empty.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use url::Url;

use super::gen::{reference_date, Item, ShopInfo};
use super::rng::{Rng, Stream};
use super::violations::{rule_ids, Registration};
use crate::model::{Availability, CertificateKind, Listing, Shop, ShopRef};

/// One listing's ground truth: the listing's fields flattened (its 7-day price
/// history included), plus `violations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthRecord {
    #[serde(flatten)]
    pub listing: Listing,
    /// Rule ids of issue 4 this listing breaks (including its shop's).
    pub violations: Vec<String>,
}

/// The registry and history exports are written in the row formats the rule
/// engine's importers read ([`crate::rules::reference`]): one definition of each.
pub use crate::rules::{RegistryEntry, SpotCheck as HistoryEntry};

fn absolute(base: &Url, path: &str) -> String {
    base.join(path).map_or_else(|_| path.to_string(), String::from)
}

fn money(fen: u64) -> Decimal {
    Decimal::new(i64::try_from(fen).unwrap_or(i64::MAX), 2)
}

/// The listing a correct adapter extracts from `item`'s page.
pub(crate) fn listing(item: &Item, shop: &ShopInfo, base: &Url) -> Listing {
    Listing {
        platform: item.platform.name().to_string(),
        item_id: item.item_id.to_string(),
        url: absolute(base, &item.path()),
        title: Some(item.title.clone()),
        price: Some(money(item.price_fen)),
        original_price: item.original_fen.map(money),
        currency: Some("CNY".to_string()),
        availability: Some(if item.stock > 0 { Availability::InStock } else { Availability::OutOfStock }),
        brand: Some(item.brand.clone()),
        model: Some(item.model.clone()),
        category: Some(item.class.category.to_string()),
        specs: item.specs.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect(),
        certificates: item.certificate.iter().map(|c| c.certificate.clone()).collect(),
        manufacturer: item.manufacturer.clone(),
        manufacturer_address: item.manufacturer_address.clone(),
        sales: Some(item.sales),
        stock: Some(item.stock),
        images: item.images.iter().map(|p| absolute(base, p)).collect(),
        price_history: item.history.iter().map(|(date, fen)| (date.clone(), money(*fen))).collect(),
        description: Some(item.description.clone()),
        shop: Some(ShopRef {
            shop_id: shop.shop_id.to_string(),
            name: Some(shop.name.clone()),
            url: Some(absolute(base, &shop.path())),
        }),
        ..Listing::default()
    }
}

/// The full truth record of `item`.
pub(crate) fn record(item: &Item, shop: &ShopInfo, base: &Url) -> TruthRecord {
    TruthRecord {
        listing: listing(item, shop, base),
        violations: rule_ids(item.class, &item.flaws, &shop.flaws, &shop.operator.flaws)
            .into_iter()
            .map(String::from)
            .collect(),
    }
}

/// The shop a correct adapter extracts from `shop`'s page.
pub(crate) fn shop(shop: &ShopInfo, base: &Url) -> Shop {
    let shown = !shop.flaws.licence_missing;
    let op = &shop.operator;
    Shop {
        platform: shop.platform.name().to_string(),
        shop_id: shop.shop_id.to_string(),
        url: absolute(base, &shop.path()),
        name: Some(shop.name.clone()),
        operator_name: shown.then(|| op.company.clone()),
        uscc: shown.then(|| op.uscc.clone()),
        address: shown.then(|| op.address.clone()),
        region_code: None,
        licence_text: shown.then(|| shop.scope.clone()),
        ..Shop::default()
    }
}

/// The registry row for `item`'s CCC certificate, if the registry lists it.
pub(crate) fn registry_entry(item: &Item, seed: u64) -> Option<RegistryEntry> {
    let shown = item.certificate.as_ref()?;
    if shown.certificate.kind != CertificateKind::Ccc {
        return None;
    }
    let registration = shown.registration?;
    let status = registration.status()?;
    let mut rng = Rng::new(seed, Stream::Item, u64::from(item.index) | 1 << 41);
    let today = reference_date();
    let year = if registration == Registration::Expired {
        rng.range(2023, u64::from(today.year() as u32) - 1)
    } else {
        rng.range(u64::from(today.year() as u32) + 1, 2029)
    };
    let expiry =
        NaiveDate::from_ymd_opt(year as i32, rng.range(1, 12) as u32, rng.range(1, 28) as u32).unwrap_or(today);
    Some(RegistryEntry {
        number: shown.certificate.number.clone(),
        // The registry knows the holder even when the listing hides the maker.
        holder: item.manufacturer.clone().unwrap_or_else(|| format!("{}制造商", item.brand)),
        product: shown.registered_class.to_string(),
        models: item.model.clone(),
        status: status.to_string(),
        expiry: expiry.format("%Y-%m-%d").to_string(),
    })
}

/// The history rows of `shop`'s operator (emitted once per operator).
pub(crate) fn history_entries(shop: &ShopInfo, layout: &super::layout::Layout) -> Vec<HistoryEntry> {
    let op = &shop.operator;
    op.history(layout)
        .into_iter()
        .map(|(date, product, result)| HistoryEntry {
            uscc: op.uscc.clone(),
            company: op.company.clone(),
            date,
            product: product.to_string(),
            result: result.to_string(),
        })
        .collect()
}
