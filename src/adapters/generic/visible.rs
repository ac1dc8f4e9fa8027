//! What a person sees: the page's main heading, the price shown near it and
//! near the buy button, stock wording, and buy buttons.
//!
//! One walk over the elements in document order numbers them, notes the
//! first `<h1>`, the buy buttons and every short element that shows a price.
//! Each price candidate is then scored (see [`score`]): price-like class or
//! `itemprop`, a currency sign, closeness to the heading and to the buy
//! button count for it; a struck-through or "was"/"list" price, or one inside
//! a related-items, cart, review or navigation block, counts against it.

use rust_decimal::Decimal;
use scraper::{ElementRef, Html};

use super::price::{parse_price, Money};
use crate::adapters::parsers;
use crate::model::Availability;

/// A price shown on the page, with how much we believe it is the main one.
#[derive(Debug, Clone)]
pub struct ShownPrice {
    pub money: Money,
    pub score: i32,
    /// The text it was read from.
    pub text: String,
}

/// The page as a person sees it, reduced to what the heuristics use.
#[derive(Debug, Default)]
pub struct Seen {
    /// The first non-empty `<h1>`.
    pub heading: Option<String>,
    /// The `<title>`.
    pub title_tag: Option<String>,
    /// Price candidates, best first.
    pub prices: Vec<ShownPrice>,
    /// An enabled buy button was found.
    pub buy_button: bool,
    /// Out-of-stock wording near the product (the words found).
    pub out_of_stock: Option<String>,
}

/// Words on buy buttons, lowercased.
const BUY_WORDS: &[&str] = &[
    "add to cart", "add to bag", "add to basket", "buy now", "add to trolley", "buy it now", "in den warenkorb",
    "jetzt kaufen", "ajouter au panier", "añadir al carrito", "añadir a la cesta", "aggiungi al carrello", "do košíku",
    "kosárba", "в корзину", "加入购物车", "立即购买", "马上抢", "立即抢购", "カートに入れる", "comprar",
];

/// Out-of-stock wording in the languages shops use, lowercased.
pub const OUT_OF_STOCK_WORDS: &[&str] = &[
    "out of stock", "sold out", "currently unavailable", "no longer available", "temporarily unavailable",
    "ausverkauft", "nicht verfügbar", "nicht lieferbar", "épuisé", "rupture de stock", "agotado", "sin stock",
    "esaurito", "non disponibile", "niet op voorraad", "uitverkocht", "vyprodáno", "není skladem", "nedostupné",
    "elfogyott", "nincs készleten", "нет в наличии", "在庫切れ", "品切れ", "无货", "已售罄", "缺货", "售罄", "已下架",
    "暂时缺货", "已抢光", "已售完",
];

/// Class/id words of blocks whose prices are not the main product's.
const ELSEWHERE: &[&str] = &[
    "related", "recommend", "similar", "upsell", "up-sell", "crosssell", "cross-sell", "also", "recent", "carousel",
    "slider", "footer", "nav", "menu", "minicart", "mini-cart", "cart-", "basket", "bundle", "accessor", "review",
    "sponsor", "advert", "banner", "promo-", "shipping", "financ", "installment", "monthly", "reward", "points",
    "compare", "suggest", "widget", "sidebar",
];

/// Class/id words of a "was" price.
const WAS: &[&str] =
    &["old", "was", "regular", "list", "orig", "strike", "compare", "msrp", "rrp", "before", "retail", "save", "saving", "crossed", "del"];

/// Class/id words of the current price.
const NOW: &[&str] = &["sale", "current", "now", "final", "special", "our", "offer", "deal", "actual", "main", "primary", "buy"];

struct Candidate<'a> {
    el: ElementRef<'a>,
    pos: usize,
    money: Money,
    text: String,
}

