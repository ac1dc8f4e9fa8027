//! In-page markup other than JSON-LD: schema.org microdata (`itemscope`,
//! `itemtype`, `itemprop`), RDFa (`typeof`, `property`) and the OpenGraph /
//! Facebook product meta tags (`og:title`, `product:price:amount` …).
//!
//! Microdata and RDFa are read the same way: find the first element scoped
//! as a `Product`, then every property inside it whose chain of nested scopes
//! up to the product is only offers, prices, brands or images — so a related
//! product's or a review's `name` and `price` inside the product are not ours.

use scraper::{ElementRef, Html, Selector};

use super::price::{currency_code, markup_price};
use super::{jsonld, visible, Facts};
use crate::adapters::parsers;

/// How one vocabulary marks scopes, types and properties.
struct Syntax {
    source: &'static str,
    scope: &'static str,
    type_attr: &'static str,
    prop: &'static str,
}

const MICRODATA: Syntax = Syntax { source: "microdata", scope: "itemscope", type_attr: "itemtype", prop: "itemprop" };
const RDFA: Syntax = Syntax { source: "rdfa", scope: "typeof", type_attr: "typeof", prop: "property" };

/// Scopes whose properties still describe the product they sit in. (A
/// `Brand` or `Organization` scope is read as a whole by its `brand`/`seller`
/// property; its own `name` is not the product's.)
const INNER_TYPES: &[&str] =
    &["offer", "aggregateoffer", "pricespecification", "unitpricespecification", "imageobject", "offershippingdetails"];

fn type_name(t: &str) -> String {
    let last = t.split_whitespace().next().unwrap_or("");
    last.rsplit(['/', ':', '#']).next().unwrap_or("").to_ascii_lowercase()
}

fn is_product_type(t: &str) -> bool {
    t.split_whitespace()
        .any(|t| matches!(type_name(t).as_str(), "product" | "individualproduct" | "productmodel" | "productgroup"))
}

/// The product described by microdata, if any.
pub fn microdata(html: &Html, comma_decimal: Option<bool>) -> Option<Facts> {
    read(html, &MICRODATA, comma_decimal)
}

/// The product described by RDFa, if any.
pub fn rdfa(html: &Html, comma_decimal: Option<bool>) -> Option<Facts> {
    read(html, &RDFA, comma_decimal)
}

fn read(html: &Html, syntax: &Syntax, comma_decimal: Option<bool>) -> Option<Facts> {
    let selector = Selector::parse(&format!("[{}]", syntax.type_attr)).ok()?;
    let product = html.select(&selector).find(|e| e.value().attr(syntax.type_attr).is_some_and(is_product_type))?;
    let mut f = Facts { source: syntax.source, ..Facts::default() };
    for node in product.descendants().skip(1) {
        let Some(el) = ElementRef::wrap(node) else { continue };
        let Some(props) = el.value().attr(syntax.prop) else { continue };
        if !belongs_to(el, product, syntax) {
            continue;
        }
        for prop in props.split_whitespace() {
            let name = prop.rsplit([':', '/', '#']).next().unwrap_or(prop).to_ascii_lowercase();
            read_prop(&mut f, &name, el, comma_decimal);
        }
    }
    Some(f)
}

/// Is `el`'s value the product's (only offer-like scopes between them)?
fn belongs_to(el: ElementRef<'_>, product: ElementRef<'_>, syntax: &Syntax) -> bool {
    let mut node = el.parent();
    while let Some(n) = node {
        if n.id() == product.id() {
            return true;
        }
        if let Some(e) = ElementRef::wrap(n) {
            let v = e.value();
            if v.attr(syntax.scope).is_some() || (syntax.scope == "itemscope" && v.attr("itemtype").is_some()) {
                let inner = v.attr(syntax.type_attr).map(type_name).is_some_and(|t| INNER_TYPES.contains(&t.as_str()));
                // An itemprop-bearing scope without a type (e.g. `itemprop="offers" itemscope`) is inner too.
                let untyped_inner = v.attr(syntax.type_attr).is_none() && v.attr(syntax.prop).is_some();
                if !inner && !untyped_inner {
                    return false;
                }
            }
        }
        node = n.parent();
    }
    false
}

/// The text value of a property element: `content`, else its text (also for links).
fn text_value(el: ElementRef<'_>) -> Option<String> {
    if let Some(c) = el.value().attr("content") {
        return parsers::text(c);
    }
    if el.value().name() == "meta" {
        return None;
    }
    // Nested properties are values of their own (`<h1 itemprop=name>Desk <span itemprop=sku>…`).
    visible::shown_text_without(el, |e| e.value().attr("itemprop").is_some() || e.value().attr("property").is_some())
}

/// The value of a property element: `content`, then the URL attribute of link-like elements, then its text.
fn value(el: ElementRef<'_>) -> Option<String> {
    let v = el.value();
    if let Some(c) = v.attr("content") {
        return parsers::text(c);
    }
    let url_attr = match v.name() {
        "a" | "link" | "area" => Some("href"),
        "img" | "source" | "audio" | "video" | "embed" | "iframe" => Some("src"),
        "object" => Some("data"),
        "meta" => Some("content"),
        "data" | "meter" => Some("value"),
        "time" => Some("datetime"),
        _ => None,
    };
    if let Some(attr) = url_attr {
        return v.attr(attr).and_then(parsers::text);
    }
    parsers::text(&el.text().collect::<String>())
}

