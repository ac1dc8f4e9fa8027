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
    "add to cart",
    "add to bag",
    "add to basket",
    "buy now",
    "add to trolley",
    "buy it now",
    "in den warenkorb",
    "jetzt kaufen",
    "ajouter au panier",
    "añadir al carrito",
    "añadir a la cesta",
    "aggiungi al carrello",
    "do košíku",
    "kosárba",
    "в корзину",
    "加入购物车",
    "立即购买",
    "马上抢",
    "立即抢购",
    "カートに入れる",
    "comprar",
];

/// Out-of-stock wording in the languages shops use, lowercased.
pub const OUT_OF_STOCK_WORDS: &[&str] = &[
    "out of stock",
    "sold out",
    "currently unavailable",
    "no longer available",
    "temporarily unavailable",
    "ausverkauft",
    "nicht verfügbar",
    "nicht lieferbar",
    "épuisé",
    "rupture de stock",
    "agotado",
    "sin stock",
    "esaurito",
    "non disponibile",
    "niet op voorraad",
    "uitverkocht",
    "vyprodáno",
    "není skladem",
    "nedostupné",
    "elfogyott",
    "nincs készleten",
    "нет в наличии",
    "在庫切れ",
    "品切れ",
    "无货",
    "已售罄",
    "缺货",
    "售罄",
    "已下架",
    "暂时缺货",
    "已抢光",
    "已售完",
];

/// Class/id words of blocks whose prices are not the main product's.
const ELSEWHERE: &[&str] = &[
    "related",
    "recommend",
    "similar",
    "upsell",
    "up-sell",
    "crosssell",
    "cross-sell",
    "also",
    "recent",
    "carousel",
    "slider",
    "footer",
    "nav",
    "menu",
    "minicart",
    "mini-cart",
    "cart-",
    "basket",
    "bundle",
    "accessor",
    "review",
    "sponsor",
    "advert",
    "banner",
    "promo-",
    "shipping",
    "financ",
    "installment",
    "monthly",
    "reward",
    "points",
    "compare",
    "suggest",
    "widget",
    "sidebar",
];

/// Class/id words of a "was" price.
const WAS: &[&str] = &[
    "old", "was", "standard", "regular", "list", "orig", "strike", "compare", "msrp", "rrp", "before", "retail",
    "save", "saving", "crossed", "del",
];

/// Class/id words of the current price.
const NOW: &[&str] =
    &["sale", "current", "now", "final", "special", "our", "offer", "deal", "actual", "main", "primary", "buy"];

/// Price candidates kept per page, in document order (the main price is near the top).
const MAX_CANDIDATES: usize = 2000;
/// Buy buttons and stock notes kept per page.
const MAX_ANCHORS: usize = 64;

struct Candidate<'a> {
    el: ElementRef<'a>,
    pos: usize,
    money: Money,
    text: String,
}