/// Walk the page once and collect what a person sees.
pub fn see(html: &Html, comma_decimal: Option<bool>) -> Seen {
    let mut seen = Seen::default();
    let mut heading_pos = None;
    let mut buy_positions: Vec<usize> = Vec::new();
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    let mut oos_positions: Vec<(usize, String)> = Vec::new();
    for (pos, el) in html.root_element().descendants().filter_map(ElementRef::wrap).enumerate() {
        let name = el.value().name();
        match name {
            "script" | "style" | "noscript" | "template" | "svg" | "head" => continue,
            "title" if seen.title_tag.is_none() => {
                seen.title_tag = parsers::text(&el.text().collect::<String>());
                continue;
            }
            "h1" if seen.heading.is_none() => {
                if let Some(t) = heading_text(el) {
                    if t.chars().count() <= 400 {
                        seen.heading = Some(t);
                        heading_pos = Some(pos);
                    }
                }
            }
            _ => {}
        }
        if is_buy_button(el) {
            buy_positions.push(pos);
            if !is_disabled(el) {
                seen.buy_button = true;
            }
        }
        // Short elements only: a price block, not a whole section.
        let Some(text) = short_text(el, 80) else { continue };
        let lower = text.to_lowercase();
        if let Some(w) = OUT_OF_STOCK_WORDS.iter().find(|w| lower.contains(*w)) {
            oos_positions.push((pos, (*w).to_string()));
        }
        if text.chars().count() > 40 || !text.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        // Prices are inline: the shown text is the text nodes joined as they render.
        let Some(text) = parsers::text(&el.text().collect::<String>()) else { continue };
        if marked_amounts(&text) >= 2 && !is_range(&text) {
            // A block holding the "was" and the current price: its parts are candidates.
            continue;
        }
        let priced = has_price_hint(el);
        let Some(money) = shown_money(el, &text, comma_decimal) else { continue };
        if (money.currency.is_none() && !priced) || money.amount <= Decimal::ZERO {
            continue;
        }
        candidates.push(Candidate { el, pos, money, text });
    }
    seen.prices = candidates
        .iter()
        .map(|c| ShownPrice { money: c.money, score: score(c, heading_pos, &buy_positions), text: c.text.clone() })
        .collect();
    seen.prices.sort_by_key(|p| std::cmp::Reverse(p.score));
    // Stock wording counts only near the heading or a buy button (not in a related item).
    let anchors: Vec<usize> = heading_pos.into_iter().chain(buy_positions.iter().copied()).collect();
    seen.out_of_stock = oos_positions
        .into_iter()
        .find(|(pos, _)| anchors.iter().any(|a| a.abs_diff(*pos) <= 150))
        .map(|(_, w)| w);
    seen
}

/// A heading's text without the price or rating blocks some shops put inside it.
fn heading_text(h: ElementRef<'_>) -> Option<String> {
    let mut out = String::new();
    for node in h.descendants() {
        let Some(text) = node.value().as_text() else { continue };
        let hidden = node.ancestors().take_while(|a| a.id() != h.id()).filter_map(ElementRef::wrap).any(|a| {
            let ids = class_id(a);
            ids.contains("price") || ids.contains("rating") || ids.contains("review") || matches!(a.value().name(), "script" | "style")
        });
        if !hidden {
            out.push_str(text);
            out.push(' ');
        }
    }
    parsers::text(&out)
}

/// How many amounts in `text` carry a currency sign.
fn marked_amounts(text: &str) -> usize {
    let mut n = 0;
    let mut rest = text;
    while let Some(m) = parse_price(rest, None) {
        if m.currency.is_some() {
            n += 1;
        }
        // Move past this number.
        let Some(at) = rest.find(|c: char| c.is_ascii_digit()) else { break };
        let after = &rest[at..];
        let skip = after.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | ',' | '\''))).unwrap_or(after.len());
        rest = &after[skip..];
        if n >= 2 || rest.is_empty() {
            break;
        }
    }
    n
}

/// `$19.95 – $24.95`, `38.17 - 48.27`: a price range, read as its low end.
fn is_range(text: &str) -> bool {
    ['-', '–', '—', '~', '～', '至'].iter().any(|d| text.contains(*d))
        && text.chars().filter(|c| c.is_alphabetic()).count() <= 6
}

/// The element's text when it is short, else `None` (cheap on big elements).
fn short_text(el: ElementRef<'_>, max_chars: usize) -> Option<String> {
    let mut out = String::new();
    for t in el.text() {
        out.push_str(t);
        out.push(' ');
        if out.len() > max_chars * 4 {
            return None;
        }
    }
    let text = parsers::text(&out)?;
    (text.chars().count() <= max_chars).then_some(text)
}

