//! Evaluating an adapter on one page: decode, parse once, run each field's
//! fallback chain, and assemble listings, shops and links with provenance.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use regex::{Captures, Regex};
use rust_decimal::Decimal;
use scraper::{ElementRef, Html};
use serde_json::Value as Json;
use url::Url;

use crate::model::{Availability, Certificate, Listing, PageKind, Provenance, Shop, ShopRef};

use super::parsers::{self, Parser};
use super::rules::{Document, Extractor, Field, PageRule, Shape, Source, StateRule};
use super::{Adapter, ExtractError, Extracted, Link};

/// A field's value once parsed.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Price(Decimal),
    Count(u64),
    Availability(Availability),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

/// Everything an extractor may read on one page (or one item of it).
#[derive(Clone)]
struct Page<'a> {
    base: &'a Url,
    raw: &'a str,
    html: Option<&'a Html>,
    json: Option<&'a Json>,
    url_groups: Option<&'a Captures<'a>>,
    specs: BTreeMap<String, String>,
}

/// Decode a body by its BOM or declared `charset`, UTF-8 otherwise; bad bytes
/// become U+FFFD rather than an error.
pub(super) fn decode(body: &[u8]) -> Cow<'_, str> {
    let head = &body[..body.len().min(2048)];
    let declared = find_ascii_ci(head, b"charset=").and_then(|at| {
        let rest = &head[at + b"charset=".len()..];
        let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
        let end = rest.iter().position(|b| matches!(b, b'"' | b'\'' | b';' | b'>' | b' ' | b'/')).unwrap_or(rest.len());
        encoding_rs::Encoding::for_label(&rest[..end])
    });
    let encoding = declared.unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(body);
    text
}

fn find_ascii_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

/// The part of a URL page patterns match: path, plus `?query` when present.
pub(super) fn match_target(url: &Url) -> Cow<'_, str> {
    match url.query() {
        Some(q) => Cow::Owned(format!("{}?{q}", url.path())),
        None => Cow::Borrowed(url.path()),
    }
}

pub(super) fn extract(adapter: &Adapter, url: &Url, body: &[u8]) -> Result<Extracted, ExtractError> {
    let rule = adapter
        .page_rule(url)
        .ok_or_else(|| ExtractError::NoPageKind { adapter: adapter.name.clone(), url: url.to_string() })?;
    let raw = decode(body);
    let target = match_target(url);
    let (html, json) = match rule.document {
        Document::Html => {
            check_nesting(url, &raw)?;
            let html = Html::parse_document(&raw);
            let state = rule.state.as_ref().and_then(|s| find_state(&html, s));
            (Some(html), state)
        }
        Document::Json => {
            let json = serde_json::from_str::<Json>(&raw)
                .map_err(|e| ExtractError::NotJson { url: url.to_string(), reason: e.to_string() })?;
            (None, Some(json))
        }
    };
    let url_groups = rule.url.captures(&target);
    let mut page = Page {
        base: url,
        raw: &raw,
        html: html.as_ref(),
        json: json.as_ref(),
        url_groups: url_groups.as_ref(),
        specs: BTreeMap::new(),
    };
    let drift = |missing: Missing, page: &Page<'_>| {
        let state_missing = page.json.is_none() && rule.state.is_some();
        ExtractError::Drift {
            adapter: adapter.name.clone(),
            url: url.to_string(),
            field: missing.field.to_string(),
            tried: missing.tried,
            note: if state_missing { " (the page's JSON state was not found)" } else { "" },
        }
    };
    let links = page.links(adapter, rule);
    let mut out = Extracted { kind: rule.kind, listings: Vec::new(), shops: Vec::new(), links };
    if let Some(items) = &rule.items {
        // One listing per item node; the fields' JSON paths run on the item.
        let located = match page.json {
            Some(json) => items_of(&items.path, json),
            None => None,
        };
        let Some(located) = located else {
            return Err(drift(Missing { field: "items", tried: items.label.clone() }, &page));
        };
        for (location, node) in located {
            let mut item_page = Page { json: Some(node), specs: BTreeMap::new(), ..page.clone() };
            let (values, mut provenance) = item_page.read_fields(rule).map_err(|m| {
                let tried = format!("{} in item `{location}`", m.tried);
                drift(Missing { tried, ..m }, &item_page)
            })?;
            provenance.insert("item".to_string(), format!("json:{location}"));
            let certificates = item_page.certificates(rule, &mut provenance);
            out.listings.push(listing(adapter, url, values, certificates, provenance));
        }
        return Ok(out);
    }
    let (values, mut provenance) = page.read_fields(rule).map_err(|m| drift(m, &page))?;
    let certificates = page.certificates(rule, &mut provenance);
    match rule.kind {
        PageKind::Item | PageKind::Live => {
            if values.contains_key(&Field::ItemId) {
                out.listings.push(listing(adapter, url, values, certificates, provenance));
            }
        }
        PageKind::Shop => out.shops.push(shop(adapter, url, values, provenance)),
        PageKind::Search => {}
    }
    Ok(out)
}

