//! The report as one self-contained HTML page.
//!
//! Plain string building: the page is small and fixed in shape, and keeping
//! every untrusted string behind one escaping function is easier to audit than
//! a template engine's auto-escaping rules. The output depends only on the
//! input (no clock, no randomness, no hash-map order), so the same bundle
//! always yields the same bytes and the page itself can be hashed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, FixedOffset, Utc};
use sha2::{Digest as _, Sha256};

use super::{
    CaptureSummary, CheckpointSummary, CustodyEvent, FileEntry, FindingSummary, ReportInput, Screenshot,
    TimestampSummary,
};

/// Inline style sheet: A4 print layout, CJK-capable fonts, hashes in a
/// monospace font that may break anywhere (a 64-digit hash must not push a
/// table off the page).
const CSS: &str = r#"
@page { size: A4; margin: 14mm 13mm 16mm 13mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif; font-size: 10pt; line-height: 1.45; color: #111; margin: 0 auto; max-width: 190mm; }
header.doc { text-align: center; border-bottom: 2px solid #111; padding-bottom: 6px; margin-bottom: 10px; }
header.doc h1 { font-size: 20pt; letter-spacing: 0.3em; margin: 0; }
header.doc .sub { font-size: 11pt; color: #333; margin: 2px 0 6px; }
header.doc .case { font-size: 11pt; font-weight: bold; margin: 0; }
h2 { font-size: 13pt; border-left: 4px solid #1f3a68; padding-left: 6px; margin: 16px 0 6px; page-break-after: avoid; break-after: avoid; }
h3 { font-size: 11pt; margin: 12px 0 4px; page-break-after: avoid; break-after: avoid; }
.en { font-weight: normal; color: #444; font-size: 0.9em; }
table { width: 100%; border-collapse: collapse; margin: 4px 0 8px; table-layout: fixed; }
th, td { border: 1px solid #777; padding: 3px 5px; vertical-align: top; text-align: left; overflow-wrap: anywhere; word-break: break-word; }
tr { page-break-inside: avoid; break-inside: avoid; }
thead { display: table-header-group; }
table.kv th { width: 30%; background: #eef1f6; font-weight: bold; }
table.list th { background: #eef1f6; }
.mono { font-family: "Noto Sans Mono CJK SC", "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 8.5pt; word-break: break-all; overflow-wrap: anywhere; }
.none { color: #777; }
.cc { font-family: monospace; font-size: 0.8em; color: #a00; border: 1px solid #a00; border-radius: 2px; padding: 0 1px; }
mark { background: #ffe066; color: #000; padding: 0 1px; }
.match { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 10.5pt; }
.finding { border: 1px solid #999; padding: 4px 8px; margin: 8px 0; page-break-inside: avoid; break-inside: avoid; }
.capture { margin-bottom: 10px; }
.warn { color: #a00; font-weight: bold; }
figure { margin: 6px 0; page-break-inside: avoid; break-inside: avoid; }
figure img { max-width: 100%; max-height: 225mm; border: 1px solid #999; }
figcaption { font-size: 8.5pt; color: #333; }
ol.redirects { margin: 0; padding-left: 1.4em; }
ul.basis { margin: 0; padding-left: 1.2em; }
.num { text-align: right; white-space: nowrap; }
section.sign { page-break-inside: avoid; break-inside: avoid; margin-top: 18px; }
.sigrow { display: flex; flex-wrap: wrap; gap: 10px 24px; margin-top: 10px; }
.sig { flex: 1 1 45%; min-width: 70mm; }
.sig .line { border-bottom: 1px solid #111; height: 14mm; }
.sig .label { font-size: 9.5pt; margin-top: 2px; }
footer.doc { margin-top: 16px; border-top: 1px solid #999; padding-top: 4px; font-size: 8.5pt; color: #555; }
"#;

/// Escapes `s` for HTML text (and for double- or single-quoted attributes).
///
/// `& < > " '` become entities. Control and invisible formatting characters
/// (C0/C1 controls other than tab and newline, bidi overrides, zero-width
/// characters, BOM, line separators) are not dropped — for evidence the exact
/// text matters — but shown as a visible `U+XXXX` marker, so hidden or
/// reordering characters on a page cannot make the report read differently
/// from what was captured.
pub fn escape_html(s: &str) -> String {
    escape_with(s, |out, c| {
        out.push_str(&format!("<span class=\"cc\">U+{:04X}</span>", u32::from(c)));
    })
}

/// Like [`escape_html`] but with plain-text markers, for places where markup
/// is not interpreted (the `<title>`, which would show a `<span>` literally).
fn escape_plain(s: &str) -> String {
    escape_with(s, |out, c| {
        out.push_str(&format!("[U+{:04X}]", u32::from(c)));
    })
}

fn escape_with(s: &str, mut invisible: impl FnMut(&mut String, char)) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if is_invisible(c) => invisible(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Characters that render as nothing (or reorder what follows) and so must be
/// made visible in a record of what a page said.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Print margin boxes: the bundle id and "page N of M" on every page, so a
/// loose sheet can be tied back to its bundle and a missing one noticed.
fn page_margins(bundle_id: &str) -> String {
    format!(
        "@page {{ @bottom-left {{ content: \"电子数据提取笔录 {}\"; font-size: 7.5pt; color: #555; }} \
         @bottom-right {{ content: \"第 \" counter(page) \" 页 / 共 \" counter(pages) \" 页\"; font-size: 7.5pt; color: #555; }} }}\n",
        css_string(bundle_id)
    )
}

/// Escapes text for a double-quoted CSS string inside a `<style>` element:
/// everything but ASCII letters, digits and a few harmless marks becomes a
/// six-digit CSS hex escape, so neither `"` nor `</style` can appear. Long
/// ids are cut so the footer stays on one line.
fn css_string(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(96) {
        if c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | ':') {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:06X}", u32::from(c)));
        }
    }
    out
}

/// Builds the report page. Deterministic: the same input gives the same bytes.
pub fn render_html(r: &ReportInput) -> String {
    let mut p = Page::default();
    p.push("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Defence in depth: even if something slipped past escaping, the page may
    // load nothing and run nothing; images only from inline data.
    p.push(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         img-src data:; style-src 'unsafe-inline'\">\n",
    );
    p.push("<meta name=\"referrer\" content=\"no-referrer\">\n");
    p.push(&format!(
        "<title>电子数据提取笔录 — {}</title>\n<style>{CSS}{}</style>\n</head>\n<body>\n",
        escape_plain(&r.title),
        page_margins(&r.bundle_id)
    ));
    p.push(&format!(
        "<header class=\"doc\">\n<h1>电子数据提取笔录</h1>\n<p class=\"sub\">Electronic data extraction record</p>\n\
         <p class=\"case\">{}</p>\n</header>\n",
        escape_html(&r.title)
    ));
    basic_info(&mut p, r);
    captures(&mut p, &r.captures);
    findings(&mut p, &r.findings);
    files(&mut p, &r.files);
    integrity(&mut p, r);
    custody(&mut p, &r.custody);
    signatures(&mut p, r);
    p.push(&format!(
        "<footer class=\"doc\">本笔录由 {} 根据证据包 {} 生成；文件哈希以证据包内容为准。<br>\
         <span class=\"en\">Generated by the tool above from bundle {}; the bundle's bytes and hashes are authoritative.</span></footer>\n",
        escape_html(&r.tool),
        mono(&r.bundle_id),
        mono(&r.bundle_id)
    ));
    p.push("</body>\n</html>\n");
    p.0
}

/// The page being built.
#[derive(Default)]
struct Page(String);

impl Page {
    fn push(&mut self, s: &str) {
        self.0.push_str(s);
    }

    /// A section heading, Chinese first.
    fn h2(&mut self, zh: &str, en: &str) {
        self.push(&format!("<h2>{zh} <span class=\"en\">{en}</span></h2>\n"));
    }

    /// One row of a key/value table; `value` is already HTML.
    fn kv(&mut self, zh: &str, en: &str, value: &str) {
        self.push(&format!("<tr><th>{zh}<br><span class=\"en\">{en}</span></th><td>{value}</td></tr>\n"));
    }

    /// The header row of a list table: (Chinese, English, width) per column.
    fn thead(&mut self, cols: &[(&str, &str, &str)]) {
        self.push("<table class=\"list\">\n<thead><tr>");
        for (zh, en, width) in cols {
            self.push(&format!("<th style=\"width:{width}\">{zh}<br><span class=\"en\">{en}</span></th>"));
        }
        self.push("</tr></thead>\n<tbody>\n");
    }
}

/// Escaped text in the monospace, break-anywhere style (hashes, ids, URLs).
fn mono(s: &str) -> String {
    format!("<span class=\"mono\">{}</span>", escape_html(s))
}

/// An optional value, or a visible "not recorded".
fn opt(v: &Option<String>) -> String {
    match v {
        Some(s) if !s.trim().is_empty() => escape_html(s),
        _ => none(),
    }
}

fn none() -> String {
    "<span class=\"none\">未记录 / not recorded</span>".to_string()
}

/// A time in UTC with milliseconds, and the same instant in Beijing time
/// (UTC+8) since that is what the officers and the court read.
fn when(t: &DateTime<Utc>) -> String {
    let utc = t.format("%Y-%m-%d %H:%M:%S%.3f UTC");
    match FixedOffset::east_opt(8 * 3600) {
        Some(bj) => format!(
            "{utc}<br><span class=\"en\">北京时间 {}</span>",
            t.with_timezone(&bj).format("%Y-%m-%d %H:%M:%S%.3f (UTC+8)")
        ),
        None => utc.to_string(),
    }
}

/// A time in UTC only, for compact tables.
fn when_short(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

fn basic_info(p: &mut Page, r: &ReportInput) {
    p.h2("一、基本信息", "Basic information");
    p.push("<table class=\"kv\">\n");
    p.kv("证据包编号", "Bundle / case id", &mono(&r.bundle_id));
    p.kv("事由", "Purpose", &opt(&r.purpose));
    p.kv("取证工作站", "Station", &escape_html(&r.station));
    let operators = if r.operators.is_empty() {
        none()
    } else {
        r.operators.iter().map(|o| escape_html(o)).collect::<Vec<_>>().join("、")
    };
    let operators = if r.operators.len() < 2 {
        format!("{operators}<br><span class=\"warn\">执法人员少于两名 / fewer than two officers recorded</span>")
    } else {
        operators
    };
    p.kv("取证人员", "Officers", &operators);
    p.kv("取证工具及版本", "Tool and version", &escape_html(&r.tool));
    p.kv("封存时间", "Sealed at", &when(&r.created_at));
    p.kv(
        "提取对象数 / 发现数 / 文件数",
        "Captures / findings / files",
        &format!("{} / {} / {}", r.captures.len(), r.findings.len(), r.files.len()),
    );
    p.push("</table>\n");
    p.push(
        "<p class=\"en\">本笔录中的时间均为协调世界时（UTC），并附北京时间（UTC+8）。\
         All times are UTC, with Beijing time (UTC+8) alongside.</p>\n",
    );
}

fn captures(p: &mut Page, caps: &[CaptureSummary]) {
    p.h2("二、提取对象", "Captured data");
    if caps.is_empty() {
        p.push(&format!("<p>{}</p>\n", none()));
    }
    for (i, c) in caps.iter().enumerate() {
        capture(p, i + 1, c);
    }
}

fn capture(p: &mut Page, n: usize, c: &CaptureSummary) {
    p.push("<div class=\"capture\">\n");
    p.push(&format!("<h3>提取对象 {n} <span class=\"en\">Capture {n}</span></h3>\n<table class=\"kv\">\n"));
    p.kv("提取编号", "Capture id", &mono(&c.capture_id));
    p.kv("网址", "URL", &mono(&c.url));
    p.kv("最终网址", "Final URL", &mono(&c.final_url));
    let redirects = if c.redirect_chain.is_empty() {
        "无 / none".to_string()
    } else {
        let items: String = c.redirect_chain.iter().map(|u| format!("<li>{}</li>", mono(u))).collect();
        format!("<ol class=\"redirects\">{items}</ol>")
    };
    p.kv("重定向", "Redirects", &redirects);
    p.kv("平台", "Platform", &opt(&c.platform));
    p.kv("店铺名称", "Shop", &opt(&c.shop));
    p.kv("统一社会信用代码（页面所示）", "USCC shown", &opt(&c.uscc));
    p.kv("服务器地址", "Resolved IP", &c.resolved_ip.as_deref().map(mono).unwrap_or_else(none));
    p.kv("开始时间", "Started", &when(&c.started_at));
    p.kv("完成时间", "Finished", &when(&c.finished_at));
    p.kv("时间来源", "Time source", &escape_html(&c.time_source));
    p.kv("提取方法", "Method", &escape_html(&c.method));
    p.kv("HTTP 状态码", "HTTP status", &c.status.to_string());
    p.push("</table>\n");
    if !c.files.is_empty() {
        p.push("<p>本对象的文件 <span class=\"en\">Files of this capture</span></p>\n");
        file_table(p, &c.files);
    }
    if let Some(shot) = &c.screenshot {
        screenshot(p, shot);
    }
    p.push("</div>\n");
}

/// The PNG signature every embedded screenshot must start with.
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Embeds a screenshot only if it is valid base64 of a PNG. The data URL is
/// re-encoded from the decoded bytes, so only the base64 alphabet ever reaches
/// the attribute, whatever the input held.
fn screenshot(p: &mut Page, s: &Screenshot) {
    let compact: String = s.png_base64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let decoded = STANDARD.decode(compact.as_bytes()).ok();
    p.push("<figure>\n");
    match decoded {
        Some(png) if png.starts_with(PNG_MAGIC) => {
            p.push(&format!(
                "<img alt=\"截图 / screenshot\" src=\"data:image/png;base64,{}\">\n",
                STANDARD.encode(&png)
            ));
            p.push(&format!(
                "<figcaption>页面截图 <span class=\"en\">Screenshot</span>：{}，SHA-256 {}</figcaption>\n",
                mono(&s.path_in_bundle),
                mono(&hex::encode(Sha256::digest(&png)))
            ));
        }
        _ => p.push(&format!(
            "<figcaption class=\"warn\">截图数据不是有效的 PNG，未嵌入 / screenshot data is not a valid PNG and was not embedded：{}</figcaption>\n",
            mono(&s.path_in_bundle)
        )),
    }
    p.push("</figure>\n");
}

fn findings(p: &mut Page, fs: &[FindingSummary]) {
    p.h2("三、发现的问题", "Findings");
    if fs.is_empty() {
        p.push("<p>未发现问题 <span class=\"en\">No findings</span></p>\n");
    }
    for (i, f) in fs.iter().enumerate() {
        finding(p, i + 1, f);
    }
}

fn finding(p: &mut Page, n: usize, f: &FindingSummary) {
    p.push("<div class=\"finding\">\n");
    p.push(&format!(
        "<h3>问题 {n} <span class=\"en\">Finding {n}</span>：{}</h3>\n<table class=\"kv\">\n",
        escape_html(&f.title)
    ));
    p.kv("问题编号", "Finding id", &mono(&f.finding_id));
    p.kv(
        "规则及版本",
        "Rule and version",
        &format!("{} <span class=\"en\">v</span>{}", mono(&f.rule), escape_html(&f.rule_version)),
    );
    p.kv("严重程度", "Severity", &escape_html(&f.severity));
    let basis = if f.legal_basis.is_empty() {
        none()
    } else {
        let items: String = f.legal_basis.iter().map(|b| format!("<li>{}</li>", escape_html(b))).collect();
        format!("<ul class=\"basis\">{items}</ul>")
    };
    p.kv("法律依据", "Legal basis", &basis);
    p.kv("说明", "Message", &escape_html(&f.message));
    p.kv("商品", "Listing", &mono(&f.listing));
    p.kv("所属提取编号", "From capture", &mono(&f.capture_id));
    p.push("</table>\n");
    p.thead(&[("字段", "Field", "18%"), ("匹配的原文", "Exact matched text", "52%"), ("备注", "Note", "30%")]);
    if f.evidence.is_empty() {
        p.push(&format!("<tr><td colspan=\"3\">{}</td></tr>\n", none()));
    }
    for m in &f.evidence {
        p.push(&format!(
            "<tr><td>{}</td><td class=\"match\"><mark>{}</mark></td><td>{}</td></tr>\n",
            mono(&m.field),
            escape_html(&m.text),
            m.note.as_deref().map(escape_html).unwrap_or_default()
        ));
    }
    p.push("</tbody></table>\n</div>\n");
}

fn file_table(p: &mut Page, files: &[FileEntry]) {
    p.thead(&[
        ("序号", "No.", "7%"),
        ("文件", "Path", "31%"),
        ("类型", "Role", "12%"),
        ("字节数", "Bytes", "11%"),
        ("SHA-256", "SHA-256", "39%"),
    ]);
    for (i, f) in files.iter().enumerate() {
        p.push(&format!(
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            i + 1,
            mono(&f.path),
            escape_html(&f.role),
            thousands(f.bytes),
            mono(&f.sha256)
        ));
    }
    p.push("</tbody></table>\n");
}

fn files(p: &mut Page, files: &[FileEntry]) {
    p.h2("四、文件清单与哈希", "Files and SHA-256 hashes");
    if files.is_empty() {
        p.push(&format!("<p>{}</p>\n", none()));
    } else {
        file_table(p, files);
        let total: u64 = files.iter().map(|f| f.bytes).fold(0, u64::saturating_add);
        p.push(&format!(
            "<p>共 {} 个文件，{} 字节 <span class=\"en\">{} files, {} bytes in total</span></p>\n",
            files.len(),
            thousands(total),
            files.len(),
            thousands(total)
        ));
    }
}

fn integrity(p: &mut Page, r: &ReportInput) {
    p.h2("五、完整性", "Integrity");
    p.push("<table class=\"kv\">\n");
    p.kv("签名密钥指纹", "Signing key fingerprint", &mono(&r.key_fingerprint));
    checkpoint(p, r.checkpoint.as_ref());
    p.push("</table>\n");
    timestamps(p, &r.timestamps);
}

fn checkpoint(p: &mut Page, c: Option<&CheckpointSummary>) {
    match c {
        Some(c) => {
            p.kv("账本检查点大小", "Checkpoint tree size", &c.tree_size.to_string());
            p.kv("检查点根哈希", "Checkpoint root", &mono(&c.root_hex));
            p.kv("检查点签署时间", "Checkpoint signed at", &when(&c.signed_at));
        }
        None => p.kv("账本检查点", "Ledger checkpoint", &none()),
    }
}

fn timestamps(p: &mut Page, ts: &[TimestampSummary]) {
    p.push("<h3>可信时间戳 <span class=\"en\">Trusted timestamps (RFC 3161)</span></h3>\n");
    if ts.is_empty() {
        p.push(&format!("<p>{}</p>\n", none()));
        return;
    }
    p.thead(&[("时间戳时间", "Token time", "34%"), ("时间戳服务机构", "TSA", "36%"), ("序列号", "Serial", "30%")]);
    for t in ts {
        p.push(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            when(&t.gen_time),
            escape_html(&t.tsa),
            mono(&t.serial)
        ));
    }
    p.push("</tbody></table>\n");
}

fn custody(p: &mut Page, events: &[CustodyEvent]) {
    p.h2("六、保管记录", "Chain of custody");
    if events.is_empty() {
        p.push(&format!("<p>{}</p>\n", none()));
        return;
    }
    p.thead(&[
        ("时间", "Time", "22%"),
        ("操作人", "Actor", "18%"),
        ("操作", "Action", "18%"),
        ("详情", "Detail", "42%"),
    ]);
    for e in events {
        p.push(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            when_short(&e.at),
            escape_html(&e.actor),
            escape_html(&e.action),
            escape_html(&e.detail)
        ));
    }
    p.push("</tbody></table>\n");
}

/// Lines for the officers' signatures (at least two, as the rules require two
/// officers), a witness and the date.
fn signatures(p: &mut Page, r: &ReportInput) {
    p.push("<section class=\"sign\">\n");
    p.h2("七、签名", "Signatures");
    p.push(
        "<p>以上电子数据提取过程及内容属实。<span class=\"en\">The extraction above and its contents are true.</span></p>\n<div class=\"sigrow\">\n",
    );
    let slots = r.operators.len().max(2);
    for i in 0..slots {
        let name = r.operators.get(i).map(|o| format!("（{}）", escape_html(o))).unwrap_or_default();
        p.push(&format!(
            "<div class=\"sig\"><div class=\"line\"></div><div class=\"label\">提取人签名 <span class=\"en\">Officer {}</span>{name}</div></div>\n",
            i + 1
        ));
    }
    p.push(
        "<div class=\"sig\"><div class=\"line\"></div><div class=\"label\">见证人签名 <span class=\"en\">Witness</span></div></div>\n\
         <div class=\"sig\"><div class=\"line\"></div><div class=\"label\">日期 <span class=\"en\">Date</span></div></div>\n</div>\n</section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(123_456_789), "123,456,789");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn css_string_lets_nothing_close_the_string_or_the_style() {
        let s = css_string("a\"b</style>\\c\n中");
        assert_eq!(s, "a\\000022b\\00003C\\00002Fstyle\\00003E\\00005Cc\\00000A\\004E2D");
        assert!(!s.contains('"') && !s.contains('<'));
        assert_eq!(css_string(&"x".repeat(500)).len(), 96);
    }

    #[test]
    fn plain_escape_uses_text_markers() {
        assert_eq!(escape_plain("<a>\u{202E}"), "&lt;a&gt;[U+202E]");
    }

    #[test]
    fn invisibles_are_recognised() {
        for c in ['\u{0}', '\u{7f}', '\u{85}', '\u{200B}', '\u{202E}', '\u{2066}', '\u{FEFF}'] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        for c in ['a', '中', ' ', '\u{3000}', '“'] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }
}