fn read_prop(f: &mut Facts, name: &str, el: ElementRef<'_>, comma_decimal: Option<bool>) {
    let set = |slot: &mut Option<String>, v: Option<String>| {
        if slot.is_none() {
            *slot = v;
        }
    };
    match name {
        "name" => set(&mut f.title, text_value(el)),
        "sku" | "productid" => set(&mut f.sku, text_value(el)),
        "gtin13" | "gtin" | "gtin12" | "gtin14" | "gtin8" | "isbn" => set(&mut f.gtin, value(el)),
        "mpn" => set(&mut f.mpn, text_value(el)),
        "model" => set(&mut f.model, text_value(el)),
        "description" => set(&mut f.description, text_value(el)),
        "brand" | "manufacturer" => {
            // A Brand scope's own `name` would be read as the product name otherwise; take its text here.
            let v = if el.value().attr("itemscope").is_some() || el.value().attr("typeof").is_some() {
                brand_name(el)
            } else {
                text_value(el)
            };
            set(&mut f.brand, v);
        }
        "image" => {
            if let Some(v) = value(el) {
                if f.images.len() < 32 && !f.images.contains(&v) {
                    f.images.push(v);
                }
            }
        }
        "price" | "lowprice" => {
            // A later price replaces an earlier one only when the earlier was the list price
            // (`price-standard` beside `price-sales`).
            let was = visible::is_struck(el);
            if f.price.is_some() && (was || !f.price_is_was) {
                return;
            }
            // The price to pay, not the struck-through one beside it in the same element.
            let shown = if el.value().attr("content").is_some() {
                None
            } else {
                visible::shown_text_without(el, visible::is_struck)
            };
            let Some(v) = shown.map(|t| t.replace(' ', "")).or_else(|| value(el)) else { return };
            if let Some(m) = markup_price(&v, comma_decimal) {
                f.price = Some(m.amount);
                f.price_is_was = was;
                f.price_shown = shown_text(el);
                if f.currency.is_none() {
                    f.currency = m.currency.map(str::to_string);
                }
            }
        }
        "pricecurrency" | "currency" if f.currency.is_none() => {
            f.currency = value(el).and_then(|c| currency_code(&c)).map(str::to_string);
        }
        "availability" if f.availability.is_none() => {
            f.availability = value(el).and_then(|a| jsonld::availability(&a));
        }
        _ => {}
    }
}

/// The text a person sees where a markup price sits: the element's own text,
/// or its parent's when the price is an invisible `<meta>`.
fn shown_text(el: ElementRef<'_>) -> Option<String> {
    let host = if el.value().name() == "meta" { el.parent().and_then(ElementRef::wrap)? } else { el };
    let text = visible::shown_text_without(host, visible::is_struck)?.replace(' ', "");
    (text.chars().count() <= 60).then_some(text)
}

fn brand_name(el: ElementRef<'_>) -> Option<String> {
    let sel = Selector::parse("[itemprop~=name], [property~=name]").ok()?;
    el.select(&sel).find_map(value).or_else(|| value(el))
}

/// The OpenGraph / product meta tags.
pub fn meta(html: &Html, comma_decimal: Option<bool>) -> Facts {
    let mut f = Facts { source: "meta", ..Facts::default() };
    let Ok(sel) = Selector::parse("meta") else { return f };
    for m in html.select(&sel) {
        let v = m.value();
        let Some(key) = v.attr("property").or_else(|| v.attr("name")) else { continue };
        let Some(content) = v.attr("content").and_then(parsers::text) else { continue };
        let set = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(content.clone());
            }
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "og:title" | "twitter:title" => set(&mut f.title),
            "og:description" | "description" | "twitter:description" => set(&mut f.description),
            "product:brand" | "og:brand" => set(&mut f.brand),
            "product:retailer_item_id" | "product:sku" => set(&mut f.sku),
            "product:gtin" | "product:ean" | "product:upc" => set(&mut f.gtin),
            "product:mfr_part_no" => set(&mut f.mpn),
            "og:image" | "og:image:url" | "og:image:secure_url" | "twitter:image" if f.images.is_empty() => {
                f.images.push(content.clone());
            }
            "product:price:amount" | "og:price:amount" | "product:sale_price:amount" if f.price.is_none() => {
                f.price = markup_price(&content, comma_decimal).map(|m| m.amount);
            }
            "product:price:currency" | "og:price:currency" | "product:sale_price:currency" if f.currency.is_none() => {
                f.currency = currency_code(&content).map(str::to_string);
            }
            "product:availability" | "og:availability" if f.availability.is_none() => {
                f.availability = jsonld::availability(&content.replace(' ', ""));
            }
            _ => {}
        }
    }
    f
}
