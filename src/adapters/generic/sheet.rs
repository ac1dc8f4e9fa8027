//! The spec sheet and the numbers regulators look for, from the page's text.
//!
//! - [`specs`]: key/value pairs from two-column table rows (参数/规格 tables),
//!   `dl`/`dt`/`dd` lists, and `key：value` / `key: value` lines in list items
//!   and short paragraphs. The first occurrence of a key wins.
//! - [`certificates`]: CCC certificate numbers (16 digits: year + body +
//!   catalogue code + serial, next to a CCC/3C label), industrial production
//!   licences `XK##-###-#####` (also provincial `(鄂)XK…`), food production
//!   licences `SC` + 14 digits, and the abolished `QS` + 12 digits — anywhere
//!   in the visible text (formats: ../shared/domain-facts.md, "CCC" and
//!   "Identifiers").
//! - [`seller`]: the seller's licence block when shown: 统一社会信用代码
//!   (18 characters, GB 32100-2015 charset), company name and address labels.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Selector};

use crate::adapters::parsers;
use crate::model::{Certificate, CertificateKind};

/// At most this many spec entries are kept (a page is not a catalogue).
const MAX_SPECS: usize = 200;

/// The text a person sees: every text node outside scripts and styles, one line per block.
pub fn visible_text(html: &Html, max_bytes: usize) -> String {
    let mut out = String::new();
    for node in html.root_element().descendants() {
        if out.len() >= max_bytes {
            break;
        }
        if let Some(text) = node.value().as_text() {
            let hidden = node
                .parent()
                .and_then(ElementRef::wrap)
                .is_some_and(|p| matches!(p.value().name(), "script" | "style" | "noscript" | "template" | "title"));
            if !hidden && !text.trim().is_empty() {
                out.push_str(text.trim());
                out.push('\n');
            }
        }
    }
    out
}

fn put(map: &mut BTreeMap<String, String>, key: &str, value: &str) {
    if map.len() >= MAX_SPECS {
        return;
    }
    let key = key.trim().trim_end_matches([':', '：']).trim();
    let (Some(key), Some(value)) = (parsers::text(key), parsers::text(value)) else { return };
    let key_len = key.chars().count();
    if key_len > 30
        || value.chars().count() > 300
        || key.chars().all(|c| c.is_ascii_digit() || c.is_ascii_punctuation())
    {
        return;
    }
    map.entry(key).or_insert(value);
}

fn text_of(el: ElementRef<'_>) -> String {
    el.text().collect::<Vec<_>>().join(" ")
}

/// Key/value pairs from tables, definition lists and `key：value` lines.
pub fn specs(html: &Html) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    if let Ok(rows) = Selector::parse("tr") {
        for row in html.select(&rows).take(2000) {
            let cells: Vec<ElementRef<'_>> = row
                .children()
                .filter_map(ElementRef::wrap)
                .filter(|c| matches!(c.value().name(), "td" | "th"))
                .collect();
            if cells.len() == 2 {
                put(&mut map, &text_of(cells[0]), &text_of(cells[1]));
            }
        }
    }
    if let Ok(dts) = Selector::parse("dt") {
        for dt in html.select(&dts).take(2000) {
            let dd = dt.next_siblings().filter_map(ElementRef::wrap).next();
            if let Some(dd) = dd.filter(|d| d.value().name() == "dd") {
                put(&mut map, &text_of(dt), &text_of(dd));
            }
        }
    }
    if let Ok(lines) = Selector::parse("li, p") {
        for el in html.select(&lines).take(5000) {
            let text = text_of(el);
            if text.len() > 400 {
                continue;
            }
            let Some(text) = parsers::text(&text) else { continue };
            if let Some((k, v)) = text.split_once('：').or_else(|| text.split_once(": ")) {
                put(&mut map, k, v);
            }
        }
    }
    map
}

static CCC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:CCC|3C|强制性产品认证|强制性认证)[^0-9\n]{0,16}?((?:19|20)\d{2}0\d{11})").ok()
});
static XK: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?:[（(][\p{Han}]{1,2}[)）])?XK\d{2}-\d{3}-\d{5}").ok());
static SC: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\bSC\d{14}\b").ok());
static QS: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\bQS\d{12}\b").ok());

/// Certificate and licence numbers in `text`, deduplicated and sorted.
pub fn certificates(text: &str) -> Vec<Certificate> {
    let mut found = std::collections::BTreeSet::new();
    if let Some(re) = CCC.as_ref() {
        for c in re.captures_iter(text) {
            if let Some(m) = c.get(1) {
                found.insert(Certificate { kind: CertificateKind::Ccc, number: m.as_str().to_string() });
            }
        }
    }
    for (re, kind) in [(&XK, CertificateKind::Xk), (&SC, CertificateKind::Sc), (&QS, CertificateKind::Qs)] {
        if let Some(re) = re.as_ref() {
            for m in re.find_iter(text) {
                found.insert(Certificate { kind, number: m.as_str().to_string() });
            }
        }
    }
    found.into_iter().collect()
}

