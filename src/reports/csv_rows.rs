//! CSV of the failing listings, one row per listing. Several values in one
//! cell (rules, finding ids) are joined with `; `.

use serde::{Deserialize, Serialize};

use super::{FailingListing, PublicItem, PublicReport, ReportError, SpotCheckReport};

const JOIN: &str = "; ";

/// One row of the internal CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingRow {
    #[serde(rename = "平台")]
    pub platform: String,
    #[serde(rename = "商品编号")]
    pub item_id: String,
    #[serde(rename = "链接")]
    pub url: String,
    #[serde(rename = "商品名称")]
    pub title: String,
    #[serde(rename = "品牌")]
    pub brand: String,
    #[serde(rename = "型号")]
    pub model: String,
    #[serde(rename = "产品类别")]
    pub catalogue_class: String,
    #[serde(rename = "店铺")]
    pub shop: String,
    #[serde(rename = "统一社会信用代码")]
    pub uscc: String,
    #[serde(rename = "地区")]
    pub region_code: String,
    #[serde(rename = "规则")]
    pub rules: String,
    #[serde(rename = "不合格项目")]
    pub rule_titles: String,
    #[serde(rename = "发现编号")]
    pub finding_ids: String,
}

/// One row of the public CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRow {
    #[serde(rename = "产品名称")]
    pub product: String,
    #[serde(rename = "品牌")]
    pub brand: String,
    #[serde(rename = "型号")]
    pub model: String,
    #[serde(rename = "店铺")]
    pub shop: String,
    #[serde(rename = "统一社会信用代码")]
    pub uscc: String,
    #[serde(rename = "平台")]
    pub platform: String,
    #[serde(rename = "不合格项目")]
    pub failed_items: String,
    #[serde(rename = "结论")]
    pub result: String,
}

impl From<&FailingListing> for ListingRow {
    fn from(l: &FailingListing) -> ListingRow {
        ListingRow {
            platform: l.platform.clone(),
            item_id: l.item_id.clone(),
            url: l.url.clone(),
            title: l.title.clone().unwrap_or_default(),
            brand: l.brand.clone().unwrap_or_default(),
            model: l.model.clone().unwrap_or_default(),
            catalogue_class: l.catalogue_class.clone(),
            shop: l.shop_name.clone().unwrap_or_default(),
            uscc: l.uscc.clone().unwrap_or_default(),
            region_code: l.region_code.clone().unwrap_or_default(),
            rules: l.rules.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(JOIN),
            rule_titles: l.rules.iter().map(|r| r.title.as_str()).collect::<Vec<_>>().join(JOIN),
            finding_ids: l.finding_ids.join(JOIN),
        }
    }
}

impl From<&PublicItem> for PublicRow {
    fn from(i: &PublicItem) -> PublicRow {
        PublicRow {
            product: i.product.clone(),
            brand: i.brand.clone().unwrap_or_default(),
            model: i.model.clone().unwrap_or_default(),
            shop: i.shop.clone().unwrap_or_default(),
            uscc: i.uscc.clone().unwrap_or_default(),
            platform: i.platform.clone(),
            failed_items: i.failed_items.join(JOIN),
            result: i.result.clone(),
        }
    }
}

/// The internal CSV: a header, then one row per failing listing.
pub fn render(report: &SpotCheckReport) -> Result<String, ReportError> {
    write(report.failing_listings.iter().map(ListingRow::from))
}

/// The public CSV: a header, then one row per failing product.
pub fn render_public(report: &PublicReport) -> Result<String, ReportError> {
    write(report.items.iter().map(PublicRow::from))
}

fn write<R: Serialize>(rows: impl Iterator<Item = R>) -> Result<String, ReportError> {
    let failed = |e: &dyn std::fmt::Display| ReportError::Render { format: "CSV", detail: e.to_string() };
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.serialize(row).map_err(|e| failed(&e))?;
    }
    let bytes = out.into_inner().map_err(|e| failed(&e))?;
    String::from_utf8(bytes).map_err(|e| failed(&e))
}
