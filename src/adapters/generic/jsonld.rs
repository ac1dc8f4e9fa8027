//! schema.org JSON-LD: `<script type="application/ld+json">` blocks.
//!
//! Real blocks are often not valid JSON: HTML comments or CDATA around them,
//! raw newlines inside strings, trailing commas, two objects back to back,
//! a block cut short. [`parse_lenient`] repairs what it can (see [`repair`])
//! and keeps every value it can read. [`products`] then walks every value
//! (`@graph`, arrays, nested `mainEntity`/`itemListElement` …) for `Product`
//! nodes and reads each into [`Facts`]; values of the wrong type (a number
//! where a string was expected, an object where a list was) are read as well
//! as they can be, or skipped — never a panic.

use rust_decimal::Decimal;
use scraper::{Html, Selector};
use serde_json::{Map, Value as Json};

use super::price::{currency_code, markup_price, plain_amount, truncate, Money};
use super::Facts;
use crate::adapters::parsers;
use crate::model::Availability;

/// Deeper JSON than this is not walked (hostile input).
const MAX_DEPTH: usize = 32;
/// Bigger script blocks than this are cut (a product is never this big).
const MAX_BLOCK: usize = 2 << 20;

/// Every product described by the page's JSON-LD blocks, in page order.
pub fn products(html: &Html, comma_decimal: Option<bool>) -> Vec<Facts> {
    let Ok(scripts) = Selector::parse("script") else { return Vec::new() };
    let mut out = Vec::new();
    for script in html.select(&scripts) {
        let is_ld = script.value().attr("type").is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"));
        if !is_ld {
            continue;
        }
        let text: String = script.text().collect();
        for value in parse_lenient(truncate(&text, MAX_BLOCK)) {
            let mut nodes = Vec::new();
            collect_products(&value, 0, &mut nodes);
            out.extend(nodes.into_iter().map(|n| facts(n, comma_decimal)));
        }
    }
    out
}

/// The JSON values in a script block, repaired when needed.
pub fn parse_lenient(text: &str) -> Vec<Json> {
    let trimmed = strip_wrappers(text);
    if let Ok(v) = serde_json::from_str::<Json>(trimmed) {
        return vec![v];
    }
    let repaired = repair(trimmed);
    let mut values = Vec::new();
    for v in serde_json::Deserializer::from_str(&repaired).into_iter::<Json>() {
        match v {
            Ok(v) => values.push(v),
            Err(_) => break,
        }
    }
    values
}

/// Remove comment and CDATA wrappers and a trailing `;`.
fn strip_wrappers(text: &str) -> &str {
    let mut t = text.trim();
    for prefix in ["<!--", "//<![CDATA[", "<![CDATA["] {
        t = t.strip_prefix(prefix).unwrap_or(t).trim_start();
    }
    for suffix in ["-->", "//]]>", "]]>", ";"] {
        t = t.strip_suffix(suffix).unwrap_or(t).trim_end();
    }
    t
}

/// Make almost-JSON parse: escape raw control characters inside strings,
/// drop invalid escapes (`\'`), drop trailing commas, separate values written
/// back to back, and close strings, arrays and objects left open at the end.
pub fn repair(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut stack: Vec<char> = Vec::new();
    let mut in_string = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u')) => {
                        out.push('\\');
                        out.push(e);
                    }
                    Some(other) => out.push(other),
                    None => {}
                },
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {}
                c => out.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push('"');
            }
            '{' | '[' => {
                if stack.len() >= MAX_DEPTH * 4 {
                    break;
                }
                stack.push(if c == '{' { '}' } else { ']' });
                out.push(c);
            }
            '}' | ']' => {
                // Drop a trailing comma before the closer.
                let len = out.trim_end().len();
                out.truncate(len);
                if out.ends_with(',') {
                    out.pop();
                }
                if stack.last() == Some(&c) {
                    stack.pop();
                    out.push(c);
                }
                if stack.is_empty() {
                    // A complete value; another may follow without a separator.
                    out.push('\n');
                }
            }
            c => out.push(c),
        }
    }
    if in_string {
        out.push('"');
    }
    while let Some(closer) = stack.pop() {
        let len = out.trim_end().len();
        out.truncate(len);
        if out.ends_with(',') || out.ends_with(':') {
            if out.ends_with(':') {
                out.push_str("null");
            } else {
                out.pop();
            }
        }
        out.push(closer);
    }
    out
}

