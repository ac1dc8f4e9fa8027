//! Crawled text made safe to show: control characters and bidi overrides
//! replaced (a title holding U+202E cannot reorder the page around it),
//! long strings cut server-side, and the matched part of a field marked with
//! `<mark>` — built with maud, so every piece stays escaped.

use maud::{html, Markup};

/// Table cells: titles, shop names.
pub const SHORT: usize = 120;
/// A field shown in full on a detail page.
pub const LONG: usize = 2_000;

/// A character that must not reach the page raw: C0/C1 controls (other than
/// tab and newline), bidi embeddings, overrides and isolates, BOM.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `s` with unsafe characters shown as `�` and cut to `max` characters (`…` added).
pub fn clip(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(if unsafe_char(c) { '\u{fffd}' } else { c });
    }
    out
}

/// A short cell: clipped, with the `.clip` class (ellipsis in CSS) and the
/// (also clipped) text in `title` for hovering.
pub fn cell(s: &str) -> Markup {
    let short = clip(s, SHORT);
    html! { span.clip title=(clip(s, LONG)) { (short) } }
}

/// `text` with the byte ranges `spans` marked, at most `max` characters
/// around the first mark. Ranges that are not on character boundaries are ignored.
pub fn highlighted(text: &str, spans: &[[usize; 2]], max: usize) -> Markup {
    let mut ranges: Vec<(usize, usize)> = spans
        .iter()
        .map(|[a, b]| (*a, *b))
        .filter(|(a, b)| a < b && *b <= text.len() && text.is_char_boundary(*a) && text.is_char_boundary(*b))
        .collect();
    ranges.sort_unstable();
    // Start the window a little before the first mark so it is always shown.
    let start = ranges.first().map_or(0, |(a, _)| back_off(text, *a, max / 4));
    let mut pieces: Vec<(&str, bool)> = Vec::new();
    let mut at = start;
    for (a, b) in ranges {
        if a < at {
            continue;
        }
        pieces.push((&text[at..a], false));
        pieces.push((&text[a..b], true));
        at = b;
    }
    pieces.push((&text[at..], false));
    let mut budget = max;
    let mut shown: Vec<(String, bool)> = Vec::new();
    for (piece, marked) in pieces {
        if budget == 0 {
            break;
        }
        shown.push((clip(piece, budget), marked));
        budget = budget.saturating_sub(piece.chars().count());
    }
    html! {
        @if start > 0 { "…" }
        @for (piece, marked) in shown {
            @if marked { mark { (piece) } } @else { (piece) }
        }
    }
}

/// The byte offset `chars` characters before `at` (a boundary).
fn back_off(text: &str, at: usize, chars: usize) -> usize {
    text[..at].char_indices().rev().nth(chars.saturating_sub(1)).map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_never_pass() {
        assert_eq!(clip("a\u{202e}b\u{0007}c\nd", 10), "a\u{fffd}b\u{fffd}c\nd");
        assert_eq!(clip(&"长".repeat(10), 3), "长长长…");
    }

    #[test]
    fn marks_are_escaped_text() {
        let text = "<b>3C</b> 无需认证";
        let html = highlighted(text, &[[10, 22]], LONG).into_string();
        assert_eq!(html, "&lt;b&gt;3C&lt;/b&gt; <mark>无需认证</mark>");
        // A span off a character boundary is ignored, not a panic.
        assert_eq!(highlighted("认证", &[[1, 2]], LONG).into_string(), "认证");
    }
}