/// A required field no extractor found: the field and what was tried.
struct Missing {
    field: &'static str,
    tried: String,
}

/// The items an `items` path selects, each with its location
/// (`$['data']['promotions'][0]`): an array node stands for its elements.
/// `None` when the path selects nothing (the list itself is missing).
fn items_of<'j>(path: &serde_json_path::JsonPath, json: &'j Json) -> Option<Vec<(String, &'j Json)>> {
    let located = path.query_located(json);
    if located.is_empty() {
        return None;
    }
    let mut items = Vec::new();
    for node in located.iter() {
        match node.node() {
            Json::Array(elements) => {
                items.extend(elements.iter().enumerate().map(|(i, e)| (format!("{}[{i}]", node.location()), e)));
            }
            Json::Null => {}
            other => items.push((node.location().to_string(), other)),
        }
    }
    Some(items)
}

/// Deeper nesting of block elements than any real page has. The HTML parser
/// takes time quadratic in nesting depth (scope checks walk the open-element
/// stack), so a hostile page of 100,000 nested `<div>`s would stall a worker.
pub(super) const MAX_NESTING: usize = 4096;

/// Refuses a page nested deeper than [`MAX_NESTING`] before it is parsed.
pub(super) fn check_nesting(url: &Url, raw: &str) -> Result<(), ExtractError> {
    let depth = nesting(raw.as_bytes());
    if depth > MAX_NESTING {
        return Err(ExtractError::TooDeep { url: url.to_string(), depth, limit: MAX_NESTING });
    }
    Ok(())
}

