//! Inline SVG charts for the console (no script, no external library):
//! horizontal bars for counts by category and columns for a daily trend.
//! Labels go through maud, so they are escaped like any other text.

use maud::{html, Markup};

const WIDTH: u32 = 520;
const BAR_H: u32 = 22;
const LABEL_W: u32 = 200;

/// Horizontal bars, largest first as given; `caption` names the chart for screen readers.
pub fn bars(caption: &str, rows: &[(String, u64)]) -> Markup {
    if rows.is_empty() {
        return html! { p.muted { "暂无数据" } };
    }
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let height = rows.len() as u32 * (BAR_H + 6) + 6;
    let span = WIDTH - LABEL_W - 50;
    html! {
        svg.chart role="img" aria-label=(caption) viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(height) {
            title { (caption) }
            @for (i, (label, n)) in rows.iter().enumerate() {
                @let y = 6 + i as u32 * (BAR_H + 6);
                @let w = ((*n as f64 / max as f64) * span as f64).round().max(if *n > 0 { 2.0 } else { 0.0 }) as u32;
                text x=(LABEL_W - 8) y=(y + BAR_H / 2 + 5) text-anchor="end" { (shorten(label, 13)) }
                rect x=(LABEL_W) y=(y) width=(w) height=(BAR_H) rx="3" class="bar" {}
                text x=(LABEL_W + w + 6) y=(y + BAR_H / 2 + 5) class="value" { (n) }
            }
        }
    }
}

/// Columns per day (`label` like `11-23`), oldest first.
pub fn columns(caption: &str, days: &[(String, u64)]) -> Markup {
    if days.is_empty() {
        return html! { p.muted { "暂无数据" } };
    }
    let height = 160u32;
    let base = height - 24;
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let step = (WIDTH - 20) / days.len().max(1) as u32;
    let col = (step * 2 / 3).max(3);
    html! {
        svg.chart role="img" aria-label=(caption) viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(height) {
            title { (caption) }
            line x1="10" y1=(base) x2=(WIDTH - 10) y2=(base) class="axis" {}
            @for (i, (label, n)) in days.iter().enumerate() {
                @let x = 10 + i as u32 * step + (step - col) / 2;
                @let h = ((*n as f64 / max as f64) * (base - 20) as f64).round() as u32;
                rect x=(x) y=(base - h) width=(col) height=(h) class="bar" {}
                @if *n > 0 { text x=(x + col / 2) y=(base - h - 4) text-anchor="middle" class="value" { (n) } }
                @if days.len() <= 16 || i % (days.len() / 8).max(1) == 0 {
                    text x=(x + col / 2) y=(height - 6) text-anchor="middle" class="tick" { (label) }
                }
            }
        }
    }
}

/// At most `max` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect()
    }
}