/// Walk the page once and collect what a person sees.
///
/// `site` holds the words of the site's own name (from its host and
/// `og:site_name`): they are ignored when a heading is compared with the
/// `<title>`, so the site's name in a menu heading does not make it the product's.
pub fn see(html: &Html, comma_decimal: Option<bool>, site: &[String]) -> Seen {
    let mut seen = Seen::default();
    let mut headings: Vec<(usize, String)> = Vec::new();
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
            "h1" if headings.len() < 32 => {
                if let Some(t) = heading_text(el).filter(|t| t.chars().count() <= 400) {
                    headings.push((pos, t));
                }
            }
            _ => {}
        }
        if buy_positions.len() < MAX_ANCHORS && is_buy_button(el) {
            buy_positions.push(pos);
            if !is_disabled(el) {
                seen.buy_button = true;
            }
        }
        // Short elements only: a price block, not a whole section.
        let Some(text) = short_text(el, 80) else { continue };
        let lower = text.to_lowercase();
        if let Some(w) = OUT_OF_STOCK_WORDS.iter().find(|w| lower.contains(*w)) {
            if oos_positions.len() < MAX_ANCHORS {
                oos_positions.push((pos, (*w).to_string()));
            }
        }
        if candidates.len() >= MAX_CANDIDATES || text.chars().count() > 40 || !text.chars().any(|c| c.is_ascii_digit())
        {
            continue;
        }
        // Prices are inline: the shown text is the text nodes joined as they render.
        let Some(text) = parsers::text(&el.text().collect::<String>()) else { continue };
        let text = if marked_amounts(&text) >= 2 && !is_range(&text) {
            // A block holding the "was" and the current price: what is left without the struck one.
            match shown_text_without(el, is_struck).map(|t| t.replace(' ', "")) {
                Some(t) if marked_amounts(&t) == 1 => t,
                _ => continue,
            }
        } else {
            text
        };
        let priced = has_price_hint(el);
        let Some(money) = shown_money(el, &text, comma_decimal) else { continue };
        if (money.currency.is_none() && !priced) || money.amount <= Decimal::ZERO {
            continue;
        }
        if money.currency.is_none() && part_of_marked_price(el, comma_decimal) {
            // `37` of `$<span>37</span><span>30</span>`: the whole block is the candidate.
            continue;
        }
        candidates.push(Candidate { el, pos, money, text });
    }
    // The product's heading: the first `<h1>` the `<title>` agrees with (a
    // "Shop by department" `<h1>` in the menu is not it), else the first.
    let title_words = seen.title_tag.as_deref().map(|t| {
        let lower = t.to_lowercase();
        let words =
            lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty() && !site.iter().any(|s| s == w));
        words.collect::<Vec<_>>().join(" ")
    });
    let shared = |h: &str| match title_words.as_deref() {
        Some(t) if word_overlap(h, t) >= 0.5 => {
            (word_overlap(h, t) * h.split_whitespace().count() as f64 * 100.0) as usize
        }
        _ => 0,
    };
    let best = headings.iter().map(|(_, h)| shared(h)).max().unwrap_or(0);
    let chosen = headings.iter().find(|(_, h)| best > 0 && shared(h) == best).or_else(|| headings.first()).cloned();
    let mut heading_pos = chosen.as_ref().map(|(p, _)| *p);
    seen.heading = chosen.map(|(_, h)| h);
    if heading_pos.is_none() {
        // No `<h1>`: the product's name shown elsewhere (a styled `<div>`) anchors instead.
        heading_pos = seen.title_tag.as_deref().and_then(|t| name_position(html, t));
    }
    seen.prices = candidates
        .iter()
        .map(|c| ShownPrice { money: c.money, score: score(c, heading_pos, &buy_positions), text: c.text.clone() })
        .collect();
    seen.prices.sort_by_key(|p| std::cmp::Reverse(p.score));
    // Stock wording counts only near the heading or a buy button (not in a related item).
    let anchors: Vec<usize> = heading_pos.into_iter().chain(buy_positions.iter().copied()).collect();
    seen.out_of_stock =
        oos_positions.into_iter().find(|(pos, _)| anchors.iter().any(|a| a.abs_diff(*pos) <= 150)).map(|(_, w)| w);
    seen
}

/// The share of `a`'s words that occur in `b` (lowercased).
pub fn word_overlap(a: &str, b: &str) -> f64 {
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
    };
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() {
        return 0.0;
    }
    wa.iter().filter(|w| wb.contains(w)).count() as f64 / wa.len() as f64
}

/// Is `el` a piece of a bigger price block whose text carries a currency?
fn part_of_marked_price(el: ElementRef<'_>, comma_decimal: Option<bool>) -> bool {
    let Some(parent) = el.parent().and_then(ElementRef::wrap) else { return false };
    short_text(parent, 40)
        .and_then(|t| parse_price(&t.replace(' ', ""), comma_decimal))
        .is_some_and(|m| m.currency.is_some())
}

/// The product's part of a `<title>`: `Name | Site`, `Name - Site`, `Site: Name` → the longest part.
pub fn product_part(title: &str) -> Option<String> {
    let best = title
        .split(" | ")
        .flat_map(|p| p.split(" - "))
        .flat_map(|p| p.split(" – "))
        .flat_map(|p| p.split(" — "))
        .flat_map(|p| p.split(" :: "))
        .max_by_key(|p| p.chars().count())?;
    parsers::text(best)
}

