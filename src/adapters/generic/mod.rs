//! The built-in `generic` adapter: a product page from any shop, no adapter file.
//!
//! Sources are read in order of trust, each into [`Facts`]:
//! 1. schema.org JSON-LD ([`jsonld`]: `@graph`, nested and aggregate offers,
//!    broken-but-recoverable JSON);
//! 2. microdata, then RDFa ([`markup`]);
//! 3. OpenGraph / product meta tags ([`markup::meta`]);
//! 4. what a person sees ([`visible`]): the `<h1>`, the price shown near it
//!    and near the buy button, stock wording, buy buttons; and the page text
//!    ([`sheet`]): spec tables, `key：value` lines, SKU/model labels,
//!    CCC/XK/SC numbers, the seller's licence block.
//!
//! Each field takes the first source that has it, with two exceptions where
//! a person's view wins over markup (see [`choose_price`] and [`choose_title`]):
//! a markup price that the page shows differently, and a markup name the
//! heading contradicts. Every value's source is recorded in the listing's
//! provenance (`jsonld`, `microdata`, `rdfa`, `meta`, `page:…`).
//!
//! Identity: the listing's `platform` is the page's host (`web` for files),
//! its `item_id` the canonical URL (`<link rel=canonical>`, else the page URL).

mod jsonld;
mod markup;
pub mod price;
mod sheet;
mod visible;

pub mod score;

use rust_decimal::Decimal;
use scraper::{Html, Selector};
use url::Url;

use super::{extract, parsers, ExtractError, Extracted};
use crate::model::{Availability, Listing, PageKind, Provenance, Shop, ShopRef};

pub use jsonld::{parse_lenient as parse_jsonld, repair as repair_json};

/// The adapter name under which this engine is built in.
pub const NAME: &str = "generic";
/// Its `source` path, as `spotcheck adapters check` shows it.
pub const SOURCE: &str = "builtin:generic";

/// Pages bigger than this are cut before parsing (a product page is never this big).
const MAX_PAGE: usize = 16 << 20;
/// Visible text read for certificates and the seller block.
const MAX_TEXT: usize = 4 << 20;

/// What one source says about the page's main product.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Provenance label: `jsonld`, `microdata`, `rdfa`, `meta`.
    pub source: &'static str,
    pub title: Option<String>,
    pub price: Option<Decimal>,
    /// For a microdata/RDFa price: the text shown where it sits.
    pub price_shown: Option<String>,
    /// The price was read from an element marked as the old/list price.
    pub price_is_was: bool,
    pub currency: Option<String>,
    pub availability: Option<Availability>,
    pub sku: Option<String>,
    pub gtin: Option<String>,
    pub mpn: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub images: Vec<String>,
    pub description: Option<String>,
    pub seller: Option<String>,
}

/// Read one page with the generic rules. Any bytes are accepted.
pub fn extract(url: &Url, body: &[u8]) -> Result<Extracted, ExtractError> {
    let decoded = extract::decode(body);
    let raw = price::truncate(&decoded, MAX_PAGE);
    extract::check_nesting(url, raw)?;
    let html = Html::parse_document(raw);
    Ok(read(&html, url))
}

/// The page's language: `<html lang>`, `content-language`, or `og:locale`.
fn language(html: &Html) -> Option<String> {
    let lang = html.root_element().value().attr("lang").or_else(|| html.root_element().value().attr("xml:lang"));
    if let Some(l) = lang.and_then(parsers::text) {
        return Some(l);
    }
    let sel = Selector::parse("meta").ok()?;
    html.select(&sel).find_map(|m| {
        let v = m.value();
        let key = v.attr("http-equiv").or_else(|| v.attr("property")).or_else(|| v.attr("name"))?.to_ascii_lowercase();
        matches!(key.as_str(), "content-language" | "og:locale")
            .then(|| v.attr("content").and_then(parsers::text))
            .flatten()
    })
}