/// The deepest nesting of elements, counted on the raw bytes (the HTML parser
/// is quadratic in depth; see [`MAX_NESTING`]). Void elements and
/// those the parser closes by itself (`p`, `li`, `td` …) are not counted, so
/// sloppy real pages are not refused; any other tag, custom ones included, is.
pub(super) fn nesting(body: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'<', &body[i..]) {
        let start = i + at + 1;
        let closing = body.get(start) == Some(&b'/');
        let name_start = (start + usize::from(closing)).min(body.len());
        let name_end =
            body[name_start..].iter().position(|b| !b.is_ascii_alphanumeric()).map_or(body.len(), |n| name_start + n);
        let name = &body[name_start..name_end];
        i = name_end.max(start);
        if !name.first().is_some_and(u8::is_ascii_alphabetic) || uncounted(name) {
            continue;
        }
        let window = &body[name_end..body.len().min(name_end + 512)];
        let self_closing = memchr::memchr(b'>', window).is_some_and(|gt| gt > 0 && window[gt - 1] == b'/');
        if self_closing {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// Void elements, elements the parser closes by itself, raw-text elements
/// and SVG shapes: tags [`nesting`] does not count (ASCII case-insensitive).
fn uncounted(name: &[u8]) -> bool {
    let mut lower = [0u8; 8];
    if name.len() > lower.len() {
        return false;
    }
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    matches!(
        &lower[..name.len()],
        b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
            | b"p"
            | b"li"
            | b"dt"
            | b"dd"
            | b"tr"
            | b"td"
            | b"th"
            | b"option"
            | b"optgroup"
            | b"rb"
            | b"rt"
            | b"rp"
            | b"thead"
            | b"tbody"
            | b"tfoot"
            | b"colgroup"
            | b"caption"
            | b"head"
            | b"body"
            | b"html"
            | b"script"
            | b"style"
            | b"image"
            | b"path"
            | b"use"
            | b"stop"
            | b"rect"
            | b"circle"
            | b"polygon"
            | b"line"
            | b"g"
    )
}

/// The first script matching the state rule that holds a JSON value.
fn find_state(html: &Html, rule: &StateRule) -> Option<Json> {
    for script in html.select(&rule.script) {
        let text: String = script.text().collect();
        let start = match (&rule.prefix, &rule.regex) {
            (Some(prefix), _) => text.find(prefix.as_str()).map(|i| i + prefix.len()),
            (None, Some(re)) => re.captures(&text).and_then(|c| c.name("json").or_else(|| c.get(1))).map(|m| m.start()),
            (None, None) => Some(0),
        };
        let Some(start) = start else { continue };
        let rest = text[start..].trim_start();
        // The JSON ends where the first complete value ends (`;` and more script may follow).
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Json>();
        if let Some(Ok(value)) = stream.next() {
            return Some(value);
        }
    }
    None
}

fn json_text(v: &Json) -> Option<Cow<'_, str>> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// A spec-table value: like [`json_text`], but an array of values (`"vals":
/// ["4G TD-LTE", "4G FDD-LTE"]`) is its values joined by `, `.
fn table_text(v: &Json) -> Option<Cow<'_, str>> {
    match v {
        Json::Array(items) => {
            let parts: Vec<Cow<'_, str>> = items.iter().filter_map(json_text).collect();
            (!parts.is_empty()).then(|| Cow::Owned(parts.join(", ")))
        }
        other => json_text(other),
    }
}

fn element_text(el: ElementRef<'_>) -> String {
    el.text().collect()
}

/// The part of a regex match that is the value: group `value`, else group 1, else all.
fn capture<'t>(c: &Captures<'t>) -> Option<&'t str> {
    c.name("value").or_else(|| c.get(1)).or_else(|| c.get(0)).map(|m| m.as_str())
}

impl<'a> Page<'a> {
    /// Every field's fallback chain, in order; the first required field
    /// that nothing yields stops the page.
    fn read_fields(&mut self, rule: &PageRule) -> Result<(BTreeMap<Field, Value>, Provenance), Missing> {
        let mut values: BTreeMap<Field, Value> = BTreeMap::new();
        let mut provenance = Provenance::new();
        for field_rule in &rule.fields {
            let found = field_rule.chain.iter().find_map(|ex| self.evaluate(field_rule.field, ex).map(|v| (v, ex)));
            match found {
                Some((value, ex)) => {
                    if let (Field::Specs, Value::Map(specs)) = (field_rule.field, &value) {
                        self.specs = specs.clone();
                    }
                    provenance.insert(field_rule.field.name().to_string(), ex.label.clone());
                    values.insert(field_rule.field, value);
                }
                None if field_rule.required => {
                    let tried: Vec<&str> = field_rule.chain.iter().map(|e| e.label.as_str()).collect();
                    return Err(Missing { field: field_rule.field.name(), tried: tried.join(", ") });
                }
                None => {}
            }
        }
        Ok((values, provenance))
    }

