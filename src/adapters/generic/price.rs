//! Prices as people write them, in any locale: `1.234,56 €`, `¥1,299.00`,
//! `US $12`, `34.000` (de-DE: thirty-four thousand), `CHF 1'299.–`, `129元`.
//!
//! [`parse_price`] finds the first amount in a text and the currency marked
//! next to it. Which of `.` and `,` is the decimal mark is decided per number:
//! - both present → the last one is the decimal mark (`1.234,56`, `1,234.56`);
//! - one mark used more than once → it groups thousands (`1.234.567`);
//! - one mark once, followed by 1–2 digits → decimal (`12,5`, `12.50`);
//! - one mark once, followed by exactly 3 digits → ambiguous: a thousands
//!   group when the page's language writes decimals with a comma (`de`, `fr`,
//!   `cs` …) and the mark is `.`, or when the mark is `,` in a language that
//!   writes decimals with a point (`en`, `zh`, `ja` …); without a language the
//!   currency decides (`€`, `Kč`, `Ft` … are written comma-decimal), and
//!   otherwise `,` groups and `.` is decimal (`1,299` → 1299, `0.125` → 0.125).
//!
//! Spaces (also no-break and thin), `'` and `’` between digit groups always group.
//! A range (`$19.95 – $24.95`) yields its first, lowest amount.
//! The parser is total: any input gives `Some` or `None`, never a panic.

use rust_decimal::Decimal;

/// An amount with the currency written next to it, when one was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: Option<&'static str>,
}

/// Currency markers, longest first so `US $` wins over `$`, with their ISO 4217 codes.
const MARKERS: &[(&str, &str)] = &[
    ("US $", "USD"),
    ("US$", "USD"),
    ("USD", "USD"),
    ("CA$", "CAD"),
    ("C$", "CAD"),
    ("CAD", "CAD"),
    ("AU$", "AUD"),
    ("A$", "AUD"),
    ("AUD", "AUD"),
    ("HK$", "HKD"),
    ("HKD", "HKD"),
    ("NT$", "TWD"),
    ("R$", "BRL"),
    ("RMB", "CNY"),
    ("CNY", "CNY"),
    ("人民币", "CNY"),
    ("EUR", "EUR"),
    ("GBP", "GBP"),
    ("CHF", "CHF"),
    ("JPY", "JPY"),
    ("CZK", "CZK"),
    ("Kč", "CZK"),
    ("HUF", "HUF"),
    ("Ft", "HUF"),
    ("PLN", "PLN"),
    ("zł", "PLN"),
    ("RUB", "RUB"),
    ("руб", "RUB"),
    ("₽", "RUB"),
    ("INR", "INR"),
    ("₹", "INR"),
    ("KRW", "KRW"),
    ("₩", "KRW"),
    ("SEK", "SEK"),
    ("NOK", "NOK"),
    ("DKK", "DKK"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("￥", "CNY"),
    ("¥", "CNY"),
    ("元", "CNY"),
    ("$", "USD"),
];

/// Currencies whose home locales write `1.234,56`.
const COMMA_DECIMAL_CURRENCIES: &[&str] = &["EUR", "CZK", "HUF", "PLN", "RUB", "BRL", "SEK", "NOK", "DKK"];

/// Languages (BCP 47 primary subtag) that write decimals with a comma.
const COMMA_DECIMAL_LANGUAGES: &[&str] = &[
    "de", "fr", "es", "it", "pt", "nl", "cs", "sk", "hu", "pl", "ru", "uk", "da", "sv", "nb", "no", "fi", "tr", "el",
    "ro", "hr", "sl", "sr", "bg", "lt", "lv", "et", "id", "vi",
];

/// Does the page's language (`de-DE`, `fr`, `zh_CN` …) write decimals with a comma?
/// `None` when the language is unknown or not given.
pub fn comma_decimal_language(lang: &str) -> Option<bool> {
    let primary = lang.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    if primary.len() < 2 || primary.len() > 3 {
        return None;
    }
    Some(COMMA_DECIMAL_LANGUAGES.contains(&primary.as_str()))
}

/// The ISO 4217 code a currency marker or code stands for (`€` → `EUR`, `usd` → `USD`).
pub fn currency_code(marker: &str) -> Option<&'static str> {
    let m = marker.trim();
    if m.len() == 3 && m.chars().all(|c| c.is_ascii_alphabetic()) {
        let upper = m.to_ascii_uppercase();
        return ISO_CODES.iter().find(|c| **c == upper).copied();
    }
    MARKERS.iter().find(|(k, _)| *k == m).map(|(_, v)| *v)
}

/// The ISO 4217 codes we accept from markup (`priceCurrency`), the common ones.
const ISO_CODES: &[&str] = &[
    "AED", "ARS", "AUD", "BGN", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK", "EGP", "EUR", "GBP", "HKD",
    "HRK", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KRW", "KZT", "MAD", "MXN", "MYR", "NGN", "NOK", "NZD", "PEN",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "UAH", "USD", "VND",
    "ZAR",
];