fn canonical(html: &Html, url: &Url) -> String {
    Selector::parse("link[rel]")
        .ok()
        .and_then(|sel| {
            html.select(&sel)
                .find(|l| l.value().attr("rel").is_some_and(|r| r.eq_ignore_ascii_case("canonical")))
                .and_then(|l| l.value().attr("href"))
                .and_then(|h| parsers::absolute_url(h, url))
        })
        .unwrap_or_else(|| url.to_string())
}

/// The words of the site's own name: its host (page, canonical or `og:url`)
/// without `www`/TLD parts, and `og:site_name`.
fn site_words(html: &Html, url: &Url) -> Vec<String> {
    const GENERIC: &[&str] = &["www", "com", "net", "org", "co", "uk", "de", "cn", "shop", "store", "html"];
    let mut names: Vec<String> = url.host_str().map(str::to_string).into_iter().collect();
    if let Ok(sel) = Selector::parse("link[rel], meta[property]") {
        for el in html.select(&sel) {
            let v = el.value();
            let value = match (v.attr("rel"), v.attr("property")) {
                (Some(rel), _) if rel.eq_ignore_ascii_case("canonical") => v.attr("href"),
                (_, Some("og:url")) => v.attr("content"),
                (_, Some("og:site_name")) => v.attr("content"),
                _ => None,
            };
            if let Some(value) = value {
                let host = Url::parse(value).ok().and_then(|u| u.host_str().map(str::to_string));
                names.push(host.unwrap_or_else(|| value.to_string()));
            }
        }
    }
    let mut words: Vec<String> = names
        .iter()
        .flat_map(|n| n.to_lowercase().split(|c: char| !c.is_alphanumeric()).map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.len() >= 3 && !GENERIC.contains(&w.as_str()))
        .collect();
    words.sort();
    words.dedup();
    words.truncate(16);
    words
}