    /// Calls `f` with every value the extractor's source and regex yield, until `f` says stop.
    fn each_value(&self, ex: &Extractor, f: &mut dyn FnMut(&str) -> bool) {
        let mut templated = |value: &str| -> bool {
            match &ex.template {
                Some(t) => {
                    let group = |g: &str| self.url_groups.and_then(|c| c.name(g)).map(|m| m.as_str().to_string());
                    t.render(value.trim(), group).is_none_or(|text| f(&text))
                }
                None => f(value),
            }
        };
        let mut mapped = |value: &str| -> bool {
            match ex.map.get(value.trim()) {
                Some(replacement) => templated(replacement),
                None => templated(value),
            }
        };
        let mut filtered = |value: &str| -> bool {
            match &ex.regex {
                None => mapped(value),
                Some(re) => each_match(re, value, ex.all, &mut mapped),
            }
        };
        match &ex.source {
            Source::Css { selector, attr } => {
                let Some(html) = self.html else { return };
                for el in html.select(selector) {
                    let go_on = match attr {
                        Some(a) => el.value().attr(a).is_none_or(&mut filtered),
                        None => filtered(&element_text(el)),
                    };
                    if !go_on {
                        return;
                    }
                }
            }
            Source::Json(path) => {
                let Some(json) = self.json else { return };
                for node in path.query(json).iter() {
                    // With `all`, an array node stands for its elements.
                    let nodes = match node {
                        Json::Array(items) if ex.all => items.iter().collect(),
                        other => vec![*other],
                    };
                    for text in nodes.into_iter().filter_map(json_text) {
                        if !filtered(&text) {
                            return;
                        }
                    }
                }
            }
            Source::Raw => {
                filtered(self.raw);
            }
            Source::Spec(keys) => {
                if let Some(v) = keys.iter().find_map(|k| self.specs.get(k)) {
                    filtered(v);
                }
            }
            Source::UrlGroup(g) => {
                if let Some(m) = self.url_groups.as_ref().and_then(|c| c.name(g)) {
                    filtered(m.as_str());
                }
            }
            Source::Const(v) => {
                filtered(v);
            }
            Source::CssTable { .. } | Source::JsonTable { .. } => {}
        }
    }

    /// Run one extractor for `field`; `None` when it finds nothing usable.
    fn evaluate(&self, field: Field, ex: &Extractor) -> Option<Value> {
        if ex.source.is_table() {
            let map = self.table(&ex.source);
            return (!map.is_empty()).then_some(Value::Map(map));
        }
        match field.shape() {
            Shape::List => {
                let mut items: Vec<String> = Vec::new();
                self.each_value(ex, &mut |v| {
                    if let Some(s) = self.parse_text(ex.parser, v) {
                        if !items.contains(&s) {
                            items.push(s);
                        }
                    }
                    true
                });
                (!items.is_empty()).then_some(Value::List(items))
            }
            Shape::One(_) if ex.all && matches!(ex.parser, Parser::Text | Parser::Raw | Parser::Url) => {
                let mut parts: Vec<String> = Vec::new();
                self.each_value(ex, &mut |v| {
                    parts.extend(self.parse_text(ex.parser, v));
                    true
                });
                (!parts.is_empty()).then(|| Value::Text(parts.join(&ex.join)))
            }
            Shape::One(_) | Shape::Map => {
                let mut found = None;
                self.each_value(ex, &mut |v| {
                    found = self.parse_one(ex.parser, v);
                    found.is_none()
                });
                found
            }
        }
    }

    fn parse_text(&self, parser: Parser, v: &str) -> Option<String> {
        match parser {
            Parser::Raw => (!v.is_empty()).then(|| v.to_string()),
            Parser::Url => parsers::absolute_url(v, self.base),
            _ => parsers::text(v),
        }
    }

    fn parse_one(&self, parser: Parser, v: &str) -> Option<Value> {
        match parser {
            Parser::Text | Parser::Raw | Parser::Url => self.parse_text(parser, v).map(Value::Text),
            Parser::Yuan => parsers::yuan(v).map(Value::Price),
            Parser::Fen => parsers::fen(v).map(Value::Price),
            Parser::Count => parsers::count(v).map(Value::Count),
            Parser::Availability => parsers::availability(v).map(Value::Availability),
        }
    }