/// The first price in `text`. `comma_decimal` is the page language's habit
/// ([`comma_decimal_language`]); `None` lets the currency decide.
pub fn parse_price(text: &str, comma_decimal: Option<bool>) -> Option<Money> {
    // Bound the work on hostile input: a price is near the start of its text.
    let text = truncate(text, 512);
    let (start, end) = number_span(text)?;
    let raw = &text[start..end];
    let currency = marker_near(text, start, end);
    let comma_decimal = comma_decimal.or_else(|| currency.map(|c| COMMA_DECIMAL_CURRENCIES.contains(&c)));
    let amount = read_amount(raw, comma_decimal)?;
    Some(Money { amount, currency })
}

/// A price as markup writes it (`content="1299.00"`, a JSON-LD `price`): a
/// plain decimal read exactly, else a price as people write it
/// ([`parse_price`]). A negative plain number is no price at all (not its
/// absolute value): markup that says `-5` is broken, and a negative price
/// would pass every "clearly low" check.
pub fn markup_price(text: &str, comma_decimal: Option<bool>) -> Option<Money> {
    let plain = text.trim();
    match plain.parse::<Decimal>() {
        Ok(amount) => plain_amount(amount),
        Err(_) => parse_price(plain, comma_decimal),
    }
}

/// A number read exactly from markup as a price: `None` when negative.
pub fn plain_amount(amount: Decimal) -> Option<Money> {
    // `-0` is zero; any other negative number is no price.
    (amount >= Decimal::ZERO).then(|| Money { amount: amount.abs(), currency: None })
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn is_group_mark(c: char) -> bool {
    matches!(c, '.' | ',' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' | '’')
}

/// Byte range of the first number standing on its own: digits, with single
/// marks between digits, not glued to letters (`MzI5Ljk5`, `B07G2L3JMM` and
/// `7W` are not prices) unless the letters are a currency (`USD12`, `12EUR`).
fn number_span(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(at) = text[from..].find(|c: char| c.is_ascii_digit()) {
        let start = from + at;
        let end = number_end(text, start);
        if standalone(text, start, end) {
            return Some((start, end));
        }
        from = end.max(start + 1);
    }
    None
}

fn standalone(text: &str, start: usize, end: usize) -> bool {
    let before = &text[..start];
    let glued_before = before.chars().next_back().is_some_and(|c| c.is_ascii_alphabetic());
    if glued_before && !MARKERS.iter().any(|(m, _)| m.is_ascii() && before.to_ascii_uppercase().ends_with(m)) {
        return false;
    }
    let after = &text[end..];
    let glued_after = after.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if glued_after {
        let word: String = after.chars().take_while(char::is_ascii_alphabetic).collect();
        let is_marker = word.len() == 3 && currency_code(&word).is_some();
        // `1.2k` is not a price, and neither is `12px`; only a currency may follow directly.
        return is_marker || MARKERS.iter().any(|(m, _)| after.starts_with(m));
    }
    true
}

/// Where the number that starts at `start` ends.
fn number_end(text: &str, start: usize) -> usize {
    let mut end = start;
    let mut chars = text[start..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_ascii_digit() {
            end = start + i + c.len_utf8();
        } else if is_group_mark(c) && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit()) {
            // A space only groups when exactly three digits follow (`1 234`, not `2 pcs 3`).
            if matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}') {
                let rest = &text[start + i + c.len_utf8()..];
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                if digits != 3 {
                    break;
                }
            }
        } else {
            break;
        }
    }
    end
}

/// The currency marker right before or after the number (within a few characters).
fn marker_near(text: &str, start: usize, end: usize) -> Option<&'static str> {
    let before = text[..start].trim_end();
    let before = tail_chars(before, 8);
    let after = text[end..].trim_start();
    let after = head_chars(after, 8);
    for (marker, code) in MARKERS {
        if before.ends_with(marker) || before.to_ascii_uppercase().ends_with(marker) {
            return Some(code);
        }
    }
    for (marker, code) in MARKERS {
        if after.starts_with(marker) || after.to_ascii_uppercase().starts_with(marker) {
            return Some(code);
        }
    }
    // A marker a little further before the number, e.g. `$ Sale 12.00`.
    MARKERS.iter().find(|(m, _)| m.chars().count() == 1 && before.contains(m)).map(|(_, c)| *c)
}

fn tail_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    match s.char_indices().nth(count.saturating_sub(n)) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