/// A seller's licence details as the page shows them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seller {
    pub name: Option<String>,
    pub uscc: Option<String>,
    pub address: Option<String>,
}

static USCC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?:统一社会信用代码|信用代码|社会信用代码)[\s:：]*([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})",
    )
    .ok()
});
static COMPANY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?:企业名称|公司名称|经营者名称|名称|卖家|商家名称)[\s:：]+([^\n:：]{2,60}?(?:公司|商行|店|厂|经营部|工作室|中心))").ok()
});
static ADDRESS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?:住所|经营地址|企业地址|公司地址|营业执照地址|注册地址|联系地址|地址)[\s:：]+([^\n]{4,100})").ok()
});

/// The seller's licence block, when the text shows one (a USCC or a labelled company name).
pub fn seller(text: &str) -> Option<Seller> {
    let grab = |re: &LazyLock<Option<Regex>>| {
        re.as_ref().and_then(|r| r.captures(text)).and_then(|c| c.get(1)).and_then(|m| parsers::text(m.as_str()))
    };
    let s = Seller { uscc: grab(&USCC), name: grab(&COMPANY), address: grab(&ADDRESS) };
    (s.uscc.is_some() || s.name.is_some()).then_some(s)
}

/// SKU and model numbers from labels in the spec sheet (`SKU`, `货号`, `型号`, `Item #` …).
pub fn labelled(specs: &BTreeMap<String, String>, labels: &[&str]) -> Option<String> {
    specs
        .iter()
        .find(|(k, _)| {
            let k = k.to_lowercase();
            labels.iter().any(|l| k == *l)
        })
        .map(|(_, v)| v.clone())
}

pub const SKU_LABELS: &[&str] = &[
    "sku",
    "sku #",
    "item #",
    "item no.",
    "item number",
    "art.-nr.",
    "artikelnummer",
    "货号",
    "商品编号",
    "商品货号",
    "product code",
    "référence",
];
pub const MODEL_LABELS: &[&str] = &[
    "model",
    "model #",
    "model number",
    "item model number",
    "modell",
    "型号",
    "产品型号",
    "规格型号",
    "3c产品型号",
    "modèle",
];
pub const BRAND_LABELS: &[&str] = &["brand", "marke", "marque", "品牌", "品牌名称"];
pub const MANUFACTURER_LABELS: &[&str] =
    &["manufacturer", "hersteller", "生产厂家", "制造商", "生产企业", "厂名", "生产商"];
pub const MANUFACTURER_ADDRESS_LABELS: &[&str] = &["厂址", "生产地址", "厂家地址", "生产企业地址"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_anywhere() {
        let text = "证书编号：2019011606222162 CCC认证 2020010902123456\n许可证 (鄂)XK12-001-00018 食品 SC10644011500012 QS440012345678";
        let found = certificates(text);
        let kinds: Vec<_> = found.iter().map(|c| (c.kind, c.number.as_str())).collect();
        assert!(kinds.contains(&(CertificateKind::Ccc, "2020010902123456")), "{kinds:?}");
        assert!(kinds.contains(&(CertificateKind::Xk, "(鄂)XK12-001-00018")), "{kinds:?}");
        assert!(kinds.contains(&(CertificateKind::Sc, "SC10644011500012")), "{kinds:?}");
        assert!(kinds.contains(&(CertificateKind::Qs, "QS440012345678")), "{kinds:?}");
    }

    #[test]
    fn seller_block() {
        let s = seller(
            "企业名称：深圳市某某电子有限公司\n统一社会信用代码：91440300715267260X\n住所：深圳市南山区科技园1号",
        )
        .unwrap();
        assert_eq!(s.name.as_deref(), Some("深圳市某某电子有限公司"));
        assert_eq!(s.uscc.as_deref(), Some("91440300715267260X"));
        assert_eq!(s.address.as_deref(), Some("深圳市南山区科技园1号"));
    }

    #[test]
    fn spec_sources() {
        let html = Html::parse_document(
            "<table><tr><th>品牌</th><td>小米</td></tr><tr><td>型号：</td><td>PB1022</td></tr></table>\
             <dl><dt>颜色</dt><dd>白色</dd></dl><ul><li>容量：10000mAh</li><li>Weight: 200 g</li></ul>",
        );
        let s = specs(&html);
        assert_eq!(s.get("品牌").map(String::as_str), Some("小米"));
        assert_eq!(s.get("型号").map(String::as_str), Some("PB1022"));
        assert_eq!(s.get("颜色").map(String::as_str), Some("白色"));
        assert_eq!(s.get("容量").map(String::as_str), Some("10000mAh"));
        assert_eq!(s.get("Weight").map(String::as_str), Some("200 g"));
        assert_eq!(labelled(&s, MODEL_LABELS).as_deref(), Some("PB1022"));
    }
}