/// The position of the first element whose whole text is the product name
/// taken from the `<title>` (its longest `|`/`-` part).
fn name_position(html: &Html, title: &str) -> Option<usize> {
    let name = product_part(title)?.to_lowercase();
    if name.chars().count() < 4 {
        return None;
    }
    html.root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
        .enumerate()
        .skip(1)
        .find(|(_, el)| {
            !matches!(el.value().name(), "title" | "head" | "script" | "style" | "option" | "a")
                && short_text(*el, 300).is_some_and(|t| t.to_lowercase() == name)
        })
        .map(|(pos, _)| pos)
}

/// A heading's text as a person sees it: without hidden helper text
/// (`Details about`), and without the price, rating or SKU blocks some shops
/// put inside it.
fn heading_text(h: ElementRef<'_>) -> Option<String> {
    shown_text_without(h, |e| {
        let ids = class_id(e);
        ["price", "rating", "review", "sku", "item-number"].iter().any(|w| ids.contains(w))
    })
}

/// Is this element hidden from people (`hidden`, `display:none`, screen-reader-only classes)?
pub fn is_hidden(e: ElementRef<'_>) -> bool {
    let v = e.value();
    if v.attr("hidden").is_some() || v.attr("aria-hidden") == Some("true") {
        return true;
    }
    if v.attr("style").is_some_and(|s| s.replace(' ', "").contains("display:none")) {
        return true;
    }
    v.attr("class").is_some_and(|c| {
        c.split_whitespace().any(|c| {
            let c = c.to_ascii_lowercase();
            matches!(
                c.as_str(),
                "hidden"
                    | "hide"
                    | "sr-only"
                    | "visually-hidden"
                    | "visuallyhidden"
                    | "screen-reader-text"
                    | "g-hdn"
                    | "offscreen"
                    | "a-offscreen"
            )
        })
    })
}

/// Is this element struck through, or marked as the old price?
pub fn is_struck(e: ElementRef<'_>) -> bool {
    let v = e.value();
    if matches!(v.name(), "del" | "s" | "strike") || v.attr("style").is_some_and(|s| s.contains("line-through")) {
        return true;
    }
    let ids = class_id(e);
    ["strike", "strikethrough", "old", "was", "regular", "orig", "crossed", "listprice", "standard"]
        .iter()
        .any(|w| has_word(&ids, w))
}

/// The text of `el` without text inside hidden descendants or inside descendants `skip` rejects.
pub fn shown_text_without(el: ElementRef<'_>, skip: impl Fn(ElementRef<'_>) -> bool) -> Option<String> {
    let mut out = String::new();
    for node in el.descendants() {
        let Some(text) = node.value().as_text() else { continue };
        let excluded = node
            .ancestors()
            .take_while(|a| a.id() != el.id())
            .filter_map(ElementRef::wrap)
            .any(|a| is_hidden(a) || skip(a) || matches!(a.value().name(), "script" | "style"));
        if !excluded {
            out.push_str(text);
            out.push(' ');
        }
        if out.len() > 4096 {
            break;
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
    text.char_indices().filter(|(_, c)| matches!(c, '-' | '–' | '—' | '~' | '～' | '至')).any(|(i, c)| {
        let left = text[..i].trim_end();
        let right = text[i + c.len_utf8()..].trim_start();
        left.ends_with(|l: char| l.is_ascii_digit())
            && right.starts_with(|r: char| r.is_ascii_digit() || matches!(r, '$' | '€' | '£' | '¥' | '￥'))
    })
}

/// Labels in a price's own text that say it is not the price to pay now.
const NOT_NOW_LABELS: &[&str] = &[
    "was",
    "list",
    "reg",
    "regular",
    "msrp",
    "rrp",
    "original",
    "compare",
    "before",
    "save",
    "savings",
    "off",
    "shipping",
    "orders",
    "under",
    "over",
    "statt",
    "uvp",
    "avant",
    "antes",
    "prima",
    "原价",
    "市场价",
    "参考价",
    "划线价",
    "吊牌价",
    "省",
];

/// Does the text carry a label like `Was:`, `Save`, `$35 and up`, `原价`?
fn not_now_label(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.split(|c: char| !c.is_alphanumeric()).any(|w| NOT_NOW_LABELS.contains(&w))
        || NOT_NOW_LABELS.iter().filter(|l| !l.is_ascii()).any(|l| lower.contains(l))
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
    if not_now_label(&c.text) {
        s -= 8;
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
        if matches!(name, "del" | "s" | "strike")
            || e.value().attr("style").is_some_and(|st| st.contains("line-through"))
        {
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