/// The main description as shown: the first block whose id or class names a
/// description (`product-description`, `desc`, `详情`) with a paragraph's worth of text.
fn shown_description(html: &Html) -> Option<(String, &'static str)> {
    let sel =
        Selector::parse(r#"[id*="descr"], [class*="descr"], [id*="Descr"], [class*="Descr"], [class*="详情"]"#).ok()?;
    html.select(&sel).take(50).find_map(|el| {
        let text = visible::shown_text_without(el, |_| false)?;
        let chars = text.chars().count();
        (40..=20_000).contains(&chars).then(|| (price::truncate(&text, 8192).to_string(), "page:description"))
    })
}

/// The page's main product among the JSON-LD ones (a page may also describe
/// related or bundled products): the one whose name the heading (else the
/// `<title>`) agrees with most, preferring products with a price; else the
/// first with a price, else the first.
fn main_product(mut products: Vec<Facts>, seen: &visible::Seen) -> Option<Facts> {
    let reference = seen.heading.as_deref().or(seen.title_tag.as_deref()).unwrap_or("");
    let agreement = |f: &Facts| f.title.as_deref().map_or(0.0, |t| overlap(t, reference).min(overlap(reference, t)));
    let mut best: Option<(usize, (bool, f64))> = None;
    for (i, f) in products.iter().enumerate() {
        let key = (f.price.is_some(), agreement(f));
        if best.as_ref().is_none_or(|(_, k)| key.0 && !k.0 || (key.0 == k.0 && key.1 > k.1 + 1e-9)) {
            best = Some((i, key));
        }
    }
    best.map(|(i, _)| products.swap_remove(i))
}

/// The image a person sees captioned with the product's name: the first
/// `<img>` whose `alt` is the title, at its largest offered size
/// (`data-old-hires`, `data-zoom-image`, `data-large`, `data-src`, then `src`).
fn captioned_image(html: &Html, title: &str) -> Option<String> {
    let sel = Selector::parse("img[alt]").ok()?;
    html.select(&sel).take(2000).find_map(|img| {
        let v = img.value();
        let alt = v.attr("alt")?;
        if overlap(alt, title) < 0.8 || overlap(title, alt) < 0.5 {
            return None;
        }
        ["data-old-hires", "data-zoom-image", "data-large", "data-src", "src"]
            .iter()
            .filter_map(|a| v.attr(a).map(str::trim))
            .find(|u| !u.is_empty() && !u.starts_with("data:"))
            .map(str::to_string)
    })
}

/// Every source read, in order of trust.
struct Sources {
    structured: Vec<Facts>,
    seen: visible::Seen,
}

impl Sources {
    /// The first structured source with a value for `get`, and its label.
    fn first<T>(&self, get: impl Fn(&Facts) -> Option<T>) -> Option<(T, &'static str)> {
        self.structured.iter().find_map(|f| get(f).map(|v| (v, f.source)))
    }
}

fn read(html: &Html, url: &Url) -> Extracted {
    let lang = language(html);
    let comma = lang.as_deref().and_then(price::comma_decimal_language);
    let site = site_words(html, url);
    let seen = visible::see(html, comma, &site);
    let mut structured = Vec::new();
    structured.extend(main_product(jsonld::products(html, comma), &seen));
    structured.extend(markup::microdata(html, comma));
    structured.extend(markup::rdfa(html, comma));
    structured.push(markup::meta(html, comma));
    let sources = Sources { structured, seen };

    let mut provenance = Provenance::new();
    let mut note = |field: &str, source: &str| {
        provenance.insert(field.to_string(), source.to_string());
    };
    let mut l = Listing {
        platform: url.host_str().map_or_else(|| "web".to_string(), str::to_string),
        item_id: canonical(html, url),
        url: url.to_string(),
        ..Listing::default()
    };
    if let Some((title, source)) = choose_title(&sources) {
        l.title = Some(title);
        note("title", source);
    }
    if let Some((amount, currency, source)) = choose_price(&sources) {
        l.price = Some(amount);
        note("price", source);
        let currency = currency
            .map(|c| (c, source))
            .or_else(|| sources.first(|f| f.currency.clone()))
            .or_else(|| {
                // The same amount shown with its currency sign (`59 Kč` for a bare `59.00` in markup).
                let shown = sources.seen.prices.iter().find(|p| p.money.amount == amount && p.money.currency.is_some());
                shown.and_then(|p| p.money.currency).map(|c| (c.to_string(), "page:price-sign"))
            })
            .or_else(|| {
                // A Chinese page without any currency sign quotes yuan.
                let chinese = lang.as_deref().is_some_and(|l| l.to_ascii_lowercase().starts_with("zh"));
                chinese.then(|| ("CNY".to_string(), "page:language"))
            });
        if let Some((mut c, s)) = currency {
            // `¥` is the yen on Japanese pages.
            if c == "CNY" && lang.as_deref().is_some_and(|l| l.to_ascii_lowercase().starts_with("ja")) {
                c = "JPY".to_string();
            }
            l.currency = Some(c);
            note("currency", s);
        }
    }
    let specs = sheet::specs(html);
    let text = sheet::visible_text(html, MAX_TEXT);
    // Availability: the page's stock wording beats markup (a person sees "sold out").
    let shown = visible::availability(&sources.seen);
    let availability = match (shown, sources.first(|f| f.availability)) {
        (Some((Availability::OutOfStock, s)), _) => Some((Availability::OutOfStock, s)),
        (_, Some(marked)) => Some(marked),
        (shown, None) => shown,
    };
    if let Some((a, s)) = availability {
        l.availability = Some(a);
        note("availability", s);
    }
    let text_field = |get: fn(&Facts) -> Option<String>, labels: &[&str]| {
        sources.first(get).or_else(|| sheet::labelled(&specs, labels).map(|v| (v, "page:spec-label")))
    };
    let fields: [(&str, Option<(String, &'static str)>); 6] = [
        ("sku", text_field(|f| f.sku.clone(), sheet::SKU_LABELS)),
        ("gtin", sources.first(|f| f.gtin.clone())),
        ("mpn", sources.first(|f| f.mpn.clone())),
        ("brand", text_field(|f| f.brand.clone(), sheet::BRAND_LABELS)),
        ("model", text_field(|f| f.model.clone(), sheet::MODEL_LABELS)),
        ("description", sources.first(|f| f.description.clone()).or_else(|| shown_description(html))),
    ];
    for (name, value) in fields {
        let Some((v, s)) = value else { continue };
        let slot = match name {
            "sku" => &mut l.sku,
            "gtin" => &mut l.gtin,
            "mpn" => &mut l.mpn,
            "brand" => &mut l.brand,
            "model" => &mut l.model,
            _ => &mut l.description,
        };
        *slot = Some(v);
        note(name, s);
    }
    if let Some(v) = sheet::labelled(&specs, sheet::MANUFACTURER_LABELS) {
        l.manufacturer = Some(v);
        note("manufacturer", "page:spec-label");
    }
    if let Some(v) = sheet::labelled(&specs, sheet::MANUFACTURER_ADDRESS_LABELS) {
        l.manufacturer_address = Some(v);
        note("manufacturer_address", "page:spec-label");
    }
    if let Some((images, s)) = sources.first(|f| (!f.images.is_empty()).then(|| f.images.clone())) {
        l.images = images.iter().filter_map(|i| parsers::absolute_url(i, url)).collect();
        note("images", s);
    } else if let Some(image) = l.title.as_deref().and_then(|t| captioned_image(html, t)) {
        l.images = parsers::absolute_url(&image, url).into_iter().collect();
        note("images", "page:img-alt");
    }
    if !specs.is_empty() {
        l.specs = specs;
        note("specs", "page:spec-table");
    }
    l.certificates = sheet::certificates(&text);
    if !l.certificates.is_empty() {
        note("certificates", "page:text");
    }
    let mut shops = Vec::new();
    let seller = sheet::seller(&text);
    let seller_name =
        seller.as_ref().and_then(|s| s.name.clone()).or_else(|| sources.first(|f| f.seller.clone()).map(|(v, _)| v));
    if let Some(name) = &seller_name {
        let shop_id = seller.as_ref().and_then(|s| s.uscc.clone()).unwrap_or_else(|| name.clone());
        l.shop = Some(ShopRef { shop_id: shop_id.clone(), name: Some(name.clone()), url: None });
        note("shop", if seller.is_some() { "page:licence" } else { "jsonld" });
    }
    if let Some(s) = seller {
        let mut p = Provenance::new();
        p.insert("licence".to_string(), "page:licence".to_string());
        shops.push(Shop {
            platform: l.platform.clone(),
            shop_id: s.uscc.clone().or_else(|| s.name.clone()).unwrap_or_default(),
            url: url.to_string(),
            name: s.name.clone(),
            operator_name: s.name,
            uscc: s.uscc,
            address: s.address,
            provenance: p,
            ..Shop::default()
        });
    }
    l.provenance = provenance;
    Extracted { kind: PageKind::Item, listings: vec![l], shops, links: Vec::new() }
}

use visible::word_overlap as overlap;

/// The product's name: the markup's, unless the heading a person sees
/// contradicts it; else the heading when the `<title>` or `og:title` agree
/// with it; else `og:title`; else the `<title>` without the site's name.
fn choose_title(s: &Sources) -> Option<(String, &'static str)> {
    let marked =
        s.structured.iter().filter(|f| f.source != "meta").find_map(|f| f.title.clone().map(|t| (t, f.source)));
    let og = s.structured.iter().find(|f| f.source == "meta").and_then(|f| f.title.clone());
    // A one-word heading is a brand or a section, not a product name.
    let heading = s.seen.heading.clone().filter(|h| h.split_whitespace().count() >= 2);
    let tag = s.seen.title_tag.clone();
    let reference = [og.as_deref(), tag.as_deref()];
    let heading_agrees = |h: &str| reference.iter().flatten().any(|r| overlap(h, r) >= 0.5);
    if let Some((t, source)) = marked.filter(|(t, _)| t.chars().count() <= 400) {
        match &heading {
            // The heading shows the name without the variant the markup appends (`Robe - Blue`).
            Some(h) if t.to_lowercase().starts_with(&h.to_lowercase()) && t.len() > h.len() && heading_agrees(h) => {
                return Some((h.clone(), "page:h1"));
            }
            Some(h) if overlap(&t, h) < 0.3 && overlap(h, &t) < 0.3 && heading_agrees(h) => {
                return Some((h.clone(), "page:h1"));
            }
            _ => return Some((t, source)),
        }
    }
    if let Some(h) = heading.as_deref().filter(|h| heading_agrees(h)) {
        return Some((h.to_string(), "page:h1"));
    }
    if let Some(o) = og {
        return Some((o, "meta"));
    }
    if let Some(t) = tag.as_deref().and_then(visible::product_part) {
        return Some((t, "page:title"));
    }
    heading.map(|h| (h, "page:h1"))
}

/// The visible score from which a shown price is trusted on its own.
const SHOWN_ALONE: i32 = 7;

/// The visible score from which a shown price overrides a markup price the page does not show.
const SHOWN_OVER_MARKUP: i32 = 14;

/// The main product's price, its currency when known, and where it came from.
///
/// - A markup price the page does not show anywhere (no shown candidate with
///   a non-negative score equals it) yields to the best shown price when that
///   one scores at least [`SHOWN_OVER_MARKUP`]: markup goes stale, the page
///   is what a buyer saw.
/// - Otherwise the markup price is taken — unless the element carrying a
///   microdata/RDFa price shows a different
///   price (`$28.50+` around `<meta itemprop=price content=25.00>`), the shown
///   one wins: it is what a buyer was offered.
/// - Without markup, the best shown price is taken if its score reaches
///   [`SHOWN_ALONE`] (price-like, near the heading and the buy button, not
///   struck through, not in a related block).
fn choose_price(s: &Sources) -> Option<(Decimal, Option<String>, &'static str)> {
    let shown = &s.seen.prices;
    if let Some(f) = s.structured.iter().find(|f| f.price.is_some()) {
        let amount = f.price?;
        let on_page = shown.iter().any(|p| p.score >= 0 && p.money.amount == amount);
        if let Some(best) = shown.first().filter(|p| !on_page && p.score >= SHOWN_OVER_MARKUP) {
            let cur = best.money.currency.map(str::to_string).or_else(|| f.currency.clone());
            return Some((best.money.amount, cur, "page:price-near-title"));
        }
        if let Some(text) = &f.price_shown {
            if let Some(m) = price::parse_price(text, None) {
                let digits = |d: Decimal| d.normalize().to_string().replace('.', "");
                if m.amount != amount && digits(m.amount) != digits(amount) {
                    let cur = m.currency.map(str::to_string).or_else(|| f.currency.clone());
                    return Some((m.amount, cur, "page:shown-at-markup"));
                }
            }
        }
        return Some((amount, f.currency.clone(), f.source));
    }
    let best = shown.first().filter(|p| p.score >= SHOWN_ALONE)?;
    Some((best.money.amount, best.money.currency.map(str::to_string), "page:price-near-title"))
}

/// The shown price candidates of a page, best first, as `(amount, score, text)`:
/// why the generic adapter chose the price it chose (`spotcheck score --explain`).
pub fn price_candidates(body: &[u8]) -> Vec<(Decimal, i32, String)> {
    let decoded = extract::decode(body);
    let raw = price::truncate(&decoded, MAX_PAGE);
    if extract::nesting(raw.as_bytes()) > extract::MAX_NESTING {
        return Vec::new();
    }
    let html = Html::parse_document(raw);
    let comma = language(&html).as_deref().and_then(price::comma_decimal_language);
    let site = Url::parse("file:///").map(|u| site_words(&html, &u)).unwrap_or_default();
    visible::see(&html, comma, &site).prices.into_iter().map(|p| (p.money.amount, p.score, p.text)).collect()
}

#[cfg(test)]
mod tests;
