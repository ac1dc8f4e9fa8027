//! Value parsers: turn the text an extractor found into the typed value a
//! field holds (`"¥1,299.00"` → `1299.00`, `"1.2万+"` → `12000`, `"无货"` →
//! `OutOfStock`).
//!
//! Every parser is total: any input gives `Some(value)` or `None`, never a
//! panic, so a garbage page can at worst leave a field empty.

use rust_decimal::Decimal;
use url::Url;

use crate::model::Availability;

/// The value parsers an adapter may name in `parse = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// Trim and collapse runs of whitespace (including full-width spaces) to one space.
    Text,
    /// The value exactly as found.
    Raw,
    /// A price in yuan as shown: `¥1,299.00`, `￥ 129`, `129元`, `1.5万`.
    Yuan,
    /// An integer number of fen (1/100 yuan), as JSON APIs often carry prices.
    Fen,
    /// A count as shown: `1.2万+`, `10万+`, `3千`, `月销 2,345`.
    Count,
    /// A URL, resolved against the page's URL when relative.
    Url,
    /// Availability words: 有货/现货/在售 → in stock; 无货/缺货/已售罄/下架 → out of stock.
    Availability,
}

/// What a parser yields, so the loader can check it fits the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Text,
    Price,
    Count,
    Availability,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Text => "text",
            ValueType::Price => "a price",
            ValueType::Count => "a count",
            ValueType::Availability => "an availability",
        }
    }
}

impl Parser {
    /// Every parser name, for error messages.
    pub const NAMES: &'static [&'static str] = &["text", "raw", "yuan", "fen", "count", "url", "availability"];

    pub fn from_name(name: &str) -> Option<Parser> {
        Some(match name {
            "text" => Parser::Text,
            "raw" => Parser::Raw,
            "yuan" => Parser::Yuan,
            "fen" => Parser::Fen,
            "count" => Parser::Count,
            "url" => Parser::Url,
            "availability" => Parser::Availability,
            _ => return None,
        })
    }

    pub fn output(self) -> ValueType {
        match self {
            Parser::Text | Parser::Raw | Parser::Url => ValueType::Text,
            Parser::Yuan | Parser::Fen => ValueType::Price,
            Parser::Count => ValueType::Count,
            Parser::Availability => ValueType::Availability,
        }
    }
}

/// Trim and collapse whitespace runs (ASCII, NBSP, U+3000 …) into one space.
pub fn text(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    (!out.is_empty()).then_some(out)
}

/// The first decimal number in `s` (commas as thousands separators allowed),
/// and the rest of the string after it.
fn first_number(s: &str) -> Option<(Decimal, &str)> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let tail = &s[start..];
    let mut digits = String::new();
    let mut seen_dot = false;
    let mut end = tail.len();
    for (i, c) in tail.char_indices() {
        match c {
            '0'..='9' => digits.push(c),
            ',' if !seen_dot && tail[i + 1..].starts_with(|d: char| d.is_ascii_digit()) => {}
            '.' if !seen_dot && tail[i + 1..].starts_with(|d: char| d.is_ascii_digit()) => {
                seen_dot = true;
                digits.push('.');
            }
            _ => {
                end = i;
                break;
            }
        }
    }
    // Decimal holds 28 significant digits; longer runs are not prices or counts.
    if digits.len() > 28 {
        return None;
    }
    let number: Decimal = digits.parse().ok()?;
    Some((number, &tail[end..]))
}

/// The multiplier a Chinese (or `w`/`k`) magnitude suffix stands for.
fn magnitude(rest: &str) -> Decimal {
    match rest.trim_start().chars().next() {
        Some('万' | 'w' | 'W') => Decimal::from(10_000),
        Some('千' | 'k' | 'K') => Decimal::from(1_000),
        Some('亿') => Decimal::from(100_000_000),
        _ => Decimal::ONE,
    }
}

/// A yuan amount with at least two decimal places (`129` → `129.00`).
pub fn yuan(s: &str) -> Option<Decimal> {
    let (number, rest) = first_number(s)?;
    let mut value = number.checked_mul(magnitude(rest))?;
    if value.scale() < 2 {
        value.rescale(2);
    }
    // `rescale` stops short when the digits leave no room for fen (27 or
    // more before the point): a number that long is no price.
    (value.scale() >= 2).then_some(value)
}