fn has_type(node: &Map<String, Json>, wanted: &[&str]) -> bool {
    let matches = |t: &str| {
        let t = t.rsplit(['/', ':']).next().unwrap_or(t);
        wanted.iter().any(|w| t.eq_ignore_ascii_case(w))
    };
    match node.get("@type") {
        Some(Json::String(t)) => matches(t),
        Some(Json::Array(ts)) => ts.iter().any(|t| t.as_str().is_some_and(matches)),
        _ => false,
    }
}

const PRODUCT_TYPES: &[&str] =
    &["Product", "ProductGroup", "IndividualProduct", "ProductModel", "SomeProducts", "Vehicle", "Car"];

fn collect_products<'a>(value: &'a Json, depth: usize, out: &mut Vec<&'a Map<String, Json>>) {
    if depth > MAX_DEPTH || out.len() > 64 {
        return;
    }
    match value {
        Json::Array(items) => items.iter().for_each(|v| collect_products(v, depth + 1, out)),
        Json::Object(node) => {
            if has_type(node, PRODUCT_TYPES) {
                out.push(node);
                // A ProductGroup's variants are products too, but the group comes first.
                if let Some(v) = node.get("hasVariant") {
                    collect_products(v, depth + 1, out);
                }
                return;
            }
            for (key, v) in node {
                if matches!(
                    key.as_str(),
                    "@graph" | "mainEntity" | "mainEntityOfPage" | "itemListElement" | "item" | "about"
                ) || depth == 0
                {
                    collect_products(v, depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

/// A JSON value as text: strings as they are, numbers written out; objects by their `name`/`@id`/`url`.
fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => parsers::text(&html_unescape(s)),
        Json::Number(n) => Some(n.to_string()),
        Json::Array(items) => items.iter().find_map(text),
        Json::Object(o) => ["name", "@value", "value", "url", "@id"].iter().find_map(|k| o.get(*k).and_then(text)),
        _ => None,
    }
}

/// JSON-LD written by templates sometimes carries HTML entities.
fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#039;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn urls(v: &Json, out: &mut Vec<String>, depth: usize) {
    if depth > 4 || out.len() >= 32 {
        return;
    }
    match v {
        Json::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
        Json::Array(items) => items.iter().for_each(|i| urls(i, out, depth + 1)),
        Json::Object(o) => {
            if let Some(u) = o.get("url").or_else(|| o.get("contentUrl")).or_else(|| o.get("@id")) {
                urls(u, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// A price value: a JSON number exactly, or a text price in the page's locale.
pub fn price_value(v: &Json, comma_decimal: Option<bool>) -> Option<Money> {
    match v {
        Json::Number(n) => n.to_string().parse::<Decimal>().ok().and_then(plain_amount),
        // Markup prices are machine-written: `1299.00`, or `1.299,00` on comma-decimal pages.
        Json::String(s) => markup_price(s, comma_decimal),
        Json::Array(items) => items.iter().find_map(|i| price_value(i, comma_decimal)),
        _ => None,
    }
}

/// schema.org availability (`https://schema.org/InStock`, `OutOfStock`, `SoldOut` …).
pub fn availability(s: &str) -> Option<Availability> {
    let last = s.trim().rsplit(['/', ':']).next().unwrap_or("").to_ascii_lowercase();
    match last.as_str() {
        "instock"
        | "in_stock"
        | "limitedavailability"
        | "onlineonly"
        | "instoreonly"
        | "preorder"
        | "presale"
        | "backorder"
        | "madetoorder" => Some(Availability::InStock),
        "outofstock" | "out_of_stock" | "soldout" | "discontinued" => Some(Availability::OutOfStock),
        _ => parsers::availability(s),
    }
}

/// Read one offer (Offer or AggregateOffer, possibly a list) into `f`.
fn read_offers(v: &Json, f: &mut Facts, comma_decimal: Option<bool>, depth: usize) {
    if depth > 4 {
        return;
    }
    let node = match v {
        Json::Array(items) => {
            // Several offers: the first one with a price (sellers usually list the main one first).
            for item in items.iter().take(64) {
                read_offers(item, f, comma_decimal, depth + 1);
                if f.price.is_some() {
                    return;
                }
            }
            return;
        }
        Json::Object(o) => o,
        _ => return,
    };
    let price = node
        .get("price")
        .and_then(|p| price_value(p, comma_decimal))
        .or_else(|| node.get("lowPrice").and_then(|p| price_value(p, comma_decimal)))
        .or_else(|| {
            node.get("priceSpecification").and_then(|s| match s {
                Json::Object(o) => o.get("price").and_then(|p| price_value(p, comma_decimal)),
                Json::Array(a) => a.iter().find_map(|s| s.get("price").and_then(|p| price_value(p, comma_decimal))),
                _ => None,
            })
        });
    if f.currency.is_none() {
        let code = node
            .get("priceCurrency")
            .or_else(|| node.get("priceSpecification").and_then(|s| s.get("priceCurrency")))
            .and_then(text)
            .and_then(|c| currency_code(&c));
        f.currency = code.map(str::to_string);
    }
    if f.availability.is_none() {
        f.availability = node.get("availability").and_then(text).and_then(|a| availability(&a));
    }
    if f.seller.is_none() {
        f.seller = node.get("seller").and_then(text);
    }
    match price {
        Some(m) if m.amount > Decimal::ZERO => {
            f.price = Some(m.amount);
            if f.currency.is_none() {
                f.currency = m.currency.map(str::to_string);
            }
        }
        _ => {
            if let Some(inner) = node.get("offers") {
                read_offers(inner, f, comma_decimal, depth + 1);
            }
        }
    }
}

/// Read one Product node.
pub fn facts(node: &Map<String, Json>, comma_decimal: Option<bool>) -> Facts {
    let get = |k: &str| node.get(k).and_then(text);
    let mut f = Facts {
        source: "jsonld",
        title: get("name"),
        sku: get("sku").or_else(|| get("productID")),
        gtin: ["gtin13", "gtin", "gtin12", "gtin14", "gtin8", "isbn"].iter().find_map(|k| get(k)),
        mpn: get("mpn"),
        brand: get("brand").or_else(|| get("manufacturer")),
        model: get("model"),
        description: get("description"),
        ..Facts::default()
    };
    if let Some(images) = node.get("image") {
        urls(images, &mut f.images, 0);
    }
    if let Some(offers) = node.get("offers") {
        read_offers(offers, &mut f, comma_decimal, 0);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(html: &str) -> Facts {
        products(&Html::parse_document(html), None).into_iter().next().unwrap_or_default()
    }

    #[test]
    fn graph_nested_offers_and_aggregate() {
        let f = first(
            r#"<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebPage"},
            {"@type":["Product"],"name":"Kettle","sku":123,"brand":{"@type":"Brand","name":"Acme"},
             "image":[{"url":"/a.jpg"},"/b.jpg"],
             "offers":{"@type":"AggregateOffer","lowPrice":"19.90","highPrice":"29.90","priceCurrency":"eur",
               "offers":[{"@type":"Offer","price":"19.90"}]}}]}</script>"#,
        );
        assert_eq!(f.title.as_deref(), Some("Kettle"));
        assert_eq!(f.sku.as_deref(), Some("123"));
        assert_eq!(f.brand.as_deref(), Some("Acme"));
        assert_eq!(f.images, ["/a.jpg", "/b.jpg"]);
        assert_eq!(f.price.map(|p| p.to_string()).as_deref(), Some("19.90"));
        assert_eq!(f.currency.as_deref(), Some("EUR"));
    }

    #[test]
    fn broken_json_is_repaired() {
        let f = first(
            "<script type=\"application/ld+json\"><!-- {\"@type\":\"Product\",\"name\":\"Two\nlines\",\
             \"offers\":[{\"price\":12.5,\"availability\":\"http://schema.org/OutOfStock\",},] --></script>",
        );
        assert_eq!(f.title.as_deref(), Some("Two lines"));
        assert_eq!(f.price.map(|p| p.to_string()).as_deref(), Some("12.5"));
        assert_eq!(f.availability, Some(Availability::OutOfStock));
        // Truncated: what was read survives.
        let f = first(r#"<script type="application/ld+json">{"@type":"Product","name":"Cut","offers":{"price":"9"#);
        assert_eq!(f.title.as_deref(), Some("Cut"));
    }

    #[test]
    fn wrong_types_do_not_panic() {
        let f = first(
            r#"<script type="application/ld+json">[{"@type":"Product","name":["A"],"offers":"free","image":7,
            "brand":null,"sku":{"x":1}},{"@type":5}]</script>"#,
        );
        assert_eq!(f.title.as_deref(), Some("A"));
        assert_eq!(f.price, None);
    }
}