/// Read a shown price; superscript cents (`$` `31` `57` in separate nodes) are joined as `31.57`.
fn shown_money(el: ElementRef<'_>, text: &str, comma_decimal: Option<bool>) -> Option<Money> {
    let money = parse_price(text, comma_decimal)?;
    let parts: Vec<&str> = el.text().map(str::trim).filter(|t| !t.is_empty()).collect();
    if parts.len() >= 2 && !text.contains(['.', ',']) {
        let (whole, cents) = (parts[parts.len() - 2], parts[parts.len() - 1]);
        if whole.chars().all(|c| c.is_ascii_digit()) && cents.len() == 2 && cents.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(amount) = format!("{whole}.{cents}").parse() {
                return Some(Money { amount, ..money });
            }
        }
    }
    Some(money)
}

fn class_id(el: ElementRef<'_>) -> String {
    let v = el.value();
    let mut s = String::new();
    for attr in ["class", "id", "itemprop", "data-testid", "data-automation", "data-test"] {
        if let Some(a) = v.attr(attr) {
            s.push_str(&a.to_ascii_lowercase());
            s.push(' ');
        }
    }
    s
}

fn has_price_hint(el: ElementRef<'_>) -> bool {
    let mut e = Some(el);
    for _ in 0..3 {
        let Some(cur) = e else { break };
        if class_id(cur).contains("price") {
            return true;
        }
        e = cur.parent().and_then(ElementRef::wrap);
    }
    false
}

fn is_buy_button(el: ElementRef<'_>) -> bool {
    let v = el.value();
    let name = v.name();
    if !matches!(name, "button" | "input" | "a") {
        return false;
    }
    let label = match name {
        "input" => v.attr("value").unwrap_or("").to_lowercase(),
        _ => short_text(el, 40).unwrap_or_default().to_lowercase(),
    };
    let ids = class_id(el);
    BUY_WORDS.iter().any(|w| label.contains(w))
        || ids.contains("add-to-cart")
        || ids.contains("addtocart")
        || ids.contains("add_to_cart")
        || ids.contains("buy-now")
        || ids.contains("buynow")
}

fn is_disabled(el: ElementRef<'_>) -> bool {
    el.value().attr("disabled").is_some() || class_id(el).contains("disabled")
}

/// How likely a shown price is the main product's current price.
fn score(c: &Candidate<'_>, heading: Option<usize>, buys: &[usize]) -> i32 {
    let mut s = 0i32;
    if c.money.currency.is_some() {
        s += 2;
    }
    let own = class_id(c.el);
    if own.contains("price") {
        s += 3;
    }
    if c.el.value().attr("itemprop").is_some_and(|p| p.contains("price")) {
        s += 3;
    }
    let mut depth = 0;
    let mut node = Some(c.el);
    while let Some(e) = node {
        let ids = class_id(e);
        let name = e.value().name();
        if matches!(name, "del" | "s" | "strike") || e.value().attr("style").is_some_and(|st| st.contains("line-through")) {
            s -= 12;
        }
        if depth < 3 {
            if WAS.iter().any(|w| has_word(&ids, w)) {
                s -= 8;
            } else if NOW.iter().any(|w| has_word(&ids, w)) && ids.contains("price") {
                s += 2;
            }
        }
        if ELSEWHERE.iter().any(|w| ids.contains(w)) {
            s -= 6;
            break;
        }
        if matches!(name, "header" | "footer" | "nav" | "aside") {
            s -= 6;
            break;
        }
        depth += 1;
        node = e.parent().and_then(ElementRef::wrap);
    }
    if let Some(h) = heading {
        let d = if c.pos >= h { c.pos - h } else { (h - c.pos) * 2 };
        s += 8 - (d.min(800) / 100) as i32;
    }
    if let Some(d) = buys.iter().map(|b| b.abs_diff(c.pos)).min() {
        s += 4 - (d.min(800) / 200) as i32;
    }
    s
}

/// Does `ids` (space-separated class/id words) contain `w` as a word or a `-`/`_` part?
fn has_word(ids: &str, w: &str) -> bool {
    ids.split(|c: char| !c.is_ascii_alphanumeric()).any(|part| part == w || (w.len() >= 4 && part.starts_with(w)))
}

/// Availability from what a person sees: stock wording near the product, else a buy button.
pub fn availability(seen: &Seen) -> Option<(Availability, &'static str)> {
    if seen.out_of_stock.is_some() {
        Some((Availability::OutOfStock, "page:stock-wording"))
    } else if seen.buy_button {
        Some((Availability::InStock, "page:buy-button"))
    } else {
        None
    }
}
