//! The compiled form of an adapter: selectors, regexes and JSON paths parsed
//! once at load time, and the output fields they fill.

use regex::Regex;
use scraper::Selector;
use serde_json_path::JsonPath;

use crate::model::{CertificateKind, PageKind};

use super::parsers::{Parser, ValueType};

/// A page kind's rules: which URLs it matches and what to pull out of them.
#[derive(Debug)]
pub(super) struct PageRule {
    pub kind: PageKind,
    /// Matched against the URL's path (+ `?query`).
    pub url: Regex,
    pub document: Document,
    pub state: Option<StateRule>,
    /// One listing per element of these JSON nodes (`items = "…"`), else one per page.
    pub items: Option<ItemsRule>,
    /// In evaluation order: `specs` first, so `spec = "…"` extractors can read it.
    pub fields: Vec<FieldRule>,
    pub certificates: Vec<CertificateRule>,
    pub links: Vec<LinkRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Document {
    Html,
    Json,
}

/// Where a page's list of products is: each node an array (its elements are
/// the items) or an object (one item).
#[derive(Debug)]
pub(super) struct ItemsRule {
    pub path: JsonPath,
    /// `json:$.data.promotions`, for drift errors.
    pub label: String,
}

/// Locates the JSON state object embedded in a script element.
#[derive(Debug)]
pub(super) struct StateRule {
    pub script: Selector,
    pub prefix: Option<String>,
    pub regex: Option<Regex>,
}

/// One output field and its fallback chain (first extractor that yields wins).
#[derive(Debug)]
pub(super) struct FieldRule {
    pub field: Field,
    pub chain: Vec<Extractor>,
    pub required: bool,
}

/// Where values come from, then how they are filtered and parsed.
#[derive(Debug)]
pub(super) struct Extractor {
    pub source: Source,
    /// Take every match (lists, joined text) instead of the first.
    pub all: bool,
    /// Separator when `all` matches fill a text field.
    pub join: String,
    /// Applied to each found value: group `value`, else group 1, else the match.
    pub regex: Option<Regex>,
    /// Exact-value replacements applied (after `regex`) before parsing.
    pub map: std::collections::BTreeMap<String, String>,
    /// `{}` replaced by the value (after `regex` and `map`), before parsing.
    pub template: Option<Template>,
    pub parser: Parser,
    /// Provenance label: `css:h1.title`, `json:$.goods.price` …
    pub label: String,
}

/// A value put into a text: `https://product.suning.com/{shopid}/{}.html`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Text(String),
    /// `{}`: the value.
    Value,
    /// `{name}`: the named group of the page's URL pattern.
    Group(String),
}

impl Template {
    /// Split a template at `{}` and `{name}` (name: lowercase letters, digits, `_`);
    /// any other brace is text.
    pub fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_len = after
                .find('}')
                .filter(|&n| after[..n].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            match name_len {
                Some(n) => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(if n == 0 { Piece::Value } else { Piece::Group(after[..n].to_string()) });
                    rest = &after[n + 1..];
                }
                None => {
                    literal.push('{');
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Template(pieces)
    }

    pub fn has_value(&self) -> bool {
        self.0.contains(&Piece::Value)
    }

    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Group(g) => Some(g.as_str()),
            _ => None,
        })
    }

    /// The text for `value`; `None` when a named group did not take part in the match.
    pub fn render(&self, value: &str, group: impl Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Value => out.push_str(value),
                Piece::Group(g) => out.push_str(&group(g)?),
            }
        }
        Some(out)
    }
}

#[derive(Debug)]
pub(super) enum Source {
    /// Text of the matched elements, or one of their attributes.
    Css {
        selector: Selector,
        attr: Option<String>,
    },
    /// A JSON path into the page's JSON (body or embedded state).
    Json(JsonPath),
    /// The raw page text (only with a regex).
    Raw,
    /// A value of the page's spec sheet, by the first key present.
    Spec(Vec<String>),
    /// A named group of the page's URL pattern.
    UrlGroup(String),
    Const(String),
    /// An HTML key/value table.
    CssTable {
        rows: Selector,
        key: Selector,
        value: Selector,
    },
    /// A JSON key/value table.
    JsonTable {
        path: JsonPath,
        key: Option<String>,
        value: Option<String>,
        split: Option<String>,
    },
}

impl Source {
    pub fn is_table(&self) -> bool {
        matches!(self, Source::CssTable { .. } | Source::JsonTable { .. })
    }
}

/// Certificate numbers of one kind: every value every extractor finds.
#[derive(Debug)]
pub(super) struct CertificateRule {
    pub kind: CertificateKind,
    pub sources: Vec<Extractor>,
}

/// Links to follow (items, next pages, shops).
#[derive(Debug)]
pub(super) struct LinkRule {
    pub extractor: Extractor,
    pub template: Option<String>,
    pub kind: Option<PageKind>,
}