    /// A key/value table; the first occurrence of a key wins.
    fn table(&self, source: &Source) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            let key = parsers::text(k.trim_end_matches([':', '：', ' ']));
            if let (Some(key), Some(value)) = (key, parsers::text(v)) {
                map.entry(key).or_insert(value);
            }
        };
        match source {
            Source::CssTable { rows, key, value } => {
                let Some(html) = self.html else { return map };
                for row in html.select(rows) {
                    for (k, v) in row.select(key).zip(row.select(value)) {
                        put(&element_text(k), &element_text(v));
                    }
                }
            }
            Source::JsonTable { path, key, value, split } => {
                let Some(json) = self.json else { return map };
                for node in path.query(json).iter() {
                    let entries: Vec<&Json> = match node {
                        Json::Array(items) => items.iter().collect(),
                        other => vec![other],
                    };
                    for entry in entries {
                        match (entry, key, value) {
                            (Json::Object(o), Some(k), Some(v)) => {
                                if let (Some(k), Some(v)) =
                                    (o.get(k).and_then(json_text), o.get(v).and_then(table_text))
                                {
                                    put(&k, &v);
                                }
                            }
                            (Json::Object(o), _, _) => {
                                for (k, v) in o {
                                    if let Some(v) = table_text(v) {
                                        put(k, &v);
                                    }
                                }
                            }
                            (Json::String(line), _, _) => {
                                if let Some((k, v)) = split.as_deref().and_then(|sep| line.split_once(sep)) {
                                    put(k, v);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        map
    }

    fn certificates(&self, rule: &PageRule, provenance: &mut Provenance) -> Vec<Certificate> {
        let mut found = BTreeSet::new();
        let mut labels = Vec::new();
        for cert in &rule.certificates {
            for ex in &cert.sources {
                let before = found.len();
                self.each_value(ex, &mut |v| {
                    if let Some(number) = parsers::text(v) {
                        found.insert(Certificate { kind: cert.kind, number });
                    }
                    true
                });
                if found.len() > before {
                    labels.push(ex.label.clone());
                }
            }
        }
        if !labels.is_empty() {
            provenance.insert("certificates".to_string(), labels.join(", "));
        }
        found.into_iter().collect()
    }

    fn links(&self, adapter: &Adapter, rule: &PageRule) -> Vec<Link> {
        let mut seen = HashSet::new();
        let mut links = Vec::new();
        for link in &rule.links {
            self.each_value(&link.extractor, &mut |v| {
                let v = v.trim();
                let href = match &link.template {
                    Some(t) => Cow::Owned(t.replace("{}", v)),
                    None => Cow::Borrowed(v),
                };
                let Some(url) = parsers::absolute_url(&href, self.base).and_then(|u| Url::parse(&u).ok()) else {
                    return true;
                };
                let followable = matches!(url.scheme(), "http" | "https") || url.scheme() == self.base.scheme();
                if followable && seen.insert(url.to_string()) {
                    let kind = link.kind.or_else(|| adapter.page_kind(&url));
                    links.push(Link { url, kind });
                }
                true
            });
        }
        links
    }
}

/// Feed `f` the value part of the first match (or every match when `all`).
fn each_match(re: &Regex, text: &str, all: bool, f: &mut dyn FnMut(&str) -> bool) -> bool {
    if all {
        for c in re.captures_iter(text) {
            if let Some(v) = capture(&c) {
                if !f(v) {
                    return false;
                }
            }
        }
        true
    } else {
        match re.captures(text) {
            Some(c) => capture(&c).is_none_or(f),
            None => true,
        }
    }
}

fn take_text(values: &mut BTreeMap<Field, Value>, field: Field) -> Option<String> {
    match values.remove(&field) {
        Some(Value::Text(s)) => Some(s),
        _ => None,
    }
}

fn listing(
    adapter: &Adapter,
    url: &Url,
    mut values: BTreeMap<Field, Value>,
    certificates: Vec<Certificate>,
    mut provenance: Provenance,
) -> Listing {
    let mut l = Listing {
        platform: adapter.platform.clone(),
        item_id: take_text(&mut values, Field::ItemId).unwrap_or_default(),
        url: take_text(&mut values, Field::Url).unwrap_or_else(|| url.to_string()),
        certificates,
        ..Listing::default()
    };
    let shop_id = take_text(&mut values, Field::ShopId);
    let shop_name = take_text(&mut values, Field::ShopName);
    let shop_url = take_text(&mut values, Field::ShopUrl);
    if shop_id.is_some() || shop_name.is_some() {
        l.shop = Some(ShopRef { shop_id: shop_id.unwrap_or_default(), name: shop_name, url: shop_url });
    }
    for (field, value) in values {
        match (field, value) {
            (Field::Price, Value::Price(p)) => l.price = Some(p),
            (Field::OriginalPrice, Value::Price(p)) => l.original_price = Some(p),
            (Field::Availability, Value::Availability(a)) => l.availability = Some(a),
            (Field::Sales, Value::Count(n)) => l.sales = Some(n),
            (Field::Stock, Value::Count(n)) => l.stock = Some(n),
            (Field::Images, Value::List(v)) => l.images = v,
            (Field::Specs, Value::Map(m)) => l.specs = m,
            // Dates with a price the yuan parser reads (`¥129.00`, `129元`); others are dropped.
            (Field::PriceHistory, Value::Map(m)) => {
                l.price_history = m.into_iter().filter_map(|(date, p)| parsers::yuan(&p).map(|p| (date, p))).collect();
            }
            (field, Value::Text(s)) => {
                let slot = match field {
                    Field::Title => &mut l.title,
                    Field::Currency => &mut l.currency,
                    Field::Sku => &mut l.sku,
                    Field::Gtin => &mut l.gtin,
                    Field::Mpn => &mut l.mpn,
                    Field::Brand => &mut l.brand,
                    Field::Model => &mut l.model,
                    Field::Category => &mut l.category,
                    Field::Manufacturer => &mut l.manufacturer,
                    Field::ManufacturerAddress => &mut l.manufacturer_address,
                    Field::Description => &mut l.description,
                    _ => continue,
                };
                *slot = Some(s);
            }
            _ => {}
        }
    }
    if l.currency.is_none() && (l.price.is_some() || l.original_price.is_some()) {
        // The price parsers (`yuan`, `fen`) read Chinese yuan.
        l.currency = Some("CNY".to_string());
        provenance.insert("currency".to_string(), "parser:yuan".to_string());
    }
    l.provenance = provenance;
    l
}

fn shop(adapter: &Adapter, url: &Url, mut values: BTreeMap<Field, Value>, provenance: Provenance) -> Shop {
    Shop {
        platform: adapter.platform.clone(),
        shop_id: take_text(&mut values, Field::ShopId).unwrap_or_default(),
        url: take_text(&mut values, Field::Url).unwrap_or_else(|| url.to_string()),
        name: take_text(&mut values, Field::Name),
        operator_name: take_text(&mut values, Field::OperatorName),
        uscc: take_text(&mut values, Field::Uscc),
        address: take_text(&mut values, Field::Address),
        region_code: take_text(&mut values, Field::RegionCode),
        licence_text: take_text(&mut values, Field::LicenceText),
        provenance,
        ..Shop::default()
    }
}

#[cfg(test)]
mod tests {
    use super::nesting;

    #[test]
    fn nesting_counts_open_elements_only() {
        assert_eq!(nesting(b""), 0);
        assert_eq!(nesting(b"<div><span>x</span><span>y</span></div>"), 2);
        assert_eq!(nesting(b"<div><div><div></div></div></div>"), 3);
        // Void, self-closed, parser-closed and raw-text elements, in any case.
        assert_eq!(nesting(b"<DIV><BR><Img src=x><P><LI><td><Script>a < b</Script><x-y/></DIV>"), 1);
        assert_eq!(nesting(b"<div><colgroup><optgroup><svg><g><path/></g></svg></div>"), 2);
        // Not tags: `<` before a digit, a space or the end.
        assert_eq!(nesting(b"a < b <1 <"), 0);
        // Closing more than was opened never underflows.
        assert_eq!(nesting(b"</div></div><div>"), 1);
        // A name longer than any uncounted one is counted.
        assert_eq!(nesting(b"<blockquotes><blockquotes>"), 2);
    }
}
