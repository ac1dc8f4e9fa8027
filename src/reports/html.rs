//! Self-contained HTML: inline CSS, inline SVG bar charts drawn here, no
//! scripts, and a Content-Security-Policy that would block any. Every string
//! from the store goes through [`evidence::report::escape_html`] (or, inside
//! SVG, [`svg_text`]), so markup in a listing title renders as text and
//! control or bidi characters show as visible `U+XXXX` markers.

use std::fmt::Write;

use evidence::report::escape_html as esc;
use evidence::report::is_invisible;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{percent_text, Breakdown, PublicBreakdown, PublicReport, SpotCheckReport};

const STYLE: &str = "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:24px;color:#111}\
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #999;padding:3px 6px;font-size:10pt;text-align:left;vertical-align:top}\
th{background:#eee}td.n{text-align:right}.cc{font-family:monospace;color:#a00;border:1px solid #a00;font-size:8pt}\
svg{display:block;margin:4px 0}.muted{color:#555;font-size:9pt}";

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// One bar: a group label, its counts and rate.
struct Bar<'a> {
    label: &'a str,
    sampled: u64,
    failing: u64,
    rate: Option<Decimal>,
}

impl<'a> From<&'a Breakdown> for Bar<'a> {
    fn from(b: &'a Breakdown) -> Bar<'a> {
        Bar { label: &b.label, sampled: b.sampled, failing: b.failing, rate: b.rate }
    }
}

impl<'a> From<&'a PublicBreakdown> for Bar<'a> {
    fn from(b: &'a PublicBreakdown) -> Bar<'a> {
        Bar { label: &b.label, sampled: b.sampled, failing: b.failing, rate: b.rate }
    }
}

