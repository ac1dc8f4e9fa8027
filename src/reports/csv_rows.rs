//! CSV of the failing listings, one row per listing. Several values in one
//! cell (rules, finding ids) are joined with `; `. A text cell that a
//! spreadsheet would run as a formula (starting `=`, `+`, `-`, `@`, tab or
//! CR) is prefixed with `'`, so a hostile listing title stays text.

use serde::{Deserialize, Serialize};

use super::{FailingListing, PublicItem, PublicReport, ReportError, SpotCheckReport};

const JOIN: &str = "; ";

/// The internal CSV's header (the serde names of [`ListingRow`]).
pub const LISTING_HEADER: [&str; 13] = [
    "平台",
    "商品编号",
    "链接",
    "商品名称",
    "品牌",
    "型号",
    "产品类别",
    "店铺",
    "统一社会信用代码",
    "地区",
    "规则",
    "不合格项目",
    "发现编号",
];

/// The public CSV's header (the serde names of [`PublicRow`]).
pub const PUBLIC_HEADER: [&str; 8] =
    ["产品名称", "品牌", "型号", "店铺", "统一社会信用代码", "平台", "不合格项目", "结论"];

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
            platform: cell(l.platform.clone()),
            item_id: cell(l.item_id.clone()),
            url: cell(l.url.clone()),
            title: cell(l.title.clone().unwrap_or_default()),
            brand: cell(l.brand.clone().unwrap_or_default()),
            model: cell(l.model.clone().unwrap_or_default()),
            catalogue_class: cell(l.catalogue_class.clone()),
            shop: cell(l.shop_name.clone().unwrap_or_default()),
            uscc: cell(l.uscc.clone().unwrap_or_default()),
            region_code: l.region_code.clone().unwrap_or_default(),
            rules: l.rules.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(JOIN),
            rule_titles: cell(l.rules.iter().map(|r| r.title.as_str()).collect::<Vec<_>>().join(JOIN)),
            finding_ids: l.finding_ids.join(JOIN),
        }
    }
}

impl From<&PublicItem> for PublicRow {
    fn from(i: &PublicItem) -> PublicRow {
        PublicRow {
            product: cell(i.product.clone()),
            brand: cell(i.brand.clone().unwrap_or_default()),
            model: cell(i.model.clone().unwrap_or_default()),
            shop: cell(i.shop.clone().unwrap_or_default()),
            uscc: cell(i.uscc.clone().unwrap_or_default()),
            platform: cell(i.platform.clone()),
            failed_items: cell(i.failed_items.join(JOIN)),
            result: i.result.clone(),
        }
    }
}

/// `text`, with a `'` in front when a spreadsheet would read it as a formula.
pub fn cell(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// The internal CSV: a header, then one row per failing listing.
pub fn render(report: &SpotCheckReport) -> Result<String, ReportError> {
    write(&LISTING_HEADER, report.failing_listings.iter().map(ListingRow::from))
}

/// The public CSV: a header, then one row per failing product.
pub fn render_public(report: &PublicReport) -> Result<String, ReportError> {
    write(&PUBLIC_HEADER, report.items.iter().map(PublicRow::from))
}

/// The header, then the rows (the header is written even when there are no rows).
fn write<R: Serialize>(header: &[&str], rows: impl Iterator<Item = R>) -> Result<String, ReportError> {
    let failed = |e: &dyn std::fmt::Display| ReportError::Render { format: "CSV", detail: e.to_string() };
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    out.write_record(header).map_err(|e| failed(&e))?;
    for row in rows {
        out.serialize(row).map_err(|e| failed(&e))?;
    }
    let bytes = out.into_inner().map_err(|e| failed(&e))?;
    String::from_utf8(bytes).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_report_is_a_header_only() {
        let csv = write::<ListingRow>(&LISTING_HEADER, std::iter::empty()).unwrap_or_default();
        assert_eq!(csv, format!("{}\n", LISTING_HEADER.join(",")));
    }

    #[test]
    fn header_names_the_row_fields() {
        let row = PublicRow {
            product: "p".into(),
            brand: String::new(),
            model: String::new(),
            shop: String::new(),
            uscc: String::new(),
            platform: String::new(),
            failed_items: String::new(),
            result: String::new(),
        };
        let csv = write(&PUBLIC_HEADER, std::iter::once(row.clone())).unwrap_or_default();
        let back: Vec<PublicRow> = csv::Reader::from_reader(csv.as_bytes()).deserialize().flatten().collect();
        assert_eq!(back, vec![row]);
    }

    #[test]
    fn formula_cells_become_text() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")".into()), "'=HYPERLINK(\"http://x\")");
        assert_eq!(cell("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(cell("-1+1".into()), "'-1+1");
        assert_eq!(cell("充电宝 =".into()), "充电宝 =");
        assert_eq!(cell(String::new()), "");
    }
}