/// An integer number of fen as yuan (`12900` → `129.00`).
pub fn fen(s: &str) -> Option<Decimal> {
    let trimmed = s.trim();
    let integral = trimmed.strip_suffix(".0").unwrap_or(trimmed);
    let fen: i64 = integral.parse().ok()?;
    if fen < 0 {
        return None;
    }
    Some(Decimal::new(fen, 2))
}

/// A count, with 万/千/亿 (and w/k) magnitudes, rounded down.
pub fn count(s: &str) -> Option<u64> {
    let (number, rest) = first_number(s)?;
    use rust_decimal::prelude::ToPrimitive;
    number.checked_mul(magnitude(rest))?.trunc().to_u64()
}

/// Availability from the words platforms show.
pub fn availability(s: &str) -> Option<Availability> {
    const OUT: &[&str] = &[
        "无货",
        "缺货",
        "售罄",
        "已售完",
        "下架",
        "暂不销售",
        "不可售",
        "到货通知",
        "outofstock",
        "out of stock",
        "soldout",
        "sold out",
        "false",
    ];
    const IN: &[&str] =
        &["有货", "现货", "在售", "库存充足", "可售", "立即购买", "加入购物车", "instock", "in stock", "true"];
    let lower = s.trim().to_lowercase();
    if OUT.iter().any(|w| lower.contains(w)) {
        Some(Availability::OutOfStock)
    } else if IN.iter().any(|w| lower.contains(w)) {
        Some(Availability::InStock)
    } else {
        None
    }
}

/// `s` as an absolute URL, resolved against `base` when relative.
pub fn absolute_url(s: &str, base: &Url) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("javascript:") || s.starts_with('#') {
        return None;
    }
    base.join(s).ok().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn yuan_reads_the_shapes_platforms_show() {
        assert_eq!(yuan("¥1,299.00"), Some(d("1299.00")));
        assert_eq!(yuan("￥ 129"), Some(d("129.00")));
        assert_eq!(yuan("129元"), Some(d("129")));
        assert_eq!(yuan("到手价 ¥99.9 起"), Some(d("99.90")));
        assert_eq!(yuan("¥99-199"), Some(d("99")));
        assert_eq!(yuan("1.5万"), Some(d("15000")));
        assert_eq!(yuan("面议"), None);
        assert_eq!(yuan(&"9".repeat(28)), None, "no room for fen: not a price");
        assert_eq!(yuan("2万").map(|v| v.to_string()), Some("20000.00".into()));
        assert_eq!(yuan("129.00").map(|v| v.to_string()), Some("129.00".into()));
    }

    #[test]
    fn fen_is_hundredths() {
        assert_eq!(fen("12900").map(|v| v.to_string()), Some("129.00".into()));
        assert_eq!(fen("5"), Some(d("0.05")));
        assert_eq!(fen("-5"), None);
        assert_eq!(fen("abc"), None);
    }

    #[test]
    fn counts_with_magnitudes() {
        assert_eq!(count("1.2万+"), Some(12_000));
        assert_eq!(count("10万+"), Some(100_000));
        assert_eq!(count("3千"), Some(3_000));
        assert_eq!(count("月销 2,345"), Some(2_345));
        assert_eq!(count("已售1.5w件"), Some(15_000));
        assert_eq!(count("999+"), Some(999));
        assert_eq!(count("暂无"), None);
    }

    #[test]
    fn availability_words() {
        use Availability::*;
        assert_eq!(availability("有货"), Some(InStock));
        assert_eq!(availability("现货，下单即发"), Some(InStock));
        assert_eq!(availability("无货"), Some(OutOfStock));
        assert_eq!(availability("已售罄"), Some(OutOfStock));
        assert_eq!(availability("缺货"), Some(OutOfStock));
        assert_eq!(availability("https://schema.org/InStock"), Some(InStock));
        assert_eq!(availability("敬请期待"), None);
    }

    #[test]
    fn text_collapses_whitespace() {
        assert_eq!(text("  a \n\t b\u{3000}c\u{a0} ").as_deref(), Some("a b c"));
        assert_eq!(text(" \n "), None);
    }

    #[test]
    fn urls_resolve_against_the_page() {
        let base = Url::parse("http://127.0.0.1:8080/mall/item/1").unwrap();
        assert_eq!(absolute_url("/img/1.jpg", &base).as_deref(), Some("http://127.0.0.1:8080/img/1.jpg"));
        assert_eq!(absolute_url("2", &base).as_deref(), Some("http://127.0.0.1:8080/mall/item/2"));
        assert_eq!(absolute_url("javascript:void(0)", &base), None);
    }
}