fn head_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Turn a run of digits and marks into an amount, deciding the decimal mark.
fn read_amount(raw: &str, comma_decimal: Option<bool>) -> Option<Decimal> {
    let marks: Vec<(usize, char)> = raw.char_indices().filter(|(_, c)| !c.is_ascii_digit()).collect();
    let dots = marks.iter().filter(|(_, c)| *c == '.').count();
    let commas = marks.iter().filter(|(_, c)| *c == ',').count();
    let decimal_at = match (dots, commas) {
        (0, 0) => None,
        (_, _) if dots > 0 && commas > 0 => marks.iter().rev().find(|(_, c)| matches!(c, '.' | ',')).map(|(i, _)| *i),
        (n, 0) | (0, n) if n > 1 => None,
        _ => {
            let (at, mark) = *marks.iter().find(|(_, c)| matches!(c, '.' | ','))?;
            let digits_after = raw[at + 1..].chars().take_while(char::is_ascii_digit).count();
            let only_mark = marks.iter().all(|(i, _)| *i == at);
            if digits_after != 3 || !only_mark {
                // `12,5`, `12.50`; or `1 234,5` where spaces already group.
                (digits_after != 3).then_some(at)
            } else {
                let groups = match (mark, comma_decimal) {
                    ('.', Some(true)) => true,
                    ('.', _) => false,
                    (_, Some(true)) => false,
                    _ => true,
                };
                (!groups).then_some(at)
            }
        }
    };
    let mut digits = String::with_capacity(raw.len());
    for (i, c) in raw.char_indices() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if Some(i) == decimal_at {
            digits.push('.');
        }
    }
    let integral = digits.split('.').next().unwrap_or("");
    // Decimal holds 28 significant digits; longer runs are ids, not prices.
    if digits.len() > 20 || integral.trim_start_matches('0').len() > 12 {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, lang: Option<&str>) -> Option<String> {
        parse_price(s, lang.and_then(comma_decimal_language)).map(|m| m.amount.to_string())
    }

    fn cur(s: &str) -> Option<&'static str> {
        parse_price(s, None).and_then(|m| m.currency)
    }

    #[test]
    fn locales() {
        assert_eq!(p("1.234,56 €", None).as_deref(), Some("1234.56"));
        assert_eq!(p("¥1,299.00", None).as_deref(), Some("1299.00"));
        assert_eq!(p("US $12", None).as_deref(), Some("12"));
        assert_eq!(p("34.000", Some("de-DE")).as_deref(), Some("34000"));
        assert_eq!(p("34.000", Some("en-US")).as_deref(), Some("34.000"));
        assert_eq!(p("1,299", Some("en")).as_deref(), Some("1299"));
        assert_eq!(p("12,50 €", None).as_deref(), Some("12.50"));
        assert_eq!(p("12,5", Some("fr")).as_deref(), Some("12.5"));
        assert_eq!(p("1 234,56 Kč", None).as_deref(), Some("1234.56"));
        assert_eq!(p("CHF 1'299.50", None).as_deref(), Some("1299.50"));
        assert_eq!(p("1.234.567 Ft", None).as_deref(), Some("1234567"));
        assert_eq!(p("129元", None).as_deref(), Some("129"));
        assert_eq!(p("$19.95 – $24.95", None).as_deref(), Some("19.95"));
        assert_eq!(p("Now $52.00 ☆☆☆", None).as_deref(), Some("52.00"));
        assert_eq!(p("€ 34.000", None).as_deref(), Some("34000"));
        assert_eq!(p("price", None), None);
        assert_eq!(p("Online Price MzI5Ljk5 $", None), None);
        assert_eq!(p("B07G2L3JMM 7W $29.99", None).as_deref(), Some("29.99"));
        assert_eq!(p("USD12.50", None).as_deref(), Some("12.50"));
        assert_eq!(p("12EUR", None).as_deref(), Some("12"));
        assert_eq!(p("1 299Kč", None).as_deref(), Some("1299"));
        assert_eq!(p("123456789012345678901234567890", None), None);
    }

    #[test]
    fn currencies() {
        assert_eq!(cur("US $12"), Some("USD"));
        assert_eq!(cur("1.234,56 €"), Some("EUR"));
        assert_eq!(cur("¥1,299.00"), Some("CNY"));
        assert_eq!(cur("£5"), Some("GBP"));
        assert_eq!(cur("1 234 Kč"), Some("CZK"));
        assert_eq!(cur("12.00"), None);
        assert_eq!(currency_code("usd"), Some("USD"));
        assert_eq!(currency_code("XYZ"), None);
    }

    #[test]
    fn markup_prices_are_never_negative() {
        let amount = |s: &str| markup_price(s, None).map(|m| m.amount.to_string());
        assert_eq!(amount("1299.00").as_deref(), Some("1299.00"));
        assert_eq!(amount(" 1.299,00 ").as_deref(), Some("1299.00"));
        assert_eq!(amount("-5"), None, "a negative number is no price, not 5");
        assert_eq!(amount("-0.00").as_deref(), Some("0.00"));
    }
}