/// The output fields an adapter can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Field {
    /// The canonical URL of the item or shop (default: the page's own URL).
    Url,
    // Listing (item pages)
    ItemId,
    Title,
    Price,
    OriginalPrice,
    /// Date → price table of recent prices shown on the page.
    PriceHistory,
    Currency,
    Availability,
    Sku,
    Gtin,
    Mpn,
    Brand,
    Model,
    Category,
    Specs,
    Manufacturer,
    ManufacturerAddress,
    Sales,
    Stock,
    Images,
    Description,
    ShopId,
    ShopName,
    ShopUrl,
    // Shop (shop pages)
    Name,
    OperatorName,
    Uscc,
    Address,
    RegionCode,
    LicenceText,
}

/// What shape of value a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// One value of this type.
    One(ValueType),
    /// A list of text values.
    List,
    /// A key → value map (tables only).
    Map,
}

const LISTING_FIELDS: &[(&str, Field)] = &[
    ("url", Field::Url),
    ("item_id", Field::ItemId),
    ("title", Field::Title),
    ("price", Field::Price),
    ("original_price", Field::OriginalPrice),
    ("price_history", Field::PriceHistory),
    ("currency", Field::Currency),
    ("availability", Field::Availability),
    ("sku", Field::Sku),
    ("gtin", Field::Gtin),
    ("mpn", Field::Mpn),
    ("brand", Field::Brand),
    ("model", Field::Model),
    ("category", Field::Category),
    ("specs", Field::Specs),
    ("manufacturer", Field::Manufacturer),
    ("manufacturer_address", Field::ManufacturerAddress),
    ("sales", Field::Sales),
    ("stock", Field::Stock),
    ("images", Field::Images),
    ("description", Field::Description),
    ("shop_id", Field::ShopId),
    ("shop_name", Field::ShopName),
    ("shop_url", Field::ShopUrl),
];

const SHOP_FIELDS: &[(&str, Field)] = &[
    ("url", Field::Url),
    ("shop_id", Field::ShopId),
    ("name", Field::Name),
    ("operator_name", Field::OperatorName),
    ("uscc", Field::Uscc),
    ("address", Field::Address),
    ("region_code", Field::RegionCode),
    ("licence_text", Field::LicenceText),
];

/// The fields a page of `kind` may fill, by name.
pub(super) fn fields_for(kind: PageKind) -> &'static [(&'static str, Field)] {
    match kind {
        PageKind::Item | PageKind::Live => LISTING_FIELDS,
        PageKind::Shop => SHOP_FIELDS,
        PageKind::Search => &[],
    }
}

impl Field {
    /// The field's name as written in adapters and printed in provenance.
    pub fn name(self) -> &'static str {
        LISTING_FIELDS.iter().chain(SHOP_FIELDS).find(|(_, f)| *f == self).map(|(n, _)| *n).unwrap_or("?")
    }

    pub fn shape(self) -> Shape {
        match self {
            Field::Price | Field::OriginalPrice => Shape::One(ValueType::Price),
            Field::Sales | Field::Stock => Shape::One(ValueType::Count),
            Field::Availability => Shape::One(ValueType::Availability),
            Field::Images => Shape::List,
            Field::Specs | Field::PriceHistory => Shape::Map,
            _ => Shape::One(ValueType::Text),
        }
    }

    /// The parser used when an extractor names none.
    pub fn default_parser(self) -> Parser {
        match self {
            Field::Price | Field::OriginalPrice => Parser::Yuan,
            Field::Sales | Field::Stock => Parser::Count,
            Field::Availability => Parser::Availability,
            Field::Images | Field::ShopUrl | Field::Url => Parser::Url,
            _ => Parser::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Piece, Template};

    #[test]
    fn templates_split_at_value_and_group_placeholders() {
        let t = Template::parse("https://product.suning.com/{shopid}/{}.html");
        assert_eq!(
            t.0,
            [
                Piece::Text("https://product.suning.com/".into()),
                Piece::Group("shopid".into()),
                Piece::Text("/".into()),
                Piece::Value,
                Piece::Text(".html".into()),
            ]
        );
        assert!(t.has_value());
        let shop = |g: &str| (g == "shopid").then(|| "0070088010".to_string());
        assert_eq!(
            t.render("10750373914", shop).as_deref(),
            Some("https://product.suning.com/0070088010/10750373914.html")
        );
        assert_eq!(t.render("1", |_| None), None, "a group that did not match gives no value");
        // Other braces are text.
        let t = Template::parse("{\"id\": {}} {Upper} {");
        assert_eq!(t.render("7", |_| None).as_deref(), Some("{\"id\": 7} {Upper} {"));
        assert!(!Template::parse("no placeholder").has_value());
    }
}