/// The internal report (抽查结果).
pub fn render(r: &SpotCheckReport) -> String {
    let mut out = String::new();
    head(&mut out, "抽查结果");
    let scope = match (&r.scope.id, r.scope.from, r.scope.to) {
        (Some(id), Some(from), Some(to)) => {
            format!("{} {}（采集时间 {} 至 {}）", r.scope.kind, id, from.to_rfc3339(), to.to_rfc3339())
        }
        (Some(id), _, _) => format!("{} {}", r.scope.kind, id),
        _ => "全部已存储商品".to_string(),
    };
    let _ =
        writeln!(out, "<p class=\"muted\">范围：{}　生成时间：{}</p>", esc(&scope), esc(&r.generated_at.to_rfc3339()));
    summary(&mut out, r.sampled, r.failing, r.failure_rate);
    let _ = writeln!(
        out,
        "<table><tr><th>已确认发现</th><th>其中风险信号（不计入不合格）</th><th>待复核发现</th><th>已驳回发现</th><th>待复核商品（不计入不合格）</th></tr>\
         <tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td></tr></table>",
        r.review.confirmed_findings, r.review.confirmed_risk_signals, r.review.open_findings, r.review.dismissed_findings, r.review.unreviewed_listings
    );
    section(&mut out, "产品类别", r.by_class.iter().map(Bar::from).collect());
    section(&mut out, "平台", r.by_platform.iter().map(Bar::from).collect());
    section(&mut out, "规则", r.by_rule.iter().map(Bar::from).collect());
    out.push_str(
        "<h2>不合格商品</h2>\n<table><tr><th>序号</th><th>商品名称</th><th>平台</th><th>商品编号</th><th>链接</th>\
        <th>产品类别</th><th>店铺</th><th>统一社会信用代码</th><th>地区</th><th>规则</th><th>发现编号</th></tr>\n",
    );
    for (n, l) in r.failing_listings.iter().enumerate() {
        let rules: Vec<String> = l.rules.iter().map(|x| format!("{}（{}）", x.title, x.rule)).collect();
        let cells = [
            opt(&l.title),
            l.platform.clone(),
            l.item_id.clone(),
            l.url.clone(),
            l.catalogue_class.clone(),
            opt(&l.shop_name),
            opt(&l.uscc),
            opt(&l.region_code),
            rules.join("；"),
            l.finding_ids.join(" "),
        ];
        row(&mut out, n + 1, &cells);
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

/// The public notice (抽查结果公示).
pub fn render_public(r: &PublicReport) -> String {
    let mut out = String::new();
    head(&mut out, "抽查结果公示");
    let _ = writeln!(out, "<p class=\"muted\">发布时间：{}</p>", esc(&r.generated_at.format("%Y-%m-%d").to_string()));
    summary(&mut out, r.sampled, r.failing, r.failure_rate);
    section(&mut out, "产品类别", r.by_class.iter().map(Bar::from).collect());
    section(&mut out, "平台", r.by_platform.iter().map(Bar::from).collect());
    section(&mut out, "规则", r.by_rule.iter().map(Bar::from).collect());
    out.push_str(
        "<h2>不合格产品</h2>\n<table><tr><th>序号</th><th>产品名称</th><th>品牌</th><th>型号</th><th>店铺</th>\
        <th>统一社会信用代码</th><th>平台</th><th>不合格项目</th><th>结论</th></tr>\n",
    );
    for (n, i) in r.items.iter().enumerate() {
        let cells = [
            i.product.clone(),
            opt(&i.brand),
            opt(&i.model),
            opt(&i.shop),
            opt(&i.uscc),
            i.platform.clone(),
            i.failed_items.join("；"),
            i.result.clone(),
        ];
        row(&mut out, n + 1, &cells);
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

fn head(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<title>{t}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<h1>{t}</h1>",
        t = esc(title)
    );
}

fn summary(out: &mut String, sampled: u64, failing: u64, rate: Option<Decimal>) {
    let _ = writeln!(
        out,
        "<table><tr><th>抽查数量</th><th>不合格数量</th><th>不合格率</th></tr>\
         <tr><td class=\"n\">{sampled}</td><td class=\"n\">{failing}</td><td class=\"n\">{}</td></tr></table>",
        esc(&percent_text(rate))
    );
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn row(out: &mut String, n: usize, cells: &[String]) {
    let _ = write!(out, "<tr><td class=\"n\">{n}</td>");
    for c in cells {
        let _ = write!(out, "<td>{}</td>", esc(c));
    }
    out.push_str("</tr>\n");
}

/// A heading, the bar chart of failure rates and the table behind it.
fn section(out: &mut String, name: &str, bars: Vec<Bar<'_>>) {
    let _ = writeln!(out, "<h2>不合格率（按{}）</h2>", esc(name));
    out.push_str(&chart(name, &bars));
    let _ =
        writeln!(out, "<table><tr><th>{}</th><th>抽查数量</th><th>不合格数量</th><th>不合格率</th></tr>", esc(name));
    for b in &bars {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(b.label),
            b.sampled,
            b.failing,
            esc(&percent_text(b.rate))
        );
    }
    out.push_str("</table>\n");
}

const LABEL_W: f64 = 230.0;
const BAR_W: f64 = 320.0;
const ROW_H: f64 = 22.0;
const MAX_LABEL: usize = 16;

/// A horizontal bar chart of failure rates (0–100 %), as inline SVG.
fn chart(name: &str, bars: &[Bar<'_>]) -> String {
    let height = ROW_H * bars.len().max(1) as f64 + 8.0;
    let width = LABEL_W + BAR_W + 130.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{width}\" height=\"{height}\" role=\"img\" \
         aria-label=\"{}\">\n",
        svg_text(&format!("不合格率（按{name}）"))
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + ROW_H * i as f64;
        let pct = b.rate.and_then(|r| r.to_f64()).unwrap_or(0.0).clamp(0.0, 100.0);
        let len = BAR_W * pct / 100.0;
        let mut label: String = b.label.chars().take(MAX_LABEL).collect();
        if b.label.chars().count() > MAX_LABEL {
            label.push('…');
        }
        let _ = writeln!(
            svg,
            "<text x=\"{lx}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{BAR_W}\" height=\"16\" fill=\"#eee\"/>\
             <rect class=\"bar\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{len:.1}\" height=\"16\" fill=\"#c0392b\"/>\
             <text x=\"{vx}\" y=\"{ty}\" font-size=\"12\">{} ({}/{})</text>",
            svg_text(&label),
            esc(&percent_text(b.rate)),
            b.failing,
            b.sampled,
            lx = LABEL_W - 6.0,
            ty = y + 12.5,
            vx = LABEL_W + BAR_W + 6.0,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Escapes text for SVG, where a `<span>` marker is not allowed: invisible
/// characters become plain `[U+XXXX]`, then everything is HTML-escaped.
pub fn svg_text(s: &str) -> String {
    let mut plain = String::with_capacity(s.len());
    for c in s.chars() {
        if is_invisible(c) {
            let _ = write!(plain, "[U+{:04X}]", u32::from(c));
        } else {
            plain.push(c);
        }
    }
    esc(&plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_text_marks_invisible_and_escapes_markup() {
        assert_eq!(svg_text("a<b>\u{202E}&"), "a&lt;b&gt;[U+202E]&amp;");
        assert_eq!(svg_text("充电宝\n"), "充电宝[U+000A]");
    }

    #[test]
    fn chart_of_nothing_is_an_empty_svg() {
        let svg = chart("平台", &[]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"), "{svg}");
    }
}
